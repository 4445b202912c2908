package ingest

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/rpcspan/rpcspan/audit"
)

// invCmp compares hosts, baselines and policies: netip values by value.
var invCmp = []cmp.Option{
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
	cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
}

// invIgnoreSrc leaves sources out of a comparison (the YAML and JSON twins
// say the same on different lines).
var invIgnoreSrc = cmpopts.IgnoreTypes(audit.Source{})

func invRead(t *testing.T, file, text string) *Result {
	t.Helper()
	r, err := ReadInventory(strings.NewReader(text), file)
	if err != nil {
		t.Fatalf("ReadInventory(%s) error: %v", file, err)
	}
	return r
}

func invProblems(r *Result) []string {
	var out []string
	for _, p := range r.Problems {
		out = append(out, p.Error())
	}
	return out
}

func invNames(r *Result) []string {
	var out []string
	for _, h := range r.Hosts {
		out = append(out, h.Name)
	}
	return out
}

// Helpers building expected values on lines of one file.
type invFile string

func (f invFile) src(n int) audit.Source { return audit.Source{File: string(f), Line: n} }

func (f invFile) rng(k audit.Key, first, last uint16, line int) audit.RangeObs {
	return audit.RangeObs{Key: k, Range: audit.PortRange{First: first, Last: last}, Origin: audit.Declared, Src: f.src(line)}
}

func (f invFile) addr(s string, line int) audit.Addr {
	return audit.Addr{Addr: netip.MustParseAddr(s), Src: f.src(line)}
}

func (f invFile) excl(k audit.Key, first, last uint16, line int) audit.Excluded {
	return audit.Excluded{Key: k, Range: audit.PortRange{First: first, Last: last}, Src: f.src(line)}
}

func invSel(t *testing.T, s string) audit.Selector {
	t.Helper()
	sel, err := audit.ParseSelector(s)
	if err != nil {
		t.Fatal(err)
	}
	return sel
}

func invSvc(t *testing.T, s string) audit.Service {
	t.Helper()
	svc, err := audit.ParseService(s)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func TestReadInventoryEstate(t *testing.T) {
	f := invFile("estate.yaml")
	r := invRead(t, "estate.yaml", string(readTestdata(t, "inventory", "estate.yaml")))
	if r.Fatal != nil || len(r.Problems) > 0 {
		t.Fatalf("ReadInventory(estate.yaml): fatal %v, problems %q", r.Fatal, invProblems(r))
	}
	if r.Kind != KindInventory {
		t.Errorf("Kind = %q, want %q", r.Kind, KindInventory)
	}
	y := audit.Flag{Value: "Y", Src: f.src(41)}
	want := []*audit.Host{
		{
			Name: "DC01", NameSrc: f.src(8),
			Addresses: []audit.Addr{f.addr("10.1.0.10", 9), f.addr("fd00:1::10", 9)},
			Groups:    []string{"dc"},
			OS:        "Windows Server 2019",
			Ranges: []audit.RangeObs{
				f.rng(audit.TCP4, 49152, 65535, 13), f.rng(audit.TCP6, 49152, 65535, 13),
				f.rng(audit.UDP4, 49152, 65535, 14), f.rng(audit.UDP6, 49152, 65535, 14),
			},
			Captures: []string{"captures/DC01/"},
		},
		{
			Name: "DC02", NameSrc: f.src(17),
			Addresses: []audit.Addr{f.addr("10.1.0.11", 19), f.addr("fd00:1::11", 20)},
			Groups:    []string{"dc"},
			OS:        "Windows Server 2022",
			Ranges:    []audit.RangeObs{f.rng(audit.TCP4, 49152, 65535, 24), f.rng(audit.TCP6, 49152, 65535, 25)},
			Excluded: []audit.Excluded{
				f.excl(audit.TCP4, 50000, 50059, 27), f.excl(audit.TCP6, 50000, 50059, 27),
				f.excl(audit.TCP4, 50060, 50159, 27), f.excl(audit.TCP6, 50060, 50159, 27),
			},
		},
		{
			Name: "EXCH01", NameSrc: f.src(29),
			Addresses: []audit.Addr{f.addr("10.1.0.20", 30)},
			Groups:    []string{"exchange", "servers"},
			OS:        "Windows Server 2008 R2",
			Apps:      []string{"exchange-2007"},
			Ranges: []audit.RangeObs{
				f.rng(audit.TCP4, 1025, 60000, 35), f.rng(audit.TCP6, 1025, 60000, 35),
				f.rng(audit.UDP4, 1025, 60000, 36), f.rng(audit.UDP6, 1025, 60000, 36),
			},
		},
		{
			Name: "FS01", NameSrc: f.src(38),
			Addresses: []audit.Addr{f.addr("10.1.0.30", 39)},
			Groups:    []string{"servers"},
			Ranges:    []audit.RangeObs{f.rng(audit.TCP4, 49152, 65535, 42), f.rng(audit.TCP6, 49152, 65535, 42)},
			RPC: &audit.RPCInternet{
				Ports:                  []audit.PortsEntry{{Text: "5000-5100", Src: f.src(41)}, {Text: "5984", Src: f.src(41)}},
				PortsType:              "REG_MULTI_SZ",
				PortsInternetAvailable: y,
				UseInternetPorts:       y,
			},
		},
		{
			Name: "LEGACY03.corp.contoso.com", NameSrc: f.src(44),
			Addresses: []audit.Addr{f.addr("10.1.0.40", 45)},
			Groups:    []string{"servers", "legacy"},
			OS:        "Windows Server 2003",
			Ranges: []audit.RangeObs{
				f.rng(audit.TCP4, 1025, 5000, 49), f.rng(audit.TCP6, 1025, 5000, 49),
				f.rng(audit.UDP4, 5000, 5000, 50),
			},
			Captures: []string{"captures/legacy03.txt"},
		},
	}
	if diff := cmp.Diff(want, r.Hosts, invCmp...); diff != "" {
		t.Errorf("ReadInventory(estate.yaml) hosts (-want +got):\n%s", diff)
	}
	wantBase := map[audit.Key]audit.RangeObs{
		audit.TCP4: f.rng(audit.TCP4, 49152, 65535, 4), audit.TCP6: f.rng(audit.TCP6, 49152, 65535, 4),
		audit.UDP4: f.rng(audit.UDP4, 49152, 65535, 5), audit.UDP6: f.rng(audit.UDP6, 49152, 65535, 5),
	}
	if diff := cmp.Diff(wantBase, r.Baseline); diff != "" {
		t.Errorf("ReadInventory(estate.yaml) baseline (-want +got):\n%s", diff)
	}
	wantPolicy := []audit.PolicyRule{
		{Name: "dc-replication", From: []audit.Selector{invSel(t, "group:dc")}, To: []audit.Selector{invSel(t, "group:dc")},
			Services: []audit.Service{invSvc(t, "rpc"), invSvc(t, "rpc-udp")}, Src: f.src(55)},
		{Name: "clients-to-servers", From: []audit.Selector{invSel(t, "10.1.0.0/16"), invSel(t, "fd00:1::/64")},
			To: []audit.Selector{invSel(t, "group:servers"), invSel(t, "host:EXCH01")}, Services: []audit.Service{invSvc(t, "rpc")}, Src: f.src(59)},
		{Name: "dns", From: []audit.Selector{invSel(t, "group:servers")}, To: []audit.Selector{invSel(t, "group:dc")},
			Services: []audit.Service{invSvc(t, "udp/53"), invSvc(t, "tcp/53")}, Src: f.src(62)},
	}
	if diff := cmp.Diff(wantPolicy, r.Policy, invCmp...); diff != "" {
		t.Errorf("ReadInventory(estate.yaml) policy (-want +got):\n%s", diff)
	}
}

// TestReadInventoryJSONTwin reads the JSON form of estate.yaml: the same
// facts, each on its own line of the pretty-printed JSON.
func TestReadInventoryJSONTwin(t *testing.T) {
	y := invRead(t, "estate.yaml", string(readTestdata(t, "inventory", "estate.yaml")))
	j := invRead(t, "estate.json", string(readTestdata(t, "inventory", "estate.json")))
	if j.Fatal != nil || len(j.Problems) > 0 {
		t.Fatalf("ReadInventory(estate.json): fatal %v, problems %q", j.Fatal, invProblems(j))
	}
	opts := append([]cmp.Option{invIgnoreSrc}, invCmp...)
	if diff := cmp.Diff(y.Hosts, j.Hosts, opts...); diff != "" {
		t.Errorf("hosts of estate.yaml and estate.json differ (-yaml +json):\n%s", diff)
	}
	if diff := cmp.Diff(y.Baseline, j.Baseline, opts...); diff != "" {
		t.Errorf("baselines differ (-yaml +json):\n%s", diff)
	}
	if diff := cmp.Diff(y.Policy, j.Policy, opts...); diff != "" {
		t.Errorf("policies differ (-yaml +json):\n%s", diff)
	}
	f := invFile("estate.json")
	fs01 := j.Hosts[3]
	checks := []struct {
		what string
		got  audit.Source
		want int
	}{
		{"baseline tcp4", j.Baseline[audit.TCP4].Src, 3},
		{"DC02 name", j.Hosts[1].NameSrc, 26},
		{"DC02 second address", j.Hosts[1].Addresses[1].Src, 29},
		{"DC02 tcp6", j.Hosts[1].Ranges[1].Src, 37},
		{"DC02 excluded", j.Hosts[1].Excluded[0].Src, 41},
		{"FS01 port 5984", fs01.RPC.Ports[1].Src, 70},
		{"FS01 UseInternetPorts", fs01.RPC.UseInternetPorts.Src, 68},
		{"policy dns", j.Policy[2].Src, 120},
	}
	for _, c := range checks {
		if c.got != f.src(c.want) {
			t.Errorf("estate.json %s: Src = %v, want %v", c.what, c.got, f.src(c.want))
		}
	}
	if got := j.Hosts[4].Captures; !cmp.Equal(got, []string{"captures/legacy03.txt"}) {
		t.Errorf(`estate.json captures with "\/" = %q, want ["captures/legacy03.txt"]`, got)
	}
}

// TestReadInventoryValues checks how single values read.
func TestReadInventoryValues(t *testing.T) {
	f := invFile("inv.yaml")
	tests := []struct {
		name string
		in   string
		want *audit.Host
	}{
		{
			name: "scalars for lists, int and hex ports, mapped address",
			in: "hosts:\n- name: h1\n  addresses: ::ffff:10.0.0.1\n  groups: dc\n  apps: exchange-2007\n" +
				"  dynamic: {tcp4: 5000, udp4: 0x1388, tcp6: ' 1025 - 5000 '}\n",
			want: &audit.Host{
				Name: "h1", NameSrc: f.src(2),
				Addresses: []audit.Addr{f.addr("10.0.0.1", 3)},
				Groups:    []string{"dc"},
				Apps:      []string{"exchange-2007"},
				Ranges: []audit.RangeObs{
					f.rng(audit.TCP4, 5000, 5000, 6), f.rng(audit.UDP4, 5000, 5000, 6), f.rng(audit.TCP6, 1025, 5000, 6),
				},
			},
		},
		{
			name: "compact JSON",
			in:   `{"hosts":[{"name":"h1","addresses":["10.0.0.1"],"dynamic":{"tcp":"49152-65535"},"rpc_ports":[5000,"5001"]}]}`,
			want: &audit.Host{
				Name: "h1", NameSrc: f.src(1),
				Addresses: []audit.Addr{f.addr("10.0.0.1", 1)},
				Ranges:    []audit.RangeObs{f.rng(audit.TCP4, 49152, 65535, 1), f.rng(audit.TCP6, 49152, 65535, 1)},
				RPC: &audit.RPCInternet{
					Ports:                  []audit.PortsEntry{{Text: "5000", Src: f.src(1)}, {Text: "5001", Src: f.src(1)}},
					PortsType:              "REG_MULTI_SZ",
					PortsInternetAvailable: audit.Flag{Value: "Y", Src: f.src(1)},
					UseInternetPorts:       audit.Flag{Value: "Y", Src: f.src(1)},
				},
			},
		},
		{
			name: "family-specific keys win wherever they stand",
			in:   "hosts:\n- name: h1\n  dynamic:\n    tcp4: 1025-5000\n    tcp: 49152-65535\n",
			want: &audit.Host{
				Name: "h1", NameSrc: f.src(2),
				Ranges: []audit.RangeObs{
					f.rng(audit.TCP4, 49152, 65535, 5), f.rng(audit.TCP6, 49152, 65535, 5), f.rng(audit.TCP4, 1025, 5000, 4),
				},
			},
		},
		{
			name: "one range for all four keys",
			in:   "hosts:\n- name: h1\n  dynamic: 49152+16384\n",
			want: &audit.Host{
				Name: "h1", NameSrc: f.src(2),
				Ranges: []audit.RangeObs{
					f.rng(audit.TCP4, 49152, 65535, 3), f.rng(audit.UDP4, 49152, 65535, 3),
					f.rng(audit.TCP6, 49152, 65535, 3), f.rng(audit.UDP6, 49152, 65535, 3),
				},
			},
		},
		{
			name: "rpc_ports kept as written, not judged",
			in:   "hosts:\n- name: h1\n  rpc_ports:\n  - 05984\n  - 70000\n  - '5000 - 5100'\n  - x\n",
			want: &audit.Host{
				Name: "h1", NameSrc: f.src(2),
				RPC: &audit.RPCInternet{
					Ports: []audit.PortsEntry{
						{Text: "05984", Src: f.src(4)}, {Text: "70000", Src: f.src(5)},
						{Text: "5000 - 5100", Src: f.src(6)}, {Text: "x", Src: f.src(7)},
					},
					PortsType:              "REG_MULTI_SZ",
					PortsInternetAvailable: audit.Flag{Value: "Y", Src: f.src(3)},
					UseInternetPorts:       audit.Flag{Value: "Y", Src: f.src(3)},
				},
			},
		},
		{
			name: "empty rpc_ports: restriction with no ports",
			in:   "hosts:\n- name: h1\n  rpc_ports: []\n",
			want: &audit.Host{
				Name: "h1", NameSrc: f.src(2),
				RPC: &audit.RPCInternet{
					Ports:                  []audit.PortsEntry{},
					PortsType:              "REG_MULTI_SZ",
					PortsInternetAvailable: audit.Flag{Value: "Y", Src: f.src(3)},
					UseInternetPorts:       audit.Flag{Value: "Y", Src: f.src(3)},
				},
			},
		},
		{
			name: "empty values are unknown",
			in:   "hosts:\n- name: h1\n  addresses:\n  groups: ~\n  os:\n  dynamic:\n  rpc_ports:\n  excluded: {tcp: }\n",
			want: &audit.Host{Name: "h1", NameSrc: f.src(2)},
		},
		{
			name: "repeats in lists kept once",
			in:   "hosts:\n- name: h1\n  addresses: [10.0.0.1, 10.0.0.1]\n  groups: [dc, DC]\n  captures: [a, a, b]\n",
			want: &audit.Host{
				Name: "h1", NameSrc: f.src(2),
				Addresses: []audit.Addr{f.addr("10.0.0.1", 3)},
				Groups:    []string{"dc"},
				Captures:  []string{"a", "b"},
			},
		},
		{
			name: "captures as written",
			in:   "hosts:\n- name: h1\n  captures: ['..\\shares\\DC01 (old)\\', /abs/x.txt]\n",
			want: &audit.Host{Name: "h1", NameSrc: f.src(2), Captures: []string{`..\shares\DC01 (old)\`, "/abs/x.txt"}},
		},
		{
			name: "excluded single value and several keys",
			in:   "hosts:\n- name: h1\n  excluded:\n    udp6: 50000-50059\n    tcp4: [1, 2-3]\n",
			want: &audit.Host{
				Name: "h1", NameSrc: f.src(2),
				Excluded: []audit.Excluded{f.excl(audit.UDP6, 50000, 50059, 4), f.excl(audit.TCP4, 1, 1, 5), f.excl(audit.TCP4, 2, 3, 5)},
			},
		},
		{
			name: "duplicate host merged into the first",
			in: "hosts:\n- name: h1\n  addresses: [10.0.0.1]\n  os: A\n  dynamic: {tcp4: 1025-5000}\n" +
				"- name: H1\n  addresses: [10.0.0.1, 10.0.0.2]\n  os: B\n  groups: [g]\n  dynamic: {tcp4: 49152-65535}\n  rpc_ports: [5000]\n",
			want: &audit.Host{
				Name: "h1", NameSrc: f.src(2),
				Addresses: []audit.Addr{f.addr("10.0.0.1", 3), f.addr("10.0.0.2", 7)},
				Groups:    []string{"g"},
				OS:        "A",
				Ranges:    []audit.RangeObs{f.rng(audit.TCP4, 1025, 5000, 5), f.rng(audit.TCP4, 49152, 65535, 10)},
				RPC: &audit.RPCInternet{
					Ports:                  []audit.PortsEntry{{Text: "5000", Src: f.src(11)}},
					PortsType:              "REG_MULTI_SZ",
					PortsInternetAvailable: audit.Flag{Value: "Y", Src: f.src(11)},
					UseInternetPorts:       audit.Flag{Value: "Y", Src: f.src(11)},
				},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := invRead(t, "inv.yaml", tt.in)
			if r.Fatal != nil {
				t.Fatalf("ReadInventory(%q): fatal %v", tt.in, r.Fatal)
			}
			if len(r.Hosts) != 1 {
				t.Fatalf("ReadInventory(%q) = %d hosts, want 1 (problems %q)", tt.in, len(r.Hosts), invProblems(r))
			}
			if diff := cmp.Diff(tt.want, r.Hosts[0], invCmp...); diff != "" {
				t.Errorf("ReadInventory(%q) host (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestReadInventoryBaseline(t *testing.T) {
	f := invFile("inv.yaml")
	tests := []struct {
		in       string
		want     map[audit.Key]audit.RangeObs
		problems []string
	}{
		{in: "hosts: []\n", want: nil},
		{in: "baseline: 1025-5000\n", want: map[audit.Key]audit.RangeObs{
			audit.TCP4: f.rng(audit.TCP4, 1025, 5000, 1), audit.UDP4: f.rng(audit.UDP4, 1025, 5000, 1),
			audit.TCP6: f.rng(audit.TCP6, 1025, 5000, 1), audit.UDP6: f.rng(audit.UDP6, 1025, 5000, 1),
		}},
		{in: "baseline:\n  tcp6: 5000\n  tcp: 49152-65535\n", want: map[audit.Key]audit.RangeObs{
			audit.TCP4: f.rng(audit.TCP4, 49152, 65535, 3), audit.TCP6: f.rng(audit.TCP6, 5000, 5000, 2),
		}},
		{
			in:   "baseline:\n  tcp: 49152-65535\n  sctp: 1-2\n  udp: 1-x\n",
			want: map[audit.Key]audit.RangeObs{audit.TCP4: f.rng(audit.TCP4, 49152, 65535, 2), audit.TCP6: f.rng(audit.TCP6, 49152, 65535, 2)},
			problems: []string{
				`inv.yaml:3: baseline: unknown range key "sctp" (want tcp, udp, tcp4, udp4, tcp6 or udp6)`,
				`inv.yaml:4: baseline.udp: port range "1-x": last: "x" is not a port number`,
			},
		},
		{in: "baseline: [1, 2]\n", problems: []string{`inv.yaml:1: baseline: want a mapping of tcp, udp, tcp4, udp4, tcp6 or udp6, got a list`}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			r := invRead(t, "inv.yaml", tt.in)
			if diff := cmp.Diff(tt.want, r.Baseline, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("ReadInventory(%q) baseline (-want +got):\n%s", tt.in, diff)
			}
			if diff := cmp.Diff(tt.problems, invProblems(r)); diff != "" {
				t.Errorf("ReadInventory(%q) problems (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

// TestReadInventoryProblems checks that bad values become problems with
// file and line, that reading goes on, and which hosts are still listed.
func TestReadInventoryProblems(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		hosts    []string
		problems []string
	}{
		{name: "empty file", in: ""},
		{name: "comments only", in: "# nothing yet\n"},
		{name: "null document", in: "~\n"},
		{name: "no hosts", in: "hosts: []\n"},
		{name: "hosts null", in: "hosts:\npolicy:\n"},
		{
			name:     "start port beyond 65535",
			in:       "hosts:\n- name: DC01\n  addresses: [10.0.0.1]\n  dynamic: {tcp: 70000-70001, udp: 49152-65535}\n",
			hosts:    []string{"DC01"},
			problems: []string{`inv.yaml:4: DC01: dynamic.tcp: port range "70000-70001": first: port 70000 outside 0-65535`},
		},
		{
			name:     "count not a number",
			in:       "hosts:\n- name: DC01\n  dynamic:\n    tcp: 49152+lots\n",
			hosts:    []string{"DC01"},
			problems: []string{`inv.yaml:4: DC01: dynamic.tcp: port range "49152+lots": count: "lots" is not a number of ports`},
		},
		{
			name:     "int port beyond 65535",
			in:       "hosts:\n- name: DC01\n  dynamic:\n    tcp: 70000\n    udp: 0x20000\n    tcp6: -1\n",
			hosts:    []string{"DC01"},
			problems: []string{`inv.yaml:4: DC01: dynamic.tcp: port range "70000": port 70000 outside 0-65535`, `inv.yaml:5: DC01: dynamic.udp: port range "0x20000": port 131072 outside 0-65535`, `inv.yaml:6: DC01: dynamic.tcp6: port range "-1": port -1 outside 0-65535`},
		},
		{
			name:     "host name with a quote",
			in:       "hosts:\n- name: 'DC\"01'\n  addresses: [10.0.0.1]\n- name: DC02\n",
			hosts:    []string{"DC02"},
			problems: []string{`inv.yaml:2: host skipped: host name "DC\"01" contains '"' (allowed: letters, digits, '-', '_', '.')`},
		},
		{
			name:     "host name with a newline",
			in:       "hosts:\n- name: \"DC01\\nnetsh advfirewall reset\"\n",
			problems: []string{`inv.yaml:2: host skipped: host name "DC01\nnetsh advfirewall reset" contains '\n' (allowed: letters, digits, '-', '_', '.')`},
		},
		{
			name:     "missing name",
			in:       "hosts:\n- addresses: [10.0.0.1]\n- name:\n- name: ''\n- name: [a]\n- DC01\n- name: DC02\n",
			hosts:    []string{"DC02"},
			problems: []string{`inv.yaml:2: host skipped: no name`, `inv.yaml:3: host skipped: no name`, `inv.yaml:4: host skipped: empty host name`, `inv.yaml:5: host skipped: name: want text, got a list`, `inv.yaml:6: host skipped: want a mapping with name, addresses, ..., got "DC01"`},
		},
		{
			name:  "unknown keys at every level",
			in:    "hostz: []\nhosts:\n- name: DC01\n  adresses: [10.0.0.1]\n  Groups: [dc]\n  dynamic: {tcp5: 1-2, TCP: 1-2}\n  excluded: {sctp: [1]}\npolicy:\n- {name: r, from: [group:dc], to: [group:dc], service: [rpc]}\n",
			hosts: []string{"DC01"},
			problems: []string{
				`inv.yaml:1: unknown top-level key "hostz" (want baseline, hosts or policy)`,
				`inv.yaml:4: DC01: unknown host key "adresses" (want name, addresses, groups, os, apps, dynamic, rpc_ports, excluded or captures)`,
				`inv.yaml:5: DC01: unknown host key "Groups" (keys are lower case: "groups")`,
				`inv.yaml:6: DC01: dynamic: unknown range key "tcp5" (want tcp, udp, tcp4, udp4, tcp6 or udp6)`,
				`inv.yaml:6: DC01: dynamic: unknown range key "TCP" (keys are lower case: "tcp")`,
				`inv.yaml:7: DC01: excluded: unknown range key "sctp" (want tcp, udp, tcp4, udp4, tcp6 or udp6)`,
				`inv.yaml:9: unknown policy rule key "service" (want name, from, to or services)`,
			},
		},
		{
			name:  "wrong types",
			in:    "hosts:\n- name: DC01\n  addresses: {a: 1}\n  groups: [[dc]]\n  os: [a]\n  dynamic: [1, 2]\n  excluded: {tcp: {a: 1}}\n  rpc_ports: [[5000], 5001]\n  captures: {a: b}\n  apps: [{x: 1}]\n",
			hosts: []string{"DC01"},
			problems: []string{
				`inv.yaml:3: DC01: addresses: want a list, got a mapping`,
				`inv.yaml:4: DC01: groups: want text, got a list`,
				`inv.yaml:5: DC01: os: want text, got a list`,
				`inv.yaml:6: DC01: dynamic: want a mapping of tcp, udp, tcp4, udp4, tcp6 or udp6, got a list`,
				`inv.yaml:7: DC01: excluded.tcp: want a list, got a mapping`,
				`inv.yaml:8: DC01: rpc_ports: want a port or range, got a list`,
				`inv.yaml:9: DC01: captures: want a list, got a mapping`,
				`inv.yaml:10: DC01: apps: want text, got a mapping`,
			},
		},
		{
			name:     "top level hosts is a mapping",
			in:       "hosts:\n  DC01: {addresses: [10.0.0.1]}\n",
			problems: []string{`inv.yaml:2: hosts: want a list, got a mapping`},
		},
		{
			name:  "duplicate host name",
			in:    "hosts:\n- name: DC01\n- name: dc01\n  addresses: [10.0.0.1]\n",
			hosts: []string{"DC01"},
			problems: []string{
				`inv.yaml:3: DC01: duplicate host name "dc01" (first at line 2); merged into the first`,
			},
		},
		{
			name:  "bad addresses, others kept",
			in:    "hosts:\n- name: DC01\n  addresses: [10.0.0.300, 10.0.0.1, 'fe80::1%12', 10.0.0.0/24, 10.0.0.2]\n",
			hosts: []string{"DC01"},
			problems: []string{
				`inv.yaml:3: DC01: addresses: "10.0.0.300" is not an IP address`,
				`inv.yaml:3: DC01: addresses: "fe80::1%12" has a zone; a server address has none`,
				`inv.yaml:3: DC01: addresses: "10.0.0.0/24" is not an IP address`,
			},
		},
		{
			name:     "bad group and app and os",
			in:       "hosts:\n- name: DC01\n  groups: [dc, 'domain controllers']\n  apps: ['', \"a\\tb\"]\n  os: \"2019\\r\\n\"\n",
			hosts:    []string{"DC01"},
			problems: []string{`inv.yaml:3: DC01: groups: group name "domain controllers" contains ' ' (allowed: letters, digits, '-', '_', '.')`, `inv.yaml:4: DC01: apps: empty name`, `inv.yaml:4: DC01: apps: "a\tb" contains a control character`, `inv.yaml:5: DC01: os: "2019\r\n" contains a control character`},
		},
		{
			name:     "duplicate key",
			in:       "hosts:\n- name: DC01\n  os: A\n  os: B\n",
			hosts:    []string{"DC01"},
			problems: []string{`inv.yaml:4: key "os" given twice (first at line 3); this one is ignored`},
		},
		{
			name:     "empty capture path",
			in:       "hosts:\n- name: DC01\n  captures: ['', ' ', ok]\n",
			hosts:    []string{"DC01"},
			problems: []string{`inv.yaml:3: DC01: captures: empty path`},
		},
		{
			name: "policy values",
			in: "policy:\n- name: r1\n  from: [group:dc, 'group:a b', 10.0.0.0/33]\n  to: [10.0.0.1, group:dc, host:x/y]\n  services: [rpc, tcp/70000, smb]\n" +
				"- name: r2\n  services: []\n- just-text\n- {from: [any], to: [group:dc]}\n",
			problems: []string{
				`inv.yaml:3: from: selector "group:a b": group name "a b" contains ' ' (allowed: letters, digits, '-', '_', '.')`,
				`inv.yaml:3: from: selector "10.0.0.0/33": not group:NAME, host:NAME, an address or a prefix`,
				`inv.yaml:4: to: "10.0.0.1": want group:NAME or host:NAME (addresses and prefixes only in from)`,
				`inv.yaml:4: to: selector "host:x/y": host name "x/y" contains '/' (allowed: letters, digits, '-', '_', '.')`,
				`inv.yaml:5: services: service "tcp/70000": port range "70000": port 70000 outside 0-65535`,
				`inv.yaml:5: services: service "smb": want rpc, rpc-udp, tcp/PORTS or udp/PORTS`,
				`inv.yaml:7: services: empty list: the rule opens nothing`,
				`inv.yaml:6: policy rule "r2": no from: it allows nothing`,
				`inv.yaml:6: policy rule "r2": no to: it allows nothing`,
				`inv.yaml:8: policy: want a mapping with name, from, to or services, got "just-text"`,
				`inv.yaml:9: from: selector "any": not group:NAME, host:NAME, an address or a prefix`,
			},
		},
		{
			name:     "second document",
			in:       "hosts: [{name: DC01}]\n---\nhosts: [{name: DC02}]\n",
			hosts:    []string{"DC01"},
			problems: []string{`inv.yaml:3: a second YAML document starts here; only the first is read`},
		},
		{
			name:  "trailing document marker",
			in:    "hosts: [{name: DC01}]\n---\n",
			hosts: []string{"DC01"},
		},
		{
			name:     "merge of a scalar",
			in:       "hosts:\n- <<: x\n  name: DC01\n",
			hosts:    []string{"DC01"},
			problems: []string{`inv.yaml:2: <<: want a mapping or a list of mappings to merge, got "x"`},
		},
		{
			name:     "key that is not text",
			in:       "hosts:\n- name: DC01\n  ? [a]\n  : b\n",
			hosts:    []string{"DC01"},
			problems: []string{`inv.yaml:3: a key must be text, got a list`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := invRead(t, "inv.yaml", tt.in)
			if r.Fatal != nil {
				t.Fatalf("ReadInventory(%q): fatal %v", tt.in, r.Fatal)
			}
			if diff := cmp.Diff(tt.hosts, invNames(r)); diff != "" {
				t.Errorf("ReadInventory(%q) hosts (-want +got):\n%s", tt.in, diff)
			}
			if diff := cmp.Diff(tt.problems, invProblems(r)); diff != "" {
				t.Errorf("ReadInventory(%q) problems (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

// TestReadInventoryFatal checks files that cannot be read at all.
func TestReadInventoryFatal(t *testing.T) {
	tests := []struct {
		name, file, in, want string
	}{
		{"broken flow list", "broken.yaml", string(readTestdata(t, "inventory", "broken.yaml")), "broken.yaml:3: did not find expected ',' or ']'"},
		{"bad indentation", "inventory.yaml", "hosts:\n  - name: DC01\n    addresses: [10.0.0.1]\n   dynamic: x\n", "inventory.yaml:2: did not find expected '-' indicator"},
		{"broken JSON", "inv.json", "{\n  \"hosts\": [\n    {\"name\": \"DC01\",}\n    {\"name\": \"DC02\"}\n  ]\n}\n", "inv.json:3: invalid character '}' looking for beginning of object key string"},
		{"tab indentation", "inv.yaml", "hosts:\n\t- name: DC01\n", "inv.yaml:2: found character that cannot start any token"},
		{"control character", "inv.yaml", "hosts:\n- name: DC01\n  os: a\x01b\n", "inv.yaml:3: control characters are not allowed"},
		{"top level list", "inv.yaml", "- name: DC01\n", "inv.yaml:1: top level is a list, want a mapping of baseline, hosts or policy"},
		{"top level text", "inv.yaml", "\nhello\n", `inv.yaml:2: top level is "hello", want a mapping of baseline, hosts or policy`},
		{"unknown anchor", "inv.yaml", "hosts: *h\n", "inv.yaml:1: unknown anchor 'h' referenced"},
		{"alias inside itself", "inv.yaml", "hosts: &h\n- name: DC01\n  groups: *h\n", "inv.yaml:3: alias *h refers to a value that contains it"},
		{"merge of itself", "inv.yaml", "hosts:\n- &h\n  name: DC01\n  <<: *h\n", "inv.yaml:4: alias *h refers to a value that contains it"},
		{"broken second document", "inv.yaml", "hosts: []\n---\nhosts: [\n", "inv.yaml:3: did not find expected node content"},
		{"too large", "inv.yaml", "hosts: []\n" + strings.Repeat("#", 32<<20), "inv.yaml: 33554442 bytes: an inventory may have at most 32 MiB; split it into several files"},
		{"too many values", "inv.yaml", "hosts: [" + strings.Repeat("x,", 5<<20) + "]\n", "inv.yaml: about 5242882 values: an inventory may have at most 4194304; split it into several files"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := invRead(t, tt.file, tt.in)
			if r.Fatal == nil {
				t.Fatalf("ReadInventory(%s): no fatal error, want %q (problems %q)", tt.name, tt.want, invProblems(r))
			}
			if got := r.Fatal.Error(); got != tt.want {
				t.Errorf("ReadInventory(%s).Fatal = %q, want %q", tt.name, got, tt.want)
			}
			if len(r.Hosts) > 0 || r.Kind != KindInventory {
				t.Errorf("ReadInventory(%s) = kind %q, %d hosts; want kind inventory, no hosts", tt.name, r.Kind, len(r.Hosts))
			}
		})
	}
}

// TestReadInventoryAnchors checks aliases and merge keys: the values keep
// the lines they were written on.
func TestReadInventoryAnchors(t *testing.T) {
	f := invFile("anchors.yaml")
	r := invRead(t, "anchors.yaml", string(readTestdata(t, "inventory", "anchors.yaml")))
	if r.Fatal != nil || len(r.Problems) > 0 {
		t.Fatalf("ReadInventory(anchors.yaml): fatal %v, problems %q", r.Fatal, invProblems(r))
	}
	std := []audit.RangeObs{
		f.rng(audit.TCP4, 49152, 65535, 9), f.rng(audit.TCP6, 49152, 65535, 9),
		f.rng(audit.UDP4, 49152, 65535, 10), f.rng(audit.UDP6, 49152, 65535, 10),
	}
	want := []*audit.Host{
		{Name: "APP01", NameSrc: f.src(5), Addresses: []audit.Addr{f.addr("10.2.0.1", 6)}, Groups: []string{"servers"}, Ranges: std},
		{Name: "APP02", NameSrc: f.src(12), Addresses: []audit.Addr{f.addr("10.2.0.2", 13)}, Groups: []string{"servers"}, Ranges: std},
		{Name: "APP03", NameSrc: f.src(14), Ranges: std},
	}
	if diff := cmp.Diff(want, r.Hosts, invCmp...); diff != "" {
		t.Errorf("ReadInventory(anchors.yaml) hosts (-want +got):\n%s", diff)
	}
}

// TestReadInventoryAliasBomb checks that aliases expanding far beyond the
// document ("billion laughs") are refused quickly, while a large estate
// sharing defaults through merge keys still reads.
func TestReadInventoryAliasBomb(t *testing.T) {
	var nine strings.Builder // 10^9 values
	nine.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 9; i++ {
		fmt.Fprintf(&nine, "a%d: &a%d [", i, i)
		for j := 0; j < 10; j++ {
			fmt.Fprintf(&nine, "*a%d, ", i-1)
		}
		nine.WriteString("]\n")
	}
	nine.WriteString("hosts: *a8\n")

	var wide strings.Builder // 2000 hosts of 2000 addresses
	wide.WriteString("hosts:\n- &h\n  name: DC01\n  addresses: [")
	for i := 0; i < 2000; i++ {
		fmt.Fprintf(&wide, "10.0.%d.%d, ", i/250, i%250)
	}
	wide.WriteString("]\n")
	for i := 0; i < 2000; i++ {
		wide.WriteString("- *h\n")
	}

	var merged strings.Builder // a legitimate use: 3000 hosts merge defaults
	merged.WriteString("hosts:\n- &d\n  name: base\n  groups: [a, b, c, d, e]\n  dynamic: {tcp: 49152-65535, udp: 49152-65535}\n  rpc_ports: [5000-5100, 5984, 6000]\n")
	for i := 0; i < 3000; i++ {
		fmt.Fprintf(&merged, "- {<<: *d, name: h%d}\n", i)
	}

	tests := []struct {
		name, in string
		fatal    string
		hosts    int
	}{
		{"bomb.yaml", string(readTestdata(t, "inventory", "bomb.yaml")), "inv.yaml: aliases expand 88 values to more than 100880; refusing to read the file", 0},
		{"billion laughs", nine.String(), "inv.yaml: aliases expand 112 values to more than 101120; refusing to read the file", 0},
		{"one host repeated", wide.String(), "inv.yaml: aliases expand 4009 values to more than 140090; refusing to read the file", 0},
		{"merged defaults", merged.String(), "", 3001},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			r := invRead(t, "inv.yaml", tt.in)
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("ReadInventory took %v, want well under 2s", d)
			}
			got := ""
			if r.Fatal != nil {
				got = r.Fatal.Error()
			}
			if got != tt.fatal || len(r.Hosts) != tt.hosts {
				t.Errorf("ReadInventory = fatal %q, %d hosts; want fatal %q, %d hosts", got, len(r.Hosts), tt.fatal, tt.hosts)
			}
		})
	}
}

// TestReadInventoryEncodings reads estate.yaml as Notepad and PowerShell
// may save it: the result must not change.
func TestReadInventoryEncodings(t *testing.T) {
	plain := readTestdata(t, "inventory", "estate.yaml")
	want := invRead(t, "estate.yaml", string(plain))
	crlf := bytes.ReplaceAll(plain, []byte("\n"), []byte("\r\n"))
	trailing := bytes.ReplaceAll(plain, []byte("\n"), []byte("  \n"))
	tests := map[string][]byte{
		"utf-8 bom":         append([]byte{0xEF, 0xBB, 0xBF}, crlf...),
		"utf-16le bom crlf": utf16LE(string(crlf), true),
		"utf-16le no bom":   utf16LE(string(plain), false),
		"trailing spaces":   trailing,
	}
	for name, b := range tests {
		t.Run(name, func(t *testing.T) {
			r, err := ReadInventory(bytes.NewReader(b), "estate.yaml")
			if err != nil || r.Fatal != nil || len(r.Problems) > 0 {
				t.Fatalf("ReadInventory: err %v, fatal %v, problems %q", err, r.Fatal, invProblems(r))
			}
			if diff := cmp.Diff(want.Hosts, r.Hosts, invCmp...); diff != "" {
				t.Errorf("hosts differ from the plain file (-plain +%s):\n%s", name, diff)
			}
		})
	}
}

// TestReadInventoryProblemCap checks that a file full of bad values does
// not list them all.
func TestReadInventoryProblemCap(t *testing.T) {
	var b strings.Builder
	b.WriteString("hosts:\n- name: DC01\n  addresses:\n")
	for i := 0; i < 5000; i++ {
		fmt.Fprintf(&b, "  - bad%d\n", i)
	}
	r := invRead(t, "inv.yaml", b.String())
	if len(r.Problems) != invMaxProblems+1 {
		t.Fatalf("ReadInventory: %d problems, want %d", len(r.Problems), invMaxProblems+1)
	}
	last := r.Problems[len(r.Problems)-1].Error()
	if want := "inv.yaml: 4000 more problems not listed (only the first 1000 are)"; last != want {
		t.Errorf("last problem = %q, want %q", last, want)
	}
}

// invCheckResult asserts what must hold for any input.
func invCheckResult(t *testing.T, r *Result, file string) {
	t.Helper()
	if r == nil {
		t.Fatal("nil result")
	}
	if r.Fatal != nil {
		if !strings.HasPrefix(r.Fatal.Error(), file) {
			t.Errorf("Fatal %q does not name %s", r.Fatal, file)
		}
		if len(r.Hosts) > 0 {
			t.Errorf("Fatal %q with %d hosts", r.Fatal, len(r.Hosts))
		}
		return
	}
	if len(r.Problems) > invMaxProblems+1 {
		t.Errorf("%d problems, more than the cap", len(r.Problems))
	}
	for _, p := range r.Problems {
		if p.Src.File != file || p.Msg == "" {
			t.Errorf("problem %q without file or message", p.Error())
		}
	}
	seen := map[string]bool{}
	for _, h := range r.Hosts {
		if err := audit.ValidHostName(h.Name); err != nil {
			t.Errorf("host listed with an invalid name: %v", err)
		}
		if seen[strings.ToLower(h.Name)] {
			t.Errorf("host %q listed twice", h.Name)
		}
		seen[strings.ToLower(h.Name)] = true
		if h.NameSrc.File != file || h.NameSrc.Line < 1 {
			t.Errorf("host %q: NameSrc %v", h.Name, h.NameSrc)
		}
		for _, o := range h.Ranges {
			if o.Range.First > o.Range.Last || o.Src.File != file || o.Origin != audit.Declared {
				t.Errorf("host %q: bad range %+v", h.Name, o)
			}
		}
		for _, x := range h.Excluded {
			if x.Range.First > x.Range.Last || x.Src.File != file {
				t.Errorf("host %q: bad excluded range %+v", h.Name, x)
			}
		}
		for _, a := range h.Addresses {
			if !a.Addr.IsValid() || a.Addr.Zone() != "" || a.Addr.Is4In6() {
				t.Errorf("host %q: bad address %v", h.Name, a.Addr)
			}
		}
		if h.RPC != nil && (h.RPC.PortsType != "REG_MULTI_SZ" || !h.RPC.UseInternetPorts.Yes()) {
			t.Errorf("host %q: bad RPC %+v", h.Name, h.RPC)
		}
	}
	for _, o := range r.Baseline {
		if o.Range.First > o.Range.Last || o.Src.File != file {
			t.Errorf("bad baseline %+v", o)
		}
	}
}

func FuzzInventory(f *testing.F) {
	for _, name := range []string{"estate.yaml", "estate.json", "anchors.yaml", "broken.yaml", "bomb.yaml"} {
		f.Add(readTestdata(f, "inventory", name))
	}
	f.Add([]byte("hosts:\n- name: DC01\n  dynamic: {tcp: 70000, udp: 49152+lots}\n  <<: {os: x}\n- name: dc01\n"))
	f.Add(utf16LE("hosts:\r\n- name: DC01\r\n  rpc_ports: [5000]\r\n", true))
	f.Fuzz(func(t *testing.T, b []byte) {
		done := make(chan bool)
		go func() {
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				panic(fmt.Sprintf("ReadInventory(%q) hangs", b))
			}
		}()
		defer close(done)
		r, err := ReadInventory(bytes.NewReader(b), "fuzz.yaml")
		if err != nil {
			t.Fatalf("ReadInventory error %v", err)
		}
		invCheckResult(t, r, "fuzz.yaml")
	})
}

// TestInventoryParse checks that Parse routes the inventory testdata to
// these readers.
func TestInventoryParse(t *testing.T) {
	tests := []struct {
		file  string
		kind  Kind
		hosts int
	}{
		{"estate.yaml", KindInventory, 5},
		{"estate.json", KindInventory, 5},
		{"estate.csv", KindCSV, 5},
		{"anchors.yaml", KindInventory, 3},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			r := Parse(utf16LE(string(readTestdata(t, "inventory", tt.file)), true), tt.file)
			if r.Kind != tt.kind || len(r.Hosts) != tt.hosts || r.Fatal != nil || len(r.Problems) > 0 {
				t.Errorf("Parse(%s) = kind %q, %d hosts, fatal %v, problems %q; want kind %q, %d hosts", tt.file, r.Kind, len(r.Hosts), r.Fatal, invProblems(r), tt.kind, tt.hosts)
			}
		})
	}
}
