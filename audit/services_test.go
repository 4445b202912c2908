package audit

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestServicePortsTable(t *testing.T) {
	sorted := slices.IsSortedFunc(ServicePorts, func(a, b ServicePort) int {
		if a.Port != b.Port {
			return int(a.Port) - int(b.Port)
		}
		return strings.Compare(a.Proto, b.Proto)
	})
	if !sorted {
		t.Error("ServicePorts is not sorted by port, then protocol")
	}
	for _, s := range ServicePorts {
		if s.Proto != "tcp" && s.Proto != "udp" && s.Proto != "both" || s.Name == "" || s.Port < MinDynamicStart {
			t.Errorf("bad entry %v", s)
		}
		if DefaultRange.Contains(s.Port) {
			t.Errorf("%v lies in the default range: every default host would be flagged", s)
		}
	}
	for _, want := range []uint16{1433, 1434, 1521, 3268, 3269, 3306, 3389, 5432, 5985, 5986, 8080, 8443, 9389} {
		if !slices.ContainsFunc(ServicePorts, func(s ServicePort) bool { return s.Port == want }) {
			t.Errorf("ServicePorts lacks %d", want)
		}
	}
}

func TestServicesIn(t *testing.T) {
	ports := func(ss []ServicePort) []string {
		var out []string
		for _, s := range ss {
			out = append(out, s.String())
		}
		return out
	}
	tests := []struct {
		proto string
		r     PortRange
		want  []string
	}{
		{"tcp", PortRange{1433, 1434}, []string{"1433/tcp SQL Server", "1434/tcp SQL Server dedicated admin connection"}},
		{"udp", PortRange{1433, 1434}, []string{"1434/udp SQL Server Browser"}},
		{"udp", PortRange{3389, 3389}, []string{"3389/tcp+udp Remote Desktop"}},
		{"tcp", PortRange{1434, 1520}, []string{"1434/tcp SQL Server dedicated admin connection"}},
		{"tcp", PortRange{1435, 1520}, nil},
		{"tcp", PortRange{47001, 65535}, []string{"47001/tcp WinRM listener (local)"}},
		{"tcp", DefaultRange, nil},
		{"udp", DefaultRange, nil},
	}
	for _, tt := range tests {
		if got := ports(ServicesIn(tt.proto, tt.r)); !cmp.Equal(got, tt.want) {
			t.Errorf("ServicesIn(%s, %v) = %v, want %v", tt.proto, tt.r, got, tt.want)
		}
	}
}
