package ingest

import (
	"net/netip"
	"os"
	"path/filepath"
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

var ipconfigCmp = cmp.Comparer(func(a, b netip.Addr) bool { return a == b })

func TestScanIPConfigFiles(t *testing.T) {
	tests := []struct {
		file string
		want []any
	}{
		{"ipconfig_ws2019_fs01_cmd.txt", []any{8, "fd00:10:1::10", 10, "10.1.0.10", 24, "192.168.50.10"}},
		{"ipconfig_all_ws2019_dc01_cmd.txt", []any{18, "fd00:10:1::10", 19, "fd00:10:1::53", 21, "10.1.0.10", 23, "10.1.0.53"}},
		{"ipconfig_all_ws2019_hv01_hyperv_ps51_utf16.txt", []any{18, "2001:db8:10:1::25", 21, "10.1.0.25", 42, "192.168.100.1"}},
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

func FuzzIPConfig(f *testing.F) {
	seedDir(f, ipconfigDir)
	f.Add([]byte("   IPv6 Address. . . : fe80::1%12(Preferred)\n   IPv4 Address. . : 1.2.3.4()\n"))
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
		if c.host.Name != "" {
			t.Errorf("host name set to %q", c.host.Name)
		}
	})
}
