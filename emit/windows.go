package emit

// Shared by the Windows targets (netsh, powershell, netsh-dynamicport): the
// per-host view of a plan, the rule names both firewall targets give the
// same rules, and the text rules of cmd.exe files.

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/rpcspan/rpcspan/audit"
)

// Names and limits of the Windows Firewall targets.
const (
	// winRulePrefix starts the name of every rule rpcspan adds; the scripts
	// delete the inbound rules with this prefix before adding theirs, so
	// that a second run replaces instead of duplicating.
	winRulePrefix = "rpcspan-"
	// winGroup is the rule group of the PowerShell target.
	winGroup = "rpcspan"
	// winMaxRemote and winMaxRemoteChars bound one rule's remote address
	// list: netsh takes the list on one command line, which cmd.exe cuts at
	// 8191 characters, and very long lists are slow to match. A longer
	// list is split into several rules named ...-part1, ...-part2.
	winMaxRemote      = 200
	winMaxRemoteChars = 6000
	// winMaxDesc bounds a rule description; the policy list is cut with
	// "and N more" beyond it.
	winMaxDesc = 512
	// cmdMaxLine is cmd.exe's command line limit.
	cmdMaxLine = 8191
	// netbiosLen is the length of a NetBIOS computer name, which is what
	// COMPUTERNAME holds: longer host names are cut there.
	netbiosLen = 15
)

// checkWinHostName refuses a host name that is not safe inside a cmd.exe
// or PowerShell line, a label or a file name. audit.ValidHostName already
// allows only these characters; this is checked again because an Input can
// be built without ingest.
func checkWinHostName(name string) error {
	if name == "" {
		return fmt.Errorf("empty host name")
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return fmt.Errorf("host name %q: only letters, digits, '.', '-' and '_' can be written into Windows scripts", name)
		}
	}
	if err := audit.ValidHostName(name); err != nil {
		return err
	}
	return nil
}

// computerName returns what COMPUTERNAME holds on host: the first label of
// the name, upper-case, cut to the 15 characters of a NetBIOS name. The
// comparison in the scripts is case-insensitive anyway; upper case only
// makes the generated text look like what Windows shows.
func computerName(host string) string {
	n, _, _ := strings.Cut(host, ".")
	if len(n) > netbiosLen {
		n = n[:netbiosLen]
	}
	return strings.ToUpper(n)
}

// winIndex is the per-host view of a plan: every destination host with the
// plan rules (indexes into Plan.Rules) that name it.
type winIndex struct {
	hosts   []string         // destination host names, sorted like Estate.Hosts
	byLower map[string][]int // lower-case host name -> plan rule indexes, ascending
}

// winIndexCache keeps the index of the last plan: with --out-dir, EmitHost
// runs once per host, and rebuilding the index each time would make writing
// n files cost n × (all destinations of the plan).
var winIndexCache struct {
	sync.Mutex
	plan  *audit.Plan
	rules int
	idx   *winIndex
}

// planIndex returns the per-host view of plan.
func planIndex(plan *audit.Plan) *winIndex {
	if plan == nil {
		return &winIndex{byLower: map[string][]int{}}
	}
	winIndexCache.Lock()
	defer winIndexCache.Unlock()
	if winIndexCache.plan == plan && winIndexCache.rules == len(plan.Rules) {
		return winIndexCache.idx
	}
	idx := buildWinIndex(plan)
	winIndexCache.plan, winIndexCache.rules, winIndexCache.idx = plan, len(plan.Rules), idx
	return idx
}

func buildWinIndex(plan *audit.Plan) *winIndex {
	idx := &winIndex{byLower: map[string][]int{}}
	type named struct{ lower, name string }
	var names []named
	for i, r := range plan.Rules {
		for _, h := range r.DestHosts {
			l := strings.ToLower(h)
			list, seen := idx.byLower[l]
			if !seen {
				names = append(names, named{l, h})
			}
			if len(list) == 0 || list[len(list)-1] != i {
				idx.byLower[l] = append(list, i)
			}
		}
	}
	slices.SortFunc(names, func(a, b named) int {
		if c := strings.Compare(a.lower, b.lower); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
	})
	idx.hosts = make([]string, len(names))
	for i, n := range names {
		idx.hosts[i] = n.name
	}
	return idx
}

// rules returns the plan rules of host (case-insensitive).
func (x *winIndex) rules(host string) []int { return x.byLower[strings.ToLower(host)] }

// firewallHosts returns the destination hosts that get Windows Firewall
// rules, and those skipped because their OS is not Windows (a Samba
// server's rules belong in iptables or nftables).
func firewallHosts(in *Input) (hosts, skipped []string) {
	for _, h := range planIndex(in.Plan).hosts {
		if nonWindows(in, h) {
			skipped = append(skipped, h)
			continue
		}
		hosts = append(hosts, h)
	}
	return hosts, skipped
}

// hostRules is a destination host with its plan rules.
type hostRules struct {
	name  string
	rules []int // indexes into Plan.Rules
}

// hostGroup is the hosts that get exactly the same rules: Windows Firewall
// rules name no local address, so one section serves them all and the
// combined file grows with the distinct rule sets, not with the hosts.
type hostGroup struct {
	hosts []string // in the order of the input
	first int      // index of the first host in the input
	rules []int
}

// groupHosts groups hosts with identical rule lists, in order of first
// appearance.
func groupHosts(hosts []hostRules) []*hostGroup {
	var groups []*hostGroup
	byKey := map[string]*hostGroup{}
	for i, h := range hosts {
		var k strings.Builder
		for _, r := range h.rules {
			k.WriteString(strconv.Itoa(r))
			k.WriteByte(',')
		}
		g, ok := byKey[k.String()]
		if !ok {
			g = &hostGroup{first: i, rules: h.rules}
			byKey[k.String()] = g
			groups = append(groups, g)
		}
		g.hosts = append(g.hosts, h.name)
	}
	return groups
}

// name describes the group in comments and messages.
func (g *hostGroup) name() string {
	if len(g.hosts) == 1 {
		return g.hosts[0]
	}
	return g.hosts[0] + " and " + strconv.Itoa(len(g.hosts)-1) + " more " + winPlural(len(g.hosts)-1, "host", "hosts") + " with the same rules"
}

// prepareFirewall does everything that can fail before a firewall target
// writes its file for every host: it checks the host names, renders each
// plan rule once with render, and counts each host's Windows rules.
func prepareFirewall(in *Input, render func(*winRule) ([]string, error)) (hosts []hostRules, skipped []string, rs *winRuleSet, counts []int, err error) {
	idx := planIndex(in.Plan)
	names, skipped := firewallHosts(in)
	if err := checkComputerNames(names); err != nil {
		return nil, nil, nil, nil, err
	}
	rs = newWinRuleSet(in.Plan, in.Opt.WindowsKeywords, render)
	hosts = make([]hostRules, len(names))
	counts = make([]int, len(names))
	for i, h := range names {
		if err := checkWinHostName(h); err != nil {
			return nil, nil, nil, nil, err
		}
		hosts[i] = hostRules{h, idx.rules(h)}
		if counts[i], err = rs.countRules(hosts[i].rules); err != nil {
			return nil, nil, nil, nil, err
		}
	}
	return hosts, skipped, rs, counts, nil
}

// prepareFirewallHost is prepareFirewall for the file of one host.
func prepareFirewallHost(in *Input, host string, render func(*winRule) ([]string, error)) (*winRuleSet, int, error) {
	if err := checkWinHostName(host); err != nil {
		return nil, 0, err
	}
	rules := planIndex(in.Plan).rules(host)
	if len(rules) == 0 {
		return nil, 0, fmt.Errorf("host %s: no rules in the plan", host)
	}
	if nonWindows(in, host) {
		return nil, 0, fmt.Errorf("host %s: not Windows (%s): no Windows Firewall rules", host, hostOS(in, host))
	}
	rs := newWinRuleSet(in.Plan, in.Opt.WindowsKeywords, render)
	n, err := rs.countRules(rules)
	return rs, n, err
}

// nonWindows reports whether the estate says host runs something else
// than Windows.
func nonWindows(in *Input, host string) bool {
	if in.Estate == nil {
		return false
	}
	h, ok := in.Estate.Lookup(host)
	return ok && audit.NonWindows(h.OS)
}

// hostOS returns the OS the estate gives host, or "".
func hostOS(in *Input, host string) string {
	if in.Estate == nil {
		return ""
	}
	if h, ok := in.Estate.Lookup(host); ok {
		return h.OS
	}
	return ""
}

// checkComputerNames refuses hosts that COMPUTERNAME cannot tell apart
// (dc01.a.example and dc01.b.example are both DC01): in a file for every
// host, both sections would apply on both hosts.
func checkComputerNames(hosts []string) error {
	seen := make(map[string]string, len(hosts))
	for _, h := range hosts {
		cn := computerName(h)
		if prev, ok := seen[cn]; ok {
			return fmt.Errorf("hosts %s and %s both have the computer name %s, which a script cannot tell apart: write one file per host (--out-dir)", prev, h, cn)
		}
		seen[cn] = h
	}
	return nil
}

// winKeyword says which Windows Firewall port keyword replaces a rule's
// port numbers.
type winKeyword int

const (
	kwNone   winKeyword = iota
	kwEPMap             // RPC-EPMap (netsh), RPCEPMap (PowerShell): the endpoint mapper
	kwRPCDyn            // RPC: the ports RPC servers listen on
)

// winRule is one Windows Firewall inbound rule: a part of one plan rule.
// Its text does not depend on the destination host (the rule sits on the
// host, so the destination is implicit), which is why every host of a plan
// rule shares it and each target renders it once.
type winRule struct {
	name     string // rpcspan-N-SERVICE-ipvF[-epm][-partK]
	family   int
	proto    string // "tcp" or "udp"
	ports    []audit.PortRange
	keyword  winKeyword
	epm      bool     // the endpoint-mapper rule (port 135) of rpc or rpc-udp
	remote   []string // addresses and prefixes, as Windows takes them
	planRule int      // 1-based, as rpcspan flows numbers the rules
	part     int      // 1-based; parts is 1 when the rule is not split
	parts    int
	service  string
	policies []string
}

// winRuleSet renders the plan rules the hosts use, each plan rule once, on
// first use: every host of a plan rule gets the same text, so a section is
// a copy of lines made once rather than made again per host.
type winRuleSet struct {
	plan     *audit.Plan
	keywords bool
	render   func(*winRule) ([]string, error) // the target's lines for one rule
	done     []bool
	lines    [][]string // by plan rule: the lines of all its parts
	count    []int      // by plan rule: how many Windows rules
}

func newWinRuleSet(plan *audit.Plan, keywords bool, render func(*winRule) ([]string, error)) *winRuleSet {
	n := 0
	if plan != nil {
		n = len(plan.Rules)
	}
	return &winRuleSet{plan: plan, keywords: keywords, render: render, done: make([]bool, n), lines: make([][]string, n), count: make([]int, n)}
}

// get returns the lines of plan rule i and the number of Windows rules
// they add.
func (s *winRuleSet) get(i int) ([]string, int, error) {
	if s.done[i] {
		return s.lines[i], s.count[i], nil
	}
	rs, err := makeWinRules(s.plan.Rules[i], i+1, s.keywords)
	if err != nil {
		return nil, 0, err
	}
	var lines []string
	for j := range rs {
		l, err := s.render(&rs[j])
		if err != nil {
			return nil, 0, err
		}
		lines = append(lines, l...)
	}
	s.done[i], s.lines[i], s.count[i] = true, lines, len(rs)
	return lines, len(rs), nil
}

// countRules returns the number of Windows rules of a host's plan rules,
// rendering them (and so finding any error) before anything is written.
func (s *winRuleSet) countRules(planRules []int) (int, error) {
	n := 0
	for _, i := range planRules {
		_, k, err := s.get(i)
		if err != nil {
			return 0, err
		}
		n += k
	}
	return n, nil
}

// write writes the lines of a host's plan rules, each with indent before
// it; countRules has rendered them.
func (s *winRuleSet) write(c *winWriter, indent string, planRules []int) {
	for _, i := range planRules {
		for _, l := range s.lines[i] {
			c.w.WriteString(indent)
			c.line(l)
		}
	}
}

// winPlural returns one or many by n.
func winPlural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// makeWinRules turns plan rule r (number n) into inbound rules: remote
// addresses are the rule's sources, local ports its ports (or a keyword).
func makeWinRules(r audit.Rule, n int, keywords bool) ([]winRule, error) {
	slug, err := serviceSlug(r.Service)
	if err != nil {
		return nil, fmt.Errorf("plan rule %d: %w", n, err)
	}
	if r.Proto != "tcp" && r.Proto != "udp" {
		return nil, fmt.Errorf("plan rule %d: protocol %q (want tcp or udp)", n, r.Proto)
	}
	if r.Family != 4 && r.Family != 6 {
		return nil, fmt.Errorf("plan rule %d: family %d (want 4 or 6)", n, r.Family)
	}
	if len(r.Ports) == 0 {
		return nil, fmt.Errorf("plan rule %d: no ports", n)
	}
	remote, err := winRemote(r.Sources, r.Family)
	if err != nil {
		return nil, fmt.Errorf("plan rule %d: %w", n, err)
	}
	if len(remote) == 0 {
		// No source: the rule allows nothing, and Windows would read an
		// empty remote list as "any".
		return nil, nil
	}
	kw := kwNone
	// Windows accepts the RPC keywords only with TCP, so rpc-udp keeps its
	// port numbers.
	if keywords && r.Service == string(audit.SvcRPC) && r.Proto == "tcp" {
		kw = kwRPCDyn
		if r.EPM {
			kw = kwEPMap
		}
	}
	base := winRulePrefix + strconv.Itoa(n) + "-" + slug + "-ipv" + strconv.Itoa(r.Family)
	if r.EPM {
		base += "-epm"
	}
	chunks := chunkRemote(remote)
	out := make([]winRule, len(chunks))
	for i, c := range chunks {
		name := base
		if len(chunks) > 1 {
			name += "-part" + strconv.Itoa(i+1)
		}
		out[i] = winRule{name: name, family: r.Family, proto: r.Proto, ports: r.Ports, keyword: kw, epm: r.EPM, remote: c,
			planRule: n, part: i + 1, parts: len(chunks), service: r.Service, policies: r.Policies}
	}
	return out, nil
}

// serviceSlug returns the service as a rule-name part: "rpc", "rpc-udp",
// "tcp-445", "udp-53-60".
func serviceSlug(svc string) (string, error) {
	s := strings.ReplaceAll(strings.ToLower(svc), "/", "-")
	if s == "" || strings.Trim(s, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
		return "", fmt.Errorf("service %q cannot be part of a rule name", svc)
	}
	return s, nil
}

// winRemote formats the sources of one family as Windows takes them: a
// single address bare, others as prefixes. A /0 becomes its two halves:
// "any" would also match the other family, and not every Windows version
// accepts a zero-length subnet.
func winRemote(srcs []netip.Prefix, family int) ([]string, error) {
	out := make([]string, 0, len(srcs))
	for _, p := range srcs {
		if !p.IsValid() {
			return nil, fmt.Errorf("invalid source prefix %v", p)
		}
		p = p.Masked()
		f := 4
		if p.Addr().Is6() {
			f = 6
		}
		if f != family {
			return nil, fmt.Errorf("source %s is not IPv%d", p, family)
		}
		switch {
		case p.Addr().Zone() != "":
			return nil, fmt.Errorf("source %s has a zone", p)
		case p.IsSingleIP():
			out = append(out, p.Addr().String())
		case p.Bits() == 0 && p.Addr().Is4():
			out = append(out, "0.0.0.0/1", "128.0.0.0/1")
		case p.Bits() == 0:
			out = append(out, "::/1", "8000::/1")
		default:
			out = append(out, p.String())
		}
	}
	return out, nil
}

// chunkRemote splits a remote list into parts of at most winMaxRemote
// entries and winMaxRemoteChars characters (commas included).
func chunkRemote(remote []string) [][]string {
	var out [][]string
	start, size := 0, 0
	for i, a := range remote {
		add := len(a)
		if i > start {
			add++ // the comma
		}
		if i > start && (i-start >= winMaxRemote || size+add > winMaxRemoteChars) {
			out = append(out, remote[start:i])
			start, size, add = i, 0, len(a)
		}
		size += add
	}
	return append(out, remote[start:])
}

// portList returns ports as Windows writes them: "135,49152-65535".
func portList(ports []audit.PortRange) string {
	parts := make([]string, len(ports))
	for i, p := range ports {
		parts[i] = p.String()
	}
	return strings.Join(parts, ",")
}

// description returns a rule's description with the policy names passed
// through safe (the target's escaping): "rpcspan plan rule 3, rpc over
// IPv4 TCP, policies: a, b".
func (r *winRule) description(safe func(string) (string, error)) (string, error) {
	var b strings.Builder
	b.WriteString("rpcspan plan rule " + strconv.Itoa(r.planRule))
	if r.parts > 1 {
		b.WriteString(" part " + strconv.Itoa(r.part) + " of " + strconv.Itoa(r.parts))
	}
	b.WriteString(", " + r.service + " over IPv" + strconv.Itoa(r.family) + " " + strings.ToUpper(r.proto))
	if r.epm {
		b.WriteString(" endpoint mapper")
	}
	b.WriteString(", policies: ")
	for i, p := range r.policies {
		s, err := safe(p)
		if err != nil {
			return "", fmt.Errorf("plan rule %d: policy name: %w", r.planRule, err)
		}
		if i > 0 {
			s = ", " + s
		}
		if b.Len()+len(s) > winMaxDesc-20 {
			more := "and " + strconv.Itoa(len(r.policies)-i) + " more"
			if i > 0 {
				more = " " + more
			}
			b.WriteString(more)
			break
		}
		b.WriteString(s)
	}
	return b.String(), nil
}

// cmdSafe makes untrusted text safe inside a double-quoted argument of a
// .cmd file. Quoting is not enough there: cmd.exe expands %VAR% (and !VAR!
// under delayed expansion) inside quotes, a " would end the argument, and
// & | < > ^ act as soon as the quotes are off. These become '_'; line
// breaks and other control characters become '_' too, and anything beyond
// ASCII '?', because cmd.exe reads the file in the console's code page,
// not UTF-8. A backslash becomes '/' so that it cannot escape a closing
// quote for netsh's argument parser.
func cmdSafe(s string) string { return cmdMap(s, false) }

// cmdSafeOK is cmdSafe for description, which never fails.
func cmdSafeOK(s string) (string, error) { return cmdSafe(s), nil }

// cmdComment returns text safe for a REM line. cmd.exe expands %VAR% even
// there, and a trailing ^ would continue the comment onto the next line, so
// the same characters as in cmdSafe are replaced; backslashes are kept (a
// comment has no closing quote) and double quotes, which audit writes
// around OS names, are dropped.
func cmdComment(s string) string { return cmdMap(s, true) }

func cmdMap(s string, comment bool) string {
	// Most text needs no change; checking first saves building a copy.
	clean := true
	for i := 0; i < len(s) && clean; i++ {
		c := s[i]
		clean = c >= 0x20 && c <= 0x7e && !cmdSpecial[c] && c != '"' && (comment || c != '\\')
	}
	if clean {
		return s
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r < 0x20 || r == 0x7f:
			return '_'
		case r > 0x7e:
			return '?'
		case r == '"' && comment:
			return -1
		case r == '"' || cmdSpecial[r]:
			return '_'
		case r == '\\' && !comment:
			return '/'
		}
		return r
	}, s)
}

// cmdSpecial marks the characters cmd.exe acts on in a quoted argument or
// a comment (besides the double quote itself).
var cmdSpecial = [128]bool{'%': true, '!': true, '^': true, '&': true, '|': true, '<': true, '>': true}

// winWriter writes the text of a Windows script with CRLF line ends:
// cmd.exe needs them to find goto labels reliably, and Notepad on older
// Windows shows a file without them as one line. Output is buffered and
// streamed, since a file for 100,000 hosts is large; a write error sticks
// and comes back from flush.
type winWriter struct{ w *bufio.Writer }

func newWinWriter(w io.Writer) *winWriter { return &winWriter{bufio.NewWriterSize(w, 64<<10)} }

// line writes one line (without its line end).
func (c *winWriter) line(s string) {
	c.w.WriteString(s)
	c.w.WriteString("\r\n")
}

// lines writes text made of \n-terminated lines, such as header's.
func (c *winWriter) lines(s string) {
	for l := range strings.Lines(s) {
		c.line(strings.TrimRight(l, "\r\n"))
	}
}

// rem writes a REM line of untrusted text.
func (c *winWriter) rem(s string) { c.line(strings.TrimRight("REM "+cmdComment(s), " ")) }

// flush writes what is buffered and returns the first write error.
func (c *winWriter) flush() error { return c.w.Flush() }

// hostLabel returns the label of the i-th host section (0-based). Labels
// have one width so that none is a prefix of another; host names are not
// used, to keep label rules out of the question.
func hostLabel(i, n int) string {
	w := max(6, len(strconv.Itoa(n)))
	s := strconv.Itoa(i + 1)
	return "rpcspan_host_" + strings.Repeat("0", w-len(s)) + s
}
