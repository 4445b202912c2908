package emit

import (
	"bufio"
	"io"
	"net/netip"
	"strconv"
	"strings"

	"github.com/rpcspan/rpcspan/audit"
)

// The iptables and ip6tables targets write input for
// "iptables-restore --noflush" (ip6tables-restore for IPv6): the filter
// table's chain RPCSPAN, jumped to from INPUT or FORWARD, and one sub-chain
// RPCSPAN-SN per distinct set of several source prefixes.
//
// Layout of RPCSPAN, so that the output's size is |sources| + |destinations|
// per rule rather than their product:
//
//	-A RPCSPAN -m conntrack --ctstate ESTABLISHED,RELATED -j RETURN
//	-A RPCSPAN -d DST -p tcp -m tcp --dport 135 -j RPCSPAN-S1   (per destination prefix)
//	-A RPCSPAN-S1 -s SRC -j ACCEPT                              (per source prefix)
//	-A RPCSPAN -d DST -p tcp -m tcp --dport 135 -j DROP          (RPC ports, unless accept-only)
//
// A rule with a single source prefix needs no sub-chain and names it on its
// destination lines. Everything that no line decides returns to the calling
// chain.
//
// Reloading: --noflush flushes and refills exactly the chains the file
// declares, in one commit, and leaves every other chain and rule alone. The
// jump from INPUT or FORWARD is not in the file: iptables-restore has no
// "add if missing", and a file that inserted it would add one more copy per
// load. The header gives the one-time command (iptables -C ... || iptables
// -I ...), which is idempotent too. Sub-chains are numbered by first use in
// the plan; after a reload with fewer of them, the higher-numbered ones
// from the earlier load are left in place but no rule jumps to them any
// more, so they are never evaluated (the header names them and how to
// remove them). Deleting them from the file is not possible: -X of a chain
// that does not exist fails the whole commit, and the file cannot know what
// an earlier load left.
func init() {
	register("iptables", iptablesEmitter{family: 4})
	register("ip6tables", iptablesEmitter{family: 6})
}

// iptablesEmitter renders the rules of one address family.
type iptablesEmitter struct{ family int }

// iptChain is the chain every iptables output fills.
const iptChain = "RPCSPAN"

// iptCommentMax is the longest comment the comment match takes (256 bytes
// with the terminating NUL).
const iptCommentMax = 255

// iptMultiportMax is how many entries -m multiport takes; a range counts as 2.
const iptMultiportMax = 15

// tool is the command name for the family.
func (e iptablesEmitter) tool() string {
	if e.family == 6 {
		return "ip6tables"
	}
	return "iptables"
}

// iptablesJump returns the shell command that adds the jump to RPCSPAN
// from the hook's chain only when it is missing. The header prints it, and
// the kernel tests run exactly this text.
func iptablesJump(tool string, hook Hook) string {
	chain := strings.ToUpper(string(hook))
	return tool + " -C " + chain + " -j " + iptChain + " 2>/dev/null || " + tool + " -I " + chain + " -j " + iptChain
}

// Emit writes the iptables-restore input.
func (e iptablesEmitter) Emit(w io.Writer, in *Input) error {
	hook, err := linuxHook(in.Opt)
	if err != nil {
		return err
	}
	rules, err := linuxRules(in, e.family)
	if err != nil {
		return err
	}

	// Sub-chains per distinct source set of more than one prefix, named
	// in order of first use.
	chainOf := make([]string, len(rules))
	type subChain struct {
		name string
		src  []netip.Prefix
	}
	var chains []subChain
	byKey := map[string]string{}
	for i, lr := range rules {
		if len(lr.r.Sources) < 2 {
			continue
		}
		k := linuxPrefixesKey(lr.r.Sources)
		name, ok := byKey[k]
		if !ok {
			name = iptChain + "-S" + strconv.Itoa(len(chains)+1)
			byKey[k] = name
			chains = append(chains, subChain{name, lr.r.Sources})
		}
		chainOf[i] = name
	}

	tool, restore := e.tool(), e.tool()+"-restore"
	fam := "IPv" + strconv.Itoa(e.family)
	extra := []string{
		restore + " input: " + fam + " rules on the " + strings.ToUpper(string(hook)) + " hook. Load it, then add the jump once:",
		"  " + restore + " --noflush FILE",
		"  " + iptablesJump(tool, hook),
		"--noflush empties and refills only the chains declared below, in one commit; no other chain or rule",
		"is touched. The jump is not in this file (restore cannot add a rule only when it is missing), so",
		"reloading never duplicates it; the second command adds it only when missing.",
	}
	if in.Opt.AcceptOnly {
		extra = append(extra,
			"Accept rules only: jump to "+iptChain+" from a chain whose policy denies the rest; what no rule",
			"accepts returns to that chain.")
	} else {
		extra = append(extra,
			"Allowed flows are accepted; other traffic to the RPC ports (135 and spans) of the destinations",
			"here is dropped; all other traffic returns untouched, so loading cannot cut an SSH session.")
	}
	extra = append(extra,
		"Sub-chains "+iptChain+"-S"+strconv.Itoa(len(chains)+1)+" and above, left by a larger earlier load, are no longer jumped",
		"to and so never evaluated; remove one with "+tool+" -F NAME && "+tool+" -X NAME.")

	bw := bufio.NewWriterSize(w, 64<<10)
	bw.WriteString(header("# ", in, extra...))
	bw.WriteString("*filter\n:" + iptChain + " - [0:0]\n")
	for _, c := range chains {
		bw.WriteString(":" + c.name + " - [0:0]\n")
	}
	if !in.Opt.AcceptOnly {
		bw.WriteString("-A " + iptChain + " -m conntrack --ctstate ESTABLISHED,RELATED -j RETURN\n")
	}
	var buf []byte
	for i, lr := range rules {
		comment := linuxRuleComment(lr, iptCommentMax)
		bw.WriteString("# " + comment + ", " + lr.r.Proto + " " + linuxPortsText(lr.r.Ports, ",", "-") + "\n")
		// Everything after the destination is the same on each of the
		// rule's lines: built once per port list.
		jump := chainOf[i]
		if jump == "" {
			jump = "ACCEPT"
		}
		tails := iptTails(lr.r.Proto, lr.r.Ports, ` -m comment --comment "`+comment+`" -j `+jump+"\n")
		for _, d := range lr.r.Destinations {
			for _, tail := range tails {
				buf = append(buf[:0], "-A "+iptChain...)
				if chainOf[i] == "" {
					buf = append(buf, " -s "...)
					buf = lr.r.Sources[0].AppendTo(buf)
				}
				buf = append(buf, " -d "...)
				buf = d.AppendTo(buf)
				buf = append(buf, tail...)
				bw.Write(buf)
			}
		}
	}
	for _, c := range chains {
		for _, s := range c.src {
			buf = append(buf[:0], "-A "+c.name+" -s "...)
			buf = s.AppendTo(buf)
			buf = append(buf, " -j ACCEPT\n"...)
			bw.Write(buf)
		}
	}
	if !in.Opt.AcceptOnly {
		drops := linuxDrops(rules)
		if len(drops) > 0 {
			bw.WriteString("# RPC ports of the managed destinations that no rule above accepted\n")
		}
		for _, g := range drops {
			tails := iptTails(g.Proto, g.Ports, ` -m comment --comment "`+linuxDropComment+`" -j DROP`+"\n")
			for _, d := range g.Dst {
				for _, tail := range tails {
					buf = append(buf[:0], "-A "+iptChain+" -d "...)
					buf = d.AppendTo(buf)
					buf = append(buf, tail...)
					bw.Write(buf)
				}
			}
		}
	}
	bw.WriteString("COMMIT\n")
	return bw.Flush()
}

// iptTails returns, per list -m multiport takes, the protocol and port
// match followed by rest: the protocol's own --dport for a single port or
// range, -m multiport --dports for a list.
func iptTails(proto string, ports []audit.PortRange, rest string) []string {
	chunks := iptMultiportChunks(ports)
	out := make([]string, len(chunks))
	for i, c := range chunks {
		if len(c) == 1 {
			out[i] = " -p " + proto + " -m " + proto + " --dport " + linuxPortsText(c, ",", ":") + rest
		} else {
			out[i] = " -p " + proto + " -m multiport --dports " + linuxPortsText(c, ",", ":") + rest
		}
	}
	return out
}

// iptMultiportChunks splits ports into lists -m multiport takes: at most 15
// entries, a range counting as two.
func iptMultiportChunks(ports []audit.PortRange) [][]audit.PortRange {
	var out [][]audit.PortRange
	start, n := 0, 0
	for i, p := range ports {
		w := 1
		if p.First != p.Last {
			w = 2
		}
		if n+w > iptMultiportMax {
			out = append(out, ports[start:i])
			start, n = i, 0
		}
		n += w
	}
	return append(out, ports[start:])
}

// linuxPrefixesKey identifies a list of prefixes.
func linuxPrefixesKey(ps []netip.Prefix) string {
	var b []byte
	for _, p := range ps {
		b = p.AppendTo(b)
		b = append(b, ' ')
	}
	return string(b)
}
