//go:build linux

package emit

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rpcspan/rpcspan/audit"
	"github.com/rpcspan/rpcspan/audit/netnstest"
)

// The kernel tests load the Linux outputs with the real tools into private
// network namespaces (audit/netnstest) and then open real TCP
// connections through them. Run them as root:
//
//	go test ./emit -run Kernel -v
//
// Without root, ip, iptables or nft they skip, unless
// RPCSPAN_REQUIRE_INTEGRATION is set (as in CI), when they fail.

// kernelSpan is the server's dynamic range in the lab estate.
const kernelSpan = "50000-50100"

// kernelHostile is a policy name that tries to break out of the comments.
const kernelHostile = "evil\" -j ACCEPT\n; flush ruleset"

// kernelPorts are the server's listeners: ssh, the endpoint mapper, both
// ends of the span, the first port past it, and an explicit service.
var kernelPorts = []uint16{22, 135, 50000, 50100, 50101, 8080}

// kernelEstate builds the lab's estate: client host CLI (the "in"
// addresses) may open rpc on server SRV (span 50000-50100) and tcp/8080;
// the rpc policy also names addresses outside the lab (and, with extra,
// more selectors), so that its sources need a sub-chain.
func kernelEstate(t *testing.T, l *netnstest.Lab, opt Options, extra ...string) *Input {
	t.Helper()
	e := audit.NewEstate()
	cli := e.Host("CLI")
	cli.Addresses = []audit.Addr{{Addr: l.ClientIn4}, {Addr: l.ClientIn6}}
	srv := e.Host("SRV")
	srv.Addresses = []audit.Addr{{Addr: l.Server4}, {Addr: l.Server6}}
	span, err := audit.ParseRange(kernelSpan)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []audit.Key{audit.TCP4, audit.TCP6} {
		srv.Ranges = append(srv.Ranges, audit.RangeObs{Key: k, Range: span, Origin: audit.Captured})
	}
	sel := func(ss ...string) []audit.Selector {
		var out []audit.Selector
		for _, s := range ss {
			v, err := audit.ParseSelector(s)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, v)
		}
		return out
	}
	svc := func(s string) []audit.Service {
		v, err := audit.ParseService(s)
		if err != nil {
			t.Fatal(err)
		}
		return []audit.Service{v}
	}
	from := append([]string{"host:CLI", "203.0.113.0/24", "2001:db8:9::/48"}, extra...)
	e.Policy = []audit.PolicyRule{
		{Name: kernelHostile, From: sel(from...), To: sel("host:SRV"), Services: svc("rpc")},
		{Name: "web", From: sel("host:CLI"), To: sel("host:SRV"), Services: svc("tcp/8080")},
	}
	e.PolicySet = true
	return &Input{Plan: audit.BuildPlan(e), Estate: e, Inputs: []string{"lab"}, Opt: opt}
}

// kernelFlow is a connection and whether it must get through.
type kernelFlow struct {
	src, dst netip.Addr
	port     uint16
	pass     bool
}

// kernelCheck dials all flows at once from the client namespace. A flow
// that must pass has to connect; one that must not has to time out (a
// dropped SYN), not be refused, which would only mean nobody listens.
func kernelCheck(t *testing.T, l *netnstest.Lab, flows []kernelFlow) {
	t.Helper()
	errs := make([]error, len(flows))
	var wg sync.WaitGroup
	for i, f := range flows {
		wg.Go(func() { errs[i] = l.DialErr(f.src, f.dst, f.port, time.Second) })
	}
	wg.Wait()
	for i, f := range flows {
		err := errs[i]
		switch {
		case f.pass && err != nil:
			t.Errorf("%v -> %v port %d: want connected, got %v", f.src, f.dst, f.port, err)
		case !f.pass && err == nil:
			t.Errorf("%v -> %v port %d: want dropped, got connected", f.src, f.dst, f.port)
		case !f.pass && !isTimeout(err):
			t.Errorf("%v -> %v port %d: want dropped (timeout), got %v", f.src, f.dst, f.port, err)
		}
	}
}

// isTimeout reports whether err is a timeout: depending on where the
// deadline hit, the dialer reports it as a net.Error or as
// context.DeadlineExceeded.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded)
}

// kernelReply checks that the destination's own outgoing connection from
// a port in its span (srcPort) works: the reply comes back to that port
// from a source no rule allows, and only the established-state rule keeps
// the drops away from it.
func kernelReply(t *testing.T, l *netnstest.Lab, fam int, srcPort uint16) {
	t.Helper()
	srv, out := l.Server4, l.ClientOut4
	if fam == 6 {
		srv, out = l.Server6, l.ClientOut6
	}
	err := l.DialPort(netnstest.Server, netip.AddrPortFrom(srv, srcPort), netip.AddrPortFrom(out, kernelClientPort), time.Second)
	if err != nil {
		t.Errorf("server %v port %d -> %v port %d (reply into the span): %v", srv, srcPort, out, kernelClientPort, err)
	}
}

// kernelClientPort is where the client listens for the server's own
// connections.
const kernelClientPort = 7000

// kernelFlows are the expectations for one family with full output: the
// allowed client reaches 135 and the span, the other client does not;
// ports outside 135 and the span pass for both.
func kernelFlows(l *netnstest.Lab, fam int) []kernelFlow {
	in, out, srv := l.ClientIn4, l.ClientOut4, l.Server4
	if fam == 6 {
		in, out, srv = l.ClientIn6, l.ClientOut6, l.Server6
	}
	return []kernelFlow{
		{in, srv, 135, true}, {in, srv, 50000, true}, {in, srv, 50100, true},
		{out, srv, 135, false}, {out, srv, 50000, false}, {out, srv, 50100, false},
		{out, srv, 22, true}, {in, srv, 22, true},
		{in, srv, 50101, true}, {out, srv, 50101, true},
		{in, srv, 8080, true}, {out, srv, 8080, true},
	}
}

// kernelUntouched are flows of a family the output has no rules for.
func kernelUntouched(l *netnstest.Lab, fam int) []kernelFlow {
	out, srv := l.ClientOut4, l.Server4
	if fam == 6 {
		out, srv = l.ClientOut6, l.Server6
	}
	return []kernelFlow{{out, srv, 135, true}, {out, srv, 50000, true}}
}

// kernelOtherFamily returns 6 for 4 and 4 for 6.
func kernelOtherFamily(fam int) int {
	if fam == 4 {
		return 6
	}
	return 4
}

// kernelRulesNS is where rules of a hook go: the firewall for forward,
// the server (the destination itself) for input.
func kernelRulesNS(h Hook) string {
	if h == HookInput {
		return netnstest.Server
	}
	return netnstest.FW
}

// kernelWrite writes b to a file in the test's temporary folder.
func kernelWrite(t *testing.T, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// kernelRun runs a command in a lab namespace and fails the test on error.
func kernelRun(t *testing.T, l *netnstest.Lab, ns string, name string, args ...string) string {
	t.Helper()
	out, err := l.Exec(ns, name, args...)
	if err != nil {
		t.Fatalf("%s %s in %s: %v\n%s", name, strings.Join(args, " "), ns, err, out)
	}
	return string(out)
}

// iptKernel names one iptables flavour: the nf_tables backend (plain
// iptables) or the legacy one.
type iptKernel struct {
	tool   string // "iptables", "ip6tables", "iptables-legacy", ...
	family int
}

func (k iptKernel) restore() string { return k.tool + "-restore" }
func (k iptKernel) save() string    { return k.tool + "-save" }

// load loads file the documented way: restore with --noflush, then the
// header's jump command, verbatim apart from the tool name.
func (k iptKernel) load(t *testing.T, l *netnstest.Lab, ns, file string, hook Hook) {
	t.Helper()
	kernelRun(t, l, ns, k.restore(), "--noflush", file)
	kernelRun(t, l, ns, "sh", "-c", iptablesJump(k.tool, hook))
}

// saved returns the filter table as the save tool prints it, without
// its dated comment lines and counters.
func (k iptKernel) saved(t *testing.T, l *netnstest.Lab, ns string) string {
	t.Helper()
	out := kernelRun(t, l, ns, k.save(), "-t", "filter")
	out = regexp.MustCompile(`(?m)^#.*\n`).ReplaceAllString(out, "")
	return regexp.MustCompile(`\[\d+:\d+\]`).ReplaceAllString(out, "[0:0]")
}

// iptKernels lists the flavours to test for a family: nf_tables always,
// legacy when its tools are installed.
func iptKernels(family int) []iptKernel {
	base := "iptables"
	if family == 6 {
		base = "ip6tables"
	}
	return []iptKernel{{base, family}, {base + "-legacy", family}}
}

// kernelLegacyMu serialises the tests that use the legacy iptables tools.
var kernelLegacyMu sync.Mutex

func TestKernelIptables(t *testing.T) {
	t.Parallel()
	for _, fam := range []int{4, 6} {
		for _, k := range iptKernels(fam) {
			for _, hook := range []Hook{HookForward, HookInput} {
				t.Run(k.tool+"/"+string(hook), func(t *testing.T) {
					t.Parallel()
					netnstest.Require(t, k.restore(), k.save(), k.tool, "sh")
					// The legacy tools share one lock file across
					// namespaces and fail when another holds it, so the
					// legacy cases take turns.
					if strings.HasSuffix(k.tool, "-legacy") {
						kernelLegacyMu.Lock()
						defer kernelLegacyMu.Unlock()
					}
					kernelIptables(t, k, hook)
				})
			}
		}
	}
}

// kernelIptables loads the full output next to foreign rules, checks the
// traffic, reloads and checks that nothing changed.
func kernelIptables(t *testing.T, k iptKernel, hook Hook) {
	l := netnstest.New(t)
	l.Listen(netnstest.Server, kernelPorts...)
	l.Listen(netnstest.Client, kernelClientPort)
	ns := kernelRulesNS(hook)
	target := "iptables"
	if k.family == 6 {
		target = "ip6tables"
	}
	in := kernelEstate(t, l, Options{Hook: hook})
	out := linuxEmit(t, target, in)
	if !strings.Contains(string(out), "#   "+iptablesJump(target, hook)+"\n") {
		t.Fatalf("the header does not give the jump command the test runs")
	}
	file := kernelWrite(t, "rules", out)

	// A rule and a chain of someone else, which a load must keep.
	chain := strings.ToUpper(string(hook))
	kernelRun(t, l, ns, k.tool, "-N", "OTHER")
	kernelRun(t, l, ns, k.tool, "-A", "OTHER", "-p", "tcp", "--dport", "2222", "-j", "ACCEPT")
	kernelRun(t, l, ns, k.tool, "-A", chain, "-j", "OTHER")

	k.load(t, l, ns, file, hook)
	first := k.saved(t, l, ns)
	if !strings.Contains(first, "-A RPCSPAN-S1 ") {
		t.Errorf("no sub-chain loaded:\n%s", first)
	}
	kernelCheck(t, l, append(kernelFlows(l, k.family), kernelUntouched(l, kernelOtherFamily(k.family))...))
	kernelReply(t, l, k.family, 50050)

	k.load(t, l, ns, file, hook)
	second := k.saved(t, l, ns)
	if diff := cmp.Diff(first, second); diff != "" {
		t.Errorf("second load changed the rules (-first +second):\n%s", diff)
	}
	if n := strings.Count(second, "-A "+chain+" -j RPCSPAN\n"); n != 1 {
		t.Errorf("jump from %s present %d times, want 1:\n%s", chain, n, second)
	}
	for _, keep := range []string{"-A " + chain + " -j OTHER\n", "-A OTHER -p tcp -m tcp --dport 2222 -j ACCEPT\n"} {
		if !strings.Contains(second, keep) {
			t.Errorf("foreign rule %q lost:\n%s", keep, second)
		}
	}
	kernelCheck(t, l, kernelFlows(l, k.family))
}

func TestKernelIptablesAcceptOnly(t *testing.T) {
	t.Parallel()
	for _, fam := range []int{4, 6} {
		k := iptKernels(fam)[0]
		for _, hook := range []Hook{HookForward, HookInput} {
			t.Run(k.tool+"/"+string(hook), func(t *testing.T) {
				t.Parallel()
				netnstest.Require(t, k.restore(), k.save(), k.tool, "sh")
				l := netnstest.New(t)
				l.Listen(netnstest.Server, kernelPorts...)
				ns := kernelRulesNS(hook)
				file := kernelWrite(t, "rules", linuxEmit(t, k.tool, kernelEstate(t, l, Options{Hook: hook, AcceptOnly: true})))

				// The user's default-deny policy the accepts are meant for.
				chain := strings.ToUpper(string(hook))
				kernelRun(t, l, ns, k.tool, "-A", chain, "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT")
				kernelRun(t, l, ns, k.tool, "-P", chain, "DROP")
				k.load(t, l, ns, file, hook)
				first := k.saved(t, l, ns)
				k.load(t, l, ns, file, hook)
				if second := k.saved(t, l, ns); second != first {
					t.Errorf("second load changed the rules:\n%s", cmp.Diff(first, second))
				}
				for _, line := range strings.Split(first, "\n") {
					if strings.HasPrefix(line, "-A RPCSPAN") && !strings.HasSuffix(line, "-j ACCEPT") && !strings.Contains(line, "-j RPCSPAN-S") {
						t.Errorf("accept-only output loaded a rule that is no accept: %q", line)
					}
				}
				in, out, srv := l.ClientIn4, l.ClientOut4, l.Server4
				if fam == 6 {
					in, out, srv = l.ClientIn6, l.ClientOut6, l.Server6
				}
				kernelCheck(t, l, []kernelFlow{
					{in, srv, 135, true}, {in, srv, 50000, true}, {in, srv, 8080, true},
					{out, srv, 135, false}, {out, srv, 22, false}, {in, srv, 22, false},
				})
			})
		}
	}
}

// TestKernelIptablesShrink reloads a smaller plan over a larger one: the
// sub-chain the smaller plan no longer needs stays, unreferenced, and the
// flows it allowed are dropped again; the documented commands remove it.
func TestKernelIptablesShrink(t *testing.T) {
	t.Parallel()
	k := iptKernels(4)[0]
	netnstest.Require(t, k.restore(), k.save(), k.tool, "sh")
	l := netnstest.New(t)
	l.Listen(netnstest.Server, kernelPorts...)
	ns, hook := netnstest.FW, HookForward
	big := kernelEstate(t, l, Options{}, l.ClientOut4.String())
	// A second rule with several sources of its own, so a second
	// sub-chain.
	bigRules := append([]audit.Rule(nil), big.Plan.Rules...)
	bigRules = append(bigRules, audit.Rule{Family: 4, Proto: "tcp", Service: "tcp/9000", Ports: linuxPorts("9000"),
		Sources: linuxPfx(l.ClientOut4.String(), "198.18.0.0/15"), Destinations: linuxPfx(l.Server4.String()), Policies: []string{"x"}})
	big.Plan = &audit.Plan{Rules: bigRules}
	k.load(t, l, ns, kernelWrite(t, "big", linuxEmit(t, "iptables", big)), hook)
	if s := k.saved(t, l, ns); !strings.Contains(s, "-j RPCSPAN-S2") {
		t.Fatalf("big plan did not load two sub-chains:\n%s", s)
	}
	kernelCheck(t, l, []kernelFlow{{l.ClientOut4, l.Server4, 135, true}})

	small := kernelEstate(t, l, Options{})
	out := string(linuxEmit(t, "iptables", small))
	if !strings.Contains(out, "# Sub-chains RPCSPAN-S2 and above") {
		t.Errorf("header does not name the stale sub-chains:\n%s", out)
	}
	k.load(t, l, ns, kernelWrite(t, "small", []byte(out)), hook)
	s := k.saved(t, l, ns)
	if !strings.Contains(s, ":RPCSPAN-S2 ") || strings.Contains(s, "-j RPCSPAN-S2") {
		t.Errorf("want RPCSPAN-S2 left but unreferenced:\n%s", s)
	}
	kernelCheck(t, l, kernelFlows(l, 4))
	kernelRun(t, l, ns, "sh", "-c", "iptables -F RPCSPAN-S2 && iptables -X RPCSPAN-S2")
	if s := k.saved(t, l, ns); strings.Contains(s, "RPCSPAN-S2") {
		t.Errorf("RPCSPAN-S2 still there after the documented removal:\n%s", s)
	}
}

// nftSaved lists a table without handles.
func nftSaved(t *testing.T, l *netnstest.Lab, ns, table string) string {
	t.Helper()
	return kernelRun(t, l, ns, "nft", "list", "table", "inet", table)
}

func TestKernelNftables(t *testing.T) {
	t.Parallel()
	for _, hook := range []Hook{HookForward, HookInput} {
		t.Run(string(hook), func(t *testing.T) {
			t.Parallel()
			netnstest.Require(t, "nft")
			l := netnstest.New(t)
			l.Listen(netnstest.Server, kernelPorts...)
			l.Listen(netnstest.Client, kernelClientPort)
			ns := kernelRulesNS(hook)

			// Someone else's table, which a load must keep as it is.
			other := kernelWrite(t, "other", []byte(fmt.Sprintf(
				"table inet other {\n\tchain c {\n\t\ttype filter hook %s priority 10; policy accept;\n\t\ttcp dport 2222 accept\n\t}\n}\n", hook)))
			kernelRun(t, l, ns, "nft", "-f", other)
			otherBefore := nftSaved(t, l, ns, "other")

			// A larger plan first, so that the reload below also
			// shows that a smaller plan replaces it entirely.
			big := kernelEstate(t, l, Options{Hook: hook}, l.ClientOut4.String(), l.ClientOut6.String())
			kernelRun(t, l, ns, "nft", "-f", kernelWrite(t, "big", linuxEmit(t, "nftables", big)))
			kernelCheck(t, l, []kernelFlow{{l.ClientOut4, l.Server4, 135, true}, {l.ClientOut6, l.Server6, 50000, true}})

			file := kernelWrite(t, "rules", linuxEmit(t, "nftables", kernelEstate(t, l, Options{Hook: hook})))
			kernelRun(t, l, ns, "nft", "-f", file)
			first := nftSaved(t, l, ns, "rpcspan")
			if strings.Contains(first, l.ClientOut4.String()) {
				t.Errorf("the reload kept an element of the larger plan:\n%s", first)
			}
			kernelCheck(t, l, append(kernelFlows(l, 4), kernelFlows(l, 6)...))
			kernelReply(t, l, 4, 50050)
			kernelReply(t, l, 6, 50050)

			kernelRun(t, l, ns, "nft", "-f", file)
			if second := nftSaved(t, l, ns, "rpcspan"); second != first {
				t.Errorf("second load changed the table:\n%s", cmp.Diff(first, second))
			}
			if after := nftSaved(t, l, ns, "other"); after != otherBefore {
				t.Errorf("foreign table changed:\n%s", cmp.Diff(otherBefore, after))
			}
			if tables := kernelRun(t, l, ns, "nft", "list", "tables"); tables != "table inet other\ntable inet rpcspan\n" {
				t.Errorf("nft list tables = %q", tables)
			}
		})
	}
}

// TestKernelNftablesAcceptOnly includes the accept-only fragment into a
// default-deny table, as its header says to.
func TestKernelNftablesAcceptOnly(t *testing.T) {
	t.Parallel()
	for _, hook := range []Hook{HookForward, HookInput} {
		t.Run(string(hook), func(t *testing.T) {
			t.Parallel()
			netnstest.Require(t, "nft")
			l := netnstest.New(t)
			l.Listen(netnstest.Server, kernelPorts...)
			ns := kernelRulesNS(hook)
			frag := string(linuxEmit(t, "nftables", kernelEstate(t, l, Options{Hook: hook, AcceptOnly: true})))
			if body := linuxBody([]byte(frag)); strings.Contains(body, " drop") || strings.Contains(body, "table ") {
				t.Errorf("accept-only fragment has drops or a table:\n%s", frag)
			}
			fragFile := kernelWrite(t, "rpcspan.nft", []byte(frag))
			policy := kernelWrite(t, "policy.nft", []byte(fmt.Sprintf(`table inet filter
delete table inet filter
table inet filter {
	include %q
	chain main {
		type filter hook %s priority filter; policy drop;
		ct state established,related accept
		jump rpcspan_accept
	}
}
`, fragFile, hook)))
			kernelRun(t, l, ns, "nft", "-f", policy)
			first := nftSaved(t, l, ns, "filter")
			kernelRun(t, l, ns, "nft", "-f", policy)
			if second := nftSaved(t, l, ns, "filter"); second != first {
				t.Errorf("second load changed the table:\n%s", cmp.Diff(first, second))
			}
			var flows []kernelFlow
			for _, f := range [][3]netip.Addr{{l.ClientIn4, l.ClientOut4, l.Server4}, {l.ClientIn6, l.ClientOut6, l.Server6}} {
				in, out, srv := f[0], f[1], f[2]
				flows = append(flows, kernelFlow{in, srv, 135, true}, kernelFlow{in, srv, 50100, true}, kernelFlow{in, srv, 8080, true},
					kernelFlow{out, srv, 135, false}, kernelFlow{out, srv, 22, false}, kernelFlow{in, srv, 50101, false})
			}
			kernelCheck(t, l, flows)
		})
	}
}
