package emit

import (
	"bufio"
	"io"
	"net/netip"
	"slices"
	"strconv"

	"github.com/rpcspan/rpcspan/audit"
)

// The nftables target writes an "nft -f" script that creates or replaces
// table inet rpcspan and nothing else: "table inet rpcspan" (creates it
// when missing), "delete table inet rpcspan", then the whole table. nft
// runs a file as one transaction, so the table is replaced atomically and a
// load that fails changes nothing; the ruleset is never flushed.
//
// Addresses and ports live in named interval sets, one per distinct list
// (rules with the same sources share a set), so each plan rule is one line
// and the size is |sources| + |destinations|:
//
//	ip saddr @addr4_1 ip daddr @addr4_2 tcp dport @ports_1 accept
//
// The base chain (named after the hook, policy accept) starts with
// "ct state established,related return" and ends, unless accept-only, with
// drops for the RPC ports of the managed destinations.
//
// Accept-only output is different in kind: a verdict in one nft table does
// not bind another table's base chains, so accepts in a table of their own
// would be a no-op next to a default-deny table elsewhere. It is therefore
// a fragment to include inside the user's own inet table: the sets and a
// regular chain rpcspan_accept to jump to, all names prefixed with rpcspan_.
func init() { register("nftables", nftablesEmitter{}) }

// nftablesEmitter renders the nft script.
type nftablesEmitter struct{}

// nftCommentMax is the longest rule comment nft accepts.
const nftCommentMax = 128

// nftTable is the table the script owns.
const nftTable = "inet rpcspan"

// nftAcceptChain is the regular chain of accept-only output.
const nftAcceptChain = "rpcspan_accept"

// nftSet is a named set of the output.
type nftSet struct {
	name  string
	typ   string // ipv4_addr, ipv6_addr or inet_service
	addrs []netip.Prefix
	ports []audit.PortRange
}

// nftSets gives each distinct address or port list one set, numbered by
// first use.
type nftSets struct {
	prefix string
	list   []*nftSet
	byKey  map[string]*nftSet
	count  map[string]int
}

// addrs returns the name of the set holding ps.
func (s *nftSets) addrs(family int, ps []netip.Prefix) string {
	typ, base := "ipv4_addr", "addr4_"
	if family == 6 {
		typ, base = "ipv6_addr", "addr6_"
	}
	return s.get(typ, base, typ+" "+linuxPrefixesKey(ps), func(n *nftSet) { n.addrs = ps })
}

// ports returns the name of the set holding ports.
func (s *nftSets) ports(ports []audit.PortRange) string {
	return s.get("inet_service", "ports_", "ports "+linuxPortsText(ports, ",", "-"), func(n *nftSet) { n.ports = ports })
}

// get returns the name of the set with key, making it with fill when new.
func (s *nftSets) get(typ, base, key string, fill func(*nftSet)) string {
	if n, ok := s.byKey[key]; ok {
		return n.name
	}
	s.count[base]++
	n := &nftSet{name: s.prefix + base + strconv.Itoa(s.count[base]), typ: typ}
	fill(n)
	s.byKey[key] = n
	s.list = append(s.list, n)
	return n.name
}

// Emit writes the nft script.
func (nftablesEmitter) Emit(w io.Writer, in *Input) error {
	hook, err := linuxHook(in.Opt)
	if err != nil {
		return err
	}
	r4, err := linuxRules(in, 4)
	if err != nil {
		return err
	}
	r6, _ := linuxRules(in, 6)
	rules := slices.Concat(r4, r6)
	sets := &nftSets{byKey: map[string]*nftSet{}, count: map[string]int{}}
	indent := "\t\t"
	if in.Opt.AcceptOnly {
		sets.prefix = "rpcspan_"
		indent = "\t"
	}

	var lines []string
	for _, lr := range rules {
		ip := nftFamily(lr.r.Family)
		lines = append(lines, ip+" saddr @"+sets.addrs(lr.r.Family, lr.r.Sources)+
			" "+ip+" daddr @"+sets.addrs(lr.r.Family, lr.r.Destinations)+
			" "+lr.r.Proto+" dport @"+sets.ports(lr.r.Ports)+
			` accept comment "`+linuxRuleComment(lr, nftCommentMax)+`"`)
	}
	if !in.Opt.AcceptOnly {
		for _, fr := range [][]linuxRule{r4, r6} {
			if len(fr) == 0 {
				continue
			}
			fam := fr[0].r.Family
			for _, g := range linuxDrops(fr) {
				lines = append(lines, nftFamily(fam)+" daddr @"+sets.addrs(fam, g.Dst)+
					" "+g.Proto+" dport @"+sets.ports(g.Ports)+` drop comment "`+Comment(linuxDropComment, nftCommentMax)+`"`)
			}
		}
	}

	bw := bufio.NewWriterSize(w, 64<<10)
	if in.Opt.AcceptOnly {
		bw.WriteString(header("# ", in,
			"nft fragment, accept rules only: include it inside your own table of family inet and jump to",
			nftAcceptChain+" from a chain whose policy denies the rest (verdicts of one nft table do not bind",
			"another, so a table of its own could not open anything). For example:",
			"  table inet filter {",
			`    include "/etc/nftables.d/rpcspan.nft"`,
			"    chain forward {",
			"      type filter hook forward priority filter; policy drop;",
			"      ct state established,related accept",
			"      jump "+nftAcceptChain,
			"    }",
			"  }",
			"What no rule accepts returns to the calling chain. Sets and chain are named rpcspan_*."))
	} else {
		bw.WriteString(header("# ", in,
			"nft script: rules on the "+string(hook)+" hook in table "+nftTable+". Load it with",
			"  nft -f FILE",
			"It replaces table "+nftTable+" (and only that table) in one transaction; loading it again",
			"leaves the same rules. Allowed flows are accepted; other traffic to the RPC ports (135 and",
			"spans) of the destinations here is dropped; all other traffic is untouched, so loading cannot",
			"cut an SSH session."))
		bw.WriteString("table " + nftTable + "\ndelete table " + nftTable + "\ntable " + nftTable + " {\n")
	}
	var buf []byte
	for _, s := range sets.list {
		bw.WriteString(indent[1:] + "set " + s.name + " {\n" +
			indent + "type " + s.typ + "\n" +
			indent + "flags interval\n" +
			indent + "elements = {\n")
		for i, p := range s.addrs {
			buf = append(buf[:0], indent+"\t"...)
			if p.IsSingleIP() {
				buf = p.Addr().AppendTo(buf)
			} else {
				buf = p.AppendTo(buf)
			}
			if i < len(s.addrs)-1 {
				buf = append(buf, ',')
			}
			buf = append(buf, '\n')
			bw.Write(buf)
		}
		for i, p := range s.ports {
			buf = append(buf[:0], indent+"\t"...)
			buf = append(buf, linuxPortsText([]audit.PortRange{p}, "", "-")...)
			if i < len(s.ports)-1 {
				buf = append(buf, ',')
			}
			buf = append(buf, '\n')
			bw.Write(buf)
		}
		bw.WriteString(indent + "}\n" + indent[1:] + "}\n")
	}
	if in.Opt.AcceptOnly {
		bw.WriteString("chain " + nftAcceptChain + " {\n")
	} else {
		bw.WriteString("\tchain " + string(hook) + " {\n" +
			"\t\ttype filter hook " + string(hook) + " priority filter; policy accept;\n" +
			"\t\tct state established,related return\n")
	}
	for _, l := range lines {
		bw.WriteString(indent + l + "\n")
	}
	bw.WriteString(indent[1:] + "}\n")
	if !in.Opt.AcceptOnly {
		bw.WriteString("}\n")
	}
	return bw.Flush()
}

// nftFamily is the nft payload keyword of an address family.
func nftFamily(family int) string {
	if family == 6 {
		return "ip6"
	}
	return "ip"
}
