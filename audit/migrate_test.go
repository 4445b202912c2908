package audit

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestMigrate(t *testing.T) {
	all := func(names ...string) []planHost {
		hosts := []planHost{
			{name: "DC01", addrs: []string{"10.0.0.1", "fd00::1"}, os: "Windows Server 2019"},
			{name: "LEG01", addrs: []string{"10.0.0.4"}, os: "Windows Server 2003"},
			{name: "LEG02", addrs: []string{"10.0.0.5"}, os: "Windows Server 2003 R2"},
			{name: "SQL01", addrs: []string{"10.0.0.3"}, rpc: []string{"5000-5100"}},
		}
		hosts = slices.DeleteFunc(hosts, func(h planHost) bool { return !slices.Contains(names, h.name) })
		for i := range hosts {
			hosts[i].groups = []string{"all"}
		}
		return hosts
	}
	tests := []struct {
		name   string
		hosts  []planHost
		policy func(t *testing.T) []PolicyRule
		target PortRange
		want   *Migration
	}{{
		// LEG01 moves; ports 1500-1600 stay open to everyone and 3389 to
		// DC01, as explicit services need them; SQL01 keeps its
		// restriction.
		name:  "legacy host moves, explicit services stay",
		hosts: all("DC01", "LEG01", "SQL01"),
		policy: func(t *testing.T) []PolicyRule {
			return []PolicyRule{
				{Name: "all", From: planSel(t, "group:all"), To: planSel(t, "group:all"), Services: planSvcs(t, "rpc")},
				{Name: "rdp", From: planSel(t, "host:DC01"), To: planSel(t, "host:LEG01"), Services: planSvcs(t, "tcp/3389")},
				{Name: "admin", From: planSel(t, "group:all"), To: planSel(t, "host:LEG01"), Services: planSvcs(t, "tcp/1500-1600")},
			}
		},
		target: DefaultRange,
		want: &Migration{
			Target: DefaultRange,
			Moving: []string{"LEG01"},
			Open: []Change{
				{Family: 4, Proto: "tcp", Ports: portsDynamic, Sources: planPfx("10.0.0.1", "10.0.0.3", "10.0.0.4"), Destinations: planPfx("10.0.0.4"), DestHosts: []string{"LEG01"}},
			},
			Close: []Change{
				{Family: 4, Proto: "tcp", Ports: []PortRange{{1025, 1499}, {1601, 3388}, {3390, 5000}}, Sources: planPfx("10.0.0.1", "10.0.0.3", "10.0.0.4"), Destinations: planPfx("10.0.0.4"), DestHosts: []string{"LEG01"}},
				{Family: 4, Proto: "tcp", Ports: []PortRange{{3389, 3389}}, Sources: planPfx("10.0.0.3", "10.0.0.4"), Destinations: planPfx("10.0.0.4"), DestHosts: []string{"LEG01"}},
			},
		},
	}, {
		name:   "nothing to move",
		hosts:  all("DC01", "SQL01"),
		target: DefaultRange,
		want:   &Migration{Target: DefaultRange},
	}, {
		// Both portsLegacy hosts share their changes; DC01 only narrows.
		name:   "narrower target",
		hosts:  all("DC01", "LEG01", "LEG02", "SQL01"),
		target: PortRange{50000, 50999},
		want: &Migration{
			Target: PortRange{50000, 50999},
			Moving: []string{"DC01", "LEG01", "LEG02"},
			Open: []Change{
				{Family: 4, Proto: "tcp", Ports: []PortRange{{50000, 50999}}, Sources: planPfx("10.0.0.1", "10.0.0.3", "10.0.0.4/31"), Destinations: planPfx("10.0.0.4/31"), DestHosts: []string{"LEG01", "LEG02"}},
			},
			Close: []Change{
				{Family: 4, Proto: "tcp", Ports: portsLegacy, Sources: planPfx("10.0.0.1", "10.0.0.3", "10.0.0.4/31"), Destinations: planPfx("10.0.0.4/31"), DestHosts: []string{"LEG01", "LEG02"}},
				{Family: 4, Proto: "tcp", Ports: []PortRange{{49152, 49999}, {51000, 65535}}, Sources: planPfx("10.0.0.1", "10.0.0.3", "10.0.0.4/31"), Destinations: planPfx("10.0.0.1"), DestHosts: []string{"DC01"}},
				{Family: 6, Proto: "tcp", Ports: []PortRange{{49152, 49999}, {51000, 65535}}, Sources: planPfx("fd00::1"), Destinations: planPfx("fd00::1"), DestHosts: []string{"DC01"}},
			},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := planEstate(tt.hosts)
			if tt.policy != nil {
				e.Policy, e.PolicySet = tt.policy(t), true
			}
			got := Migrate(e, tt.target)
			if diff := cmp.Diff(tt.want, got, planCmp); diff != "" {
				t.Errorf("Migrate(%v) mismatch (-want +got):\n%s", tt.target, diff)
			}
		})
	}
}

// planMovedEstate returns e after every host without an Rpc\Internet
// restriction in force set all four ranges to target.
func planMovedEstate(e *Estate, target PortRange) *Estate {
	m := NewEstate()
	m.Policy, m.PolicySet, m.Baseline = e.Policy, e.PolicySet, e.Baseline
	for _, h := range e.Hosts() {
		c := *h
		c.Ranges = slices.Clone(h.Ranges)
		if !e.Span(h, TCP4).Restricted {
			for _, k := range Keys {
				c.Ranges = append(c.Ranges, RangeObs{Key: k, Range: target, Origin: Flagged})
			}
		}
		m.hosts[strings.ToLower(h.Name)] = &c
	}
	return m
}

// TestMigrateExact checks on random estates that Open is exactly what the
// moved estate's plan allows and the current plan does not, and Close the
// reverse, at every address and port boundary.
func TestMigrateExact(t *testing.T) {
	targets := []PortRange{DefaultRange, LegacyRange, {50000, 50999}, {3000, 6000}}
	for seed := range uint64(300) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(2, seed))
			e := planRandomEstate(r)
			target := targets[r.IntN(len(targets))]
			moved := planMovedEstate(e, target)
			before, after := BuildPlan(e), BuildPlan(moved)
			m := Migrate(e, target)

			var wantMoving []string
			for _, h := range e.Hosts() {
				mh, _ := moved.Lookup(h.Name)
				if slices.ContainsFunc(Keys, func(k Key) bool {
					return !slices.Equal(e.Span(h, k).Ports, moved.Span(mh, k).Ports)
				}) {
					wantMoving = append(wantMoving, h.Name)
				}
			}
			if !slices.Equal(m.Moving, wantMoving) {
				t.Errorf("Migrate(%v).Moving = %v, want %v", target, m.Moving, wantMoving)
			}

			flows, _ := planRawFlows(e)
			movedFlows, _ := planRawFlows(moved)
			srcs, ports := planProbePoints(e, append(flows, movedFlows...), &Plan{Rules: append(slices.Clip(before.Rules), after.Rules...)})
			allows := func(rules []Rule, sa, da netip.Addr, proto string, port int) bool {
				return slices.ContainsFunc(rules, func(r Rule) bool {
					return r.Proto == proto && planPrefixesContain(r.Sources, sa) && planPrefixesContain(r.Destinations, da) && planPortsContain(r.Ports, port)
				})
			}
			changes := func(cs []Change, sa, da netip.Addr, proto string, port int) bool {
				return slices.ContainsFunc(cs, func(c Change) bool {
					return c.Proto == proto && planPrefixesContain(c.Sources, sa) && planPrefixesContain(c.Destinations, da) && planPortsContain(c.Ports, port)
				})
			}
			for _, cs := range [][]Change{m.Open, m.Close} {
				for _, c := range cs {
					if planPortsContain(c.Ports, 135) {
						t.Errorf("change %+v touches port 135", c)
					}
				}
			}
			for _, d := range e.Hosts() {
				for _, da := range d.AddrList() {
					for _, proto := range []string{"tcp", "udp"} {
						for _, sa := range srcs {
							for _, port := range ports {
								old, cur := allows(before.Rules, sa, da, proto, port), allows(after.Rules, sa, da, proto, port)
								open, closed := changes(m.Open, sa, da, proto, port), changes(m.Close, sa, da, proto, port)
								if open != (cur && !old) || closed != (old && !cur) {
									t.Fatalf("%v -> %v (%s) %s/%d: before %v, after %v; Migrate opens %v, closes %v\nopen %+v\nclose %+v",
										sa, da, d.Name, proto, port, old, cur, open, closed, m.Open, m.Close)
								}
							}
						}
					}
				}
			}
		})
	}
}

// BenchmarkMigrate100k compares the plans of 100,000 hosts on three spans
// before and after moving to the default range:
//
//	go test ./audit -run '^$' -bench Migrate -benchmem
func BenchmarkMigrate100k(b *testing.B) {
	e := planBigEstate(100000)
	b.ReportAllocs()
	for b.Loop() {
		if m := Migrate(e, DefaultRange); len(m.Open) != 4 {
			b.Fatalf("Migrate() = %d changes to open, want 4", len(m.Open))
		}
	}
}
