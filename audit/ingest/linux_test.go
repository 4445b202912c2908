package ingest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rpcspan/rpcspan/audit"
)

const linuxDir = "testdata/corpus/linux"

func linuxRun(file string, b []byte) *capture {
	c := newCapture(file)
	scanLinux(c, SplitLines(Decode(b)))
	return c
}

// linuxObs builds the observations of one range read on line n for keys.
func linuxObs(file string, n int, first, last uint16, keys ...audit.Key) []audit.RangeObs {
	var out []audit.RangeObs
	for _, k := range keys {
		out = append(out, audit.RangeObs{Key: k, Range: audit.PortRange{First: first, Last: last}, Origin: audit.Captured, Src: audit.Source{File: file, Line: n}})
	}
	return out
}

var linuxTCP = []audit.Key{audit.TCP4, audit.TCP6}

func TestScanLinuxCorpus(t *testing.T) {
	tests := []struct {
		file    string
		want    func(f string) []audit.RangeObs
		formats []string
	}{
		{"proc_ip_local_port_range_default_tab.txt", func(f string) []audit.RangeObs {
			return linuxObs(f, 2, 32768, 60999, audit.Keys...)
		}, []string{"linux-ip-local-port-range"}},
		{"kernel_ip-sysctl_rst_ip_local_port_range.txt", func(string) []audit.RangeObs { return nil }, nil},
		{"samba_docs-xml_rpcserverdynamicportrange.xml", func(string) []audit.RangeObs { return nil }, nil},
		{"smb.conf_samba_dc_rpc_range_49152-49200.conf", func(f string) []audit.RangeObs {
			return linuxObs(f, 10, 49152, 49200, linuxTCP...)
		}, []string{"smb.conf"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f := filepath.Join(linuxDir, tt.file)
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			c := linuxRun(f, b)
			if diff := cmp.Diff(tt.want(f), c.host.Ranges); diff != "" {
				t.Errorf("scanLinux(%s) ranges mismatch (-want +got):\n%s", tt.file, diff)
			}
			if len(c.problems) != 0 {
				t.Errorf("scanLinux(%s) problems = %v, want none", tt.file, c.problems)
			}
			if !cmp.Equal(c.formats, tt.formats) {
				t.Errorf("scanLinux(%s) formats = %v, want %v", tt.file, c.formats, tt.formats)
			}
		})
	}
}

func TestScanLinux(t *testing.T) {
	const f = "l.txt"
	all := audit.Keys
	tests := []struct {
		name     string
		in       []byte
		want     []audit.RangeObs
		problems []string
		formats  []string
	}{
		{
			name:    "proc file alone",
			in:      []byte("32768\t60999\n"),
			want:    linuxObs(f, 1, 32768, 60999, all...),
			formats: []string{"linux-ip-local-port-range"},
		},
		{
			name:    "proc file with spaces, CRLF and blank lines",
			in:      []byte("\r\n  1024   65000  \r\n\r\n"),
			want:    linuxObs(f, 2, 1024, 65000, all...),
			formats: []string{"linux-ip-local-port-range"},
		},
		{
			name:    "utf16 bom",
			in:      utf16LE("32768\t60999\r\n", true),
			want:    linuxObs(f, 1, 32768, 60999, all...),
			formats: []string{"linux-ip-local-port-range"},
		},
		{
			name:     "proc file out of range",
			in:       []byte("32768 70000\n"),
			problems: []string{`1: ip_local_port_range "32768 70000": port outside 0-65535`},
			formats:  []string{"linux-ip-local-port-range"},
		},
		{
			name:     "proc file reversed",
			in:       []byte("60999 32768\n"),
			problems: []string{`1: ip_local_port_range "60999 32768": last port below first`},
			formats:  []string{"linux-ip-local-port-range"},
		},
		{
			name: "two lines of numbers are not the proc file",
			in:   []byte("32768 60999\n1 2\n"),
		},
		{
			name: "three numbers are not the proc file",
			in:   []byte("1 2 3\n"),
		},
		{
			name:    "prompt then value",
			in:      []byte("$ cat /proc/sys/net/ipv4/ip_local_port_range\n\n32768\t60999\n$ uname -r\n6.1.0\n"),
			want:    linuxObs(f, 3, 32768, 60999, all...),
			formats: []string{"linux-ip-local-port-range"},
		},
		{
			name: "prompt followed by other text",
			in:   []byte("$ cat /proc/sys/net/ipv4/ip_local_port_range\ncat: permission denied\n"),
		},
		{
			name:    "sysctl output",
			in:      []byte("# sysctl net.ipv4.ip_local_port_range\nnet.ipv4.ip_local_port_range = 32768\t60999\nnet.ipv4.ip_local_reserved_ports = \n"),
			want:    linuxObs(f, 2, 32768, 60999, all...),
			formats: []string{"linux-ip-local-port-range"},
		},
		{
			name:    "sysctl.conf without spaces, commented line ignored",
			in:      []byte("# net.ipv4.ip_local_port_range = 1 2\nnet.ipv4.ip_local_port_range=1024 65535\n"),
			want:    linuxObs(f, 2, 1024, 65535, all...),
			formats: []string{"linux-ip-local-port-range"},
		},
		{
			name:     "sysctl bad value",
			in:       []byte("net.ipv4.ip_local_port_range = 32768-60999\n"),
			problems: []string{`1: ip_local_port_range "32768-60999": want two port numbers`},
			formats:  []string{"linux-ip-local-port-range"},
		},
		{
			name:    "smb.conf spelled without spaces, before any section",
			in:      []byte("; samba\n  RPCServerDynamicPortRange=50000 - 50100\n[homes]\n"),
			want:    linuxObs(f, 2, 50000, 50100, linuxTCP...),
			formats: []string{"smb.conf"},
		},
		{
			name:    "smb.conf continuation line",
			in:      []byte("[Global]\n\trpc server dynamic port range = 49152-\\\n\t\t65535\n"),
			want:    linuxObs(f, 2, 49152, 65535, linuxTCP...),
			formats: []string{"smb.conf"},
		},
		{
			name: "smb.conf outside global and commented",
			in:   []byte("[global]\n# rpc server dynamic port range = 1-2\n;rpc server dynamic port range = 1-2\n[share]\nrpc server dynamic port range = 1-2\n"),
		},
		{
			name: "smb.conf bad values",
			in: []byte("[global]\nrpc server dynamic port range = 49152\nrpc server dynamic port range = 49152+100\n" +
				"rpc server dynamic port range = 1000-2000\nrpc server dynamic port range = 60000-50000\nrpc server dynamic port range = 50000-70000\n"),
			problems: []string{
				`2: rpc server dynamic port range "49152": want FIRST-LAST`,
				`3: rpc server dynamic port range "49152+100": want FIRST-LAST`,
				`4: rpc server dynamic port range "1000-2000": samba accepts ports 1024-65535 only`,
				`5: rpc server dynamic port range "60000-50000": last port below first`,
				`6: rpc server dynamic port range "50000-70000": samba accepts ports 1024-65535 only`,
			},
			formats: []string{"smb.conf"},
		},
		{
			name:    "rpc server port is reported",
			in:      []byte("[global]\nrpc server port = 1000\nrpc server port:netlogon = 1001\nrpc server port = 0\nrpc server dynamic port ranges = 1-2\n"),
			formats: []string{"smb.conf"},
			problems: []string{
				"2: rpc server port = 1000: Samba serves RPC on a fixed port here, which rpcspan does not model; its span is used instead",
				"3: rpc server port:netlogon = 1001: Samba serves RPC on a fixed port here, which rpcspan does not model; its span is used instead",
			},
		},
		{
			name:    "smb.conf without the range runs on the default",
			in:      []byte("# Global parameters\n[global]\n\tnetbios name = SMB01\n\tworkgroup = CORP\n[share]\n\tpath = /srv\n"),
			want:    linuxObs(f, 2, 49152, 65535, linuxTCP...),
			formats: []string{"smb.conf"},
		},
		{
			name: "another ini file with a [global] section",
			in:   []byte("[global]\nname = x\ntimeout = 5\n"),
		},
		{
			name: "samba parameters outside [global]",
			in:   []byte("[share]\nworkgroup = CORP\n"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := linuxRun(f, tt.in)
			if diff := cmp.Diff(tt.want, c.host.Ranges); diff != "" {
				t.Errorf("scanLinux(%q) ranges mismatch (-want +got):\n%s", tt.in, diff)
			}
			if diff := cmp.Diff(tt.problems, regProblems(c.problems)); diff != "" {
				t.Errorf("scanLinux(%q) problems mismatch (-want +got):\n%s", tt.in, diff)
			}
			if !cmp.Equal(c.formats, tt.formats) {
				t.Errorf("scanLinux(%q) formats = %v, want %v", tt.in, c.formats, tt.formats)
			}
		})
	}
}

func FuzzLinux(f *testing.F) {
	seedDir(f, linuxDir)
	f.Add([]byte("cat ip_local_port_range\n# 1 2\n[global]\nrpc server dynamic port range = 5-\\\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		lines := SplitLines(Decode(data))
		c := newCapture("fuzz")
		scanLinux(c, lines)
		for _, p := range c.problems {
			if p.Src.Line < 1 || p.Src.Line > len(lines) || p.Msg == "" {
				t.Errorf("problem %v: line outside 1-%d or no message", p, len(lines))
			}
		}
		for _, o := range c.host.Ranges {
			if o.Range.First > o.Range.Last || o.Origin != audit.Captured {
				t.Errorf("range %+v", o)
			}
			if o.Src.Line < 1 || o.Src.Line > len(lines) {
				t.Errorf("range %v: line %d outside 1-%d", o.Range, o.Src.Line, len(lines))
			}
		}
		if len(c.host.Ranges) > 0 && len(c.formats) == 0 {
			t.Errorf("ranges without a format")
		}
	})
}
