package audit

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Helpers to build estates in code.

func src(file string, line int) Source { return Source{File: file, Line: line} }

func addrs(ss ...string) []Addr {
	out := make([]Addr, len(ss))
	for i, s := range ss {
		out[i] = Addr{Addr: netip.MustParseAddr(s)}
	}
	return out
}

func mustRange(s string) PortRange {
	r, err := ParseRange(s)
	if err != nil {
		panic(err)
	}
	return r
}

// obs returns one observation per key, all from the same source.
func obs(r string, o Origin, s Source, keys ...Key) []RangeObs {
	out := make([]RangeObs, len(keys))
	for i, k := range keys {
		out[i] = RangeObs{Key: k, Range: mustRange(r), Origin: o, Src: s}
	}
	return out
}

func estateOf(hosts ...*Host) *Estate {
	e := NewEstate()
	for _, h := range hosts {
		e.Add(h)
	}
	return e
}

// only returns the findings with id, in Check's order.
func only(fs []Finding, id string) []Finding {
	var out []Finding
	for _, f := range fs {
		if f.ID == id {
			out = append(out, f)
		}
	}
	return out
}

type checkCase struct {
	name string
	e    *Estate
	want []Finding
}

// runChecks runs Check on every case and compares the findings with id.
func runChecks(t *testing.T, id string, tests []checkCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := only(Check(tt.e, CheckOptions{}), id)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Check(%s) %s findings mismatch (-want +got):\n%s", tt.name, id, diff)
			}
		})
	}
}

var (
	inv   = src("inventory.yaml", 12)
	netsh = src("captures/H/netsh.txt", 6)
	all4  = []Key{TCP4, UDP4, TCP6, UDP6}
)

// modern is a host that raises nothing: one IPv4 address, a captured
// default TCP range.
func modern(name string, groups ...string) *Host {
	return &Host{Name: name, Addresses: addrs("10.0.0.1"), Groups: groups, OS: "Windows Server 2019",
		Ranges: obs("49152-65535", Captured, netsh, TCP4)}
}

func TestCheckInputInvalid(t *testing.T) {
	e := estateOf(modern("DC01"))
	e.Problem(Problem{Src: src("inventory.yaml", 30), Host: "FS01", Msg: `port range "49152-70000": last: port 70000 outside 0-65535`})
	e.Problem(Problem{Src: src("inventory.yaml", 4), Msg: `unknown key "hostz"`})
	e.Problem(Problem{Src: src("inventory.yaml", 4), Msg: `unknown key "hostz"`}) // read twice: one finding
	runChecks(t, IDInputInvalid, []checkCase{
		{"problems", e, []Finding{
			{ID: IDInputInvalid, Severity: Error, Message: `unknown key "hostz"`, Detail: map[string]any{"source": "inventory.yaml:4"}},
			{ID: IDInputInvalid, Severity: Error, Host: "FS01", Message: `port range "49152-70000": last: port 70000 outside 0-65535`,
				Detail: map[string]any{"source": "inventory.yaml:30"}},
		}},
		{"none", estateOf(modern("DC01")), nil},
	})
}

func TestCheckHostNoAddress(t *testing.T) {
	runChecks(t, IDHostNoAddress, []checkCase{
		{"no address", estateOf(&Host{Name: "GHOST", OS: "Windows Server 2019"}), []Finding{
			{ID: IDHostNoAddress, Severity: Warning, Host: "GHOST", Message: "no address known, so no firewall rule can name this host", Detail: map[string]any{}},
		}},
		{"address", estateOf(modern("DC01")), nil},
	})
}

// TestCheckRelevantKeys checks which keys are checked, through the keys
// range-assumed names for a host without any observation.
func TestCheckRelevantKeys(t *testing.T) {
	udpPolicy := func(e *Estate, to string) *Estate {
		sel, err := ParseSelector(to)
		if err != nil {
			t.Fatal(err)
		}
		e.PolicySet = true
		e.Policy = []PolicyRule{{Name: "p", From: []Selector{{Kind: SelPrefix, Prefix: netip.MustParsePrefix("10.0.0.0/8")}},
			To: []Selector{sel}, Services: []Service{{Kind: SvcRPC}, {Kind: SvcRPCUDP}}}}
		return e
	}
	bare := func(name string, a ...string) *Host {
		return &Host{Name: name, Addresses: addrs(a...), Groups: []string{"g"}, OS: "Windows Server 2019"}
	}
	tests := []struct {
		name string
		e    *Estate
		host string
		want []string // keys range-assumed names; nil when none
	}{
		{"ipv4 only: tcp4", estateOf(bare("A", "10.0.0.1")), "A", []string{"tcp4"}},
		{"ipv6 only: tcp6", estateOf(bare("A", "fd00::1")), "A", []string{"tcp6"}},
		{"mapped ipv4 counts as ipv4", estateOf(bare("A", "::ffff:10.0.0.1")), "A", []string{"tcp4"}},
		{"both families", estateOf(bare("A", "10.0.0.1", "fd00::1")), "A", []string{"tcp4", "tcp6"}},
		{"no address: family 4", estateOf(bare("A")), "A", []string{"tcp4"}},
		{"rpc-udp to the host adds udp", udpPolicy(estateOf(bare("A", "10.0.0.1", "fd00::1")), "host:A"), "A", []string{"tcp4", "udp4", "tcp6", "udp6"}},
		{"rpc-udp to its group adds udp", udpPolicy(estateOf(bare("A", "10.0.0.1")), "group:G"), "A", []string{"tcp4", "udp4"}},
		{"rpc-udp to a prefix does not (no destination)", udpPolicy(estateOf(bare("A", "10.0.0.1")), "10.0.0.0/24"), "A", []string{"tcp4"}},
		{"rpc-udp to another host does not", udpPolicy(estateOf(bare("A", "10.0.0.1"), bare("B", "10.0.0.2")), "host:B"), "A", []string{"tcp4"}},
		{"observed keys are not assumed", estateOf(&Host{Name: "A", Addresses: addrs("10.0.0.1", "fd00::1"), OS: "Windows Server 2019",
			Ranges: obs("49152-65535", Declared, inv, TCP4)}), "A", []string{"tcp6"}},
		{"all observed", estateOf(modern("A")), "A", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, f := range only(Check(tt.e, CheckOptions{}), IDRangeAssumed) {
				if f.Host == tt.host {
					got = f.Detail["keys"].([]string)
				}
			}
			if !cmp.Equal(got, tt.want) {
				t.Errorf("range-assumed keys of %s = %v, want %v", tt.host, got, tt.want)
			}
		})
	}
	// An observed key is checked even when it is not otherwise relevant:
	// udp4 1025-5000 on a host nobody opens rpc-udp to.
	e := estateOf(&Host{Name: "A", Addresses: addrs("10.0.0.1"), Ranges: append(obs("49152-65535", Captured, netsh, TCP4), obs("1025-5000", Captured, netsh, UDP4)...)})
	fs := only(Check(e, CheckOptions{}), IDRangeLegacy)
	if len(fs) != 1 || !cmp.Equal(fs[0].Detail["keys"], []string{"udp4"}) {
		t.Errorf("observed udp4 not checked: %v", fs)
	}
}

func TestCheckRangeAssumed(t *testing.T) {
	custom := estateOf(&Host{Name: "NOOS", Addresses: addrs("10.0.0.1", "fd00::1")})
	custom.Baseline[TCP4] = RangeObs{Key: TCP4, Range: mustRange("50000-65535"), Origin: Declared, Src: src("inventory.yaml", 1)}
	runChecks(t, IDRangeAssumed, []checkCase{
		{"from OS", estateOf(&Host{Name: "APP06", Addresses: addrs("10.2.6.12", "fd00:2:6::12"), OS: "Windows Server 2012 R2"}), []Finding{
			{ID: IDRangeAssumed, Severity: Warning, Host: "APP06",
				Message: `no range captured or declared for tcp4, tcp6; assumed 49152-65535 from OS "Windows Server 2012 R2" (Vista and later default)`,
				Detail: map[string]any{"keys": []string{"tcp4", "tcp6"}, "range": "49152-65535",
					"inferred_from": `OS "Windows Server 2012 R2" (Vista and later default)`}},
		}},
		{"from Exchange 2007", estateOf(&Host{Name: "EXCH04", Addresses: addrs("10.2.3.11"), OS: "Windows Server 2008", Apps: []string{"Exchange 2007"}}), []Finding{
			{ID: IDRangeAssumed, Severity: Warning, Host: "EXCH04",
				Message: `no range captured or declared for tcp4; assumed 1025-60000 from Exchange 2007 on OS "Windows Server 2008"`,
				Detail:  map[string]any{"keys": []string{"tcp4"}, "range": "1025-60000", "inferred_from": `Exchange 2007 on OS "Windows Server 2008"`}},
		}},
		{"from per-key baselines", custom, []Finding{
			{ID: IDRangeAssumed, Severity: Warning, Host: "NOOS",
				Message: `no range captured or declared for tcp4, tcp6; assumed tcp4 50000-65535, tcp6 49152-65535 from the baseline (no OS known)`,
				Detail: map[string]any{"keys": []string{"tcp4", "tcp6"}, "ranges": map[string]string{"tcp4": "50000-65535", "tcp6": "49152-65535"},
					"inferred_from": "the baseline (no OS known)"}},
		}},
		{"all observed", estateOf(modern("DC01")), nil},
	})
}

// TestCheckStacking checks that a host gets every finding that applies,
// whether its range was read or inferred, and that a restriction in force
// does not silence the dynamic-range checks.
func TestCheckStacking(t *testing.T) {
	type idHost struct{ Host, ID string }
	ids := func(fs []Finding) []idHost {
		var out []idHost
		for _, f := range fs {
			out = append(out, idHost{f.Host, f.ID})
		}
		return out
	}
	legacyBaseline := estateOf(&Host{Name: "LEG", Addresses: addrs("10.0.0.1"), Ranges: obs("1025-5000", Captured, netsh, TCP4)})
	legacyBaseline.Baseline[TCP4] = RangeObs{Key: TCP4, Range: LegacyRange, Origin: Declared}
	tests := []struct {
		name string
		e    *Estate
		want []idHost
	}{
		{"captured legacy", estateOf(&Host{Name: "LEG", Addresses: addrs("10.0.0.1"), Ranges: obs("1025-5000", Captured, netsh, TCP4)}),
			[]idHost{{"LEG", IDRangeBaselineMismatch}, {"LEG", IDRangeLegacy}, {"LEG", IDServicePortOverlap}}},
		{"inferred legacy", estateOf(&Host{Name: "LEG", Addresses: addrs("10.0.0.1"), OS: "Windows Server 2003 R2"}),
			[]idHost{{"LEG", IDRangeAssumed}, {"LEG", IDRangeBaselineMismatch}, {"LEG", IDRangeLegacy}, {"LEG", IDServicePortOverlap}}},
		{"legacy baseline: no mismatch, still legacy", legacyBaseline,
			[]idHost{{"LEG", IDRangeLegacy}, {"LEG", IDServicePortOverlap}}},
		{"restricted host keeps its range checks", estateOf(&Host{Name: "LEG", Addresses: addrs("10.0.0.1"), Ranges: obs("1025-5000", Captured, netsh, TCP4),
			RPC: &RPCInternet{Ports: []PortsEntry{{Text: "6000-6199"}}, PortsType: "REG_MULTI_SZ"}}),
			[]idHost{{"LEG", IDRangeBaselineMismatch}, {"LEG", IDRangeLegacy}, {"LEG", IDServicePortOverlap}}},
		{"invalid range", estateOf(&Host{Name: "APP05", Addresses: addrs("10.0.0.1"), Ranges: obs("1024-65534", Captured, netsh, TCP4)}),
			[]idHost{{"APP05", IDRangeInvalid}, {"APP05", IDRangeBaselineMismatch}, {"APP05", IDServicePortOverlap}}},
		{"clean", estateOf(modern("DC01")), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, ids(Check(tt.e, CheckOptions{}))); diff != "" {
				t.Errorf("Check(%s) ids mismatch (-want +got):\n%s", tt.name, diff)
			}
		})
	}
}

// TestCheckEstate runs every check on a small estate shaped like the bundled
// example and checks the order and the findings each host gets.
func TestCheckEstate(t *testing.T) {
	e := estateOf(
		&Host{Name: "DC01", Addresses: addrs("10.1.0.10", "fd00:1::10"), Groups: []string{"dc"}, OS: "Windows Server 2019",
			Ranges: obs("49152-65535", Captured, src("captures/DC01/netsh.txt", 9), TCP4, UDP4)},
		&Host{Name: "DC02", Addresses: addrs("10.2.0.10", "fd00:2::10"), Groups: []string{"dc"}, OS: "Windows Server 2016",
			Ranges: append(obs("49152-65535", Captured, src("captures/DC02/netsh.txt", 9), TCP4, UDP4),
				obs("55000-65535", Captured, src("captures/DC02/netsh.txt", 25), TCP6, UDP6)...)},
		&Host{Name: "DC03", Addresses: addrs("10.1.0.11", "fd00:1::11"), Groups: []string{"dc"}, OS: "Windows Server 2016",
			Ranges: obs("49152-65535", Captured, src("captures/DC03/netsh.txt", 9), all4...)},
		&Host{Name: "EXCH01", Addresses: addrs("10.1.3.10"), Groups: []string{"exchange"}, OS: "Windows Server 2008 R2", Apps: []string{"exchange-2007"}},
		&Host{Name: "HV01", Addresses: addrs("10.1.5.10"), Groups: []string{"hyperv"}, OS: "Windows Server 2019",
			Ranges:   obs("49152-65535", Captured, src("captures/HV01/netsh.txt", 9), TCP4),
			Excluded: []Excluded{{Key: TCP4, Range: mustRange("50000-50059"), Administered: true}}},
		&Host{Name: "SQL03", Addresses: addrs("10.1.2.11"), Groups: []string{"sql"}, OS: "Windows Server 2012 R2",
			Ranges: obs("49152-65535", Captured, src("captures/SQL03/netsh.txt", 9), TCP4),
			RPC:    &RPCInternet{PortsType: "REG_MULTI_SZ", Ports: []PortsEntry{{Text: "5000-5100"}, {Text: "5984"}}}},
		&Host{Name: "TODO01", OS: "Windows Server 2022"},
	)
	e.Problem(Problem{Src: src("inventory.yaml", 40), Host: "TODO01", Msg: `address "10.1.999.1": not an IP address`})
	e.PolicySet = true
	e.Policy = []PolicyRule{{Name: "dc-replication", From: []Selector{{Kind: SelGroup, Name: "dc"}}, To: []Selector{{Kind: SelGroup, Name: "dc"}},
		Services: []Service{{Kind: SvcRPC}}, Src: src("inventory.yaml", 60)},
		{Name: "app-to-sql", From: []Selector{{Kind: SelGroup, Name: "app"}}, To: []Selector{{Kind: SelGroup, Name: "sql"}},
			Services: []Service{{Kind: SvcRPC}}, Src: src("inventory.yaml", 65)}}
	type row struct {
		Sev           Severity
		Host, ID, Msg string
	}
	var got []row
	for _, f := range Check(e, CheckOptions{}) {
		msg := f.Message
		if f.ID == IDServicePortOverlap {
			msg = "..." // its text is checked in TestCheckServicePortOverlap
		}
		got = append(got, row{f.Severity, f.Host, f.ID, msg})
	}
	want := []row{
		{Error, "TODO01", IDInputInvalid, `address "10.1.999.1": not an IP address`},
		{Warning, "", IDPolicyUnmatched, `policy "app-to-sql": from group:app matches no host (no host is in group "app")`},
		{Warning, "", IDPolicyUnmatched, `policy "app-to-sql": no source remains, so the rule opens nothing`},
		{Warning, "DC01", IDRangeAssumed, `no range captured or declared for tcp6; assumed 49152-65535 from OS "Windows Server 2019" (Vista and later default)`},
		{Warning, "DC02", IDRangeBaselineMismatch, `tcp6, udp6 use 55000-65535 instead of the baseline 49152-65535`},
		{Warning, "DC02", IDRangeFamilyMismatch, `IPv4 and IPv6 ranges differ: tcp4, udp4 use 49152-65535; tcp6, udp6 use 55000-65535`},
		{Warning, "DC02", IDRangeGroupInconsistent, `differs from most of group "dc": tcp6 uses 55000-65535 where 2 of the group's 3 hosts use 49152-65535`},
		{Warning, "EXCH01", IDRangeAssumed, `no range captured or declared for tcp4; assumed 1025-60000 from Exchange 2007 on OS "Windows Server 2008 R2"`},
		{Warning, "EXCH01", IDRangeBaselineMismatch, `tcp4 is assumed to use 1025-60000 instead of the baseline 49152-65535`},
		{Warning, "EXCH01", IDRangeExchange2007, `tcp4 is assumed to use 1025-60000, the range Exchange 2007 sets on Server 2008: firewalls opened for 49152-65535 block RPC to this host on ports below 49152`},
		{Warning, "EXCH01", IDServicePortOverlap, "..."},
		{Warning, "SQL03", IDRPCPortsLow, `Rpc\Internet ports 5000-5100, 5984 include 1 port at or below 5000 (5000), where other programs and the pre-Vista dynamic range take ports; Microsoft advises ports above 5000`},
		{Warning, "TODO01", IDHostNoAddress, `no address known, so no firewall rule can name this host`},
		{Warning, "TODO01", IDRangeAssumed, `no range captured or declared for tcp4; assumed 49152-65535 from OS "Windows Server 2022" (Vista and later default)`},
		{Info, "HV01", IDExcludedOverlap, `excluded port ranges cut into the dynamic range: tcp4 uses 49152-65535 minus excluded 50000-50059, leaving 16324 of 16384 ports`},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Check(estate) mismatch (-want +got):\n%s", diff)
	}
}

func TestCheckDeterministic(t *testing.T) {
	e := benchEstate(2000)
	first := Check(e, CheckOptions{})
	for i := range 5 {
		if diff := cmp.Diff(first, Check(e, CheckOptions{})); diff != "" {
			t.Fatalf("Check run %d differs from the first (-first +run):\n%s", i+2, diff)
		}
	}
	if len(first) == 0 {
		t.Fatal("benchEstate raised no findings")
	}
}

// benchEstate builds a synthetic estate of n hosts: groups of 50, mostly
// captured default ranges, with legacy, Exchange 2007, drifted, inferred,
// IPv6, excluded and restricted hosts mixed in, and a small policy.
func benchEstate(n int) *Estate {
	e := NewEstate()
	s := src("inventory.yaml", 1)
	for i := range n {
		h := &Host{
			Name:      fmt.Sprintf("SRV%06d", i),
			Addresses: []Addr{{Addr: netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})}},
			Groups:    []string{fmt.Sprintf("g%04d", i/50)},
			OS:        "Windows Server 2019",
		}
		if i%4 == 0 {
			h.Addresses = append(h.Addresses, Addr{Addr: netip.AddrFrom16([16]byte{0: 0xfd, 12: byte(i >> 24), 13: byte(i >> 16), 14: byte(i >> 8), 15: byte(i)})})
		}
		switch {
		case i%10 == 0:
			h.OS = "Windows Server 2003"
			h.Ranges = obs("1025-5000", Declared, s, TCP4, UDP4)
		case i%10 == 1:
			// nothing read: inferred from the OS
		case i%10 == 2:
			h.OS, h.Apps = "Windows Server 2008 R2", []string{"Exchange 2007"}
			h.Ranges = obs("1025-60000", Captured, s, TCP4, UDP4, TCP6)
		case i%10 == 3:
			h.Ranges = append(obs("50000-65535", Captured, s, TCP4), obs("49152-65535", Declared, s, TCP4, TCP6)...)
		default:
			h.Ranges = obs("49152-65535", Captured, s, all4...)
		}
		if i%100 == 5 {
			h.Excluded = []Excluded{{Key: TCP4, Range: mustRange("50000-50059"), Administered: true}, {Key: TCP4, Range: mustRange("55000-55099")}}
		}
		if i%100 == 7 {
			h.RPC = &RPCInternet{PortsType: "REG_MULTI_SZ", Ports: []PortsEntry{{Text: "5000-5050"}}}
		}
		if i%1000 == 9 {
			h.RPC = &RPCInternet{PortsType: "REG_SZ", Ports: []PortsEntry{{Text: "lots"}}}
		}
		e.Add(h)
	}
	e.PolicySet = true
	e.Policy = []PolicyRule{
		{Name: "all", From: []Selector{{Kind: SelPrefix, Prefix: netip.MustParsePrefix("10.0.0.0/8")}}, To: []Selector{{Kind: SelGroup, Name: "g0001"}, {Kind: SelGroup, Name: "g0002"}},
			Services: []Service{{Kind: SvcRPC}, {Kind: SvcRPCUDP}}},
		{Name: "gone", From: []Selector{{Kind: SelGroup, Name: "retired"}}, To: []Selector{{Kind: SelHost, Name: "SRV000001"}}, Services: []Service{{Kind: SvcRPC}}},
	}
	return e
}

// BenchmarkCheck runs every check on a synthetic 100,000-host estate:
//
//	go test ./audit -run '^$' -bench Check
func BenchmarkCheck(b *testing.B) {
	e := benchEstate(100_000)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		n = len(Check(e, CheckOptions{}))
	}
	b.ReportMetric(float64(n), "findings")
}

func TestSortedKeysInDetail(t *testing.T) {
	// Keys in details follow Keys' order, whatever order they were read in.
	h := &Host{Name: "LEG", Addresses: addrs("10.0.0.1", "fd00::1")}
	for _, k := range []Key{UDP6, TCP6, UDP4, TCP4} {
		h.Ranges = append(h.Ranges, obs("1025-5000", Captured, netsh, k)...)
	}
	fs := only(Check(estateOf(h), CheckOptions{}), IDRangeLegacy)
	if len(fs) != 1 || !slices.Equal(fs[0].Detail["keys"].([]string), []string{"tcp4", "udp4", "tcp6", "udp6"}) {
		t.Errorf("range-legacy keys = %v, want tcp4, udp4, tcp6, udp6", fs)
	}
}
