package rulebase

import (
	"cmp"
	"math/bits"
	"net/netip"
	"slices"
)

// needIndex finds the required flows whose destinations a rule's
// destination set meets without testing every flow: the address space is
// cut into elementary intervals at every edge of every flow's destination
// set, and each interval holds the bit set of the flows covering it. A
// rule to one host then costs one binary search instead of one per flow.
type needIndex struct {
	words  int          // uint64 words per bit set
	starts []netip.Addr // first address of each interval, sorted
	bits   []uint64     // the bit sets, words per interval
}

// maxIntervalScan is how many intervals a range of a rule may cover before
// the index gives way to testing each flow (a rule to a /8 covers
// thousands of intervals but only len(needs) flows).
const maxIntervalScan = 64

func newNeedIndex(needs []need) *needIndex {
	x := &needIndex{words: (len(needs) + 63) / 64}
	type edge struct {
		at   netip.Addr
		need int
		open bool
	}
	var edges []edge
	for i, n := range needs {
		for _, r := range n.dst.r {
			edges = append(edges, edge{r.From(), i, true})
			if end, ok := after(r.To()); ok {
				edges = append(edges, edge{end, i, false})
			}
		}
	}
	slices.SortFunc(edges, func(a, b edge) int { return a.at.Compare(b.at) })
	cur := make([]uint64, x.words)
	for i := 0; i < len(edges); {
		at := edges[i].at
		for ; i < len(edges) && edges[i].at == at; i++ {
			// A flow's set is merged: its ranges neither overlap nor
			// touch, so one edge per address and flow.
			e := edges[i]
			if e.open {
				cur[e.need/64] |= 1 << (e.need % 64)
			} else {
				cur[e.need/64] &^= 1 << (e.need % 64)
			}
		}
		x.starts = append(x.starts, at)
		x.bits = append(x.bits, cur...)
	}
	return x
}

// after returns the address after a in a's family, where the last IPv4
// address is followed by the first IPv6 one (the order of netip).
func after(a netip.Addr) (netip.Addr, bool) {
	if n := a.Next(); n.IsValid() {
		return n, true
	}
	if a.Is4() {
		return netip.IPv6Unspecified(), true
	}
	return netip.Addr{}, false
}

// candidates returns the indices of the needs whose destinations may meet
// dst (nil is every address): every one that does, and, where dst is too
// wide to look up, others for the caller to test.
func (x *needIndex) candidates(dst *AddrSet, n int) []int {
	if dst == nil {
		return allIndices(n)
	}
	acc := make([]uint64, x.words)
	for _, r := range dst.r {
		i, found := slices.BinarySearchFunc(x.starts, r.From(), netip.Addr.Compare)
		if !found {
			i-- // the interval holding r.From(), if any
		}
		i = max(i, 0)
		end, _ := slices.BinarySearchFunc(x.starts[i:], r.To(), func(a, b netip.Addr) int {
			return cmp.Or(a.Compare(b), -1) // the first start after r.To()
		})
		end += i
		if end-i > maxIntervalScan {
			return allIndices(n)
		}
		for k := i; k < end; k++ {
			for w, v := range x.bits[k*x.words : (k+1)*x.words] {
				acc[w] |= v
			}
		}
	}
	var out []int
	for w, v := range acc {
		for v != 0 {
			b := bits.TrailingZeros64(v)
			out = append(out, w*64+b)
			v &^= 1 << b
		}
	}
	return out
}

func allIndices(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}
