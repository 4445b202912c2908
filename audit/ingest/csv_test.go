package ingest

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rpcspan/rpcspan/audit"
)

func csvRead(t *testing.T, file string, b []byte) *Result {
	t.Helper()
	r, err := ReadCSV(bytes.NewReader(b), file)
	if err != nil {
		t.Fatalf("ReadCSV(%s) error: %v", file, err)
	}
	if r.Fatal != nil {
		t.Fatalf("ReadCSV(%s): fatal %v", file, r.Fatal)
	}
	return r
}

func csvEstate(f invFile) []*audit.Host {
	y := func(line int) audit.Flag { return audit.Flag{Value: "Y", Src: f.src(line)} }
	return []*audit.Host{
		{
			Name: "DC01", NameSrc: f.src(2),
			Addresses: []audit.Addr{f.addr("10.1.0.10", 2), f.addr("fd00:1::10", 2)},
			Groups:    []string{"dc"},
			OS:        "Windows Server 2019",
			Ranges: []audit.RangeObs{
				f.rng(audit.TCP4, 49152, 65535, 2), f.rng(audit.UDP4, 49152, 65535, 2),
				f.rng(audit.TCP6, 49152, 65535, 2), f.rng(audit.UDP6, 49152, 65535, 2),
			},
		},
		{
			Name: "DC02", NameSrc: f.src(3),
			Addresses: []audit.Addr{f.addr("10.1.0.11", 3), f.addr("fd00:1::11", 3)},
			Groups:    []string{"dc"},
			OS:        "Windows Server 2022",
			Ranges:    []audit.RangeObs{f.rng(audit.TCP4, 49152, 65535, 3), f.rng(audit.TCP6, 49152, 65535, 3)},
		},
		{
			Name: "EXCH01", NameSrc: f.src(4),
			Addresses: []audit.Addr{f.addr("10.1.0.20", 4)},
			Groups:    []string{"exchange", "servers"},
			OS:        "Windows Server 2008 R2",
			Ranges: []audit.RangeObs{
				f.rng(audit.TCP4, 1025, 60000, 4), f.rng(audit.UDP4, 1025, 60000, 4),
				f.rng(audit.TCP6, 1025, 60000, 4), f.rng(audit.UDP6, 1025, 60000, 4),
			},
		},
		{
			Name: "FS01", NameSrc: f.src(5),
			Addresses: []audit.Addr{f.addr("10.1.0.30", 5)},
			Groups:    []string{"servers"},
			Ranges:    []audit.RangeObs{f.rng(audit.TCP4, 49152, 65535, 5), f.rng(audit.TCP6, 49152, 65535, 5)},
			RPC: &audit.RPCInternet{
				Ports:                  []audit.PortsEntry{{Text: "5000-5100", Src: f.src(5)}, {Text: "5984", Src: f.src(5)}},
				PortsType:              "REG_MULTI_SZ",
				PortsInternetAvailable: y(5),
				UseInternetPorts:       y(5),
			},
		},
		{
			Name: "LEGACY03.corp.contoso.com", NameSrc: f.src(6),
			Addresses: []audit.Addr{f.addr("10.1.0.40", 6)},
			Groups:    []string{"servers", "legacy"},
			OS:        "Windows Server 2003",
			Ranges:    []audit.RangeObs{f.rng(audit.TCP4, 1025, 5000, 6), f.rng(audit.UDP4, 5000, 5000, 6), f.rng(audit.TCP6, 1025, 5000, 6)},
		},
	}
}

func TestReadCSVEstate(t *testing.T) {
	plain := readTestdata(t, "inventory", "estate.csv")
	crlf := bytes.ReplaceAll(plain, []byte("\n"), []byte("\r\n"))
	tests := map[string][]byte{
		"plain":             plain,
		"crlf":              crlf,
		"utf-8 bom":         append([]byte{0xEF, 0xBB, 0xBF}, crlf...),
		"utf-16le bom crlf": utf16LE(string(crlf), true),
		"trailing spaces":   bytes.ReplaceAll(plain, []byte("\n"), []byte("   \n")),
	}
	want := csvEstate("estate.csv")
	for name, b := range tests {
		t.Run(name, func(t *testing.T) {
			r := csvRead(t, "estate.csv", b)
			if r.Kind != KindCSV {
				t.Errorf("Kind = %q, want %q", r.Kind, KindCSV)
			}
			if len(r.Problems) > 0 {
				t.Errorf("ReadCSV(estate.csv) problems %q, want none", invProblems(r))
			}
			if diff := cmp.Diff(want, r.Hosts, invCmp...); diff != "" {
				t.Errorf("ReadCSV(estate.csv) hosts (-want +got):\n%s", diff)
			}
		})
	}
}

// TestReadCSVLikeYAML checks that the CSV and YAML forms of the estate
// describe the same dynamic ranges.
func TestReadCSVLikeYAML(t *testing.T) {
	c := csvRead(t, "estate.csv", readTestdata(t, "inventory", "estate.csv"))
	y := invRead(t, "estate.yaml", string(readTestdata(t, "inventory", "estate.yaml")))
	for i, h := range y.Hosts {
		for _, k := range audit.Keys {
			yo, yok := h.Range(k)
			co, cok := c.Hosts[i].Range(k)
			if yok != cok || yo.Range != co.Range {
				t.Errorf("%s %s: yaml %v (%v), csv %v (%v)", h.Name, k, yo.Range, yok, co.Range, cok)
			}
		}
		if !cmp.Equal(h.AddrList(), c.Hosts[i].AddrList(), invCmp...) {
			t.Errorf("%s addresses: yaml %v, csv %v", h.Name, h.AddrList(), c.Hosts[i].AddrList())
		}
	}
}

func TestReadCSVProblems(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		hosts    []string
		problems []string
	}{
		{name: "empty file", in: ""},
		{name: "header only", in: "name,addresses,groups,tcp4,udp4,tcp6,udp6\n"},
		{
			name:  "bad.csv",
			in:    string(readTestdata(t, "inventory", "bad.csv")),
			hosts: []string{"DC01", "DC03"},
			problems: []string{
				`inv.csv:1: unknown column "colour" (want name, addresses, groups, tcp4, udp4, tcp6, udp6, tcp, udp, os, apps, rpc_ports, excluded or sources)`,
				`inv.csv:2: DC01: addresses: "10.1.0.300" is not an IP address`,
				`inv.csv:2: DC01: tcp4: port range "70000-70001": first: port 70000 outside 0-65535`,
				`inv.csv:2: DC01: udp4: port range "49152+lots": count: "lots" is not a number of ports`,
				`inv.csv:3: host skipped: host name "DC\"01" contains '"' (allowed: letters, digits, '-', '_', '.')`,
				`inv.csv:4: host skipped: empty host name`,
				`inv.csv:5: row has 2 fields, the header has 6`,
				`inv.csv:6: DC01: duplicate host name "dc01" (first at line 2); merged into the first`,
				`inv.csv:6: DC01: groups: group name "bad/group" contains '/' (allowed: letters, digits, '-', '_', '.')`,
			},
		},
		{
			name:  "no name column",
			in:    "host,addresses\nh1,10.0.0.1\n",
			hosts: nil,
			problems: []string{
				`inv.csv:1: unknown column "host" (want name, addresses, groups, tcp4, udp4, tcp6, udp6, tcp, udp, os, apps, rpc_ports, excluded or sources)`,
				`inv.csv:1: no name column: want a header such as name,addresses,groups,tcp4,udp4,tcp6,udp6`,
			},
		},
		{
			name:     "column twice",
			in:       "name,Name,tcp4\nh1,h2,1-2\n",
			hosts:    []string{"h1"},
			problems: []string{`inv.csv:1: column "Name" given twice; the second is ignored`},
		},
		{
			name:     "bare quote",
			in:       "name,tcp4\nDC\"01,1-2\nDC02,1-2\n",
			hosts:    []string{"DC02"},
			problems: []string{`inv.csv:2: row skipped: bare " in non-quoted-field`},
		},
		{
			name:     "quote never closed",
			in:       "name,tcp4\nDC01,1-2\n\"DC02,1-2\nDC03,1-2\n",
			hosts:    []string{"DC01"},
			problems: []string{`inv.csv:3: row skipped: extraneous or missing " in quoted-field`},
		},
		{
			name:  "spreadsheet rows of bare commas and comments",
			in:    "name,addresses,groups\n# a comment\nh1,10.0.0.1,\n,,\n , , \n",
			hosts: []string{"h1"},
		},
		{
			name:     "unnamed column with data",
			in:       "name,,tcp4,\nh1,,1-2,\nh2,x,,\nh3,y,,z\n",
			hosts:    []string{"h1", "h2", "h3"},
			problems: []string{`inv.csv:3: column 2 has no name in the header; its cells are ignored`},
		},
		{
			name:  "excluded column",
			in:    "name,excluded\nh1,tcp4:50000-50059 udp:1-2;bad;tcp9:1-2;tcp4:x\n",
			hosts: []string{"h1"},
			problems: []string{
				`inv.csv:2: h1: excluded: "bad": want KEY:RANGE such as tcp4:50000-50059`,
				`inv.csv:2: h1: excluded: unknown range key "tcp9" (want tcp, udp, tcp4, udp4, tcp6 or udp6)`,
				`inv.csv:2: h1: excluded: port range "x": "x" is not a port number`,
			},
		},
		{
			name:     "multi-line cell",
			in:       "name,os\nh1,\"Windows\nServer\"\nh2,x\n",
			hosts:    []string{"h1", "h2"},
			problems: []string{`inv.csv:2: h1: os: "Windows\nServer" contains a control character`},
		},
		{
			name:  "bad apps and empty rpc_ports",
			in:    "name,apps,rpc_ports\nh1,a;b\x7f,\n",
			hosts: []string{"h1"},
			problems: []string{
				`inv.csv:2: h1: apps: "b\x7f" contains a control character`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := csvRead(t, "inv.csv", []byte(tt.in))
			if diff := cmp.Diff(tt.hosts, invNames(r)); diff != "" {
				t.Errorf("ReadCSV(%q) hosts (-want +got):\n%s", tt.in, diff)
			}
			if diff := cmp.Diff(tt.problems, invProblems(r)); diff != "" {
				t.Errorf("ReadCSV(%q) problems (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestReadCSVValues(t *testing.T) {
	f := invFile("inv.csv")
	y := func(line int) audit.Flag { return audit.Flag{Value: "Y", Src: f.src(line)} }
	tests := []struct {
		name string
		in   string
		want *audit.Host
	}{
		{
			name: "header in any order and case, tcp4 beats tcp",
			in:   "TCP4,ADDRESSES,Name,tcp\n1025-5000,\"10.0.0.1, 10.0.0.2\",h1,49152-65535\n",
			want: &audit.Host{
				Name: "h1", NameSrc: f.src(2),
				Addresses: []audit.Addr{f.addr("10.0.0.1", 2), f.addr("10.0.0.2", 2)},
				Ranges: []audit.RangeObs{
					f.rng(audit.TCP4, 49152, 65535, 2), f.rng(audit.TCP6, 49152, 65535, 2), f.rng(audit.TCP4, 1025, 5000, 2),
				},
			},
		},
		{
			name: "rpcspan's own csv output reads back",
			in: "name,addresses,groups,tcp4,udp4,tcp6,udp6,os,rpc_ports,excluded,sources\n" +
				"h1,10.0.0.1 ::ffff:10.0.0.2,dc,49152-65535,,,,'=cmd,5000-5100 5984,tcp4:50000-50059 tcp6:50000-50059,inv.yaml:3 caps/h1.txt:4\n",
			want: &audit.Host{
				Name: "h1", NameSrc: f.src(2),
				Addresses: []audit.Addr{f.addr("10.0.0.1", 2), f.addr("10.0.0.2", 2)},
				Groups:    []string{"dc"},
				OS:        "=cmd",
				Ranges:    []audit.RangeObs{f.rng(audit.TCP4, 49152, 65535, 2)},
				Excluded:  []audit.Excluded{f.excl(audit.TCP4, 50000, 50059, 2), f.excl(audit.TCP6, 50000, 50059, 2)},
				RPC: &audit.RPCInternet{
					Ports:                  []audit.PortsEntry{{Text: "5000-5100", Src: f.src(2)}, {Text: "5984", Src: f.src(2)}},
					PortsType:              "REG_MULTI_SZ",
					PortsInternetAvailable: y(2),
					UseInternetPorts:       y(2),
				},
			},
		},
		{
			name: "udp both families, apps",
			in:   "name,udp,apps\n\nh1, 49152 + 16384 ,exchange-2007;sql\n",
			want: &audit.Host{
				Name: "h1", NameSrc: f.src(3),
				Apps:   []string{"exchange-2007", "sql"},
				Ranges: []audit.RangeObs{f.rng(audit.UDP4, 49152, 65535, 3), f.rng(audit.UDP6, 49152, 65535, 3)},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := csvRead(t, "inv.csv", []byte(tt.in))
			if len(r.Problems) > 0 || len(r.Hosts) != 1 {
				t.Fatalf("ReadCSV(%q) = %d hosts, problems %q; want 1 host, no problems", tt.in, len(r.Hosts), invProblems(r))
			}
			if diff := cmp.Diff(tt.want, r.Hosts[0], invCmp...); diff != "" {
				t.Errorf("ReadCSV(%q) host (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func FuzzCSV(f *testing.F) {
	for _, name := range []string{"estate.csv", "bad.csv"} {
		f.Add(readTestdata(f, "inventory", name))
	}
	f.Add([]byte("name,,tcp4,excluded,rpc_ports\nh1,x,1-2,tcp:1-2,5000\n\"h2\nx\",\"\n"))
	f.Add(utf16LE("name,tcp\r\nDC01,49152+16384\r\n", true))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ReadCSV(bytes.NewReader(b), "fuzz.csv")
		if err != nil {
			t.Fatalf("ReadCSV error %v", err)
		}
		if r.Fatal != nil || r.Kind != KindCSV {
			t.Fatalf("ReadCSV = kind %q, fatal %v", r.Kind, r.Fatal)
		}
		invCheckResult(t, r, "fuzz.csv")
	})
}
