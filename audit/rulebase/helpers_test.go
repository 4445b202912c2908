package rulebase

import (
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rpcspan/rpcspan/audit"
)

// flow builds a Flow from text: "tcp 10.0.0.0/24 10.1.0.5 135,49152-65535".
func flow(t testing.TB, s string) Flow {
	t.Helper()
	f := strings.Fields(s)
	var ps []netip.Prefix
	for _, x := range strings.Split(f[1], ",") {
		p, ok := parseAddrOrPrefix(x)
		if !ok {
			t.Fatalf("bad source %q", x)
		}
		ps = append(ps, p)
	}
	var ds []netip.Prefix
	for _, x := range strings.Split(f[2], ",") {
		p, ok := parseAddrOrPrefix(x)
		if !ok {
			t.Fatalf("bad destination %q", x)
		}
		ds = append(ds, p)
	}
	var rs []audit.PortRange
	for _, x := range strings.Split(f[3], ",") {
		r, err := audit.ParseRange(x)
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
	}
	fam := 4
	if ds[0].Addr().Is6() {
		fam = 6
	}
	return Flow{Family: fam, Proto: protoOf(f[0]), Src: NewAddrSet(ps...), Dst: NewAddrSet(ds...), Ports: NewPortSet(rs...)}
}

// summary renders the parts that are not allowed as sorted lines
// "OUTCOME SRC DST PORTS LINE", merging nothing, so that tests see the
// exact shape; allowed parts are left out.
func summary(parts []Part) []string {
	var out []string
	for _, p := range parts {
		if p.Outcome == Allowed {
			continue
		}
		out = append(out, fmt.Sprintf("%s %s %s %s @%d", p.Outcome, p.Src, p.Dst, p.Ports, p.By.Line))
	}
	slices.Sort(out)
	return out
}

// checkPartition fails unless the parts are pairwise disjoint and make up
// f exactly, counted as the sum of box volumes (sources × destinations ×
// ports), which only a partition reaches when every part lies inside f.
func checkPartition(t testing.TB, parts []Part, f Flow) {
	t.Helper()
	vol := func(s, d *AddrSet, p *PortSet) float64 {
		return addrCount(s) * addrCount(d) * float64(portCount(p))
	}
	sum := 0.0
	for i, p := range parts {
		if p.Src.Minus(f.Src).Empty() == false || p.Dst.Minus(f.Dst).Empty() == false || p.Ports.Minus(f.Ports).Empty() == false {
			t.Fatalf("part %d lies outside the flow", i)
		}
		sum += vol(p.Src, p.Dst, p.Ports)
	}
	if want := vol(f.Src, f.Dst, f.Ports); sum != want {
		t.Fatalf("parts cover %v, flow has %v", sum, want)
	}
}

func addrCount(s *AddrSet) float64 {
	n := 0.0
	for _, r := range s.r {
		for _, p := range r.Prefixes() {
			n += math.Ldexp(1, p.Addr().BitLen()-p.Bits()) // 2^128 for ::/0
		}
	}
	return n
}

func portCount(s *PortSet) int {
	n := 0
	for _, r := range s.r {
		n += r.Len()
	}
	return n
}

// checkProblems fails unless every problem of b names file "fuzz" and a
// line of in, so that a user can find what was not read.
func checkProblems(t testing.TB, b *Base, in string) {
	t.Helper()
	lines := strings.Count(in, "\n") + 1
	for _, p := range b.Problems {
		rest, ok := strings.CutPrefix(p, "fuzz:")
		num, _, ok2 := strings.Cut(rest, ":")
		n, err := strconv.Atoi(num)
		if !ok || !ok2 || err != nil || n < 1 || n > lines {
			t.Errorf("problem %q does not name a line 1-%d of the input", p, lines)
		}
	}
}
