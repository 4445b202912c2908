package emit

import (
	"fmt"
	"regexp"
	"strings"
)

// The structural check of the vendor outputs: every line must be one of
// the statements the vendor's template writes, in that vendor's grammar;
// every object referenced must be defined exactly once, before it is
// used; no name may be longer than the vendor allows; and no two objects
// may share a name, whatever their kind.
//
// A grammar is a list of line patterns. Named groups say what a line does:
//
//	def_KIND      defines an object of KIND (one line)
//	defm_KIND     defines or extends one: all lines of the object in one run
//	ref_KIND      refers to an object of KIND
//	refs_KIND     refers to several, as a list of "quoted" names
//	section       enters a section (FortiGate "config firewall X" blocks)
//
// Groups may end in _N to be used twice in one pattern. A pattern with a
// section set applies only inside that section.

// lineRule is one statement of a grammar.
type lineRule struct {
	re      *regexp.Regexp
	section string // only inside this section; "" anywhere
}

// grammar is a vendor's statements and name limits.
type grammar struct {
	rules      []lineRule
	maxLen     map[string]int  // by kind; kinds not listed: maxLen[""]
	predefined map[string]bool // names the vendor defines itself, "kind name"
}

// Building blocks of the patterns.
const (
	gName   = `[A-Za-z][A-Za-z0-9_.-]*`
	gIPv4   = `(?:\d{1,3}\.){3}\d{1,3}`
	gIPv6   = `[0-9a-f]*:[0-9a-f:]*`
	gPfx4   = gIPv4 + `/\d{1,2}`
	gPfx6   = gIPv6 + `/\d{1,3}`
	gPort   = `\d{1,5}`
	gRange  = gPort + `(?:-` + gPort + `)?`
	gText   = `[ -~]*` // printable ASCII
	gQuoted = `"[^"\\]*"`
	gOpt    = `[A-Za-z][A-Za-z0-9_.:/-]*` // option names: ACL, zone, interface
)

func lr(section, pattern string) lineRule {
	return lineRule{re: regexp.MustCompile("^(?:" + pattern + ")$"), section: section}
}

var vendorGrammars = map[string]grammar{
	"cisco-asa": {
		maxLen: map[string]int{"": 64},
		rules: []lineRule{
			lr("", `!`+gText),
			lr("", `object-group network (?P<def_net>`+gName+`)`),
			lr("", ` description [!-~]`+gText),
			lr("", ` network-object host (?:`+gIPv4+`|`+gIPv6+`)`),
			lr("", ` network-object `+gIPv4+` `+gIPv4),
			lr("", ` network-object `+gPfx6),
			lr("", `object-group service (?P<def_svc>`+gName+`) (?:tcp|udp)`),
			lr("", ` port-object (?:eq `+gPort+`|range `+gPort+` `+gPort+`)`),
			lr("", `access-list `+gOpt+` remark [!-~][ -~]{0,99}`),
			lr("", `access-list `+gOpt+` extended permit (?:tcp|udp) object-group (?P<ref_net_1>`+gName+`) object-group (?P<ref_net_2>`+gName+`) object-group (?P<ref_svc>`+gName+`)`),
			lr("", `access-group `+gOpt+` in interface `+gOpt),
		},
	},
	"cisco-ios": {
		maxLen: map[string]int{"": 64},
		rules: []lineRule{
			lr("", `!`+gText),
			lr("", `object-group network (?P<def_net4>`+gName+`)`),
			lr("", `object-group v6-network (?P<def_net6>`+gName+`)`),
			lr("", ` description [!-~]`+gText),
			lr("", ` host (?:`+gIPv4+`|`+gIPv6+`)`),
			lr("", ` `+gIPv4+` `+gIPv4),
			lr("", ` `+gPfx6),
			lr("", `object-group service (?P<def_svc>`+gName+`)`),
			lr("", ` (?:tcp|udp) (?:eq `+gPort+`|range `+gPort+` `+gPort+`)`),
			lr("", `(?P<section>ip access-list extended) `+gOpt),
			lr("", `(?P<section>ipv6 access-list) `+gOpt),
			lr("ip access-list extended", ` remark [!-~][ -~]{0,99}`),
			lr("ipv6 access-list", ` remark [!-~][ -~]{0,99}`),
			lr("ip access-list extended", ` permit object-group (?P<ref_svc>`+gName+`) object-group (?P<ref_net4_1>`+gName+`) object-group (?P<ref_net4_2>`+gName+`)`),
			lr("ipv6 access-list", ` permit (?:tcp|udp) object-group (?P<ref_net6_1>`+gName+`) object-group (?P<ref_net6_2>`+gName+`) (?:eq `+gPort+`|range `+gPort+` `+gPort+`)`),
			lr("", `(?P<section>interface) `+gOpt),
			lr("interface", ` ip access-group `+gOpt+` in`),
			lr("interface", ` ipv6 traffic-filter `+gOpt+` in`),
		},
	},
	"juniper-srx": {
		maxLen:     map[string]int{"": 63},
		predefined: map[string]bool{"app junos-ms-rpc-tcp": true, "app junos-ms-rpc-udp": true},
		rules: []lineRule{
			lr("", `#`+gText),
			lr("", `set security address-book global address (?P<def_addr>`+gName+`) (?:`+gPfx4+`|`+gPfx6+`)`),
			lr("", `set security address-book global address-set (?P<defm_set>`+gName+`) address (?P<ref_addr>`+gName+`)`),
			lr("", `set applications application (?P<def_app>`+gName+`) protocol (?:tcp|udp) destination-port `+gRange),
			lr("", `set applications application-set (?P<defm_app>`+gName+`) application (?P<ref_app>`+gName+`)`),
			lr("", `set security policies from-zone `+gOpt+` to-zone `+gOpt+` policy (?P<defm_policy>`+gName+`) (?:`+
				`description `+gQuoted+
				`|match source-address (?P<ref_set_1>`+gName+`)`+
				`|match destination-address (?P<ref_set_2>`+gName+`)`+
				`|match application (?P<ref_app_1>`+gName+`)`+
				`|then permit)`),
		},
	},
	"paloalto": {
		maxLen: map[string]int{"": 63},
		rules: []lineRule{
			lr("", `#`+gText),
			lr("", `set address (?P<def_addr>`+gName+`) ip-netmask (?:`+gPfx4+`|`+gPfx6+`)`),
			lr("", `set address-group (?P<defm_grp>`+gName+`) static (?P<ref_addr>`+gName+`)`),
			lr("", `set address-group (?P<defm_grp>`+gName+`) description `+gQuoted),
			lr("", `set service (?P<def_svc>`+gName+`) protocol (?:tcp|udp) port `+gRange+`(?:,`+gRange+`)*`),
			lr("", `set rulebase security rules (?P<defm_rule>`+gName+`) from `+gOpt+` to `+gOpt+
				` source (?P<ref_grp_1>`+gName+`) destination (?P<ref_grp_2>`+gName+`)`+
				` (?:application any service (?P<ref_svc>`+gName+`)|application msrpc service application-default) action allow`),
			lr("", `set rulebase security rules (?P<defm_rule>`+gName+`) description `+gQuoted),
		},
	},
	"fortigate": {
		maxLen: map[string]int{"": 79, "policy": 35},
		rules: []lineRule{
			lr("", `#`+gText),
			lr("", `config firewall (?P<section>address|address6|addrgrp|addrgrp6|service custom|policy)`),
			lr("", `end`),
			lr("", `    next`),
			lr("address", `    edit "(?P<def_addr4>`+gName+`)"`),
			lr("address", `        set subnet `+gIPv4+` `+gIPv4),
			lr("address6", `    edit "(?P<def_addr6>`+gName+`)"`),
			lr("address6", `        set ip6 `+gPfx6),
			lr("addrgrp", `    edit "(?P<def_grp4>`+gName+`)"`),
			lr("addrgrp", `        set member(?P<refs_addr4>(?: "`+gName+`")+)`),
			lr("addrgrp6", `    edit "(?P<def_grp6>`+gName+`)"`),
			lr("addrgrp6", `        set member(?P<refs_addr6>(?: "`+gName+`")+)`),
			lr("addrgrp", `        set comment `+gQuoted),
			lr("addrgrp6", `        set comment `+gQuoted),
			lr("service custom", `    edit "(?P<def_svc>`+gName+`)"`),
			lr("service custom", `        set protocol TCP/UDP/SCTP`),
			lr("service custom", `        set (?:tcp|udp)-portrange `+gRange+`(?: `+gRange+`)*`),
			lr("policy", `    edit 0`),
			lr("policy", `        set name "(?P<def_policy>`+gName+`)"`),
			lr("policy", `        set (?:srcintf|dstintf) "`+gOpt+`"`),
			lr("policy", `        set (?:srcaddr|dstaddr) "(?P<ref_grp4>`+gName+`)"`),
			lr("policy", `        set (?:srcaddr6|dstaddr6) "(?P<ref_grp6>`+gName+`)"`),
			lr("policy", `        set service "(?P<ref_svc>`+gName+`)"`),
			lr("policy", `        set action accept`),
			lr("policy", `        set schedule "always"`),
			lr("policy", `        set comments `+gQuoted),
		},
	},
}

// checkStructure returns every violation of g in out, at most 20.
func checkStructure(g grammar, out string) []string {
	type def struct {
		line  int
		multi bool
		last  int
	}
	var errs []string
	add := func(format string, args ...any) {
		if len(errs) < 20 {
			errs = append(errs, fmt.Sprintf(format, args...))
		}
	}
	defs := map[string]*def{}    // "kind name"
	names := map[string]string{} // lower-case name -> "kind name" of its definition
	type ref struct {
		key  string
		line int
	}
	var refs []ref
	section := ""
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if !strings.HasSuffix(out, "\n") {
		add("output does not end with a line break")
	}
	for i, l := range lines {
		n := i + 1
		var m []string
		var rule lineRule
		for _, r := range g.rules {
			if r.section != "" && r.section != section {
				continue
			}
			if m = r.re.FindStringSubmatch(l); m != nil {
				rule = r
				break
			}
		}
		if m == nil {
			add("line %d is no statement of the grammar (section %q): %q", n, section, l)
			continue
		}
		for gi, gname := range rule.re.SubexpNames() {
			if gname == "" || gi >= len(m) || m[gi] == "" {
				continue
			}
			if gname == "section" {
				section = m[gi]
				continue
			}
			verb, kind, _ := strings.Cut(gname, "_")
			if k, _, ok := strings.Cut(kind, "_"); ok {
				kind = k
			}
			var vals []string
			if verb == "refs" {
				for _, f := range strings.Fields(m[gi]) {
					vals = append(vals, strings.Trim(f, `"`))
				}
			} else {
				vals = []string{m[gi]}
			}
			for _, v := range vals {
				max, ok := g.maxLen[kind]
				if !ok {
					max = g.maxLen[""]
				}
				if len(v) > max {
					add("line %d: %s name %q is %d characters, more than %d", n, kind, v, len(v), max)
				}
				key := kind + " " + v
				switch verb {
				case "def", "defm":
					d := defs[key]
					switch {
					case d == nil:
						defs[key] = &def{line: n, multi: verb == "defm", last: n}
						if other, ok := names[strings.ToLower(v)]; ok && other != key {
							add("line %d: %s %q has the name of %s", n, kind, v, other)
						}
						names[strings.ToLower(v)] = key
					case d.multi && verb == "defm" && d.last == n-1:
						d.last = n
					default:
						add("line %d: %s %q defined again (first on line %d)", n, kind, v, d.line)
					}
				case "ref", "refs":
					refs = append(refs, ref{key, n})
				}
			}
		}
	}
	for _, r := range refs {
		if g.predefined[r.key] {
			continue
		}
		d := defs[r.key]
		switch {
		case d == nil:
			add("line %d: %s is referenced but never defined", r.line, r.key)
		case d.line > r.line && !d.multi:
			add("line %d: %s is referenced before its definition on line %d", r.line, r.key, d.line)
		}
	}
	return errs
}
