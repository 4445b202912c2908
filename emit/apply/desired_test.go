package apply

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go4.org/netipx"

	"github.com/rpcspan/rpcspan/audit"
	"github.com/rpcspan/rpcspan/audit/ingest"
	"github.com/rpcspan/rpcspan/emit"
)

func pfx(ss ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

// testPlan has an IPv6 rule first (the table puts IPv4 rules first), an
// IPv4 EPM rule, an IPv4 span rule ending at 65535 that shares the EPM
// rule's destinations, an explicit service (no drop) and adjacent and
// single-address prefixes.
func testPlan() *audit.Plan {
	return &audit.Plan{Rules: []audit.Rule{
		{Family: 6, Proto: "udp", Service: "rpc-udp", Ports: []audit.PortRange{{First: 1025, Last: 5000}},
			Sources: pfx("fd00:1::/64"), Destinations: pfx("fd00:2::10/128", "ffff::/16"), Policies: []string{"v6"}},
		{Family: 4, Proto: "tcp", Service: "rpc", EPM: true, Ports: []audit.PortRange{{First: 135, Last: 135}},
			Sources: pfx("10.1.6.10/31", "10.1.6.12/31", "10.1.6.14/32"), Destinations: pfx("10.1.0.10/31"), Policies: []string{"a", "b"}},
		{Family: 4, Proto: "tcp", Service: "rpc", Ports: []audit.PortRange{{First: 5000, Last: 5100}, {First: 49152, Last: 65535}},
			Sources: pfx("10.0.0.0/8"), Destinations: pfx("10.1.0.10/31"), Policies: []string{"a"}},
		{Family: 4, Proto: "tcp", Service: "tcp/445", Ports: []audit.PortRange{{First: 445, Last: 445}},
			Sources: pfx("10.0.0.0/8"), Destinations: pfx("10.1.0.12/32"), Policies: []string{"files"}},
	}}
}

const wantForward = `table inet rpcspan {
	set addr4_1 {
		type ipv4_addr
		flags interval
		elements = { 10.1.6.10/31, 10.1.6.12/31, 10.1.6.14 }
	}

	set addr4_2 {
		type ipv4_addr
		flags interval
		elements = { 10.1.0.10/31 }
	}

	set ports_1 {
		type inet_service
		flags interval
		elements = { 135 }
	}

	set addr4_3 {
		type ipv4_addr
		flags interval
		elements = { 10.0.0.0/8 }
	}

	set ports_2 {
		type inet_service
		flags interval
		elements = { 5000-5100, 49152-65535 }
	}

	set addr4_4 {
		type ipv4_addr
		flags interval
		elements = { 10.1.0.12 }
	}

	set ports_3 {
		type inet_service
		flags interval
		elements = { 445 }
	}

	set addr6_1 {
		type ipv6_addr
		flags interval
		elements = { fd00:1::/64 }
	}

	set addr6_2 {
		type ipv6_addr
		flags interval
		elements = { fd00:2::10, ffff::/16 }
	}

	set ports_4 {
		type inet_service
		flags interval
		elements = { 1025-5000 }
	}

	chain forward {
		type filter hook forward priority filter; policy accept;
		ct state established,related return
		ip saddr @addr4_1 ip daddr @addr4_2 tcp dport @ports_1 accept comment "rpcspan rule 2: rpc policy a b"
		ip saddr @addr4_3 ip daddr @addr4_2 tcp dport @ports_2 accept comment "rpcspan rule 3: rpc policy a"
		ip saddr @addr4_3 ip daddr @addr4_4 tcp dport @ports_3 accept comment "rpcspan rule 4: tcp/445 policy files"
		ip6 saddr @addr6_1 ip6 daddr @addr6_2 udp dport @ports_4 accept comment "rpcspan rule 1: rpc-udp policy v6"
		ip daddr @addr4_2 tcp dport @ports_1 drop comment "rpcspan: RPC port - source not allowed"
		ip daddr @addr4_2 tcp dport @ports_2 drop comment "rpcspan: RPC port - source not allowed"
		ip6 daddr @addr6_2 udp dport @ports_4 drop comment "rpcspan: RPC port - source not allowed"
	}
}
`

func TestDesired(t *testing.T) {
	got, err := Desired(testPlan(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(wantForward, got.String()); d != "" {
		t.Errorf("Desired(forward) (-want +got):\n%s", d)
	}
	// The same plan gives the same table, expression for expression.
	again, _ := Desired(testPlan(), Options{Hook: emit.HookForward})
	if !Equal(got, again) {
		t.Errorf("Desired is not deterministic: %v", Diff(got, again))
	}
}

// textTable renders the nftables text target's output for in the way
// Table.String renders a table: the text target and Desired must describe
// the same table, set for set and rule for rule.
func textTable(t *testing.T, in *emit.Input) string {
	t.Helper()
	em, err := emit.Lookup("nftables")
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	if err := em.Emit(&text, in); err != nil {
		t.Fatalf("nftables Emit: %v", err)
	}
	var b strings.Builder
	var elems []string
	inElems, inSet, inChain, sets := false, false, false, 0
	sc := bufio.NewScanner(&text)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || line == "table inet rpcspan" || line == "delete table inet rpcspan":
		case line == "table inet rpcspan {":
			b.WriteString(line + "\n")
		case strings.HasPrefix(line, "set "):
			if sets > 0 {
				b.WriteString("\n")
			}
			sets++
			inSet = true
			fmt.Fprintf(&b, "\tset %s {\n", strings.TrimSuffix(strings.TrimPrefix(line, "set "), " {"))
		case inSet && (strings.HasPrefix(line, "type ") || line == "flags interval"):
			b.WriteString("\t\t" + line + "\n")
		case line == "elements = {":
			inElems, elems = true, nil
		case inElems && line == "}":
			fmt.Fprintf(&b, "\t\telements = { %s }\n", strings.Join(elems, ", "))
			inElems = false
		case inElems:
			elems = append(elems, strings.TrimSuffix(line, ","))
		case line == "}" && (inSet || inChain):
			b.WriteString("\t}\n")
			inSet, inChain = false, false
		case line == "}":
			// The table's end.
		case strings.HasPrefix(line, "chain "):
			b.WriteString("\n\t" + line + "\n")
			inChain = true
		default:
			b.WriteString("\t\t" + line + "\n")
		}
	}
	b.WriteString("}\n")
	return b.String()
}

func TestTextTargetSelf(t *testing.T) {
	// The parser above reads the text target back into exactly the
	// expected listing for the hand-made plan.
	if d := cmp.Diff(wantForward, textTable(t, &emit.Input{Plan: testPlan()})); d != "" {
		t.Errorf("text target for testPlan (-want +got):\n%s", d)
	}
}

// Desired and the nftables text target describe the same table for every
// plan: the bundled example estate, both hooks, hostile policy names.
func TestDesiredMatchesTextTarget(t *testing.T) {
	est, _, err := ingest.Load([]string{"../../testdata/example"}, ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	example := audit.BuildPlan(est)
	hostile := testPlan()
	for i := range hostile.Rules {
		hostile.Rules[i].Policies = []string{"p\"; flush ruleset; #", "evil\n}\ntable ip x {", strings.Repeat("long", 60)}
	}
	for _, tc := range []struct {
		name string
		p    *audit.Plan
		hook emit.Hook
	}{
		{"example forward", example, emit.HookForward},
		{"example input", example, emit.HookInput},
		{"test plan input", testPlan(), emit.HookInput},
		{"hostile names", hostile, emit.HookForward},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Desired(tc.p, Options{Hook: tc.hook})
			if err != nil {
				t.Fatal(err)
			}
			want := textTable(t, &emit.Input{Plan: tc.p, Estate: est, Opt: emit.Options{Hook: tc.hook}})
			if d := cmp.Diff(want, got.String()); d != "" {
				t.Errorf("Desired differs from the text target (-text +desired):\n%s", d)
			}
		})
	}
}

// The accept rule carries exactly the expressions nft generates for it
// (nft --debug=netlink): one nfproto check guards both address lookups.
func TestDesiredExprs(t *testing.T) {
	got, err := Desired(testPlan(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []Expr{Family{6}, AddrSet{V: 6, Set: "addr6_1"}, AddrSet{V: 6, Dst: true, Set: "addr6_2"},
		L4Proto{"udp"}, PortSet{Proto: "udp", Set: "ports_4"}, Verdict{"accept"}}
	if d := cmp.Diff(want, got.Chains[0].Rules[4].Exprs); d != "" {
		t.Errorf("IPv6 accept exprs (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]Expr{CtState{CtEstablished | CtRelated}, Verdict{"return"}}, got.Chains[0].Rules[0].Exprs); d != "" {
		t.Errorf("ct rule (-want +got):\n%s", d)
	}
}

// TestDesiredRefusesOverlaps: a hand-built plan with overlapping or
// unsorted ports is refused with the text target's words, so that apply and
// nft -f never disagree (the planner merges and sorts, so only such plans
// get here).
func TestDesiredRefusesOverlaps(t *testing.T) {
	p := &audit.Plan{Rules: []audit.Rule{{Family: 4, Proto: "tcp", Service: "rpc",
		Ports:        []audit.PortRange{{First: 6000, Last: 7000}, {First: 135, Last: 135}, {First: 6500, Last: 8000}, {First: 8001, Last: 8001}},
		Sources:      pfx("10.0.0.0/8", "10.1.0.0/16", "192.0.2.1/32", "9.255.255.255/32"),
		Destinations: pfx("192.0.2.7/24")}}}
	_, err := Desired(p, Options{})
	_, textErr := emit.Lookup("nftables")
	if textErr != nil {
		t.Fatal(textErr)
	}
	if err == nil || err.Error() != "rule 1: ports 6000-7000 and 135 overlap or are not sorted" {
		t.Errorf("Desired(overlapping ports) error = %v", err)
	}
}

func TestDesiredErrors(t *testing.T) {
	ok := testPlan().Rules[1]
	mod := func(f func(r *audit.Rule)) *audit.Plan {
		r := ok
		f(&r)
		return &audit.Plan{Rules: []audit.Rule{ok, r}}
	}
	tests := []struct {
		name string
		p    *audit.Plan
		o    Options
		want string
	}{
		{"hook", testPlan(), Options{Hook: "output"}, `unknown hook "output" (want input or forward)`},
		{"accept-only", testPlan(), Options{AcceptOnly: true}, ErrAcceptOnly.Error()},
		{"nil plan", nil, Options{}, "no plan"},
		{"family", mod(func(r *audit.Rule) { r.Family = 5 }), Options{}, "rule 2: family 5: want 4 or 6"},
		{"proto", mod(func(r *audit.Rule) { r.Proto = "sctp" }), Options{}, `rule 2: protocol "sctp": want tcp or udp`},
		{"ports", mod(func(r *audit.Rule) { r.Ports = nil }), Options{}, "rule 2: no ports, sources or destinations"},
		{"sources", mod(func(r *audit.Rule) { r.Sources = nil }), Options{}, "rule 2: no ports, sources or destinations"},
		{"port 0", mod(func(r *audit.Rule) { r.Ports = []audit.PortRange{{First: 0, Last: 10}} }), Options{}, "rule 2: port range 0-10 is empty or holds port 0"},
		{"inverted", mod(func(r *audit.Rule) { r.Ports = []audit.PortRange{{First: 20, Last: 10}} }), Options{}, "rule 2: port range 20-10 is empty or holds port 0"},
		{"mixed family", mod(func(r *audit.Rule) { r.Sources = pfx("fd00::/8") }), Options{}, "rule 2: address fd00::/8 is not a valid IPv4 prefix"},
		{"mapped", mod(func(r *audit.Rule) {
			r.Family = 6
			r.Sources = pfx("fd00::/8")
			r.Destinations = pfx("::ffff:10.0.0.1/128")
		}), Options{}, "rule 2: address ::ffff:10.0.0.1/128 is not a valid IPv6 prefix"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Desired(tc.p, tc.o)
			if err == nil || err.Error() != tc.want {
				t.Errorf("Desired() error = %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := Desired(testPlan(), Options{AcceptOnly: true}); !errors.Is(err, ErrAcceptOnly) {
		t.Errorf("AcceptOnly error = %v, want ErrAcceptOnly", err)
	}
}

// Hostile names in the plan (hosts, policies, services) reach only the
// comments, reduced to harmless characters; set and chain names are
// generated.
func TestDesiredHostileNames(t *testing.T) {
	p := testPlan()
	for i := range p.Rules {
		p.Rules[i].DestHosts = []string{"evil\n}\ntable ip x { chain y { type filter hook input priority 0; policy drop; } }"}
		p.Rules[i].Policies = []string{"p\"; flush ruleset; #\n"}
		p.Rules[i].Service = "rpc\nflush ruleset"
	}
	got, err := Desired(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := got.String()
	if strings.Contains(s, "evil") || strings.Contains(s, `p"`) || strings.Count(s, "\n") != strings.Count(wantForward, "\n")-3 {
		// Three drops fewer: the services are no longer rpc or rpc-udp.
		t.Errorf("input text reached the table:\n%s", s)
	}
	want := `comment "rpcspan rule 2: rpc_flush ruleset policy p__ flush ruleset_ __"`
	if !strings.Contains(s, want) {
		t.Errorf("table lacks %s:\n%s", want, s)
	}
	for _, c := range got.Chains[0].Rules {
		if len(c.Comment) > commentMax {
			t.Errorf("comment of %d bytes: %q", len(c.Comment), c.Comment)
		}
	}
}

func TestRuleString(t *testing.T) {
	tests := []struct {
		r    Rule
		want string
	}{
		{Rule{Exprs: []Expr{Family{4}, AddrSet{V: 4, Dst: true, Set: "d"}, L4Proto{"tcp"}, Port{"tcp", 135}, Verdict{"drop"}}}, "ip daddr @d tcp dport 135 drop"},
		// A dependency that guards nothing (or the wrong family) stays.
		{Rule{Exprs: []Expr{Family{6}, AddrSet{V: 4, Set: "s"}, Verdict{"accept"}}}, "meta nfproto ipv6 ip saddr @s accept"},
		{Rule{Exprs: []Expr{L4Proto{"udp"}, Verdict{"accept"}}}, "meta l4proto udp accept"},
		{Rule{Exprs: []Expr{L4Proto{"udp"}, PortSet{"tcp", "p"}}}, "meta l4proto udp tcp dport @p"},
		{Rule{Exprs: []Expr{CtState{CtNew | CtInvalid | 0x100}, Unknown{"*expr.Counter"}}}, "ct state invalid,new,0x100 <*expr.Counter>"},
		// Kernel-made names and comments cannot start a new line.
		{Rule{Exprs: []Expr{L4Proto{"tcp"}, PortSet{"tcp", "a\nb"}, Verdict{"accept"}}, Comment: "x\"\ny"}, `tcp dport @a?b accept comment "x\"\ny"`},
	}
	for _, tc := range tests {
		if got := tc.r.String(); got != tc.want {
			t.Errorf("Rule%v.String() = %q, want %q", tc.r.Exprs, got, tc.want)
		}
	}
}

func TestElementsAndPriority(t *testing.T) {
	s := Set{Name: "a", Type: KeyIPv6, Addrs: []netipx.IPRange{
		netipx.MustParseIPRange("fd00::1-fd00::5"),
		netipx.IPRangeFrom(netip.MustParseAddr("fd00::8"), netip.MustParseAddr("fd00::f")),
		netipx.MustParseIPRange("::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
	}}
	if d := cmp.Diff([]string{"fd00::1-fd00::5", "fd00::8/125", "::/0"}, s.Elements()); d != "" {
		t.Errorf("Elements (-want +got):\n%s", d)
	}
	for p, want := range map[int]string{0: "filter", 10: "filter + 10", -5: "filter - 5"} {
		if got := priorityName(p); got != want {
			t.Errorf("priorityName(%d) = %q, want %q", p, got, want)
		}
	}
}

func TestNSPath(t *testing.T) {
	for _, bad := range []string{"", ".", "..", "a/b", "../etc", "x\x00y"} {
		if _, err := nsPath(bad); err == nil {
			t.Errorf("nsPath(%q) = nil error, want one", bad)
		}
	}
	if p, err := nsPath("fw-1"); err != nil || p != "/run/netns/fw-1" {
		t.Errorf("nsPath(fw-1) = %q, %v", p, err)
	}
}

func TestRestorable(t *testing.T) {
	good, _ := Desired(testPlan(), Options{})
	if err := good.restorable(); err != nil {
		t.Errorf("restorable(Desired) = %v", err)
	}
	if err := (*Table)(nil).restorable(); err != nil {
		t.Errorf("restorable(nil) = %v", err)
	}
	bad := func(f func(t *Table)) *Table { t, _ := Desired(testPlan(), Options{}); f(t); return t }
	tests := []struct {
		t    *Table
		want string
	}{
		{bad(func(t *Table) { t.Sets[0].Type = "ether_addr" }), "set addr4_1 has type ether_addr"},
		{bad(func(t *Table) { t.Sets[1].plain = true }), "set addr4_2 is not an interval set"},
		{bad(func(t *Table) { t.Chains[0].Hook = "hook0" }), "chain forward is not a filter chain on the input or forward hook"},
		{bad(func(t *Table) {
			t.Chains[0].Rules = append(t.Chains[0].Rules, Rule{Exprs: []Expr{Unknown{"*expr.Log"}}})
		}), "chain forward has a rule rpcspan cannot read back: <*expr.Log>"},
	}
	for _, tc := range tests {
		if err := tc.t.restorable(); err == nil || err.Error() != tc.want {
			t.Errorf("restorable() = %v, want %q", err, tc.want)
		}
	}
}

// BenchmarkDesired100k builds the table of a plan with 100,000 address
// prefixes (100 rules of 1,000 distinct sources each) plus ports and
// destinations:
//
//	go test ./emit/apply -run '^$' -bench Desired100k -benchmem
func BenchmarkDesired100k(b *testing.B) {
	p := &audit.Plan{}
	for r := range 100 {
		rule := audit.Rule{Family: 4, Proto: "tcp", Service: "rpc", Policies: []string{"default"},
			Ports:        []audit.PortRange{{First: 135, Last: 135}, {First: uint16(5000 + r), Last: 65535}},
			Destinations: []netip.Prefix{netip.PrefixFrom(netip.AddrFrom4([4]byte{172, 16, byte(r), 0}), 24)}}
		for s := range 1000 {
			// Every other /32, so that no two are adjacent.
			rule.Sources = append(rule.Sources, netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(r), byte(s / 128), byte(s % 128 * 2)}), 32))
		}
		p.Rules = append(p.Rules, rule)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Desired(p, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
