package rulebase

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/rpcspan/rpcspan/audit"
)

// testHost tells the span of testSpan and no subnets.
var testHost = HostInfo{Span: testSpan}

// subnetHost returns a host with testSpan and the subnets given per
// family; a family not given is not known.
func subnetHost(v4, v6 []string) HostInfo {
	known := map[int][]netip.Prefix{}
	for fam, list := range map[int][]string{4: v4, 6: v6} {
		if list == nil {
			continue
		}
		known[fam] = []netip.Prefix{}
		for _, p := range list {
			known[fam] = append(known[fam], netip.MustParsePrefix(p))
		}
	}
	return HostInfo{Span: testSpan, Subnets: func(fam int) ([]netip.Prefix, bool) {
		ps, ok := known[fam]
		return ps, ok
	}}
}

// v4Host knows its IPv4 subnets, as from ipconfig, but not its IPv6 ones.
var v4Host = subnetHost([]string{"10.0.0.0/25", "192.168.7.0/24"}, nil)

// familyRule renders a rule as "fam=F src=SRC dst=DST UNKNOWN".
func familyRule(r *Rule) string {
	src, dst := "any", "any"
	if r.Src != nil {
		src = r.Src.String()
	}
	if r.Dst != nil {
		dst = r.Dst.String()
	}
	return fmt.Sprintf("fam=%d src=%s dst=%s %q", r.Family, src, dst, r.Unknown)
}

// TestNetshLocalSubnet: LocalSubnet resolves to the host's subnets of the
// flow's family where they are known, and is an unknown match that says
// what is missing where they are not.
func TestNetshLocalSubnet(t *testing.T) {
	type check struct {
		flow string
		want []string // summary of the parts not allowed
	}
	tests := []struct {
		name   string
		host   HostInfo
		in     string
		rules  []string // familyRule of each rule, blocks first
		checks []check
	}{
		{
			name: "RemoteIP: exact for IPv4, unknown for IPv6",
			host: v4Host,
			in:   netshRule("ls", "Yes", "In", "Any", "Any", "LocalSubnet", "TCP", "135", "Allow"),
			rules: []string{
				`fam=4 src=10.0.0.0/25,192.168.7.0/24 dst=any []`,
				`fam=6 src=any dst=any ["remoteip=LocalSubnet: the host's IPv6 prefixes were not captured"]`,
			},
			checks: []check{
				{"tcp 10.0.0.0/24 10.1.0.5 135", []string{"blocked 10.0.0.128/25 10.1.0.5/32 135 @0"}},
				{"tcp 192.168.7.9 10.1.0.5 135", nil},
				{"tcp fd00::/64 fd00:1::5 135", []string{"unknown fd00::/64 fd00:1::5/128 135 @1"}},
			},
		},
		{
			name: "LocalIP, any case",
			host: v4Host,
			in:   netshRule("ls", "Yes", "In", "Any", "localsubnet", "Any", "UDP", "135", "Allow"),
			rules: []string{
				`fam=4 src=any dst=10.0.0.0/25,192.168.7.0/24 []`,
				`fam=6 src=any dst=any ["localip=localsubnet: the host's IPv6 prefixes were not captured"]`,
			},
			checks: []check{
				{"udp 10.1.0.0/24 10.0.0.5,10.0.0.200 135", []string{"blocked 10.1.0.0/24 10.0.0.200/32 135 @0"}},
			},
		},
		{
			name: "in a list with other addresses",
			host: v4Host,
			in:   netshRule("ls", "Yes", "In", "Any", "Any", "LocalSubnet,10.9.0.0/16,fd00:9::/64", "TCP", "135", "Allow"),
			rules: []string{
				`fam=4 src=10.0.0.0/25,10.9.0.0/16,192.168.7.0/24,fd00:9::/64 dst=any []`,
				`fam=6 src=any dst=any ["remoteip=LocalSubnet,10.9.0.0/16,fd00:9::/64 (LocalSubnet: the host's IPv6 prefixes were not captured)"]`,
			},
			checks: []check{
				{"tcp 10.0.0.0/24,10.9.1.0/24,10.10.0.1 10.1.0.5 135", []string{"blocked 10.0.0.128/25,10.10.0.1/32 10.1.0.5/32 135 @0"}},
				{"tcp fd00:9::1 fd00:1::5 135", []string{"unknown fd00:9::1/128 fd00:1::5/128 135 @1"}},
			},
		},
		{
			name: "IPv4 subnets not captured",
			host: testHost,
			in:   netshRule("ls", "Yes", "In", "Any", "Any", "LocalSubnet", "TCP", "135", "Allow"),
			rules: []string{
				`fam=4 src=any dst=any ["remoteip=LocalSubnet: the host's IPv4 subnets were not captured (no ipconfig with Subnet Mask)"]`,
				`fam=6 src=any dst=any ["remoteip=LocalSubnet: the host's IPv6 prefixes were not captured"]`,
			},
			checks: []check{
				{"tcp 10.0.0.0/24 10.1.0.5 135", []string{"unknown 10.0.0.0/24 10.1.0.5/32 135 @1"}},
			},
		},
		{
			name:  "both families known: one rule",
			host:  subnetHost([]string{"10.0.0.0/25"}, []string{"fd00:1::/64"}),
			in:    netshRule("ls", "Yes", "In", "Any", "Any", "LocalSubnet", "TCP", "135", "Allow"),
			rules: []string{`fam=0 src=10.0.0.0/25,fd00:1::/64 dst=any []`},
			checks: []check{
				{"tcp fd00:1::/63 fd00:1::5 135", []string{"blocked fd00:1:0:1::/64 fd00:1::5/128 135 @0"}},
			},
		},
		{
			name: "LocalSubnet4 and LocalSubnet6 stand for one family",
			host: v4Host,
			in: netshRule("v4", "Yes", "In", "Any", "Any", "LocalSubnet4", "TCP", "135", "Allow") +
				netshRule("v6", "Yes", "In", "Any", "Any", "LocalSubnet6", "TCP", "135", "Allow"),
			rules: []string{
				`fam=0 src=10.0.0.0/25,192.168.7.0/24 dst=any []`,
				`fam=4 src= dst=any []`,
				`fam=6 src=any dst=any ["remoteip=LocalSubnet6: the host's IPv6 prefixes were not captured"]`,
			},
			checks: []check{
				{"tcp 10.0.0.0/24 10.1.0.5 135", []string{"blocked 10.0.0.128/25 10.1.0.5/32 135 @0"}},
				{"tcp fd00::1 fd00:1::5 135", []string{"unknown fd00::1/128 fd00:1::5/128 135 @19"}},
			},
		},
		{
			name: "block rule",
			host: v4Host,
			in: netshRule("all", "Yes", "In", "Any", "Any", "Any", "TCP", "135", "Allow") +
				netshRule("no", "Yes", "In", "Any", "Any", "LocalSubnet", "TCP", "135", "Block"),
			rules: []string{
				`fam=4 src=10.0.0.0/25,192.168.7.0/24 dst=any []`,
				`fam=6 src=any dst=any ["remoteip=LocalSubnet: the host's IPv6 prefixes were not captured"]`,
				`fam=0 src=any dst=any []`,
			},
			checks: []check{
				{"tcp 10.0.0.0/24 10.1.0.5 135", []string{"blocked 10.0.0.0/25 10.1.0.5/32 135 @19"}},
				{"tcp fd00::1 fd00:1::5 135", []string{"unknown fd00::1/128 fd00:1::5/128 135 @19"}},
			},
		},
		{
			name: "RPC spans and subnets both split: two rules",
			host: HostInfo{
				Span: func(proto string, fam int) []audit.PortRange {
					return []audit.PortRange{{First: 49152 + uint16(fam), Last: 65535}}
				},
				Subnets: v4Host.Subnets,
			},
			in: netshRule("ls", "Yes", "In", "Any", "Any", "LocalSubnet", "TCP", "RPC", "Allow"),
			rules: []string{
				`fam=4 src=10.0.0.0/25,192.168.7.0/24 dst=any []`,
				`fam=6 src=any dst=any ["remoteip=LocalSubnet: the host's IPv6 prefixes were not captured"]`,
			},
			checks: []check{
				{"tcp 10.0.0.0/25 10.1.0.5 49152-65535", []string{"blocked 10.0.0.0/25 10.1.0.5/32 49152-49155 @0"}},
			},
		},
		{
			name: "other network keywords stay unknown",
			host: v4Host,
			in: netshRule("dns", "Yes", "In", "Any", "Any", "DNS", "TCP", "135", "Allow") +
				netshRule("gw", "Yes", "In", "Any", "Any", "DefaultGateway,LocalSubnet", "TCP", "136", "Allow") +
				netshRule("intra", "Yes", "In", "Any", "Intranet", "Any", "TCP", "137", "Allow"),
			rules: []string{
				`fam=0 src=any dst=any ["remoteip=DNS"]`,
				`fam=4 src=any dst=any ["remoteip=DefaultGateway,LocalSubnet"]`,
				`fam=6 src=any dst=any ["remoteip=DefaultGateway,LocalSubnet"]`,
				`fam=0 src=any dst=any ["localip=Intranet"]`,
			},
			checks: []check{
				{"tcp 10.0.0.1 10.1.0.5 135-137", []string{"unknown 10.0.0.1/32 10.1.0.5/32 135 @1", "unknown 10.0.0.1/32 10.1.0.5/32 136 @19", "unknown 10.0.0.1/32 10.1.0.5/32 137 @37"}},
			},
		},
		{
			name: "Get-NetFirewallRule address filter",
			host: v4Host,
			in: "Name                  : {abc}\nDisplayName           : RPC in\nEnabled               : True\nDirection             : Inbound\n" +
				"Profile               : Any\nAction                : Allow\n\n" +
				"Protocol      : TCP\nLocalPort     : RPCEPMap\nRemotePort    : Any\n\n" +
				"LocalAddress  : Any\nRemoteAddress : {LocalSubnet, 10.9.0.0/255.255.0.0}\n\n" +
				"Program : Any\nPackage :\n\nService : Any\n\n",
			rules: []string{
				`fam=4 src=10.0.0.0/25,10.9.0.0/16,192.168.7.0/24 dst=any []`,
				`fam=6 src=any dst=any ["remoteip=LocalSubnet, 10.9.0.0/255.255.0.0 (LocalSubnet: the host's IPv6 prefixes were not captured)"]`,
			},
			checks: []check{
				{"tcp 10.0.0.0/24,10.9.0.1 10.1.0.5 135", []string{"blocked 10.0.0.128/25 10.1.0.5/32 135 @0"}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := ParseNetshFirewall(strings.NewReader(tt.in), "fw.txt", "srv", tt.host, "")
			if err != nil {
				t.Fatalf("ParseNetshFirewall() error = %v", err)
			}
			var got []string
			for _, r := range b.Chains[0].Rules {
				got = append(got, familyRule(r))
			}
			if diff := cmp.Diff(tt.rules, got); diff != "" {
				t.Errorf("ParseNetshFirewall(%q) rules mismatch (-want +got):\n%s", tt.name, diff)
			}
			for _, c := range tt.checks {
				f := flow(t, c.flow)
				parts := EvaluateBase(b, "input", f)
				checkPartition(t, parts, f)
				if diff := cmp.Diff(c.want, summary(parts)); diff != "" {
					t.Errorf("EvaluateBase(%s) mismatch (-want +got):\n%s", c.flow, diff)
				}
			}
		})
	}
}
