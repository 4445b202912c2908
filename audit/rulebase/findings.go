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
	why    []string
}

// Findings evaluates every rule of plan against the rule bases and
// returns a rule-gap finding per destination host and protocol with
// blocked parts and a rule-unknown finding per destination host and
// protocol with unknown parts, and the rule-overbroad and rule-stale
// findings, sorted. Host rule bases (Base.Host set) apply only to flows to
// that host; a destination no rule base applies to is not evaluated.
func Findings(est *audit.Estate, plan *audit.Plan, bases []*Base, opt Options) []audit.Finding {
	return Audit(est, plan, bases, opt).Findings
}

// Result is what the rule bases do with a plan.
type Result struct {
	Findings []audit.Finding // sorted
	// Status says for each rule of the plan, in its order, what the rule
	// bases do with it: one of the Status* words.
	Status []string
}

// The words of Result.Status.
const (
	StatusAllowed      = "allowed"
	StatusBlocked      = "blocked"
	StatusPartBlocked  = "partly blocked"
	StatusUnknown      = "unknown"
	StatusPartUnknown  = "partly unknown"
	StatusNotEvaluated = "not evaluated" // no rule base covers its destinations
	StatusNotModelled  = "not modelled"  // not TCP or UDP
)

// status words what happened to a plan rule: outcomes holds 1<<Outcome
// for every part; partial is set when some destinations had no rule base.
func status(outcomes uint8, partial bool) string {
	var s string
	switch {
	case outcomes == 0:
		return StatusNotEvaluated
	case outcomes == 1<<Allowed:
		s = StatusAllowed
	case outcomes&(1<<Blocked) != 0 && outcomes&^(1<<Blocked) == 0:
		s = StatusBlocked
	case outcomes&(1<<Blocked) != 0:
		s = StatusPartBlocked
	case outcomes == 1<<Unknown:
		s = StatusUnknown
	default:
		s = StatusPartUnknown
	}
	if partial {
		s += " (some destinations not evaluated)"
	}
	return s
}

// Audit evaluates every rule of plan against the rule bases as Findings
// does, and says for each plan rule what they do with it.
func Audit(est *audit.Estate, plan *audit.Plan, bases []*Base, opt Options) Result {
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
	own := map[string][]netip.Addr{} // each host's addresses, sorted
	for _, ha := range index {
		own[ha.host] = append(own[ha.host], ha.addr)
	}

	type key struct {
		id, host, proto string
	}
	found := map[key][]entry{}
	var keys []key
	res := Result{Status: make([]string, len(plan.Rules))}
	for i := range plan.Rules {
		r := &plan.Rules[i]
		proto := protoOf(r.Proto)
		if proto == 0 {
			res.Status[i] = StatusNotModelled
			continue
		}
		var outcomes uint8
		partial := false
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
			if g.dst.Empty() {
				continue
			}
			if len(g.bases) == 0 {
				partial = true
				continue
			}
			parts := Evaluate(g.bases, hook, Flow{r.Family, proto, src, g.dst, ports})
			for _, p := range parts {
				if p.Outcome == Allowed {
					outcomes |= 1 << p.Outcome
					continue
				}
				id := IDRuleGap
				if p.Outcome == Unknown {
					id = IDRuleUnknown
				}
				for _, h := range hostsIn(index, p.Dst) {
					// An aggregated rule's box holds each host's flows to
					// itself, which never cross a firewall (Windows
					// Firewall does not filter loopback either).
					if within(p.Src, own[h]) {
						continue
					}
					outcomes |= 1 << p.Outcome
					k := key{id, h, r.Proto}
					if _, ok := found[k]; !ok {
						keys = append(keys, k)
					}
					found[k] = append(found[k], entry{r.Family, p.Src, p.Ports, p.Base, p.By, p.Rule, p.Why})
				}
			}
		}
		res.Status[i] = status(outcomes, partial && outcomes != 0)
	}
	j := newJoiner()
	for _, k := range keys {
		res.Findings = append(res.Findings, j.finding(k.id, k.host, k.proto, found[k], own[k.host]))
	}
	res.Findings = append(res.Findings, ruleFindings(est, plan, bases, hostAddrs)...)
	audit.SortFindings(res.Findings)
	return res
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
//
// The sources shown leave out the host's own addresses (self): flows from
// a host to itself are in an aggregated rule's box but cross no firewall.
func (j *joiner) finding(id, host, proto string, es []entry, self []netip.Addr) audit.Finding {
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
		sources *joined
		ports   string
		base    string
		by      Pos
		rule    string
		why     []string
	}
	items := make([]item, 0, len(order))
	for _, a := range order {
		items = append(items, item{a.e.family, j.join(a.srcs).without(self), a.e.ports.String(), a.e.base, a.e.by, a.e.rule, a.e.why})
	}
	slices.SortFunc(items, func(x, y item) int {
		return cmp.Or(cmp.Compare(x.family, y.family), strings.Compare(x.ports, y.ports),
			strings.Compare(x.base, y.base), strings.Compare(x.by.String(), y.by.String()),
			strings.Compare(x.rule, y.rule), slices.CompareFunc(x.sources.prefixes, y.sources.prefixes, netip.Prefix.Compare))
	})
	all := j.join(allSrcs).without(self)
	sources, srcTotal := all.strings, all.total
	var decided []map[string]any
	var where []whereGroup
	for _, it := range items {
		d := map[string]any{
			"family":        it.family,
			"sources":       it.sources.strings,
			"source_ranges": it.sources.total,
			"ports":         it.ports,
			"rule_base":     it.base,
			"rule":          it.by.String(),
			"rule_text":     it.rule,
		}
		if len(it.why) > 0 {
			d["not_evaluated"] = it.why
		}
		decided = append(decided, d)
		w, why := it.by.String(), strings.Join(it.why, "; ")
		switch {
		case w == "":
			w = it.base
		case strings.HasPrefix(it.rule, "policy "):
			w += " (" + it.rule + ")"
		}
		// Rules unknown for the same reason share it: "a:2, a:17 (why)".
		g := slices.IndexFunc(where, func(x whereGroup) bool { return x.why == why })
		if g < 0 {
			where = append(where, whereGroup{why: why})
			g = len(where) - 1
		}
		if !slices.Contains(where[g].rules, w) {
			where[g].rules = append(where[g].rules, w)
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
		f.Message = fmt.Sprintf("%s: required %s %s from %s blocked by %s", host, proto, allPorts, srcText, whereText(where))
	} else {
		f.Severity = audit.Warning
		f.Message = fmt.Sprintf("%s: whether %s %s from %s is allowed depends on matches not evaluated (%s)", host, proto, allPorts, srcText, whereText(where))
	}
	return f
}

// whereGroup is the rules that decided parts of a finding for one reason
// (the unmodelled matches, "" for a gap).
type whereGroup struct {
	why   string
	rules []string
}

// whereText words the groups for a message.
func whereText(gs []whereGroup) string {
	var parts []string
	for _, g := range gs {
		t := strings.Join(g.rules, ", ")
		if g.why != "" {
			t += " (" + g.why + ")"
		}
		parts = append(parts, t)
	}
	return strings.Join(parts, "; ")
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

// joined is the union of some source sets as a finding shows it.
type joined struct {
	ranges   []netipx.IPRange // the union, sorted and merged; shared
	prefixes []netip.Prefix   // the first maxDetailSources
	strings  []string         // prefixes as text; shared, never changed
	total    int              // address ranges in all
}

// without returns j less the addresses of self (a few, sorted) that
// stand as ranges of their own. One inside a wider range stays: the
// prefix is what the rules name (10.0.0.0/8 reads better than the 24
// prefixes around one address), and a host's flows to itself cross no
// firewall anyway. Most hosts are not among the sources of their own
// flows: j itself, at the cost of a search per address.
func (j *joined) without(self []netip.Addr) *joined {
	drop := map[int]bool{}
	for _, a := range self {
		if i := rangeAt(j.ranges, a); i >= 0 && j.ranges[i].From() == j.ranges[i].To() {
			drop[i] = true
		}
	}
	if len(drop) == 0 {
		return j
	}
	rs := make([]netipx.IPRange, 0, len(j.ranges)-len(drop))
	for i, r := range j.ranges {
		if !drop[i] {
			rs = append(rs, r)
		}
	}
	ps, total := firstPrefixes(rs)
	return &joined{rs, ps, prefixStrings(ps), total}
}

// rangeAt returns the index of the range of rs (sorted, disjoint) that
// holds a, -1 when none does.
func rangeAt(rs []netipx.IPRange, a netip.Addr) int {
	i, _ := slices.BinarySearchFunc(rs, a, func(r netipx.IPRange, a netip.Addr) int { return r.To().Compare(a) })
	if i < len(rs) && rs[i].Contains(a) {
		return i
	}
	return -1
}

// within reports whether every address of s is one of self (sorted).
func within(s *AddrSet, self []netip.Addr) bool {
	if len(s.r) > len(self) {
		return false
	}
	for _, r := range s.r {
		if r.From() != r.To() {
			return false
		}
		if _, ok := slices.BinarySearchFunc(self, r.From(), netip.Addr.Compare); !ok {
			return false
		}
	}
	return !s.Empty()
}

// joiner joins source sets for findings, once per distinct combination:
// at 100,000 hosts, thousands of findings share the few source sets of
// the plan's rules, and each join of scattered sets is costly.
type joiner struct {
	ids  map[*AddrSet]int
	memo map[string]*joined
}

func newJoiner() *joiner {
	return &joiner{ids: map[*AddrSet]int{}, memo: map[string]*joined{}}
}

// join returns the union of sets, whatever their order.
func (j *joiner) join(sets []*AddrSet) *joined {
	ids := make([]int, len(sets))
	for i, s := range sets {
		id, ok := j.ids[s]
		if !ok {
			id = len(j.ids)
			j.ids[s] = id
		}
		ids[i] = id
	}
	slices.Sort(ids)
	key := fmt.Sprint(ids)
	if r, ok := j.memo[key]; ok {
		return r
	}
	rs := joinSets(sets)
	ps, total := firstPrefixes(rs)
	r := &joined{rs, ps, prefixStrings(ps), total}
	j.memo[key] = r
	return r
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
