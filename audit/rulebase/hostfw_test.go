package rulebase

import (
	"slices"
	"testing"

	"github.com/rpcspan/rpcspan/audit"
)

func TestHostFirewallFindings(t *testing.T) {
	est := audit.NewEstate()
	src := audit.Source{File: "profiles.txt", Line: 4}
	est.Host("OFF").FirewallProfiles = []audit.FirewallProfile{{Profile: "domain", State: audit.FirewallOff, StateSrc: src}}
	est.Host("ALLOW").FirewallProfiles = []audit.FirewallProfile{{Profile: "domain", State: audit.FirewallOn, Inbound: audit.InboundAllow, InboundSrc: src}}
	est.Host("ON").FirewallProfiles = []audit.FirewallProfile{{Profile: "domain", State: audit.FirewallOn, Inbound: audit.InboundBlock},
		{Profile: "public", State: audit.FirewallOff, StateSrc: src}}
	est.Host("UNKNOWN").FirewallProfiles = []audit.FirewallProfile{{Profile: "domain", State: audit.FirewallStateUnknown}}
	est.Host("NONE")
	for _, c := range []struct {
		profile string
		want    []string
	}{
		{"", []string{"ALLOW: Windows Firewall's default inbound action is allow for the domain profile (profiles.txt:4): every inbound port no rule blocks is open, not only RPC's",
			"OFF: Windows Firewall is off for the domain profile (profiles.txt:4): every inbound port no rule blocks is open, not only RPC's"}},
		{"Public", []string{"ON: Windows Firewall is off for the public profile (profiles.txt:4): every inbound port no rule blocks is open, not only RPC's"}},
		{"private", nil},
	} {
		var got []string
		for _, f := range HostFirewallFindings(est, c.profile) {
			if f.ID != IDHostFirewallOpen || f.Severity != audit.Warning {
				t.Errorf("%s: %s %s", f.Host, f.ID, f.Severity)
			}
			got = append(got, f.Message)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("profile %q: %q, want %q", c.profile, got, c.want)
		}
	}
}
