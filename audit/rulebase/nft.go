package rulebase

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/rpcspan/rpcspan/audit"
)

// nftPriorities are the named priorities of filter-type chains.
var nftPriorities = map[string]int{
	"raw": -300, "mangle": -150, "dstnat": -100, "filter": 0, "security": 50, "srcnat": 100,
}

// nftSetVal is a named set: addresses or ports, or nil for a type the
// model does not evaluate (concatenations, marks).
type nftSetVal struct {
	addrs *AddrSet
	ports *PortSet
}

// nftParser holds the state of one ruleset being read.
type nftParser struct {
	name   string
	b      *Base
	family string // of the current table
	table  string
	sets   map[string]*nftSetVal // "table\x00set"
	chain  *Chain
	set    string // name of the set block being read
	setTyp string
	setEl  []string
	depth  int // braces of blocks that are skipped (maps, flowtables)
	tables int // table blocks seen
}

// ParseNft reads "nft list ruleset" output into a rule base. Tables of
// family ip, ip6 and inet count; arp, bridge and netdev tables do not see
// routed IPv4 and IPv6 flows the same way and are left out. Statements the
// model does not evaluate make their rule's matches unknown; a line that
// cannot be read at all is an error naming file and line.
func ParseNft(r io.Reader, name string) (*Base, error) {
	p := &nftParser{name: name, b: &Base{Name: name, Format: "nftables"}, sets: map[string]*nftSetVal{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	line, start := 0, 0
	var stmt strings.Builder
	open := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(strings.TrimSuffix(sc.Text(), "\r"))
		if i := nftCommentAt(text); i >= 0 {
			text = strings.TrimSpace(text[:i])
		}
		if text == "" {
			continue
		}
		if stmt.Len() == 0 {
			start = line
		} else {
			stmt.WriteByte(' ')
		}
		stmt.WriteString(text)
		toks := nftTokens(text)
		for _, t := range toks {
			switch t {
			case "{":
				open++
			case "}":
				open--
			}
		}
		// A block opener ("chain x {") or closer stands alone; a line
		// with an unclosed element list continues on the next line.
		if open > 0 && !nftOpener(toks) {
			continue
		}
		s := stmt.String()
		stmt.Reset()
		open = 0
		if err := p.statement(s, start); err != nil {
			// nft -f would refuse the file; say where, and go on.
			p.b.Problems = append(p.b.Problems, err.Error())
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if stmt.Len() > 0 {
		// An element list left open swallowed the rest of the file.
		pos := Pos{name, start}
		p.b.problem(pos, "%q: a \"{\" is never closed", cutText(stmt.String(), 80))
		if p.chain != nil && p.set == "" {
			p.chain.Rules = append(p.chain.Rules, unreadable(pos, stmt.String(), "\"{\" never closed"))
		}
	} else if p.table != "" {
		p.b.problem(Pos{name, line}, "table %s %s: a \"}\" is missing at the end", p.family, p.table)
	}
	if p.tables == 0 && len(p.b.Chains) == 0 {
		return nil, fmt.Errorf("%s: no table block found: not nft list ruleset output", name)
	}
	return p.b, nil
}

// cutText shortens s for a message.
func cutText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// l4Protos returns the protocols an l4proto match (ip protocol, ip6
// nexthdr, meta l4proto) of the names or numbers ws admits, negated when
// neg.
func l4Protos(ws []string, neg bool) Proto {
	var pr Proto
	for _, e := range ws {
		switch e {
		case "tcp", "6":
			pr |= TCP
		case "udp", "17":
			pr |= UDP
		}
	}
	if neg {
		pr = AnyProto &^ pr
	}
	return pr
}

// nftIface are the interface matches; only the loopback interface is
// evaluated.
var nftIface = map[string]bool{"iif": true, "iifname": true, "oif": true, "oifname": true}

// nftCommentAt returns where a # comment starts outside quotes, or -1.
func nftCommentAt(s string) int {
	in := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			in = !in
		case '#':
			if !in {
				return i
			}
		}
	}
	return -1
}

// nftOpener reports whether toks open a block: "KEYWORD ... {".
func nftOpener(toks []string) bool {
	if len(toks) < 2 || toks[len(toks)-1] != "{" {
		return false
	}
	switch toks[0] {
	case "table", "chain", "set", "map", "flowtable", "counter", "quota", "limit", "ct", "secmark", "synproxy":
		return true
	}
	return false
}

// nftTokens splits on blanks, with braces, commas and semicolons as
// tokens of their own and double quotes grouping.
func nftTokens(s string) []string {
	var out []string
	var cur strings.Builder
	in := false
	flush := func() {
		if cur.Len() > 0 {
			out = append(out, cur.String())
			cur.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			in = !in
			cur.WriteByte(c)
		case in:
			cur.WriteByte(c)
		case c == ' ' || c == '\t':
			flush()
		case c == '{' || c == '}' || c == ',' || c == ';':
			flush()
			out = append(out, string(c))
		default:
			cur.WriteByte(c)
		}
	}
	flush()
	return out
}

// statement handles one logical line.
func (p *nftParser) statement(s string, line int) error {
	toks := nftTokens(s)
	if len(toks) == 0 {
		return nil
	}
	bad := func(why string) error { return fmt.Errorf("%s:%d: %q: %s", p.name, line, s, why) }
	if p.depth > 0 {
		if nftOpener(toks) {
			p.depth++
		} else if toks[0] == "}" {
			p.depth--
		}
		return nil
	}
	if toks[0] == "}" {
		switch {
		case p.set != "":
			p.endSet()
		case p.chain != nil:
			p.chain = nil
		case p.table != "":
			p.table = ""
		default:
			return bad("unbalanced \"}\"")
		}
		return nil
	}
	if nftOpener(toks) {
		switch {
		case toks[0] == "table" && p.table == "" && len(toks) >= 3:
			if len(toks) == 3 {
				p.family, p.table = "ip", toks[1]
			} else {
				p.family, p.table = toks[1], toks[2]
			}
			p.tables++
		case toks[0] == "chain" && p.table != "" && p.chain == nil && p.set == "":
			c := &Chain{Pos: Pos{p.name, line}, Name: toks[1], Table: p.family + " " + p.table}
			switch p.family {
			case "ip":
				c.Family = 4
			case "ip6":
				c.Family = 6
			case "inet":
			default:
				// Not a routed IPv4/IPv6 table: read, never a base chain.
				c.Table = "-" + c.Table
			}
			p.chain = c
			p.b.Chains = append(p.b.Chains, c)
		case toks[0] == "set" && p.table != "" && p.chain == nil && p.set == "":
			p.set, p.setTyp, p.setEl = toks[1], "", nil
		default:
			p.depth = 1
		}
		return nil
	}
	switch {
	case p.set != "":
		switch toks[0] {
		case "type", "typeof":
			p.setTyp = strings.Join(toks[1:], " ")
		case "elements":
			p.setEl = append(p.setEl, nftElements(toks)...)
		}
	case p.chain != nil:
		if toks[0] == "type" {
			// The policy is what a report names: point at its line.
			p.chain.Pos.Line = line
			return p.chainHead(toks, bad)
		}
		if toks[0] == "policy" {
			if len(toks) < 2 {
				p.chain.Policy = Opaque
				return bad("policy without a verdict")
			}
			p.chain.Policy = nftVerdictWord(strings.TrimSuffix(toks[1], ";"))
			return nil
		}
		r := p.rule(toks)
		r.Pos, r.Text = Pos{p.name, line}, s
		p.chain.Rules = append(p.chain.Rules, r)
	case toks[0] == "delete" && len(toks) >= 3 && toks[1] == "table":
		// Script form: "delete table inet x" drops what was read of it.
		fam, tbl := "ip", toks[2]
		if len(toks) >= 4 {
			fam, tbl = toks[2], toks[3]
		}
		kept := p.b.Chains[:0]
		for _, c := range p.b.Chains {
			if strings.TrimPrefix(c.Table, "-") != fam+" "+tbl {
				kept = append(kept, c)
			}
		}
		p.b.Chains = kept
	case toks[0] == "table" || toks[0] == "flush" || toks[0] == "delete" || toks[0] == "add" || toks[0] == "include" || toks[0] == "define":
		// "table inet x" alone creates the table when missing.
	default:
		return bad("unexpected statement")
	}
	return nil
}

// chainHead reads "type filter hook input priority filter; policy drop;".
func (p *nftParser) chainHead(toks []string, bad func(string) error) error {
	c := p.chain
	for i := 0; i < len(toks); i++ {
		switch toks[i] {
		case "hook":
			if i+1 < len(toks) && !strings.HasPrefix(c.Table, "-") {
				c.Hook = toks[i+1]
			}
		case "priority":
			prio, n := 0, 0
			for j := i + 1; j < len(toks) && toks[j] != ";"; j++ {
				n++
				t := toks[j]
				switch {
				case t == "+" || t == "-":
				case nftPriorities[t] != 0 || t == "filter":
					prio = nftPriorities[t]
				default:
					v, err := strconv.Atoi(t)
					if err != nil {
						return bad("priority " + strconv.Quote(t))
					}
					if j > i+1 && toks[j-1] == "-" {
						v = -v
					}
					prio += v
				}
			}
			c.Priority = prio
			i += n
		case "policy":
			if i+1 < len(toks) {
				c.Policy = nftVerdictWord(toks[i+1])
			}
		}
	}
	if c.Hook != "" && c.Policy == Continue {
		c.Policy = Accept
	}
	return nil
}

// nftVerdictWord maps a policy word.
func nftVerdictWord(w string) Verdict {
	switch w {
	case "accept":
		return Accept
	case "drop":
		return Drop
	}
	return Opaque
}

// nftElements returns the elements of "elements = { a, b-c }".
func nftElements(toks []string) []string {
	var out []string
	for _, t := range toks {
		switch t {
		case "elements", "=", "{", "}", ",", ";":
		default:
			out = append(out, t)
		}
	}
	return out
}

// endSet stores the set being read.
func (p *nftParser) endSet() {
	v := &nftSetVal{}
	switch p.setTyp {
	case "ipv4_addr", "ipv6_addr":
		v.addrs, _ = nftAddrs(p.setEl)
	case "inet_service":
		v.ports, _ = nftPorts(p.setEl)
	default:
		v = nil
	}
	p.sets[p.family+" "+p.table+"\x00"+p.set] = v
	p.set = ""
}

// nftAddrs reads addresses, prefixes and ranges a-b.
func nftAddrs(els []string) (*AddrSet, bool) {
	var sets []*AddrSet
	for _, e := range els {
		if pf, ok := parseAddrOrPrefix(e); ok {
			sets = append(sets, NewAddrSet(pf))
			continue
		}
		if a, b, ok := strings.Cut(e, "-"); ok {
			lo, ok1 := parseAddrOrPrefix(a)
			hi, ok2 := parseAddrOrPrefix(b)
			if !ok1 || !ok2 || lo.Addr().Is4() != hi.Addr().Is4() || hi.Addr().Less(lo.Addr()) {
				return nil, false
			}
			sets = append(sets, rangeSet(lo.Addr(), hi.Addr()))
			continue
		}
		return nil, false
	}
	out := &AddrSet{}
	for _, s := range sets {
		out = out.Union(s)
	}
	return out, true
}

// nftPorts reads ports, ranges a-b and service names.
func nftPorts(els []string) (*PortSet, bool) {
	var rs []audit.PortRange
	for _, e := range els {
		a, b, isRange := strings.Cut(e, "-")
		lo, err := iptPort(a)
		if err != nil {
			return nil, false
		}
		hi := lo
		if isRange {
			if hi, err = iptPort(b); err != nil || hi < lo {
				return nil, false
			}
		}
		rs = append(rs, audit.PortRange{First: lo, Last: hi})
	}
	return NewPortSet(rs...), true
}

// operand reads what follows a match's field at toks[i]: an optional
// "!=" (neg) or "==", then the value as value reads it.
func (p *nftParser) operand(toks []string, i int) (neg bool, els []string, named *nftSetVal, isNamed bool, next int) {
	if i < len(toks) && (toks[i] == "!=" || toks[i] == "==") {
		neg = toks[i] == "!="
		i++
	}
	els, named, isNamed, next = p.value(toks, i)
	return neg, els, named, isNamed, next
}

// value reads a match value at toks[i]: a literal, a list "a,b" (ct
// state), an anonymous set "{ ... }" or a named set "@name". It returns
// the elements (nil for a named set), the named set and the next index.
func (p *nftParser) value(toks []string, i int) (els []string, named *nftSetVal, isNamed bool, next int) {
	if i >= len(toks) {
		return nil, nil, false, i
	}
	if strings.HasPrefix(toks[i], "@") {
		v := p.sets[p.family+" "+p.table+"\x00"+toks[i][1:]]
		return nil, v, true, i + 1
	}
	if toks[i] == "{" {
		j := i + 1
		for ; j < len(toks) && toks[j] != "}"; j++ {
			if toks[j] != "," {
				els = append(els, toks[j])
			}
		}
		return els, nil, false, j + 1
	}
	// A bare list such as "established,related" has comma tokens.
	els = append(els, toks[i])
	j := i + 1
	for j+1 < len(toks) && toks[j] == "," {
		els = append(els, toks[j+1])
		j += 2
	}
	return els, nil, false, j
}

// rule reads the statements of one rule.
func (p *nftParser) rule(toks []string) *Rule {
	r := &Rule{Proto: AnyProto}
	unknown := func(s string) { r.Unknown = append(r.Unknown, s) }
	setFam := func(f int) {
		if r.Family != 0 && r.Family != f {
			r.NotNew = true // ip and ip6 matches in one rule: nothing matches
		}
		r.Family = f
	}
	for i := 0; i < len(toks); {
		t := toks[i]
		switch {
		case (t == "ip" || t == "ip6") && i+1 < len(toks) && (toks[i+1] == "saddr" || toks[i+1] == "daddr"):
			f := 4
			if t == "ip6" {
				f = 6
			}
			setFam(f)
			field := toks[i+1]
			i += 2
			if i < len(toks) && toks[i] == "." {
				unknown(strings.Join(toks[i-2:], " "))
				return nftVerdictTail(r, toks)
			}
			neg, els, named, isNamed, next := p.operand(toks, i)
			i = next
			var set *AddrSet
			ok := true
			if isNamed {
				if named == nil || named.addrs == nil {
					ok = false
				} else {
					set = named.addrs
				}
			} else {
				set, ok = nftAddrs(els)
			}
			if !ok {
				unknown(t + " " + field)
				continue
			}
			if neg {
				set = set.Not()
			}
			if field == "saddr" {
				r.Src = iptAnd(r.Src, set)
			} else {
				r.Dst = iptAnd(r.Dst, set)
			}
		case (t == "tcp" || t == "udp" || t == "th") && i+1 < len(toks) && (toks[i+1] == "dport" || toks[i+1] == "sport"):
			if t != "th" {
				r.Proto &= protoOf(t)
			}
			field := toks[i+1]
			i += 2
			neg, els, named, isNamed, next := p.operand(toks, i)
			i = next
			if field == "sport" {
				unknown(t + " sport")
				continue
			}
			var ps *PortSet
			ok := true
			if isNamed {
				if named == nil || named.ports == nil {
					ok = false
				} else {
					ps = named.ports
				}
			} else {
				ps, ok = nftPorts(els)
			}
			if !ok {
				unknown(t + " dport")
				continue
			}
			if neg {
				ps = ps.Not()
			}
			r.DPorts = iptAndPorts(r.DPorts, ps)
		case t == "meta" && i+1 < len(toks) && (toks[i+1] == "l4proto" || toks[i+1] == "nfproto") ||
			t == "ip" && i+1 < len(toks) && toks[i+1] == "protocol" || t == "ip6" && i+1 < len(toks) && toks[i+1] == "nexthdr":
			field := toks[i+1]
			if t == "ip" {
				setFam(4)
			} else if t == "ip6" {
				setFam(6)
			}
			i += 2
			neg, els, _, isNamed, next := p.operand(toks, i)
			i = next
			if isNamed {
				unknown(t + " " + field)
				continue
			}
			if field == "nfproto" {
				if len(els) == 1 && !neg {
					switch els[0] {
					case "ipv4":
						setFam(4)
					case "ipv6":
						setFam(6)
					}
				} else {
					unknown("meta nfproto")
				}
				continue
			}
			r.Proto &= l4Protos(els, neg)
		case t == "ct" && i+1 < len(toks) && toks[i+1] == "state":
			i += 2
			neg, els, _, isNamed, next := p.operand(toks, i)
			i = next
			if isNamed {
				unknown("ct state")
				continue
			}
			hasNew := false
			for _, e := range els {
				hasNew = hasNew || e == "new"
			}
			if hasNew == neg {
				r.NotNew = true
			}
		case t == "counter":
			i++
			for i+1 < len(toks) && (toks[i] == "packets" || toks[i] == "bytes") {
				i += 2
			}
		case t == "comment":
			i += 2
		case t == "log":
			// log prefix "x" level y ...: no verdict.
			i++
			for i+1 < len(toks) && (toks[i] == "prefix" || toks[i] == "level" || toks[i] == "flags" || toks[i] == "group" || toks[i] == "snaplen" || toks[i] == "queue-threshold") {
				i += 2
			}
		case t == "accept" || t == "drop" || t == "return" || t == "continue":
			r.Verdict = map[string]Verdict{"accept": Accept, "drop": Drop, "return": Return, "continue": Continue}[t]
			i++
		case t == "reject":
			r.Verdict = Reject
			i++
			if i < len(toks) && toks[i] == "with" {
				i += 3
			}
		case (t == "jump" || t == "goto") && i+1 < len(toks):
			r.Verdict, r.Target = Jump, toks[i+1]
			if t == "goto" {
				r.Verdict = Goto
			}
			i += 2
		case t == "queue":
			r.Verdict = Opaque
			i = len(toks)
		case nftIface[t] || t == "meta" && i+1 < len(toks) && nftIface[toks[i+1]]:
			if t == "meta" {
				i++
			}
			field := toks[i]
			i++
			neg, els, _, isNamed, next := p.operand(toks, i)
			i = next
			switch {
			case !isNamed && len(els) == 1 && strings.Trim(els[0], `"`) == "lo" && !neg:
				// Another host's packets never use the loopback
				// interface: no required flow matches.
				r.NotNew = true
			case !isNamed && len(els) == 1 && strings.Trim(els[0], `"`) == "lo":
			default:
				unknown(field + " " + strings.Join(els, ","))
			}
		default:
			unknown(t)
			i++
		}
	}
	return r
}

// nftVerdictTail gives r the verdict that ends toks, for a rule whose
// matches could not be read one by one.
func nftVerdictTail(r *Rule, toks []string) *Rule {
	for i := len(toks) - 1; i >= 0; i-- {
		switch toks[i] {
		case "accept":
			r.Verdict = Accept
		case "drop":
			r.Verdict = Drop
		case "reject":
			r.Verdict = Reject
		case "return":
			r.Verdict = Return
		default:
			if i > 0 && (toks[i-1] == "jump" || toks[i-1] == "goto") {
				r.Verdict, r.Target = Jump, toks[i]
				if toks[i-1] == "goto" {
					r.Verdict = Goto
				}
			} else {
				continue
			}
		}
		return r
	}
	r.Verdict = Continue
	return r
}
