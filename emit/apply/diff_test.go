package apply

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go4.org/netipx"

	"github.com/rpcspan/rpcspan/audit"
	"github.com/rpcspan/rpcspan/emit"
)

func mustDesired(t testing.TB, p *audit.Plan, o Options) *Table {
	t.Helper()
	tb, err := Desired(p, o)
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

func TestDiffNoTables(t *testing.T) {
	if d := cmp.Diff([]string{Unchanged}, Diff(nil, nil)); d != "" {
		t.Error(d)
	}
	want := mustDesired(t, testPlan(), Options{})
	if d := cmp.Diff([]string{Unchanged}, Diff(want, want)); d != "" {
		t.Error(d)
	}
	if !Equal(want, mustDesired(t, testPlan(), Options{})) || Equal(nil, want) {
		t.Error("Equal is wrong")
	}
}

func TestDiffCreate(t *testing.T) {
	p := &audit.Plan{Rules: testPlan().Rules[1:2]}
	got := Diff(nil, mustDesired(t, p, Options{Hook: emit.HookInput}))
	want := []string{
		"+ table inet rpcspan",
		"+ set addr4_1 ipv4_addr { 10.1.6.10/31, 10.1.6.12/31, 10.1.6.14 }",
		"+ set addr4_2 ipv4_addr { 10.1.0.10/31 }",
		"+ set ports_1 inet_service { 135 }",
		"+ chain input { type filter hook input priority filter; policy accept; }",
		"+ rule input: ct state established,related return",
		`+ rule input: ip saddr @addr4_1 ip daddr @addr4_2 tcp dport @ports_1 accept comment "rpcspan rule 1: rpc policy a b"`,
		`+ rule input: ip daddr @addr4_2 tcp dport @ports_1 drop comment "rpcspan: RPC port - source not allowed"`,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Diff(nil, want) (-want +got):\n%s", d)
	}
	// Deleting lists the same objects with "-".
	got = Diff(mustDesired(t, p, Options{Hook: emit.HookInput}), nil)
	for i := range want {
		want[i] = "-" + want[i][1:]
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Diff(cur, nil) (-want +got):\n%s", d)
	}
}

func TestDiffChanges(t *testing.T) {
	cur := mustDesired(t, testPlan(), Options{})
	p := testPlan()
	// The EPM rule: a source leaves, one comes; the span rule's span
	// changes; the explicit service goes (its sets and accept with it);
	// the IPv6 rule's policy is renamed.
	p.Rules[1].Sources = pfx("10.1.6.10/31", "10.1.6.14/32", "10.9.0.0/16")
	p.Rules[2].Ports = []audit.PortRange{{First: 5000, Last: 5100}, {First: 50000, Last: 65535}}
	p.Rules[0].Policies = []string{"v6-new"}
	p.Rules = p.Rules[:3]
	want := mustDesired(t, p, Options{})
	got := Diff(cur, want)
	exp := []string{
		"- element addr4_1 10.1.6.12/31",
		"+ element addr4_1 10.9.0.0/16",
		"- element ports_2 49152-65535",
		"+ element ports_2 50000-65535",
		// Sets are numbered by first use, so the IPv6 rule's ports,
		// once ports_4, now take the name ports_3.
		"- element ports_3 445",
		"+ element ports_3 1025-5000",
		"- set addr4_4 ipv4_addr { 10.1.0.12 }",
		"- set ports_4 inet_service { 1025-5000 }",
		`- rule forward: ip saddr @addr4_3 ip daddr @addr4_4 tcp dport @ports_3 accept comment "rpcspan rule 4: tcp/445 policy files"`,
		`- rule forward: ip6 saddr @addr6_1 ip6 daddr @addr6_2 udp dport @ports_4 accept comment "rpcspan rule 1: rpc-udp policy v6"`,
		`+ rule forward: ip6 saddr @addr6_1 ip6 daddr @addr6_2 udp dport @ports_3 accept comment "rpcspan rule 1: rpc-udp policy v6-new"`,
		`- rule forward: ip6 daddr @addr6_2 udp dport @ports_4 drop comment "rpcspan: RPC port - source not allowed"`,
		`+ rule forward: ip6 daddr @addr6_2 udp dport @ports_3 drop comment "rpcspan: RPC port - source not allowed"`,
	}
	if d := cmp.Diff(exp, got); d != "" {
		t.Errorf("Diff (-want +got):\n%s", d)
	}
	// Deterministic: the same inputs, the same lines.
	if d := cmp.Diff(got, Diff(cur, want)); d != "" {
		t.Errorf("Diff is not deterministic:\n%s", d)
	}
}

// One rule inserted in the middle shows as one line (the LCS alignment),
// a swap as one removal and one addition, and a hook change replaces the
// chain.
func TestDiffRulesAndChains(t *testing.T) {
	cur := mustDesired(t, testPlan(), Options{})
	want := mustDesired(t, testPlan(), Options{})
	extra := Rule{Exprs: []Expr{Family{4}, AddrSet{V: 4, Dst: true, Set: "addr4_2"}, L4Proto{"tcp"}, Port{"tcp", 445}, Verdict{"accept"}}}
	rs := want.Chains[0].Rules
	want.Chains[0].Rules = append(append(append([]Rule{}, rs[:2]...), extra), rs[2:]...)
	got := Diff(cur, want)
	if d := cmp.Diff([]string{"+ rule forward: ip daddr @addr4_2 tcp dport 445 accept"}, got); d != "" {
		t.Errorf("inserted rule (-want +got):\n%s", d)
	}
	want = mustDesired(t, testPlan(), Options{})
	rs = want.Chains[0].Rules
	rs[1], rs[2] = rs[2], rs[1]
	got = Diff(cur, want)
	if len(got) != 2 || got[0][0] != '-' || got[1][0] != '+' {
		t.Errorf("swapped rules: %q", got)
	}

	in := mustDesired(t, testPlan(), Options{Hook: emit.HookInput})
	got = Diff(cur, in)
	if got[0] != "+ chain input { type filter hook input priority filter; policy accept; }" ||
		got[len(got)-1] != `- rule forward: ip6 daddr @addr6_2 udp dport @ports_4 drop comment "rpcspan: RPC port - source not allowed"` ||
		len(got) != 2+2*len(cur.Chains[0].Rules) {
		t.Errorf("hook change: %q", got)
	}
	pol := mustDesired(t, testPlan(), Options{})
	pol.Chains[0].Policy = "drop"
	got = Diff(cur, pol)
	if d := cmp.Diff([]string{
		"- chain forward { type filter hook forward priority filter; policy accept; }",
		"+ chain forward { type filter hook forward priority filter; policy drop; }",
	}, got); d != "" {
		t.Errorf("policy change (-want +got):\n%s", d)
	}
	// A comment alone makes a rule differ.
	com := mustDesired(t, testPlan(), Options{})
	com.Chains[0].Rules[1].Comment = "other"
	if got := Diff(cur, com); len(got) != 2 {
		t.Errorf("comment change: %q", got)
	}
}

// A chain too long for the LCS table still gives a correct (coarser) diff.
func TestDiffLargeChain(t *testing.T) {
	mk := func(n, from int) []Rule {
		var rs []Rule
		for i := range n {
			rs = append(rs, Rule{Exprs: []Expr{L4Proto{"tcp"}, Port{"tcp", uint16(from + i)}, Verdict{"accept"}}})
		}
		return rs
	}
	cur := &Table{Chains: []Chain{{Name: "forward", Type: "filter", Hook: "forward", Policy: "accept", Rules: mk(3000, 0)}}}
	want := &Table{Chains: []Chain{{Name: "forward", Type: "filter", Hook: "forward", Policy: "accept", Rules: mk(3000, 1)}}}
	// 2999 rules are shared but shifted: the head/tail trim finds nothing
	// to skip at the ends, and 2999*2999 cells pass lcsLimit.
	got := Diff(cur, want)
	if len(got) != 6000 || got[0] != "- rule forward: tcp dport 0 accept" || got[5999] != "+ rule forward: tcp dport 3000 accept" {
		t.Errorf("large diff: %d lines, first %q, last %q", len(got), got[0], got[len(got)-1])
	}
	want.Chains[0].Rules = mk(3000, 0)[:2000]
	got = Diff(cur, want)
	if len(got) != 1000 || got[0] != "- rule forward: tcp dport 2000 accept" {
		t.Errorf("trimmed tail: %d lines, first %q", len(got), got[0])
	}
}

func TestElementDiffAddrs(t *testing.T) {
	r := func(s string) netipx.IPRange {
		if p, err := netip.ParsePrefix(s); err == nil {
			return netipx.RangeOfPrefix(p)
		}
		return netipx.MustParseIPRange(s)
	}
	c := &Set{Name: "s", Type: KeyIPv4, Addrs: []netipx.IPRange{r("10.0.0.0/31"), r("10.0.0.4-10.0.0.9"), r("10.0.1.0/24")}}
	w := &Set{Name: "s", Type: KeyIPv4, Addrs: []netipx.IPRange{r("10.0.0.0/31"), r("10.0.0.4-10.0.0.8"), r("10.0.2.0/24")}}
	want := []string{"+ element s 10.0.0.4-10.0.0.8", "- element s 10.0.0.4-10.0.0.9", "- element s 10.0.1.0/24", "+ element s 10.0.2.0/24"}
	if d := cmp.Diff(want, elementDiff(c, w)); d != "" {
		t.Errorf("elementDiff (-want +got):\n%s", d)
	}
}
