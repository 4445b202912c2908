package audit

import (
	"fmt"
	"strings"
)

// policyName is the name BuildPlan gives rule i: its own, or "#N" (N
// 1-based) when it has none.
func policyName(r PolicyRule, i int) string {
	if r.Name != "" {
		return r.Name
	}
	return fmt.Sprintf("#%d", i+1)
}

// selectorIndex answers which hosts a selector matches, built once per
// Check.
type selectorIndex struct {
	members map[string][]*Host // by lower-case group name, sorted by name
}

func newSelectorIndex(hosts []*Host) *selectorIndex {
	x := &selectorIndex{members: map[string][]*Host{}}
	for _, h := range hosts {
		for _, g := range h.Groups {
			lg := strings.ToLower(g)
			if m := x.members[lg]; len(m) == 0 || m[len(m)-1] != h {
				x.members[lg] = append(m, h)
			}
		}
	}
	return x
}

// match returns the hosts s matches, sorted by name. A prefix names
// addresses, not hosts, and so matches none (BuildPlan does the same: a
// destination must be a group or a host).
func (x *selectorIndex) match(e *Estate, s Selector) []*Host {
	switch s.Kind {
	case SelGroup:
		return x.members[strings.ToLower(s.Name)]
	case SelHost:
		if h, ok := e.Lookup(s.Name); ok {
			return []*Host{h}
		}
	}
	return nil
}

// why returns why s matches no host of the estate, or "" when it matches
// one. A prefix on the from side names addresses by itself (clients need
// not be hosts of the estate), so it always matches there.
func (x *selectorIndex) why(e *Estate, s Selector, from bool) string {
	if from && s.Kind == SelPrefix || len(x.match(e, s)) > 0 {
		return ""
	}
	switch s.Kind {
	case SelGroup:
		return fmt.Sprintf("no host is in group %q", s.Name)
	case SelHost:
		return fmt.Sprintf("no host %q in the estate", s.Name)
	}
	return "a destination must be group:NAME or host:NAME"
}

// checkPolicy reports policy selectors that match no host and rules left
// without a source or a destination, which open nothing.
func checkPolicy(e *Estate, x *selectorIndex) []Finding {
	var out []Finding
	for i, r := range e.Policy {
		name := policyName(r, i)
		label := fmt.Sprintf("policy %q", name)
		for _, side := range []struct {
			name string
			sels []Selector
		}{{"from", r.From}, {"to", r.To}} {
			matched := false
			seen := map[Selector]bool{}
			for _, s := range side.sels {
				why := x.why(e, s, side.name == "from")
				if why == "" {
					matched = true
					continue
				}
				if seen[s] {
					continue
				}
				seen[s] = true
				msg := fmt.Sprintf("%s: %s %s matches no host (%s)", label, side.name, s, why)
				out = append(out, Finding{ID: IDPolicyUnmatched, Severity: Warning, Message: msg,
					Detail: map[string]any{"policy": name, "side": side.name, "selector": s.String(), "source": r.Src.String()}})
			}
			if !matched {
				what := "source"
				if side.name == "to" {
					what = "destination host"
				}
				msg := fmt.Sprintf("%s: no %s remains, so the rule opens nothing", label, what)
				out = append(out, Finding{ID: IDPolicyUnmatched, Severity: Warning, Message: msg,
					Detail: map[string]any{"policy": name, "side": side.name, "source": r.Src.String()}})
			}
		}
	}
	return out
}
