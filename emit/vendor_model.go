package emit

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"go4.org/netipx"

	"github.com/rpcspan/rpcspan/audit"
)

// VendorModel is the data a vendor template renders, built once from the
// plan: address sets become groups (identical sets are one group), port
// lists become services, and rules refer to both by name, so that the
// output grows with the number of distinct objects, never with sources ×
// destinations. Every name is valid for the target (allowed characters,
// length) and unique; every text (comments, host and policy names) is
// printable ASCII without quotes, so it can go inside a quoted string or a
// remark as it is. The README's section on templates documents it for
// users' own templates.
type VendorModel struct {
	Target string // the target: "cisco-asa", ..., or "template"
	// Header is the do-not-edit note and the inputs, one line each, without
	// a comment marker (every vendor marks comments differently).
	Header  []string
	Options VendorSettings
	// Gateway is true when rpc rules use the vendor's MS-RPC application
	// gateway; GatewayNote then says what that implies, one line each.
	Gateway     bool
	GatewayNote []string
	// HasIPv4 and HasIPv6 tell whether any rule is of the family, so that
	// a template can leave out an empty section.
	HasIPv4, HasIPv6 bool
	Rules            []*VendorRule
	Groups           []*VendorGroup   // distinct address sets, in the order rules first use them
	Addresses        []*VendorAddress // distinct prefixes of all groups, IPv4 first, sorted
	Services         []*VendorService // distinct protocol and port lists, in the order rules first use them
	// PortServices are the distinct single port ranges of all services,
	// sorted, for vendors whose service object holds one range (Junos
	// applications); a service of one range has its port service's name.
	PortServices []*VendorPortService

	est   *audit.Estate
	hosts []VendorHost
}

// VendorSettings are the names the output uses for things that live on the
// firewall already, resolved with their defaults.
type VendorSettings struct {
	ACL       string // Cisco IPv4 access list (ASA: both families)
	ACL6      string // IOS IPv6 access list
	FromZone  string // SRX and PAN-OS source zone, FortiGate source interface
	ToZone    string // SRX and PAN-OS destination zone, FortiGate destination interface
	Interface string // Cisco interface the ACL is bound to; "" leaves the binding as a comment
}

// VendorRule is one statement of the output: Sources may open Ports over
// Protocol on Destinations.
type VendorRule struct {
	Name     string // valid for the target, unique
	Comment  string // what the rule is for: policies, services, hosts, flows
	Family   int    // 4 or 6
	IPv6     bool
	Protocol string       // "tcp" or "udp"
	Ports    []VendorPort // merged, sorted
	// Sources and Destinations are the address sets as prefixes
	// ("10.1.0.10/31", "10.1.1.200/32"), fewest prefixes, sorted.
	Sources, Destinations         []string
	SourceGroup, DestinationGroup string // names of the groups holding them
	// Service is the name of the service object of Protocol and Ports;
	// empty when Application is set.
	Service string
	// Application is the vendor's MS-RPC application gateway (such as
	// junos-ms-rpc-tcp) that replaces Ports; empty unless the gateway
	// option is on.
	Application string
	Services    []string // the policy services this rule serves: "rpc", "rpc-udp", "tcp/1433"
	Policies    []string // names of the policy rules it serves
	DestHosts   []string // the hosts behind Destinations
	Flows       int      // raw flows it covers
}

// VendorGroup is a named address set.
type VendorGroup struct {
	Name     string
	Comment  string
	Family   int // 4 or 6
	IPv6     bool
	Members  []*VendorAddress // sorted
	Prefixes []string         // the members' prefixes, sorted
}

// VendorAddress is one prefix, with the forms vendors write it in and a
// name for vendors that need a named object per address.
type VendorAddress struct {
	Name     string // valid for the target, unique
	Prefix   string // "10.1.0.10/31", "10.1.1.200/32", "fd00:1::10/127"
	Addr     string // "10.1.0.10"
	Bits     int    // prefix length
	Mask     string // "255.255.255.254"; empty for IPv6
	Wildcard string // "0.0.0.1" (Cisco wildcard mask); empty for IPv6
	Host     bool   // a single address (/32 or /128)
	IPv6     bool
}

// VendorService is a named list of port ranges of one protocol.
type VendorService struct {
	Name     string
	Protocol string // "tcp" or "udp"
	Ports    []VendorPort
	// Members are the names of the port services of Ports, in order.
	Members []string
	// Single is true for one range: Name is then its port service's name,
	// and vendors that group single-range objects define no group.
	Single bool
}

// VendorPortService is a named single port range of one protocol.
type VendorPortService struct {
	Name     string
	Protocol string
	Port     VendorPort
}

// VendorPort is an inclusive port range; a single port has First == Last.
type VendorPort struct {
	First, Last int
}

// String returns "135" or "49152-65535".
func (p VendorPort) String() string {
	if p.First == p.Last {
		return strconv.Itoa(p.First)
	}
	return strconv.Itoa(p.First) + "-" + strconv.Itoa(p.Last)
}

// VendorHost is one host of the estate, for templates that list them.
type VendorHost struct {
	Name      string
	Addresses []string // sorted
	Groups    []string
}

// Hosts returns the estate's hosts, sorted by name. It is computed on
// first use, since most templates never ask.
func (m *VendorModel) Hosts() []VendorHost {
	if m.hosts != nil || m.est == nil {
		return m.hosts
	}
	m.hosts = []VendorHost{}
	for _, h := range m.est.Hosts() {
		vh := VendorHost{Name: vendorText(h.Name, 255)}
		for _, a := range h.AddrList() {
			vh.Addresses = append(vh.Addresses, a.String())
		}
		for _, g := range h.Groups {
			vh.Groups = append(vh.Groups, vendorText(g, 255))
		}
		m.hosts = append(m.hosts, vh)
	}
	return m.hosts
}

// vrule is a rule while the model is built.
type vrule struct {
	fam      int
	proto    string
	app      string
	ports    []audit.PortRange
	src, dst []netip.Prefix
	srcKey   string
	dstKey   string
	services []string
	policies []string
	hosts    []string
	flows    int // of span rules
	epmFlows int // of endpoint-mapper rules, which count the same flows again
	order    int
	dead     bool
}

// buildVendorModel turns in.Plan into the model for spec.
func buildVendorModel(in *Input, spec vendorSpec, opt VendorOptions) (*VendorModel, error) {
	set, err := opt.resolve(spec)
	if err != nil {
		return nil, err
	}
	if opt.Gateway && spec.gateway == nil {
		return nil, fmt.Errorf("%s has no MS-RPC application gateway rpcspan can use (Junos and PAN-OS have); leave out the gateway option", spec.title)
	}
	m := &VendorModel{Target: spec.target, Options: set, Gateway: opt.Gateway, est: in.Estate}
	for _, l := range strings.Split(strings.TrimSuffix(header("", in, "Target: "+spec.target), "\n"), "\n") {
		m.Header = append(m.Header, vendorText(l, 4096))
	}
	if opt.Gateway {
		m.GatewayNote = spec.gwNote
	}
	if in.Plan == nil {
		return m, nil
	}
	rules := mergeRules(collectRules(in.Plan, spec, opt.Gateway))
	// Sized up front: for 100,000 hosts, growing these maps cost more
	// than filling them.
	n := 0
	for _, r := range rules {
		n += len(r.src) + len(r.dst)
	}
	b := &modelBuilder{m: m, spec: spec, names: newNamer(opt.prefix(), n+2*len(rules)), est: in.Estate,
		groupByKey: map[string]*VendorGroup{}, addrByPrefix: make(map[netip.Prefix]*VendorAddress, n)}
	b.indexPolicies()
	b.build(rules)
	return m, nil
}

// collectRules turns plan rules into vrules. With the gateway, rpc and
// rpc-udp rules become application rules: the endpoint-mapper rule of a
// service covers every source and destination of its span rules, which
// the gateway makes unnecessary.
func collectRules(p *audit.Plan, spec vendorSpec, gateway bool) []*vrule {
	out := make([]*vrule, 0, len(p.Rules))
	for i, r := range p.Rules {
		if len(r.Sources) == 0 || len(r.Destinations) == 0 || len(r.Ports) == 0 {
			continue
		}
		v := &vrule{fam: r.Family, proto: r.Proto, ports: slices.Clone(r.Ports), src: r.Sources, dst: r.Destinations,
			services: []string{r.Service}, policies: slices.Clone(r.Policies), hosts: slices.Clone(r.DestHosts), order: i}
		if r.EPM {
			v.epmFlows = r.Flows
		} else {
			v.flows = r.Flows
		}
		if gateway && (r.Service == string(audit.SvcRPC) || r.Service == string(audit.SvcRPCUDP)) {
			if !r.EPM {
				continue
			}
			v.app = spec.gateway[r.Proto]
			v.flows, v.epmFlows = r.Flows, 0
		}
		v.srcKey, v.dstKey = prefixKey(r.Sources), prefixKey(r.Destinations)
		out = append(out, v)
	}
	return out
}

// mergeRules joins rules while anything joins, each join an exact union:
// equal sources and destinations join their ports (the endpoint-mapper
// rule and the span rule of the same hosts become one statement), equal
// ports and sources join their destinations, equal ports and destinations
// join their sources. The result keeps the order of the plan.
func mergeRules(rules []*vrule) []*vrule {
	for changed := true; changed; {
		changed = false
		for by := range 3 {
			seen := map[string]*vrule{}
			for _, r := range rules {
				k := r.joinKey(by)
				first, ok := seen[k]
				if !ok {
					seen[k] = r
					continue
				}
				// first's key of this kind stays as it is; the other
				// two kinds see the change in the next round.
				first.absorb(r, by)
				r.dead = true
				changed = true
			}
			rules = slices.DeleteFunc(rules, func(r *vrule) bool { return r.dead })
		}
	}
	slices.SortStableFunc(rules, func(a, b *vrule) int { return cmp.Compare(a.order, b.order) })
	return rules
}

// joinKey returns what two rules must share to join by the kind: 0 ports,
// 1 destinations, 2 sources.
func (r *vrule) joinKey(by int) string {
	k := strconv.Itoa(r.fam) + r.proto + "/" + r.app + "/"
	switch by {
	case 0:
		return k + r.srcKey + "/" + r.dstKey
	case 1:
		return k + portsKey(r.ports) + "/" + r.srcKey
	default:
		return k + portsKey(r.ports) + "/" + r.dstKey
	}
}

// absorb joins o into r.
func (r *vrule) absorb(o *vrule, by int) {
	switch by {
	case 0:
		r.ports = mergePorts(append(r.ports, o.ports...))
	case 1:
		r.dst = unionPrefixes(r.dst, o.dst)
		r.dstKey = prefixKey(r.dst)
	default:
		r.src = unionPrefixes(r.src, o.src)
		r.srcKey = prefixKey(r.src)
	}
	r.services = sortedUnion(r.services, o.services)
	r.policies = sortedUnion(r.policies, o.policies)
	r.hosts = sortedUnion(r.hosts, o.hosts)
	r.flows += o.flows
	r.epmFlows += o.epmFlows
	r.order = min(r.order, o.order)
}

// modelBuilder holds what naming needs while the model is built.
type modelBuilder struct {
	m            *VendorModel
	spec         vendorSpec
	names        *namer
	est          *audit.Estate
	groupByKey   map[string]*VendorGroup
	addrByPrefix map[netip.Prefix]*VendorAddress
	policies     map[string]audit.PolicyRule // by the name the plan uses
	defaultPol   bool                        // no policy: "default", every host to every host
	groupHosts   map[famGroup][]string       // lower-case host names with an address of the family, sorted; built on first use
	groupNames   []string                    // group names as first written, sorted
	hostAddr     map[netip.Addr]string       // address -> host name; built on first use
	hosts        []*audit.Host               // the estate's hosts, sorted; built on first use
}

// indexPolicies maps the names the plan gives policy rules to the rules.
func (b *modelBuilder) indexPolicies() {
	b.policies = map[string]audit.PolicyRule{}
	if b.est == nil {
		return
	}
	b.defaultPol = !b.est.PolicySet && len(b.est.Policy) == 0
	for i, pr := range b.est.Policy {
		name := pr.Name
		if name == "" {
			name = "#" + strconv.Itoa(i+1)
		}
		if _, ok := b.policies[name]; !ok {
			b.policies[name] = pr
		}
	}
}

// build fills the model from the merged rules. Names are handed out in a
// fixed order (groups, port services, services, rules, addresses), so the
// same plan always gives the same names.
func (b *modelBuilder) build(rules []*vrule) {
	m := b.m
	type grouped struct {
		r        *vrule
		src, dst *VendorGroup
	}
	gs := make([]grouped, len(rules))
	for i, r := range rules {
		gs[i] = grouped{r, b.group(r, r.src, r.srcKey, false), b.group(r, r.dst, r.dstKey, true)}
	}
	portByKey := map[string]*VendorPortService{}
	for _, r := range rules {
		if r.app != "" {
			continue
		}
		for _, pr := range r.ports {
			k := r.proto + " " + pr.String()
			if _, ok := portByKey[k]; !ok {
				ps := &VendorPortService{Protocol: r.proto, Port: VendorPort{int(pr.First), int(pr.Last)}}
				portByKey[k] = ps
				m.PortServices = append(m.PortServices, ps)
			}
		}
	}
	slices.SortFunc(m.PortServices, func(a, c *VendorPortService) int {
		return cmp.Or(strings.Compare(a.Protocol, c.Protocol), cmp.Compare(a.Port.First, c.Port.First), cmp.Compare(a.Port.Last, c.Port.Last))
	})
	for _, ps := range m.PortServices {
		ps.Name = b.names.name(ps.Protocol+"-"+ps.Port.String(), b.spec.maxName)
	}
	svcByKey := map[string]*VendorService{}
	for _, r := range rules {
		if r.app != "" {
			continue
		}
		k := r.proto + " " + portsKey(r.ports)
		if _, ok := svcByKey[k]; ok {
			continue
		}
		s := &VendorService{Protocol: r.proto, Single: len(r.ports) == 1}
		label := make([]string, len(r.ports))
		for i, pr := range r.ports {
			ps := portByKey[r.proto+" "+pr.String()]
			s.Ports = append(s.Ports, ps.Port)
			s.Members = append(s.Members, ps.Name)
			label[i] = pr.String()
		}
		if s.Single {
			s.Name = s.Members[0]
		} else {
			s.Name = b.names.name(r.proto+"-"+strings.Join(label, "_"), b.spec.maxName)
		}
		svcByKey[k] = s
		m.Services = append(m.Services, s)
	}
	for _, g := range gs {
		r := g.r
		vr := &VendorRule{Family: r.fam, IPv6: r.fam == 6, Protocol: r.proto, Application: r.app,
			Sources: g.src.Prefixes, Destinations: g.dst.Prefixes, SourceGroup: g.src.Name, DestinationGroup: g.dst.Name,
			Flows: r.flows}
		if r.flows == 0 {
			vr.Flows = r.epmFlows
		}
		for _, pr := range r.ports {
			vr.Ports = append(vr.Ports, VendorPort{int(pr.First), int(pr.Last)})
		}
		if r.app == "" {
			vr.Service = svcByKey[r.proto+" "+portsKey(r.ports)].Name
		}
		for _, s := range r.services {
			vr.Services = append(vr.Services, vendorText(s, 255))
		}
		for _, p := range r.policies {
			vr.Policies = append(vr.Policies, vendorText(p, 255))
		}
		for _, h := range r.hosts {
			vr.DestHosts = append(vr.DestHosts, vendorText(h, 255))
		}
		vr.Name = b.names.nameKeep(ruleBase(r), famKeep(vr.IPv6), b.spec.maxRule)
		vr.Comment = ruleComment(r, vr, b.spec.maxText)
		m.Rules = append(m.Rules, vr)
		m.HasIPv4 = m.HasIPv4 || !vr.IPv6
		m.HasIPv6 = m.HasIPv6 || vr.IPv6
	}
	// Addresses: every distinct prefix, named after its host when it is
	// one host's address.
	pfx := make([]netip.Prefix, 0, len(b.addrByPrefix))
	for p := range b.addrByPrefix {
		pfx = append(pfx, p)
	}
	slices.SortFunc(pfx, netip.Prefix.Compare)
	m.Addresses = make([]*VendorAddress, len(pfx))
	for i, p := range pfx {
		a := b.addrByPrefix[p]
		a.Name = b.names.nameKeep(b.addressBase(p), famKeep(a.IPv6), b.spec.maxName)
		m.Addresses[i] = a
	}
}

// group returns the group of the address set pfx, defining it on first use.
func (b *modelBuilder) group(r *vrule, pfx []netip.Prefix, key string, dst bool) *VendorGroup {
	if g, ok := b.groupByKey[key]; ok {
		return g
	}
	g := &VendorGroup{Family: r.fam, IPv6: r.fam == 6,
		Members: make([]*VendorAddress, len(pfx)), Prefixes: make([]string, len(pfx))}
	for i, p := range pfx {
		a := b.addrByPrefix[p]
		if a == nil {
			a = newVendorAddress(p)
			b.addrByPrefix[p] = a
		}
		g.Members[i], g.Prefixes[i] = a, a.Prefix
	}
	base, comment := b.groupBase(r, dst)
	g.Name = b.names.nameKeep(base, famKeep(g.IPv6), b.spec.maxName)
	g.Comment = vendorText(comment, b.spec.maxText)
	b.groupByKey[key] = g
	b.m.Groups = append(b.m.Groups, g)
	return g
}

// newVendorAddress returns p in every form templates use.
func newVendorAddress(p netip.Prefix) *VendorAddress {
	a := &VendorAddress{Prefix: p.String(), Addr: p.Addr().String(), Bits: p.Bits(), Host: p.IsSingleIP(), IPv6: !p.Addr().Is4()}
	if !a.IPv6 {
		m := maskOf(p.Bits())
		a.Mask, a.Wildcard = dotted(m), dotted(^m)
	}
	return a
}

// maskOf returns the IPv4 netmask of a prefix length.
func maskOf(bits int) uint32 {
	if bits <= 0 {
		return 0
	}
	return ^uint32(0) << (32 - bits)
}

// dotted writes v as a dotted quad.
func dotted(v uint32) string {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v)
	return netip.AddrFrom4(b).String()
}

// prefixKey returns a string that tells prefix lists apart (and the two
// families apart).
func prefixKey(ps []netip.Prefix) string {
	b := make([]byte, 0, len(ps)*17)
	for _, p := range ps {
		a := p.Addr().As16()
		b = append(b, a[:]...)
		bits := byte(p.Bits())
		if p.Addr().Is4() {
			bits |= 0x80
		}
		b = append(b, bits)
	}
	return string(b)
}

// portsKey returns a string that tells port lists apart.
func portsKey(ps []audit.PortRange) string {
	b := make([]byte, 0, len(ps)*4)
	for _, p := range ps {
		b = binary.BigEndian.AppendUint16(b, p.First)
		b = binary.BigEndian.AppendUint16(b, p.Last)
	}
	return string(b)
}

// mergePorts sorts ranges and joins those that overlap or touch.
func mergePorts(ps []audit.PortRange) []audit.PortRange {
	slices.SortFunc(ps, func(a, b audit.PortRange) int {
		return cmp.Or(cmp.Compare(a.First, b.First), cmp.Compare(a.Last, b.Last))
	})
	out := ps[:0]
	for _, p := range ps {
		if n := len(out); n > 0 && int(p.First) <= int(out[n-1].Last)+1 {
			out[n-1].Last = max(out[n-1].Last, p.Last)
			continue
		}
		out = append(out, p)
	}
	return out
}

// unionPrefixes returns the fewest prefixes covering a and b.
func unionPrefixes(a, b []netip.Prefix) []netip.Prefix {
	var sb netipx.IPSetBuilder
	for _, p := range a {
		sb.AddPrefix(p)
	}
	for _, p := range b {
		sb.AddPrefix(p)
	}
	s, _ := sb.IPSet()
	return s.Prefixes()
}

// sortedUnion returns the sorted union of two sorted string lists.
func sortedUnion(a, b []string) []string {
	out := append(slices.Clone(a), b...)
	slices.Sort(out)
	return slices.Compact(out)
}
