package ingest

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rpcspan/rpcspan/audit"
)

const ipconfigDir = "testdata/corpus/ipconfig"

func ipconfigRun(file string, b []byte) *capture {
	c := newCapture(file)
	scanIPConfig(c, SplitLines(Decode(b)))
	return c
}

// ipconfigAddrs builds expected addresses from "line addr" pairs.
func ipconfigAddrs(file string, pairs ...any) []audit.Addr {
	var out []audit.Addr
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, audit.Addr{Addr: netip.MustParseAddr(pairs[i+1].(string)), Src: audit.Source{File: file, Line: pairs[i].(int)}})
	}
	return out
}

// ipconfigSubnets builds expected subnets from "line prefix" pairs.
func ipconfigSubnets(file string, pairs ...any) []audit.Subnet {
	var out []audit.Subnet
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, audit.Subnet{Prefix: netip.MustParsePrefix(pairs[i+1].(string)), Src: audit.Source{File: file, Line: pairs[i].(int)}})
	}
	return out
}

var ipconfigCmp = cmp.Options{
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
	cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
}

func TestScanIPConfigFiles(t *testing.T) {
	tests := []struct {
		file    string
		want    []any
		subnets []any
	}{
		{"ipconfig_ws2019_fs01_cmd.txt", []any{8, "fd00:10:1::10", 10, "10.1.0.10", 24, "192.168.50.10"},
			[]any{11, "10.1.0.0/24", 25, "192.168.50.0/24"}},
		// Both addresses are in 10.1.0.0/24: one subnet, from the first mask.
		{"ipconfig_all_ws2019_dc01_cmd.txt", []any{18, "fd00:10:1::10", 19, "fd00:10:1::53", 21, "10.1.0.10", 23, "10.1.0.53"},
			[]any{22, "10.1.0.0/24"}},
		// The APIPA address is no server address, but Windows counts its
		// subnet as local.
		{"ipconfig_all_ws2019_hv01_hyperv_ps51_utf16.txt", []any{18, "2001:db8:10:1::25", 21, "10.1.0.25", 42, "192.168.100.1"},
			[]any{22, "10.1.0.0/24", 43, "192.168.100.0/24", 61, "169.254.0.0/16"}},
		{"ipconfig_all_ws2003_leg01_cmd.txt", []any{17, "10.2.0.5", 19, "10.2.8.5"},
			[]any{18, "10.2.0.0/23", 20, "10.2.8.0/25", 41, "169.254.0.0/16"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f := filepath.Join(ipconfigDir, tt.file)
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			c := ipconfigRun(f, b)
			if diff := cmp.Diff(ipconfigAddrs(f, tt.want...), c.host.Addresses, ipconfigCmp); diff != "" {
				t.Errorf("scanIPConfig(%s) addresses mismatch (-want +got):\n%s", tt.file, diff)
			}
			if diff := cmp.Diff(ipconfigSubnets(f, tt.subnets...), c.host.Subnets, ipconfigCmp); diff != "" {
				t.Errorf("scanIPConfig(%s) subnets mismatch (-want +got):\n%s", tt.file, diff)
			}
			if len(c.problems) != 0 {
				t.Errorf("scanIPConfig(%s) problems = %v, want none", tt.file, c.problems)
			}
			if !cmp.Equal(c.formats, []string{"ipconfig"}) {
				t.Errorf("scanIPConfig(%s) formats = %v, want [ipconfig]", tt.file, c.formats)
			}
			if c.host.Name != "" {
				t.Errorf("scanIPConfig(%s) set host name %q; Load decides names", tt.file, c.host.Name)
			}
		})
	}
}

func TestScanIPConfig(t *testing.T) {
	const f = "ip.txt"
	tests := []struct {
		name     string
		in       []byte
		want     []any
		problems []string
		found    bool
	}{
		{
			name:  "utf16 bom crlf with suffixes",
			in:    utf16LE("\r\nWindows IP Configuration\r\n\r\n   IPv4 Address. . . . . . . . . . . : 10.1.0.10(Preferred) \r\n   IPv6 Address. . . . . . . . . . . : fd00::10(Deprecated)\r\n", true),
			want:  []any{4, "10.1.0.10", 5, "fd00::10"},
			found: true,
		},
		{
			name: "dropped addresses",
			in: []byte("   Link-local IPv6 Address . . . . . : fe80::1%12\n" +
				"   Autoconfiguration IPv4 Address. . : 169.254.1.2(Preferred)\n" +
				"   Temporary IPv6 Address. . . . . . : 2001:db8::abcd(Preferred)\n" +
				"   IPv6 Address. . . . . . . . . . . : ::1\n" +
				"   IPv4 Address. . . . . . . . . . . : 0.0.0.0\n" +
				"   IPv4 Address. . . . . . . . . . . : 127.0.0.1\n" +
				"   IPv6 Address. . . . . . . . . . . : 2001:db8::5(Duplicate)\n"),
			found: true,
		},
		{
			name:  "zone dropped, 4-in-6 unmapped, repeats once",
			in:    []byte("   IPv6 Address. . . . . . . . . . . : 2001:db8::7%3\n   IPv6 Address. . . . . . . . . . . : ::ffff:10.0.0.7\n   IPv4 Address. . . . . . . . . . . : 10.0.0.7\n"),
			want:  []any{1, "2001:db8::7", 2, "10.0.0.7"},
			found: true,
		},
		{
			name:  "windows 2003 labels",
			in:    []byte("        IP Address. . . . . . . . . . . . : 10.2.0.5\n        Autoconfiguration IP Address. . . : 169.254.9.9\n"),
			want:  []any{1, "10.2.0.5"},
			found: true,
		},
		{
			name:     "unparsable addresses",
			in:       []byte("   IPv4 Address. . . . . . . . . . . : 10.1.0.300(Preferred)\n   IPv6 Address. . . . . . . . . . . : \n   IPv4 Address. . . . . . . . . . . : 10.1.0.11\n"),
			want:     []any{3, "10.1.0.11"},
			problems: []string{`1: ipconfig address "10.1.0.300" is not an IP address`, `2: ipconfig address "" is not an IP address`},
			found:    true,
		},
		{
			name: "other labels ignored",
			in: []byte("   Host Name . . . . . . . . . . . . : DC01\n   Physical Address. . . . . . . . . : 00-15-5D-01-0A-02\n" +
				"   Default Gateway . . . . . . . . . : 10.1.0.1\n   DNS Servers . . . . . . . . . . . : 10.1.0.10\n                                       10.1.0.11\n"),
		},
		{
			name:  "header only, all media disconnected",
			in:    []byte("\nWindows IP Configuration\n\n\nEthernet adapter Ethernet0:\n\n   Media State . . . . . . . . . . . : Media disconnected\n"),
			found: true,
		},
		{
			name: "powershell property names are not ipconfig",
			in:   []byte("IPv4Address          : 10.1.0.10\nIPAddress         : 10.1.0.10\n"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ipconfigRun(f, tt.in)
			if diff := cmp.Diff(ipconfigAddrs(f, tt.want...), c.host.Addresses, ipconfigCmp); diff != "" {
				t.Errorf("scanIPConfig(%q) addresses mismatch (-want +got):\n%s", tt.in, diff)
			}
			if diff := cmp.Diff(tt.problems, regProblems(c.problems)); diff != "" {
				t.Errorf("scanIPConfig(%q) problems mismatch (-want +got):\n%s", tt.in, diff)
			}
			if got := len(c.formats) > 0; got != tt.found {
				t.Errorf("scanIPConfig(%q) formats = %v, want found %v", tt.in, c.formats, tt.found)
			}
		})
	}
}

// ipc renders ipconfig field lines: label, value pairs, indented by three
// spaces with the dotted leader up to column 39 as Windows prints them.
func ipc(pairs ...string) string {
	var b strings.Builder
	for i := 0; i+1 < len(pairs); i += 2 {
		label := pairs[i]
		if strings.HasSuffix(label, ":") { // an adapter header
			b.WriteString(label + "\n\n")
			i--
			continue
		}
		lead := label
		for len(lead) < 35 {
			if len(lead)%2 == 0 {
				lead += "."
			} else {
				lead += " "
			}
		}
		b.WriteString("   " + lead + " : " + pairs[i+1] + "\n")
	}
	return b.String()
}

func TestScanIPConfigSubnets(t *testing.T) {
	const f = "ip.txt"
	tests := []struct {
		name     string
		in       string
		subnets  []any
		problems []string
	}{
		{
			name:    "ipv4 address and mask, /32, duplicate, 0.0.0.0, repeats once",
			in:      ipc("IPv4 Address", "10.1.0.10(Preferred)", "Subnet Mask", "255.255.255.0", "IPv4 Address", "10.1.0.11(Preferred)", "Subnet Mask", "255.255.255.0", "IPv4 Address", "192.0.2.7", "Subnet Mask", "255.255.255.255", "IPv4 Address", "10.3.0.5(Duplicate)", "Subnet Mask", "255.255.0.0", "IP Address", "0.0.0.0", "Subnet Mask", "0.0.0.0"),
			subnets: []any{2, "10.1.0.0/24", 6, "192.0.2.7/32"},
		},
		{
			name:    "windows 2003 IP Address, APIPA, ipv6 IP Address",
			in:      "        IP Address. . . . . . . . . . . . : 10.2.0.5\n        Subnet Mask . . . . . . . . . . . : 255.255.254.0\n        IP Address. . . . . . . . . . . . : fe80::1%4\n        Autoconfiguration IP Address. . . : 169.254.9.9\n        Subnet Mask . . . . . . . . . . . : 255.255.0.0\n",
			subnets: []any{2, "10.2.0.0/23", 5, "169.254.0.0/16"},
		},
		{
			name: "multiple adapters",
			in: "\nWindows IP Configuration\n\n" + ipc("Ethernet adapter Ethernet0:", "IPv6 Address", "fd00::10", "IPv4 Address", "10.1.0.10", "Subnet Mask", "255.255.255.0", "Default Gateway", "10.1.0.1") +
				"\n" + ipc("Ethernet adapter Backup:", "IPv4 Address", "192.168.50.10", "Subnet Mask", "255.255.252.0", "Default Gateway", "") +
				"\n" + ipc("Tunnel adapter isatap.{6B1F4C2D}:", "Media State", "Media disconnected"),
			subnets: []any{8, "10.1.0.0/24", 14, "192.168.48.0/22"},
		},
		{
			name: "mask lines without an address",
			in: ipc("Subnet Mask", "255.255.255.0") + // before any address
				ipc("Ethernet adapter A:", "IPv4 Address", "10.1.0.10", "Ethernet adapter B:", "Subnet Mask", "255.255.0.0") + // other adapter
				ipc("IPv4 Address", "10.4.0.1", "IPv6 Address", "fd00::1", "Subnet Mask", "255.255.0.0") + // another address between
				ipc("IPv4 Address", "10.5.0.1", "Subnet Mask", "255.255.0.0", "Subnet Mask", "255.0.0.0") + // a second mask
				ipc("IPv4 Address", "10.6.0.300", "Subnet Mask", "255.255.0.0") + // the address was bad
				"Subnet Mask 255.255.255.0\n" + "SubnetMask : 255.255.255.0\n",
			subnets:  []any{12, "10.5.0.0/16"},
			problems: []string{`14: ipconfig address "10.6.0.300" is not an IP address`},
		},
		{
			name: "bad masks",
			in: ipc("IPv4 Address", "10.1.0.1", "Subnet Mask", "255.0.255.0", "IPv4 Address", "10.1.0.2", "Subnet Mask", "255.255.255.0x",
				"IPv4 Address", "10.1.0.3", "Subnet Mask", "", "IPv4 Address", "10.1.0.4", "Subnet Mask", "0.0.0.0",
				"IPv4 Address", "10.1.0.5", "Subnet Mask", "ffff:ffff::", "IPv4 Address", "10.1.0.6", "Subnet Mask", "255.255.255.1",
				"IPv4 Address", "10.1.0.7(Duplicate)", "Subnet Mask", "0.255.255.255"),
			problems: []string{
				`2: ipconfig subnet mask "255.0.255.0" is not contiguous`,
				`4: ipconfig subnet mask "255.255.255.0x" is not an IPv4 netmask`,
				`6: ipconfig subnet mask "" is not an IPv4 netmask`,
				`8: ipconfig subnet mask "0.0.0.0" has no network bits`,
				`10: ipconfig subnet mask "ffff:ffff::" is not an IPv4 netmask`,
				`12: ipconfig subnet mask "255.255.255.1" is not contiguous`,
				`14: ipconfig subnet mask "0.255.255.255" is not contiguous`,
			},
		},
		{
			name:    "left margin trimmed, crlf",
			in:      "Ethernet adapter Ethernet0:\r\n\r\nIPv4 Address. . . . . . . . . . . : 10.7.0.9\r\nSubnet Mask . . . . . . . . . . . : 255.255.255.192\r\nDefault Gateway . . . . . . . . . :\r\n",
			subnets: []any{4, "10.7.0.0/26"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ipconfigRun(f, []byte(tt.in))
			if diff := cmp.Diff(ipconfigSubnets(f, tt.subnets...), c.host.Subnets, ipconfigCmp); diff != "" {
				t.Errorf("scanIPConfig(%q) subnets mismatch (-want +got):\n%s", tt.in, diff)
			}
			if diff := cmp.Diff(tt.problems, regProblems(c.problems)); diff != "" {
				t.Errorf("scanIPConfig(%q) problems mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func FuzzIPConfig(f *testing.F) {
	seedDir(f, ipconfigDir)
	f.Add([]byte("   IPv6 Address. . . : fe80::1%12(Preferred)\n   IPv4 Address. . : 1.2.3.4()\n"))
	f.Add([]byte("Ethernet adapter A:\n   IPv4 Address. . : 10.1.0.10\n   Subnet Mask . . : 255.255.254.0\n" +
		"   IP Address. . : 10.2.0.5\n   Subnet Mask . . : 255.0.255.0\nB:\n   Subnet Mask . . : 255.255.255.0\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		lines := SplitLines(Decode(data))
		c := newCapture("fuzz")
		scanIPConfig(c, lines)
		for _, p := range c.problems {
			if p.Src.Line < 1 || p.Src.Line > len(lines) || p.Msg == "" {
				t.Errorf("problem %v: line outside 1-%d or no message", p, len(lines))
			}
		}
		seen := map[netip.Addr]bool{}
		for _, a := range c.host.Addresses {
			if !a.Addr.IsValid() || a.Addr.Zone() != "" || a.Addr.Is4In6() || !serverAddr(a.Addr) || seen[a.Addr] {
				t.Errorf("address %v kept", a.Addr)
			}
			seen[a.Addr] = true
			if a.Src.Line < 1 || a.Src.Line > len(lines) {
				t.Errorf("address %v: line %d outside 1-%d", a.Addr, a.Src.Line, len(lines))
			}
		}
		seenNet := map[netip.Prefix]bool{}
		for _, n := range c.host.Subnets {
			p := n.Prefix
			if !p.IsValid() || !p.Addr().Is4() || p != p.Masked() || p.Bits() < 1 || p.Addr().IsUnspecified() || seenNet[p] {
				t.Errorf("subnet %v kept", p)
			}
			seenNet[p] = true
			if n.Src.Line < 1 || n.Src.Line > len(lines) {
				t.Errorf("subnet %v: line %d outside 1-%d", p, n.Src.Line, len(lines))
			}
		}
		if c.host.Name != "" {
			t.Errorf("host name set to %q", c.host.Name)
		}
	})
}
