package emit

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/rpcspan/rpcspan/audit"
)

// vendorSpec is what differs between the vendor targets outside their
// templates: how long names and comments may be, and which MS-RPC
// application gateway the vendor has.
type vendorSpec struct {
	target  string // target name, also the template's name without .tmpl
	title   string // the product, for messages
	maxName int    // objects: address groups, addresses, services
	maxRule int    // rule or policy names
	maxText int    // comments, remarks and descriptions
	gateway map[string]string
	gwNote  []string // what using the gateway implies, as comment lines
}

// vendorSpecs are the shipped vendor targets. Limits are the vendors'
// documented maxima or below: ASA and IOS object-group names 64
// characters, remarks 100; Junos and PAN-OS names 63; FortiOS object names
// 79 and policy names 35. Text limits for Junos, PAN-OS and FortiOS are
// kept well under theirs (900 to 1023) so that a comment stays readable.
var vendorSpecs = []vendorSpec{
	{target: "cisco-asa", title: "Cisco ASA", maxName: 64, maxRule: 64, maxText: 100},
	{target: "cisco-ios", title: "Cisco IOS/IOS-XE", maxName: 64, maxRule: 64, maxText: 100},
	{target: "juniper-srx", title: "Juniper SRX", maxName: 63, maxRule: 63, maxText: 255,
		gateway: map[string]string{"tcp": "junos-ms-rpc-tcp", "udp": "junos-ms-rpc-udp"},
		gwNote: []string{
			"MS-RPC gateway: rpc rules match junos-ms-rpc-tcp (rpc-udp: junos-ms-rpc-udp) instead of a written",
			"port range. The MS-RPC ALG admits port 135 and then only the dynamic port each endpoint-mapper",
			"reply names, whatever range the server uses. The ALG must stay enabled (no set security alg msrpc",
			"disable), both connections must cross this firewall, and calls it cannot parse (encrypted",
			"endpoint-mapper traffic) are dropped.",
		}},
	{target: "paloalto", title: "PAN-OS", maxName: 63, maxRule: 63, maxText: 255,
		gateway: map[string]string{"tcp": "msrpc", "udp": "msrpc"},
		gwNote: []string{
			"MS-RPC gateway: rpc rules allow the App-ID msrpc with service application-default instead of a",
			"written port range. The firewall admits port 135 and then the dynamic port each endpoint-mapper",
			"reply names, whatever range the server uses. Both connections must cross this firewall, and a",
			"commit warning about application dependencies (such as msrpc-base) means the rule needs them too.",
		}},
	{target: "fortigate", title: "FortiGate", maxName: 79, maxRule: 35, maxText: 255},
}

// templateSpec is the naming a user's template gets: the strictest of the
// shipped vendors, since rpcspan cannot know where the output goes.
var templateSpec = vendorSpec{target: "template", title: "a user template", maxName: 63, maxRule: 35, maxText: 100}

// reservedNames are words that some vendor reads as a keyword where a name
// is expected (ASA "any4", Junos and PAN-OS "any", FortiGate "all"): a
// name equal to one of them gets a suffix.
var reservedNames = map[string]bool{
	"any": true, "any4": true, "any6": true, "all": true, "none": true, "host": true, "range": true,
	"eq": true, "object": true, "object-group": true, "interface": true, "default": true,
	"application-default": true, "permit": true, "deny": true, "always": true, "log": true,
}

// namer hands out object names valid for one vendor: letters, digits, '_',
// '.' and '-' only (the set every shipped vendor takes), starting with a
// letter, at most max characters, and unique case-insensitively across
// the whole output, so that no two objects of any kind collide even on a
// vendor that puts groups, services and rules in one name space.
type namer struct {
	prefix string
	used   map[string]bool // lower-case names handed out
	buf    []byte
}

// newNamer returns a namer for about n names, each starting with prefix.
func newNamer(prefix string, n int) *namer {
	return &namer{prefix: prefix, used: make(map[string]bool, n)}
}

// name returns a fresh name derived from base, at most max characters.
func (n *namer) name(base string, max int) string { return n.nameKeep(base, "", max) }

// nameKeep is name for base+keep, where keep (such as "-v6") survives
// shortening: base is cut instead.
func (n *namer) nameKeep(base, keep string, max int) string {
	s := n.clean(base)
	if len(s)+len(keep) > max {
		s = strings.TrimRight(s[:max-len(keep)], "-_.")
	}
	s += keep
	if k := strings.ToLower(s); !n.used[k] {
		n.used[k] = true
		return s
	}
	for i := 2; ; i++ {
		suffix := "-" + strconv.Itoa(i)
		t := s
		if len(t)+len(suffix) > max {
			t = strings.TrimRight(t[:max-len(suffix)], "-_.")
		}
		t += suffix
		if k := strings.ToLower(t); !n.used[k] {
			n.used[k] = true
			return t
		}
	}
}

// clean makes prefix+base a valid name: every run of other characters
// becomes one '_', a name not starting with a letter gets "n" in front,
// and a reserved word gets "_" after it.
func (n *namer) clean(base string) string {
	b := append(n.buf[:0], n.prefix...)
	under := false
	for i := 0; i < len(base); i++ {
		c := base[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' {
			b = append(b, c)
			under = false
			continue
		}
		if !under {
			b = append(b, '_')
			under = true
		}
	}
	n.buf = b
	s := strings.Trim(string(b), "_")
	if s == "" {
		s = "obj"
	}
	if c := s[0]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
		s = "n" + s
	}
	if reservedNames[strings.ToLower(s)] {
		s += "_"
	}
	return s
}

// vendorText makes s safe as a comment, remark or quoted description on
// every vendor: printable ASCII only (control characters, line breaks
// above all, and anything else become '?'), no quote or backslash that
// could close or escape a quoted string, single spaces, at most max
// characters.
func vendorText(s string, max int) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		switch {
		case r == ' ' || r == '\t':
			space = b.Len() > 0
			continue
		case r < 0x20 || r >= 0x7f:
			r = '?'
		case r == '"' || r == '\'' || r == '\\' || r == '`':
			r = '_'
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	out := b.String()
	if len(out) > max {
		out = strings.TrimRight(out[:max-3], " ") + "..."
	}
	return out
}

// validOptionName checks a name given as an option (ACL, zone, interface,
// object prefix): nothing in it may be read by a vendor as more than one
// word, so only letters, digits and "_.-/:" are allowed (interface names
// such as GigabitEthernet0/0/1 or ethernet1/1 need '/'), starting with a
// letter, at most 63 characters.
func validOptionName(what, s string, allowEmpty bool) error {
	if s == "" {
		if allowEmpty {
			return nil
		}
		return &optionError{what, s, "empty"}
	}
	if len(s) > 63 {
		return &optionError{what, s, "longer than 63 characters"}
	}
	if c := s[0]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
		return &optionError{what, s, "must start with a letter"}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("_.-/:", c) >= 0) {
			return &optionError{what, s, "may hold only letters, digits and _ . - / :"}
		}
	}
	// Zones and interfaces may be "any" (PAN-OS zones, FortiGate
	// interfaces); a list or object named like a keyword may not.
	if reservedNames[strings.ToLower(s)] && what != "interface" && !strings.HasSuffix(what, "zone") {
		return &optionError{what, s, "is a reserved word"}
	}
	return nil
}

// optionError is a refused option value.
type optionError struct {
	what, value, why string
}

func (e *optionError) Error() string {
	return e.what + " " + strconv.Quote(e.value) + ": " + e.why
}

// groupBase returns the name an address set is derived from and a comment
// on what it holds. Destinations are named after their host, the estate
// group they are exactly, or the policy's "to" selectors when they are
// exactly those; sources after the policies' "from" selectors (the plan's
// sources are exactly their union); otherwise after the first policy.
func (b *modelBuilder) groupBase(r *vrule, dst bool) (string, string) {
	first := policiesLabel(r.policies)
	if dst {
		comment := hostsText(r.hosts)
		switch {
		case len(r.hosts) == 1:
			return "host-" + r.hosts[0], comment
		case b.est == nil || len(r.hosts) == 0:
		case b.defaultPol:
			if len(r.hosts) == b.famHostCount(r.fam) {
				return "all-hosts", comment
			}
		default:
			key := lowerKey(r.hosts)
			if g, ok := b.exactGroup(r.fam, key); ok {
				return g, comment
			}
			if labels, hosts := b.selectorHosts(r, r.fam, false); hosts == key && len(labels) > 0 {
				if l := strings.Join(labels, "_"); len(l) <= maxLabel {
					return l, comment
				}
			}
		}
		return first + "-dst", comment
	}
	if b.est == nil {
		return first + "-src", "from policy " + strings.Join(r.policies, ", ")
	}
	if b.defaultPol {
		return "all-hosts", "from every host"
	}
	labels, _ := b.selectorHosts(r, r.fam, true)
	comment := "from " + strings.Join(b.selectorStrings(r, true), ", ")
	if len(labels) == 1 || len(labels) > 1 && len(strings.Join(labels, "_")) <= maxLabel {
		return strings.Join(labels, "_"), comment
	}
	return policiesLabel(r.policies) + "-src", comment
}

// maxLabel is the longest name base made of several selector or policy
// names: with an 8-character prefix, "-v6" and a uniqueness suffix it
// stays within every vendor's 63 characters.
const maxLabel = 48

// policiesLabel names a list of policies: all of them when short enough,
// else the first and "-etc".
func policiesLabel(policies []string) string {
	if len(policies) == 0 {
		return "rules"
	}
	if l := strings.Join(policies, "_"); len(l) <= maxLabel {
		return l
	}
	return policies[0] + "-etc"
}

// hostsText lists hosts for a comment, the first ten of them.
func hostsText(hosts []string) string {
	switch {
	case len(hosts) == 0:
		return "no host"
	case len(hosts) == 1:
		return "host " + hosts[0]
	case len(hosts) <= 10:
		return strconv.Itoa(len(hosts)) + " hosts: " + strings.Join(hosts, ", ")
	}
	return strconv.Itoa(len(hosts)) + " hosts: " + strings.Join(hosts[:10], ", ") + " and " + strconv.Itoa(len(hosts)-10) + " more"
}

// lowerKey returns the lower-case names, sorted, as one string.
func lowerKey(names []string) string {
	l := make([]string, len(names))
	for i, n := range names {
		l[i] = strings.ToLower(n)
	}
	slices.Sort(l)
	return strings.Join(slices.Compact(l), "\x00")
}

// hasFam reports whether h has an address of the family.
func hasFam(h *audit.Host, fam int) bool {
	for _, a := range h.Addresses {
		if a.Addr.IsValid() && a.Addr.Unmap().Is4() == (fam == 4) {
			return true
		}
	}
	return false
}

// hostList returns the estate's hosts sorted, computed once.
func (b *modelBuilder) hostList() []*audit.Host {
	if b.hosts == nil {
		b.hosts = b.est.Hosts()
	}
	return b.hosts
}

// famHostCount returns how many hosts have an address of the family.
func (b *modelBuilder) famHostCount(fam int) int {
	n := 0
	for _, h := range b.hostList() {
		if hasFam(h, fam) {
			n++
		}
	}
	return n
}

// groupMembers returns the lower-case names of the hosts of group g (any
// case) that have an address of the family, sorted.
func (b *modelBuilder) groupMembers(g string, fam int) []string {
	if b.groupHosts == nil {
		b.groupHosts = map[famGroup][]string{}
		seen := map[string]bool{}
		for _, h := range b.hostList() {
			if len(h.Groups) == 0 {
				continue
			}
			lower := strings.ToLower(h.Name)
			has4, has6 := hasFam(h, 4), hasFam(h, 6)
			for _, gn := range h.Groups {
				k := strings.ToLower(gn)
				if !seen[k] {
					seen[k] = true
					b.groupNames = append(b.groupNames, gn)
				}
				if has4 {
					b.groupHosts[famGroup{4, k}] = append(b.groupHosts[famGroup{4, k}], lower)
				}
				if has6 {
					b.groupHosts[famGroup{6, k}] = append(b.groupHosts[famGroup{6, k}], lower)
				}
			}
		}
		slices.SortFunc(b.groupNames, func(x, y string) int {
			return cmp.Or(strings.Compare(strings.ToLower(x), strings.ToLower(y)), strings.Compare(x, y))
		})
	}
	return b.groupHosts[famGroup{fam, strings.ToLower(g)}]
}

// famGroup is a family and a lower-case group name.
type famGroup struct {
	fam   int
	group string
}

// exactGroup returns the estate group whose members with an address of
// the family are exactly the hosts of key.
func (b *modelBuilder) exactGroup(fam int, key string) (string, bool) {
	b.groupMembers("", fam)
	for _, g := range b.groupNames {
		if m := b.groupMembers(g, fam); len(m) > 0 && strings.Join(m, "\x00") == key {
			return g, true
		}
	}
	return "", false
}

// selectorHosts returns labels for the from (or to) selectors of r's
// policies that name something of the family, and the lower-case names of
// the hosts they select, as lowerKey gives them.
func (b *modelBuilder) selectorHosts(r *vrule, fam int, from bool) ([]string, string) {
	var labels, hosts []string
	for _, pn := range r.policies {
		pr, ok := b.policies[pn]
		if !ok {
			continue
		}
		sels := pr.To
		if from {
			sels = pr.From
		}
		for _, s := range sels {
			var label string
			switch s.Kind {
			case audit.SelGroup:
				if m := b.groupMembers(s.Name, fam); len(m) > 0 {
					label = s.Name
					hosts = append(hosts, m...)
				}
			case audit.SelHost:
				if h, ok := b.est.Lookup(s.Name); ok && hasFam(h, fam) {
					label = "host-" + h.Name
					hosts = append(hosts, strings.ToLower(h.Name))
				}
			case audit.SelPrefix:
				if s.Prefix.IsValid() && s.Prefix.Addr().Is4() == (fam == 4) {
					label = prefixLabel(s.Prefix)
				}
			}
			if label != "" && !slices.Contains(labels, label) {
				labels = append(labels, label)
			}
		}
	}
	return labels, lowerKey(hosts)
}

// selectorStrings returns the from (or to) selectors of r's policies as
// written, without repeats.
func (b *modelBuilder) selectorStrings(r *vrule, from bool) []string {
	var out []string
	for _, pn := range r.policies {
		pr, ok := b.policies[pn]
		if !ok {
			continue
		}
		sels := pr.To
		if from {
			sels = pr.From
		}
		for _, s := range sels {
			if t := s.String(); !slices.Contains(out, t) {
				out = append(out, t)
			}
		}
	}
	if len(out) == 0 {
		out = append(out, "policy "+strings.Join(r.policies, ", "))
	}
	return out
}

// prefixLabel names a prefix: "net-10.0.0.0_8", "net-fd00--_64".
func prefixLabel(p netip.Prefix) string {
	return "net-" + strings.ReplaceAll(p.Addr().String(), ":", "-") + "_" + strconv.Itoa(p.Bits())
}

// addressBase returns the name a prefix is derived from (famKeep adds
// "-v6" for IPv6): its host's name when it is one host's address, else
// the prefix itself ("10.1.0.10_31"). Groups of one host are "host-NAME" and groups of a prefix selector
// "net-PREFIX", so the two kinds of name do not collide.
func (b *modelBuilder) addressBase(p netip.Prefix) string {
	if p.IsSingleIP() && b.est != nil {
		if b.hostAddr == nil {
			b.hostAddr = make(map[netip.Addr]string, len(b.hostList()))
			for _, h := range b.hostList() {
				for _, a := range h.Addresses {
					ad := a.Addr.Unmap().WithZone("")
					if _, ok := b.hostAddr[ad]; !ok {
						b.hostAddr[ad] = h.Name
					}
				}
			}
		}
		if h, ok := b.hostAddr[p.Addr()]; ok {
			return h
		}
	}
	return strings.ReplaceAll(p.Addr().String(), ":", "-") + "_" + strconv.Itoa(p.Bits())
}

// ruleBase returns the name a rule is derived from: its policies and
// services, and the family when it is IPv6.
func ruleBase(r *vrule) string {
	return policiesLabel(r.policies) + "-" + strings.ReplaceAll(strings.Join(r.services, "_"), "/", "-")
}

// famKeep returns the name ending of a family: "-v6" for IPv6.
func famKeep(v6 bool) string {
	if v6 {
		return "-v6"
	}
	return ""
}

// ruleComment says what a rule is for.
func ruleComment(r *vrule, vr *VendorRule, max int) string {
	what := vr.Protocol + " "
	if vr.Application != "" {
		what += "via " + vr.Application
	} else {
		ps := make([]string, len(vr.Ports))
		for i, p := range vr.Ports {
			ps[i] = p.String()
		}
		what += strings.Join(ps, ",")
	}
	flows := "flows"
	if vr.Flows == 1 {
		flows = "flow"
	}
	return vendorText(fmt.Sprintf("policy %s: %s, %s to %s (%d %s)", strings.Join(r.policies, ", "),
		strings.Join(r.services, ", "), what, hostsText(r.hosts), vr.Flows, flows), max)
}
