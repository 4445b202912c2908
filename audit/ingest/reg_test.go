package ingest

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/google/go-cmp/cmp"

	"github.com/rpcspan/rpcspan/audit"
)

const regDir = "testdata/corpus/reg"

// regRun runs scanReg on raw file bytes as ReadCapture would decode them.
func regRun(file string, b []byte) *capture {
	c := newCapture(file)
	scanReg(c, SplitLines(Decode(b)))
	return c
}

// regHex7 renders strings as regedit 5 writes a hex(7) value, unwrapped.
func regHex7(items ...string) string {
	var hex []string
	for _, s := range items {
		for _, x := range utf16.Encode([]rune(s)) {
			hex = append(hex, strconv.FormatUint(uint64(x&0xFF)|0x100, 16)[1:], strconv.FormatUint(uint64(x>>8)|0x100, 16)[1:])
		}
		hex = append(hex, "00", "00")
	}
	return "hex(7):" + strings.Join(append(hex, "00", "00"), ",")
}

// regPorts builds the expected entries, all read on line n of file.
func regPorts(file string, n int, texts ...string) []audit.PortsEntry {
	out := []audit.PortsEntry{}
	for _, s := range texts {
		out = append(out, audit.PortsEntry{Text: s, Src: audit.Source{File: file, Line: n}})
	}
	return out
}

func regFlag(file string, n int, v string) audit.Flag {
	return audit.Flag{Value: v, Src: audit.Source{File: file, Line: n}}
}

// regProblems renders problems as "line: message" for comparison.
func regProblems(ps []audit.Problem) []string {
	var out []string
	for _, p := range ps {
		out = append(out, strconv.Itoa(p.Src.Line)+": "+p.Msg)
	}
	return out
}

func TestScanRegCorpus(t *testing.T) {
	yyy := func(f string, portsLine int, typ string, pia, uip int, texts ...string) *audit.RPCInternet {
		return &audit.RPCInternet{
			Ports:                  regPorts(f, portsLine, texts...),
			PortsType:              typ,
			PortsInternetAvailable: regFlag(f, pia, "Y"),
			UseInternetPorts:       regFlag(f, uip, "Y"),
		}
	}
	tests := []struct {
		file string
		want func(f string) *audit.RPCInternet
	}{
		{"blog_smartquotes_5000-5100.reg", func(f string) *audit.RPCInternet {
			return yyy(f, 5, regTypeMultiSZ, 7, 9, "5000-5100")
		}},
		{"kb154596_doc_example.txt", func(f string) *audit.RPCInternet {
			return yyy(f, 1, regTypeMultiSZ, 2, 3, "5000-6000")
		}},
		{"reg5_hex7_6000-6050_with_default.reg", func(f string) *audit.RPCInternet {
			return yyy(f, 4, regTypeMultiSZ, 6, 7, "6000-6050")
		}},
		{"wrong_REG_SZ_ports_5000-5500.reg", func(f string) *audit.RPCInternet {
			return yyy(f, 2, regTypeSZ, 3, 4, "5000-5500")
		}},
		{"regedit5_utf16_wrapped_5000-5100_5984_6000-6100.reg", func(f string) *audit.RPCInternet {
			return yyy(f, 4, regTypeMultiSZ, 7, 8, "5000-5100", "5984", "6000-6100")
		}},
		{"regedit5_utf16_rpc_tree_invalid_entries_wow6432.reg", func(f string) *audit.RPCInternet {
			return &audit.RPCInternet{
				Ports:                  regPorts(f, 8, "5000-5100", "70000", "abc"),
				PortsType:              regTypeMultiSZ,
				PortsInternetAvailable: regFlag(f, 10, "N"),
				UseInternetPorts:       regFlag(f, 11, "y"),
			}
		}},
		{"regedit4_ansi_5000-5100_5984.reg", func(f string) *audit.RPCInternet {
			return yyy(f, 4, regTypeMultiSZ, 5, 6, "5000-5100", "5984")
		}},
		{"reg_query_cmd_5000-5100_5984_6000-6100.txt", func(f string) *audit.RPCInternet {
			return yyy(f, 5, regTypeMultiSZ, 6, 7, "5000-5100", "5984", "6000-6100")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f := filepath.Join(regDir, tt.file)
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			c := regRun(f, b)
			if diff := cmp.Diff(tt.want(f), c.host.RPC); diff != "" {
				t.Errorf("scanReg(%s) RPC mismatch (-want +got):\n%s", tt.file, diff)
			}
			if len(c.problems) != 0 {
				t.Errorf("scanReg(%s) problems = %v, want none", tt.file, c.problems)
			}
			if !cmp.Equal(c.formats, []string{"reg-rpc-internet"}) {
				t.Errorf("scanReg(%s) formats = %v, want [reg-rpc-internet]", tt.file, c.formats)
			}
		})
	}
}

func TestScanReg(t *testing.T) {
	const f = "x.reg"
	const hdr = "Windows Registry Editor Version 5.00\r\n\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Rpc\\Internet]\r\n"
	tests := []struct {
		name     string
		in       []byte
		want     *audit.RPCInternet
		problems []string
	}{
		{
			name: "utf16 bom crlf trailing spaces",
			in:   utf16LE(hdr+`"Ports"=`+regHex7("5000-5100", "6000")+"  \r\n\"UseInternetPorts\"=\"Y\"  \r\n", true),
			want: &audit.RPCInternet{Ports: regPorts(f, 4, "5000-5100", "6000"), PortsType: regTypeMultiSZ, UseInternetPorts: regFlag(f, 5, "Y")},
		},
		{
			name: "entries kept exactly, empty entry inside the list",
			in:   utf16LE(hdr+`"Ports"=`+regHex7(" 5000-5100", "", "6000 ")+"\r\n", true),
			want: &audit.RPCInternet{Ports: regPorts(f, 4, " 5000-5100", "", "6000 "), PortsType: regTypeMultiSZ},
		},
		{
			name: "empty multi-string",
			in:   []byte(hdr + "\"Ports\"=hex(7):00,00\r\n"),
			want: &audit.RPCInternet{Ports: regPorts(f, 4), PortsType: regTypeMultiSZ},
		},
		{
			name: "stray spaces, wrapped",
			in:   []byte(hdr + "\"Ports\"=hex(7):35,00,30,  00,30,00,\\\n   30,00,00,00 ,00,00\n\"PortsInternetAvailable\"=\"Y\"\n"),
			want: &audit.RPCInternet{Ports: regPorts(f, 4, "5000"), PortsType: regTypeMultiSZ, PortsInternetAvailable: regFlag(f, 6, "Y")},
		},
		{
			name: "value names ignore case, HKLM and lower case key",
			in:   []byte("[hklm\\software\\microsoft\\rpc\\internet]\n\"PORTS\"=\"5000-5500\"\n\"useinternetports\"=\"N\"\n"),
			want: &audit.RPCInternet{Ports: regPorts(f, 2, "5000-5500"), PortsType: regTypeSZ, UseInternetPorts: regFlag(f, 3, "N")},
		},
		{
			name: "no key line reads a snippet as the key",
			in:   []byte("\"Ports\"=\"5000-5500\"\n"),
			want: &audit.RPCInternet{Ports: regPorts(f, 1, "5000-5500"), PortsType: regTypeSZ},
		},
		{
			name: "values before the key line and under other keys ignored",
			in: []byte("REGEDIT4\n\"Ports\"=\"1-2\"\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Wow6432Node\\Microsoft\\Rpc\\Internet]\n\"Ports\"=\"3-4\"\n" +
				"[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Rpc\\Internet\\Sub]\n\"UseInternetPorts\"=\"Y\"\n" +
				"[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Rpc\\Internet]\n@=\"\"\n\"Other\"=\"x\"\n\"PortsInternetAvailable\"=\"Y\"\n"),
			want: &audit.RPCInternet{PortsInternetAvailable: regFlag(f, 10, "Y")},
		},
		{
			name: "only other keys",
			in:   []byte("[HKEY_LOCAL_MACHINE\\SOFTWARE\\Wow6432Node\\Microsoft\\Rpc\\Internet]\n\"Ports\"=hex(7):zz\n"),
		},
		{
			name: "deleted value and deleted key",
			in:   []byte(hdr + "\"Ports\"=-\n[-HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Rpc\\Internet]\n\"UseInternetPorts\"=\"Y\"\n"),
		},
		{
			name: "escaped string and spaces around =",
			in:   []byte(hdr + "\"Ports\" = \"50\\\"00\\\\\"\n"),
			want: &audit.RPCInternet{Ports: regPorts(f, 4, `50"00\`), PortsType: regTypeSZ},
		},
		{
			name: "regedit4 single-byte strings",
			in:   []byte("REGEDIT4\r\n\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Rpc\\Internet]\r\n\"Ports\"=hex(7):37,30,30,30,30,00,61,62,63,00,00\r\n"),
			want: &audit.RPCInternet{Ports: regPorts(f, 4, "70000", "abc"), PortsType: regTypeMultiSZ},
		},
		{
			name: "snippet without header guesses single-byte",
			in:   []byte("\"Ports\"=hex(7):35,30,30,30,00,00\n"),
			want: &audit.RPCInternet{Ports: regPorts(f, 1, "5000"), PortsType: regTypeMultiSZ},
		},
		{
			name:     "odd byte count",
			in:       []byte(hdr + "\"Ports\"=hex(7):35,00,30,00,00\n\"UseInternetPorts\"=\"Y\"\n"),
			want:     &audit.RPCInternet{UseInternetPorts: regFlag(f, 5, "Y")},
			problems: []string{`4: registry value "Ports": hex(7) data has an odd number of bytes (5) for UTF-16 strings`},
		},
		{
			name:     "bad hex digit",
			in:       []byte(hdr + "\"Ports\"=hex(7):35,0g,00,00\n"),
			problems: []string{`4: registry value "Ports": hex(7) data: "0g" is not a hex byte`},
		},
		{
			name:     "empty hex byte",
			in:       []byte(hdr + "\"Ports\"=hex(7):35,,00,00\n"),
			problems: []string{`4: registry value "Ports": hex(7) data: "" is not a hex byte`},
		},
		{
			name: "wrong types",
			in:   []byte(hdr + "\"Ports\"=dword:00001388\n\"UseInternetPorts\"=hex(7):59,00,00,00,00,00\n\"PortsInternetAvailable\"=dword:00000001\n"),
			problems: []string{
				`4: registry value "Ports" has type "dword"; want a multi-string (hex(7))`,
				`5: registry value "UseInternetPorts" is a multi-string (hex(7)); Windows reads it only as a string`,
				`6: registry value "PortsInternetAvailable" has type "dword"; want a string`,
			},
		},
		{
			name:     "unterminated string",
			in:       []byte(hdr + "\"Ports\"=\"5000-5500\n"),
			problems: []string{`4: registry value "Ports": unterminated string "\"5000-5500"`},
		},
		{
			name:     "text after the string",
			in:       []byte(hdr + "\"UseInternetPorts\"=\"Y\" yes\n"),
			problems: []string{`4: registry value "UseInternetPorts": unexpected text "yes" after the string`},
		},
		{
			name: "reg query with trailing spaces and empty flag",
			in: []byte("HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Rpc\\Internet\r\n    Ports    REG_MULTI_SZ    5000-5100\\0\\070000  \r\n" +
				"    UseInternetPorts    REG_SZ\r\n    Other    REG_SZ    x\r\n"),
			want: &audit.RPCInternet{Ports: regPorts(f, 2, "5000-5100", "", "70000"), PortsType: regTypeMultiSZ, UseInternetPorts: regFlag(f, 3, "")},
		},
		{
			name: "reg query REG_SZ ports and empty multi-string",
			in:   []byte("HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Rpc\\Internet\n    Ports    REG_SZ    5000-5500\n    Ports    REG_MULTI_SZ    \n"),
			want: &audit.RPCInternet{Ports: regPorts(f, 3), PortsType: regTypeMultiSZ},
		},
		{
			name: "remote reg query",
			in:   []byte("\\\\DC01\\HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Rpc\\Internet\n    Ports    REG_SZ    5000-5500\n"),
			want: &audit.RPCInternet{Ports: regPorts(f, 2, "5000-5500"), PortsType: regTypeSZ},
		},
		{
			name:     "reg query wrong types",
			in:       []byte("HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Rpc\\Internet\n    Ports    REG_EXPAND_SZ    5000\n    UseInternetPorts    REG_DWORD    0x1\n"),
			problems: []string{`2: registry value "Ports" has type "REG_EXPAND_SZ"; want REG_MULTI_SZ`, `3: registry value "UseInternetPorts" has type "REG_DWORD"; want REG_SZ`},
		},
		{
			name: "reg query of another key",
			in:   []byte("HKEY_LOCAL_MACHINE\\SOFTWARE\\Wow6432Node\\Microsoft\\Rpc\\Internet\n    Ports    REG_MULTI_SZ    5000\n"),
		},
		{
			name: "documentation form with quote marks",
			in:   []byte("> Ports: REG_MULTI_SZ: 5000-6000  \n> UseInternetPorts: REG_SZ: Y  \n"),
			want: &audit.RPCInternet{Ports: regPorts(f, 1, "5000-6000"), PortsType: regTypeMultiSZ, UseInternetPorts: regFlag(f, 2, "Y")},
		},
		{
			name: "not registry text",
			in:   []byte("Ports: 135\nports are open\n[global]\n"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := regRun(f, tt.in)
			if diff := cmp.Diff(tt.want, c.host.RPC); diff != "" {
				t.Errorf("scanReg(%q) RPC mismatch (-want +got):\n%s", tt.in, diff)
			}
			if diff := cmp.Diff(tt.problems, regProblems(c.problems)); diff != "" {
				t.Errorf("scanReg(%q) problems mismatch (-want +got):\n%s", tt.in, diff)
			}
			wantFound := tt.want != nil
			if got := len(c.formats) == 1 && c.formats[0] == "reg-rpc-internet"; got != wantFound || len(c.formats) > 1 {
				t.Errorf("scanReg(%q) formats = %v, want found %v", tt.in, c.formats, wantFound)
			}
		})
	}
}

func TestRegKeyPath(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{`HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Rpc\Internet`, rpcInternetKey, true},
		{`HKLM\Software\Microsoft\Rpc\Internet\`, rpcInternetKey, true},
		{`Computer\HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Rpc\Internet`, rpcInternetKey, true},
		{`\\DC01\HKLM\SOFTWARE\Microsoft\Rpc\Internet`, rpcInternetKey, true},
		{`HKEY_LOCAL_MACHINE\SOFTWARE\Wow6432Node\Microsoft\Rpc\Internet`, `hklm\software\wow6432node\microsoft\rpc\internet`, true},
		{`HKEY_CURRENT_USER\Software`, `hkey_current_user\software`, true},
		{`C:\Windows`, "", false},
		{`global`, "", false},
		{`\\DC01`, "", false},
	}
	for _, tt := range tests {
		got, ok := regKeyPath(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("regKeyPath(%q) = %q, %v, want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestSplitMultiSZ(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", []string{}},
		{"\x00", []string{}},
		{"\x00\x00", []string{}},
		{"5000\x00\x00", []string{"5000"}},
		{"5000\x00", []string{"5000"}},
		{"5000", []string{"5000"}},
		{"5000\x00\x006000\x00\x00", []string{"5000", "", "6000"}},
		{"5000\x00\x00\x00", []string{"5000", ""}},
	}
	for _, tt := range tests {
		if got := splitMultiSZ([]rune(tt.in)); !cmp.Equal(got, tt.want) {
			t.Errorf("splitMultiSZ(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzReg(f *testing.F) {
	seedDir(f, regDir)
	f.Add(utf16LE("Windows Registry Editor Version 5.00\r\n[HKLM\\SOFTWARE\\Microsoft\\Rpc\\Internet]\r\n\"Ports\"=hex(7):35,00,\\\r\n  00,00\r\n", true))
	f.Fuzz(func(t *testing.T, data []byte) {
		lines := SplitLines(Decode(data))
		c := newCapture("fuzz")
		scanReg(c, lines)
		for _, p := range c.problems {
			if p.Src.Line < 1 || p.Src.Line > len(lines) || p.Msg == "" {
				t.Errorf("problem %v: line outside 1-%d or no message", p, len(lines))
			}
		}
		rpc := c.host.RPC
		if rpc == nil {
			if len(c.formats) != 0 {
				t.Errorf("formats %v without Rpc\\Internet values", c.formats)
			}
			return
		}
		if !cmp.Equal(c.formats, []string{"reg-rpc-internet"}) {
			t.Errorf("formats = %v, want [reg-rpc-internet]", c.formats)
		}
		if rpc.PortsType != "" && rpc.PortsType != regTypeMultiSZ && rpc.PortsType != regTypeSZ {
			t.Errorf("PortsType = %q", rpc.PortsType)
		}
		if rpc.PortsType == "" && len(rpc.Ports) != 0 {
			t.Errorf("Ports %v without a type", rpc.Ports)
		}
		for _, e := range rpc.Ports {
			if e.Src.Line < 1 || e.Src.Line > len(lines) {
				t.Errorf("entry %q: line %d outside 1-%d", e.Text, e.Src.Line, len(lines))
			}
		}
	})
}
