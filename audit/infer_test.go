package audit

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseOS(t *testing.T) {
	tests := map[string]OSGeneration{
		"Windows Server 2003 R2":  OSLegacy,
		"Win2k3":                  OSLegacy,
		"W2K3 SP2":                OSLegacy,
		"Windows 2000 Server":     OSLegacy,
		"Windows XP Professional": OSLegacy,
		"Microsoft(R) Windows(R) Server 2003, Standard Edition": OSLegacy,
		"Windows Server 2008":               OSServer2008,
		"Windows Server 2008 R2 Enterprise": OSServer2008,
		"W2K8R2":                            OSServer2008,
		"Windows Vista":                     OSServer2008,
		"Windows 7":                         OSServer2008,
		"Microsoft Windows Server 2019 Datacenter": OSModern,
		"Windows Server 2012 R2":                   OSModern,
		"Win2k22":                                  OSModern,
		"Windows 10 Enterprise":                    OSModern,
		"windows server 2025":                      OSModern,
		"Debian GNU/Linux 12":                      OSUnknown,
		"":                                         OSUnknown,
	}
	for in, want := range tests {
		if got := ParseOS(in); got != want {
			t.Errorf("ParseOS(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestInferRange(t *testing.T) {
	tests := []struct {
		os   string
		apps []string
		want PortRange
		ok   bool
	}{
		{"Windows Server 2003 R2", nil, LegacyRange, true},
		{"Windows Server 2008", []string{"exchange-2007"}, Exchange2007Range, true},
		{"Windows Server 2008 R2", []string{"Exchange 2007 SP3"}, Exchange2007Range, true},
		{"Windows Server 2003", []string{"exchange-2007"}, LegacyRange, true},
		{"Windows Server 2019", []string{"exchange-2007"}, DefaultRange, true},
		{"Windows Server 2016", nil, DefaultRange, true},
		{"Solaris", nil, PortRange{}, false},
	}
	for _, tt := range tests {
		got, reason, ok := InferRange(tt.os, tt.apps)
		if got != tt.want || ok != tt.ok || (ok && reason == "") {
			t.Errorf("InferRange(%q, %v) = %v, %q, %v, want %v, %v", tt.os, tt.apps, got, reason, ok, tt.want, tt.ok)
		}
	}
}

func TestEffectiveAndSpan(t *testing.T) {
	e := NewEstate()
	e.Baseline[TCP4] = RangeObs{Key: TCP4, Range: PortRange{50000, 60000}}
	h := e.Host("A")
	if got := e.Effective(h, TCP4); got.Origin != Inferred || got.Range != (PortRange{50000, 60000}) || got.Reason != "the baseline (no OS known)" {
		t.Errorf("no OS: %+v", got)
	}
	h.OS = "Windows Server 2003"
	if got := e.Effective(h, TCP4); got.Range != LegacyRange || got.Reason != `OS "Windows Server 2003" (pre-Vista default)` {
		t.Errorf("2003: %+v", got)
	}
	h.Ranges = append(h.Ranges, RangeObs{Key: TCP4, Range: DefaultRange, Origin: Captured})
	if got := e.Effective(h, TCP4); got.Origin != Captured || got.Range != DefaultRange {
		t.Errorf("captured: %+v", got)
	}
	if s := e.Span(h, TCP4); s.Restricted || !cmp.Equal(s.Ports, []PortRange{DefaultRange}) {
		t.Errorf("Span without restriction = %+v", s)
	}
	h.RPC = &RPCInternet{Ports: []PortsEntry{{Text: "5984"}, {Text: "5000-5100"}}, PortsType: "REG_MULTI_SZ", UseInternetPorts: Flag{Value: "Y"}}
	if s := e.Span(h, TCP4); !s.Restricted || !cmp.Equal(s.Ports, []PortRange{{5000, 5100}, {5984, 5984}}) {
		t.Errorf("Span with restriction = %+v", s)
	}
	h.RPC.Ports = append(h.RPC.Ports, PortsEntry{Text: "70000"})
	if s := e.Span(h, TCP4); s.Restricted {
		t.Errorf("invalid restriction must fall back to the dynamic range: %+v", s)
	}
	h.RPC.Ports = h.RPC.Ports[:2]
	h.RPC.UseInternetPorts = Flag{Value: "N"}
	if s := e.Span(h, TCP4); s.Restricted {
		t.Errorf("UseInternetPorts=N: restriction not in force: %+v", s)
	}
}

func TestRestrictionIssues(t *testing.T) {
	h := &Host{RPC: &RPCInternet{
		Ports:            []PortsEntry{{Text: "5000-5100"}, {Text: "abc"}, {Text: "70000"}, {Text: "6000-5000"}, {Text: ""}},
		PortsType:        "REG_SZ",
		UseInternetPorts: Flag{Value: "yes"},
	}}
	ports, inForce, issues := h.Restriction()
	var msgs []string
	for _, i := range issues {
		msgs = append(msgs, i.Entry+": "+i.Msg)
	}
	want := []string{
		"Ports: written as REG_SZ; Windows needs REG_MULTI_SZ",
		`abc: "abc" is not a port number`,
		"70000: port 70000 is outside 0-65535",
		`6000-5000: range "6000-5000" ends below its start`,
		": empty entry",
		`UseInternetPorts: UseInternetPorts is "yes"; Windows accepts only Y or N`,
	}
	if diff := cmp.Diff(want, msgs); diff != "" {
		t.Errorf("issues (-want +got):\n%s", diff)
	}
	if inForce || !cmp.Equal(ports, []PortRange{{5000, 5100}}) {
		t.Errorf("ports = %v, inForce = %v", ports, inForce)
	}
}

func TestRangeSets(t *testing.T) {
	merged := MergeRanges([]PortRange{{10, 20}, {1, 5}, {6, 8}, {15, 30}, {40, 40}})
	if !cmp.Equal(merged, []PortRange{{1, 8}, {10, 30}, {40, 40}}) {
		t.Errorf("MergeRanges = %v", merged)
	}
	if CountPorts(merged) != 8+21+1 {
		t.Errorf("CountPorts = %d", CountPorts(merged))
	}
	sub := SubtractRanges([]PortRange{{49152, 65535}}, []PortRange{{50000, 50059}, {60000, 65535}})
	if !cmp.Equal(sub, []PortRange{{49152, 49999}, {50060, 59999}}) {
		t.Errorf("SubtractRanges = %v", sub)
	}
	if got := SubtractRanges([]PortRange{{1, 10}, {20, 30}}, []PortRange{{0, 2}, {5, 25}}); !cmp.Equal(got, []PortRange{{3, 4}, {26, 30}}) {
		t.Errorf("SubtractRanges = %v", got)
	}
	if FormatRanges([]PortRange{{135, 135}, DefaultRange}) != "135, 49152-65535" {
		t.Error("FormatRanges")
	}
}

func TestEffectivePreVista(t *testing.T) {
	e := NewEstate()
	h := e.Host("LEG")
	h.OS = "Windows Server 2019" // a stale inventory; the capture knows better
	h.PreVista = Source{File: "captures/LEG/netsh.txt", Line: 3}
	got := e.Effective(h, TCP4)
	if got.Range != LegacyRange || got.Origin != Inferred || !strings.Contains(got.Reason, "captures/LEG/netsh.txt:3") {
		t.Errorf("Effective = %+v", got)
	}
}
