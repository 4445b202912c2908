//go:build linux

package apply

import (
	"bytes"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rpcspan/rpcspan/audit"
	"github.com/rpcspan/rpcspan/audit/ingest"
	"github.com/rpcspan/rpcspan/audit/netnstest"
	"github.com/rpcspan/rpcspan/emit"
)

// The span the lab's server uses; 50101 lies outside it and is no RPC
// port of any managed destination, so nothing drops it.
var labSpan = audit.PortRange{First: 50000, Last: 50100}

// labPlan allows the lab's "in" client addresses to reach the server on
// 135 and the span, over IPv4 and IPv6, plus the given extra sources.
func labPlan(lab *netnstest.Lab, extra4, extra6 []netip.Prefix) *audit.Plan {
	src4 := append([]netip.Prefix{netip.PrefixFrom(lab.ClientIn4, 32)}, extra4...)
	src6 := append([]netip.Prefix{netip.PrefixFrom(lab.ClientIn6, 128)}, extra6...)
	dst4 := []netip.Prefix{netip.PrefixFrom(lab.Server4, 32)}
	dst6 := []netip.Prefix{netip.PrefixFrom(lab.Server6, 128)}
	epm := []audit.PortRange{{First: 135, Last: 135}}
	span := []audit.PortRange{labSpan}
	return &audit.Plan{Rules: []audit.Rule{
		{Family: 4, Proto: "tcp", Service: "rpc", EPM: true, Ports: epm, Sources: src4, Destinations: dst4, Policies: []string{"lab"}},
		{Family: 4, Proto: "tcp", Service: "rpc", Ports: span, Sources: src4, Destinations: dst4, Policies: []string{"lab"}},
		{Family: 6, Proto: "tcp", Service: "rpc", EPM: true, Ports: epm, Sources: src6, Destinations: dst6, Policies: []string{"lab"}},
		{Family: 6, Proto: "tcp", Service: "rpc", Ports: span, Sources: src6, Destinations: dst6, Policies: []string{"lab"}},
	}}
}

// flow is one connection attempt and whether it must get through.
type flow struct {
	src, dst netip.Addr
	port     uint16
	pass     bool
}

// expectFlows dials all flows at once and reports those whose outcome
// differs. A blocked flow costs one timeout; passing ones answer at once.
func expectFlows(t *testing.T, lab *netnstest.Lab, what string, flows []flow) {
	t.Helper()
	var wg sync.WaitGroup
	got := make([]error, len(flows))
	for i, f := range flows {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i] = lab.DialErr(f.src, f.dst, f.port, 700*time.Millisecond)
		}()
	}
	wg.Wait()
	for i, f := range flows {
		if (got[i] == nil) != f.pass {
			t.Errorf("%s: %v -> [%v]:%d: got err %v, want pass=%v", what, f.src, f.dst, f.port, got[i], f.pass)
		}
	}
}

// enforced lists what the lab's table must do, both families: the "in"
// client reaches 135 and the span, the "out" client does not, and both
// reach 22 and 50101 (not RPC ports of a managed destination).
func enforced(lab *netnstest.Lab) []flow {
	var fs []flow
	for _, p := range [][3]netip.Addr{{lab.ClientIn4, lab.ClientOut4, lab.Server4}, {lab.ClientIn6, lab.ClientOut6, lab.Server6}} {
		in, out, srv := p[0], p[1], p[2]
		fs = append(fs,
			flow{in, srv, 135, true}, flow{in, srv, labSpan.First, true}, flow{in, srv, labSpan.Last, true},
			flow{in, srv, 22, true}, flow{in, srv, labSpan.Last + 1, true},
			flow{out, srv, 135, false}, flow{out, srv, labSpan.First, false}, flow{out, srv, labSpan.Last, false},
			flow{out, srv, 22, true}, flow{out, srv, labSpan.Last + 1, true})
	}
	return fs
}

// open lists every flow passing (no table, or one that allows "out").
func open(lab *netnstest.Lab) []flow {
	fs := enforced(lab)
	for i := range fs {
		fs[i].pass = true
	}
	return fs
}

// listTable returns nft's listing of table inet rpcspan in namespace
// role, or "" when there is none.
func listTable(t *testing.T, lab *netnstest.Lab, role string) string {
	t.Helper()
	out, err := lab.Exec(role, "nft", "list", "table", "inet", TableName)
	if err != nil {
		if bytes.Contains(out, []byte("No such file or directory")) {
			return ""
		}
		t.Fatalf("nft list table in %s: %v: %s", role, err, out)
	}
	return string(out)
}

// newLab makes a lab with listeners on the server.
func newLab(t *testing.T) *netnstest.Lab {
	netnstest.Require(t, "nft")
	lab := netnstest.New(t)
	lab.Listen(netnstest.Server, 22, 135, labSpan.First, labSpan.Last, labSpan.Last+1)
	return lab
}

// TestApplyForward programs the fw namespace on the forward hook through
// netlink: the traffic is filtered as the plan says, the kernel reads back
// as the model, nft lists exactly what it lists for the text target, and
// a second apply changes nothing.
func TestApplyForward(t *testing.T) {
	lab := newLab(t)
	o := Options{Hook: emit.HookForward, NetNS: lab.NS(netnstest.FW)}
	want, err := Desired(labPlan(lab, nil, nil), o)
	if err != nil {
		t.Fatal(err)
	}
	if cur, err := Current(o.NetNS); err != nil || cur != nil {
		t.Fatalf("Current before apply = %v, %v; want nil, nil", cur, err)
	}
	expectFlows(t, lab, "before apply", open(lab))

	prev, err := Apply(want, o)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if prev != nil {
		t.Errorf("Apply on an empty namespace returned prev %v", prev)
	}
	expectFlows(t, lab, "after apply", enforced(lab))
	first := listTable(t, lab, netnstest.FW)

	cur, err := Current(o.NetNS)
	if err != nil {
		t.Fatal(err)
	}
	if d := Diff(cur, want); !Equal(cur, want) {
		t.Errorf("Current after Apply differs from the table applied:\n%s", strings.Join(d, "\n"))
	}

	// Idempotent: the second apply returns the first table and leaves the
	// same listing (no duplicate rules, no stale sets).
	prev, err = Apply(want, o)
	if err != nil {
		t.Fatalf("second Apply: %v", err)
	}
	if !Equal(prev, want) {
		t.Errorf("second Apply's prev differs:\n%s", strings.Join(Diff(prev, want), "\n"))
	}
	if second := listTable(t, lab, netnstest.FW); second != first {
		t.Errorf("listing changed on the second apply:\n%s", cmp.Diff(first, second))
	}
	if n := strings.Count(first, "ip saddr @"); n != 2 {
		t.Errorf("listing has %d IPv4 accept rules, want 2:\n%s", n, first)
	}
	expectFlows(t, lab, "after second apply", enforced(lab))

	// The text target, loaded with nft -f into another namespace, lists
	// the same table.
	var text bytes.Buffer
	em, _ := emit.Lookup("nftables")
	if err := em.Emit(&text, &emit.Input{Plan: labPlan(lab, nil, nil), Opt: emit.Options{Hook: emit.HookForward}}); err != nil {
		t.Fatal(err)
	}
	if out, err := lab.ExecInput(netnstest.Client, text.Bytes(), "nft", "-f", "-"); err != nil {
		t.Fatalf("nft -f of the text target: %v: %s", err, out)
	}
	if fromText := listTable(t, lab, netnstest.Client); fromText != first {
		t.Errorf("nft list after apply differs from nft list after nft -f (-text +apply):\n%s", cmp.Diff(fromText, first))
	}
	// And reads back as the same model.
	textCur, err := Current(lab.NS(netnstest.Client))
	if err != nil {
		t.Fatal(err)
	}
	if !Equal(textCur, want) {
		t.Errorf("table loaded by nft -f reads back differently:\n%s", strings.Join(Diff(textCur, want), "\n"))
	}
}

// TestApplyInput programs the server namespace on the input hook.
func TestApplyInput(t *testing.T) {
	lab := newLab(t)
	o := Options{Hook: emit.HookInput, NetNS: lab.NS(netnstest.Server)}
	want, err := Desired(labPlan(lab, nil, nil), o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Apply(want, o); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	expectFlows(t, lab, "input hook", enforced(lab))
	first := listTable(t, lab, netnstest.Server)
	if !strings.Contains(first, "type filter hook input priority filter; policy accept;") {
		t.Errorf("listing lacks the input base chain:\n%s", first)
	}
	if _, err := Apply(want, o); err != nil {
		t.Fatalf("second Apply: %v", err)
	}
	if second := listTable(t, lab, netnstest.Server); second != first {
		t.Errorf("listing changed on the second apply:\n%s", cmp.Diff(first, second))
	}
	// The fw namespace was not touched.
	if l := listTable(t, lab, netnstest.FW); l != "" {
		t.Errorf("fw namespace got a table:\n%s", l)
	}
}

// TestDryRunChangesNothing is what apply --dry-run does: Current and Diff,
// no Apply. The kernel keeps its table, and the diff names the change.
func TestDryRunChangesNothing(t *testing.T) {
	lab := newLab(t)
	o := Options{NetNS: lab.NS(netnstest.FW)}
	want, _ := Desired(labPlan(lab, nil, nil), o)
	if _, err := Apply(want, o); err != nil {
		t.Fatal(err)
	}
	before := listTable(t, lab, netnstest.FW)
	wider, _ := Desired(labPlan(lab, []netip.Prefix{netip.PrefixFrom(lab.ClientOut4, 32)}, nil), o)
	cur, err := Current(o.NetNS)
	if err != nil {
		t.Fatal(err)
	}
	got := Diff(cur, wider)
	wantDiff := []string{"+ element addr4_1 " + lab.ClientOut4.String()}
	if d := cmp.Diff(wantDiff, got); d != "" {
		t.Errorf("dry-run diff (-want +got):\n%s", d)
	}
	if after := listTable(t, lab, netnstest.FW); after != before {
		t.Errorf("dry run changed the table:\n%s", cmp.Diff(before, after))
	}
	if d := Diff(cur, want); !Equal(cur, want) {
		t.Errorf("Current differs from what was applied: %q", d)
	}
}

// TestFailedTransactionKeepsTable makes the kernel refuse a transaction
// after a good table is in place, in three ways, and shows that the old
// table and its filtering are intact each time.
func TestFailedTransactionKeepsTable(t *testing.T) {
	lab := newLab(t)
	o := Options{NetNS: lab.NS(netnstest.FW)}
	good, _ := Desired(labPlan(lab, nil, nil), o)
	if _, err := Apply(good, o); err != nil {
		t.Fatal(err)
	}
	before := listTable(t, lab, netnstest.FW)
	// Each bad table opens everything if it were committed (the "out"
	// clients join the sources), so a partial commit would show in the
	// traffic too.
	bad := func(f func(t *Table)) *Table {
		tb, err := Desired(labPlan(lab, []netip.Prefix{netip.PrefixFrom(lab.ClientOut4, 32)}, []netip.Prefix{netip.PrefixFrom(lab.ClientOut6, 128)}), o)
		if err != nil {
			t.Fatal(err)
		}
		f(tb)
		return tb
	}
	tests := []struct {
		name string
		t    *Table
	}{
		// A set name longer than the kernel's 255 bytes, after the
		// table delete and the other sets in the batch.
		{"name too long", bad(func(tb *Table) {
			tb.Sets = append(tb.Sets, Set{Name: strings.Repeat("x", 300), Type: KeyPort, Ports: []audit.PortRange{{First: 1, Last: 2}}})
		})},
		// A lookup of a set that does not exist: ENOENT, after the sets
		// and most rules were already accepted into the batch.
		{"missing set", bad(func(tb *Table) {
			ch := &tb.Chains[0]
			ch.Rules = append(ch.Rules, Rule{Exprs: []Expr{L4Proto{"tcp"}, PortSet{"tcp", "no_such_set"}, Verdict{"accept"}}})
		})},
		// Two sets of one name: EEXIST for the second.
		{"duplicate set", bad(func(tb *Table) {
			tb.Sets = append(tb.Sets, Set{Name: tb.Sets[0].Name, Type: KeyIPv6})
		})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Start from the good table, whatever an earlier case did.
			if _, err := Apply(good, o); err != nil {
				t.Fatal(err)
			}
			prev, err := Apply(tc.t, o)
			if err == nil {
				t.Fatalf("Apply of a bad table succeeded")
			}
			t.Logf("Apply error (expected): %v", err)
			if !Equal(prev, good) {
				t.Errorf("prev is not the good table:\n%s", strings.Join(Diff(prev, good), "\n"))
			}
			if after := listTable(t, lab, netnstest.FW); after != before {
				t.Errorf("failed transaction changed the table:\n%s", cmp.Diff(before, after))
			}
			cur, err := Current(o.NetNS)
			if err != nil || !Equal(cur, good) {
				t.Errorf("Current after failure: %v, diff %q", err, Diff(cur, good))
			}
			expectFlows(t, lab, "after failed transaction", enforced(lab))
		})
	}
}

// TestRestore is the --confirm rollback: apply a table that lets the "out"
// clients in, then put the previous one back; and restoring "no table"
// deletes it.
func TestRestore(t *testing.T) {
	lab := newLab(t)
	o := Options{NetNS: lab.NS(netnstest.FW)}
	good, _ := Desired(labPlan(lab, nil, nil), o)
	if _, err := Apply(good, o); err != nil {
		t.Fatal(err)
	}
	before := listTable(t, lab, netnstest.FW)
	wider, _ := Desired(labPlan(lab, []netip.Prefix{netip.PrefixFrom(lab.ClientOut4, 32)}, []netip.Prefix{netip.PrefixFrom(lab.ClientOut6, 128)}), o)
	prev, err := Apply(wider, o)
	if err != nil {
		t.Fatal(err)
	}
	expectFlows(t, lab, "wider table", open(lab))
	// What the CLI does when Confirm says no.
	if Confirm(t.Context(), &bytes.Buffer{}, strings.NewReader(""), time.Second) {
		t.Fatal("Confirm on empty input said yes")
	}
	if err := Restore(prev, o); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if after := listTable(t, lab, netnstest.FW); after != before {
		t.Errorf("Restore did not bring back the table:\n%s", cmp.Diff(before, after))
	}
	expectFlows(t, lab, "restored", enforced(lab))

	// Rolling back the very first apply deletes the table; twice is no
	// error.
	for i := range 2 {
		if err := Restore(nil, o); err != nil {
			t.Fatalf("Restore(nil) #%d: %v", i+1, err)
		}
	}
	if l := listTable(t, lab, netnstest.FW); l != "" {
		t.Errorf("Restore(nil) left a table:\n%s", l)
	}
	if cur, err := Current(o.NetNS); cur != nil || err != nil {
		t.Errorf("Current after Restore(nil) = %v, %v", cur, err)
	}
	expectFlows(t, lab, "no table", open(lab))
}

// TestApplyRefusesForeignContent: a rule added by hand to rpcspan's table
// could not be put back on rollback, so Apply leaves the table alone.
func TestApplyRefusesForeignContent(t *testing.T) {
	lab := newLab(t)
	o := Options{NetNS: lab.NS(netnstest.FW)}
	good, _ := Desired(labPlan(lab, nil, nil), o)
	if _, err := Apply(good, o); err != nil {
		t.Fatal(err)
	}
	if out, err := lab.Exec(netnstest.FW, "nft", "add", "rule", "inet", TableName, "forward", "counter", "log"); err != nil {
		t.Fatalf("nft add rule: %v: %s", err, out)
	}
	before := listTable(t, lab, netnstest.FW)
	cur, err := Current(o.NetNS)
	if err != nil {
		t.Fatal(err)
	}
	d := Diff(cur, good)
	if len(d) != 1 || !strings.HasPrefix(d[0], "- rule forward: <*expr.Counter>") {
		t.Errorf("Diff with a hand-made rule = %q", d)
	}
	_, err = Apply(good, o)
	if err == nil || !strings.Contains(err.Error(), "was changed outside rpcspan") {
		t.Errorf("Apply over a hand-edited table: err = %v", err)
	}
	if after := listTable(t, lab, netnstest.FW); after != before {
		t.Errorf("refused Apply changed the table:\n%s", cmp.Diff(before, after))
	}
}

// TestApplyLargeTable sends sets large enough to need several element
// messages and bigger socket buffers, and reads them back exactly.
func TestApplyLargeTable(t *testing.T) {
	netnstest.Require(t, "nft")
	lab := netnstest.New(t)
	o := Options{NetNS: lab.NS(netnstest.FW)}
	p := labPlan(lab, nil, nil)
	for i := range 20000 {
		// Every fourth IPv4 address and every other IPv6 one: none
		// adjacent, so none join and every one is an element.
		a := netip.AddrFrom4([4]byte{10, byte(i >> 14), byte(i >> 6), byte(i&63) * 4})
		p.Rules[1].Sources = append(p.Rules[1].Sources, netip.PrefixFrom(a, 32))
		b := netip.AddrFrom16([16]byte{0xfd, 0, 0, 0x99, 14: byte(i >> 8), 15: byte(i)})
		if i%2 == 0 {
			p.Rules[3].Sources = append(p.Rules[3].Sources, netip.PrefixFrom(b, 128))
		}
	}
	sortPrefixes(p.Rules[1].Sources)
	sortPrefixes(p.Rules[3].Sources)
	want, err := Desired(p, o)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := Apply(want, o); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	t.Logf("applied %d IPv4 + %d IPv6 source elements in %v", len(p.Rules[1].Sources), len(p.Rules[3].Sources), time.Since(start))
	cur, err := Current(o.NetNS)
	if err != nil {
		t.Fatal(err)
	}
	if !Equal(cur, want) {
		d := Diff(cur, want)
		t.Errorf("large table reads back differently (%d lines), first: %q", len(d), d[:min(5, len(d))])
	}
	if _, err := Apply(want, o); err != nil {
		t.Fatalf("second Apply: %v", err)
	}
}

func sortPrefixes(ps []netip.Prefix) {
	slices.SortFunc(ps, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
}

// TestListingMatchesTextTarget loads the bundled example estate's table
// both ways (nft -f of the text target in one namespace, Apply in
// another) and compares nft's listings: spans that run to 65535, IPv6,
// shared sets and comments included.
func TestListingMatchesTextTarget(t *testing.T) {
	netnstest.Require(t, "nft")
	lab := netnstest.New(t)
	est, _, err := ingest.Load([]string{"../../testdata/example"}, ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p := audit.BuildPlan(est)
	em, _ := emit.Lookup("nftables")
	for _, hook := range []emit.Hook{emit.HookForward, emit.HookInput} {
		var text bytes.Buffer
		if err := em.Emit(&text, &emit.Input{Plan: p, Estate: est, Opt: emit.Options{Hook: hook}}); err != nil {
			t.Fatal(err)
		}
		if out, err := lab.ExecInput(netnstest.Client, text.Bytes(), "nft", "-f", "-"); err != nil {
			t.Fatalf("nft -f: %v: %s", err, out)
		}
		o := Options{Hook: hook, NetNS: lab.NS(netnstest.Server)}
		want, err := Desired(p, o)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Apply(want, o); err != nil {
			t.Fatalf("Apply: %v", err)
		}
		fromText, fromApply := listTable(t, lab, netnstest.Client), listTable(t, lab, netnstest.Server)
		if fromText != fromApply {
			t.Errorf("%s: listings differ (-nft -f +apply):\n%s", hook, cmp.Diff(fromText, fromApply))
		}
		if !strings.Contains(fromApply, "49152-65535") {
			t.Errorf("%s: listing lacks the open-ended span:\n%s", hook, fromApply)
		}
		for _, ns := range []string{netnstest.Client, netnstest.Server} {
			cur, err := Current(lab.NS(ns))
			if err != nil {
				t.Fatal(err)
			}
			if !Equal(cur, want) {
				t.Errorf("%s: table in %s reads back differently: %q", hook, ns, Diff(cur, want))
			}
		}
	}
}
