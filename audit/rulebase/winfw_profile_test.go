package rulebase

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rpcspan/rpcspan/audit"
)

// profileInfo returns testHost with the settings of one profile, as read
// from "prof.txt": the state on line 4, the default inbound action on
// line 5 (when shown).
func profileInfo(profile string, state audit.FirewallState, inbound audit.InboundAction) HostInfo {
	p := audit.FirewallProfile{Profile: profile, State: state, Inbound: inbound}
	if state != audit.FirewallStateNotShown {
		p.StateSrc = audit.Source{File: "prof.txt", Line: 4}
	}
	if inbound != audit.InboundNotShown {
		p.InboundSrc = audit.Source{File: "prof.txt", Line: 5}
	}
	info := testHost
	info.Profiles = []audit.FirewallProfile{p}
	return info
}

// decidedBy renders every part, allowed ones too, as "OUTCOME SRC PORTS
// by FILE:LINE RULE", sorted, so that tests see who decided.
func decidedBy(parts []Part) []string {
	var out []string
	for _, p := range parts {
		s := fmt.Sprintf("%s %s %s by %s", p.Outcome, p.Src, p.Ports, p.By)
		if strings.HasPrefix(p.Rule, "policy ") {
			s += " " + p.Rule
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// TestNetshProfileSemantics: the active profile's state and default
// inbound action decide the policy and which rules count. The listing
// blocks 10.0.0.128/25 on 135 (line 1) and allows 10.0.0.0/24 on 135
// (line 19); the flow also asks for 445, which no rule admits.
func TestNetshProfileSemantics(t *testing.T) {
	const (
		on, off, unk, none             = audit.FirewallOn, audit.FirewallOff, audit.FirewallStateUnknown, audit.FirewallStateNotShown
		block, always, allow, bad, not = audit.InboundBlock, audit.InboundBlockAlways, audit.InboundAllow, audit.InboundUnknown, audit.InboundNotShown
	)
	listing := netshRule("no", "Yes", "In", "Domain", "Any", "10.0.0.128/25", "TCP", "135", "Block") +
		netshRule("rpc", "Yes", "In", "Domain", "Any", "10.0.0.0/24", "TCP", "135", "Allow")
	// Parts are boxes as the evaluator cuts them: 10.0.0.0/25 and
	// 10.0.0.128/25 apart where the block rule splits them.
	dflt := func(policy string) []string {
		return []string{
			"allowed 10.0.0.0/25 135 by fw.txt:19",
			"blocked 10.0.0.0/25 445 by " + policy + " policy drop",
			"blocked 10.0.0.128/25 135 by fw.txt:1",
			"blocked 10.0.0.128/25 445 by " + policy + " policy drop"}
	}
	stateUnknown := []string{
		"allowed 10.0.0.0/25 135 by fw.txt:19",
		"unknown 10.0.0.0/25 445 by prof.txt:4 policy opaque",
		"unknown 10.0.0.128/25 135 by fw.txt:1",
		"unknown 10.0.0.128/25 445 by prof.txt:4 policy opaque"}
	tests := []struct {
		name string
		info HostInfo
		want []string
	}{
		{"no profile captured: Windows' default, placed on the listing", testHost, dflt("fw.txt")},
		{"another profile's settings do not count", profileInfo("public", off, allow), dflt("fw.txt")},
		{"on, block inbound shown: the policy line decides", profileInfo("domain", on, block), dflt("prof.txt:5")},
		{"state shown, policy not (show allprofiles state)", profileInfo("domain", on, not), dflt("fw.txt")},
		{"off: everything allowed by the state line, no rule counts", profileInfo("domain", off, block), []string{
			"allowed 10.0.0.0/24 135,445 by prof.txt:4 policy accept"}},
		{"default inbound Allow: block rules, then accept", profileInfo("domain", on, allow), []string{
			"allowed 10.0.0.0/25 135,445 by prof.txt:5 policy accept",
			"allowed 10.0.0.128/25 445 by prof.txt:5 policy accept",
			"blocked 10.0.0.128/25 135 by fw.txt:1"}},
		{"BlockInboundAlways: allow rules ignored, everything dropped", profileInfo("domain", on, always), []string{
			"blocked 10.0.0.0/24 135,445 by prof.txt:5 policy drop"}},
		{"default inbound not read: allows in doubt, policy unknown", profileInfo("domain", on, bad), []string{
			"blocked 10.0.0.128/25 135 by fw.txt:1",
			"unknown 10.0.0.0/25 135 by fw.txt:19",
			"unknown 10.0.0.0/25 445 by prof.txt:5 policy opaque",
			"unknown 10.0.0.128/25 445 by prof.txt:5 policy opaque"}},
		{"state not known: what it blocks is unknown, what it admits stays", profileInfo("domain", unk, block), stateUnknown},
		{"state not known, policy not shown", profileInfo("domain", unk, not), stateUnknown},
		{"state not known, default inbound Allow", profileInfo("domain", unk, allow), []string{
			"allowed 10.0.0.0/25 135,445 by prof.txt:5 policy accept",
			"allowed 10.0.0.128/25 445 by prof.txt:5 policy accept",
			"unknown 10.0.0.128/25 135 by fw.txt:1"}},
		{"state not known, BlockInboundAlways", profileInfo("domain", unk, always), []string{
			"unknown 10.0.0.0/24 135,445 by prof.txt:4 policy opaque"}},
		{"policy shown, state not (show allprofiles firewallpolicy)", profileInfo("domain", none, always), []string{
			"blocked 10.0.0.0/24 135,445 by prof.txt:5 policy drop"}},
	}
	f := flow(t, "tcp 10.0.0.0/24 10.1.0.5 135,445")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := ParseNetshFirewall(strings.NewReader(listing), "fw.txt", "srv", tt.info, "domain")
			if err != nil {
				t.Fatalf("ParseNetshFirewall() error = %v", err)
			}
			for _, hook := range []string{"input", "forward"} {
				parts := EvaluateBase(b, hook, f)
				checkPartition(t, parts, f)
				if diff := cmp.Diff(tt.want, decidedBy(parts)); diff != "" {
					t.Errorf("EvaluateBase(%s) mismatch (-want +got):\n%s", hook, diff)
				}
			}
		})
	}
}

// TestNetshProfileWhy: the parts a setting not read leaves unknown say
// which setting, and the chain names the state.
func TestNetshProfileWhy(t *testing.T) {
	listing := netshRule("no", "Yes", "In", "Any", "Any", "10.0.0.128/25", "TCP", "135", "Block") +
		netshRule("rpc", "Yes", "In", "Any", "Any", "Any", "TCP", "135", "Allow")
	for _, tt := range []struct {
		name  string
		info  HostInfo
		chain string
		why   []string
	}{
		{"state", profileInfo("private", audit.FirewallStateUnknown, audit.InboundBlock), "windows firewall private (state unknown)",
			[]string{"private profile's state not known, it may be off (prof.txt:4)"}},
		{"inbound", profileInfo("private", audit.FirewallOn, audit.InboundUnknown), "windows firewall private",
			[]string{"private profile's default inbound action not known (prof.txt:5)"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b, err := ParseNetshFirewall(strings.NewReader(listing), "fw.txt", "srv", tt.info, "Private")
			if err != nil {
				t.Fatal(err)
			}
			if b.Chains[0].Name != tt.chain {
				t.Errorf("chain name %q, want %q", b.Chains[0].Name, tt.chain)
			}
			var why [][]string
			for _, p := range EvaluateBase(b, "input", flow(t, "tcp 10.0.0.0/24 10.1.0.5 135")) {
				if p.Outcome == Unknown {
					why = append(why, p.Why)
				}
			}
			if diff := cmp.Diff([][]string{tt.why}, why); diff != "" {
				t.Errorf("unknown parts' reasons mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestWindowsProfileBase: a host with profile settings and no rule
// listing gets a rule base only when the settings decide every flow.
func TestWindowsProfileBase(t *testing.T) {
	tests := []struct {
		name    string
		info    HostInfo
		profile string
		want    []string // nil: no base
	}{
		{"off", profileInfo("domain", audit.FirewallOff, audit.InboundBlock), "", []string{"allowed 10.0.0.0/24 135,445 by prof.txt:4 policy accept"}},
		{"BlockInboundAlways", profileInfo("public", audit.FirewallOn, audit.InboundBlockAlways), "public", []string{"blocked 10.0.0.0/24 135,445 by prof.txt:5 policy drop"}},
		{"state not known, BlockInboundAlways", profileInfo("domain", audit.FirewallStateUnknown, audit.InboundBlockAlways), "domain", []string{"unknown 10.0.0.0/24 135,445 by prof.txt:4 policy opaque"}},
		{"on: the rules would decide", profileInfo("domain", audit.FirewallOn, audit.InboundBlock), "domain", nil},
		{"default inbound Allow: block rules would decide", profileInfo("domain", audit.FirewallOn, audit.InboundAllow), "domain", nil},
		{"state not known", profileInfo("domain", audit.FirewallStateUnknown, audit.InboundNotShown), "domain", nil},
		{"another profile off", profileInfo("private", audit.FirewallOff, audit.InboundNotShown), "domain", nil},
		{"no profile", testHost, "domain", nil},
	}
	f := flow(t, "tcp 10.0.0.0/24 10.1.0.5 135,445")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := WindowsProfileBase("srv", tt.info, tt.profile)
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == nil {
				if b != nil {
					t.Fatalf("WindowsProfileBase() = %+v, want nil", b)
				}
				return
			}
			if b == nil || b.Host != "srv" || b.Name != "prof.txt" || b.Format != "windows" || !b.Covers(4) || !b.Covers(6) {
				t.Fatalf("WindowsProfileBase() = %+v, want a windows base of srv named prof.txt for both families", b)
			}
			parts := EvaluateBase(b, "forward", f)
			checkPartition(t, parts, f)
			if diff := cmp.Diff(tt.want, decidedBy(parts)); diff != "" {
				t.Errorf("EvaluateBase() mismatch (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := WindowsProfileBase("srv", testHost, "home"); err == nil || err.Error() != `profile "home": want domain, private or public` {
		t.Errorf("WindowsProfileBase(home) error = %v", err)
	}
}

// TestNetshRulesWithProfileSettings: a capture holding both the profile
// settings and the rules (a batch file) reads the rules only; the
// profile block is no rule.
func TestNetshRulesWithProfileSettings(t *testing.T) {
	in := "Domain Profile Settings:\n" + strings.Repeat("-", 70) + "\n" +
		"State                                 ON\nFirewall Policy                       BlockInbound,AllowOutbound\n" +
		"LocalFirewallRules                    N/A (GPO-store only)\n\nLogging:\nMaxFileSize                           4096\n\nOk.\n\n" +
		netshRule("rpc", "Yes", "In", "Any", "Any", "Any", "TCP", "135", "Allow")
	b, err := ParseNetshFirewall(strings.NewReader(in), "fw.txt", "srv", testHost, "")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(b.Chains[0].Rules); n != 1 {
		t.Fatalf("%d rules, want 1: %+v", n, b.Chains[0].Rules)
	}
	if got := summary(EvaluateBase(b, "input", flow(t, "tcp 10.0.0.0/24 10.1.0.5 135"))); got != nil {
		t.Errorf("EvaluateBase() = %q, want allowed", got)
	}
}
