package emit

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/rpcspan/rpcspan/audit"
	"go4.org/netipx"
)

// This file holds what the Linux text targets (iptables, ip6tables,
// nftables) share: which plan rules they render, the drop groups that make
// a load meaningful on its own, and comment sanitising.
//
// The semantics every Linux output keeps: allowed flows pass; other traffic
// to a managed destination's RPC ports (135 and its span, for rpc and
// rpc-udp rules) is dropped; everything else falls through untouched, so
// that loading can never cut an SSH session. Replies to connections that
// are already established are never judged: without that, replies to the
// machine's own outgoing connections, whose local ports lie in a dynamic
// range, would hit the drops.

// linuxRule is a plan rule with its 1-based position in the plan, which is
// the "#" column of "rpcspan flows" and so what comments cite.
type linuxRule struct {
	n int
	r *audit.Rule
}

// linuxRules returns the checked rules of in.Plan of the given family
// (4 or 6), in plan order.
func linuxRules(in *Input, family int) ([]linuxRule, error) {
	if in.Plan == nil {
		return nil, fmt.Errorf("no plan to render")
	}
	var out []linuxRule
	for i := range in.Plan.Rules {
		r := &in.Plan.Rules[i]
		if err := CheckRule(r); err != nil {
			return nil, fmt.Errorf("rule %d: %w", i+1, err)
		}
		if r.Family == family {
			out = append(out, linuxRule{i + 1, r})
		}
	}
	return out, nil
}

// CheckRule refuses what a Linux target cannot render exactly: an unknown
// protocol or family, an empty or inverted port range, an address of the
// wrong family. The planner never makes these; a hand-built plan might.
func CheckRule(r *audit.Rule) error {
	if r.Proto != "tcp" && r.Proto != "udp" {
		return fmt.Errorf("protocol %q: want tcp or udp", r.Proto)
	}
	if r.Family != 4 && r.Family != 6 {
		return fmt.Errorf("family %d: want 4 or 6", r.Family)
	}
	if len(r.Ports) == 0 || len(r.Sources) == 0 || len(r.Destinations) == 0 {
		return fmt.Errorf("no ports, sources or destinations")
	}
	for i, p := range r.Ports {
		if p.First > p.Last || p.First == 0 {
			return fmt.Errorf("port range %d-%d is empty or holds port 0", p.First, p.Last)
		}
		// nft refuses overlapping interval elements; the planner merges
		// and sorts ports, so only a hand-built plan can get here.
		if i > 0 && p.First <= r.Ports[i-1].Last {
			return fmt.Errorf("ports %s and %s overlap or are not sorted", r.Ports[i-1], p)
		}
	}
	for _, list := range [][]netip.Prefix{r.Sources, r.Destinations} {
		for i, p := range list {
			if !p.IsValid() || p.Addr().Zone() != "" || (p.Addr().Is4() != (r.Family == 4)) || p.Addr().Is4In6() || p != p.Masked() {
				return fmt.Errorf("address %s is not a valid IPv%d prefix", p, r.Family)
			}
			if i > 0 && p.Addr().Compare(netipx.PrefixLastIP(list[i-1])) <= 0 {
				return fmt.Errorf("addresses %s and %s overlap or are not sorted", list[i-1], p)
			}
		}
	}
	return nil
}

// linuxIsRPC reports whether r serves rpc or rpc-udp, whose ports are the
// ones a Linux output drops for other sources. Explicit services (tcp/445)
// only get their accept rules.
func linuxIsRPC(r *audit.Rule) bool {
	return r.Service == string(audit.SvcRPC) || r.Service == string(audit.SvcRPCUDP)
}

// DropGroup is the destinations whose RPC ports (Ports over Proto) a
// Linux output drops for sources no accept matched.
type DropGroup struct {
	Proto string
	Ports []audit.PortRange
	Dst   []netip.Prefix // fewest prefixes
}

// DropGroups groups the destinations of the rpc and rpc-udp rules by
// protocol and ports, each group's destinations merged into the fewest
// prefixes (an exact union, so nothing outside the destinations is ever
// dropped), sorted by protocol and ports. Both the nft text target and
// rpcspan apply use it, so that their tables are the same.
func DropGroups(rules []*audit.Rule) []DropGroup {
	type acc struct {
		g DropGroup
		b netipx.IPSetBuilder
	}
	byKey := map[string]*acc{}
	var order []*acc
	for _, r := range rules {
		if !linuxIsRPC(r) {
			continue
		}
		k := r.Proto + " " + linuxPortsText(r.Ports, ",", "-")
		a := byKey[k]
		if a == nil {
			a = &acc{g: DropGroup{Proto: r.Proto, Ports: r.Ports}}
			byKey[k] = a
			order = append(order, a)
		}
		for _, d := range r.Destinations {
			a.b.AddPrefix(d)
		}
	}
	out := make([]DropGroup, 0, len(order))
	for _, a := range order {
		s, _ := a.b.IPSet()
		a.g.Dst = s.Prefixes()
		out = append(out, a.g)
	}
	slices.SortFunc(out, func(a, b DropGroup) int {
		if c := strings.Compare(a.Proto, b.Proto); c != 0 {
			return c
		}
		return slices.CompareFunc(a.Ports, b.Ports, func(x, y audit.PortRange) int {
			return cmp.Or(cmp.Compare(x.First, y.First), cmp.Compare(x.Last, y.Last))
		})
	})
	return out
}

// linuxDrops is DropGroups for the rules of one family.
func linuxDrops(rules []linuxRule) []DropGroup {
	rs := make([]*audit.Rule, len(rules))
	for i, lr := range rules {
		rs[i] = lr.r
	}
	return DropGroups(rs)
}

// linuxPortsText joins ports with sep, writing ranges as FIRST<dash>LAST.
func linuxPortsText(ports []audit.PortRange, sep, dash string) string {
	var b []byte
	for i, p := range ports {
		if i > 0 {
			b = append(b, sep...)
		}
		b = strconv.AppendUint(b, uint64(p.First), 10)
		if p.Last != p.First {
			b = append(b, dash...)
			b = strconv.AppendUint(b, uint64(p.Last), 10)
		}
	}
	return string(b)
}

// linuxRuleComment describes plan rule n for a comment inside a firewall: its
// number, service and policies, made safe by linuxComment.
func linuxRuleComment(lr linuxRule, max int) string {
	return RuleComment(lr.n, lr.r, max)
}

// DropComment is the comment of the drop rules.
const DropComment = "rpcspan: RPC port - source not allowed"

// linuxDropComment is DropComment under its old name in this package.
const linuxDropComment = DropComment

// RuleComment is the comment of the accept rule of plan rule n (1-based),
// made safe by Comment and cut to max bytes.
func RuleComment(n int, r *audit.Rule, max int) string {
	return Comment("rpcspan rule "+strconv.Itoa(n)+": "+r.Service+" policy "+strings.Join(r.Policies, " "), max)
}

// Comment keeps only characters that need no quoting in iptables-
// restore input, nft scripts and shells (letters, digits, space and
// ._:/-), replacing every other byte with "_", and cuts the result to max
// bytes. Policy names are untrusted input: this way a name can neither
// close the comment's quotes nor start a new line or command.
func Comment(s string, max int) string {
	b := []byte(s)
	for i, c := range b {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == ' ' || c == '.' || c == '_' || c == ':' || c == '/' || c == '-'
		if !ok {
			b[i] = '_'
		}
	}
	if len(b) > max {
		b = b[:max]
	}
	return string(b)
}

// linuxHook checks the hook option.
func linuxHook(o Options) (Hook, error) {
	switch h := o.hook(); h {
	case HookInput, HookForward:
		return h, nil
	default:
		return "", fmt.Errorf("hook %q: want input or forward", Comment(string(h), 40))
	}
}
