package rulebase

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/rpcspan/rpcspan/audit"
	"go4.org/netipx"
)

// The finding ids live in package audit with the others.
const (
	IDRuleGap     = audit.IDRuleGap
	IDRuleUnknown = audit.IDRuleUnknown
)

// Options tune Findings. The zero value evaluates the forward hook.
type Options struct {
	Hook string // "input" or "forward"; "" means "forward"
}

// hostAddr maps an address to the host that has it.
type hostAddr struct {
	addr netip.Addr
	host string
}

// entry is one blocked or unknown piece of a host's flows.
type entry struct {
	family int
	src    *AddrSet
	ports  *PortSet
	base   string
	by     Pos
	rule   string
}

// Findings evaluates every rule of plan against the rule bases and
// returns a rule-gap finding per destination host and protocol with
// blocked parts and a rule-unknown finding per destination host and
// protocol with unknown parts, sorted. Host rule bases (Base.Host set)
// apply only to flows to that host; a destination no rule base applies to
// is not evaluated.
func Findings(est *audit.Estate, plan *audit.Plan, bases []*Base, opt Options) []audit.Finding {
	hook := opt.Hook
	if hook == "" {
		hook = "forward"
	}
	var network []*Base
	hostBases := map[string][]*Base{}
	for _, b := range bases {
		if b.Host == "" {
			network = append(network, b)
		} else {
			k := strings.ToLower(b.Host)
			hostBases[k] = append(hostBases[k], b)
		}
	}
	var index []hostAddr
	hostAddrs := map[string]*AddrSet{}
	for _, h := range est.Hosts() {
		var ps []netip.Prefix
		for _, a := range h.Addresses {
			ad := a.Addr.Unmap().WithZone("")
			if ad.IsValid() {
				index = append(index, hostAddr{ad, h.Name})
				ps = append(ps, netip.PrefixFrom(ad, ad.BitLen()))
			}
		}
		if _, ok := hostBases[strings.ToLower(h.Name)]; ok {
			hostAddrs[strings.ToLower(h.Name)] = NewAddrSet(ps...)
		}
	}
	slices.SortFunc(index, func(a, b hostAddr) int {
		if c := a.addr.Compare(b.addr); c != 0 {
			return c
		}
		return strings.Compare(a.host, b.host)
	})

	type key struct {
		id, host, proto string
	}
	found := map[key][]entry{}
	var keys []key
	for i := range plan.Rules {
		r := &plan.Rules[i]
		proto := protoOf(r.Proto)
		if proto == 0 {
			continue
		}
		dst := NewAddrSet(r.Destinations...)
		src := NewAddrSet(r.Sources...)
		ports := NewPortSet(r.Ports...)
		// Destinations with a host rule base get a box of their own, so
		// that their own rules apply only to them.
		type group struct {
			dst   *AddrSet
			bases []*Base
		}
		var groups []group
		rest := dst
		for _, h := range r.DestHosts {
			hb := hostBases[strings.ToLower(h)]
			if len(hb) == 0 {
				continue
			}
			d := dst.Intersect(hostAddrs[strings.ToLower(h)])
			rest = rest.Minus(d)
			groups = append(groups, group{d, slices.Concat(network, hb)})
		}
		groups = append(groups, group{rest, network})
		for _, g := range groups {
			if g.dst.Empty() || len(g.bases) == 0 {
				continue
			}
			parts := Evaluate(g.bases, hook, Flow{r.Family, proto, src, g.dst, ports})
			for _, p := range parts {
				if p.Outcome == Allowed {
					continue
				}
				id := IDRuleGap
				if p.Outcome == Unknown {
					id = IDRuleUnknown
				}
				for _, h := range hostsIn(index, p.Dst) {
					k := key{id, h, r.Proto}
					if _, ok := found[k]; !ok {
						keys = append(keys, k)
					}
					found[k] = append(found[k], entry{r.Family, p.Src, p.Ports, p.Base, p.By, p.Rule})
				}
			}
		}
	}
	var out []audit.Finding
	for _, k := range keys {
		out = append(out, finding(k.id, k.host, k.proto, found[k]))
	}
	out = append(out, ruleFindings(est, plan, bases)...)
	audit.SortFindings(out)
	return out
}

// hostsIn returns the hosts with an address in s, sorted, each once.
func hostsIn(index []hostAddr, s *AddrSet) []string {
	var out []string
	for _, r := range s.r {
		i, _ := slices.BinarySearchFunc(index, r.From(), func(h hostAddr, a netip.Addr) int { return h.addr.Compare(a) })
		for ; i < len(index) && index[i].addr.Compare(r.To()) <= 0; i++ {
			out = append(out, index[i].host)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// finding builds the finding of one host and protocol from its entries:
// entries with the same ports and deciding rule join their sources.
func finding(id, host, proto string, es []entry) audit.Finding {
	// Entries mostly share their source sets (a plan rule's sources), and
	// an AddrSet is already sorted and merged: sets are only joined when
	// they differ, which keeps 100,000-host estates fast.
	type acc struct {
		e    entry
		srcs []*AddrSet // distinct
	}
	byKey := map[string]*acc{}
	var order []*acc
	var allSrcs []*AddrSet
	allPorts := &PortSet{}
	for _, e := range es {
		k := fmt.Sprint(e.family, " ", e.ports, " ", e.base, " ", e.by, " ", e.rule)
		a, ok := byKey[k]
		if !ok {
			a = &acc{e: e}
			byKey[k] = a
			order = append(order, a)
		}
		if !slices.Contains(a.srcs, e.src) {
			a.srcs = append(a.srcs, e.src)
		}
		if !slices.Contains(allSrcs, e.src) {
			allSrcs = append(allSrcs, e.src)
		}
		allPorts = allPorts.Union(e.ports)
	}
	type item struct {
		family  int
		sources []netip.Prefix // the first maxDetailSources
		total   int            // address ranges in all
		ports   string
		base    string
		by      Pos
		rule    string
	}
	items := make([]item, 0, len(order))
	for _, a := range order {
		ps, total := firstPrefixes(joinSets(a.srcs))
		items = append(items, item{a.e.family, ps, total, a.e.ports.String(), a.e.base, a.e.by, a.e.rule})
	}
	slices.SortFunc(items, func(x, y item) int {
		return cmp.Or(cmp.Compare(x.family, y.family), strings.Compare(x.ports, y.ports),
			strings.Compare(x.base, y.base), strings.Compare(x.by.String(), y.by.String()),
			strings.Compare(x.rule, y.rule), slices.CompareFunc(x.sources, y.sources, netip.Prefix.Compare))
	})
	srcPrefixes, srcTotal := firstPrefixes(joinSets(allSrcs))
	sources := prefixStrings(srcPrefixes)
	var decided []map[string]any
	var where []string
	for _, it := range items {
		decided = append(decided, map[string]any{
			"family":        it.family,
			"sources":       prefixStrings(it.sources),
			"source_ranges": it.total,
			"ports":         it.ports,
			"rule_base":     it.base,
			"rule":          it.by.String(),
			"rule_text":     it.rule,
		})
		w := it.by.String()
		if w == "" {
			w = it.base
		} else if strings.HasPrefix(it.rule, "policy ") {
			w += " (" + it.rule + ")"
		}
		if !slices.Contains(where, w) {
			where = append(where, w)
		}
	}
	f := audit.Finding{ID: id, Host: host, Detail: map[string]any{
		"host":          host,
		"protocol":      proto,
		"ports":         allPorts.String(),
		"sources":       sources,
		"source_ranges": srcTotal,
		"decided":       decided,
	}}
	srcText := strings.Join(sources, ", ")
	if len(sources) > 3 {
		srcText = strings.Join(sources[:3], ", ") + " and more"
	}
	if id == IDRuleGap {
		f.Severity = audit.Error
		f.Message = fmt.Sprintf("%s: required %s %s from %s blocked by %s", host, proto, allPorts, srcText, strings.Join(where, ", "))
	} else {
		f.Severity = audit.Warning
		f.Message = fmt.Sprintf("%s: whether %s %s from %s is allowed depends on matches not evaluated (%s)", host, proto, allPorts, srcText, strings.Join(where, ", "))
	}
	return f
}

// prefixStrings returns the prefixes as strings.
func prefixStrings(ps []netip.Prefix) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

// maxDetailSources bounds the source prefixes a finding's detail lists:
// with 100,000 scattered sources, 10,000 findings would otherwise build a
// billion strings. The detail gives the number of address ranges in all.
const maxDetailSources = 64

// firstPrefixes returns the first maxDetailSources prefixes of the sorted,
// merged ranges rs and their number, without turning all of them into
// prefixes.
func firstPrefixes(rs []netipx.IPRange) ([]netip.Prefix, int) {
	var out []netip.Prefix
	for _, r := range rs {
		if len(out) >= maxDetailSources {
			break
		}
		out = r.AppendPrefixes(out)
	}
	if len(out) > maxDetailSources {
		out = out[:maxDetailSources]
	}
	return out, len(rs)
}

// joinSets returns the sorted, merged ranges of the union of sets.
func joinSets(sets []*AddrSet) []netipx.IPRange {
	if len(sets) == 1 {
		return sets[0].r
	}
	var b netipx.IPSetBuilder
	for _, st := range sets {
		for _, r := range st.r {
			b.AddRange(r)
		}
	}
	s, _ := b.IPSet()
	return s.Ranges()
}
