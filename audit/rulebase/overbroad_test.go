package rulebase

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/rpcspan/rpcspan/audit"
)

func TestRuleFindings(t *testing.T) {
	const head = "*filter\n:FORWARD DROP [0:0]\n:S - [0:0]\n"
	tests := []struct {
		name   string
		legacy bool   // host b uses 1025-5000
		rules  string // lines after head (line 4 on), COMMIT added
		want   []string
	}{
		{"any source to tcp 1024-65535 is overbroad", false,
			"-A FORWARD -p tcp -m tcp --dport 1024:65535 -j ACCEPT\n",
			[]string{"rule-overbroad r:4 1024-49151"}},
		{"every port to a host is overbroad", false,
			"-A FORWARD -d 10.0.0.2 -j ACCEPT\n",
			[]string{"rule-overbroad r:4 0-134,136-49151"}},
		{"legacy span after migration is stale", false,
			"-A FORWARD -d 10.0.0.2 -p tcp -m multiport --dports 135,1025:5000,49152:65535 -j ACCEPT\n",
			[]string{"rule-stale r:4 1025-5000"}},
		{"legacy span still in use is not stale", true,
			"-A FORWARD -d 10.0.0.2 -p tcp -m multiport --dports 135,1025:5000 -j ACCEPT\n", nil},
		{"exact rules are fine", false,
			"-A FORWARD -p tcp -m multiport --dports 135,49152:65535 -j ACCEPT\n", nil},
		{"another service's rule is not ours", false,
			"-A FORWARD -p tcp -m tcp --dport 8000:9999 -j ACCEPT\n", nil},
		{"a jump narrows the rules behind it", false,
			"-A FORWARD -p tcp -m multiport --dports 135,49152:65535 -j S\n-A S -s 10.0.0.1 -j ACCEPT\n", nil},
		{"a wide rule behind a jump is found", false,
			"-A FORWARD -p tcp -j S\n-A S -s 10.0.0.1 -j ACCEPT\n",
			[]string{"rule-overbroad r:5 0-134,136-49151"}},
		{"a rule with an unevaluated match is left out", false,
			"-A FORWARD -i eth0 -p tcp -j ACCEPT\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := audit.NewEstate()
			for i, name := range []string{"a", "b"} {
				h := e.Host(name)
				h.Addresses = append(h.Addresses, audit.Addr{Addr: netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)})})
				if tt.legacy && name == "b" {
					for _, k := range audit.Keys {
						h.Ranges = append(h.Ranges, audit.RangeObs{Key: k, Range: audit.LegacyRange, Origin: audit.Captured})
					}
				}
			}
			b, err := ParseIptablesSave(strings.NewReader(head+tt.rules+"COMMIT\n"), "r")
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range ruleFindings(e, audit.BuildPlan(e), []*Base{b}, nil) {
				got = append(got, fmt.Sprint(f.ID, " ", f.Detail["rule"], " ", f.Detail["beyond"]))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ruleFindings(%q) mismatch (-want +got):\n%s", tt.rules, diff)
			}
		})
	}
}

// TestRuleFindingsMessage: the message names the rule and what it opens
// beyond the need.
func TestRuleFindingsMessage(t *testing.T) {
	e := audit.NewEstate()
	h := e.Host("a")
	h.Addresses = append(h.Addresses, audit.Addr{Addr: netip.MustParseAddr("10.0.0.1")})
	b, err := ParseIptablesSave(strings.NewReader("*filter\n:FORWARD DROP [0:0]\n-A FORWARD -p tcp -m tcp --dport 135 -j ACCEPT\n-A FORWARD -p tcp -m tcp --dport 1024:65535 -j ACCEPT\nCOMMIT\n"), "rules.v4")
	if err != nil {
		t.Fatal(err)
	}
	fs := Findings(e, audit.BuildPlan(e), []*Base{b}, Options{})
	want := []audit.Finding{{ID: IDRuleOverbroad, Severity: audit.Warning,
		Message: "rules.v4:4 accepts tcp 1024-65535 from any to any: the required flows through it need only tcp 49152-65535, it opens 48128 ports beyond (1024-49151)",
		Detail: map[string]any{"rule_base": "rules.v4", "rule": "rules.v4:4", "rule_text": "-A FORWARD -p tcp -m tcp --dport 1024:65535 -j ACCEPT",
			"protocol": "tcp", "ports": "1024-65535", "needed": "49152-65535", "beyond": "1024-49151"}}}
	if diff := cmp.Diff(want, fs); diff != "" {
		t.Errorf("Findings mismatch (-want +got):\n%s", diff)
	}
}
