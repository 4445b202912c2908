package emit

import (
	"bytes"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rpcspan/rpcspan/audit"
	"github.com/rpcspan/rpcspan/audit/ingest"
)

// This file also holds the helpers the other Linux target tests use
// (nftables_test.go, kernel_linux_test.go); their names start with linux.

var (
	linuxExampleOnce sync.Once
	linuxExamplePlan *audit.Plan
	linuxExampleEst  *audit.Estate
	linuxExampleErr  error
)

// linuxExample returns an Input for the bundled example estate.
func linuxExample(t testing.TB, opt Options) *Input {
	t.Helper()
	linuxExampleOnce.Do(func() {
		linuxExampleEst, _, linuxExampleErr = ingest.Load([]string{"../testdata/example"}, ingest.Options{})
		if linuxExampleErr == nil {
			linuxExamplePlan = audit.BuildPlan(linuxExampleEst)
		}
	})
	if linuxExampleErr != nil {
		t.Fatalf("loading the example estate: %v", linuxExampleErr)
	}
	return &Input{Plan: linuxExamplePlan, Estate: linuxExampleEst, Inputs: []string{"testdata/example"}, Opt: opt}
}

// linuxEmit renders in with the named target.
func linuxEmit(t testing.TB, target string, in *Input) []byte {
	t.Helper()
	e, err := Lookup(target)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := e.Emit(&b, in); err != nil {
		t.Fatalf("%s Emit: %v", target, err)
	}
	return b.Bytes()
}

// linuxPfx parses prefixes, a bare address being a single-address prefix.
func linuxPfx(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		if !strings.Contains(s, "/") {
			a := netip.MustParseAddr(s)
			s = netip.PrefixFrom(a, a.BitLen()).String()
		}
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

// linuxPorts parses port ranges.
func linuxPorts(ss ...string) []audit.PortRange {
	out := make([]audit.PortRange, len(ss))
	for i, s := range ss {
		r, err := audit.ParseRange(s)
		if err != nil {
			panic(err)
		}
		out[i] = r
	}
	return out
}

// linuxPlanInput wraps hand-built rules in an Input.
func linuxPlanInput(opt Options, rules ...audit.Rule) *Input {
	return &Input{Plan: &audit.Plan{Rules: rules}, Estate: audit.NewEstate(), Opt: opt}
}

// linuxHostile are policy names that try to break out of a comment.
var linuxHostile = []string{
	`x" -j ACCEPT`,
	"a\nCOMMIT\n*nat",
	"b\r\n-F INPUT",
	"c\u2028d\u0085e",
	`e'; flush ruleset; '`,
	"f\\\" accept; } table ip x {",
	`g$(reboot)` + "`id`",
	strings.Repeat("long", 100),
}

func TestIptablesGolden(t *testing.T) {
	for _, c := range []struct {
		name, target string
		opt          Options
	}{
		{"iptables-forward", "iptables", Options{}},
		{"iptables-input", "iptables", Options{Hook: HookInput}},
		{"iptables-accept-only", "iptables", Options{AcceptOnly: true}},
		{"ip6tables-forward", "ip6tables", Options{Hook: HookForward}},
		{"ip6tables-input", "ip6tables", Options{Hook: HookInput}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := linuxEmit(t, c.target, linuxExample(t, c.opt))
			golden(t, c.name, got)
			if again := linuxEmit(t, c.target, linuxExample(t, c.opt)); !bytes.Equal(got, again) {
				t.Errorf("two runs differ")
			}
		})
	}
}

// TestIptablesLayout checks the structure on a small plan: sub-chains only
// for several sources, shared between rules with the same sources, drops
// only for rpc services, the ESTABLISHED return first.
func TestIptablesLayout(t *testing.T) {
	rules := []audit.Rule{
		{Family: 4, Proto: "tcp", Service: "rpc", EPM: true, Ports: linuxPorts("135"),
			Sources: linuxPfx("10.0.0.1", "10.0.0.3"), Destinations: linuxPfx("10.9.0.0/31", "10.9.0.5"), Policies: []string{"p"}},
		{Family: 4, Proto: "tcp", Service: "rpc", Ports: linuxPorts("50000-50100"),
			Sources: linuxPfx("10.0.0.1", "10.0.0.3"), Destinations: linuxPfx("10.9.0.5"), Policies: []string{"p"}},
		{Family: 4, Proto: "tcp", Service: "tcp/445", Ports: linuxPorts("445"),
			Sources: linuxPfx("10.0.0.0/8"), Destinations: linuxPfx("10.9.0.5"), Policies: []string{"q"}},
		{Family: 6, Proto: "tcp", Service: "rpc", Ports: linuxPorts("135"),
			Sources: linuxPfx("fd00::1"), Destinations: linuxPfx("fd00::9"), Policies: []string{"p"}},
	}
	got := linuxBody(linuxEmit(t, "iptables", linuxPlanInput(Options{}, rules...)))
	want := `*filter
:RPCSPAN - [0:0]
:RPCSPAN-S1 - [0:0]
-A RPCSPAN -m conntrack --ctstate ESTABLISHED,RELATED -j RETURN
-A RPCSPAN -d 10.9.0.0/31 -p tcp -m tcp --dport 135 -m comment --comment "rpcspan rule 1: rpc policy p" -j RPCSPAN-S1
-A RPCSPAN -d 10.9.0.5/32 -p tcp -m tcp --dport 135 -m comment --comment "rpcspan rule 1: rpc policy p" -j RPCSPAN-S1
-A RPCSPAN -d 10.9.0.5/32 -p tcp -m tcp --dport 50000:50100 -m comment --comment "rpcspan rule 2: rpc policy p" -j RPCSPAN-S1
-A RPCSPAN -s 10.0.0.0/8 -d 10.9.0.5/32 -p tcp -m tcp --dport 445 -m comment --comment "rpcspan rule 3: tcp/445 policy q" -j ACCEPT
-A RPCSPAN-S1 -s 10.0.0.1/32 -j ACCEPT
-A RPCSPAN-S1 -s 10.0.0.3/32 -j ACCEPT
-A RPCSPAN -d 10.9.0.0/31 -p tcp -m tcp --dport 135 -m comment --comment "` + linuxDropComment + `" -j DROP
-A RPCSPAN -d 10.9.0.5/32 -p tcp -m tcp --dport 135 -m comment --comment "` + linuxDropComment + `" -j DROP
-A RPCSPAN -d 10.9.0.5/32 -p tcp -m tcp --dport 50000:50100 -m comment --comment "` + linuxDropComment + `" -j DROP
COMMIT
`
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("iptables body mismatch (-want +got):\n%s", diff)
	}

	got = linuxBody(linuxEmit(t, "ip6tables", linuxPlanInput(Options{AcceptOnly: true, Hook: HookInput}, rules...)))
	want = `*filter
:RPCSPAN - [0:0]
-A RPCSPAN -s fd00::1/128 -d fd00::9/128 -p tcp -m tcp --dport 135 -m comment --comment "rpcspan rule 4: rpc policy p" -j ACCEPT
COMMIT
`
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ip6tables accept-only body mismatch (-want +got):\n%s", diff)
	}
}

// linuxBody drops comment lines, leaving what the loader sees.
func linuxBody(b []byte) string {
	var out []string
	for _, l := range strings.SplitAfter(string(b), "\n") {
		if !strings.HasPrefix(l, "#") && l != "" {
			out = append(out, l)
		}
	}
	return strings.Join(out, "")
}

func TestIptablesHeader(t *testing.T) {
	out := string(linuxEmit(t, "ip6tables", linuxExample(t, Options{Hook: HookInput})))
	for _, want := range []string{
		"# Generated by rpcspan",
		"#   ip6tables-restore --noflush FILE\n",
		"#   ip6tables -C INPUT -j RPCSPAN 2>/dev/null || ip6tables -I INPUT -j RPCSPAN\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("ip6tables output lacks %q", want)
		}
	}
}

func TestMultiportChunks(t *testing.T) {
	r := func(a, b uint16) audit.PortRange { return audit.PortRange{First: a, Last: b} }
	var singles, ranges, mixed []audit.PortRange
	for i := range 20 {
		singles = append(singles, r(uint16(1000+2*i), uint16(1000+2*i)))
		ranges = append(ranges, r(uint16(2000+10*i), uint16(2005+10*i)))
	}
	// 7 ranges (14) then a range: 16 > 15, so the eighth range starts a
	// new list; a single after 7 ranges fits (15).
	for i := range 7 {
		mixed = append(mixed, r(uint16(3000+10*i), uint16(3005+10*i)))
	}
	mixed = append(mixed, r(4000, 4000), r(4010, 4020), r(4030, 4030))
	for _, c := range []struct {
		name  string
		ports []audit.PortRange
		sizes []int
	}{
		{"one", []audit.PortRange{r(135, 135)}, []int{1}},
		{"15 singles", singles[:15], []int{15}},
		{"20 singles", singles, []int{15, 5}},
		{"20 ranges", ranges, []int{7, 7, 6}},
		{"mixed", mixed, []int{8, 2}},
	} {
		t.Run(c.name, func(t *testing.T) {
			chunks := iptMultiportChunks(c.ports)
			var sizes []int
			var joined []audit.PortRange
			for _, ch := range chunks {
				sizes = append(sizes, len(ch))
				w := 0
				for _, p := range ch {
					w++
					if p.First != p.Last {
						w++
					}
				}
				if w > iptMultiportMax {
					t.Errorf("chunk %v weighs %d, more than %d", ch, w, iptMultiportMax)
				}
				joined = append(joined, ch...)
			}
			if !cmp.Equal(sizes, c.sizes) {
				t.Errorf("iptMultiportChunks sizes = %v, want %v", sizes, c.sizes)
			}
			if !cmp.Equal(joined, c.ports) {
				t.Errorf("iptMultiportChunks lost or reordered ports: %v", joined)
			}
		})
	}

	// In the output: a rule with 20 single ports needs two lines per
	// destination, each with a --dports list the kernel takes.
	in := linuxPlanInput(Options{}, audit.Rule{Family: 4, Proto: "udp", Service: "rpc-udp", Ports: singles,
		Sources: linuxPfx("10.0.0.1"), Destinations: linuxPfx("10.9.0.1", "10.9.0.3"), Policies: []string{"p"}})
	out := string(linuxEmit(t, "iptables", in))
	re := regexp.MustCompile(`--dports (\S+)`)
	m := re.FindAllStringSubmatch(out, -1)
	if len(m) != 8 { // 2 destinations x 2 lists, accepts and drops
		t.Fatalf("got %d multiport matches, want 8:\n%s", len(m), out)
	}
	for _, x := range m {
		if n := strings.Count(x[1], ",") + 1; n > iptMultiportMax {
			t.Errorf("--dports %s has %d entries", x[1], n)
		}
	}
	if !strings.Contains(out, "--dports 1000,1002,1004,1006,1008,1010,1012,1014,1016,1018,1020,1022,1024,1026,1028 ") ||
		!strings.Contains(out, "--dports 1030,1032,1034,1036,1038 ") {
		t.Errorf("unexpected port lists:\n%s", out)
	}
}

// TestLinuxHostileNames feeds policy names and input names that try to end
// a quote, start a line or run a command into every Linux target, and
// checks that each comes out as one harmless comment.
func TestLinuxHostileNames(t *testing.T) {
	var rules []audit.Rule
	for i, name := range linuxHostile {
		rules = append(rules, audit.Rule{Family: 4 + 2*(i%2), Proto: "tcp", Service: "rpc",
			Ports: linuxPorts("135"), Policies: []string{name, "ok"}})
		if i%2 == 0 {
			rules[i].Sources, rules[i].Destinations = linuxPfx("10.0.0.1", "10.0.0.3"), linuxPfx(fmt.Sprintf("10.9.0.%d", i))
		} else {
			rules[i].Sources, rules[i].Destinations = linuxPfx("fd00::1"), linuxPfx(fmt.Sprintf("fd00::9:%d", i))
		}
	}
	benign := make([]audit.Rule, len(rules))
	for i, r := range rules {
		benign[i] = r
		benign[i].Policies = []string{"benign", "ok"}
	}
	re := regexp.MustCompile(`comment "([^"\n]*)"`)
	safe := regexp.MustCompile(`^[A-Za-z0-9 ._:/-]*$`)
	for _, target := range []string{"iptables", "ip6tables", "nftables"} {
		for _, opt := range []Options{{}, {AcceptOnly: true}} {
			in := linuxPlanInput(opt, rules...)
			in.Inputs = []string{"in\nCOMMIT", `x"y`}
			out := string(linuxEmit(t, target, in))
			ref := string(linuxEmit(t, target, linuxPlanInput(opt, benign...)))
			max := iptCommentMax
			if target == "nftables" {
				max = nftCommentMax
			}
			n := 0
			// With the comments' contents and the comment lines taken
			// out, the output must be the one of benign names, line for
			// line: no name added a line, a quote or a statement.
			strip := func(s string) []string {
				var out []string
				for _, l := range strings.Split(s, "\n") {
					if strings.HasPrefix(l, "#") {
						continue
					}
					for _, m := range re.FindAllStringSubmatch(l, -1) {
						n++
						if len(m[1]) > max {
							t.Errorf("%s: comment of %d bytes, more than %d", target, len(m[1]), max)
						}
						if !safe.MatchString(m[1]) {
							t.Errorf("%s: comment %q has characters outside the safe set", target, m[1])
						}
					}
					out = append(out, re.ReplaceAllString(l, `comment "C"`))
				}
				return out
			}
			if diff := cmp.Diff(strip(ref), strip(out)); diff != "" {
				t.Errorf("%s %+v: hostile names changed the structure (-benign +hostile):\n%s", target, opt, diff)
			}
			if n == 0 {
				t.Errorf("%s: no comments found", target)
			}
			if !strings.Contains(out, "# Inputs: in?COMMIT x_y\n") {
				t.Errorf("%s: input names not made safe in the header:\n%s", target, out)
			}
		}
	}
	for _, c := range []struct{ in, want string }{
		{`x" -j ACCEPT`, "x_ -j ACCEPT"},
		{"a\nb", "a_b"},
		{"é", "__"},
		{"ok 1.2:3/4-5_6", "ok 1.2:3/4-5_6"},
	} {
		if got := Comment(c.in, 255); got != c.want {
			t.Errorf("Comment(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if got := Comment(strings.Repeat("a", 300), 128); len(got) != 128 {
		t.Errorf("Comment(300 bytes, 128) has %d bytes", len(got))
	}
}

func TestLinuxErrors(t *testing.T) {
	good := audit.Rule{Family: 4, Proto: "tcp", Service: "rpc", Ports: linuxPorts("135"),
		Sources: linuxPfx("10.0.0.1"), Destinations: linuxPfx("10.0.0.2")}
	bad := func(f func(r *audit.Rule)) audit.Rule {
		r := good
		f(&r)
		return r
	}
	for _, c := range []struct {
		name string
		in   *Input
		want string
	}{
		{"no plan", &Input{}, "no plan to render"},
		{"hook", linuxPlanInput(Options{Hook: "output\n"}, good), `hook "output_": want input or forward`},
		{"proto", linuxPlanInput(Options{}, good, bad(func(r *audit.Rule) { r.Proto = "sctp" })), `rule 2: protocol "sctp": want tcp or udp`},
		{"family", linuxPlanInput(Options{}, bad(func(r *audit.Rule) { r.Family = 5 })), `rule 1: family 5: want 4 or 6`},
		{"mixed family", linuxPlanInput(Options{}, bad(func(r *audit.Rule) { r.Destinations = linuxPfx("fd00::1") })), `rule 1: address fd00::1/128 is not a valid IPv4 prefix`},
		{"port 0", linuxPlanInput(Options{}, bad(func(r *audit.Rule) { r.Ports = linuxPorts("0-10") })), `rule 1: port range 0-10 is empty or holds port 0`},
		{"empty", linuxPlanInput(Options{}, bad(func(r *audit.Rule) { r.Sources = nil })), `rule 1: no ports, sources or destinations`},
		{"overlap", linuxPlanInput(Options{}, bad(func(r *audit.Rule) { r.Sources = linuxPfx("10.0.0.0/8", "10.0.0.1") })), `rule 1: addresses 10.0.0.0/8 and 10.0.0.1/32 overlap or are not sorted`},
		{"unsorted", linuxPlanInput(Options{}, bad(func(r *audit.Rule) { r.Destinations = linuxPfx("10.0.0.9", "10.0.0.1") })), `rule 1: addresses 10.0.0.9/32 and 10.0.0.1/32 overlap or are not sorted`},
		{"unmasked", linuxPlanInput(Options{}, bad(func(r *audit.Rule) { r.Sources = []netip.Prefix{netip.MustParsePrefix("10.0.0.1/8")} })), `rule 1: address 10.0.0.1/8 is not a valid IPv4 prefix`},
		{"ports overlap", linuxPlanInput(Options{}, bad(func(r *audit.Rule) { r.Ports = linuxPorts("135", "100-200") })), `rule 1: ports 135 and 100-200 overlap or are not sorted`},
	} {
		for _, target := range []string{"iptables", "ip6tables", "nftables"} {
			e, _ := Lookup(target)
			var b bytes.Buffer
			err := e.Emit(&b, c.in)
			if err == nil || err.Error() != c.want {
				t.Errorf("%s %s: Emit() error = %v, want %q", target, c.name, err, c.want)
			}
		}
	}
}

// TestLinuxSize checks that the output grows with sources plus
// destinations, not their product: 200 scattered sources and 200
// scattered destinations.
func TestLinuxSize(t *testing.T) {
	var src, dst []netip.Prefix
	for i := range 200 {
		src = append(src, netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 1, byte(i), 1}), 32))
		dst = append(dst, netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 2, byte(i), 1}), 32))
	}
	in := linuxPlanInput(Options{}, audit.Rule{Family: 4, Proto: "tcp", Service: "rpc", Ports: linuxPorts("135"),
		Sources: src, Destinations: dst, Policies: []string{"p"}},
		audit.Rule{Family: 4, Proto: "tcp", Service: "rpc", Ports: linuxPorts("49152-65535"),
			Sources: src, Destinations: dst, Policies: []string{"p"}})
	for _, target := range []string{"iptables", "nftables"} {
		lines := bytes.Count(linuxEmit(t, target, in), []byte("\n"))
		// iptables: 2 x 200 jumps, 200 sources, 2 x 200 drops; nftables:
		// 400 set elements and a few lines.
		if lines > 1100 {
			t.Errorf("%s: %d lines for 200 sources and 200 destinations", target, lines)
		}
	}
}

// linuxBigInput builds 100,000-host-style estates like the planner's
// benchmark: IPv4 for every host, IPv6 for every fourth, three spans,
// default policy.
func linuxBigInput(b testing.TB, n int) *Input {
	b.Helper()
	e := audit.NewEstate()
	for i := range n {
		h := e.Host(fmt.Sprintf("H%06d", i))
		h.Addresses = []audit.Addr{{Addr: netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})}}
		if i%4 == 0 {
			h.Addresses = append(h.Addresses, audit.Addr{Addr: netip.AddrFrom16([16]byte{0: 0xfd, 13: byte(i >> 16), 14: byte(i >> 8), 15: byte(i)})})
		}
		switch i % 3 {
		case 1:
			h.OS = "Windows Server 2003 R2"
		case 2:
			for _, k := range audit.Keys {
				h.Ranges = append(h.Ranges, audit.RangeObs{Key: k, Range: audit.Exchange2007Range, Origin: audit.Declared})
			}
		}
	}
	return &Input{Plan: audit.BuildPlan(e), Estate: e, Inputs: []string{"synthetic"}}
}

// linuxBench measures Emit alone (the plan is built once, outside the
// timer).
func linuxBench(b *testing.B, n int, targets ...string) {
	in := linuxBigInput(b, n)
	b.ResetTimer()
	b.ReportAllocs()
	size := 0
	for b.Loop() {
		size = 0
		for _, target := range targets {
			e, _ := Lookup(target)
			var w linuxCountWriter
			if err := e.Emit(&w, in); err != nil {
				b.Fatal(err)
			}
			size += int(w)
		}
	}
	b.ReportMetric(float64(size), "bytes/op-output")
}

// linuxCountWriter counts bytes and keeps none.
type linuxCountWriter int

func (c *linuxCountWriter) Write(p []byte) (int, error) {
	*c += linuxCountWriter(len(p))
	return len(p), nil
}

// BenchmarkIptables100k renders 100,000 hosts (three spans, default
// policy) for iptables:
//
//	go test ./emit -run '^$' -bench 'Iptables100k|Nftables100k|Linux10k' -benchmem
func BenchmarkIptables100k(b *testing.B) { linuxBench(b, 100000, "iptables") }

// BenchmarkLinux10k renders 10,000 hosts for iptables, ip6tables and
// nftables together.
func BenchmarkLinux10k(b *testing.B) { linuxBench(b, 10000, "iptables", "ip6tables", "nftables") }
