// Package apply programs rpcspan's nftables table into a running kernel
// through netlink (github.com/google/nftables), as `rpcspan apply` does.
//
// The table is the one the nftables text target writes (table inet
// rpcspan: one interval set of sources, one of destinations and one of
// ports per plan rule, a base chain on the input or forward hook with
// policy accept, a ct state established,related return, one accept rule
// per plan rule and, unless accept-only, the drops that close the RPC ports
// of the managed destinations to everyone else). It is held here in a small
// portable model (Table, Set, Chain, Rule, Expr) so that building it from a
// plan (Desired) and comparing two of them (Diff) run, and are tested,
// without root or Linux.
//
// Apply replaces the whole table in one netlink batch (add, delete, add:
// the kernel runs a batch as one transaction, so a failure anywhere leaves
// the previous ruleset untouched) and returns the previous table, which
// Restore puts back; Confirm asks the operator to keep the new rules within
// a deadline, the way iptables-apply guards against locking oneself out.
package apply

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"go4.org/netipx"

	"github.com/rpcspan/rpcspan/audit"
	"github.com/rpcspan/rpcspan/emit"
)

// TableName is the name of rpcspan's table; its family is always inet.
const TableName = "rpcspan"

// Table is rpcspan's nftables table: sets first, then chains, each in the
// order they are created (and listed by nft).
type Table struct {
	Sets   []Set
	Chains []Chain
}

// KeyType is the element type of a set, named as nft names it.
type KeyType string

// The key types rpcspan's sets use.
const (
	KeyIPv4 KeyType = "ipv4_addr"    // 4-byte IPv4 addresses
	KeyIPv6 KeyType = "ipv6_addr"    // 16-byte IPv6 addresses
	KeyPort KeyType = "inet_service" // 2-byte ports, big-endian
)

// Set is a named interval set. Exactly one of Addrs and Ports is used,
// depending on Type. Elements are kept as nft keeps them: sorted, never
// overlapping, but adjacent elements stay apart (nft does not join
// 10.0.0.0/31 and 10.0.0.2/31 either), so that the listing after Apply
// equals the listing after loading the text target with nft -f.
type Set struct {
	Name  string
	Type  KeyType
	Addrs []netipx.IPRange  // inclusive ranges, for KeyIPv4 and KeyIPv6
	Ports []audit.PortRange // inclusive ranges, for KeyPort
	// plain marks a kernel set without flags interval, which rpcspan
	// never makes (and so cannot put back on rollback).
	plain bool
}

// Chain is a base chain.
type Chain struct {
	Name     string
	Type     string    // "filter"; other types only come from the kernel
	Hook     emit.Hook // "" for a chain without a hook (only from the kernel)
	Priority int       // 0 is nft's "filter" priority
	Policy   string    // "accept" or "drop"
	Rules    []Rule
}

// Rule is one rule: its expressions in order (the last one is normally a
// Verdict) and its comment, which nft keeps in the rule's user data.
type Rule struct {
	Exprs   []Expr
	Comment string // "" for none
}

// Expr is one step of a rule. The concrete types are comparable values, so
// two rules are equal when their expressions are (==) pairwise.
type Expr interface {
	// String returns the expression in nft syntax, dependencies included
	// (Rule.String leaves out the ones nft leaves out of its listing).
	String() string
	isExpr()
}

// Family matches the packet's address family (meta nfproto), 4 or 6; nft
// adds it in inet tables before any ip or ip6 header match.
type Family struct{ V int }

// L4Proto matches the transport protocol (meta l4proto), "tcp" or "udp";
// nft adds it before any port match.
type L4Proto struct{ Proto string }

// CtState matches when the connection-tracking state has any of the bits
// in Mask (the kernel's NF_CT_STATE_* bits, e.g. CtEstablished|CtRelated).
type CtState struct{ Mask uint32 }

// Connection-tracking state bits, as the kernel defines them.
const (
	CtInvalid     uint32 = 1
	CtEstablished uint32 = 2
	CtRelated     uint32 = 4
	CtNew         uint32 = 8
	CtUntracked   uint32 = 64
)

// AddrSet matches the source (Dst false) or destination (Dst true) address
// of family V (4 or 6) against the named set.
type AddrSet struct {
	V   int
	Dst bool
	Set string
}

// PortSet matches the destination port of Proto against the named set.
type PortSet struct {
	Proto string
	Set   string
}

// Port matches the destination port of Proto against one port.
type Port struct {
	Proto string
	Port  uint16
}

// Verdict ends a rule: "accept", "drop" or "return".
type Verdict struct{ Kind string }

// Unknown stands for kernel content that the model does not describe (a
// rule someone added by hand, an expression of another shape). It never
// equals anything Desired builds, so Diff shows such a rule as removed.
type Unknown struct{ Desc string }

func (Family) isExpr()  {}
func (L4Proto) isExpr() {}
func (CtState) isExpr() {}
func (AddrSet) isExpr() {}
func (PortSet) isExpr() {}
func (Port) isExpr()    {}
func (Verdict) isExpr() {}
func (Unknown) isExpr() {}

// String returns "meta nfproto ipv4" or "meta nfproto ipv6".
func (e Family) String() string { return "meta nfproto " + nfprotoName(e.V) }

// String returns "meta l4proto tcp" or "meta l4proto udp".
func (e L4Proto) String() string { return "meta l4proto " + e.Proto }

// String returns "tcp dport @SET".
func (e PortSet) String() string { return e.Proto + " dport @" + safeName(e.Set) }

// String returns "tcp dport 135".
func (e Port) String() string { return fmt.Sprintf("%s dport %d", e.Proto, e.Port) }

// String returns the verdict's keyword.
func (e Verdict) String() string { return e.Kind }

// String returns the description in angle brackets, which nft syntax
// never has, so that nobody mistakes it for a rule.
func (e Unknown) String() string { return "<" + safeName(e.Desc) + ">" }

// String returns "ip saddr @SET", "ip6 daddr @SET" and the like.
func (e AddrSet) String() string {
	dir := "saddr"
	if e.Dst {
		dir = "daddr"
	}
	return ipKeyword(e.V) + " " + dir + " @" + safeName(e.Set)
}

// safeName keeps names read from the kernel (anyone with CAP_NET_ADMIN
// may have made them) from starting a new line in what Diff prints.
func safeName(s string) string { return emit.CommentSafe(s) }

// ctStateNames lists the state bits in the order nft prints them.
var ctStateNames = []struct {
	bit  uint32
	name string
}{{CtInvalid, "invalid"}, {CtEstablished, "established"}, {CtRelated, "related"}, {CtNew, "new"}, {CtUntracked, "untracked"}}

// String returns "ct state established,related" and the like, unknown
// bits in hexadecimal.
func (e CtState) String() string {
	var names []string
	rest := e.Mask
	for _, s := range ctStateNames {
		if e.Mask&s.bit != 0 {
			names = append(names, s.name)
			rest &^= s.bit
		}
	}
	if rest != 0 {
		names = append(names, fmt.Sprintf("0x%x", rest))
	}
	return "ct state " + strings.Join(names, ",")
}

func nfprotoName(v int) string {
	if v == 6 {
		return "ipv6"
	}
	return "ipv4"
}

func ipKeyword(v int) string {
	if v == 6 {
		return "ip6"
	}
	return "ip"
}

// String returns the rule as nft lists it: the meta nfproto and meta
// l4proto checks that only guard the next match are left out, as nft
// leaves them out.
func (r Rule) String() string {
	parts := make([]string, 0, len(r.Exprs))
	for i, e := range r.Exprs {
		if i+1 < len(r.Exprs) && impliedBy(e, r.Exprs[i+1]) {
			continue
		}
		parts = append(parts, e.String())
	}
	if r.Comment != "" {
		// strconv.Quote writes what nft writes for the comments rpcspan
		// makes, and escapes line breaks in any other.
		parts = append(parts, "comment "+strconv.Quote(r.Comment))
	}
	return strings.Join(parts, " ")
}

// impliedBy reports whether e is the dependency nft adds for next.
func impliedBy(e, next Expr) bool {
	switch e := e.(type) {
	case Family:
		n, ok := next.(AddrSet)
		return ok && n.V == e.V
	case L4Proto:
		switch n := next.(type) {
		case PortSet:
			return n.Proto == e.Proto
		case Port:
			return n.Proto == e.Proto
		}
	}
	return false
}

// Equal reports whether r and o have the same expressions and comment.
func (r Rule) Equal(o Rule) bool {
	if len(r.Exprs) != len(o.Exprs) || r.Comment != o.Comment {
		return false
	}
	for i := range r.Exprs {
		if r.Exprs[i] != o.Exprs[i] {
			return false
		}
	}
	return true
}

// Elements returns the set's elements as nft lists them: a single address
// or port, a prefix when the range is one, else "first-last".
func (s *Set) Elements() []string {
	var out []string
	for _, r := range s.Addrs {
		out = append(out, rangeString(r))
	}
	for _, r := range s.Ports {
		out = append(out, r.String())
	}
	return out
}

// rangeString renders an address range the way nft lists it.
func rangeString(r netipx.IPRange) string {
	if r.From() == r.To() {
		return r.From().String()
	}
	if p, ok := r.Prefix(); ok {
		return p.String()
	}
	return r.From().String() + "-" + r.To().String()
}

// Header returns the chain's declaration line as nft lists it; "" for a
// chain without a hook.
func (c *Chain) Header() string {
	if c.Hook == "" {
		return ""
	}
	return fmt.Sprintf("type %s hook %s priority %s; policy %s;", safeName(c.Type), c.Hook, priorityName(c.Priority), c.Policy)
}

func priorityName(p int) string {
	switch {
	case p == 0:
		return "filter"
	case p > 0:
		return fmt.Sprintf("filter + %d", p)
	}
	return fmt.Sprintf("filter - %d", -p)
}

// Set returns the set with the given name, or nil.
func (t *Table) Set(name string) *Set {
	for i := range t.Sets {
		if t.Sets[i].Name == name {
			return &t.Sets[i]
		}
	}
	return nil
}

// Chain returns the chain with the given name, or nil.
func (t *Table) Chain(name string) *Chain {
	for i := range t.Chains {
		if t.Chains[i].Name == name {
			return &t.Chains[i]
		}
	}
	return nil
}

// String renders the table in the shape of `nft list table inet rpcspan`
// without handles (elements one per line, so that comparisons with nft's
// own listing normalise line wrapping first).
func (t *Table) String() string {
	var b strings.Builder
	b.WriteString("table inet " + TableName + " {\n")
	for i := range t.Sets {
		s := &t.Sets[i]
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "\tset %s {\n\t\ttype %s\n", safeName(s.Name), safeName(string(s.Type)))
		if !s.plain {
			b.WriteString("\t\tflags interval\n")
		}
		if el := s.Elements(); len(el) > 0 {
			fmt.Fprintf(&b, "\t\telements = { %s }\n", strings.Join(el, ", "))
		}
		b.WriteString("\t}\n")
	}
	for i := range t.Chains {
		c := &t.Chains[i]
		if len(t.Sets) > 0 || i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "\tchain %s {\n", safeName(c.Name))
		if h := c.Header(); h != "" {
			b.WriteString("\t\t" + h + "\n")
		}
		for _, r := range c.Rules {
			b.WriteString("\t\t" + r.String() + "\n")
		}
		b.WriteString("\t}\n")
	}
	b.WriteString("}\n")
	return b.String()
}

// addrKeyType returns the set key type for an address family.
func addrKeyType(v int) KeyType {
	if v == 6 {
		return KeyIPv6
	}
	return KeyIPv4
}

// familyOf returns 4 or 6 for an address.
func familyOf(a netip.Addr) int {
	if a.Is4() {
		return 4
	}
	return 6
}
