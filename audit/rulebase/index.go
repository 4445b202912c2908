package rulebase

import (
	"cmp"
	"net/netip"
	"slices"

	"go4.org/netipx"
)

// minIndexed is the number of rules from which a chain is evaluated
// through a ruleIndex. Below it the plain loop is as fast and keeps the
// parts in the shape the rules cut them. A variable so that tests can
// force either path.
var minIndexed = 16

// indexKey names the index of one chain for one family and protocol: the
// rules that can match differ between them.
type indexKey struct {
	c     *Chain
	fam   int
	proto Proto
}

// ruleIndex cuts the address space of one dimension (destination or
// source) at every boundary the rules of a chain name, into elementary
// intervals: every rule either covers an interval or misses it. A box cut
// at these boundaries then meets only the rules that cover its interval,
// so that a chain of n rules each naming one host costs n small
// evaluations instead of n passes over every remaining box.
type ruleIndex struct {
	rules  []*Rule // the rules that can match, in order
	onDst  bool    // cut by destination; by source otherwise
	bounds []netip.Addr
	// lists holds, per elementary interval (from bounds[i] to the
	// address before bounds[i+1]), the positions in rules of the rules
	// whose set covers it, ascending.
	lists [][]int32
	wild  []int32 // rules that name no set in the dimension: they cover all
}

// relevant reports whether r can match the first packet of a flow of
// family fam and protocol proto. A rule with unmodelled matches and no
// verdict cannot change anything either.
func relevant(r *Rule, fam int, proto Proto) bool {
	if r.NotNew || r.Proto&proto == 0 || (r.Family != 0 && r.Family != fam) {
		return false
	}
	return len(r.Unknown) == 0 || r.Verdict != Continue
}

// index returns the index of c for the evaluator's family and protocol,
// nil when c has too few rules to need one. It is built once per rule
// base, since Findings evaluates many flows against the same chains.
func (ev *evaluator) index(c *Chain) *ruleIndex {
	k := indexKey{c, ev.fam, ev.proto}
	if x, ok := ev.b.index[k]; ok {
		return x
	}
	x := buildIndex(c, ev.fam, ev.proto)
	if ev.b.index == nil {
		ev.b.index = map[indexKey]*ruleIndex{}
	}
	ev.b.index[k] = x
	return x
}

// buildIndex indexes c by destination or by source, whichever makes the
// fewer (interval, rule) pairs.
func buildIndex(c *Chain, fam int, proto Proto) *ruleIndex {
	var rules []*Rule
	for _, r := range c.Rules {
		if relevant(r, fam, proto) {
			rules = append(rules, r)
		}
	}
	if len(rules) < minIndexed {
		return nil
	}
	dstOf := func(r *Rule) *AddrSet { return r.Dst }
	srcOf := func(r *Rule) *AddrSet { return r.Src }
	db, dc := cuts(rules, dstOf)
	sb, sc := cuts(rules, srcOf)
	x := &ruleIndex{rules: rules, onDst: dc <= sc, bounds: db}
	set := dstOf
	if !x.onDst {
		x.bounds, set = sb, srcOf
	}
	x.lists = make([][]int32, len(x.bounds))
	for k, r := range rules {
		s := set(r)
		if s == nil {
			x.wild = append(x.wild, int32(k))
			continue
		}
		for _, rg := range s.r {
			for i, j := x.interval(rg.From()), x.interval(rg.To()); i <= j; i++ {
				x.lists[i] = append(x.lists[i], int32(k))
			}
		}
	}
	return x
}

// cuts returns the sorted boundaries the sets of the rules make and the
// number of (interval, rule) pairs an index on them holds.
func cuts(rules []*Rule, set func(*Rule) *AddrSet) ([]netip.Addr, int) {
	bounds := []netip.Addr{netip.IPv4Unspecified(), netip.IPv6Unspecified()}
	for _, r := range rules {
		if s := set(r); s != nil {
			for _, rg := range s.r {
				bounds = append(bounds, rg.From())
				if n := rg.To().Next(); n.IsValid() {
					bounds = append(bounds, n)
				}
			}
		}
	}
	slices.SortFunc(bounds, netip.Addr.Compare)
	bounds = slices.Compact(bounds)
	x := ruleIndex{bounds: bounds}
	cost := 0
	for _, r := range rules {
		s := set(r)
		if s == nil {
			cost += len(bounds)
			continue
		}
		for _, rg := range s.r {
			cost += x.interval(rg.To()) - x.interval(rg.From()) + 1
		}
	}
	return bounds, cost
}

// interval returns the elementary interval a is in.
func (x *ruleIndex) interval(a netip.Addr) int {
	i, found := slices.BinarySearchFunc(x.bounds, a, netip.Addr.Compare)
	if !found {
		i--
	}
	return i
}

// end returns the last address of elementary interval i.
func (x *ruleIndex) end(i int) netip.Addr {
	if i+1 < len(x.bounds) {
		if p := x.bounds[i+1].Prev(); p.IsValid() {
			return p
		}
		// The next interval starts the IPv6 space.
		return allAddrs.r[0].To()
	}
	return allAddrs.r[1].To()
}

// piece is a box cut to one elementary interval.
type piece struct {
	interval int
	b        box
}

// cut returns the boxes cut at the index's boundaries, sorted by
// interval (stable, so that boxes keep their order within one).
func (x *ruleIndex) cut(in []box) []piece {
	var out []piece
	for _, b := range in {
		s := b.src
		if x.onDst {
			s = b.dst
		}
		var cur []netipx.IPRange
		last := -1
		flush := func() {
			if len(cur) == 0 {
				return
			}
			nb := b
			if x.onDst {
				nb.dst = &AddrSet{cur}
			} else {
				nb.src = &AddrSet{cur}
			}
			out = append(out, piece{last, nb})
			cur = nil
		}
		for _, rg := range s.r {
			for i := x.interval(rg.From()); ; i++ {
				lo, hi := maxAddr(rg.From(), x.bounds[i]), minAddr(rg.To(), x.end(i))
				if i != last {
					flush()
					last = i
				}
				cur = append(cur, netipx.IPRangeFrom(lo, hi))
				if hi == rg.To() {
					break
				}
			}
		}
		flush()
	}
	slices.SortStableFunc(out, func(a, b piece) int { return cmp.Compare(a.interval, b.interval) })
	return out
}

// rulesOf returns the rules that cover interval i, in order.
func (x *ruleIndex) rulesOf(i int) []*Rule {
	a, w := x.lists[i], x.wild
	out := make([]*Rule, 0, len(a)+len(w))
	for len(a) > 0 || len(w) > 0 {
		if len(w) == 0 || (len(a) > 0 && a[0] < w[0]) {
			out = append(out, x.rules[a[0]])
			a = a[1:]
		} else {
			out = append(out, x.rules[w[0]])
			w = w[1:]
		}
	}
	return out
}

// indexedChain runs the boxes through c piece by piece: each piece meets
// only the rules that cover its interval, in order, which decides it
// exactly as the whole chain would. The results are joined again along
// the cut dimension where all else is equal, so that n hosts accepted by
// n rules do not leave n parts for what the policy decides.
func (ev *evaluator) indexedChain(x *ruleIndex, c *Chain, in []box, depth int) (dec []decided, ret []box) {
	pieces := x.cut(in)
	for i := 0; i < len(pieces); {
		j := i
		var group []box
		for ; j < len(pieces) && pieces[j].interval == pieces[i].interval; j++ {
			group = append(group, pieces[j].b)
		}
		d, r := ev.run(c, x.rulesOf(pieces[i].interval), group, depth)
		dec = append(dec, d...)
		ret = append(ret, r...)
		i = j
	}
	return joinDecided(dec, x.onDst), joinBoxes(ret, x.onDst)
}

// joinKey identifies a box but for the cut dimension, and for a decided
// part the decision. Small sets are keyed by value; large ones by
// identity, since sets are shared and never changed, which joins what one
// rule left and is cheap.
type joinKey struct {
	other, ports string
	otherP       *AddrSet
	portsP       *PortSet
	maybe        uint8
	taint        *Rule
	out          Outcome
	by           Pos
	text         string
}

func boxKey(b box, onDst bool) joinKey {
	other := b.dst
	if onDst {
		other = b.src
	}
	k := joinKey{maybe: b.maybe, taint: b.taint}
	if len(other.r) > 8 {
		k.otherP = other
	} else {
		var buf []byte
		for _, r := range other.r {
			buf = r.From().AppendTo(buf)
			buf = append(buf, '-')
			buf = r.To().AppendTo(buf)
			buf = append(buf, ',')
		}
		k.other = string(buf)
	}
	if len(b.ports.r) > 8 {
		k.portsP = b.ports
	} else {
		buf := make([]byte, 0, 4*len(b.ports.r))
		for _, r := range b.ports.r {
			buf = append(buf, byte(r.First>>8), byte(r.First), byte(r.Last>>8), byte(r.Last))
		}
		k.ports = string(buf)
	}
	return k
}

// joinBoxes joins boxes equal but for the cut dimension, in the order of
// their first appearance.
func joinBoxes(bs []box, onDst bool) []box {
	if len(bs) < 2 {
		return bs
	}
	at := map[joinKey]int{}
	var out []box
	var sets [][]netipx.IPRange
	for _, b := range bs {
		k := boxKey(b, onDst)
		i, ok := at[k]
		if !ok {
			i = len(out)
			at[k] = i
			out = append(out, b)
			sets = append(sets, nil)
		}
		sets[i] = append(sets[i], cutSet(b, onDst).r...)
	}
	for i := range out {
		setCut(&out[i], onDst, sets[i])
	}
	return out
}

// joinDecided is joinBoxes for decided parts, which join only when the
// same rule decided them the same way.
func joinDecided(ds []decided, onDst bool) []decided {
	if len(ds) < 2 {
		return ds
	}
	at := map[joinKey]int{}
	var out []decided
	var sets [][]netipx.IPRange
	for _, d := range ds {
		k := boxKey(d.box, onDst)
		k.out, k.by, k.text = d.out, d.by, d.text
		i, ok := at[k]
		if !ok {
			i = len(out)
			at[k] = i
			out = append(out, d)
			sets = append(sets, nil)
		}
		sets[i] = append(sets[i], cutSet(d.box, onDst).r...)
	}
	for i := range out {
		setCut(&out[i].box, onDst, sets[i])
	}
	return out
}

func cutSet(b box, onDst bool) *AddrSet {
	if onDst {
		return b.dst
	}
	return b.src
}

// setCut sets the cut dimension of b to the disjoint ranges rs, sorted
// and with adjacent ranges joined; b keeps its set when rs is one range.
func setCut(b *box, onDst bool, rs []netipx.IPRange) {
	if len(rs) == len(cutSet(*b, onDst).r) {
		return
	}
	slices.SortFunc(rs, func(x, y netipx.IPRange) int { return x.From().Compare(y.From()) })
	out := rs[:1]
	for _, r := range rs[1:] {
		n := len(out) - 1
		if out[n].To().Next() == r.From() {
			out[n] = netipx.IPRangeFrom(out[n].From(), r.To())
			continue
		}
		out = append(out, r)
	}
	if onDst {
		b.dst = &AddrSet{out}
	} else {
		b.src = &AddrSet{out}
	}
}
