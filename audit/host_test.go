package audit

import (
	"net/netip"
	"slices"
	"testing"
)

func TestHostSubnets(t *testing.T) {
	p := netip.MustParsePrefix
	a := Source{File: "a.txt", Line: 11}
	b := Source{File: "b.txt", Line: 4}
	h := &Host{Name: "DC01", Subnets: []Subnet{{Prefix: p("10.1.0.0/24"), Src: a}}}
	h.Merge(&Host{Subnets: []Subnet{{Prefix: p("10.1.0.0/24"), Src: b}, {Prefix: p("192.168.0.0/16"), Src: b}, {Prefix: p("fd00::/64"), Src: b}}})
	want := []Subnet{{p("10.1.0.0/24"), a}, {p("192.168.0.0/16"), b}, {p("fd00::/64"), b}}
	if !slices.Equal(h.Subnets, want) {
		t.Errorf("Merge: Subnets = %v, want %v", h.Subnets, want)
	}
	if got, want := h.SubnetList(4), []netip.Prefix{p("10.1.0.0/24"), p("192.168.0.0/16")}; !slices.Equal(got, want) {
		t.Errorf("SubnetList(4) = %v, want %v", got, want)
	}
	if got, want := h.SubnetList(6), []netip.Prefix{p("fd00::/64")}; !slices.Equal(got, want) {
		t.Errorf("SubnetList(6) = %v, want %v", got, want)
	}
}
