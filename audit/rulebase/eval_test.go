package rulebase

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/rpcspan/rpcspan/audit"
	"go4.org/netipx"
)

// withMinIndexed runs f with minIndexed set to n.
func withMinIndexed(n int, f func()) {
	old := minIndexed
	minIndexed = n
	defer func() { minIndexed = old }()
	f()
}

// randomRules returns an iptables-save rule base of FORWARD and a chain
// SUB with many rules over a small pool of overlapping prefixes, so that
// both chains are indexed and every boundary case occurs.
func randomRules(rng *rand.Rand) string {
	pool := []string{"10.0.0.0/24", "10.0.0.5", "10.0.0.6", "10.0.1.0/24", "10.0.0.0/16", "10.0.0.128/25",
		"10.0.0.0/8", "10.0.0.4/30", "192.168.1.0/24", "10.0.1.7", "10.0.0.0/23"}
	ports := []string{"135", "445", "49152:65535", "1024:5000", "49152:60000", "135,445", "1:1000,50000:50010"}
	var sb strings.Builder
	sb.WriteString("*filter\n:FORWARD " + []string{"DROP", "ACCEPT"}[rng.IntN(2)] + " [0:0]\n:SUB - [0:0]\n")
	for _, chain := range []string{"FORWARD", "SUB"} {
		for range 16 + rng.IntN(24) {
			fmt.Fprintf(&sb, "-A %s", chain)
			if rng.IntN(3) > 0 {
				fmt.Fprintf(&sb, "%s -s %s", []string{"", "", " !"}[rng.IntN(3)], pool[rng.IntN(len(pool))])
			}
			if rng.IntN(3) > 0 {
				fmt.Fprintf(&sb, "%s -d %s", []string{"", "", " !"}[rng.IntN(3)], pool[rng.IntN(len(pool))])
			}
			if rng.IntN(2) > 0 {
				fmt.Fprintf(&sb, " -p tcp -m multiport%s --dports %s", []string{"", "", " !"}[rng.IntN(3)], ports[rng.IntN(len(ports))])
			}
			if rng.IntN(8) == 0 {
				sb.WriteString(" -i eth0")
			}
			targets := []string{"ACCEPT", "DROP", "REJECT", "LOG", "NFQUEUE"}
			if chain == "FORWARD" {
				targets = append(targets, "SUB")
			} else {
				targets = append(targets, "RETURN")
			}
			fmt.Fprintf(&sb, " -j %s\n", targets[rng.IntN(len(targets))])
		}
	}
	sb.WriteString("COMMIT\n")
	return sb.String()
}

// outcomeAt returns what the part holding the point says, as text.
func outcomeAt(parts []Part, s, d netip.Addr, port uint16) string {
	in := func(set *AddrSet, a netip.Addr) bool {
		return slices.ContainsFunc(set.r, func(r netipx.IPRange) bool { return r.Contains(a) })
	}
	for _, p := range parts {
		if in(p.Src, s) && in(p.Dst, d) && slices.ContainsFunc(p.Ports.r, func(r audit.PortRange) bool { return r.First <= port && port <= r.Last }) {
			return fmt.Sprintf("%s %s %s %q", p.Outcome, p.Base, p.By, p.Rule)
		}
	}
	return "no part"
}

// TestIndexedMatchesPlain: evaluating chains through the index decides
// every point of random flows exactly as the plain loop does, and the
// parts still make up the flow.
func TestIndexedMatchesPlain(t *testing.T) {
	flows := []string{
		"tcp 10.0.0.0/23 10.0.0.0/23 135,445,49152-65535",
		"tcp 10.0.0.0/8 10.0.0.5,10.0.1.7,192.168.1.0/24 1-2000",
		"udp 10.0.0.0/24 10.0.0.0/24 135",
	}
	for seed := range 60 {
		rng := rand.New(rand.NewPCG(uint64(seed), 3))
		text := randomRules(rng)
		for _, fs := range flows {
			t.Run(fmt.Sprintf("seed %d %s", seed, fs), func(t *testing.T) {
				f := flow(t, fs)
				var plain, indexed []Part
				withMinIndexed(1<<30, func() {
					b, _ := ParseIptablesSave(strings.NewReader(text), "r")
					plain = EvaluateBase(b, "forward", f)
				})
				withMinIndexed(16, func() {
					b, _ := ParseIptablesSave(strings.NewReader(text), "r")
					indexed = EvaluateBase(b, "forward", f)
					if b.index == nil {
						t.Fatal("no chain was indexed")
					}
				})
				checkPartition(t, indexed, f)
				pts := []string{"10.0.0.0", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6", "10.0.0.7", "10.0.0.127",
					"10.0.0.128", "10.0.0.255", "10.0.1.0", "10.0.1.7", "10.0.1.8", "10.0.1.255", "10.0.2.0", "10.200.0.1",
					"192.168.1.1"}
				for _, sa := range pts {
					for _, da := range pts {
						s, d := netip.MustParseAddr(sa), netip.MustParseAddr(da)
						for _, port := range []uint16{1, 135, 136, 445, 1000, 1001, 1024, 5000, 5001, 49151, 49152, 50005, 60000, 60001, 65535} {
							want, got := outcomeAt(plain, s, d, port), outcomeAt(indexed, s, d, port)
							if want != got {
								t.Fatalf("%s %s:%d: indexed %s, plain %s\n%s", s, d, port, got, want, text)
							}
						}
					}
				}
			})
		}
	}
}

// TestIndexedJoins: a chain of one accept per host leaves what the policy
// decides as one part, not one per host, and each host's accept as its
// own part.
func TestIndexedJoins(t *testing.T) {
	var sb strings.Builder
	sb.WriteString("*filter\n:FORWARD DROP [0:0]\n")
	for i := range 40 {
		last := 65535
		if i%10 == 0 {
			last = 60000
		}
		fmt.Fprintf(&sb, "-A FORWARD -d 10.0.0.%d -p tcp -m multiport --dports 135,49152:%d -j ACCEPT\n", i, last)
	}
	sb.WriteString("COMMIT\n")
	b, err := ParseIptablesSave(strings.NewReader(sb.String()), "r")
	if err != nil {
		t.Fatal(err)
	}
	f := flow(t, "tcp 10.1.0.0/16 10.0.0.0/26 135,49152-65535")
	parts := EvaluateBase(b, "forward", f)
	checkPartition(t, parts, f)
	want := []string{
		"blocked 10.1.0.0/16 10.0.0.0/32,10.0.0.10/32,10.0.0.20/32,10.0.0.30/32 60001-65535 @2",
		"blocked 10.1.0.0/16 10.0.0.40/29,10.0.0.48/28 135,49152-65535 @2",
	}
	if diff := cmp.Diff(want, summary(parts)); diff != "" {
		t.Errorf("EvaluateBase mismatch (-want +got):\n%s", diff)
	}
	if got := len(parts); got != 42 {
		t.Errorf("len(parts) = %d, want 42 (40 accepts, 2 by the policy)", got)
	}
}

// TestIndexedFindings: Findings reports the same with and without the
// index on the benchmark's estate and rule base.
func TestIndexedFindings(t *testing.T) {
	var plain, indexed []audit.Finding
	withMinIndexed(1<<30, func() {
		e, plan, b := benchSetup(300)
		plain = Findings(e, plan, []*Base{b}, Options{})
	})
	withMinIndexed(16, func() {
		e, plan, b := benchSetup(300)
		indexed = Findings(e, plan, []*Base{b}, Options{})
	})
	if len(plain) != 30 {
		t.Fatalf("len(Findings) = %d, want 30", len(plain))
	}
	if diff := cmp.Diff(plain, indexed); diff != "" {
		t.Errorf("Findings with the index mismatch (-plain +indexed):\n%s", diff)
	}
}
