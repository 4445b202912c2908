package rulebase

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/rpcspan/rpcspan/audit"
)

// benchSetup returns an estate of n hosts (default policy: everyone to
// everyone over rpc) and an iptables rule base with one accept line per
// host for 135 and the default span, policy drop, with every tenth host's
// span cut short so that gaps exist.
func benchSetup(n int) (*audit.Estate, *audit.Plan, *Base) {
	e := audit.NewEstate()
	var sb strings.Builder
	sb.WriteString("*filter\n:FORWARD DROP [0:0]\n")
	for i := range n {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		h := e.Host(fmt.Sprintf("h%06d", i))
		h.Addresses = append(h.Addresses, audit.Addr{Addr: a})
		last := 65535
		if i%10 == 0 {
			last = 60000
		}
		fmt.Fprintf(&sb, "-A FORWARD -d %s/32 -p tcp -m multiport --dports 135,49152:%d -j ACCEPT\n", a, last)
	}
	sb.WriteString("COMMIT\n")
	b, err := ParseIptablesSave(strings.NewReader(sb.String()), "bench.rules")
	if err != nil {
		panic(err)
	}
	return e, audit.BuildPlan(e), b
}

// BenchmarkEvaluate measures Findings for n hosts against n rules; the
// issue's target for 100,000 is at most 3 s and 1.5 GB peak:
//
//	go test -run XXX -bench Evaluate -benchmem -benchtime 3x ./audit/rulebase
func BenchmarkEvaluate(b *testing.B) {
	for _, n := range []int{1000, 10000, 100000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			e, plan, base := benchSetup(n)
			b.ReportAllocs()
			b.ResetTimer()
			var fs []audit.Finding
			for b.Loop() {
				fs = Findings(e, plan, []*Base{base}, Options{})
			}
			if len(fs) != (n+9)/10 {
				b.Fatalf("%d findings, want %d", len(fs), (n+9)/10)
			}
		})
	}
}
