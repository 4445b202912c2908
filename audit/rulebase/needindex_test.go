package rulebase

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
)

// TestNeedIndex checks the index against testing each flow, over random
// flows and rule destinations in a small corner of both families, where
// edges collide often; the last IPv4 address and the top of IPv6 are in
// the mix for the interval ends.
func TestNeedIndex(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	addr := func() netip.Addr {
		switch r.IntN(10) {
		case 0:
			return netip.MustParseAddr("255.255.255.255")
		case 1:
			return netip.MustParseAddr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")
		case 2, 3:
			return netip.AddrFrom16([16]byte{0xfd, 15: byte(r.IntN(64))})
		}
		return netip.AddrFrom4([4]byte{10, 0, 0, byte(r.IntN(64))})
	}
	set := func(n int) *AddrSet {
		var ps []netip.Prefix
		for range n {
			a := addr()
			ps = append(ps, netip.PrefixFrom(a, a.BitLen()-r.IntN(4)))
		}
		return NewAddrSet(ps...)
	}
	looked := 0
	for trial := range 500 {
		needs := make([]need, 1+r.IntN(130))
		for i := range needs {
			needs[i].dst = set(r.IntN(6))
		}
		idx := newNeedIndex(needs)
		for range 20 {
			var dst *AddrSet
			if r.IntN(10) > 0 {
				dst = set(1 + r.IntN(3))
			}
			var want []int
			for i, n := range needs {
				if overlaps(dst, n.dst) {
					want = append(want, i)
				}
			}
			got := idx.candidates(dst, len(needs))
			if len(got) == len(needs) && len(want) != len(needs) {
				continue // the fallback: every flow, tested by the caller
			}
			looked++
			if !slices.Equal(got, want) {
				t.Fatalf("trial %d: dst %v: candidates %v, want %v", trial, dst, got, want)
			}
		}
	}
	if looked < 5000 {
		t.Errorf("only %d of 10000 lookups used the index", looked)
	}
}
