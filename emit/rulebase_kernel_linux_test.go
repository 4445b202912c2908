//go:build linux

package emit

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rpcspan/rpcspan/audit"
	"github.com/rpcspan/rpcspan/audit/netnstest"
	"github.com/rpcspan/rpcspan/audit/rulebase"
)

// TestKernelRulebaseRandom checks the rule base reader and evaluator
// (audit/rulebase) against the kernel: random small rule bases are written
// as iptables-save and as nft text, loaded into the lab's firewall (hook
// forward) with the real iptables-restore / ip6tables-restore and nft -f,
// and sampled TCP connections from the client to the server must pass
// exactly when the evaluator says allowed. The nft rule base is also read
// back with nft -j list ruleset and evaluated through the JSON reader.
//
//	go test ./emit -run KernelRulebase -v
func TestKernelRulebaseRandom(t *testing.T) {
	netnstest.Require(t, "nft", "iptables-restore", "ip6tables-restore")
	l := netnstest.New(t)
	l.Listen(netnstest.Server, rbPorts...)
	const bases, samples = 10, 12
	rng := rand.New(rand.NewPCG(6, 2026))
	// Both kinds of samples must occur, or the agreement proves little.
	var allowed, blocked int
	defer func() {
		t.Logf("%d samples connected, %d were blocked (each form counted)", allowed, blocked)
		if allowed == 0 || blocked == 0 {
			t.Errorf("samples: %d connected, %d blocked; want both", allowed, blocked)
		}
	}()
	count := func(a, b int) { allowed, blocked = allowed+a, blocked+b }
	for i := range bases {
		fam := 4 + 2*(i%2)
		rb := rbGenerate(rng, fam)
		var flows []rbFlow
		for range samples {
			flows = append(flows, rbSample(rng, l, fam))
		}
		t.Run(fmt.Sprintf("%d-ipv%d", i, fam), func(t *testing.T) {
			ipt := rb.iptables()
			kernelRun(t, l, netnstest.FW, "nft", "flush", "ruleset")
			tool := "iptables-restore"
			if fam == 6 {
				tool = "ip6tables-restore"
			}
			kernelRun(t, l, netnstest.FW, tool, kernelWrite(t, "rules.save", []byte(ipt)))
			b, err := rulebase.ParseIptablesSave(strings.NewReader(ipt), "rules.save")
			if err != nil {
				t.Fatalf("ParseIptablesSave: %v\n%s", err, ipt)
			}
			count(rbCompare(t, l, "iptables", ipt, []*rulebase.Base{b}, flows))

			nft := rb.nft()
			kernelRun(t, l, netnstest.FW, "nft", "flush", "ruleset")
			kernelRun(t, l, netnstest.FW, "nft", "-f", kernelWrite(t, "rules.nft", []byte(nft)))
			nb, err := rulebase.ParseNft(strings.NewReader(nft), "rules.nft")
			if err != nil {
				t.Fatalf("ParseNft: %v\n%s", err, nft)
			}
			js := kernelRun(t, l, netnstest.FW, "nft", "-j", "list", "ruleset")
			jb, err := rulebase.ParseNftJSON(strings.NewReader(js), "rules.json")
			if err != nil {
				t.Fatalf("ParseNftJSON: %v\n%s", err, js)
			}
			count(rbCompare(t, l, "nft", nft, []*rulebase.Base{nb}, flows))
			count(rbCompare(t, l, "nft -j", nft, []*rulebase.Base{jb}, flows))
		})
	}
}

// rbPorts are the server's listeners; rules match these and sets of them.
var rbPorts = []uint16{22, 135, 445, 50000, 50001}

// rbFlow is one sampled connection.
type rbFlow struct {
	src, dst netip.Addr
	port     uint16
}

// rbRule is a generated rule: empty strings match anything. Addresses and
// ports are kept in both syntaxes.
type rbRule struct {
	src, dst         string // a prefix
	srcNeg, dstNeg   bool
	iptPort, nftPort string // "--dport 22" / "tcp dport 22"
	lo, loNeg        bool   // the rule matches the loopback interface (or not)
	verdict          string // accept, drop, reject, return, jump, goto
	target           int    // user chain index for jump and goto
}

// rbBase is a generated rule base: one base chain (index 0) and user
// chains 1..n that only jump forward, so no loop can occur. extra is a
// second base chain that only the nft form has, at a later priority.
type rbBase struct {
	fam    int
	policy string // accept or drop
	chains [][]rbRule
	extra  []rbRule
	extraP string
	table  string // nft table family: ip, ip6 or inet
}

// rbGenerate makes a random rule base for family fam over the lab's
// addresses.
func rbGenerate(rng *rand.Rand, fam int) *rbBase {
	b := &rbBase{fam: fam, policy: rbPick(rng, "accept", "drop")}
	b.table = rbPick(rng, "inet", "ip")
	if fam == 6 {
		b.table = rbPick(rng, "inet", "ip6")
	}
	srcs := []string{"192.0.2.10/32", "192.0.2.20/32", "192.0.2.0/24", "192.0.2.0/28", "203.0.113.0/24"}
	dsts := []string{"198.51.100.10/32", "198.51.100.0/24", "198.51.100.99/32"}
	if fam == 6 {
		srcs = []string{"fd00:0:1::10/128", "fd00:0:1::20/128", "fd00:0:1::/64", "fd00:0:1::/123", "2001:db8::/32"}
		dsts = []string{"fd00:0:2::10/128", "fd00:0:2::/64", "fd00:0:2::99/128"}
	}
	ports := [][2]string{
		{"--dport 22", "tcp dport 22"},
		{"--dport 135", "tcp dport 135"},
		{"--dport 135:445", "tcp dport 135-445"},
		{"--dport 50000:50001", "tcp dport 50000-50001"},
		{"-m multiport --dports 22,445,50001", "tcp dport { 22, 445, 50001 }"},
		{"-m multiport --dports 135,49152:65535", "tcp dport { 135, 49152-65535 }"},
		{"! --dport 445", "tcp dport != 445"},
	}
	nUser := rng.IntN(3)
	b.chains = make([][]rbRule, 1+nUser)
	gen := func(chain int) rbRule {
		var r rbRule
		if rng.IntN(2) == 0 {
			r.src, r.srcNeg = rbPick(rng, srcs...), rng.IntN(4) == 0
		}
		if rng.IntN(3) == 0 {
			r.dst, r.dstNeg = rbPick(rng, dsts...), rng.IntN(4) == 0
		}
		if rng.IntN(3) > 0 {
			p := ports[rng.IntN(len(ports))]
			r.iptPort, r.nftPort = p[0], p[1]
		}
		if rng.IntN(6) == 0 {
			// Forwarded packets never come in on lo: "-i lo" matches
			// nothing here, "! -i lo" everything.
			r.lo, r.loNeg = true, rng.IntN(2) == 0
		}
		verdicts := []string{"accept", "accept", "drop", "reject", "return"}
		if chain < nUser {
			verdicts = append(verdicts, "jump", "jump", "goto")
		}
		r.verdict = rbPick(rng, verdicts...)
		if r.verdict == "jump" || r.verdict == "goto" {
			r.target = chain + 1 + rng.IntN(nUser-chain)
		}
		return r
	}
	for c := range b.chains {
		for range 1 + rng.IntN(4) {
			b.chains[c] = append(b.chains[c], gen(c))
		}
	}
	if rng.IntN(2) == 0 {
		b.extraP = rbPick(rng, "accept", "drop")
		for range rng.IntN(3) {
			r := gen(nUser) // no jumps: the extra chain is in its own table
			if r.verdict == "return" {
				r.verdict = "drop"
			}
			b.extra = append(b.extra, r)
		}
	}
	return b
}

// rbPick returns one of xs at random.
func rbPick(rng *rand.Rand, xs ...string) string { return xs[rng.IntN(len(xs))] }

// rbChainName names chain i in both syntaxes.
func rbChainName(i int) string {
	if i == 0 {
		return "FORWARD"
	}
	return fmt.Sprintf("user%d", i)
}

// iptables renders b as iptables-save input for iptables-restore.
func (b *rbBase) iptables() string {
	var s strings.Builder
	tool := "iptables-save"
	if b.fam == 6 {
		tool = "ip6tables-save"
	}
	fmt.Fprintf(&s, "# Generated by %s v1.8.9 (nf_tables)\n*filter\n", tool)
	fmt.Fprintf(&s, ":INPUT ACCEPT [0:0]\n:FORWARD %s [0:0]\n:OUTPUT ACCEPT [0:0]\n", strings.ToUpper(b.policy))
	for i := 1; i < len(b.chains); i++ {
		fmt.Fprintf(&s, ":%s - [0:0]\n", rbChainName(i))
	}
	// Replies pass through forward too; the evaluator decides the first
	// packet of a connection, which this rule never matches.
	s.WriteString("-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n")
	for i, rules := range b.chains {
		for _, r := range rules {
			s.WriteString("-A " + rbChainName(i))
			if r.src != "" {
				s.WriteString(rbNot(r.srcNeg, "! ") + " -s " + r.src)
			}
			if r.dst != "" {
				s.WriteString(rbNot(r.dstNeg, "! ") + " -d " + r.dst)
			}
			if r.lo {
				s.WriteString(rbNot(r.loNeg, "! ") + " -i lo")
			}
			s.WriteString(" -p tcp")
			if r.iptPort != "" {
				if strings.HasPrefix(r.iptPort, "-m") {
					s.WriteString(" " + r.iptPort)
				} else {
					s.WriteString(" -m tcp " + r.iptPort)
				}
			}
			switch r.verdict {
			case "jump":
				s.WriteString(" -j " + rbChainName(r.target))
			case "goto":
				s.WriteString(" -g " + rbChainName(r.target))
			default:
				s.WriteString(" -j " + strings.ToUpper(r.verdict))
			}
			s.WriteString("\n")
		}
	}
	s.WriteString("COMMIT\n")
	return s.String()
}

// rbNot returns s when neg, else "".
func rbNot(neg bool, s string) string {
	if neg {
		return " " + strings.TrimSpace(s)
	}
	return ""
}

// nft renders b as nft text for nft -f.
func (b *rbBase) nft() string {
	var s strings.Builder
	af := "ip"
	if b.fam == 6 {
		af = "ip6"
	}
	rule := func(r rbRule) string {
		var w []string
		if r.src != "" {
			w = append(w, af+" saddr"+rbNot(r.srcNeg, "!=")+" "+r.src)
		}
		if r.dst != "" {
			w = append(w, af+" daddr"+rbNot(r.dstNeg, "!=")+" "+r.dst)
		}
		if r.lo {
			w = append(w, "iifname"+rbNot(r.loNeg, "!=")+` "lo"`)
		}
		if r.nftPort != "" {
			w = append(w, r.nftPort)
		} else {
			w = append(w, "meta l4proto tcp")
		}
		switch r.verdict {
		case "jump", "goto":
			w = append(w, r.verdict+" "+rbChainName(r.target))
		default:
			w = append(w, r.verdict)
		}
		return "\t\t" + strings.Join(w, " ") + "\n"
	}
	fmt.Fprintf(&s, "table %s rb {\n", b.table)
	for i, rules := range b.chains {
		fmt.Fprintf(&s, "\tchain %s {\n", rbChainName(i))
		if i == 0 {
			fmt.Fprintf(&s, "\t\ttype filter hook forward priority filter; policy %s;\n", b.policy)
			s.WriteString("\t\tct state established,related accept\n")
		}
		for _, r := range rules {
			s.WriteString(rule(r))
		}
		s.WriteString("\t}\n")
	}
	s.WriteString("}\n")
	if b.extraP != "" {
		fmt.Fprintf(&s, "table %s rb2 {\n\tchain late {\n\t\ttype filter hook forward priority filter + 10; policy %s;\n", b.table, b.extraP)
		s.WriteString("\t\tct state established,related accept\n")
		for _, r := range b.extra {
			s.WriteString(rule(r))
		}
		s.WriteString("\t}\n}\n")
	}
	return s.String()
}

// rbSample picks a client address, the server and a port.
func rbSample(rng *rand.Rand, l *netnstest.Lab, fam int) rbFlow {
	src, dst := l.ClientIn4, l.Server4
	if rng.IntN(2) == 0 {
		src = l.ClientOut4
	}
	if fam == 6 {
		src, dst = l.ClientIn6, l.Server6
		if rng.IntN(2) == 0 {
			src = l.ClientOut6
		}
	}
	return rbFlow{src, dst, rbPorts[rng.IntN(len(rbPorts))]}
}

// rbCompare dials every flow at once and compares with the evaluator: a
// flow the evaluator allows must connect, one it blocks must fail
// (dropped or rejected), and no verdict may be unknown.
func rbCompare(t *testing.T, l *netnstest.Lab, what, rules string, bases []*rulebase.Base, flows []rbFlow) (allowed, blocked int) {
	t.Helper()
	errs := make([]error, len(flows))
	var wg sync.WaitGroup
	for i, f := range flows {
		wg.Go(func() { errs[i] = l.DialErr(f.src, f.dst, f.port, 500*time.Millisecond) })
	}
	wg.Wait()
	bad := 0
	for i, f := range flows {
		fam := 4
		if f.dst.Is6() {
			fam = 6
		}
		fl := rulebase.Flow{
			Family: fam, Proto: rulebase.TCP,
			Src:   rulebase.NewAddrSet(netip.PrefixFrom(f.src, f.src.BitLen())),
			Dst:   rulebase.NewAddrSet(netip.PrefixFrom(f.dst, f.dst.BitLen())),
			Ports: rulebase.NewPortSet(audit.PortRange{First: f.port, Last: f.port}),
		}
		parts := rulebase.Evaluate(bases, "forward", fl)
		if len(parts) != 1 {
			t.Errorf("%s: Evaluate(%v -> %v:%d) = %d parts, want 1", what, f.src, f.dst, f.port, len(parts))
			bad++
			continue
		}
		p := parts[0]
		passed := errs[i] == nil
		if passed {
			allowed++
		} else {
			blocked++
		}
		switch {
		case p.Outcome == rulebase.Unknown:
			t.Errorf("%s: %v -> %v:%d: evaluator unknown (%s %s), kernel passed=%v", what, f.src, f.dst, f.port, p.By, p.Rule, passed)
			bad++
		case (p.Outcome == rulebase.Allowed) != passed:
			t.Errorf("%s: %v -> %v:%d: evaluator %s (%s %s), kernel: %v", what, f.src, f.dst, f.port, p.Outcome, p.By, p.Rule, errs[i])
			bad++
		}
	}
	if bad > 0 {
		t.Logf("%s rule base:\n%s", what, rules)
	}
	return allowed, blocked
}
