package audit

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseKeys(t *testing.T) {
	tests := []struct {
		in   string
		want []Key
	}{
		{"tcp", []Key{TCP4, TCP6}},
		{"UDP", []Key{UDP4, UDP6}},
		{"tcp6", []Key{TCP6}},
		{"udp4", []Key{UDP4}},
	}
	for _, tt := range tests {
		got, err := ParseKeys(tt.in)
		if err != nil || !cmp.Equal(got, tt.want) {
			t.Errorf("ParseKeys(%q) = %v, %v, want %v", tt.in, got, err, tt.want)
		}
	}
	if _, err := ParseKeys("icmp"); err == nil || err.Error() != `unknown range key "icmp" (want tcp, udp, tcp4, udp4, tcp6 or udp6)` {
		t.Errorf("ParseKeys(icmp) error = %v", err)
	}
	if TCP6.Proto() != "tcp" || TCP6.Family() != 6 || UDP4.Family() != 4 || MakeKey("udp", 6) != UDP6 {
		t.Error("Key helpers wrong")
	}
}

func TestSourceString(t *testing.T) {
	tests := []struct {
		s    Source
		want string
	}{
		{Source{File: "captures/DC01/netsh.txt", Line: 3}, "captures/DC01/netsh.txt:3"},
		{Source{File: "x.reg"}, "x.reg"},
		{Source{Flag: "--range DC01:tcp=1025-5000"}, "--range DC01:tcp=1025-5000"},
		{Source{}, "default"},
	}
	for _, tt := range tests {
		if got := tt.s.String(); got != tt.want {
			t.Errorf("%#v.String() = %q, want %q", tt.s, got, tt.want)
		}
	}
}

func TestHostRangePrecedence(t *testing.T) {
	inv := Source{File: "inventory.yaml", Line: 9}
	cap1 := Source{File: "captures/DC01/netsh.txt", Line: 5}
	flag := Source{Flag: "--range DC01:tcp4=1025-5000"}
	h := &Host{Name: "DC01"}
	h.Ranges = append(h.Ranges,
		RangeObs{Key: TCP4, Range: DefaultRange, Origin: Captured, Src: cap1},
		RangeObs{Key: TCP4, Range: PortRange{50000, 60000}, Origin: Declared, Src: inv},
	)
	if got, _ := h.Range(TCP4); got.Src != cap1 {
		t.Fatalf("capture must beat a declaration read after it: got %v", got)
	}
	h.Ranges = append(h.Ranges, RangeObs{Key: TCP4, Range: LegacyRange, Origin: Flagged, Src: flag})
	if got, _ := h.Range(TCP4); got.Range != LegacyRange {
		t.Fatalf("flag must win: got %v", got)
	}
	if _, ok := h.Range(UDP6); ok {
		t.Fatal("unknown key must not be found")
	}
}

func TestEstateMerge(t *testing.T) {
	e := NewEstate()
	a := netip.MustParseAddr("10.1.0.10")
	e.Add(&Host{Name: "DC01", Groups: []string{"dc"}, Addresses: []Addr{{Addr: a}}, OS: "Windows Server 2019"})
	e.Add(&Host{Name: "dc01", Groups: []string{"DC", "sites"}, Addresses: []Addr{{Addr: a}, {Addr: netip.MustParseAddr("fd00::10")}},
		Excluded: []Excluded{{Key: TCP4, Range: PortRange{50000, 50059}}, {Key: TCP4, Range: PortRange{50000, 50059}}}})
	e.Add(&Host{Name: "APP01"})
	hosts := e.Hosts()
	if len(hosts) != 2 || hosts[0].Name != "APP01" || hosts[1].Name != "DC01" {
		t.Fatalf("Hosts() = %v", hosts)
	}
	dc := hosts[1]
	if !cmp.Equal(dc.Groups, []string{"dc", "sites"}) {
		t.Errorf("groups = %v", dc.Groups)
	}
	if got := dc.AddrList(); len(got) != 2 || got[0] != a {
		t.Errorf("addresses = %v", got)
	}
	if got := dc.ExcludedRanges(TCP4); len(got) != 1 {
		t.Errorf("excluded = %v", got)
	}
	if e.BaselineRange(UDP6).Range != DefaultRange {
		t.Error("default baseline")
	}
}

func TestValidHostName(t *testing.T) {
	good := []string{"DC01", "dc01.corp.example.com", "SRV_LEGACY", "a", "x-1"}
	for _, n := range good {
		if err := ValidHostName(n); err != nil {
			t.Errorf("ValidHostName(%q) = %v", n, err)
		}
	}
	bad := map[string]string{
		"":            `empty host name`,
		`DC"01`:       `host name "DC\"01" contains '"' (allowed: letters, digits, '-', '_', '.')`,
		"DC01\nX":     `host name "DC01\nX" contains '\n' (allowed: letters, digits, '-', '_', '.')`,
		"-dc":         `host name "-dc" has a label starting or ending with '-'`,
		"a..b":        `host name "a..b" has an empty label`,
		"DC01 ; rm x": `host name "DC01 ; rm x" contains ' ' (allowed: letters, digits, '-', '_', '.')`,
	}
	for n, want := range bad {
		if err := ValidHostName(n); err == nil || err.Error() != want {
			t.Errorf("ValidHostName(%q) = %v, want %q", n, err, want)
		}
	}
}

func TestParseSelectorAndService(t *testing.T) {
	sels := map[string]string{
		"group:dc":         "group:dc",
		"host:DC01":        "host:DC01",
		"10.1.0.0/16":      "10.1.0.0/16",
		"10.1.2.3/16":      "10.1.0.0/16",
		"10.1.0.10":        "10.1.0.10",
		"fd00::/8":         "fd00::/8",
		"::ffff:10.1.0.10": "10.1.0.10",
	}
	for in, want := range sels {
		s, err := ParseSelector(in)
		if err != nil || s.String() != want {
			t.Errorf("ParseSelector(%q) = %v, %v, want %s", in, s, err, want)
		}
	}
	for _, in := range []string{"group:", "dc", "host:a b", "10.0.0.0/33", "fe80::1%eth0", "group:a;b"} {
		if _, err := ParseSelector(in); err == nil {
			t.Errorf("ParseSelector(%q): no error", in)
		}
	}
	svcs := map[string]string{"rpc": "rpc", "RPC-UDP": "rpc-udp", "tcp/445": "tcp/445", "udp/53-60": "udp/53-60"}
	for in, want := range svcs {
		s, err := ParseService(in)
		if err != nil || s.String() != want {
			t.Errorf("ParseService(%q) = %v, %v, want %s", in, s, err, want)
		}
	}
	for _, in := range []string{"icmp/8", "tcp/70000", "tcp", "smb"} {
		if _, err := ParseService(in); err == nil {
			t.Errorf("ParseService(%q): no error", in)
		}
	}
}
