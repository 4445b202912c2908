package rulebase

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
)

// Verdict is what a rule does with the packets it matches. The zero value
// is Continue.
type Verdict string

// The verdicts.
const (
	// Continue is a rule without a terminal verdict (a counter, LOG): the
	// next rule decides.
	Continue Verdict = ""
	Accept   Verdict = "accept"
	Drop     Verdict = "drop"
	Reject   Verdict = "reject"
	// Jump evaluates Rule.Target and, when it returns, the next rule.
	Jump Verdict = "jump"
	// Goto evaluates Rule.Target and, when it returns, returns from the
	// calling chain.
	Goto Verdict = "goto"
	// Return leaves the chain: back to the rule after the jump, or to the
	// policy of a base chain.
	Return Verdict = "return"
	// Opaque is a terminal verdict the model does not evaluate (a queue,
	// a target of an extension): the matched part is unknown.
	Opaque Verdict = "opaque"
)

// Proto is a set of transport protocols as bits. The zero value matches
// neither TCP nor UDP (a rule for ICMP, say).
type Proto uint8

// The protocols a flow can have.
const (
	TCP Proto = 1 << iota
	UDP
	AnyProto = TCP | UDP
)

// protoOf returns the bit of "tcp" or "udp", 0 for anything else.
func protoOf(name string) Proto {
	switch name {
	case "tcp":
		return TCP
	case "udp":
		return UDP
	}
	return 0
}

// Pos is where a rule or chain policy was read.
type Pos struct {
	File string
	Line int // 1-based; 0 when unknown
}

// String returns "FILE:LINE".
func (p Pos) String() string {
	if p.Line == 0 {
		return p.File
	}
	return p.File + ":" + strconv.Itoa(p.Line)
}

// Rule is one rule in the neutral model. A packet matches when it matches
// every field; nil sets match anything.
type Rule struct {
	Pos  Pos
	Text string // the rule as written, trimmed, for reports
	// Family is 4 or 6 when the rule matches only that family (an ip saddr
	// match in an inet table, say); 0 matches both.
	Family int
	Proto  Proto    // protocols matched; AnyProto when the rule names none
	Src    *AddrSet // source addresses; nil matches any (negation is applied)
	Dst    *AddrSet // destination addresses; nil matches any
	DPorts *PortSet // destination ports; nil matches any
	// NotNew is set when the rule never matches the first packet of a
	// required flow, which is what decides it: a state match excludes new
	// connections (only ESTABLISHED, say), or the rule is for the loopback
	// interface, which another host's packets never use.
	NotNew bool
	// Unknown lists the matches the model does not evaluate (an interface,
	// a rate limit, a source port), as written. A rule with any of them
	// may or may not match: the parts it matches become unknown unless the
	// rest of the rule base decides them the same way.
	Unknown []string
	Verdict Verdict
	Target  string // the chain of Jump and Goto
}

// Chain is a list of rules. A base chain (Hook set) is entered from the
// kernel; a regular chain only by jump or goto.
type Chain struct {
	Pos  Pos // where the chain (and its policy) was declared
	Name string
	// Table is the namespace jump targets are looked up in: "filter/4"
	// for an iptables table, "inet filter" for nft.
	Table string
	// Family is 4 or 6 for a chain that sees only that family, 0 for both
	// (nft inet).
	Family   int
	Hook     string // "input", "forward", ...; "" for a regular chain
	Priority int    // lower runs first among base chains of one hook
	Policy   Verdict
	Rules    []*Rule
}

// Base is one rule base: a file read into the model.
type Base struct {
	Name   string // the file, as given
	Format string // "iptables" or "nftables"
	// Host is the only destination host a host firewall applies to; empty
	// for a network rule base.
	Host string
	// Final is true when an accept in a base chain is final for the hook
	// (iptables, one filter table); false for nft, where every base chain
	// of a hook must accept.
	Final  bool
	Chains []*Chain
	// Problems are the lines that could not be read, "FILE:LINE: why",
	// in file order. Each unreadable rule stays in its chain as a rule
	// that matches anything with an unknown verdict, so that what it may
	// decide is reported as unknown, never as allowed or blocked.
	Problems []string

	byName map[string]*Chain
	index  map[indexKey]*ruleIndex // built on first use, see index.go
}

// Covers reports whether b has a base chain for family fam (4 or 6): a
// rule base decides nothing about a family it has no base chain for.
func (b *Base) Covers(fam int) bool {
	for _, c := range b.Chains {
		if c.Hook != "" && (c.Family == 0 || c.Family == fam) {
			return true
		}
	}
	return false
}

// baseChains returns the base chains of hook that see family fam, by
// priority, then in the order read.
func (b *Base) baseChains(hook string, fam int) []*Chain {
	var out []*Chain
	for _, c := range b.Chains {
		if c.Hook == hook && (c.Family == 0 || c.Family == fam) {
			out = append(out, c)
		}
	}
	slices.SortStableFunc(out, func(x, y *Chain) int { return cmp.Compare(x.Priority, y.Priority) })
	return out
}

// chain returns the chain name in table, nil when there is none.
func (b *Base) chain(table, name string) *Chain {
	if b.byName == nil {
		b.byName = map[string]*Chain{}
		for _, c := range b.Chains {
			if _, dup := b.byName[c.Table+"\x00"+c.Name]; !dup {
				b.byName[c.Table+"\x00"+c.Name] = c
			}
		}
	}
	return b.byName[c2key(table, name)]
}

func c2key(table, name string) string { return table + "\x00" + name }

// problem records a line that could not be read.
func (b *Base) problem(pos Pos, format string, args ...any) {
	b.Problems = append(b.Problems, pos.String()+": "+fmt.Sprintf(format, args...))
}

// unreadable returns the stand-in for a rule that could not be read: it
// matches every packet and its verdict is unknown.
func unreadable(pos Pos, text, why string) *Rule {
	return &Rule{Pos: pos, Text: text, Proto: AnyProto, Unknown: []string{"unreadable rule: " + why}, Verdict: Opaque}
}
