package rulebase

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/google/go-cmp/cmp"
	"github.com/rpcspan/rpcspan/audit"
)

// netshRule renders one verbose netsh block with English labels and
// neither Program nor Service, which netsh leaves out when unset: the
// rule has no condition the model does not evaluate.
func netshRule(name, enabled, dir, profiles, local, remote, proto, lport, action string) string {
	return netshBlock(name, enabled, dir, profiles, local, remote, proto, lport, action, true)
}

// netshPlainRule renders the same block as the plain (non-verbose)
// listing prints it, without Description and the fields after Edge
// traversal.
func netshPlainRule(name, enabled, dir, profiles, local, remote, proto, lport, action string) string {
	return netshBlock(name, enabled, dir, profiles, local, remote, proto, lport, action, false)
}

func netshBlock(name, enabled, dir, profiles, local, remote, proto, lport, action string, verbose bool) string {
	s := "Rule Name:                            " + name + "\n" + strings.Repeat("-", 70) + "\n"
	if verbose {
		s += "Description:                          test rule " + name + "\n"
	}
	s += "Enabled:                              " + enabled + "\n" +
		"Direction:                            " + dir + "\n" +
		"Profiles:                             " + profiles + "\n" +
		"Grouping:                             \n" +
		"LocalIP:                              " + local + "\n" +
		"RemoteIP:                             " + remote + "\n" +
		"Protocol:                             " + proto + "\n"
	if proto == "TCP" || proto == "UDP" {
		s += "LocalPort:                            " + lport + "\n" +
			"RemotePort:                           Any\n"
	}
	s += "Edge traversal:                       No\n"
	if verbose {
		s += "InterfaceTypes:                       Any\n" +
			"Security:                             NotRequired\n" +
			"Rule source:                          Local Setting\n"
	}
	return s + "Action:                               " + action + "\n\n"
}

func testSpan(proto string, _ int) []audit.PortRange {
	if proto == "tcp" {
		return []audit.PortRange{{First: 49152, Last: 65535}}
	}
	return nil
}

// TestNetshRPCPerFamily: the keyword RPC stands for the host's span of the
// flow's family, which after a change of only one of them can differ.
func TestNetshRPCPerFamily(t *testing.T) {
	in := netshRule("RPC dynamic", "Yes", "In", "Domain", "Any", "Any", "TCP", "RPC", "Allow")
	span := func(proto string, fam int) []audit.PortRange {
		if fam == 6 {
			return []audit.PortRange{{First: 49152, Last: 65535}}
		}
		return []audit.PortRange{{First: 50000, Last: 50999}}
	}
	b, err := ParseNetshFirewall(strings.NewReader(in), "fw.txt", "srv", HostInfo{Span: span}, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		flow string
		want []string
	}{
		{"tcp 10.0.0.1 10.0.0.2 50000-50999", nil},
		{"tcp 10.0.0.1 10.0.0.2 49152-65535", []string{"blocked 10.0.0.1/32 10.0.0.2/32 49152-49999,51000-65535 @0"}},
		{"tcp fd00::1 fd00::2 49152-65535", nil},
	} {
		if got := summary(EvaluateBase(b, "input", flow(t, c.flow))); !slices.Equal(got, c.want) {
			t.Errorf("%s: %q, want %q", c.flow, got, c.want)
		}
	}
}

func TestNetshSemantics(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		profile string
		flow    string
		want    []string
	}{
		{"default block", netshRule("web", "Yes", "In", "Any", "Any", "Any", "TCP", "80", "Allow"),
			"", "tcp 10.0.0.0/24 10.1.0.5 80,135",
			[]string{"blocked 10.0.0.0/24 10.1.0.5/32 135 @0"}},
		{"RPC keywords resolve to span and 135",
			netshRule("rpc", "Yes", "In", "Domain", "Any", "Any", "TCP", "RPC", "Allow") +
				netshRule("epm", "Yes", "In", "Domain", "Any", "Any", "TCP", "RPC-EPMap", "Allow"),
			"", "tcp 10.0.0.0/24 10.1.0.5 135,445,49152-65535",
			[]string{"blocked 10.0.0.0/24 10.1.0.5/32 445 @0"}},
		{"block wins over an earlier allow",
			netshRule("all", "Yes", "In", "Any", "Any", "Any", "TCP", "Any", "Allow") +
				netshRule("no", "Yes", "In", "Any", "Any", "10.0.0.128/25", "TCP", "135", "Block"),
			"", "tcp 10.0.0.0/24 10.1.0.5 135",
			[]string{"blocked 10.0.0.128/25 10.1.0.5/32 135 @19"}}, // the verbose blocks are 18 lines
		{"disabled, outbound and other-profile rules do not count",
			netshRule("off", "No", "In", "Any", "Any", "Any", "TCP", "Any", "Allow") +
				netshRule("out", "Yes", "Out", "Any", "Any", "Any", "TCP", "Any", "Allow") +
				netshRule("pub", "Yes", "In", "Public", "Any", "Any", "TCP", "Any", "Allow") +
				netshRule("blk", "Yes", "In", "Public", "Any", "Any", "TCP", "Any", "Block"),
			"", "tcp 10.0.0.0/24 10.1.0.5 135",
			[]string{"blocked 10.0.0.0/24 10.1.0.5/32 135 @0"}},
		{"--profile public",
			netshRule("pub", "Yes", "In", "Public", "Any", "Any", "TCP", "135", "Allow") +
				netshRule("dom", "Yes", "In", "Domain", "Any", "Any", "TCP", "Any", "Block"),
			"public", "tcp 10.0.0.0/24 10.1.0.5 135", nil},
		{"address forms",
			netshRule("a", "Yes", "In", "Any", "Any", "10.0.0.0/255.255.255.192,10.0.0.64/26,10.0.0.128-10.0.0.191,10.0.0.200/32", "TCP", "135", "Allow"),
			"", "tcp 10.0.0.0/24 10.1.0.5 135",
			[]string{"blocked 10.0.0.192/29,10.0.0.201/32,10.0.0.202/31,10.0.0.204/30,10.0.0.208/28,10.0.0.224/27 10.1.0.5/32 135 @0"}},
		{"LocalSubnet is unknown",
			netshRule("ls", "Yes", "In", "Any", "Any", "LocalSubnet", "TCP", "135", "Allow"),
			"", "tcp 10.0.0.0/24 10.1.0.5 135",
			[]string{"unknown 10.0.0.0/24 10.1.0.5/32 135 @1"}},
		{"protocol any covers every port; ICMP none",
			netshRule("icmp", "Yes", "In", "Any", "Any", "Any", "ICMPv4", "", "Allow") +
				netshRule("any", "Yes", "In", "Any", "Any", "10.0.0.0/25", "Any", "", "Allow"),
			"", "tcp 10.0.0.0/24 10.1.0.5 135,49152-65535",
			[]string{"blocked 10.0.0.128/25 10.1.0.5/32 135,49152-65535 @0"}},
		{"local IP limits destinations",
			netshRule("l", "Yes", "In", "Any", "10.1.0.5", "Any", "UDP", "135", "Allow"),
			"", "udp 10.0.0.0/24 10.1.0.4/31 135",
			[]string{"blocked 10.0.0.0/24 10.1.0.4/32 135 @0"}},
		{"RPC without a span is unknown",
			netshRule("u", "Yes", "In", "Any", "Any", "Any", "UDP", "RPC", "Allow"),
			"", "udp 10.0.0.0/24 10.1.0.5 135",
			[]string{"unknown 10.0.0.0/24 10.1.0.5/32 135 @1"}},
		{"unknown word makes the rule unknown",
			netshRule("x", "Yes", "In", "Any", "Any", "Any", "TCP", "135", "Frobnicate"),
			"", "tcp 10.0.0.0/24 10.1.0.5 135",
			[]string{"unknown 10.0.0.0/24 10.1.0.5/32 135 @1"}},
		// The Program condition makes the allowed part unknown: which
		// process serves each endpoint decides (was allowed before the
		// reader took Program and Service into account).
		{"German labels and values, verbose with a description and a program",
			"Regelname:                            RPC\n" + strings.Repeat("-", 70) + "\n" +
				"Beschreibung:                         Erlaubt: RPC\n" +
				"Aktiviert:                            Ja\n" +
				"Richtung:                             Eingehend\n" +
				"Profile:                              Domäne,Privat\n" +
				"Gruppierung:                          \n" +
				"Lokale IP:                            Beliebig\n" +
				"Remote-IP:                            10.0.0.0/25\n" +
				"Protokoll:                            TCP\n" +
				"Lokaler Port:                         RPC,RPC-EPMap\n" +
				"Remoteport:                           Beliebig\n" +
				"Edgeausnahme:                         Nein\n" +
				"Programm:                             C:\\Windows\\system32\\svchost.exe\n" +
				"Schnittstellentypen:                  Beliebig\n" +
				"Sicherheit:                           NotRequired\n" +
				"Regelquelle:                          Lokale Einstellung\n" +
				"Aktion:                               Zulassen\nOK.\n",
			"", "tcp 10.0.0.0/24 10.1.0.5 135,49152-65535",
			[]string{"blocked 10.0.0.128/25 10.1.0.5/32 135,49152-65535 @0", "unknown 10.0.0.0/25 10.1.0.5/32 135,49152-65535 @1"}},
		{"verbose security requirement is unknown",
			strings.Replace(netshRule("s", "Yes", "In", "Any", "Any", "Any", "TCP", "135", "Allow"),
				"NotRequired", "AuthEnc", 1),
			"", "tcp 10.0.0.0/24 10.1.0.5 135",
			[]string{"unknown 10.0.0.0/24 10.1.0.5/32 135 @1"}},
		{"Get-NetFirewallRule with filters",
			"Name                  : {abc}\nDisplayName           : RPC in\nEnabled               : True\nDirection             : Inbound\n" +
				"Profile               : Domain, Private\nAction                : Allow\n\n" +
				"Protocol      : TCP\nLocalPort     : {135, RPC}\nRemotePort    : Any\n\n" +
				"LocalAddress  : Any\nRemoteAddress : 10.0.0.0/255.255.255.128\n\n" +
				"Program : Any\nPackage :\n\nService : Any\n\n" +
				"Name                  : {def}\nDisplayName           : off\nEnabled               : False\nDirection             : Inbound\n" +
				"Profile               : Any\nAction                : Allow\n\n",
			"", "tcp 10.0.0.0/24 10.1.0.5 135,445,49152-65535",
			[]string{"blocked 10.0.0.0/25 10.1.0.5/32 445 @0", "blocked 10.0.0.128/25 10.1.0.5/32 135,445,49152-65535 @0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := ParseNetshFirewall(strings.NewReader(tt.in), "fw.txt", "srv", testHost, tt.profile)
			if err != nil {
				t.Fatalf("ParseNetshFirewall() error = %v", err)
			}
			if b.Host != "srv" || !b.Covers(4) || !b.Covers(6) {
				t.Fatalf("ParseNetshFirewall() host %q covers %v/%v, want srv for both families", b.Host, b.Covers(4), b.Covers(6))
			}
			f := flow(t, tt.flow)
			for _, hook := range []string{"input", "forward"} {
				parts := EvaluateBase(b, hook, f)
				checkPartition(t, parts, f)
				if diff := cmp.Diff(tt.want, summary(parts)); diff != "" {
					t.Errorf("EvaluateBase(%s) mismatch (-want +got):\n%s", hook, diff)
				}
			}
		})
	}
}

func TestNetshUTF16(t *testing.T) {
	in := netshRule("web", "Yes", "In", "Any", "Any", "Any", "TCP", "135", "Allow")
	u := utf16.Encode([]rune(in))
	data := []byte{0xFF, 0xFE}
	for _, c := range u {
		data = append(data, byte(c), byte(c>>8))
	}
	b, err := ParseNetshFirewall(strings.NewReader(string(data)), "fw.txt", "srv", testHost, "")
	if err != nil {
		t.Fatalf("ParseNetshFirewall(UTF-16LE) error = %v", err)
	}
	if got := summary(EvaluateBase(b, "input", flow(t, "tcp 10.0.0.0/24 10.1.0.5 135"))); got != nil {
		t.Errorf("ParseNetshFirewall(UTF-16LE) = %v, want allowed", got)
	}
}

func TestNetshErrors(t *testing.T) {
	tests := []struct{ name, in, profile, want string }{
		{"bad profile", "", "home", `profile "home": want domain, private or public`},
		{"not a firewall capture", "Protocol tcp Dynamic Port Range\n", "", "fw.txt: no Windows Firewall rules (netsh advfirewall or Get-NetFirewallRule output) found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseNetshFirewall(strings.NewReader(tt.in), "fw.txt", "srv", testHost, tt.profile)
			if err == nil || err.Error() != tt.want {
				t.Errorf("ParseNetshFirewall(%q) error = %v, want %q", tt.in, err, tt.want)
			}
		})
	}
	b, err := ParseNetshFirewall(strings.NewReader("\nNo rules match the specified criteria.\n"), "fw.txt", "srv", testHost, "")
	if err != nil || len(b.Chains[0].Rules) != 0 {
		t.Errorf("ParseNetshFirewall(no rules) = %v, %v, want an empty base", b, err)
	}
}

func TestNetshCorpus(t *testing.T) {
	tests := []struct {
		file string
		flow string
		want []string
	}{
		// A plain listing does not show Program and Service: the inbound
		// allow for 80 and 8080 may be limited to a program, so those ports
		// are unknown (they were allowed before the reader took Program and
		// Service into account).
		{"show_rule_name_all_htb_ethereal_devloop.txt", "tcp 10.0.0.0/24 10.1.0.5 53,80,8080",
			[]string{"blocked 10.0.0.0/24 10.1.0.5/32 53 @0", "unknown 10.0.0.0/24 10.1.0.5/32 80,8080 @29"}},
		// The only rule is outbound: everything inbound is blocked.
		{"show_rule_verbose_iphttps_keyword_port.txt", "tcp 10.0.0.0/24 10.1.0.5 443",
			[]string{"blocked 10.0.0.0/24 10.1.0.5/32 443 @0"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			b, err := ParseNetshFirewall(f, tt.file, "srv", testHost, "")
			if err != nil {
				t.Fatalf("ParseNetshFirewall(%s) error = %v", tt.file, err)
			}
			if diff := cmp.Diff(tt.want, summary(EvaluateBase(b, "input", flow(t, tt.flow)))); diff != "" {
				t.Errorf("EvaluateBase(%s) mismatch (-want +got):\n%s", tt.file, diff)
			}
		})
	}
}

func FuzzParseNetshFirewall(f *testing.F) {
	files, _ := filepath.Glob("testdata/show_rule_*.txt")
	more, _ := filepath.Glob("testdata/get-netfirewall*.txt")
	tsv, _ := filepath.Glob("testdata/wfmsc_*.txt")
	ours, _ := filepath.Glob("testdata/winfw/*.txt")
	for _, p := range slices.Concat(files, more, tsv, ours) {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(data))
	}
	f.Add(netshRule("x", "Ja", "Eingehend", "Domäne", "LocalSubnet", "10.0.0.1-10.0.0.9", "TCP", "RPC,5000-5010", "Blockieren"))
	f.Add(netshPlainRule("x", "Ja", "Eingehend", "Domäne", "LocalSubnet", "10.0.0.1-10.0.0.9", "TCP", "RPC,5000-5010", "Blockieren"))
	f.Add(netshRule("x", "Yes", "In", "Any", "LocalSubnet4", "localsubnet,10.9.0.0/16,fd00::/8", "TCP", "RPC", "Allow"))
	f.Add(netshRule("x", "Yes", "In", "Any", "Any", "LocalSubnet6,DNS", "UDP", "Any", "Block"))
	f.Add("Domain Profile Settings:\n" + strings.Repeat("-", 70) + "\nState                                 ON\n" +
		"Firewall Policy                       BlockInbound,AllowOutbound\n\nOk.\n\n" +
		netshRule("x", "Yes", "In", "Any", "Any", "10.0.0.0/9", "TCP", "RPC", "Block"))
	// Profile settings that leave the state and the default inbound
	// action unknown: the rules then carry unknown matches of their own.
	unknownProfile := profileInfo("domain", audit.FirewallStateUnknown, audit.InboundUnknown)
	unknownProfile.Subnets = v4Host.Subnets
	f.Fuzz(func(t *testing.T, in string) {
		// v4Host: LocalSubnet is exact for IPv4 and unknown for IPv6.
		for _, info := range []HostInfo{v4Host, unknownProfile} {
			b, err := ParseNetshFirewall(strings.NewReader(in), "fuzz", "srv", info, "")
			if err != nil {
				return
			}
			for _, fl := range []string{"tcp 10.0.0.0/8 10.1.0.5,192.168.0.0/16 135,49152-65535", "udp ::/0 fd00::1 135"} {
				parts := EvaluateBase(b, "input", flow(t, fl))
				checkPartition(t, parts, flow(t, fl))
			}
		}
	})
}
