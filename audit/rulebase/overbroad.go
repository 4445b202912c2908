package rulebase

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/rpcspan/rpcspan/audit"
	"go4.org/netipx"
)

// The ids of the findings on rules that open more than the plan needs.
// Package audit will hold them with the others (audit.IDRuleOverbroad,
// audit.IDRuleStale); until then they are spelled here.
const (
	// IDRuleOverbroad is an accept rule that serves required flows but
	// opens far more ports than any of them needs.
	IDRuleOverbroad = audit.IDRuleOverbroad
	// IDRuleStale is an accept rule that opens an RPC span no required
	// flow through it uses any more (1025-5000 after a migration, say).
	IDRuleStale = audit.IDRuleStale
)

// overbroadPorts is how many ports an accept rule may open beyond what the
// required flows through it need before it is reported: a few stray
// service ports are a choice, a thousand are a span nobody asked for.
const overbroadPorts = 1024

// staleMin is the size from which a port range of a rule counts as a span
// (smaller ranges are services, not dynamic port spans).
const staleMin = 256

// need is a required flow as sets, for overlap tests.
type need struct {
	family   int
	proto    Proto
	src, dst *AddrSet
	ports    *PortSet
}

// ruleFindings returns a rule-stale finding for each accept rule with a
// port range that overlaps a known RPC span (the defaults and every range
// a host of est has or had) but no port any required flow through the
// rule uses, and a rule-overbroad finding for each accept rule that serves
// required flows yet opens more than overbroadPorts ports besides them and
// its stale spans. A rule is seen as reached from the base chains, through
// the matches of the jumps on the way (a rule of a host's chain behind a
// jump for its ports is not wide), and a host rule base's rules only for
// that host (hostAddrs: the addresses of the hosts with a rule base of
// their own, by lower-case name). Rules with unmodelled matches are left
// out: they may match less than they seem to.
func ruleFindings(est *audit.Estate, plan *audit.Plan, bases []*Base, hostAddrs map[string]*AddrSet) []audit.Finding {
	var needs []need
	for _, r := range plan.Rules {
		if p := protoOf(r.Proto); p != 0 {
			needs = append(needs, need{r.Family, p, NewAddrSet(r.Sources...), NewAddrSet(r.Destinations...), NewPortSet(r.Ports...)})
		}
	}
	idx := newNeedIndex(needs)
	spans := knownSpans(est)
	var out []audit.Finding
	seen := map[string]bool{}
	for _, b := range bases {
		var hostDst *AddrSet
		if b.Host != "" {
			hostDst = hostAddrs[strings.ToLower(b.Host)]
		}
		for _, c := range b.Chains {
			if c.Hook == "" {
				continue
			}
			ctx := scope{fam: c.Family, proto: AnyProto, dst: hostDst}
			walkAccepts(b, c, ctx, 0, func(r *Rule, sc scope) {
				for _, p := range []Proto{TCP, UDP} {
					if sc.proto&p == 0 {
						continue
					}
					for _, f := range checkRule(b, r, sc, p, needs, idx, spans) {
						// A chain reached by several jumps is checked
						// once per path; its rule is reported once.
						if k := f.ID + "\x00" + f.Message; !seen[k] {
							seen[k] = true
							out = append(out, f)
						}
					}
				}
			})
		}
	}
	return out
}

// scope is what a packet must match to reach a rule: the matches of the
// jumps on the way, with nil sets matching anything.
type scope struct {
	fam      int
	proto    Proto
	src, dst *AddrSet
	ports    *PortSet
}

// narrow returns sc limited to what r matches, and false when nothing is
// left.
func (sc scope) narrow(r *Rule) (scope, bool) {
	if r.Family != 0 {
		if sc.fam != 0 && sc.fam != r.Family {
			return sc, false
		}
		sc.fam = r.Family
	}
	sc.proto &= r.Proto
	sc.src = meet(sc.src, r.Src)
	sc.dst = meet(sc.dst, r.Dst)
	if r.DPorts != nil {
		if sc.ports == nil {
			sc.ports = r.DPorts
		} else {
			sc.ports = sc.ports.Intersect(r.DPorts)
		}
	}
	ok := sc.proto != 0 && (sc.src == nil || !sc.src.Empty()) && (sc.dst == nil || !sc.dst.Empty()) && (sc.ports == nil || !sc.ports.Empty())
	return sc, ok
}

// meet intersects two sets where nil is every address.
func meet(a, b *AddrSet) *AddrSet {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	return a.Intersect(b)
}

// walkAccepts calls f with every accept rule reachable from c and the
// scope it sees, following jumps and gotos.
func walkAccepts(b *Base, c *Chain, sc scope, depth int, f func(*Rule, scope)) {
	if depth >= maxDepth {
		return
	}
	for _, r := range c.Rules {
		if r.NotNew {
			continue
		}
		switch r.Verdict {
		case Accept:
			if len(r.Unknown) > 0 {
				// It may match less than it seems to.
				continue
			}
			if n, ok := sc.narrow(r); ok {
				f(r, n)
			}
		case Jump, Goto:
			if t := b.chain(c.Table, r.Target); t != nil {
				if n, ok := sc.narrow(r); ok {
					walkAccepts(b, t, n, depth+1, f)
				}
			}
		}
	}
}

// checkRule returns the findings of accept rule r of b for protocol p,
// as seen in scope sc.
func checkRule(b *Base, r *Rule, sc scope, p Proto, needs []need, idx *needIndex, spans *PortSet) []audit.Finding {
	ports := sc.ports
	if ports == nil {
		ports = allPorts
	}
	used := &PortSet{}
	for _, i := range idx.candidates(sc.dst, len(needs)) {
		n := needs[i]
		if n.proto != p || (sc.fam != 0 && sc.fam != n.family) || !overlaps(sc.src, n.src) || !overlaps(sc.dst, n.dst) {
			continue
		}
		used = used.Union(n.ports.Intersect(ports))
	}
	var stale []audit.PortRange
	if sc.ports != nil {
		for _, pr := range ports.r {
			one := NewPortSet(pr)
			if pr.Len() >= staleMin && !one.Intersect(spans).Empty() && one.Intersect(used).Empty() {
				stale = append(stale, pr)
			}
		}
	}
	proto := "tcp"
	if p == UDP {
		proto = "udp"
	}
	what := fmt.Sprintf("%s %s from %s to %s", proto, ports, setText(sc.src), setText(sc.dst))
	detail := func(extra string) map[string]any {
		return map[string]any{
			"rule_base": b.Name,
			"rule":      r.Pos.String(),
			"rule_text": r.Text,
			"protocol":  proto,
			"ports":     ports.String(),
			"needed":    used.String(),
			"beyond":    extra,
		}
	}
	var out []audit.Finding
	if len(stale) > 0 {
		s := NewPortSet(stale...)
		out = append(out, audit.Finding{ID: IDRuleStale, Severity: audit.Info,
			Message: fmt.Sprintf("%s accepts %s: no required flow through it uses %s any more", where(b, r), what, s),
			Detail:  detail(s.String())})
	}
	if used.Empty() {
		// The rule serves no required flow: another service's business.
		return out
	}
	extra := ports.Minus(used).Minus(NewPortSet(stale...))
	if n := countPorts(extra); n > overbroadPorts {
		out = append(out, audit.Finding{ID: IDRuleOverbroad, Severity: audit.Warning,
			Message: fmt.Sprintf("%s accepts %s: the required flows through it need only %s %s, it opens %d ports beyond (%s)",
				where(b, r), what, proto, used, n, extra),
			Detail: detail(extra.String())})
	}
	return out
}

// where names the rule for messages: "FILE:LINE", or the rule base.
func where(b *Base, r *Rule) string {
	if s := r.Pos.String(); s != "" {
		return s
	}
	return b.Name
}

// setText returns s for messages, "any" for nil or every address, and the
// first prefixes with a count for a long set.
func setText(s *AddrSet) string {
	if s == nil || allAddrs.Minus(s).Empty() {
		return "any"
	}
	ps := s.Prefixes()
	if len(ps) > 3 {
		return fmt.Sprintf("%s and %d more", prefixStrings(ps[:3]), len(ps)-3)
	}
	return strings.Join(prefixStrings(ps), ",")
}

// countPorts returns the number of ports in s.
func countPorts(s *PortSet) int {
	n := 0
	for _, r := range s.r {
		n += r.Len()
	}
	return n
}

// overlaps reports whether a and b share an address; nil is every
// address. It searches the ranges of the smaller set in the larger, so a
// rule's few prefixes cost little against an estate-wide set.
func overlaps(a, b *AddrSet) bool {
	if a == nil {
		return b == nil || !b.Empty()
	}
	if b == nil {
		return !a.Empty()
	}
	if len(a.r) > len(b.r) {
		a, b = b, a
	}
	for _, r := range a.r {
		i, _ := slices.BinarySearchFunc(b.r, r.From(), func(x netipx.IPRange, a netip.Addr) int {
			return x.To().Compare(a)
		})
		if i < len(b.r) && b.r[i].From().Compare(r.To()) <= 0 {
			return true
		}
	}
	return false
}

// knownSpans returns the RPC spans worth recognising in a rule: both
// defaults and every range a host of est reports or has inferred.
func knownSpans(est *audit.Estate) *PortSet {
	rs := []audit.PortRange{audit.DefaultRange, audit.LegacyRange}
	seen := map[audit.PortRange]bool{}
	for _, h := range est.Hosts() {
		for _, o := range h.Ranges {
			seen[o.Range] = true
		}
		for _, k := range audit.Keys {
			seen[est.Effective(h, k).Range] = true
		}
	}
	for r := range seen {
		if r.Len() >= staleMin {
			rs = append(rs, r)
		}
	}
	return NewPortSet(rs...)
}
