package audit

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go4.org/netipx"
)

var planCmp = cmpopts.EquateComparable(netip.Prefix{})

// planPfx parses prefixes, taking a bare address as a single-address prefix.
func planPfx(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		if !strings.Contains(s, "/") {
			a := netip.MustParseAddr(s)
			out[i] = netip.PrefixFrom(a, a.BitLen())
			continue
		}
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

// planHost describes a host of a test estate.
type planHost struct {
	name   string
	addrs  []string
	groups []string
	os     string
	ranges map[Key]PortRange
	rpc    []string // Rpc\Internet Ports, in force
}

func planEstate(hosts []planHost, policy ...PolicyRule) *Estate {
	e := NewEstate()
	for _, th := range hosts {
		h := e.Host(th.name)
		for _, a := range th.addrs {
			h.Addresses = append(h.Addresses, Addr{Addr: netip.MustParseAddr(a)})
		}
		h.Groups, h.OS = th.groups, th.os
		for _, k := range Keys {
			if r, ok := th.ranges[k]; ok {
				h.Ranges = append(h.Ranges, RangeObs{Key: k, Range: r, Origin: Captured})
			}
		}
		if th.rpc != nil {
			h.RPC = &RPCInternet{PortsType: "REG_MULTI_SZ", UseInternetPorts: Flag{Value: "Y"}}
			for _, p := range th.rpc {
				h.RPC.Ports = append(h.RPC.Ports, PortsEntry{Text: p})
			}
		}
	}
	if policy != nil {
		e.Policy, e.PolicySet = policy, true
	}
	return e
}

func planAllKeys(r PortRange) map[Key]PortRange {
	return map[Key]PortRange{TCP4: r, UDP4: r, TCP6: r, UDP6: r}
}

func planSel(t *testing.T, ss ...string) []Selector {
	t.Helper()
	var out []Selector
	for _, s := range ss {
		v, err := ParseSelector(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

func planSvcs(t *testing.T, ss ...string) []Service {
	t.Helper()
	var out []Service
	for _, s := range ss {
		v, err := ParseService(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

var (
	portsEPM     = []PortRange{{135, 135}}
	portsDynamic = []PortRange{DefaultRange}
	portsLegacy  = []PortRange{LegacyRange}
)

// planHandful is a small estate: a modern host with IPv4 and IPv6, one on the
// baseline, a pre-Vista one, one restricted by Rpc\Internet, one without
// any address and one with IPv6 only.
var planHandful = []planHost{
	{name: "DC01", addrs: []string{"10.0.0.1", "fd00::1"}, os: "Windows Server 2019"},
	{name: "FS01", addrs: []string{"10.0.0.2"}},
	{name: "LEG01", addrs: []string{"10.0.0.4"}, os: "Windows Server 2003"},
	{name: "NOADDR", os: "Windows Server 2019"},
	{name: "SQL01", addrs: []string{"10.0.0.3"}, rpc: []string{"5000-5100"}},
	{name: "V6ONLY", addrs: []string{"fd00::2"}, ranges: planAllKeys(DefaultRange)},
}

func TestBuildPlan(t *testing.T) {
	src4 := planPfx("10.0.0.1", "10.0.0.2/31", "10.0.0.4")
	tests := []struct {
		name  string
		hosts []planHost
		// policy is nil for the default; set builds it from the test.
		policy func(t *testing.T) []PolicyRule
		want   *Plan
	}{{
		name:  "default policy",
		hosts: planHandful,
		want: &Plan{RawFlows: 14, Rules: []Rule{
			{Family: 4, Proto: "tcp", Service: "rpc", Ports: portsEPM, EPM: true, Sources: src4, Destinations: src4,
				DestHosts: []string{"DC01", "FS01", "LEG01", "SQL01"}, Policies: []string{"default"}, Flows: 12},
			{Family: 4, Proto: "tcp", Service: "rpc", Ports: portsLegacy, Sources: src4, Destinations: planPfx("10.0.0.4"),
				DestHosts: []string{"LEG01"}, Policies: []string{"default"}, Flows: 3},
			{Family: 4, Proto: "tcp", Service: "rpc", Ports: []PortRange{{5000, 5100}}, Sources: src4, Destinations: planPfx("10.0.0.3"),
				DestHosts: []string{"SQL01"}, Policies: []string{"default"}, Flows: 3},
			{Family: 4, Proto: "tcp", Service: "rpc", Ports: portsDynamic, Sources: src4, Destinations: planPfx("10.0.0.1", "10.0.0.2"),
				DestHosts: []string{"DC01", "FS01"}, Policies: []string{"default"}, Flows: 6},
			{Family: 6, Proto: "tcp", Service: "rpc", Ports: portsEPM, EPM: true, Sources: planPfx("fd00::1", "fd00::2"), Destinations: planPfx("fd00::1", "fd00::2"),
				DestHosts: []string{"DC01", "V6ONLY"}, Policies: []string{"default"}, Flows: 2},
			{Family: 6, Proto: "tcp", Service: "rpc", Ports: portsDynamic, Sources: planPfx("fd00::1", "fd00::2"), Destinations: planPfx("fd00::1", "fd00::2"),
				DestHosts: []string{"DC01", "V6ONLY"}, Policies: []string{"default"}, Flows: 2},
		}},
	}, {
		name: "groups",
		hosts: []planHost{
			{name: "DC01", addrs: []string{"10.0.0.1"}, groups: []string{"dc"}},
			{name: "DC02", addrs: []string{"10.0.0.2"}, groups: []string{"DC"}, rpc: []string{"5000-5100"}},
			{name: "FS01", addrs: []string{"10.0.1.1"}, groups: []string{"file"}},
		},
		policy: func(t *testing.T) []PolicyRule {
			return []PolicyRule{
				{Name: "dc-rep", From: planSel(t, "group:dc"), To: planSel(t, "group:dc"), Services: planSvcs(t, "rpc")},
				{Name: "members", From: planSel(t, "group:FILE"), To: planSel(t, "group:Dc"), Services: planSvcs(t, "rpc")},
			}
		},
		want: &Plan{RawFlows: 4, Rules: []Rule{
			{Family: 4, Proto: "tcp", Service: "rpc", Ports: portsEPM, EPM: true, Sources: planPfx("10.0.0.1", "10.0.0.2", "10.0.1.1"),
				Destinations: planPfx("10.0.0.1", "10.0.0.2"), DestHosts: []string{"DC01", "DC02"}, Policies: []string{"dc-rep", "members"}, Flows: 4},
			{Family: 4, Proto: "tcp", Service: "rpc", Ports: []PortRange{{5000, 5100}}, Sources: planPfx("10.0.0.1", "10.0.0.2", "10.0.1.1"),
				Destinations: planPfx("10.0.0.2"), DestHosts: []string{"DC02"}, Policies: []string{"dc-rep", "members"}, Flows: 2},
			{Family: 4, Proto: "tcp", Service: "rpc", Ports: portsDynamic, Sources: planPfx("10.0.0.1", "10.0.0.2", "10.0.1.1"),
				Destinations: planPfx("10.0.0.1"), DestHosts: []string{"DC01"}, Policies: []string{"dc-rep", "members"}, Flows: 2},
		}},
	}, {
		name: "explicit services",
		hosts: []planHost{
			{name: "APP01", addrs: []string{"10.0.2.1"}, groups: []string{"app"}},
			{name: "APP02", addrs: []string{"10.0.2.0"}, groups: []string{"app"}},
			{name: "SQL01", addrs: []string{"10.0.3.1", "fd00::31"}, groups: []string{"sql"}},
			{name: "SQL02", addrs: []string{"10.0.3.2"}, groups: []string{"sql"}, ranges: map[Key]PortRange{TCP4: {50000, 50999}}},
		},
		policy: func(t *testing.T) []PolicyRule {
			return []PolicyRule{
				{Name: "app-sql", From: planSel(t, "group:app"), To: planSel(t, "group:sql"), Services: planSvcs(t, "udp/53-60", "tcp/1433", "rpc-udp", "tcp/445", "rpc", "tcp/445")},
			}
		},
		want: &Plan{RawFlows: 20, Rules: []Rule{
			{Family: 4, Proto: "tcp", Service: "rpc", Ports: portsEPM, EPM: true, Sources: planPfx("10.0.2.0/31"), Destinations: planPfx("10.0.3.1", "10.0.3.2"),
				DestHosts: []string{"SQL01", "SQL02"}, Policies: []string{"app-sql"}, Flows: 4},
			{Family: 4, Proto: "tcp", Service: "rpc", Ports: portsDynamic, Sources: planPfx("10.0.2.0/31"), Destinations: planPfx("10.0.3.1"),
				DestHosts: []string{"SQL01"}, Policies: []string{"app-sql"}, Flows: 2},
			{Family: 4, Proto: "tcp", Service: "rpc", Ports: []PortRange{{50000, 50999}}, Sources: planPfx("10.0.2.0/31"), Destinations: planPfx("10.0.3.2"),
				DestHosts: []string{"SQL02"}, Policies: []string{"app-sql"}, Flows: 2},
			{Family: 4, Proto: "tcp", Service: "tcp/445", Ports: []PortRange{{445, 445}}, Sources: planPfx("10.0.2.0/31"), Destinations: planPfx("10.0.3.1", "10.0.3.2"),
				DestHosts: []string{"SQL01", "SQL02"}, Policies: []string{"app-sql"}, Flows: 4},
			{Family: 4, Proto: "tcp", Service: "tcp/1433", Ports: []PortRange{{1433, 1433}}, Sources: planPfx("10.0.2.0/31"), Destinations: planPfx("10.0.3.1", "10.0.3.2"),
				DestHosts: []string{"SQL01", "SQL02"}, Policies: []string{"app-sql"}, Flows: 4},
			{Family: 4, Proto: "udp", Service: "rpc-udp", Ports: portsEPM, EPM: true, Sources: planPfx("10.0.2.0/31"), Destinations: planPfx("10.0.3.1", "10.0.3.2"),
				DestHosts: []string{"SQL01", "SQL02"}, Policies: []string{"app-sql"}, Flows: 4},
			{Family: 4, Proto: "udp", Service: "rpc-udp", Ports: portsDynamic, Sources: planPfx("10.0.2.0/31"), Destinations: planPfx("10.0.3.1", "10.0.3.2"),
				DestHosts: []string{"SQL01", "SQL02"}, Policies: []string{"app-sql"}, Flows: 4},
			{Family: 4, Proto: "udp", Service: "udp/53-60", Ports: []PortRange{{53, 60}}, Sources: planPfx("10.0.2.0/31"), Destinations: planPfx("10.0.3.1", "10.0.3.2"),
				DestHosts: []string{"SQL01", "SQL02"}, Policies: []string{"app-sql"}, Flows: 4},
		}},
	}, {
		name: "prefixes in from",
		hosts: []planHost{
			{name: "DC01", addrs: []string{"10.0.0.1", "fd00::1"}},
			{name: "X", addrs: []string{"10.0.5.5"}},
		},
		policy: func(t *testing.T) []PolicyRule {
			return []PolicyRule{
				{Name: "clients", From: planSel(t, "10.9.0.0/16", "10.0.0.1", "fd00:9::/32", "host:x", "10.9.1.0/24"), To: planSel(t, "host:DC01"), Services: planSvcs(t, "rpc")},
			}
		},
		// IPv4 sources: 10.9.0.0/16, 10.9.1.0/24 (named, though inside
		// the /16), 10.0.5.5 and 10.0.0.1, which is DC01 itself: 3 flows.
		want: &Plan{RawFlows: 4, Rules: []Rule{
			{Family: 4, Proto: "tcp", Service: "rpc", Ports: portsEPM, EPM: true, Sources: planPfx("10.0.0.1", "10.0.5.5", "10.9.0.0/16"), Destinations: planPfx("10.0.0.1"),
				DestHosts: []string{"DC01"}, Policies: []string{"clients"}, Flows: 3},
			{Family: 4, Proto: "tcp", Service: "rpc", Ports: portsDynamic, Sources: planPfx("10.0.0.1", "10.0.5.5", "10.9.0.0/16"), Destinations: planPfx("10.0.0.1"),
				DestHosts: []string{"DC01"}, Policies: []string{"clients"}, Flows: 3},
			{Family: 6, Proto: "tcp", Service: "rpc", Ports: portsEPM, EPM: true, Sources: planPfx("fd00:9::/32"), Destinations: planPfx("fd00::1"),
				DestHosts: []string{"DC01"}, Policies: []string{"clients"}, Flows: 1},
			{Family: 6, Proto: "tcp", Service: "rpc", Ports: portsDynamic, Sources: planPfx("fd00:9::/32"), Destinations: planPfx("fd00::1"),
				DestHosts: []string{"DC01"}, Policies: []string{"clients"}, Flows: 1},
		}},
	}, {
		name:  "unmatched selectors",
		hosts: planHandful,
		policy: func(t *testing.T) []PolicyRule {
			return []PolicyRule{
				{Name: "p1", From: planSel(t, "group:nobody", "host:GHOST", "host:DC01"), To: planSel(t, "host:NOPE", "group:nobody"), Services: planSvcs(t, "rpc")},
				{From: planSel(t, "group:web"), To: planSel(t, "host:dc01"), Services: planSvcs(t, "rpc")},
				{Name: "p1", From: planSel(t, "host:FS01"), To: planSel(t, "group:nobody"), Services: planSvcs(t, "rpc")},
				{Name: "no-address", From: planSel(t, "host:NOADDR"), To: planSel(t, "host:DC01"), Services: planSvcs(t, "rpc")},
				{Name: "no-services", From: planSel(t, "host:FS01"), To: planSel(t, "host:DC01"), Services: []Service{}},
			}
		},
		want: &Plan{Unmatched: []string{
			"policy #2: from group:web",
			"policy p1: from group:nobody",
			"policy p1: from host:GHOST",
			"policy p1: to group:nobody",
			"policy p1: to host:NOPE",
		}},
	}, {
		name:   "policy written with no rule left",
		hosts:  planHandful,
		policy: func(*testing.T) []PolicyRule { return []PolicyRule{} },
		want:   &Plan{},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := planEstate(tt.hosts)
			if tt.policy != nil {
				e.Policy, e.PolicySet = tt.policy(t), true
			}
			got := BuildPlan(e)
			if diff := cmp.Diff(tt.want, got, planCmp); diff != "" {
				t.Errorf("BuildPlan() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestBuildPlanAggregates100k checks the claim: 100,000 hosts on
// three spans need one rule per span plus one for port 135, per family.
func TestBuildPlanAggregates100k(t *testing.T) {
	if testing.Short() {
		t.Skip("100,000 hosts")
	}
	const n = 100000
	p := BuildPlan(planBigEstate(n))
	type shape struct {
		Family int
		Ports  []PortRange
		EPM    bool
		Hosts  int
	}
	var got []shape
	sum := 0
	for _, r := range p.Rules {
		got = append(got, shape{r.Family, r.Ports, r.EPM, len(r.DestHosts)})
		if !r.EPM {
			sum += r.Flows
		}
		if r.Service != "rpc" || r.Proto != "tcp" {
			t.Errorf("rule %v/%v: want rpc over tcp", r.Service, r.Proto)
		}
	}
	// Every fourth host has IPv6; i%3 picks the span.
	want := []shape{
		{4, portsEPM, true, n}, {4, portsLegacy, false, 33333}, {4, []PortRange{Exchange2007Range}, false, 33333}, {4, portsDynamic, false, 33334},
		{6, portsEPM, true, n / 4}, {6, portsLegacy, false, 8333}, {6, []PortRange{Exchange2007Range}, false, 8333}, {6, portsDynamic, false, 8334},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("BuildPlan(100k) rules mismatch (-want +got):\n%s", diff)
	}
	wantRaw := n*n - n + (n/4)*(n/4) - n/4
	if p.RawFlows != wantRaw || sum != wantRaw {
		t.Errorf("BuildPlan(100k) RawFlows = %d (span rules %d), want %d", p.RawFlows, sum, wantRaw)
	}
	if !cmp.Equal(p.Rules[0].Sources, planPfx("10.0.0.0/16", "10.1.0.0/17", "10.1.128.0/22", "10.1.132.0/23", "10.1.134.0/25", "10.1.134.128/27"), planCmp) {
		t.Errorf("BuildPlan(100k) IPv4 sources = %v", p.Rules[0].Sources)
	}
}

// planRandomEstate builds a small estate with overlapping addresses, groups,
// spans and a policy of prefixes, groups and hosts.
func planRandomEstate(r *rand.Rand) *Estate {
	e := NewEstate()
	v4 := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}) }
	v6 := func(i int) netip.Addr { return netip.AddrFrom16([16]byte{0: 0xfd, 15: byte(i)}) }
	perm4, perm6 := r.Perm(16), r.Perm(16)
	spans := []PortRange{DefaultRange, LegacyRange, Exchange2007Range, {50000, 50999}, {1, 65535}}
	restrictions := [][]string{{"5000-5100"}, {"135", "5000-5005"}, {"3389-4000", "5984"}}
	groups := []string{"a", "b", "c"}
	n := 2 + r.IntN(6)
	for i := range n {
		h := e.Host(fmt.Sprintf("H%d", i))
		for range r.IntN(3) {
			h.Addresses = append(h.Addresses, Addr{Addr: v4(perm4[0])})
			perm4 = perm4[1:]
		}
		if r.IntN(2) == 0 {
			h.Addresses = append(h.Addresses, Addr{Addr: v6(perm6[0])})
			perm6 = perm6[1:]
		}
		for _, g := range groups {
			if r.IntN(2) == 0 {
				h.Groups = append(h.Groups, g)
			}
		}
		switch r.IntN(4) {
		case 0:
			h.OS = "Windows Server 2003"
		case 1:
			for _, k := range Keys {
				h.Ranges = append(h.Ranges, RangeObs{Key: k, Range: spans[r.IntN(len(spans))], Origin: Captured})
			}
		case 2:
			h.RPC = &RPCInternet{PortsType: "REG_MULTI_SZ"}
			for _, p := range restrictions[r.IntN(len(restrictions))] {
				h.RPC.Ports = append(h.RPC.Ports, PortsEntry{Text: p})
			}
		}
	}
	if r.IntN(5) == 0 {
		return e
	}
	e.PolicySet = true
	prefixes := []string{"10.0.0.0/29", "10.0.0.5", "10.0.0.8/30", "fd00::/125", "fd00::9", "10.0.0.0/28"}
	services := []string{"rpc", "rpc-udp", "tcp/135", "tcp/445", "tcp/3389", "tcp/5000", "tcp/49152-49160", "udp/53-60", "udp/4000-6000"}
	pick := func() Selector {
		var s string
		switch r.IntN(3) {
		case 0:
			s = "group:" + groups[r.IntN(len(groups))]
		case 1:
			s = fmt.Sprintf("host:H%d", r.IntN(n+1)) // H<n> does not exist
		default:
			s = prefixes[r.IntN(len(prefixes))]
		}
		v, _ := ParseSelector(s)
		return v
	}
	for i := range 1 + r.IntN(4) {
		pr := PolicyRule{Name: fmt.Sprintf("p%d", i)}
		for range 1 + r.IntN(3) {
			pr.From = append(pr.From, pick())
		}
		for range 1 + r.IntN(2) {
			if s := pick(); s.Kind != SelPrefix {
				pr.To = append(pr.To, s)
			}
		}
		for range 1 + r.IntN(3) {
			v, _ := ParseService(services[r.IntN(len(services))])
			pr.Services = append(pr.Services, v)
		}
		e.Policy = append(e.Policy, pr)
	}
	return e
}

// planRawFlow is one required flow, written out the slow way: a source item
// may reach the addresses of dst in one family on ports over proto.
type planRawFlow struct {
	src   netip.Prefix
	dst   *Host
	fam   int
	proto string
	ports []PortRange
}

// planRawFlows lists the flows of e's policy one by one, independently of the
// planner, with self reports whether src is one of dst's own addresses.
func planRawFlows(e *Estate) (flows []planRawFlow, self []bool) {
	policy := e.Policy
	if !e.PolicySet && len(policy) == 0 {
		policy = []PolicyRule{{From: []Selector{{Kind: SelGroup, Name: "*"}}, To: []Selector{{Kind: SelGroup, Name: "*"}}, Services: []Service{{Kind: SvcRPC}}}}
	}
	match := func(s Selector) []*Host {
		var out []*Host
		for _, h := range e.Hosts() {
			switch s.Kind {
			case SelGroup:
				if s.Name == "*" || slices.ContainsFunc(h.Groups, func(g string) bool { return strings.EqualFold(g, s.Name) }) {
					out = append(out, h)
				}
			case SelHost:
				if strings.EqualFold(h.Name, s.Name) {
					out = append(out, h)
				}
			}
		}
		return out
	}
	for _, pr := range policy {
		var items []netip.Prefix
		var to []*Host
		for _, s := range pr.From {
			if s.Kind == SelPrefix {
				items = append(items, s.Prefix)
			}
			for _, h := range match(s) {
				for _, a := range h.AddrList() {
					items = append(items, netip.PrefixFrom(a, a.BitLen()))
				}
			}
		}
		slices.SortFunc(items, netip.Prefix.Compare)
		items = slices.Compact(items)
		for _, s := range pr.To {
			to = append(to, match(s)...)
		}
		slices.SortFunc(to, func(a, b *Host) int { return strings.Compare(a.Name, b.Name) })
		to = slices.Compact(to)
		var services []Service
		for _, s := range pr.Services {
			if !slices.Contains(services, s) {
				services = append(services, s)
			}
		}
		for _, svc := range services {
			for _, fam := range []int{4, 6} {
				for _, d := range to {
					var ports []PortRange
					proto := svc.Proto
					switch svc.Kind {
					case SvcPort:
						ports = []PortRange{svc.Ports}
					case SvcRPC:
						proto = "tcp"
					case SvcRPCUDP:
						proto = "udp"
					}
					if ports == nil {
						ports = append([]PortRange{{135, 135}}, e.Span(d, MakeKey(proto, fam)).Ports...)
					}
					for _, it := range items {
						if (fam == 4) != it.Addr().Is4() {
							continue
						}
						flows = append(flows, planRawFlow{it, d, fam, proto, ports})
						self = append(self, it.IsSingleIP() && slices.Contains(d.AddrList(), it.Addr()))
					}
				}
			}
		}
	}
	return flows, self
}

func planPortsContain(rs []PortRange, p int) bool {
	return slices.ContainsFunc(rs, func(r PortRange) bool { return int(r.First) <= p && p <= int(r.Last) })
}

func planPrefixesContain(ps []netip.Prefix, a netip.Addr) bool {
	return slices.ContainsFunc(ps, func(p netip.Prefix) bool { return p.Contains(a) })
}

// planProbePoints returns the source addresses and ports worth asking about:
// every host address, the edges of every prefix, and the edges of every
// port range (a plan can only differ from the flows at those).
func planProbePoints(e *Estate, flows []planRawFlow, p *Plan) (srcs []netip.Addr, ports []int) {
	addEdges := func(pf netip.Prefix) {
		r := netipx.RangeOfPrefix(pf)
		srcs = append(srcs, r.From(), r.To(), r.From().Prev(), r.To().Next())
	}
	addPorts := func(rs []PortRange) {
		for _, r := range rs {
			ports = append(ports, int(r.First)-1, int(r.First), int(r.Last), int(r.Last)+1)
		}
	}
	for _, h := range e.Hosts() {
		srcs = append(srcs, h.AddrList()...)
	}
	for _, f := range flows {
		addEdges(f.src)
		addPorts(f.ports)
	}
	for _, r := range p.Rules {
		for _, pf := range r.Sources {
			addEdges(pf)
		}
		addPorts(r.Ports)
	}
	srcs = slices.DeleteFunc(srcs, func(a netip.Addr) bool { return !a.IsValid() })
	slices.SortFunc(srcs, netip.Addr.Compare)
	ports = append(ports, 0, 65535)
	ports = slices.DeleteFunc(ports, func(p int) bool { return p < 0 || p > 65535 })
	slices.Sort(ports)
	return slices.Compact(srcs), slices.Compact(ports)
}

// TestBuildPlanNeverWidens checks on random estates that the plan allows a
// (source, destination, protocol, port) exactly when a raw flow does, or
// when the source is the destination host's own address and it is in the
// sources of a flow to that host (the one allowed exception).
func TestBuildPlanNeverWidens(t *testing.T) {
	for seed := range uint64(400) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			e := planRandomEstate(rand.New(rand.NewPCG(1, seed)))
			p := BuildPlan(e)
			flows, self := planRawFlows(e)
			srcs, ports := planProbePoints(e, flows, p)
			// A flow is a source item and one destination address.
			raw := 0
			for i, f := range flows {
				if !self[i] {
					raw += len(slices.DeleteFunc(f.dst.AddrList(), func(a netip.Addr) bool { return a.Is4() != (f.fam == 4) }))
				}
			}
			spanFlows := 0
			for _, r := range p.Rules {
				if !r.EPM {
					spanFlows += r.Flows
				}
			}
			if p.RawFlows != raw || spanFlows != raw {
				t.Errorf("RawFlows = %d, span rules' Flows = %d, want %d", p.RawFlows, spanFlows, raw)
			}
			checkPlanRules(t, e, p)
			for _, d := range e.Hosts() {
				for _, da := range d.AddrList() {
					fam := 6
					if da.Is4() {
						fam = 4
					}
					for _, proto := range []string{"tcp", "udp"} {
						for _, sa := range srcs {
							for _, port := range ports {
								want, wantSelf := false, false
								for i, f := range flows {
									if f.dst == d && f.fam == fam && f.proto == proto && f.src.Contains(sa) && planPortsContain(f.ports, port) {
										if self[i] {
											wantSelf = true
										} else {
											want = true
										}
									}
								}
								got := slices.ContainsFunc(p.Rules, func(r Rule) bool {
									return r.Proto == proto && planPrefixesContain(r.Sources, sa) && planPrefixesContain(r.Destinations, da) && planPortsContain(r.Ports, port)
								})
								if got != (want || wantSelf) {
									t.Fatalf("plan allows %v -> %v (%s) %s/%d = %v, raw flows %v, self %v\nrules: %+v", sa, da, d.Name, proto, port, got, want, wantSelf, p.Rules)
								}
							}
						}
					}
				}
			}
		})
	}
}

// checkPlanRules checks what every rule promises: fewest sorted prefixes,
// destinations that are exactly the addresses of DestHosts, sorted lists.
func checkPlanRules(t *testing.T, e *Estate, p *Plan) {
	t.Helper()
	fewest := func(ps []netip.Prefix) []netip.Prefix {
		var b netipx.IPSetBuilder
		for _, pf := range ps {
			b.AddPrefix(pf)
		}
		s, _ := b.IPSet()
		return s.Prefixes()
	}
	for i, r := range p.Rules {
		if !cmp.Equal(r.Sources, fewest(r.Sources), planCmp) || len(r.Sources) == 0 {
			t.Errorf("rule %d: Sources %v not the fewest prefixes", i, r.Sources)
		}
		var addrs []netip.Prefix
		for _, name := range r.DestHosts {
			h, _ := e.Lookup(name)
			for _, a := range h.AddrList() {
				if (r.Family == 4) == a.Is4() {
					addrs = append(addrs, netip.PrefixFrom(a, a.BitLen()))
				}
			}
		}
		if !cmp.Equal(r.Destinations, fewest(addrs), planCmp) {
			t.Errorf("rule %d: Destinations %v, want the addresses of %v", i, r.Destinations, r.DestHosts)
		}
		if !slices.IsSorted(r.DestHosts) || !slices.IsSorted(r.Policies) || !cmp.Equal(r.Ports, MergeRanges(r.Ports)) {
			t.Errorf("rule %d not sorted: %+v", i, r)
		}
		if i > 0 {
			a, b := &planPiece{fam: p.Rules[i-1].Family, proto: p.Rules[i-1].Proto, service: planMustService(p.Rules[i-1].Service), epm: p.Rules[i-1].EPM, ports: p.Rules[i-1].Ports, srcPfx: p.Rules[i-1].Sources, dstPfx: p.Rules[i-1].Destinations},
				&planPiece{fam: r.Family, proto: r.Proto, service: planMustService(r.Service), epm: r.EPM, ports: r.Ports, srcPfx: r.Sources, dstPfx: r.Destinations}
			if comparePieces(a, b) >= 0 {
				t.Errorf("rules %d and %d out of order or equal", i-1, i)
			}
		}
	}
}

func planMustService(s string) Service {
	v, err := ParseService(s)
	if err != nil {
		panic(err)
	}
	return v
}

func TestBuildPlanDeterministic(t *testing.T) {
	e := planRandomEstate(rand.New(rand.NewPCG(7, 7)))
	first := BuildPlan(e)
	for range 20 {
		if diff := cmp.Diff(first, BuildPlan(e), planCmp); diff != "" {
			t.Fatalf("BuildPlan() differs between runs:\n%s", diff)
		}
	}
}

// planBigEstate returns n hosts on consecutive IPv4 addresses, every fourth
// with an IPv6 address too, spread over three spans: the baseline, the
// pre-Vista default (inferred from the OS) and Exchange 2007's (declared).
func planBigEstate(n int) *Estate {
	e := NewEstate()
	for i := range n {
		h := e.Host(fmt.Sprintf("H%06d", i))
		h.Addresses = []Addr{{Addr: netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})}}
		if i%4 == 0 {
			h.Addresses = append(h.Addresses, Addr{Addr: netip.AddrFrom16([16]byte{0: 0xfd, 13: byte(i >> 16), 14: byte(i >> 8), 15: byte(i)})})
		}
		switch i % 3 {
		case 1:
			h.OS = "Windows Server 2003 R2"
		case 2:
			for _, k := range Keys {
				h.Ranges = append(h.Ranges, RangeObs{Key: k, Range: Exchange2007Range, Origin: Declared})
			}
		}
	}
	return e
}

// BenchmarkPlan100k plans 100,000 hosts on three spans with the default
// policy:
//
//	go test ./audit -run '^$' -bench Plan -benchmem
func BenchmarkPlan100k(b *testing.B) {
	e := planBigEstate(100000)
	b.ReportAllocs()
	for b.Loop() {
		if p := BuildPlan(e); len(p.Rules) != 8 {
			b.Fatalf("BuildPlan() = %d rules, want 8", len(p.Rules))
		}
	}
}
