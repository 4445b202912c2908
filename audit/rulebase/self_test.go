package rulebase

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/rpcspan/rpcspan/audit"
)

// TestSelfFlows: an aggregated rule's box holds each host's flows to
// itself, which cross no firewall. A rule base that admits every other
// host leaves no gap, and a gap's sources leave the host itself out.
func TestSelfFlows(t *testing.T) {
	est := audit.NewEstate()
	for _, h := range []struct{ name, addr string }{{"A", "10.0.0.1"}, {"B", "10.0.0.2"}, {"C", "10.0.0.3"}} {
		est.Host(h.name).Addresses = []audit.Addr{{Addr: netip.MustParseAddr(h.addr)}}
	}
	plan := audit.BuildPlan(est)
	read := func(rules string) *Base {
		b, err := ParseIptablesSave(strings.NewReader("*filter\n:FORWARD DROP [0:0]\n"+rules+"COMMIT\n"), "r.v4")
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// A admits B and C; B and C admit nobody but themselves.
	b := read("-A FORWARD -s 10.0.0.2 -d 10.0.0.1 -j ACCEPT\n-A FORWARD -s 10.0.0.3 -d 10.0.0.1 -j ACCEPT\n" +
		"-A FORWARD -s 10.0.0.2 -d 10.0.0.2 -j ACCEPT\n-A FORWARD -s 10.0.0.3 -d 10.0.0.3 -j ACCEPT\n")
	var gaps []string
	for _, f := range Findings(est, plan, []*Base{b}, Options{}) {
		if f.ID == IDRuleGap {
			gaps = append(gaps, f.Message)
		}
	}
	want := []string{
		"B: required tcp 135,49152-65535 from 10.0.0.1/32, 10.0.0.3/32 blocked by r.v4:2 (policy drop)",
		"C: required tcp 135,49152-65535 from 10.0.0.1/32, 10.0.0.2/32 blocked by r.v4:2 (policy drop)",
	}
	if strings.Join(gaps, "\n") != strings.Join(want, "\n") {
		t.Errorf("gaps:\n%s\nwant:\n%s", strings.Join(gaps, "\n"), strings.Join(want, "\n"))
	}
}
