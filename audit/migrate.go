package audit

import (
	"cmp"
	"slices"
	"strings"

	"go4.org/netipx"
)

// Migrate answers the pre-migration question for target: every host moves
// its four dynamic ranges to target, except that a host whose span comes
// from an Rpc\Internet restriction in force keeps that span (the restriction,
// not the dynamic range, decides where its RPC servers listen).
//
// It plans the estate before and after the move and compares, for every
// destination host, family and protocol, the exact set of (source address,
// port) pairs the rules allow: Open holds what the new plan allows and the
// old one does not, Close what the old plan allows and the new one does not.
// Ports that an explicit service still needs for the same source and
// destination are therefore never closed, and port 135 never changes.
// Within a destination, ports with the same changed sources form one
// Change; destinations with the same family, protocol, ports and sources
// share it. Moving lists the hosts whose span changes for at least one of
// the four keys, whether or not a rule depends on it; a host already on
// target appears nowhere.
func Migrate(e *Estate, target PortRange) *Migration {
	p := newPlanner(e)
	_, before := p.build(p.spanID, false)
	tid := p.intern([]PortRange{target}, false)
	moved := func(h int, k Key) int32 {
		id := p.spanID(h, k)
		if p.spans[id].restricted {
			return id
		}
		return tid
	}
	_, after := p.build(moved, false)

	m := &Migration{Target: target}
	for h, host := range p.hosts {
		for _, k := range Keys {
			if p.spans[moved(h, k)].key != p.spans[p.spanID(h, k)].key {
				m.Moving = append(m.Moving, host.Name)
				break
			}
		}
	}
	m.Open, m.Close = p.diff(before, after)
	return m
}

// famProto is one family and protocol.
type famProto struct {
	fam   int
	proto string
}

// ruleClasses sorts the destination hosts of one family and protocol into
// classes of hosts that lie in exactly the same rules, so that each class's
// allowed set is computed once, however many hosts share it.
type ruleClasses struct {
	class []int32 // [host] -> class; class 0 is "in no rule"
	rules [][]int // [class] -> the rules (indexes into before, then after)
}

// diff compares the two plans destination by destination.
func (p *planner) diff(before, after []*planPiece) (opened, closed []Change) {
	all := append(slices.Clip(before), after...)
	var order []famProto
	byFP := map[famProto]*ruleClasses{}
	for ri, r := range all {
		fp := famProto{r.fam, r.proto}
		rc, ok := byFP[fp]
		if !ok {
			rc = &ruleClasses{class: make([]int32, len(p.hosts)), rules: [][]int{nil}}
			byFP[fp] = rc
			order = append(order, fp)
		}
		// Refine the partition: hosts of one class that are in r move
		// together to one new class.
		next := make([]int32, len(rc.rules))
		for _, h := range r.hosts {
			c := rc.class[h]
			if next[c] == 0 {
				next[c] = int32(len(rc.rules))
				rc.rules = append(rc.rules, append(slices.Clip(rc.rules[c]), ri))
			}
			rc.class[h] = next[c]
		}
	}
	slices.SortFunc(order, func(a, b famProto) int {
		if c := cmp.Compare(a.fam, b.fam); c != 0 {
			return c
		}
		return strings.Compare(a.proto, b.proto)
	})
	openAcc, closeAcc := newChangeAcc(), newChangeAcc()
	for _, fp := range order {
		rc := byFP[fp]
		hosts := make([][]int, len(rc.rules))
		for h, c := range rc.class {
			if c != 0 {
				hosts[c] = append(hosts[c], h)
			}
		}
		for c, rules := range rc.rules {
			if len(hosts[c]) == 0 {
				continue
			}
			var old, cur []*planPiece
			for _, ri := range rules {
				if ri < len(before) {
					old = append(old, all[ri])
				} else {
					cur = append(cur, all[ri])
				}
			}
			o, cl := portDiff(old, cur)
			for _, d := range o {
				openAcc.add(fp, d, hosts[c])
			}
			for _, d := range cl {
				closeAcc.add(fp, d, hosts[c])
			}
		}
	}
	return p.changes(openAcc), p.changes(closeAcc)
}

// portSources is a set of sources on some ports.
type portSources struct {
	ports []PortRange
	src   *netipx.IPSet
}

// noAddrs is the empty set.
var noAddrs = &netipx.IPSet{}

// portDiff returns what the rules after allow and the rules before do not
// (opened), and the reverse (closed), for one destination. It splits the
// ports of all rules at their boundaries into elementary intervals, on
// each of which the allowed sources are a plain union; intervals with the
// same changed sources are joined.
func portDiff(before, after []*planPiece) (opened, closed []portSources) {
	var cuts []int
	for _, r := range append(slices.Clip(before), after...) {
		for _, pr := range r.ports {
			cuts = append(cuts, int(pr.First), int(pr.Last)+1)
		}
	}
	slices.Sort(cuts)
	cuts = slices.Compact(cuts)
	for i := 0; i+1 < len(cuts); i++ {
		pr := PortRange{uint16(cuts[i]), uint16(cuts[i+1] - 1)}
		old, cur := sourcesAt(before, cuts[i]), sourcesAt(after, cuts[i])
		opened = addPortSources(opened, minusSet(cur, old), pr)
		closed = addPortSources(closed, minusSet(old, cur), pr)
	}
	for _, l := range [][]portSources{opened, closed} {
		for i := range l {
			l[i].ports = MergeRanges(l[i].ports)
		}
	}
	return opened, closed
}

// sourcesAt returns the union of the sources of the rules that allow port.
// Most ports have one rule, or rules with equal sources; those need no new
// set.
func sourcesAt(rules []*planPiece, port int) *netipx.IPSet {
	var sets []*netipx.IPSet
	for _, r := range rules {
		for _, pr := range r.ports {
			if int(pr.First) <= port && port <= int(pr.Last) {
				if !slices.ContainsFunc(sets, r.src.Equal) {
					sets = append(sets, r.src)
				}
				break
			}
		}
	}
	switch len(sets) {
	case 0:
		return noAddrs
	case 1:
		return sets[0]
	}
	var b netipx.IPSetBuilder
	for _, s := range sets {
		b.AddSet(s)
	}
	s, _ := b.IPSet()
	return s
}

// minusSet returns the addresses of a that are not in b.
func minusSet(a, b *netipx.IPSet) *netipx.IPSet {
	switch {
	case a.Equal(noAddrs) || a.Equal(b):
		return noAddrs
	case b.Equal(noAddrs):
		return a
	}
	var sb netipx.IPSetBuilder
	sb.AddSet(a)
	sb.RemoveSet(b)
	s, _ := sb.IPSet()
	return s
}

// addPortSources adds ports pr to the entry of list with sources set.
func addPortSources(list []portSources, set *netipx.IPSet, pr PortRange) []portSources {
	if set.Equal(noAddrs) {
		return list
	}
	for i := range list {
		if list[i].src.Equal(set) {
			list[i].ports = append(list[i].ports, pr)
			return list
		}
	}
	return append(list, portSources{ports: []PortRange{pr}, src: set})
}

// changeKey says which changes may share destinations; IPSet.Equal decides
// among those with the same key.
type changeKey struct {
	fp       famProto
	portsKey string
	srcHash  uint64
}

// changeAcc gathers the destinations of equal changes in the order they
// first appear.
type changeAcc struct {
	index map[changeKey][]int
	keys  []changeKey
	ports [][]PortRange
	srcs  []*netipx.IPSet
	hosts [][]int
}

func newChangeAcc() *changeAcc { return &changeAcc{index: map[changeKey][]int{}} }

func (a *changeAcc) add(fp famProto, d portSources, hosts []int) {
	k := changeKey{fp, planPortsKey(d.ports), ipSetHash(d.src)}
	i := -1
	for _, j := range a.index[k] {
		if a.srcs[j].Equal(d.src) {
			i = j
			break
		}
	}
	if i < 0 {
		i = len(a.keys)
		a.index[k] = append(a.index[k], i)
		a.keys = append(a.keys, k)
		a.ports = append(a.ports, d.ports)
		a.srcs = append(a.srcs, d.src)
		a.hosts = append(a.hosts, nil)
	}
	a.hosts[i] = append(a.hosts[i], hosts...)
}

// changes turns the gathered changes into sorted Changes.
func (p *planner) changes(a *changeAcc) []Change {
	out := make([]Change, len(a.keys))
	for i, k := range a.keys {
		hosts := a.hosts[i]
		slices.Sort(hosts)
		hosts = slices.Compact(hosts)
		out[i] = Change{
			Family:       k.fp.fam,
			Proto:        k.fp.proto,
			Ports:        a.ports[i],
			Sources:      a.srcs[i].Prefixes(),
			Destinations: p.destSet(k.fp.fam, hosts).Prefixes(),
			DestHosts:    p.names(hosts),
		}
	}
	slices.SortFunc(out, func(x, y Change) int {
		if c := cmp.Compare(x.Family, y.Family); c != 0 {
			return c
		}
		if c := strings.Compare(x.Proto, y.Proto); c != 0 {
			return c
		}
		if c := comparePortLists(x.Ports, y.Ports); c != 0 {
			return c
		}
		if c := comparePrefixLists(x.Destinations, y.Destinations); c != 0 {
			return c
		}
		return comparePrefixLists(x.Sources, y.Sources)
	})
	if len(out) == 0 {
		return nil
	}
	return out
}
