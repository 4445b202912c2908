package ingest

import (
	"cmp"
	"slices"
	"strings"

	"github.com/rpcspan/rpcspan/audit"
)

// Capture formats scanFWProfile reports through capture.found.
const (
	formatNetshProfile = "netsh-advfirewall-profile"
	formatPSProfile    = "get-netfirewallprofile"
)

// profileOrder is the order in which "netsh advfirewall show allprofiles"
// prints the profiles.
var profileOrder = []string{"domain", "private", "public"}

// scanFWProfile reads the state and default inbound action of a
// host's Windows Firewall profiles: "netsh advfirewall show allprofiles"
// (or domainprofile, privateprofile, publicprofile, currentprofile, with
// or without "state" or "firewallpolicy" after it) and
// Get-NetFirewallProfile's list. What one capture shows about a profile
// replaces what lines before it showed, as when a batch file turns the
// firewall off and shows it again.
func scanFWProfile(c *capture, lines []string) {
	netsh, ps := profileHints(lines)
	if !netsh && !ps {
		return
	}
	var obs []profileObs
	if netsh {
		obs = scanNetshProfiles(c, lines, "")
	}
	if ps {
		obs = append(obs, scanPSProfiles(c, lines)...)
	}
	slices.SortStableFunc(obs, func(a, b profileObs) int { return cmp.Compare(a.line, b.line) })
	for _, o := range obs {
		c.host.SetFirewallProfile(o.p)
	}
}

// profileHints tells cheaply whether lines may hold netsh profile blocks
// (a line ending in a colon over a line of dashes) or
// Get-NetFirewallProfile blocks (a "Name" line with a colon), so that
// the many captures of other kinds cost one pass over their lines.
func profileHints(lines []string) (netsh, ps bool) {
	for i, l := range lines {
		t := strings.TrimLeft(l, " \t#")
		switch {
		case strings.HasPrefix(t, "----------") && i > 0:
			p := strings.TrimRight(lines[i-1], " \t")
			netsh = netsh || strings.HasSuffix(p, ":") || strings.HasSuffix(p, "：")
		case len(t) >= 4 && strings.EqualFold(t[:4], "name"):
			ps = ps || strings.Contains(t, ":")
		}
		if netsh && ps {
			break
		}
	}
	return netsh, ps
}

// profileObs is one profile's settings as one block of a capture shows
// them, with the block's first line for ordering.
type profileObs struct {
	line int
	p    audit.FirewallProfile
}

// netshProfileBlock is one block of netsh advfirewall profile settings:
// a header ("Domain Profile Settings:", translated), a line of dashes and
// the settings.
type netshProfileBlock struct {
	header      string
	headerLine  int // 1-based
	state       string
	stateLine   int // 0 when the block does not show the state
	policy      string
	policyLine  int // 0 when the block does not show the firewall policy
	englishName string
}

// scanNetshProfiles reads the profile blocks of netsh advfirewall. netsh
// translates the headers ("Paramètres Profil de domaine :") and the
// labels of the state and firewall policy lines, but not the other
// setting names (LocalFirewallRules, ...) nor the policy keywords, so
// blocks are found by shape and read by position: the header ends in a
// colon, a line of dashes follows, then "State  ON" (no colon) and
// "Firewall Policy  BlockInbound,AllowOutbound". A block of "show
// allprofiles firewallpolicy" starts with the policy, told apart by its
// comma; one of "show ... settings" or "logging" with an untranslated
// setting name, and shows neither.
//
// Which profile a block is: the English header says it; else the echoed
// command before it (cmd is the one in force at the first line, "" for
// none): the n-th block of "show allprofiles" is Domain, Private, Public,
// the block of "show domainprofile" is Domain. Without an echoed command a
// listing of three blocks can only be allprofiles. A block whose profile
// cannot be told is a problem and is not used: currentprofile names it
// only in its translated header.
func scanNetshProfiles(c *capture, lines []string, cmd string) []profileObs {
	var obs []profileObs
	var group []netshProfileBlock
	flush := func() {
		obs = append(obs, c.netshProfileGroup(group, cmd)...)
		group, cmd = nil, ""
	}
	for i := 0; i < len(lines); i++ {
		t := netshTrim(lines[i])
		if t == "" {
			continue
		}
		if which, ok := netshProfileCommand(t); ok {
			if len(group) > 0 {
				flush()
			}
			cmd = which
			continue
		}
		b, ok := netshProfileAt(lines, i)
		if !ok {
			if len(group) > 0 {
				flush()
			} else if !profileSettingLine(t) {
				// Output of something else: the echoed command no
				// longer speaks for what follows.
				cmd = ""
			}
			continue
		}
		c.found(formatNetshProfile)
		group = append(group, b)
		// The block's settings, blank lines and sub-headers
		// ("Logging:") run to the next header or to a line that is
		// none of them ("Ok.", a prompt), which ends the listing.
		j := i + 2
		for ; j < len(lines); j++ {
			u := netshTrim(lines[j])
			if u == "" || profileSettingLine(u) {
				continue
			}
			if _, next := netshProfileAt(lines, j); next {
				break
			}
			if profileSubHeader(u) {
				continue
			}
			break
		}
		i = j - 1
		if j < len(lines) {
			if _, next := netshProfileAt(lines, j); !next {
				flush()
			}
		}
	}
	if len(group) > 0 {
		flush()
	}
	return obs
}

// netshProfileAt reports whether a profile block starts at index i: a
// header ending in a colon, a line of dashes, and a first setting line
// without a colon (a rule listing's "Enabled: Yes", "show global"'s
// "IPsec:" have one).
func netshProfileAt(lines []string, i int) (netshProfileBlock, bool) {
	if i+2 >= len(lines) {
		return netshProfileBlock{}, false
	}
	h := netshTrim(lines[i])
	d := netshTrim(lines[i+1])
	first := netshTrim(lines[i+2])
	head, ok := strings.CutSuffix(h, ":")
	if !ok {
		head, ok = strings.CutSuffix(h, "：")
	}
	head = strings.TrimSpace(head)
	if !ok || head == "" || strings.Contains(head, "  ") || len(d) < 10 || !netshIsDashes(d) ||
		!profileSettingLine(first) || strings.ContainsAny(first, ":：") {
		return netshProfileBlock{}, false
	}
	b := netshProfileBlock{header: head, headerLine: i + 1}
	switch strings.ToLower(head) {
	case "domain profile settings":
		b.englishName = "domain"
	case "private profile settings":
		b.englishName = "private"
	case "public profile settings":
		b.englishName = "public"
	}
	second := ""
	if i+3 < len(lines) {
		if s := netshTrim(lines[i+3]); profileSettingLine(s) && !strings.ContainsAny(s, ":：") {
			second = s
		}
	}
	switch {
	case netshUntranslatedSetting(first):
		// show ... settings or logging: neither state nor policy.
	case profilePolicyLike(first):
		b.policy, b.policyLine = lastField(first), i+3
	default:
		b.state, b.stateLine = lastField(first), i+3
		if second != "" && !netshUntranslatedSetting(second) {
			b.policy, b.policyLine = lastField(second), i+4
		}
	}
	return b, true
}

// netshProfileGroup decides the profile of each block of one listing
// and reads its settings.
func (c *capture) netshProfileGroup(group []netshProfileBlock, cmd string) []profileObs {
	var obs []profileObs
	for k, b := range group {
		if b.stateLine == 0 && b.policyLine == 0 {
			continue
		}
		name := b.englishName
		switch {
		case name != "":
		case cmd == "all" && k < len(profileOrder):
			name = profileOrder[k]
		case cmd == "domain" || cmd == "private" || cmd == "public":
			if k == 0 {
				name = cmd
			}
		case cmd == "" && len(group) == len(profileOrder):
			name = profileOrder[k]
		}
		if name == "" {
			c.problem(b.headerLine, "netsh advfirewall: which profile the settings under %q belong to cannot be told "+
				"(a translated header, and no echoed \"netsh advfirewall show allprofiles\" before it); they are not used", clip(b.header, 80))
			continue
		}
		p := audit.FirewallProfile{Profile: name}
		if b.stateLine > 0 {
			p.State, p.StateSrc = netshProfileState(b.state), c.src(b.stateLine)
			if p.State == audit.FirewallStateUnknown {
				c.problem(b.stateLine, "netsh advfirewall %s profile: state %q is not a word rpcspan knows "+
					"(ON/OFF, EIN/AUS, Actif/Inactif); the profile's state is unknown", name, clip(b.state, 40))
			}
		}
		if b.policyLine > 0 {
			p.Inbound, p.InboundSrc = netshInbound(b.policy), c.src(b.policyLine)
			if p.Inbound == audit.InboundUnknown {
				c.problem(b.policyLine, "netsh advfirewall %s profile: firewall policy %q: want BlockInbound, BlockInboundAlways, "+
					"AllowInbound or NotConfigured, a comma and the outbound action; the default inbound action is unknown", name, clip(b.policy, 60))
			}
		}
		obs = append(obs, profileObs{b.headerLine, p})
	}
	return obs
}

// The state words netsh prints: English, German and French, as real
// captures show them (State ON, Status EIN, État Actif); OFF, AUS and
// Inactif are their counterparts in the same translations. A word not
// listed is unknown, never taken as either.
var (
	netshStateOn  = wordSet("ON", "EIN", "Actif")
	netshStateOff = wordSet("OFF", "AUS", "Inactif")
)

func wordSet(ws ...string) map[string]bool {
	m := make(map[string]bool, len(ws))
	for _, w := range ws {
		m[strings.ToLower(w)] = true
	}
	return m
}

func netshProfileState(v string) audit.FirewallState {
	switch v = strings.ToLower(v); {
	case netshStateOn[v]:
		return audit.FirewallOn
	case netshStateOff[v]:
		return audit.FirewallOff
	}
	return audit.FirewallStateUnknown
}

// netshInbound reads the inbound half of a firewall policy
// "BlockInbound,AllowOutbound"; netsh prints these keywords untranslated.
// NotConfigured (a policy store that leaves it to the default) is block.
func netshInbound(v string) audit.InboundAction {
	in, _, ok := strings.Cut(v, ",")
	if !ok {
		return audit.InboundUnknown
	}
	switch strings.ToLower(strings.TrimSpace(in)) {
	case "blockinbound", "notconfigured":
		return audit.InboundBlock
	case "blockinboundalways":
		return audit.InboundBlockAlways
	case "allowinbound":
		return audit.InboundAllow
	}
	return audit.InboundUnknown
}

// profileSettingLine reports whether s (trimmed) is a "label  value" line
// of netsh's profile settings: two parts apart by two spaces or a tab.
func profileSettingLine(s string) bool {
	return len(strings.Fields(s)) >= 2 && (strings.Contains(s, "  ") || strings.Contains(s, "\t"))
}

// profileSubHeader reports whether s (trimmed) is a sub-header inside a
// profile block, such as "Logging:" ("Journalisation :").
func profileSubHeader(s string) bool {
	return (strings.HasSuffix(s, ":") || strings.HasSuffix(s, "：")) && !strings.Contains(s, "  ")
}

// profilePolicyLike reports whether a setting line holds a firewall
// policy: its value is two keywords joined by a comma, which no state
// word has.
func profilePolicyLike(s string) bool { return strings.Contains(lastField(s), ",") }

// netshUntranslatedSetting reports whether a setting line is one of the
// settings netsh prints under their untranslated names after the state
// and the policy.
func netshUntranslatedSetting(s string) bool {
	switch strings.ToLower(strings.Fields(s)[0]) {
	case "localfirewallrules", "localconsecrules", "inboundusernotification", "remotemanagement",
		"unicastresponsetomulticast", "logallowedconnections", "logdroppedconnections", "filename", "maxfilesize":
		return true
	}
	return false
}

func lastField(s string) string {
	f := strings.Fields(s)
	if len(f) == 0 {
		return ""
	}
	return f[len(f)-1]
}

// netshProfileCommand recognises an echoed netsh command line, as
// netshCommandFamily does, and returns which profile settings it shows:
// "all", "domain", "private", "public" or "current", "" for any other
// netsh command (whose output is not profile settings).
func netshProfileCommand(s string) (string, bool) {
	k := netshIndexFold(s, "netsh")
	if k < 0 {
		return "", false
	}
	if pre := strings.TrimRight(s[:k], " \t"); pre != "" {
		switch pre[len(pre)-1] {
		case '>', '$', '&':
		default:
			return "", false
		}
	}
	rest := s[k+len("netsh"):]
	if len(rest) >= 4 && strings.EqualFold(rest[:4], ".exe") {
		rest = rest[4:]
	}
	if rest == "" || rest[0] != ' ' && rest[0] != '\t' {
		return "", false
	}
	f := strings.FieldsFunc(rest, func(r rune) bool { return r == ' ' || r == '\t' || r == '>' })
	if len(f) < 3 || !netshAbbrev(f[0], "advfirewall", 3) || !netshAbbrev(f[1], "show", 2) {
		return "", true
	}
	for _, w := range []struct{ word, which string }{
		{"allprofiles", "all"}, {"domainprofile", "domain"}, {"privateprofile", "private"},
		{"publicprofile", "public"}, {"currentprofile", "current"},
	} {
		if netshAbbrev(f[2], w.word, 3) {
			return w.which, true
		}
	}
	return "", true
}

// scanPSProfiles reads Get-NetFirewallProfile's list: blocks starting
// with "Name : Domain" (Private, Public) and holding Enabled,
// DefaultInboundAction or AllowInboundRules. PowerShell prints property
// names and values untranslated. A block with Direction or Action is a
// firewall rule (Get-NetFirewallRule), not a profile.
//
// Enabled True and NotConfigured (the default) are on, False is off.
// DefaultInboundAction Block and NotConfigured are block, Allow is allow;
// AllowInboundRules False (the rules are not applied: all inbound traffic
// is blocked) makes the action block-always, whatever DefaultInboundAction
// says.
func scanPSProfiles(c *capture, lines []string) []profileObs {
	type psField struct {
		value string
		line  int
	}
	type psBlock struct {
		name   psField
		fields map[string]psField
	}
	var blocks []*psBlock
	var cur *psBlock
	for i, line := range lines {
		t := strings.TrimSpace(line)
		if t == "" {
			cur = nil
			continue
		}
		l, v, ok := strings.Cut(t, ":")
		l = strings.TrimSpace(l)
		if !ok || l == "" || strings.ContainsAny(l, " \t") {
			continue
		}
		v = strings.TrimSpace(v)
		key := strings.ToLower(l)
		if key == "name" {
			cur = &psBlock{name: psField{v, i + 1}, fields: map[string]psField{}}
			blocks = append(blocks, cur)
			continue
		}
		if cur == nil {
			continue
		}
		if _, dup := cur.fields[key]; !dup {
			cur.fields[key] = psField{v, i + 1}
		}
	}
	var obs []profileObs
	for _, b := range blocks {
		name := strings.ToLower(b.name.value)
		if !slices.Contains(profileOrder, name) {
			continue
		}
		if _, ok := b.fields["direction"]; ok {
			continue
		}
		if _, ok := b.fields["action"]; ok {
			continue
		}
		enabled, haveEnabled := b.fields["enabled"]
		inbound, haveInbound := b.fields["defaultinboundaction"]
		rules, haveRules := b.fields["allowinboundrules"]
		if !haveEnabled && !haveInbound && !haveRules {
			continue
		}
		c.found(formatPSProfile)
		p := audit.FirewallProfile{Profile: name}
		if haveEnabled {
			p.StateSrc = c.src(enabled.line)
			switch strings.ToLower(enabled.value) {
			case "true", "notconfigured":
				p.State = audit.FirewallOn
			case "false":
				p.State = audit.FirewallOff
			default:
				p.State = audit.FirewallStateUnknown
				c.problem(enabled.line, "Get-NetFirewallProfile %s: Enabled %q: want True, False or NotConfigured; the profile's state is unknown", name, clip(enabled.value, 40))
			}
		}
		if haveInbound {
			p.InboundSrc = c.src(inbound.line)
			switch strings.ToLower(inbound.value) {
			case "block", "notconfigured":
				p.Inbound = audit.InboundBlock
			case "allow":
				p.Inbound = audit.InboundAllow
			default:
				p.Inbound = audit.InboundUnknown
				c.problem(inbound.line, "Get-NetFirewallProfile %s: DefaultInboundAction %q: want Block, Allow or NotConfigured; the default inbound action is unknown", name, clip(inbound.value, 40))
			}
		}
		if haveRules {
			switch strings.ToLower(rules.value) {
			case "true", "notconfigured":
			case "false":
				p.Inbound, p.InboundSrc = audit.InboundBlockAlways, c.src(rules.line)
			default:
				p.Inbound, p.InboundSrc = audit.InboundUnknown, c.src(rules.line)
				c.problem(rules.line, "Get-NetFirewallProfile %s: AllowInboundRules %q: want True, False or NotConfigured; the default inbound action is unknown", name, clip(rules.value, 40))
			}
		}
		if p.State != audit.FirewallStateNotShown || p.Inbound != audit.InboundNotShown {
			obs = append(obs, profileObs{b.name.line, p})
		}
	}
	return obs
}
