package ingest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"go.yaml.in/yaml/v3"

	"github.com/rpcspan/rpcspan/audit"
)

// Aliases may make a YAML document at most yamlAliasFactor times its own
// number of values plus yamlAliasAllowance: enough for every host to merge
// shared defaults ("<<: *defaults"), far too little for a "billion laughs"
// bomb.
const (
	yamlAliasFactor    = 10
	yamlAliasAllowance = 100_000
)

// yamlMaxSize is the largest YAML or JSON inventory read: yaml.v3 keeps a
// node of about 170 bytes per value, so a realistic 100,000-host inventory
// (15 MB) takes about 1 s and 350 MB; 32 MiB bounds that at about 800 MB.
// Larger estates split their inventory into several files.
const yamlMaxSize = 32 << 20

// yamlMaxValues bounds the separators (",", ":" and line ends) of a YAML
// or JSON inventory, and so its values: about 4 million, some 700 MB of
// nodes. A 100,000-host inventory has about 1.3 million.
const yamlMaxValues = 4 << 20

// The keys an inventory accepts, in the order problem messages list them.
var (
	invTopKeys    = []string{"baseline", "hosts", "policy"}
	invHostKeys   = []string{"name", "addresses", "groups", "os", "apps", "dynamic", "rpc_ports", "excluded", "captures"}
	invPolicyKeys = []string{"name", "from", "to", "services"}
)

// ReadInventory reads an inventory in YAML, or the same structure in JSON:
//
//	baseline: 49152-65535          # or a mapping of tcp, udp, tcp4, udp4, tcp6, udp6
//	hosts:
//	  - name: DC01
//	    addresses: [10.1.0.10, "fd00:1::10"]
//	    groups: [dc]
//	    os: Windows Server 2019
//	    apps: [exchange-2007]
//	    dynamic: {tcp: 49152-65535, udp: 49152+16384}
//	    rpc_ports: [5000-5100, 5984]
//	    excluded: {tcp: [50000-50059]}
//	    captures: [captures/DC01/]
//	policy:
//	  - {name: dc-replication, from: [group:dc], to: [group:dc], services: [rpc]}
//
// Every value keeps the line it was written on. A file that is not YAML at
// all, is larger than 8 MiB, has a top level that is not a mapping, or has
// aliases that refer to themselves or expand beyond reason (an alias bomb)
// sets Result.Fatal, naming the file and line; a bad value inside
// a readable file is a Problem and reading goes on. A host without a valid
// name is skipped (with a problem saying so); a repeated host name is a
// problem and its facts are merged into the first entry. The error is only
// for failures to read r.
func ReadInventory(r io.Reader, file string) (*Result, error) {
	b, err := readAll(r, file)
	if err != nil {
		return nil, err
	}
	return parseInventory(Decode(b), file), nil
}

// invRangeKeys reads a key of dynamic, excluded or baseline. Keys are lower
// case like every other key of the file; generic tells "tcp" and "udp"
// (both families) from the family-specific keys.
func invRangeKeys(s string) (keys []audit.Key, generic bool, err error) {
	if low := strings.ToLower(s); low != s {
		if _, err := audit.ParseKeys(low); err == nil {
			return nil, false, fmt.Errorf("unknown range key %q (keys are lower case: %q)", s, low)
		}
	}
	keys, err = audit.ParseKeys(s)
	return keys, s == "tcp" || s == "udp", err
}

// yamlInv reads the node tree of a YAML or JSON inventory.
type yamlInv struct {
	*invReader
}

func parseInventory(text, file string) *Result {
	v := newInvReader(file, KindInventory)
	if len(text) > yamlMaxSize {
		return v.fatal(audit.Problem{Src: audit.Source{File: file},
			Msg: fmt.Sprintf("%d bytes: an inventory may have at most %d MiB; split it into several files", len(text), yamlMaxSize>>20)})
	}
	// Every value costs yaml.v3 a node; separators bound their number
	// before parsing, so that a flat list of millions cannot take gigabytes.
	if n := strings.Count(text, ",") + strings.Count(text, "\n") + strings.Count(text, ":"); n > yamlMaxValues {
		return v.fatal(audit.Problem{Src: audit.Source{File: file},
			Msg: fmt.Sprintf("about %d values: an inventory may have at most %d; split it into several files", n, yamlMaxValues)})
	}
	text = jsonUnescapeSlash(text)
	dec := yaml.NewDecoder(strings.NewReader(text))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) { // empty, or only comments
			return v.result()
		}
		return v.fatal(yamlProblem(file, text, err))
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		if n := yamlDocRoot(&next); n != nil && !yamlIsNull(n) {
			v.problem(n.Line, "", "a second YAML document starts here; only the first is read")
		}
	case !errors.Is(err, io.EOF):
		return v.fatal(yamlProblem(file, text, err))
	}
	if err := yamlCheckAliases(&doc, file); err != nil {
		return v.fatal(err)
	}
	root := yamlDocRoot(&doc)
	if root == nil || yamlIsNull(root) {
		return v.result()
	}
	if root.Kind != yaml.MappingNode {
		return v.fatal(audit.Problem{Src: v.src(root.Line), Msg: fmt.Sprintf("top level is %s, want a mapping of %s", yamlKind(root), invOrList(invTopKeys))})
	}
	y := yamlInv{v}
	for _, p := range y.pairs(root, "") {
		switch p.key {
		case "baseline":
			y.baseline(p)
		case "hosts":
			for _, n := range y.list(p, "") {
				y.host(n)
			}
		case "policy":
			y.res.PolicySet = true
			for _, n := range y.list(p, "") {
				y.rule(n)
			}
		default:
			y.unknownKey(p, "", "top-level", invTopKeys)
		}
	}
	return v.result()
}

// yamlDocRoot returns the content of a document node, aliases resolved.
func yamlDocRoot(doc *yaml.Node) *yaml.Node {
	if doc.Kind != yaml.DocumentNode {
		return yamlResolve(doc)
	}
	if len(doc.Content) == 0 {
		return nil
	}
	return yamlResolve(doc.Content[0])
}

// yamlProblem turns a yaml error ("yaml: line 7: did not find expected
// key") into "inventory.yaml:7: did not find expected key". yaml.v3 counts
// the lines of its parser errors from 0 (the line where the enclosing list
// or mapping starts) and of its scanner errors from 1; both become 1-based
// here. For JSON, encoding/json names the exact line and character.
func yamlProblem(file, text string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, tail, ok := strings.Cut(rest, ": "); ok {
			if n, err := strconv.Atoi(num); err == nil {
				line, msg = n, tail
			}
		}
	}
	switch {
	case yamlParserError(msg):
		line++
	case strings.Contains(msg, "control characters"):
		line = yamlControlLine(text)
	case strings.HasPrefix(msg, "unknown anchor '"):
		// The parser names the anchor but not the line of the alias.
		name, _, _ := strings.Cut(strings.TrimPrefix(msg, "unknown anchor '"), "'")
		if i := strings.Index(text, "*"+name); i >= 0 && name != "" {
			line = 1 + strings.Count(text[:i], "\n")
		}
	}
	// An error at the end of the text lies after its last line end.
	if last := len(SplitLines(text)); line > last {
		line = last
	}
	if jsonLike(text) {
		var v any
		var se *json.SyntaxError
		if err := json.Unmarshal([]byte(text), &v); errors.As(err, &se) {
			off := min(max(int(se.Offset)-1, 0), len(text))
			line, msg = 1+strings.Count(text[:off], "\n"), se.Error()
		}
	}
	return audit.Problem{Src: audit.Source{File: file, Line: line}, Msg: msg}
}

// yamlParserErrors are the messages of yaml.v3's parser (as opposed to its
// scanner), whose line numbers start at 0.
var yamlParserErrors = []string{
	"did not find expected ',' or ']'",
	"did not find expected ',' or '}'",
	"did not find expected '-' indicator",
	"did not find expected <document start>",
	"did not find expected <stream-start>",
	"did not find expected key",
	"did not find expected node content",
	"found duplicate %TAG directive",
	"found duplicate %YAML directive",
	"found incompatible YAML document",
	"found undefined tag handle",
}

func yamlParserError(msg string) bool { return slices.Contains(yamlParserErrors, msg) }

// jsonLike reports whether text starts like JSON rather than YAML.
func jsonLike(text string) bool {
	t := strings.TrimLeft(text, " \t\n\uFEFF")
	return strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[")
}

// yamlControlLine returns the line of the first character YAML refuses, which
// its error message does not name.
func yamlControlLine(text string) int {
	line := 1
	for _, c := range text {
		switch {
		case c == '\n':
			line++
		case c == '\t':
		case unicode.IsControl(c) && c != 0x85:
			return line
		}
	}
	return 0
}

// jsonUnescapeSlash turns JSON's "\/" into "/" inside strings: JSON allows
// that escape and some encoders write it, YAML does not know it. Line
// numbers do not change.
func jsonUnescapeSlash(text string) string {
	if !jsonLike(text) || !strings.Contains(text, `\/`) {
		return text
	}
	var b strings.Builder
	b.Grow(len(text))
	inString := false
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case c == '"':
			inString = !inString
		case c == '\\' && inString && i+1 < len(text):
			if text[i+1] == '/' {
				continue // drop the backslash, keep the slash
			}
			b.WriteByte(c)
			i++
			c = text[i]
		}
		b.WriteByte(c)
	}
	return b.String()
}

// yamlCheckAliases refuses a document whose aliases refer to the value holding
// them (reading it would never end) or expand it far beyond its size (an
// alias bomb). Decoding into yaml.Node does not expand aliases, so yaml.v3's
// own limit does not apply; the walk over the tree would.
func yamlCheckAliases(doc *yaml.Node, file string) error {
	s := yamlSizer{memo: map[*yaml.Node]int{}, active: map[*yaml.Node]bool{}}
	total := s.size(doc)
	if s.cycle != nil {
		return audit.Problem{Src: audit.Source{File: file, Line: s.cycle.Line},
			Msg: fmt.Sprintf("alias *%s refers to a value that contains it", invShort(s.cycle.Value))}
	}
	if limit := yamlAliasFactor*s.raw + yamlAliasAllowance; total > limit {
		return audit.Problem{Src: audit.Source{File: file},
			Msg: fmt.Sprintf("aliases expand %d values to more than %d; refusing to read the file", s.raw, limit)}
	}
	return nil
}

// yamlSizer counts the values of a node tree as written (raw) and with every
// alias expanded. Anchored values are counted once and remembered, and an
// anchor always comes before its aliases, so the count takes time linear in
// the document however far the aliases would expand.
type yamlSizer struct {
	memo   map[*yaml.Node]int  // expanded size of anchored values
	active map[*yaml.Node]bool // anchored values being counted
	cycle  *yaml.Node          // an alias inside the value it names
	raw    int
}

const yamlSizeCap = 1 << 50 // counts saturate here instead of overflowing

func (s *yamlSizer) size(n *yaml.Node) int {
	if n == nil {
		return 0
	}
	if n.Kind == yaml.AliasNode {
		s.raw++
		t := n.Alias
		switch {
		case t == nil:
			return 1
		case s.active[t]:
			if s.cycle == nil {
				s.cycle = n
			}
			return yamlSizeCap
		}
		if v, ok := s.memo[t]; ok {
			return v
		}
		return s.size(t)
	}
	s.raw++
	if n.Anchor != "" {
		s.active[n] = true
	}
	total := 1
	for _, c := range n.Content {
		total = min(total+s.size(c), yamlSizeCap)
	}
	if n.Anchor != "" {
		delete(s.active, n)
		s.memo[n] = total
	}
	return total
}

// yamlResolve follows aliases to the value they name.
func yamlResolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

func yamlIsNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// yamlKind says what a node is, quoting scalars.
func yamlKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if yamlIsNull(n) {
			return "nothing"
		}
		return strconv.Quote(invShort(n.Value))
	}
	return "an alias"
}

// yamlPair is one key of a mapping with its value, aliases resolved.
type yamlPair struct {
	key  string
	line int // of the key
	val  *yaml.Node
}

// pairs lists the keys of m in order. Merge keys ("<<: *defaults") add the
// keys m does not give itself; a repeated key is a problem and is ignored.
func (y yamlInv) pairs(m *yaml.Node, host string) []yamlPair {
	out := make([]yamlPair, 0, len(m.Content)/2)
	var merged []yamlPair
	seen := make(map[string]int, len(m.Content)/2)
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, val := yamlResolve(m.Content[i]), yamlResolve(m.Content[i+1])
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			merged = append(merged, y.merge(val, host)...)
			continue
		}
		if k.Kind != yaml.ScalarNode {
			y.problem(k.Line, host, "a key must be text, got %s", yamlKind(k))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			y.problem(k.Line, host, "key %q given twice (first at line %d); this one is ignored", invShort(k.Value), first)
			continue
		}
		seen[k.Value] = k.Line
		out = append(out, yamlPair{k.Value, k.Line, val})
	}
	for _, p := range merged {
		if _, ok := seen[p.key]; !ok {
			seen[p.key] = p.line
			out = append(out, p)
		}
	}
	return out
}

// merge returns the keys a merge key adds: those of a mapping, or of a
// list of mappings where the first to give a key wins.
func (y yamlInv) merge(n *yaml.Node, host string) []yamlPair {
	switch n.Kind {
	case yaml.MappingNode:
		return y.pairs(n, host)
	case yaml.SequenceNode:
		var out []yamlPair
		for _, c := range n.Content {
			if c = yamlResolve(c); c.Kind != yaml.MappingNode {
				y.problem(c.Line, host, "<<: want a mapping to merge, got %s", yamlKind(c))
				continue
			}
			out = append(out, y.pairs(c, host)...)
		}
		return out
	}
	y.problem(n.Line, host, "<<: want a mapping or a list of mappings to merge, got %s", yamlKind(n))
	return nil
}

func (y yamlInv) unknownKey(p yamlPair, host, what string, want []string) {
	if low := strings.ToLower(p.key); low != p.key {
		for _, w := range want {
			if w == low {
				y.problem(p.line, host, "unknown %s key %q (keys are lower case: %q)", what, invShort(p.key), low)
				return
			}
		}
	}
	y.problem(p.line, host, "unknown %s key %q (want %s)", what, invShort(p.key), invOrList(want))
}

// list returns the items of a list value; a single value stands for a list
// of one, and nothing for an empty list.
func (y yamlInv) list(p yamlPair, host string) []*yaml.Node {
	switch n := p.val; n.Kind {
	case yaml.SequenceNode:
		out := make([]*yaml.Node, 0, len(n.Content))
		for _, c := range n.Content {
			out = append(out, yamlResolve(c))
		}
		return out
	case yaml.ScalarNode:
		if yamlIsNull(n) {
			return nil
		}
		return []*yaml.Node{n}
	}
	y.problem(p.val.Line, host, "%s: want a list, got %s", p.key, yamlKind(p.val))
	return nil
}

// text returns the text of a scalar value.
func (y yamlInv) text(n *yaml.Node, what, host string) (string, bool) {
	if n.Kind != yaml.ScalarNode || yamlIsNull(n) {
		y.problem(n.Line, host, "%s: want text, got %s", what, yamlKind(n))
		return "", false
	}
	return n.Value, true
}

// portRange reads a range value. YAML types a bare port ("tcp: 5000") as
// an integer, which may be written in hex or octal; anything else is text
// for audit.ParseRange.
func (y yamlInv) portRange(n *yaml.Node, what, host string) (audit.PortRange, bool) {
	if n.Kind != yaml.ScalarNode || yamlIsNull(n) {
		y.problem(n.Line, host, "%s: want a port range, got %s", what, yamlKind(n))
		return audit.PortRange{}, false
	}
	if n.ShortTag() == "!!int" && strings.TrimLeft(n.Value, "0123456789") != "" {
		var i int64
		if err := n.Decode(&i); err == nil {
			if i < 0 || i > 65535 {
				y.problem(n.Line, host, "%s: port range %q: port %d outside 0-65535", what, invShort(n.Value), i)
				return audit.PortRange{}, false
			}
			return audit.PortRange{First: uint16(i), Last: uint16(i)}, true
		}
	}
	r, err := audit.ParseRange(n.Value)
	if err != nil {
		y.problem(n.Line, host, "%s: %v", what, err)
		return audit.PortRange{}, false
	}
	return r, true
}

// yamlKeyed is one value of a dynamic, excluded or baseline mapping.
type yamlKeyed struct {
	name string // the key as written
	keys []audit.Key
	val  *yaml.Node
}

// keyed reads a mapping of range keys. A single value applies to all four
// keys. Keys for both families ("tcp") come first and family-specific ones
// ("tcp4") after, so that the specific value wins wherever they are
// written.
func (y yamlInv) keyed(p yamlPair, host string) []yamlKeyed {
	switch p.val.Kind {
	case yaml.ScalarNode:
		if yamlIsNull(p.val) {
			return nil
		}
		return []yamlKeyed{{name: p.key, keys: audit.Keys, val: p.val}}
	case yaml.MappingNode:
	default:
		y.problem(p.val.Line, host, "%s: want a mapping of tcp, udp, tcp4, udp4, tcp6 or udp6, got %s", p.key, yamlKind(p.val))
		return nil
	}
	var generic, specific []yamlKeyed
	for _, q := range y.pairs(p.val, host) {
		keys, isGeneric, err := invRangeKeys(q.key)
		if err != nil {
			y.problem(q.line, host, "%s: %v", p.key, err)
			continue
		}
		kv := yamlKeyed{name: p.key + "." + q.key, keys: keys, val: q.val}
		if isGeneric {
			generic = append(generic, kv)
		} else {
			specific = append(specific, kv)
		}
	}
	return append(generic, specific...)
}

func (y yamlInv) baseline(p yamlPair) {
	for _, kv := range y.keyed(p, "") {
		if yamlIsNull(kv.val) {
			continue
		}
		r, ok := y.portRange(kv.val, kv.name, "")
		if !ok {
			continue
		}
		if y.res.Baseline == nil {
			y.res.Baseline = map[audit.Key]audit.RangeObs{}
		}
		for _, k := range kv.keys {
			y.res.Baseline[k] = audit.RangeObs{Key: k, Range: r, Origin: audit.Declared, Src: y.src(kv.val.Line)}
		}
	}
}

func (y yamlInv) host(n *yaml.Node) {
	if n.Kind != yaml.MappingNode {
		y.problem(n.Line, "", "host skipped: want a mapping with name, addresses, ..., got %s", yamlKind(n))
		return
	}
	ps := y.pairs(n, "")
	var name *yaml.Node
	for _, p := range ps {
		if p.key == "name" {
			name = p.val
		}
	}
	switch {
	case name == nil || yamlIsNull(name):
		y.problem(n.Line, "", "host skipped: no name")
		return
	case name.Kind != yaml.ScalarNode:
		y.problem(name.Line, "", "host skipped: name: want text, got %s", yamlKind(name))
		return
	}
	e := y.addHost(name.Value, name.Line)
	if e == nil {
		return
	}
	host := e.h.Name
	for _, p := range ps {
		switch p.key {
		case "name":
		case "addresses":
			for _, a := range y.list(p, host) {
				if s, ok := y.text(a, p.key, host); ok {
					addr, err := invAddr(s)
					if err != nil {
						y.problem(a.Line, host, "%s: %v", p.key, err)
						continue
					}
					e.addAddr(addr, y.src(a.Line))
				}
			}
		case "groups":
			for _, g := range y.list(p, host) {
				if s, ok := y.text(g, p.key, host); ok {
					if err := audit.ValidGroupName(s); err != nil {
						y.problem(g.Line, host, "%s: %v", p.key, err)
						continue
					}
					e.addGroup(s)
				}
			}
		case "os":
			if yamlIsNull(p.val) {
				continue
			}
			if s, ok := y.text(p.val, p.key, host); ok {
				if err := invText(s); err != nil {
					y.problem(p.val.Line, host, "%s: %v", p.key, err)
					continue
				}
				e.setOS(s)
			}
		case "apps":
			for _, a := range y.list(p, host) {
				if s, ok := y.text(a, p.key, host); ok {
					if err := invText(s); err != nil || s == "" {
						if err == nil {
							err = errors.New("empty name")
						}
						y.problem(a.Line, host, "%s: %v", p.key, err)
						continue
					}
					e.addApp(s)
				}
			}
		case "dynamic":
			for _, kv := range y.keyed(p, host) {
				if yamlIsNull(kv.val) {
					continue
				}
				if r, ok := y.portRange(kv.val, kv.name, host); ok {
					for _, k := range kv.keys {
						e.addRange(audit.RangeObs{Key: k, Range: r, Origin: audit.Declared, Src: y.src(kv.val.Line)})
					}
				}
			}
		case "excluded":
			for _, kv := range y.keyed(p, host) {
				for _, x := range y.list(yamlPair{kv.name, kv.val.Line, kv.val}, host) {
					if r, ok := y.portRange(x, kv.name, host); ok {
						for _, k := range kv.keys {
							e.addExcluded(audit.Excluded{Key: k, Range: r, Src: y.src(x.Line)})
						}
					}
				}
			}
		case "rpc_ports":
			if yamlIsNull(p.val) {
				continue
			}
			ports := []audit.PortsEntry{}
			for _, x := range y.list(p, host) {
				if x.Kind != yaml.ScalarNode {
					y.problem(x.Line, host, "%s: want a port or range, got %s", p.key, yamlKind(x))
					continue
				}
				ports = append(ports, audit.PortsEntry{Text: x.Value, Src: y.src(x.Line)})
			}
			if p.val.Kind == yaml.MappingNode {
				continue // not a list: the problem is recorded, the restriction unknown
			}
			e.setRPCPorts(ports, y.src(p.line))
		case "captures":
			for _, c := range y.list(p, host) {
				if s, ok := y.text(c, p.key, host); ok {
					if strings.TrimSpace(s) == "" {
						y.problem(c.Line, host, "%s: empty path", p.key)
						continue
					}
					e.addCapture(s)
				}
			}
		default:
			y.unknownKey(p, host, "host", invHostKeys)
		}
	}
}

func (y yamlInv) rule(n *yaml.Node) {
	if n.Kind != yaml.MappingNode {
		y.problem(n.Line, "", "policy: want a mapping with %s, got %s", invOrList(invPolicyKeys), yamlKind(n))
		return
	}
	rule := audit.PolicyRule{Src: y.src(n.Line)}
	hasFrom, hasTo, hasServices := false, false, false
	for _, p := range y.pairs(n, "") {
		switch p.key {
		case "name":
			if s, ok := y.text(p.val, p.key, ""); ok {
				if err := invText(s); err != nil {
					y.problem(p.val.Line, "", "%s: %v", p.key, err)
					continue
				}
				rule.Name = s
			}
		case "from", "to":
			items := y.list(p, "")
			if p.key == "from" {
				hasFrom = len(items) > 0
			} else {
				hasTo = len(items) > 0
			}
			for _, x := range items {
				s, ok := y.text(x, p.key, "")
				if !ok {
					continue
				}
				sel, err := audit.ParseSelector(s)
				switch {
				case err != nil:
					y.problem(x.Line, "", "%s: %v", p.key, err)
				case p.key == "to" && sel.Kind == audit.SelPrefix:
					y.problem(x.Line, "", "to: %q: want group:NAME or host:NAME (addresses and prefixes only in from)", invShort(s))
				case p.key == "from":
					rule.From = append(rule.From, sel)
				default:
					rule.To = append(rule.To, sel)
				}
			}
		case "services":
			if yamlIsNull(p.val) {
				continue
			}
			hasServices = true
			rule.Services = []audit.Service{}
			items := y.list(p, "")
			if len(items) == 0 && p.val.Kind == yaml.SequenceNode {
				y.problem(p.val.Line, "", "services: empty list: the rule opens nothing")
			}
			for _, x := range items {
				if s, ok := y.text(x, p.key, ""); ok {
					svc, err := audit.ParseService(s)
					if err != nil {
						y.problem(x.Line, "", "%s: %v", p.key, err)
						continue
					}
					rule.Services = append(rule.Services, svc)
				}
			}
		default:
			y.unknownKey(p, "", "policy rule", invPolicyKeys)
		}
	}
	label := "policy rule"
	if rule.Name != "" {
		label += " " + strconv.Quote(rule.Name)
	}
	if !hasFrom {
		y.problem(n.Line, "", "%s: no from: it allows nothing", label)
	}
	if !hasTo {
		y.problem(n.Line, "", "%s: no to: it allows nothing", label)
	}
	if !hasServices {
		rule.Services = []audit.Service{{Kind: audit.SvcRPC}}
	}
	y.res.Policy = append(y.res.Policy, rule)
}
