package audit

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"go4.org/netipx"
)

// BuildPlan turns the estate's policy into the aggregated rules RPC needs.
//
// Without a policy (PolicySet false and no rules) every host may open rpc
// to every host, under the policy name "default"; a policy that was written
// but whose rules could not be read allows nothing. Policy rules without a
// name are called "#N", N being their 1-based position in e.Policy.
//
// A service of a policy rule gives, per address family, one piece per
// destination span: the From hosts' addresses of that family plus the From
// prefixes of that family may open the span's ports on the addresses of that
// family of every To host that has one. rpc and rpc-udp add one endpoint-
// mapper piece (port 135) covering all those destinations. Pieces with the
// same family, protocol, service, ports and sources join their
// destinations; then pieces with the same destinations join their sources;
// both steps repeat until nothing joins. Both are exact unions, so the plan
// allows exactly the union of the pieces: the raw flows plus, where a host
// is in a source set and a destination, that host reaching itself.
//
// Flows: a source is a distinct address or prefix the rule's From names (a
// From host's address of the family, as a single address, or a From prefix
// of the family); a destination is an address of the family of a To host.
// A pair whose source is one of the destination host's own addresses is
// not a flow. RawFlows sums, over policy rules, services and families,
// sources × destination addresses minus those self pairs; it equals the
// sum of Flows over the rules that are not EPM rules (the EPM rule of a
// service counts the same flows as the span rules of that service). Flows
// that two policy rules both require are counted once per policy rule.
func BuildPlan(e *Estate) *Plan {
	p := newPlanner(e)
	plan, _ := p.build(p.spanID, true)
	return plan
}

// planner holds what planning computes once per estate: the hosts in a
// fixed order (their index is their identity), their addresses per family
// and the interned spans.
type planner struct {
	e      *Estate
	hosts  []*Host
	lower  []string          // lower-case host names, in the order of hosts
	addrs  [2][][]netip.Addr // [family index][host]: distinct, sorted, unmapped
	groups map[string][]int  // lower-case group name -> host indexes; built on first use

	spans    []spanEntry      // interned spans; id 0 is unused
	spanIDs  map[string]int32 // restricted flag + ports -> id
	hostSpan [4][]int32       // [key index][host] -> span id, 0 until asked
	buf      []byte

	resolved  bool
	rules     []resolvedRule   // the policy, resolved on first use
	unmatched []string         // selectors of rules that matched nothing
	srcs      [][2]planSources // [rule][family index]: sources, shared by both plans of a migration
}

// spanEntry is one distinct span. key identifies the ports alone, so that
// a restricted and an unrestricted span with equal ports share rules.
type spanEntry struct {
	ports      []PortRange
	key        string
	restricted bool
}

// newPlanner prepares e for planning.
func newPlanner(e *Estate) *planner {
	p := &planner{e: e, spans: make([]spanEntry, 1), spanIDs: map[string]int32{}}
	p.hosts, p.lower = sortedHosts(e)
	for fi := range p.addrs {
		p.addrs[fi] = make([][]netip.Addr, len(p.hosts))
	}
	for i, h := range p.hosts {
		for _, a := range h.Addresses {
			ad := a.Addr.Unmap().WithZone("")
			if !ad.IsValid() {
				continue
			}
			fi := planFam(ad)
			p.addrs[fi][i] = append(p.addrs[fi][i], ad)
		}
		for fi := range p.addrs {
			if l := p.addrs[fi][i]; len(l) > 1 {
				slices.SortFunc(l, netip.Addr.Compare)
				p.addrs[fi][i] = slices.Compact(l)
			}
		}
	}
	return p
}

// sortedHosts returns the hosts in the order of Estate.Hosts, lower-casing
// each name once instead of in every comparison (which dominated planning
// time for 100,000 hosts).
func sortedHosts(e *Estate) ([]*Host, []string) {
	type named struct {
		lower string
		h     *Host
	}
	l := make([]named, 0, len(e.hosts))
	for _, h := range e.hosts {
		l = append(l, named{strings.ToLower(h.Name), h})
	}
	slices.SortFunc(l, func(a, b named) int {
		if c := strings.Compare(a.lower, b.lower); c != 0 {
			return c
		}
		return strings.Compare(a.h.Name, b.h.Name)
	})
	hosts, lower := make([]*Host, len(l)), make([]string, len(l))
	for i, n := range l {
		hosts[i], lower[i] = n.h, n.lower
	}
	return hosts, lower
}

// planFam returns 0 for IPv4 and 1 for IPv6.
func planFam(a netip.Addr) int {
	if a.Is4() {
		return 0
	}
	return 1
}

// planKeyIdx returns the position of k in Keys.
func planKeyIdx(k Key) int { return slices.Index(Keys, k) }

// spanID returns the interned span of host h for key k, computing it once.
func (p *planner) spanID(h int, k Key) int32 {
	ki := planKeyIdx(k)
	if p.hostSpan[ki] == nil {
		p.hostSpan[ki] = make([]int32, len(p.hosts))
	}
	if id := p.hostSpan[ki][h]; id != 0 {
		return id
	}
	s := p.e.Span(p.hosts[h], k)
	id := p.intern(s.Ports, s.Restricted)
	p.hostSpan[ki][h] = id
	return id
}

// intern returns the id of the span with these ports.
func (p *planner) intern(ports []PortRange, restricted bool) int32 {
	b := p.buf[:0]
	if restricted {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	b = appendPortsKey(b, ports)
	p.buf = b
	if id, ok := p.spanIDs[string(b)]; ok {
		return id
	}
	id := int32(len(p.spans))
	key := string(b)
	p.spanIDs[key] = id
	p.spans = append(p.spans, spanEntry{ports: slices.Clone(ports), key: key[1:], restricted: restricted})
	return id
}

// appendPortsKey appends ports in a form that tells port lists apart.
func appendPortsKey(b []byte, ports []PortRange) []byte {
	for _, r := range ports {
		b = binary.BigEndian.AppendUint16(b, r.First)
		b = binary.BigEndian.AppendUint16(b, r.Last)
	}
	return b
}

// planPortsKey returns ports in a form that tells port lists apart.
func planPortsKey(ports []PortRange) string { return string(appendPortsKey(nil, ports)) }

// planPiece is a rule under construction. hosts are the destination hosts
// (sorted indexes); the destination addresses are their addresses of fam.
type planPiece struct {
	fam      int
	proto    string
	service  Service
	epm      bool
	ports    []PortRange
	portsKey string
	src      *netipx.IPSet
	srcHash  uint64
	hosts    []int
	dst      *netipx.IPSet // nil until built from hosts
	dstHash  uint64
	policies []string
	flows    int

	srcPfx, dstPfx []netip.Prefix // fewest prefixes, set once aggregation is done
}

// planSources is a policy rule's sources in one family.
type planSources struct {
	set     *netipx.IPSet
	hash    uint64
	n       int          // distinct addresses and prefixes named
	singles []netip.Addr // single addresses named, sorted
}

// resolvedRule is a policy rule with its selectors resolved to host indexes.
type resolvedRule struct {
	name     string
	from, to []int // sorted, distinct
	prefixes []netip.Prefix
	services []Service
}

// build plans with the given spans. It returns the plan and its rules as
// pieces, in the order of plan.Rules. Without withRules, it returns only
// the pieces, unsorted (Migrate compares them and needs no Rules).
func (p *planner) build(span func(h int, k Key) int32, withRules bool) (*Plan, []*planPiece) {
	if !p.resolved {
		p.resolved = true
		p.rules, p.unmatched = p.resolvePolicy()
		p.srcs = make([][2]planSources, len(p.rules))
		for ri, r := range p.rules {
			for fi := range p.srcs[ri] {
				p.srcs[ri][fi] = p.sources(r, fi)
			}
		}
	}
	plan := &Plan{Unmatched: p.unmatched}
	inFrom := make([]bool, len(p.hosts))
	var pieces []*planPiece
	for ri, r := range p.rules {
		for _, h := range r.from {
			inFrom[h] = true
		}
		for fi, fam := range []int{4, 6} {
			src := p.srcs[ri][fi]
			if src.n == 0 {
				continue
			}
			for _, svc := range r.services {
				ps, raw := p.servicePieces(r, fi, fam, svc, src, inFrom, span)
				pieces = append(pieces, ps...)
				plan.RawFlows += raw
			}
		}
		for _, h := range r.from {
			inFrom[h] = false
		}
	}
	pieces = p.aggregate(pieces)
	if !withRules {
		return nil, pieces
	}
	for _, pc := range pieces {
		pc.srcPfx, pc.dstPfx = pc.src.Prefixes(), pc.dst.Prefixes()
	}
	slices.SortFunc(pieces, comparePieces)
	for _, pc := range pieces {
		plan.Rules = append(plan.Rules, p.rule(pc))
	}
	return plan, pieces
}

// resolvePolicy returns the policy rules to plan (the implicit default when
// there is no policy) and the selectors that matched nothing.
func (p *planner) resolvePolicy() ([]resolvedRule, []string) {
	if !p.e.PolicySet && len(p.e.Policy) == 0 {
		all := make([]int, len(p.hosts))
		for i := range all {
			all[i] = i
		}
		return []resolvedRule{{name: "default", from: all, to: all, services: []Service{{Kind: SvcRPC}}}}, nil
	}
	var out []resolvedRule
	var unmatched []string
	for i, pr := range p.e.Policy {
		r := resolvedRule{name: pr.Name}
		if r.name == "" {
			r.name = fmt.Sprintf("#%d", i+1)
		}
		for _, dir := range []struct {
			word string
			sels []Selector
			dst  *[]int
		}{{"from", pr.From, &r.from}, {"to", pr.To, &r.to}} {
			for _, s := range dir.sels {
				var hs []int
				switch {
				case s.Kind == SelPrefix && dir.word == "from" && s.Prefix.IsValid():
					r.prefixes = append(r.prefixes, s.Prefix.Masked())
					continue
				case s.Kind == SelGroup:
					hs = p.group(s.Name)
				case s.Kind == SelHost:
					if h, ok := p.e.Lookup(s.Name); ok {
						hs = []int{p.index(h)}
					}
				}
				// A prefix in To names addresses, not hosts, and so no
				// destination: ingest rejects it, and here it matches
				// nothing.
				if len(hs) == 0 {
					unmatched = append(unmatched, "policy "+r.name+": "+dir.word+" "+s.String())
				}
				*dir.dst = append(*dir.dst, hs...)
			}
		}
		slices.Sort(r.from)
		r.from = slices.Compact(r.from)
		slices.Sort(r.to)
		r.to = slices.Compact(r.to)
		for _, s := range pr.Services {
			if !slices.Contains(r.services, s) {
				r.services = append(r.services, s)
			}
		}
		out = append(out, r)
	}
	slices.Sort(unmatched)
	return out, slices.Compact(unmatched)
}

// group returns the hosts in group name (case-insensitive).
func (p *planner) group(name string) []int {
	if p.groups == nil {
		p.groups = map[string][]int{}
		for i, h := range p.hosts {
			for _, g := range h.Groups {
				k := strings.ToLower(g)
				if l := p.groups[k]; len(l) == 0 || l[len(l)-1] != i {
					p.groups[k] = append(l, i)
				}
			}
		}
	}
	return p.groups[strings.ToLower(name)]
}

// index returns the position of h in p.hosts.
func (p *planner) index(h *Host) int {
	// Names are unique case-insensitively, so the lower-case name finds h.
	i, _ := slices.BinarySearch(p.lower, strings.ToLower(h.Name))
	return i
}

// sources builds the source set of r in family fi once; every piece of r
// in that family, in both plans of a migration, shares it.
func (p *planner) sources(r resolvedRule, fi int) planSources {
	var singles []netip.Addr
	var prefixes []netip.Prefix
	for _, h := range r.from {
		singles = append(singles, p.addrs[fi][h]...)
	}
	for _, pf := range r.prefixes {
		if planFam(pf.Addr()) != fi {
			continue
		}
		if pf.IsSingleIP() {
			singles = append(singles, pf.Addr())
		} else {
			prefixes = append(prefixes, pf)
		}
	}
	slices.SortFunc(singles, netip.Addr.Compare)
	singles = slices.Compact(singles)
	slices.SortFunc(prefixes, netip.Prefix.Compare)
	prefixes = slices.Compact(prefixes)
	var b netipx.IPSetBuilder
	addAddrRuns(&b, singles)
	for _, pf := range prefixes {
		b.AddPrefix(pf)
	}
	set, _ := b.IPSet()
	return planSources{set: set, hash: ipSetHash(set), n: len(singles) + len(prefixes), singles: singles}
}

// servicePieces returns the pieces of one service of r in one family, and
// the raw flows they cover.
func (p *planner) servicePieces(r resolvedRule, fi, fam int, svc Service, src planSources, inFrom []bool, span func(int, Key) int32) ([]*planPiece, int) {
	proto := svc.Proto
	if svc.Kind == SvcRPC {
		proto = "tcp"
	} else if svc.Kind == SvcRPCUDP {
		proto = "udp"
	}
	key := MakeKey(proto, fam)
	mk := func(ports []PortRange, epm bool, pk string) *planPiece {
		return &planPiece{fam: fam, proto: proto, service: svc, epm: epm, ports: ports, portsKey: pk,
			src: src.set, srcHash: src.hash, policies: []string{r.name}}
	}
	// self counts the sources that are the destination's own addresses:
	// paired with any of its addresses they are the host to itself.
	self := func(h int) int {
		if inFrom[h] {
			return len(p.addrs[fi][h])
		}
		n := 0
		for _, a := range p.addrs[fi][h] {
			if _, ok := slices.BinarySearchFunc(src.singles, a, netip.Addr.Compare); ok {
				n++
			}
		}
		return n
	}
	all := mk(nil, svc.Kind != SvcPort, "")
	bySpan := map[int32]*planPiece{}
	var spanPieces []*planPiece
	for _, h := range r.to {
		n := len(p.addrs[fi][h])
		if n == 0 {
			continue
		}
		f := (src.n - self(h)) * n
		all.hosts = append(all.hosts, h)
		all.flows += f
		if svc.Kind == SvcPort {
			continue
		}
		id := span(h, key)
		sp, ok := bySpan[id]
		if !ok {
			se := p.spans[id]
			sp = mk(se.ports, false, se.key)
			bySpan[id] = sp
			spanPieces = append(spanPieces, sp)
		}
		sp.hosts = append(sp.hosts, h)
		sp.flows += f
	}
	if len(all.hosts) == 0 {
		return nil, 0
	}
	if svc.Kind == SvcPort {
		all.ports = []PortRange{svc.Ports}
	} else {
		all.ports = []PortRange{{135, 135}}
	}
	all.portsKey = planPortsKey(all.ports)
	return append([]*planPiece{all}, spanPieces...), all.flows
}
