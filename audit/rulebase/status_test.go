package rulebase

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/rpcspan/rpcspan/audit"
)

// TestAuditStatus checks the word Audit gives each plan rule, for a
// two-host estate (A 10.0.0.1 and B 10.0.0.2, rpc both ways on the default
// span) whose plan has one rule per destination port group.
func TestAuditStatus(t *testing.T) {
	est := audit.NewEstate()
	for _, h := range []struct{ name, addr string }{{"A", "10.0.0.1"}, {"B", "10.0.0.2"}} {
		est.Host(h.name).Addresses = []audit.Addr{{Addr: netip.MustParseAddr(h.addr)}}
	}
	plan := audit.BuildPlan(est)
	if len(plan.Rules) == 0 {
		t.Fatal("empty plan")
	}
	for _, c := range []struct {
		name, rules, host string // host: the rule base is that host's own
		epm, span         string // the words for the rules of 135 and of the span
	}{
		{"all allowed", "-A FORWARD -p tcp -j ACCEPT", "", StatusAllowed, StatusAllowed},
		{"policy drop", "", "", StatusBlocked, StatusBlocked},
		{"one port short", "-A FORWARD -p tcp -m multiport --dports 135,49152:65534 -j ACCEPT", "", StatusAllowed, StatusPartBlocked},
		{"unknown match", "-A FORWARD -p tcp -m recent --rcheck -j ACCEPT", "", StatusUnknown, StatusUnknown},
		{"unknown for part", "-A FORWARD -p tcp -m multiport --dports 135,49152:60000 -j ACCEPT\n-A FORWARD -p tcp -m recent --rcheck -j ACCEPT", "", StatusAllowed, StatusPartUnknown},
		{"blocked and unknown", "-A FORWARD -p tcp --dport 60000 -j DROP\n-A FORWARD -p tcp -m recent --rcheck -j ACCEPT", "", StatusUnknown, StatusPartBlocked},
		{"host base for A only", "-A FORWARD -p tcp -j ACCEPT", "A", StatusAllowed + " (some destinations not evaluated)", StatusAllowed + " (some destinations not evaluated)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			text := "*filter\n:FORWARD DROP [0:0]\n" + c.rules + "\nCOMMIT\n"
			b, err := ParseIptablesSave(strings.NewReader(text), "r.v4")
			if err != nil {
				t.Fatal(err)
			}
			b.Host = c.host
			res := Audit(est, plan, []*Base{b}, Options{})
			if len(res.Status) != len(plan.Rules) {
				t.Fatalf("%d status words for %d rules", len(res.Status), len(plan.Rules))
			}
			for i, s := range res.Status {
				want := c.span
				switch {
				case plan.Rules[i].Proto != "tcp":
					want = StatusNotModelled
				case plan.Rules[i].Ports[0].First == 135:
					want = c.epm
				}
				if s != want {
					t.Errorf("rule %d (%s %v): %q, want %q", i, plan.Rules[i].Proto, plan.Rules[i].Ports, s, want)
				}
			}
			if got, want := len(Findings(est, plan, []*Base{b}, Options{})), len(res.Findings); got != want {
				t.Errorf("Findings gives %d findings, Audit %d", got, want)
			}
		})
	}
	res := Audit(est, plan, nil, Options{})
	for i, s := range res.Status {
		if plan.Rules[i].Proto == "tcp" && s != StatusNotEvaluated {
			t.Errorf("no rule base: rule %d is %q", i, s)
		}
	}
}
