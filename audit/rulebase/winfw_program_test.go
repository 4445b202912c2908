package rulebase

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// parseFW reads a Windows Firewall capture from testdata for profile.
func parseFW(t *testing.T, file, profile string) *Base {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := ParseNetshFirewall(f, file, "srv", testHost, profile)
	if err != nil {
		t.Fatalf("ParseNetshFirewall(%s) error = %v", file, err)
	}
	return b
}

// unknownByName returns the unknown matches of the rules of b that take
// part, by rule name.
func unknownByName(b *Base) map[string][]string {
	m := map[string][]string{}
	for _, r := range b.Chains[0].Rules {
		name, _, _ := strings.Cut(r.Text, " [")
		m[name] = r.Unknown
	}
	return m
}

func TestNetshProgramService(t *testing.T) {
	tests := []struct {
		file string
		want map[string][]string
	}{
		{"winfw/netsh_en_verbose_conditions.txt", map[string][]string{
			"Program and service":     {`program=C:\WINDOWS\system32\svchost.exe`, "service=RpcSs"},
			"Program only":            {`program=%SystemRoot%\system32\lsass.exe`},
			"Service only":            {"service=Netlogon"},
			"Any service":             {"service=Any (services only)"},
			"Program any":             nil,
			"No description, program": {`program=C:\Windows\System32\svchost.exe`},
			"Groups":                  {"program=System", "security=Authenticate", "group=D:(A;;CC;;;S-1-5-21-1-2-3-515)"},
			"ICMP program":            {`program=C:\Windows\System32\svchost.exe`},
			"Wireless only":           {"interfacetype=Wireless"},
			"Unrecognised":            {"verbose fields not recognised: Program=notapath, Service=RpcSs"},
		}},
		// Security translated: Program and Service are counted back from
		// Action instead. A lone translated any may be Program (no
		// condition) or Service (services only): unknown.
		{"winfw/netsh_de_verbose_security_translated.txt", map[string][]string{
			"RPC-Dienst":   {`program=%SystemRoot%\system32\svchost.exe`, "service=RpcSs"},
			"Alle Dienste": {"program or service=Beliebig"},
		}},
		{"winfw/get-netfirewallrule_app_service_filters.txt", map[string][]string{
			"RPC endpoint mapper":              nil,
			"RPC dynamic":                      {`program=%SystemRoot%\system32\svchost.exe`, "service=RpcSs"},
			"Any service":                      {"package=S-1-15-2-1-2-3", "service=* (services only)"},
			"No application or service filter": {"program and service not shown (capture with: " + psPipeline + ")"},
			"Application filter only":          {"service not shown (capture with: " + psPipeline + ")"},
		}},
		{"winfw/netsh_en_plain.txt", map[string][]string{
			"SMB (TCP-In)": {netshNotShown},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got := unknownByName(parseFW(t, tt.file, ""))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseNetshFirewall(%s) unknown matches mismatch (-want +got):\n%s", tt.file, diff)
			}
		})
	}
}

// TestNetshProgramServiceVerdicts: a Program or Service condition, or a
// listing that cannot show them, makes the part an allow rule matches
// unknown, never allowed; a rule without them still decides.
func TestNetshProgramServiceVerdicts(t *testing.T) {
	verbose := netshRule("rpc", "Yes", "In", "Any", "Any", "Any", "TCP", "135", "Allow")
	withProgram := strings.Replace(verbose, "InterfaceTypes:",
		"Program:                              %SystemRoot%\\system32\\svchost.exe\nService:                              RpcSs\nInterfaceTypes:", 1)
	tests := []struct {
		name, in string
		want     []string
	}{
		{"verbose without program or service", verbose, nil},
		{"verbose with program and service", withProgram, []string{"unknown 10.0.0.0/24 10.1.0.5/32 135 @1"}},
		{"plain listing", netshPlainRule("rpc", "Yes", "In", "Any", "Any", "Any", "TCP", "135", "Allow"),
			[]string{"unknown 10.0.0.0/24 10.1.0.5/32 135 @1"}},
		// A block rule that may be limited to a program blocks only some of
		// what the allow rule admits.
		{"plain block before a verbose allow",
			verbose + netshPlainRule("no", "Yes", "In", "Any", "Any", "Any", "TCP", "135", "Block"),
			[]string{"unknown 10.0.0.0/24 10.1.0.5/32 135 @19"}},
		// Plain or verbose is decided per block: a verbose block in the
		// same capture still decides.
		{"plain and verbose blocks",
			netshPlainRule("p", "Yes", "In", "Any", "Any", "Any", "TCP", "135", "Allow") +
				netshRule("v", "Yes", "In", "Any", "Any", "10.0.0.0/25", "TCP", "135", "Allow"),
			[]string{"unknown 10.0.0.128/25 10.1.0.5/32 135 @1"}},
		{"Get-NetFirewallRule without filter blocks",
			"Name                  : {abc}\nDisplayName           : RPC in\nEnabled               : True\nDirection             : Inbound\n" +
				"Profile               : Any\nAction                : Allow\n\nProtocol      : TCP\nLocalPort     : 135\n\n",
			[]string{"unknown 10.0.0.0/24 10.1.0.5/32 135 @1"}},
		{"Get-NetFirewallRule with security filter",
			"Name                  : {abc}\nDisplayName           : RPC in\nEnabled               : True\nDirection             : Inbound\n" +
				"Profile               : Any\nAction                : Allow\n\nProtocol      : TCP\nLocalPort     : 135\n\n" +
				"Program : Any\nPackage :\n\nService : Any\n\nAuthentication     : Required\nEncryption         : NotRequired\n\n",
			[]string{"unknown 10.0.0.0/24 10.1.0.5/32 135 @1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, evalNetsh(t, tt.in, "tcp 10.0.0.0/24 10.1.0.5 135")); diff != "" {
				t.Errorf("EvaluateBase() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestNetshUnknownInRuleText: reports show a rule's text, so it names
// what was not evaluated and how to capture it.
func TestNetshUnknownInRuleText(t *testing.T) {
	b, err := ParseNetshFirewall(strings.NewReader(netshPlainRule("rpc", "Yes", "In", "Any", "Any", "Any", "TCP", "135", "Allow")+
		netshRule("web", "Yes", "In", "Any", "Any", "Any", "TCP", "80", "Allow")), "fw.txt", "srv", testHost, "")
	if err != nil {
		t.Fatalf("ParseNetshFirewall() error = %v", err)
	}
	var got []string
	for _, r := range b.Chains[0].Rules {
		got = append(got, r.Text)
	}
	want := []string{
		"rpc [Allow] (not evaluated: program and service not shown (capture with: netsh advfirewall firewall show rule name=all verbose))",
		"web [Allow]",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rule texts mismatch (-want +got):\n%s", diff)
	}
}

// TestNetshWordListsDisjoint: no word may mean both values of a pair,
// nor a profile and any.
func TestNetshWordListsDisjoint(t *testing.T) {
	pairs := []struct {
		name string
		a, b map[string]bool
	}{
		{"yes/no", fwYes, fwNo}, {"in/out", fwIn, fwOut}, {"allow/block", fwAllow, fwBlock},
	}
	for _, p := range pairs {
		for w := range p.a {
			if p.b[w] {
				t.Errorf("%s: %q is in both lists", p.name, w)
			}
		}
	}
	for w := range fwProf {
		if fwAny[w] {
			t.Errorf("profile word %q is also an any word", w)
		}
	}
}

// evalNetsh reads netsh text as srv's rule base and returns what it does
// with the flow fl on the input hook, as summary lines, after checking
// that the parts make up the flow.
func evalNetsh(t *testing.T, in, fl string) []string {
	t.Helper()
	b, err := ParseNetshFirewall(strings.NewReader(in), "fw.txt", "srv", testHost, "")
	if err != nil {
		t.Fatalf("ParseNetshFirewall() error = %v", err)
	}
	f := flow(t, fl)
	parts := EvaluateBase(b, "input", f)
	checkPartition(t, parts, f)
	return summary(parts)
}
