package rulebase

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// describeRule renders what the evaluator uses of a rule:
// "VERDICT PROTO PORTS src=SRC dst=DST UNKNOWN".
func describeRule(r *Rule) string {
	proto := map[Proto]string{TCP: "tcp", UDP: "udp", AnyProto: "any"}[r.Proto]
	ports, src, dst := "any", "any", "any"
	if r.DPorts != nil {
		ports = r.DPorts.String()
	}
	if r.Src != nil {
		src = r.Src.String()
	}
	if r.Dst != nil {
		dst = r.Dst.String()
	}
	return fmt.Sprintf("%s %s %s src=%s dst=%s %q", r.Verdict, proto, ports, src, dst, r.Unknown)
}

// TestNetshLanguages reads the same rules as netsh prints them in each
// display language (testdata/winfw/netsh_LANG_{verbose,plain}.txt, labels
// and values translated): disabled, outbound and other-profile rules drop
// out, the rest keep verdict, protocol, ports and addresses, and the only
// unknown matches are the Program and Service conditions (verbose) and
// the note that the plain listing does not show them.
func TestNetshLanguages(t *testing.T) {
	const (
		rpc      = `accept tcp 135,5000-5100 src=10.0.0.0/24 dst=any []`
		netbios  = `drop udp 137 src=any dst=10.1.0.5/32 ["program=%SystemRoot%\\system32\\svchost.exe" "service=RpcSs"]`
		testNet  = `drop any any src=192.0.2.0/24 dst=any []`
		smbPub   = `accept tcp 445 src=any dst=any []`
		smbPlain = `accept tcp 445 src=any dst=any ["program and service not shown (capture with: netsh advfirewall firewall show rule name=all verbose)"]`
	)
	for _, lang := range []string{"en", "de", "fr", "es", "it", "pt-br", "nl", "pl", "ru", "ja", "ja-fullwidth", "zh-cn"} {
		t.Run(lang, func(t *testing.T) {
			for _, tt := range []struct {
				file, profile string
				want          []string
			}{
				// Blocks first, then allows, each in the order read.
				{"verbose", "domain", []string{netbios, testNet, rpc}},
				{"verbose", "public", []string{netbios, testNet, smbPub}},
				{"plain", "domain", []string{smbPlain}},
			} {
				file := "winfw/netsh_" + lang + "_" + tt.file + ".txt"
				if lang == "ja-fullwidth" && tt.file == "plain" {
					continue
				}
				b := parseFW(t, file, tt.profile)
				var got []string
				for _, r := range b.Chains[0].Rules {
					got = append(got, describeRule(r))
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("ParseNetshFirewall(%s, %s) mismatch (-want +got):\n%s", file, tt.profile, diff)
				}
			}
			f := flow(t, "tcp 10.0.0.0/24 10.1.0.5 135,445,5000-5100")
			parts := EvaluateBase(parseFW(t, "winfw/netsh_"+lang+"_verbose.txt", ""), "input", f)
			checkPartition(t, parts, f)
			if diff := cmp.Diff([]string{"blocked 10.0.0.0/24 10.1.0.5/32 445 @0"}, summary(parts)); diff != "" {
				t.Errorf("EvaluateBase(%s verbose) mismatch (-want +got):\n%s", lang, diff)
			}
		})
	}
}

// TestNetshUnlistedLanguage: a value in a language the word lists do not
// have (Greek here) is an unknown match, never taken as allow.
func TestNetshUnlistedLanguage(t *testing.T) {
	allow := netshRule("rpc", "Yes", "In", "Domain", "Any", "Any", "TCP", "135", "Allow")
	field := func(label, greek string) string {
		i := strings.Index(allow, label+":")
		j := i + strings.Index(allow[i:], "\n")
		return allow[:i] + label + ":                  " + greek + allow[j:]
	}
	tests := []struct{ name, in string }{
		{"enabled", field("Enabled", "Ναι")},
		{"direction", field("Direction", "Εισερχόμενη")},
		{"profiles", field("Profiles", "Τομέας,Ιδιωτικό")},
		{"local IP", field("LocalIP", "Οποιοδήποτε")},
		{"remote IP", field("RemoteIP", "Οποιοδήποτε")},
		{"protocol", field("Protocol", "Οποιοδήποτε")},
		{"local port", field("LocalPort", "Οποιοδήποτε")},
		{"interface types", field("InterfaceTypes", "Οποιοδήποτε")},
		{"action", field("Action", "Αποδοχή")},
		{"made-up word", field("Enabled", "Jawohl")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := evalNetsh(t, tt.in, "tcp 10.0.0.0/24 10.1.0.5 135")
			if diff := cmp.Diff([]string{"unknown 10.0.0.0/24 10.1.0.5/32 135 @1"}, got); diff != "" {
				t.Errorf("EvaluateBase(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
	// Labels and values in Greek: every rule takes part with an unknown
	// match, and nothing is allowed (what no rule matches is blocked).
	for _, file := range []string{"winfw/netsh_el_verbose.txt", "winfw/netsh_el_plain.txt"} {
		b := parseFW(t, file, "")
		for _, r := range b.Chains[0].Rules {
			if len(r.Unknown) == 0 {
				t.Errorf("%s: rule %q has no unknown match", file, r.Text)
			}
		}
		f := flow(t, "tcp 10.0.0.0/8 10.1.0.5 135,445,5000-5100")
		parts := EvaluateBase(b, "input", f)
		checkPartition(t, parts, f)
		unknown := false
		for _, p := range parts {
			if p.Outcome == Allowed {
				t.Errorf("%s: part %s %s %s is allowed", file, p.Src, p.Dst, p.Ports)
			}
			unknown = unknown || p.Outcome == Unknown
		}
		if !unknown {
			t.Errorf("%s: no part is unknown: %v", file, summary(parts))
		}
	}
}
