package audit

import (
	"fmt"
	"slices"
	"strings"
)

// netshReason says why r breaks the netsh limits, or "" when it does not.
func netshReason(r PortRange) string {
	var why []string
	if r.First < MinDynamicStart {
		why = append(why, "start below 1025")
	}
	if r.Len() < MinDynamicPorts {
		why = append(why, plural(r.Len(), "port")+", fewer than 255")
	}
	return strings.Join(why, ", ")
}

// checkInvalid reports ranges netsh would refuse to set. They are still
// checked further: the host may really use them (set through the registry).
//
// The limits are netsh's: a Samba or Linux host sets its range elsewhere
// and is not held to them.
func (v *hostView) checkInvalid(out []Finding) []Finding {
	if NonWindows(v.h.OS) {
		return out
	}
	effs := v.effs(func(x Effective) bool { return !x.Range.WithinNetshLimits() })
	if len(effs) == 0 {
		return out
	}
	msg := clauses(effs, func(x Effective) string {
		return ", which breaks the netsh limits (" + netshReason(x.Range) + ")"
	})
	d := rangeDetail(effs)
	reasons := make([]string, len(effs))
	for i, x := range effs {
		reasons[i] = netshReason(x.Range)
	}
	perKey(d, "reason", "reasons", effKeys(effs), reasons)
	return append(out, hostFinding(IDRangeInvalid, Error, v.h, msg, d))
}

func effKeys(effs []Effective) []Key {
	keys := make([]Key, len(effs))
	for i, x := range effs {
		keys[i] = x.Key
	}
	return keys
}

// checkKnownRange reports the keys using exactly r (a well-known range with
// a known consequence, given by why).
func (v *hostView) checkKnownRange(out []Finding, id string, r PortRange, why string) []Finding {
	effs := v.effs(func(x Effective) bool { return x.Range == r })
	if len(effs) == 0 {
		return out
	}
	return append(out, hostFinding(id, Warning, v.h, clauses(effs, nil)+why, rangeDetail(effs)))
}

// checkBaseline reports every key whose range is not the baseline, whatever
// more specific finding the range also gets.
func (v *hostView) checkBaseline(e *Estate, out []Finding) []Finding {
	effs := v.effs(func(x Effective) bool { return x.Range != e.BaselineRange(x.Key).Range })
	if len(effs) == 0 {
		return out
	}
	msg := clauses(effs, func(x Effective) string { return " instead of the baseline " + e.BaselineRange(x.Key).Range.String() })
	d := rangeDetail(effs)
	base := make([]string, len(effs))
	for i, x := range effs {
		base[i] = e.BaselineRange(x.Key).Range.String()
	}
	perKey(d, "baseline", "baselines", effKeys(effs), base)
	return append(out, hostFinding(IDRangeBaselineMismatch, Warning, v.h, msg, d))
}

// checkMismatch reports pairs of checked keys whose ranges differ; both
// keys of a differing pair are named.
func (v *hostView) checkMismatch(out []Finding, id string, sev Severity, lead string, pairs [][2]Key) []Finding {
	var involved [4]bool
	found := false
	for _, p := range pairs {
		a, b := keyIndex(p[0]), keyIndex(p[1])
		if v.checked[a] && v.checked[b] && v.eff[a].Range != v.eff[b].Range {
			involved[a], involved[b], found = true, true, true
		}
	}
	if !found {
		return out
	}
	var effs []Effective
	for i := range Keys {
		if involved[i] {
			effs = append(effs, v.eff[i])
		}
	}
	return append(out, hostFinding(id, sev, v.h, lead+clauses(effs, nil), rangeDetail(effs)))
}

// lastObs returns the observation Host.Range would pick among those of
// origin o for k.
func lastObs(h *Host, k Key, o Origin) (RangeObs, bool) {
	var best RangeObs
	found := false
	for _, r := range h.Ranges {
		if r.Key == k && r.Origin == o {
			best, found = r, true
		}
	}
	return best, found
}

// checkDeclared reports keys whose inventory declaration disagrees with a
// capture: the inventory is out of date.
func (v *hostView) checkDeclared(out []Finding) []Finding {
	type diff struct {
		k             Key
		decl, capture RangeObs
	}
	var diffs []diff
	for _, k := range Keys {
		d, ok1 := lastObs(v.h, k, Declared)
		c, ok2 := lastObs(v.h, k, Captured)
		if ok1 && ok2 && d.Range != c.Range {
			diffs = append(diffs, diff{k, d, c})
		}
	}
	if len(diffs) == 0 {
		return out
	}
	type group struct {
		keys          []string
		decl, capture PortRange
	}
	var gs []group
	keys := make([]Key, len(diffs))
	decl := make([]string, len(diffs))
	capt := make([]string, len(diffs))
	declSrc := map[string]string{}
	captSrc := map[string]string{}
	for i, x := range diffs {
		keys[i], decl[i], capt[i] = x.k, x.decl.Range.String(), x.capture.Range.String()
		declSrc[string(x.k)] = x.decl.Src.String()
		captSrc[string(x.k)] = x.capture.Src.String()
		j := slices.IndexFunc(gs, func(g group) bool { return g.decl == x.decl.Range && g.capture == x.capture.Range })
		if j < 0 {
			gs = append(gs, group{decl: x.decl.Range, capture: x.capture.Range})
			j = len(gs) - 1
		}
		gs[j].keys = append(gs[j].keys, string(x.k))
	}
	parts := make([]string, len(gs))
	for i, g := range gs {
		parts[i] = fmt.Sprintf("the inventory declares %s for %s but a capture shows %s", g.decl, strings.Join(g.keys, ", "), g.capture)
	}
	msg := strings.Join(parts, "; ") + "; the capture wins over the inventory"
	d := map[string]any{"keys": keyStrings(keys), "declared_sources": declSrc, "captured_sources": captSrc}
	perKey(d, "declared_range", "declared_ranges", keys, decl)
	perKey(d, "captured_range", "captured_ranges", keys, capt)
	return append(out, hostFinding(IDRangeDeclaredMismatch, Warning, v.h, msg, d))
}

// serviceKey is the ranges and protocols of a host's checked keys, in key
// order; hosts sharing them share the service-port-overlap text.
type serviceKey struct {
	n   int
	rs  [4]PortRange
	udp [4]bool
}

// serviceText is what checkServices says about one serviceKey.
type serviceText struct {
	holds    [4]bool  // which of the key's ranges hold a service port
	names    string   // "1433 SQL Server, 3389 Remote Desktop"
	services []string // "1433/tcp SQL Server", sorted by port
}

// serviceMemo caches serviceText across the hosts of one Check: most hosts
// share a handful of ranges, and naming 40 services per host would
// otherwise dominate the run time.
type serviceMemo map[serviceKey]*serviceText

func (m serviceMemo) get(k serviceKey) *serviceText {
	if t, ok := m[k]; ok {
		return t
	}
	t := &serviceText{}
	var hits []ServicePort // with Proto "tcp" or "udp"
	for i := range k.n {
		proto := "tcp"
		if k.udp[i] {
			proto = "udp"
		}
		for _, s := range ServicesIn(proto, k.rs[i]) {
			s.Proto = proto
			hits = append(hits, s)
			t.holds[i] = true
		}
	}
	slices.SortFunc(hits, func(a, b ServicePort) int {
		if a.Port != b.Port {
			return int(a.Port) - int(b.Port)
		}
		return strings.Compare(a.Proto, b.Proto)
	})
	hits = slices.Compact(hits)
	var names []string
	for _, s := range hits {
		t.services = append(t.services, s.String())
		if n := fmt.Sprintf("%d %s", s.Port, s.Name); !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	// A one-line message names the best-known few; the detail lists all.
	const shown = 6
	if len(names) > shown {
		slices.SortStableFunc(names, func(a, b string) int { return headlineRank(a) - headlineRank(b) })
		t.names = fmt.Sprintf("%d fixed service ports, among them %s and %d more (see detail)", len(names), strings.Join(names[:shown], ", "), len(names)-shown)
	} else {
		t.names = "fixed service ports " + strings.Join(names, ", ")
	}
	m[k] = t
	return t
}

// headlineRank puts the ports an administrator recognises first (as
// "1433 SQL Server" text): SQL Server, RDP, WinRM, the global catalog.
func headlineRank(name string) int {
	for i, p := range []string{"1433 ", "3389 ", "5985 ", "5986 ", "3268 ", "3269 "} {
		if strings.HasPrefix(name, p) {
			return i
		}
	}
	return 100
}

// checkServices reports checked keys whose range holds fixed service ports
// of the same protocol. The message names each port once; the detail says
// which protocol.
func (v *hostView) checkServices(memo serviceMemo, out []Finding) []Finding {
	var k serviceKey
	for i, key := range Keys {
		if v.checked[i] {
			k.rs[k.n], k.udp[k.n] = v.eff[i].Range, key.Proto() == "udp"
			k.n++
		}
	}
	t := memo.get(k)
	if t.services == nil {
		return out
	}
	var effs []Effective
	j := 0
	for i := range Keys {
		if v.checked[i] {
			if t.holds[j] {
				effs = append(effs, v.eff[i])
			}
			j++
		}
	}
	msg := clauses(effs, nil) + ", holding " + t.names +
		": a service may find its port taken, and a firewall rule for the range opens these ports too"
	d := rangeDetail(effs)
	d["services"] = slices.Clone(t.services)
	return append(out, hostFinding(IDServicePortOverlap, Warning, v.h, msg, d))
}

// checkExcluded reports excluded port ranges that cut into a checked key's
// dynamic range; a warning when fewer than 255 usable ports remain.
func (v *hostView) checkExcluded(out []Finding) []Finding {
	excl := map[string][]string{}
	admin := map[string][]string{}
	usable := map[string]int{}
	tails := map[Key]string{}
	sev := Info
	effs := v.effs(func(x Effective) bool {
		var cut, adm []PortRange
		for _, r := range v.h.ExcludedRanges(x.Key) {
			if r.Overlaps(x.Range) {
				cut = append(cut, r)
			}
		}
		if len(cut) == 0 {
			return false
		}
		for _, ex := range v.h.Excluded {
			if ex.Key == x.Key && ex.Administered && ex.Range.Overlaps(x.Range) {
				adm = append(adm, ex.Range)
			}
		}
		n := CountPorts(SubtractRanges([]PortRange{x.Range}, MergeRanges(cut)))
		k := string(x.Key)
		excl[k], usable[k] = rangeStrings(cut), n
		if len(adm) > 0 {
			admin[k] = rangeStrings(MergeRanges(adm))
		}
		// Hyper-V and others reserve adjacent blocks; merged, the message
		// stays short (the detail lists them as read).
		tail := fmt.Sprintf(" minus excluded %s, leaving %d of %d ports", FormatRanges(MergeRanges(cut)), n, x.Range.Len())
		if n < MinDynamicPorts {
			tail += " (fewer than 255)"
			sev = Warning
		}
		tails[x.Key] = tail
		return true
	})
	if len(effs) == 0 {
		return out
	}
	msg := "excluded port ranges cut into the dynamic range: " + clauses(effs, func(x Effective) string { return tails[x.Key] })
	d := rangeDetail(effs)
	d["excluded"], d["usable"] = excl, usable
	if len(admin) > 0 {
		d["administered"] = admin
	}
	return append(out, hostFinding(IDExcludedOverlap, sev, v.h, msg, d))
}

func rangeStrings(rs []PortRange) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.String()
	}
	return out
}

// checkGroups reports, for every group of at least 3 hosts checked on a
// key, the hosts whose range for that key differs from the one a strict
// majority of the group uses. Without a strict majority nobody is told to
// change. One finding per host and group names every key that differs.
func checkGroups(views []hostView) []Finding {
	type group struct {
		name    string // as first written
		members []int  // indexes into views
	}
	byName := map[string]*group{}
	var names []string
	for i := range views {
		for _, g := range views[i].h.Groups {
			lg := strings.ToLower(g)
			gr, ok := byName[lg]
			if !ok {
				gr = &group{name: g}
				byName[lg] = gr
				names = append(names, lg)
			}
			// Hosts come in order, so a repeated group of one host is
			// always the last member.
			if n := len(gr.members); n == 0 || gr.members[n-1] != i {
				gr.members = append(gr.members, i)
			}
		}
	}
	slices.Sort(names)
	var out []Finding
	counts := map[PortRange]int{}
	for _, lg := range names {
		gr := byName[lg]
		if len(gr.members) < 3 {
			continue
		}
		type majority struct {
			r       PortRange
			n, of   int
			present bool
		}
		var maj [4]majority
		for ki := range Keys {
			clear(counts)
			of := 0
			for _, m := range gr.members {
				if views[m].checked[ki] {
					counts[views[m].eff[ki].Range]++
					of++
				}
			}
			if of < 3 {
				continue
			}
			// A strict majority is unique, so the map order cannot change
			// the result.
			for r, n := range counts {
				if 2*n > of {
					maj[ki] = majority{r: r, n: n, of: of, present: true}
				}
			}
		}
		for _, m := range gr.members {
			v := &views[m]
			var effs []Effective
			for ki := range Keys {
				if v.checked[ki] && maj[ki].present && v.eff[ki].Range != maj[ki].r {
					effs = append(effs, v.eff[ki])
				}
			}
			if len(effs) == 0 {
				continue
			}
			tail := func(x Effective) string {
				mj := maj[keyIndex(x.Key)]
				return fmt.Sprintf(" where %d of the group's %d hosts use %s", mj.n, mj.of, mj.r)
			}
			msg := fmt.Sprintf("differs from most of group %q: %s", gr.name, clauses(effs, tail))
			d := rangeDetail(effs)
			d["group"] = gr.name
			keys := effKeys(effs)
			mr := make([]string, len(effs))
			mn := make([]int, len(effs))
			of := make([]int, len(effs))
			for i, x := range effs {
				mj := maj[keyIndex(x.Key)]
				mr[i], mn[i], of[i] = mj.r.String(), mj.n, mj.of
			}
			perKey(d, "majority_range", "majority_ranges", keys, mr)
			perKey(d, "majority_hosts", "majority_hosts_by_key", keys, mn)
			perKey(d, "group_hosts", "group_hosts_by_key", keys, of)
			out = append(out, hostFinding(IDRangeGroupInconsistent, Warning, v.h, msg, d))
		}
	}
	return out
}
