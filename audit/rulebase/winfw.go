package rulebase

import (
	"fmt"
	"io"
	"strings"

	"github.com/rpcspan/rpcspan/audit"
	"github.com/rpcspan/rpcspan/audit/ingest"
)

// ParseNetshFirewall reads a host's Windows Firewall rules, as printed by
// `netsh advfirewall firewall show rule name=all [verbose]` (in any display
// language) or by Get-NetFirewallRule piped to Format-List together with
// its port, address, application and service filters, into a host rule
// base for host. The input may be UTF-16.
//
// Windows semantics: only enabled inbound rules of the active profile
// count ("domain", "private" or "public"; "" means domain), a block rule
// wins over any allow rule whatever their order, and what no allow rule
// admits is blocked. The base therefore has one chain per hook ("input"
// and "forward", so that it applies whichever hook the audit evaluates):
// every block rule, then every allow rule, then policy drop, placed where
// the listing starts. The active profile's settings (info.Profiles, from
// netsh advfirewall show allprofiles or Get-NetFirewallProfile) change
// that: a firewall that is off admits everything (policy accept, no
// rule, decided by the state line); default inbound Allow keeps the block
// rules and accepts the rest; BlockInboundAlways ignores the allow rules
// and drops; a state or default inbound action that could not be read
// makes what it may change unknown (see HostInfo.policy). The policy is
// then placed on the profile capture's line. The
// local-port keyword RPC resolves to the host's dynamic range (host.Span),
// RPC-EPMap to 135, and the address keyword LocalSubnet to the host's
// subnets (host.Subnets). A rule whose keyword stands for different
// values per address family (two dynamic ranges, or subnets captured for
// IPv4 but not IPv6) becomes one rule per family.
//
// netsh translates its labels and some values. Blocks are found by their
// line of dashes and read by position, never by label: after the line of
// dashes come [Description (verbose only)], Enabled, Direction, Profiles,
// Grouping, LocalIP, RemoteIP, Protocol, then for TCP and UDP LocalPort
// and RemotePort, then Edge traversal and (verbose) [Program], [Service],
// InterfaceTypes, Security, Rule source and, when set, remote or local
// user and computer groups, and last Action. Description is told apart by
// the values of Enabled and Direction. A value the reader does not know
// in any language (a yes, a direction, a profile, an action) makes the
// rule an unknown match rather than a guess; so do the address keywords
// that depend on the host's network other than LocalSubnet (DNS, DHCP,
// WINS, DefaultGateway, Intranet, ...), LocalSubnet of a family whose
// subnets the host does not tell, security (IPsec) requirements and user
// or computer groups.
//
// A Program or Service condition is an unknown match too. A rule limited
// to a program or service admits only traffic to sockets owned by that
// process; with LocalPort RPC it admits only the dynamic endpoints the
// endpoint mapper assigned to that program. Whether the whole span passes
// then depends on which process serves each interface, which a listing
// cannot tell. netsh prints Program and Service only in the verbose
// listing and only when set, so they are found by position between Edge
// traversal and InterfaceTypes, anchored on the Security keyword (or, when
// that is translated, counted back from Action), and a Program must look
// like a path. A service of any (netsh's service=any, the service filter's
// "*") limits the rule to services and is a condition as well; Any in
// PowerShell's filters is none. The plain listing shows neither field, so
// every rule read from it carries an unknown match that names the verbose
// command, and a rule of a Get-NetFirewallRule capture without its
// application and service filter blocks carries one that names the
// PowerShell pipeline. Reports show these matches in the rule's text.
func ParseNetshFirewall(r io.Reader, name, host string, info HostInfo, profile string) (*Base, error) {
	profile, err := checkProfile(profile)
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	text := ingest.Decode(data)
	rules, found := netshBlocks(text, name)
	if !found {
		rules, found = psBlocks(text, name)
	}
	if !found && !strings.Contains(text, "No rules match") {
		return nil, fmt.Errorf("%s: no Windows Firewall rules (netsh advfirewall or Get-NetFirewallRule output) found", name)
	}
	pol := info.policy(profile)
	var blocks, allows []*Rule
	for _, w := range rules {
		allow := allowBlock(w.action) == 1
		switch {
		case allow && !pol.allows, !allow && !pol.blocks:
			continue
		case allow && pol.allowWhy != "":
			w.unknown = append(w.unknown, pol.allowWhy)
		case !allow && pol.blockWhy != "":
			w.unknown = append(w.unknown, pol.blockWhy)
		}
		for _, rule := range w.rules(profile, info) {
			if rule.Verdict == Accept {
				allows = append(allows, rule)
			} else {
				blocks = append(blocks, rule)
			}
		}
	}
	return windowsBase(name, host, profile, pol, append(blocks, allows...)), nil
}

// windowsBase returns a host rule base with one chain per hook ("input"
// and "forward", so that it applies whichever hook the audit evaluates)
// holding rules and the policy pol. A policy of Windows' default has no
// line of its own and is placed on the file name, where the listing
// starts.
func windowsBase(name, host, profile string, pol fwPolicy, rules []*Rule) *Base {
	b := &Base{Name: name, Format: "windows", Host: host, Final: true}
	pos := pol.pos
	if pos.File == "" {
		pos = Pos{File: name}
	}
	chain := "windows firewall " + profile
	if pol.state != "" {
		chain += " (state " + pol.state + ")"
	}
	for _, hook := range []string{"input", "forward"} {
		b.Chains = append(b.Chains, &Chain{
			Pos: pos, Name: chain, Table: "windows",
			Hook: hook, Policy: pol.verdict, Rules: rules,
		})
	}
	return b
}

// WindowsProfileBase returns the rule base of a host whose Windows
// Firewall rules were not captured, from what its profile settings
// (info.Profiles) say of profile alone: nil, unless they decide every
// inbound flow whatever the rules say. That is so when the firewall is
// off (every flow is allowed, decided by the state line, which no
// rule-gap can name) and when it blocks all inbound traffic
// (BlockInboundAlways: every flow is blocked by the policy line); when
// the state is not known as well, every flow is unknown. In any other
// case the rules decide and, not captured, leave the host not evaluated.
func WindowsProfileBase(host string, info HostInfo, profile string) (*Base, error) {
	profile, err := checkProfile(profile)
	if err != nil {
		return nil, err
	}
	pol := info.policy(profile)
	if pol.blocks || pol.allows || pol.pos.File == "" {
		return nil, nil
	}
	return windowsBase(pol.pos.File, host, profile, pol, nil), nil
}

// checkProfile returns profile in lower case, "domain" for "".
func checkProfile(profile string) (string, error) {
	profile = strings.ToLower(profile)
	if profile == "" {
		profile = "domain"
	}
	if profile != "domain" && profile != "private" && profile != "public" {
		return "", fmt.Errorf("profile %q: want domain, private or public", profile)
	}
	return profile, nil
}

// fwRule is one Windows Firewall rule as read, values as written.
type fwRule struct {
	pos                                   Pos
	name                                  string
	enabled, direction, profiles, action  string
	localIP, remoteIP, proto, localPort   string
	unknown                               []string // matches found unmodelled while reading
	psStyle                               bool     // Get-NetFirewallRule: RPCEPMap, braces
	haveEnabled, haveDirection, haveProto bool
	// haveApp and haveService are set when a Get-NetFirewallRule capture
	// has the rule's application or service filter block.
	haveApp, haveService bool
}

// The texts of the unknown match of a rule whose capture does not show
// its program and service conditions, saying how to capture them.
const (
	netshNotShown = "program and service not shown (capture with: netsh advfirewall firewall show rule name=all verbose)"
	psPipeline    = "Get-NetFirewallRule | ForEach-Object { $_; $_ | Get-NetFirewallPortFilter; $_ | Get-NetFirewallAddressFilter; " +
		"$_ | Get-NetFirewallApplicationFilter; $_ | Get-NetFirewallServiceFilter } | Format-List"
)

// field is one "label: value" line.
type field struct {
	label, value string
	line         int
}

// splitField cuts a line at its first colon (ASCII or full width), the end
// of the label in every language netsh prints.
func splitField(s string) (label, value string, ok bool) {
	i := strings.IndexAny(s, ":：")
	if i < 0 {
		return "", "", false
	}
	w := 1
	if s[i] != ':' {
		w = len("：")
	}
	return strings.TrimSpace(s[:i]), strings.TrimSpace(s[i+w:]), true
}

// isDashes reports whether s is the line of dashes under a rule name.
func isDashes(s string) bool {
	s = strings.TrimSpace(s)
	return len(s) >= 10 && strings.Trim(s, "-") == ""
}

// netshBlocks reads netsh output. found is false when there is no block.
func netshBlocks(text, name string) (rules []*fwRule, found bool) {
	lines := strings.Split(text, "\n")
	for i := range lines {
		lines[i] = strings.TrimRight(lines[i], "\r")
	}
	for i := 1; i < len(lines); i++ {
		if !isDashes(lines[i]) {
			continue
		}
		_, rname, ok := splitField(lines[i-1])
		if !ok {
			continue
		}
		if i+1 < len(lines) && strings.TrimSpace(lines[i+1]) != "" {
			if _, _, field := splitField(lines[i+1]); !field {
				// "Domain Profile Settings:" over "State  ON": the
				// profile settings of a capture that holds both
				// (netsh advfirewall show allprofiles), not a rule.
				continue
			}
		}
		found = true
		w := &fwRule{pos: Pos{File: name, Line: i}, name: rname}
		var fs []field
		j := i + 1
		for ; j < len(lines); j++ {
			if strings.TrimSpace(lines[j]) == "" || (j+1 < len(lines) && isDashes(lines[j+1])) {
				break
			}
			if l, v, ok := splitField(lines[j]); ok {
				fs = append(fs, field{l, v, j + 1})
			}
		}
		i = j
		w.fromNetsh(fs)
		rules = append(rules, w)
	}
	return rules, found
}

// fromNetsh fills w from the fields of a block by position.
func (w *fwRule) fromNetsh(fs []field) {
	off := 0
	switch {
	case len(fs) > 1 && yesNo(fs[0].value) != 0 && inOut(fs[1].value) != 0:
	case len(fs) > 2 && yesNo(fs[1].value) != 0 && inOut(fs[2].value) != 0:
		off = 1
	case len(fs) > 0 && strings.EqualFold(fs[0].label, "Description"):
		off = 1
	}
	if len(fs) < off+8 {
		w.unknown = append(w.unknown, "incomplete block")
		return
	}
	at := func(k int) string { return fs[off+k].value }
	w.enabled, w.direction, w.profiles = at(0), at(1), at(2)
	w.localIP, w.remoteIP, w.proto = at(4), at(5), at(6)
	w.haveEnabled, w.haveDirection, w.haveProto = true, true, true
	w.action = fs[len(fs)-1].value
	// rest runs from the field after Protocol to the one before Action:
	// [LocalPort, RemotePort,] Edge traversal, then the verbose fields.
	rest := fs[off+7 : len(fs)-1]
	edge := 0
	if p := protoWord(w.proto); p == TCP || p == UDP {
		if len(rest) < 2 {
			w.unknown = append(w.unknown, "no local port")
			return
		}
		w.localPort = rest[0].value
		edge = 2
	}
	if len(rest) <= edge {
		w.unknown = append(w.unknown, "no edge traversal field")
		return
	}
	w.verbose(rest[edge+1:])
}

// securityWords are the values of the verbose Security field, which netsh
// prints as its untranslated keywords.
var securityWords = set("NotRequired", "Authenticate", "AuthEnc", "AuthDynEnc", "AuthNoEncap",
	"AuthenticateWithEncryption", "AuthenticateWithIntegrity")

// verbose reads the fields between Edge traversal and Action: none in the
// plain listing; in the verbose one [Program], [Service], InterfaceTypes,
// Security, Rule source and any user or computer groups. Program and
// Service are printed only when set, so their number k comes from the
// position of Security (k+1) or, when no Security keyword is found, from
// the count of the fields that follow them.
func (w *fwRule) verbose(tail []field) {
	if len(tail) == 0 {
		w.unknown = append(w.unknown, netshNotShown)
		return
	}
	k := -1
	for i, f := range tail {
		if securityWords[strings.ToLower(f.value)] {
			k = i - 1
			break
		}
	}
	if k < 0 {
		groups := 0
		for i := len(tail) - 1; i >= 0 && isGroup(tail[i].value); i-- {
			groups++
		}
		k = len(tail) - groups - 3 // InterfaceTypes, Security, Rule source
	}
	if k < 0 || k > 2 {
		w.unknown = append(w.unknown, "verbose fields not recognised: "+fieldList(tail))
		return
	}
	switch {
	case k == 2 && !programLike(tail[0].value):
		w.unknown = append(w.unknown, "verbose fields not recognised: "+fieldList(tail[:2]))
	case k == 2:
		w.program(tail[0].value)
		w.service(tail[1].value)
	case k == 1 && fwAny[strings.ToLower(tail[0].value)]:
		// Program any is no condition, Service any is one; only an
		// English label tells which this is.
		switch {
		case strings.EqualFold(tail[0].label, "Program"):
		case strings.EqualFold(tail[0].label, "Service"):
			w.service(tail[0].value)
		default:
			w.unknown = append(w.unknown, "program or service="+tail[0].value)
		}
	case k == 1 && programLike(tail[0].value):
		w.program(tail[0].value)
	case k == 1:
		w.service(tail[0].value)
	}
	if k < len(tail) {
		if v := tail[k].value; !fwAny[strings.ToLower(v)] {
			w.unknown = append(w.unknown, "interfacetype="+v)
		}
	}
	for _, f := range tail[min(k+1, len(tail)):] {
		w.extra(f)
	}
}

// program notes a Program condition; any program is none.
func (w *fwRule) program(v string) {
	if v != "" && !fwAny[strings.ToLower(v)] {
		w.unknown = append(w.unknown, "program="+v)
	}
}

// service notes a netsh Service condition. netsh prints the field only
// when set, and service=any means "services only" (ServiceName "*").
func (w *fwRule) service(v string) {
	if fwAny[strings.ToLower(v)] || v == "*" {
		w.unknown = append(w.unknown, "service="+v+" (services only)")
	} else if v != "" {
		w.unknown = append(w.unknown, "service="+v)
	}
}

// programLike reports whether v can be a Program value: a path (with a
// separator, an environment variable or .exe), System, or any.
func programLike(v string) bool {
	l := strings.ToLower(v)
	return strings.ContainsAny(v, `\/%`) || strings.HasSuffix(l, ".exe") || l == "system" || fwAny[l]
}

// isGroup reports whether v is an SDDL user or computer group.
func isGroup(v string) bool {
	v = strings.ToLower(v)
	return strings.HasPrefix(v, "d:(") || strings.HasPrefix(v, "o:")
}

func fieldList(fs []field) string {
	var b strings.Builder
	for i, f := range fs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(f.label + "=" + f.value)
	}
	return b.String()
}

// extra notes the verbose fields after InterfaceTypes that restrict a rule
// in ways the model does not evaluate, recognised by value where the value
// is a keyword netsh does not translate.
func (w *fwRule) extra(f field) {
	v := strings.ToLower(f.value)
	switch {
	case securityWords[v] && v != "notrequired":
		w.unknown = append(w.unknown, "security="+f.value)
	case isGroup(v):
		w.unknown = append(w.unknown, "group="+f.value)
	}
}

// psBlocks reads Get-NetFirewallRule | Format-List output: a rule block
// (with Direction) followed by the blocks of its port filter (Protocol,
// LocalPort), address filter (LocalAddress, RemoteAddress), application
// filter (Program, Package) and service filter (Service), which attach to
// the rule before them. PowerShell prints property names and enum values
// untranslated. A rule without application and service filter blocks
// gets an unknown match naming the pipeline that shows them.
func psBlocks(text, name string) (rules []*fwRule, found bool) {
	var cur *fwRule
	for i, line := range strings.Split(text, "\n") {
		l, v, ok := splitField(strings.TrimRight(line, "\r"))
		if !ok || strings.ContainsAny(l, " \t") {
			continue
		}
		v = strings.Trim(v, "{}")
		switch strings.ToLower(l) {
		case "name":
			cur = &fwRule{pos: Pos{File: name, Line: i + 1}, psStyle: true}
			rules = append(rules, cur)
		}
		if cur == nil {
			continue
		}
		switch strings.ToLower(l) {
		case "displayname":
			cur.name = v
		case "name":
			if cur.name == "" {
				cur.name = v
			}
		case "enabled":
			cur.enabled, cur.haveEnabled = v, true
		case "direction":
			cur.direction, cur.haveDirection = v, true
			found = true
		case "profile":
			cur.profiles = v
		case "action":
			cur.action = v
		case "protocol":
			cur.proto, cur.haveProto = v, true
		case "localport":
			cur.localPort = v
		case "localaddress":
			cur.localIP = v
		case "remoteaddress":
			cur.remoteIP = v
		case "security":
			cur.extra(field{l, v, i + 1})
		case "authentication", "encryption":
			if v != "" && !strings.EqualFold(v, "NotRequired") {
				cur.unknown = append(cur.unknown, strings.ToLower(l)+"="+v)
			}
		case "program":
			cur.haveApp = true
			if v != "" && v != "*" && !fwAny[strings.ToLower(v)] {
				cur.unknown = append(cur.unknown, "program="+v)
			}
		case "package":
			cur.haveApp = true
			if v != "" && v != "*" && !fwAny[strings.ToLower(v)] {
				cur.unknown = append(cur.unknown, "package="+v)
			}
		case "service":
			// Any is no condition; "*" limits the rule to services.
			cur.haveService = true
			if v == "*" {
				cur.unknown = append(cur.unknown, "service=* (services only)")
			} else if v != "" && !fwAny[strings.ToLower(v)] {
				cur.unknown = append(cur.unknown, "service="+v)
			}
		case "localuser", "remoteuser", "remotemachine":
			if !strings.EqualFold(v, "any") && v != "" {
				cur.unknown = append(cur.unknown, strings.ToLower(l)+"="+v)
			}
		}
	}
	if !found {
		return nil, false
	}
	var out []*fwRule
	for _, w := range rules {
		if !w.haveDirection {
			continue
		}
		switch {
		case !w.haveApp && !w.haveService:
			w.unknown = append(w.unknown, "program and service not shown (capture with: "+psPipeline+")")
		case !w.haveApp:
			w.unknown = append(w.unknown, "program not shown (capture with: "+psPipeline+")")
		case !w.haveService:
			w.unknown = append(w.unknown, "service not shown (capture with: "+psPipeline+")")
		}
		out = append(out, w)
	}
	return out, true
}

// rules returns w in the neutral model, none when w does not take part: a
// disabled or outbound rule, or one of other profiles only. A rule becomes
// one rule per family when a keyword stands for different things per
// family: the local-port keyword RPC when the host's IPv4 and IPv6 spans
// differ, LocalSubnet when the host's subnets are known for one family
// only (or for none: each family's unknown match then says what is
// missing for it).
func (w *fwRule) rules(profile string, host HostInfo) []*Rule {
	if !w.perFamily(host) {
		return nonNil(w.rule(profile, host, 0))
	}
	r4 := w.rule(profile, host, 4)
	if r4 == nil {
		return nil
	}
	r6 := w.rule(profile, host, 6)
	r4.Family, r6.Family = 4, 6
	return []*Rule{r4, r6}
}

func nonNil(r *Rule) []*Rule {
	if r == nil {
		return nil
	}
	return []*Rule{r}
}

// rule returns w in the neutral model, nil when w does not take part, for
// the flows of family fam (4 or 6), or of both (0) when w reads the same
// for both: the keyword RPC resolves to the host's span of fam (of IPv4
// for 0, equal to that of IPv6 then), LocalSubnet to its subnets of fam.
func (w *fwRule) rule(profile string, host HostInfo, fam int) *Rule {
	r := &Rule{Pos: w.pos, Proto: AnyProto, Unknown: w.unknown}
	r.Text = w.name + " [" + w.action + "]"
	switch yesNo(w.enabled) {
	case -1:
		return nil
	case 0:
		r.Unknown = append(r.Unknown, "enabled="+w.enabled)
	}
	switch inOut(w.direction) {
	case -1:
		return nil
	case 0:
		r.Unknown = append(r.Unknown, "direction="+w.direction)
	}
	switch inProfile(w.profiles, profile) {
	case -1:
		return nil
	case 0:
		r.Unknown = append(r.Unknown, "profiles="+w.profiles)
	}
	switch allowBlock(w.action) {
	case 1:
		r.Verdict = Accept
	case -1:
		r.Verdict = Drop
	default:
		// An unknown action (Bypass, NotConfigured, a word of a language
		// not listed) decides its part as unknown; it goes with the
		// blocks so that no allow hides it.
		r.Verdict = Opaque
	}
	if w.haveProto {
		r.Proto = protoWord(w.proto)
		if r.Proto == 0 && !isNum(w.proto) && !strings.HasPrefix(strings.ToLower(w.proto), "icmp") {
			r.Unknown = append(r.Unknown, "protocol="+w.proto)
			r.Proto = AnyProto
		}
	}
	var ok bool
	var why string
	if r.Dst, why, ok = fwAddrs(w.localIP, fam, host); !ok {
		r.Unknown = append(r.Unknown, unknownAddrs("localip", w.localIP, why))
	}
	if r.Src, why, ok = fwAddrs(w.remoteIP, fam, host); !ok {
		r.Unknown = append(r.Unknown, unknownAddrs("remoteip", w.remoteIP, why))
	}
	if r.Proto == TCP || r.Proto == UDP {
		proto := "tcp"
		if r.Proto == UDP {
			proto = "udp"
		}
		var span func(string) []audit.PortRange
		if host.Span != nil {
			spanFam := max(fam, 4)
			span = func(proto string) []audit.PortRange { return host.Span(proto, spanFam) }
		}
		if r.DPorts, ok = fwPorts(w.localPort, proto, span); !ok {
			r.Unknown = append(r.Unknown, "localport="+w.localPort)
		}
	}
	if len(r.Unknown) > 0 {
		// Reports show the text: say what was not evaluated.
		r.Text += " (not evaluated: " + strings.Join(r.Unknown, "; ") + ")"
	}
	return r
}

// The values netsh prints in the languages known here (English, German,
// French, Spanish, Portuguese, Italian, Dutch, Polish, Russian, Chinese,
// Japanese, Turkish, Hungarian, Czech, Finnish, Danish, Swedish and
// Norwegian), compared in lower case; PowerShell's True, False, Inbound,
// Outbound, Allow and Block are among them. A word not listed is unknown,
// never taken as either value.
var (
	fwYes = set("Yes", "True", "Ja", "Oui", "Sí", "Si", "Sì", "Sim", "Tak", "Да", "是", "是的", "はい",
		"Evet", "Igen", "Ano", "Kyllä")
	fwNo = set("No", "False", "Nein", "Non", "Não", "Nao", "Nie", "Нет", "否", "いいえ",
		"Hayır", "Nem", "Ne", "Ei", "Nee", "Nej", "Nei")
	fwIn = set("In", "Inbound", "Eingehend", "Entrée", "Entrant", "Entrada", "Entrante", "Dentro",
		"Entrata", "In entrata", "Ingresso", "Binnenkomend", "Inkomend", "Przychodzące", "Przychodzący",
		"Входящее", "Входящие", "Входящий", "入", "入站", "輸入", "入力", "受信",
		"Gelen", "Bejövő", "Příchozí", "Saapuva", "Indgående", "Inkommande", "Innkommende")
	fwOut = set("Out", "Outbound", "Ausgehend", "Sortie", "Sortant", "Salida", "Saliente", "Fuera", "Saída",
		"In uscita", "Uscita", "Uitgaand", "Uit", "Wychodzące", "Wychodzący",
		"Исходящее", "Исходящие", "Исходящий", "出", "出站", "輸出", "出力", "送信",
		"Giden", "Kimenő", "Odchozí", "Lähtevä", "Udgående", "Utgående")
	fwAllow = set("Allow", "Zulassen", "Autoriser", "Permitir", "Consenti", "Toestaan", "Zezwalaj",
		"Разрешить", "允许", "允許", "許可", "İzin ver", "Engedélyezés", "Engedélyez", "Povolit", "Salli",
		"Tillad", "Tillåt", "Tillat")
	fwBlock = set("Block", "Blockieren", "Bloquer", "Bloquear", "Blocca", "Blokkeren", "Blokuj",
		"Блокировать", "阻止", "封鎖", "ブロック", "Engelle", "Letiltás", "Blokkolás", "Blokovat", "Estä",
		"Bloker", "Blokér", "Blockera", "Blokker")
	fwAny = set("Any", "Beliebig", "Tout", "Tous", "Toutes", "Cualquiera", "Qualquer", "Qualsiasi",
		"Alle", "Willekeurig", "Dowolny", "Dowolne", "Любой", "Любые", "任何", "任意",
		"Herhangi", "Tümü", "Bármely", "Bármelyik", "Összes", "Libovolný", "Libovolné", "Vše",
		"Mikä tahansa", "Kaikki", "Enhver", "Alla", "Valfri")
	fwProf = profiles(map[string][]string{
		"domain": {"Domain", "Domäne", "Domaine", "Dominio", "Domínio", "Domein", "Domena",
			"Домен", "Доменный", "域", "網域", "ドメイン", "Etki Alanı", "Tartomány", "Doména", "Toimialue",
			"Domæne", "Domän", "Domene"},
		"private": {"Private", "Privat", "Privé", "Privado", "Particular", "Particulier", "Privato",
			"Prywatny", "Prywatne", "Частный", "Частная", "专用", "私人", "プライベート", "Özel", "Magán",
			"Soukromý", "Soukromá", "Yksityinen"},
		"public": {"Public", "Öffentlich", "Público", "Pubblico", "Openbaar", "Publiczny", "Publiczne",
			"Общий", "Общедоступный", "公用", "パブリック", "Ortak", "Genel", "Nyilvános", "Veřejný",
			"Veřejná", "Julkinen", "Offentlig"},
	})
)

// set returns the words in lower case as a set.
func set(ws ...string) map[string]bool {
	m := make(map[string]bool, len(ws))
	for _, w := range ws {
		m[strings.ToLower(w)] = true
	}
	return m
}

// profiles returns the lower-case profile words mapped to their profile.
func profiles(byProfile map[string][]string) map[string]string {
	m := map[string]string{}
	for p, ws := range byProfile {
		for _, w := range ws {
			m[strings.ToLower(w)] = p
		}
	}
	return m
}

// yesNo returns 1 for yes, -1 for no, 0 for a word not known.
func yesNo(s string) int { return tri(s, fwYes, fwNo) }

// inOut returns 1 for inbound, -1 for outbound, 0 for a word not known.
func inOut(s string) int { return tri(s, fwIn, fwOut) }

// allowBlock returns 1 for allow, -1 for block, 0 for anything else.
func allowBlock(s string) int { return tri(s, fwAllow, fwBlock) }

func tri(s string, yes, no map[string]bool) int {
	s = strings.ToLower(strings.TrimSpace(s))
	switch {
	case yes[s]:
		return 1
	case no[s]:
		return -1
	}
	return 0
}

// inProfile returns 1 when the profile list has profile (or is any or
// all), -1 when it has only other known profiles, 0 when a word is not
// known.
func inProfile(list, profile string) int {
	res := -1
	for _, p := range strings.Split(list, ",") {
		p = strings.ToLower(strings.TrimSpace(p))
		switch {
		case fwAny[p] || p == "all":
			return 1
		case fwProf[p] == profile:
			return 1
		case fwProf[p] == "":
			res = 0
		}
	}
	return res
}

// protoWord returns the protocol bit of "TCP", "UDP", 6, 17 or any; 0
// for another protocol.
func protoWord(s string) Proto {
	s = strings.ToLower(strings.TrimSpace(s))
	switch {
	case s == "tcp" || s == "6":
		return TCP
	case s == "udp" || s == "17":
		return UDP
	case fwAny[s]:
		return AnyProto
	}
	return 0
}

func isNum(s string) bool {
	s = strings.TrimSpace(s)
	return s != "" && strings.Trim(s, "0123456789") == ""
}
