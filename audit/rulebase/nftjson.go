package rulebase

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// nftjServices are service names nft -j prints for ports (it prints names
// unless given -n) that serviceNames, shared with iptables, lacks. A name
// in neither makes its match unknown.
var nftjServices = map[string]uint16{
	"ftp-data": 20, "ftp": 21, "telnet": 23, "smtp": 25, "tftp": 69, "finger": 79,
	"www": 80, "pop3": 110, "sunrpc": 111, "ident": 113, "auth": 113, "nntp": 119,
	"imap": 143, "imap2": 143, "snmp-trap": 162, "bgp": 179, "syslog": 514, "submission": 587,
	"imaps": 993, "pop3s": 995, "openvpn": 1194, "ms-sql-s": 1433, "ms-sql-m": 1434,
	"radius": 1812, "nfs": 2049, "mysql": 3306, "postgresql": 5432, "http-alt": 8080,
	"bootps": 67, "bootpc": 68, "isakmp": 500, "ipsec-nat-t": 4500, "ldp": 646,
}

// nftjObj is one element of the "nftables" array: its kind ("table",
// "chain", ...), its body and the line it starts on.
type nftjObj struct {
	kind string
	body map[string]any
	line int
}

// nftjParser holds the state of one JSON ruleset being read.
type nftjParser struct {
	name   string
	b      *Base
	chains map[string]*Chain // "family table\x00chain"
	sets   map[string]*nftSetVal
	setTyp map[string]string // "" for a set type the model does not read
	setEls map[string][]any
}

// ParseNftJSON reads "nft -j list ruleset" output ({"nftables": [...]})
// into a rule base, with the semantics of ParseNft: tables of family ip,
// ip6 and inet count, base chains by hook and priority, jumps and gotos,
// named and anonymous sets. Expressions the model does not evaluate make
// their rule's matches unknown. The command forms "add", "create" and
// "flush ruleset" of nft -j -f input are read too. Text that is not JSON
// of that shape is an error naming file and line.
func ParseNftJSON(r io.Reader, name string) (*Base, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	objs, err := nftjObjects(data, name)
	if err != nil {
		return nil, err
	}
	// Only what comes after the last "flush ruleset" is loaded.
	for i := len(objs) - 1; i >= 0; i-- {
		if objs[i].kind == "flush" {
			objs = objs[i+1:]
			break
		}
	}
	p := &nftjParser{
		name: name, b: &Base{Name: name, Format: "nftables"}, chains: map[string]*Chain{},
		sets: map[string]*nftSetVal{}, setTyp: map[string]string{}, setEls: map[string][]any{},
	}
	// Sets and chains first, then rules: a command list may add elements
	// to a set or declare a chain after the rules that use them.
	for _, o := range objs {
		if err := p.declare(o); err != nil {
			return nil, err
		}
	}
	p.resolveSets()
	for _, o := range objs {
		if o.kind != "rule" {
			continue
		}
		if err := p.rule(o); err != nil {
			return nil, err
		}
	}
	return p.b, nil
}

// nftjObjects decodes the top-level object and returns the elements of
// its "nftables" array with the lines they start on.
func nftjObjects(data []byte, name string) ([]nftjObj, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	fail := func(off int64, why string) error {
		return fmt.Errorf("%s:%d: nft JSON: %s", name, lineAt(data, off), why)
	}
	wrap := func(err error) error {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return fail(se.Offset, se.Error())
		case errors.As(err, &te):
			return fail(te.Offset, te.Error())
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			return fail(int64(len(data)), "unexpected end of input")
		}
		return fail(dec.InputOffset(), err.Error())
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, wrap(err)
	}
	if tok != json.Delim('{') {
		return nil, fail(dec.InputOffset(), `want an object {"nftables": [...]}`)
	}
	var objs []nftjObj
	found := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, wrap(err)
		}
		if key, _ := tok.(string); key != "nftables" {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil, wrap(err)
			}
			continue
		}
		found = true
		if tok, err = dec.Token(); err != nil {
			return nil, wrap(err)
		}
		if tok != json.Delim('[') {
			return nil, fail(dec.InputOffset(), `"nftables" is not an array`)
		}
		for dec.More() {
			start := skipJSONSpace(data, dec.InputOffset())
			var v any
			if err := dec.Decode(&v); err != nil {
				return nil, wrap(err)
			}
			m, ok := v.(map[string]any)
			if !ok {
				return nil, fail(start, "an element of \"nftables\" is not an object")
			}
			// Each element has one key; sort for a fixed order when a
			// hand-written file has more.
			keys := make([]string, 0, len(m))
			for k := range m {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				o, err := nftjCommand(k, m[k])
				if err != nil {
					return nil, fail(start, err.Error())
				}
				for i := range o {
					o[i].line = lineAt(data, start)
				}
				objs = append(objs, o...)
			}
		}
		if _, err := dec.Token(); err != nil {
			return nil, wrap(err)
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, wrap(err)
	}
	if !found {
		return nil, fail(0, `no "nftables" array`)
	}
	return objs, nil
}

// nftjCommand returns the objects one array element stands for: a listed
// object as it is, a command's object unwrapped.
func nftjCommand(kind string, v any) ([]nftjObj, error) {
	switch kind {
	case "add", "create":
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%q is not an object", kind)
		}
		var out []nftjObj
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			o, err := nftjCommand(k, m[k])
			if err != nil {
				return nil, err
			}
			out = append(out, o...)
		}
		return out, nil
	case "flush":
		if m, ok := v.(map[string]any); ok && len(m) == 1 {
			if _, ok := m["ruleset"]; ok {
				return []nftjObj{{kind: "flush"}}, nil
			}
		}
		return nil, fmt.Errorf("command %q is not read (only flush ruleset)", kind)
	case "insert", "replace", "delete", "destroy", "reset", "rename":
		// Editing commands would need handles to apply; refusing is
		// better than a model that silently differs from the kernel.
		return nil, fmt.Errorf("command %q is not read", kind)
	}
	m, _ := v.(map[string]any)
	if m == nil {
		if v != nil {
			return nil, fmt.Errorf("%q is not an object", kind)
		}
		m = map[string]any{}
	}
	return []nftjObj{{kind: kind, body: m}}, nil
}

// skipJSONSpace returns the offset of the first byte at or after off that
// is neither blank nor a comma: where the next value starts.
func skipJSONSpace(data []byte, off int64) int64 {
	for off < int64(len(data)) {
		switch data[off] {
		case ' ', '\t', '\r', '\n', ',':
			off++
		default:
			return off
		}
	}
	return off
}

// lineAt returns the 1-based line of byte offset off.
func lineAt(data []byte, off int64) int {
	off = min(max(off, 0), int64(len(data)))
	return 1 + bytes.Count(data[:off], []byte("\n"))
}

// jstr returns v as a string, "" when it is not one.
func jstr(v any) string {
	s, _ := v.(string)
	return s
}

// tableKey returns "family table" of an object.
func tableKey(m map[string]any) string {
	fam := jstr(m["family"])
	if fam == "" {
		fam = "ip"
	}
	return fam + " " + jstr(m["table"])
}

// chainOf returns the chain of table key tk named n, made on first use.
func (p *nftjParser) chainOf(tk, n string, line int) *Chain {
	k := tk + "\x00" + n
	if c := p.chains[k]; c != nil {
		return c
	}
	c := &Chain{Pos: Pos{p.name, line}, Name: n, Table: tk}
	fam, _, _ := strings.Cut(tk, " ")
	switch fam {
	case "ip":
		c.Family = 4
	case "ip6":
		c.Family = 6
	case "inet":
	default:
		// Not a routed IPv4/IPv6 table: read, never a base chain.
		c.Table = "-" + tk
	}
	p.chains[k] = c
	p.b.Chains = append(p.b.Chains, c)
	return c
}

// declare reads chains, sets and set elements.
func (p *nftjParser) declare(o nftjObj) error {
	bad := func(why string) error { return fmt.Errorf("%s:%d: nft JSON %s: %s", p.name, o.line, o.kind, why) }
	m := o.body
	switch o.kind {
	case "chain":
		n := jstr(m["name"])
		if n == "" {
			return bad("no name")
		}
		c := p.chainOf(tableKey(m), n, o.line)
		c.Pos.Line = o.line
		if hook := jstr(m["hook"]); hook != "" && !strings.HasPrefix(c.Table, "-") {
			c.Hook = hook
		}
		switch v := m["prio"].(type) {
		case nil:
		case json.Number:
			n, err := strconv.Atoi(v.String())
			if err != nil {
				return bad("prio " + strconv.Quote(v.String()))
			}
			c.Priority = n
		case string:
			n, ok := nftPriorities[v]
			if !ok {
				return bad("prio " + strconv.Quote(v))
			}
			c.Priority = n
		default:
			return bad("prio is neither a number nor a name")
		}
		if pol := jstr(m["policy"]); pol != "" {
			c.Policy = nftVerdictWord(pol)
		}
		if c.Hook != "" && c.Policy == Continue {
			c.Policy = Accept
		}
	case "set", "element":
		k := tableKey(m) + "\x00" + jstr(m["name"])
		if o.kind == "set" {
			typ, _ := m["type"].(string) // a concatenation is an array
			p.setTyp[k] = typ
		}
		switch els := m["elem"].(type) {
		case nil:
		case []any:
			p.setEls[k] = append(p.setEls[k], els...)
		default:
			p.setEls[k] = append(p.setEls[k], els)
		}
	}
	return nil
}

// resolveSets builds the named sets of the types the model reads.
func (p *nftjParser) resolveSets() {
	for k, typ := range p.setTyp {
		v := &nftSetVal{}
		ok := false
		switch typ {
		case "ipv4_addr", "ipv6_addr":
			v.addrs, ok = jAddrs(p.setEls[k])
		case "inet_service":
			v.ports, ok = jPorts(p.setEls[k])
		}
		if !ok {
			v = nil
		}
		p.sets[k] = v
	}
}

// rule reads one rule object into its chain.
func (p *nftjParser) rule(o nftjObj) error {
	m := o.body
	bad := func(why string) error { return fmt.Errorf("%s:%d: nft JSON rule: %s", p.name, o.line, why) }
	cn := jstr(m["chain"])
	if cn == "" {
		return bad("no chain")
	}
	exprs, ok := m["expr"].([]any)
	if !ok && m["expr"] != nil {
		return bad("\"expr\" is not an array")
	}
	tk := tableKey(m)
	c := p.chainOf(tk, cn, o.line)
	r := &Rule{Pos: Pos{p.name, o.line}, Proto: AnyProto}
	var text []string
	for _, e := range exprs {
		text = append(text, jRender(e))
		p.stmt(r, tk, e)
	}
	r.Text = strings.Join(text, " ")
	if cm := jstr(m["comment"]); cm != "" {
		r.Text += " comment " + strconv.Quote(cm)
	}
	c.Rules = append(c.Rules, r)
	return nil
}

// stmt applies one statement of a rule to r.
func (p *nftjParser) stmt(r *Rule, tk string, e any) {
	m, _ := e.(map[string]any)
	if len(m) != 1 {
		r.Unknown = append(r.Unknown, jRender(e))
		return
	}
	for k, v := range m { // one key
		switch k {
		case "match":
			mm, _ := v.(map[string]any)
			p.match(r, tk, mm)
		case "counter", "log":
			// No effect on the verdict.
		case "accept":
			r.Verdict = Accept
		case "drop":
			r.Verdict = Drop
		case "return":
			r.Verdict = Return
		case "continue":
			r.Verdict = Continue
		case "reject":
			r.Verdict = Reject
		case "jump", "goto":
			tm, _ := v.(map[string]any)
			t := jstr(tm["target"])
			if t == "" {
				r.Unknown = append(r.Unknown, jRender(e))
				r.Verdict = Opaque
				return
			}
			r.Verdict, r.Target = Jump, t
			if k == "goto" {
				r.Verdict = Goto
			}
		case "queue", "vmap":
			// A verdict the model does not evaluate (or, for a verdict
			// map, one it does not resolve): what the rule matches is
			// unknown.
			r.Verdict = Opaque
		default:
			r.Unknown = append(r.Unknown, jRender(e))
		}
	}
}

// match applies a match expression to r.
func (p *nftjParser) match(r *Rule, tk string, m map[string]any) {
	text := jRender(map[string]any{"match": m})
	unknown := func() { r.Unknown = append(r.Unknown, text) }
	setFam := func(f int) {
		if r.Family != 0 && r.Family != f {
			r.NotNew = true // ip and ip6 matches in one rule: nothing matches
		}
		r.Family = f
	}
	op := jstr(m["op"])
	var neg bool
	switch op {
	case "", "==", "in":
	case "!=":
		neg = true
	case "<", "<=", ">", ">=":
	default:
		unknown()
		return
	}
	left, _ := m["left"].(map[string]any)
	right := m["right"]
	named := func() (*nftSetVal, bool) {
		s, ok := right.(string)
		if !ok || !strings.HasPrefix(s, "@") {
			return nil, false
		}
		return p.sets[tk+"\x00"+s[1:]], true
	}
	if cc, ok := left["concat"].([]any); ok {
		// Not evaluated, but an ip or ip6 header field in it still
		// limits the rule to that family, as in the text form.
		for _, e := range cc {
			em, _ := e.(map[string]any)
			pl, _ := em["payload"].(map[string]any)
			switch jstr(pl["protocol"]) {
			case "ip":
				setFam(4)
			case "ip6":
				setFam(6)
			}
		}
		unknown()
		return
	}
	switch {
	case left["payload"] != nil:
		pl, _ := left["payload"].(map[string]any)
		proto, field := jstr(pl["protocol"]), jstr(pl["field"])
		switch {
		case (proto == "ip" || proto == "ip6") && (field == "saddr" || field == "daddr"):
			f := 4
			if proto == "ip6" {
				f = 6
			}
			setFam(f)
			var set *AddrSet
			ok := false
			if nv, isNamed := named(); isNamed {
				if nv != nil && nv.addrs != nil {
					set, ok = nv.addrs, true
				}
			} else if op == "" || op == "==" || op == "!=" || op == "in" {
				set, ok = jAddrs(right)
			}
			if !ok {
				unknown()
				return
			}
			if neg {
				set = set.Not()
			}
			if field == "saddr" {
				r.Src = iptAnd(r.Src, set)
			} else {
				r.Dst = iptAnd(r.Dst, set)
			}
		case (proto == "tcp" || proto == "udp" || proto == "th") && (field == "dport" || field == "sport"):
			if proto != "th" {
				r.Proto &= protoOf(proto)
			}
			if field == "sport" {
				unknown()
				return
			}
			var ps *PortSet
			ok := false
			if nv, isNamed := named(); isNamed {
				if nv != nil && nv.ports != nil {
					ps, ok = nv.ports, true
				}
			} else if port, isPort := jPort(right); isPort && (op == "<" || op == "<=" || op == ">" || op == ">=") {
				ps, ok = jCompare(op, port), true
			} else {
				ps, ok = jPorts(right)
			}
			if !ok {
				unknown()
				return
			}
			if neg {
				ps = ps.Not()
			}
			r.DPorts = iptAndPorts(r.DPorts, ps)
		case proto == "ip" && field == "protocol", proto == "ip6" && field == "nexthdr":
			if proto == "ip" {
				setFam(4)
			} else {
				setFam(6)
			}
			p.l4proto(r, op, neg, right, unknown)
		default:
			unknown()
		}
	case left["meta"] != nil:
		mk, _ := left["meta"].(map[string]any)
		switch jstr(mk["key"]) {
		case "l4proto":
			p.l4proto(r, op, neg, right, unknown)
		case "iif", "iifname", "oif", "oifname":
			// Another host's packets never use the loopback interface.
			if w, ok := jWords(right); ok && len(w) == 1 && w[0] == "lo" && (op == "" || op == "==" || op == "!=") {
				r.NotNew = r.NotNew || !neg
				return
			}
			unknown()
		case "nfproto":
			w, ok := jWords(right)
			if !ok || neg || len(w) != 1 {
				unknown()
				return
			}
			switch w[0] {
			case "ipv4":
				setFam(4)
			case "ipv6":
				setFam(6)
			default:
				unknown()
			}
		default:
			unknown()
		}
	case left["ct"] != nil:
		ck, _ := left["ct"].(map[string]any)
		if jstr(ck["key"]) != "state" || jstr(ck["dir"]) != "" {
			unknown()
			return
		}
		w, ok := jWords(right)
		if !ok || (op != "" && op != "==" && op != "!=" && op != "in") {
			unknown()
			return
		}
		// The first packet of a required flow is in state new.
		if slices.Contains(w, "new") == neg {
			r.NotNew = true
		}
	default:
		unknown()
	}
}

// l4proto applies a meta l4proto (ip protocol, ip6 nexthdr) match.
func (p *nftjParser) l4proto(r *Rule, op string, neg bool, right any, unknown func()) {
	w, ok := jWords(right)
	if !ok || (op != "" && op != "==" && op != "!=" && op != "in") {
		unknown()
		return
	}
	r.Proto &= l4Protos(w, neg)
}
