package audit

import (
	"net/netip"
	"testing"
)

func TestCheckPolicyUnmatched(t *testing.T) {
	sel := func(s string) Selector {
		v, err := ParseSelector(s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	withPolicy := func(rules ...PolicyRule) *Estate {
		e := estateOf(modern("DC01", "dc"), &Host{Name: "SQL01", Addresses: addrs("10.1.2.10"), Groups: []string{"sql"},
			Ranges: obs("49152-65535", Captured, netsh, TCP4)})
		e.PolicySet = true
		e.Policy = rules
		return e
	}
	rpc := []Service{{Kind: SvcRPC}}
	at := src("inventory.yaml", 60)
	runChecks(t, IDPolicyUnmatched, []checkCase{
		{"empty group and missing host", withPolicy(PolicyRule{Name: "web-to-gone", From: []Selector{sel("group:web")}, To: []Selector{sel("host:GONE01"), sel("group:DC")},
			Services: rpc, Src: at}), []Finding{
			{ID: IDPolicyUnmatched, Severity: Warning, Message: `policy "web-to-gone": from group:web matches no host (no host is in group "web")`,
				Detail: map[string]any{"policy": "web-to-gone", "side": "from", "selector": "group:web", "source": "inventory.yaml:60"}},
			{ID: IDPolicyUnmatched, Severity: Warning, Message: `policy "web-to-gone": no source remains, so the rule opens nothing`,
				Detail: map[string]any{"policy": "web-to-gone", "side": "from", "source": "inventory.yaml:60"}},
			{ID: IDPolicyUnmatched, Severity: Warning, Message: `policy "web-to-gone": to host:GONE01 matches no host (no host "GONE01" in the estate)`,
				Detail: map[string]any{"policy": "web-to-gone", "side": "to", "selector": "host:GONE01", "source": "inventory.yaml:60"}},
		}},
		{"destination empty after resolution", withPolicy(PolicyRule{Name: "x", From: []Selector{sel("10.0.0.0/8")}, To: []Selector{sel("group:web"), sel("group:web")},
			Services: rpc, Src: at}), []Finding{
			{ID: IDPolicyUnmatched, Severity: Warning, Message: `policy "x": no destination host remains, so the rule opens nothing`,
				Detail: map[string]any{"policy": "x", "side": "to", "source": "inventory.yaml:60"}},
			{ID: IDPolicyUnmatched, Severity: Warning, Message: `policy "x": to group:web matches no host (no host is in group "web")`,
				Detail: map[string]any{"policy": "x", "side": "to", "selector": "group:web", "source": "inventory.yaml:60"}},
		}},
		{"unnamed rule without destinations", withPolicy(PolicyRule{Name: "ok", From: []Selector{sel("group:dc")}, To: []Selector{sel("group:sql")}, Services: rpc},
			PolicyRule{From: []Selector{sel("group:dc")}, Services: rpc, Src: at}), []Finding{
			{ID: IDPolicyUnmatched, Severity: Warning, Message: `policy "#2": no destination host remains, so the rule opens nothing`,
				Detail: map[string]any{"policy": "#2", "side": "to", "source": "inventory.yaml:60"}},
		}},
		// BuildPlan takes no address as a destination, even one of a host.
		{"destination prefix", withPolicy(PolicyRule{Name: "p", From: []Selector{sel("group:dc")}, To: []Selector{sel("10.1.2.10"), sel("group:sql")},
			Services: rpc, Src: at}), []Finding{
			{ID: IDPolicyUnmatched, Severity: Warning, Message: `policy "p": to 10.1.2.10 matches no host (a destination must be group:NAME or host:NAME)`,
				Detail: map[string]any{"policy": "p", "side": "to", "selector": "10.1.2.10", "source": "inventory.yaml:60"}},
		}},
		{"source prefix outside the estate is fine", withPolicy(PolicyRule{Name: "clients", From: []Selector{{Kind: SelPrefix, Prefix: netip.MustParsePrefix("192.168.0.0/16")}},
			To: []Selector{sel("group:sql")}, Services: rpc, Src: at}), nil},
		{"matched", withPolicy(PolicyRule{Name: "ok", From: []Selector{sel("host:dc01")}, To: []Selector{sel("group:SQL")}, Services: rpc, Src: at}), nil},
		{"no policy", estateOf(modern("DC01")), nil},
	})
}
