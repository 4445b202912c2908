package ingest

import (
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/rpcspan/rpcspan/audit"
)

// collectorVersion is the "rpcspan_collector" format version ReadCollector
// knows. A newer version is read too, with one problem saying so, and keys
// this reader does not know are then ignored instead of reported.
const collectorVersion = 1

// collectorFormat is the name ReadCollector gives its format in
// Result.Formats.
const collectorFormat = "collector"

// IsCollectorJSON reports whether text looks like the output of rpcspan's
// collector script: after leading white space and an optional "[", an
// object starts, and the key "rpcspan_collector" appears somewhere. It is
// cheap, for Detect; ReadCollector does the real checking.
func IsCollectorJSON(text string) bool {
	t := strings.TrimLeft(text, " \t\r\n\uFEFF")
	if strings.HasPrefix(t, "[") {
		t = strings.TrimLeft(t[1:], " \t\r\n")
	}
	return strings.HasPrefix(t, "{") && strings.Contains(t, `"rpcspan_collector"`)
}

// ReadCollector reads the JSON written by rpcspan's collector script
// (templates.Collector): one object per host, as one object, an array of
// objects, or several objects one after another (what Invoke-Command
// fan-out redirected to a file gives), in UTF-16LE with BOM (Windows
// PowerShell 5.1 ">") or UTF-8.
//
// Every object becomes one host named by its "host" key. An object that has
// no valid host name, or no "rpcspan_collector" key, is skipped with a
// problem. A value that cannot be read (a start port of 70000, a count of
// "x", an unknown key, a string where a list belongs) is a problem naming
// its line, and the rest is read. Each entry of the object's "errors" list
// (what the script could not collect on that host) becomes a problem too,
// its message starting with "collector: ", so that a gap in the collection
// reaches the report instead of passing for a default. The lines of
// "firewall_rules" (netsh advfirewall's listing of the inbound rules)
// become one Host.FirewallCaptures entry that keeps the line of each, for
// package rulebase to read as the host's own rules; those of
// "firewall_profiles" (netsh advfirewall show allprofiles) are read into
// Host.FirewallProfiles, each setting naming its line. JSON that cannot be
// parsed at all sets Result.Fatal.
func ReadCollector(r io.Reader, file string) (*Result, error) {
	b, err := readAll(r, file)
	if err != nil {
		return nil, err
	}
	return parseCollector(Decode(b), file), nil
}

func parseCollector(text, file string) *Result {
	res := &Result{Kind: KindCollector, Formats: []string{collectorFormat}}
	vals, err := parseJSONStream(text)
	if err != nil {
		res.Fatal = fmt.Errorf("%s:%d: collector JSON: %s", file, err.line, err.msg)
		return res
	}
	cr := &collectorReader{file: file, res: res}
	if len(vals) == 0 {
		cr.problem(1, "", "no JSON object in the file")
	}
	for _, v := range vals {
		switch v.kind {
		case jsonObject:
			cr.object(v)
		case jsonArray:
			for _, e := range v.elems {
				if e.kind == jsonObject {
					cr.object(e)
				} else {
					cr.problem(e.line, "", "want a collector object, got %s", describe(e))
				}
			}
		default:
			cr.problem(v.line, "", "want a collector object, got %s", describe(v))
		}
	}
	return res
}

// collectorReader turns parsed JSON objects into hosts.
type collectorReader struct {
	file string
	res  *Result
	host *audit.Host // the host being read
	// lenient is set for objects of a newer format version, whose unknown
	// keys are ignored.
	lenient bool
}

func (cr *collectorReader) src(line int) audit.Source {
	return audit.Source{File: cr.file, Line: line}
}

func (cr *collectorReader) problem(line int, host, format string, args ...any) {
	cr.res.Problems = append(cr.res.Problems, audit.Problem{Src: cr.src(line), Host: host, Msg: fmt.Sprintf(format, args...)})
}

// bad records a problem about the host being read.
func (cr *collectorReader) bad(line int, format string, args ...any) {
	cr.problem(line, cr.host.Name, format, args...)
}

// object reads one host's object.
func (cr *collectorReader) object(o *jsonValue) {
	marker, hostVal := o.get("rpcspan_collector"), o.get("host")
	if marker == nil {
		cr.problem(o.line, hostName(hostVal), `object without "rpcspan_collector": not collector output, skipped`)
		return
	}
	if hostVal == nil {
		cr.problem(o.line, "", `object without "host": skipped, since the host it describes is unknown`)
		return
	}
	if hostVal.kind != jsonString {
		cr.problem(hostVal.line, "", "host: want a host name, got %s; object skipped", describe(hostVal))
		return
	}
	if err := audit.ValidHostName(hostVal.text); err != nil {
		cr.problem(hostVal.line, "", "host: %v; object skipped", err)
		return
	}
	cr.host = &audit.Host{Name: hostVal.text, NameSrc: cr.src(hostVal.line)}
	cr.lenient = false
	cr.version(marker)

	seen := make(map[string]bool, len(o.members)) // a map: objects may be huge
	for _, m := range o.members {
		if seen[m.key] {
			cr.bad(m.line, "duplicate key %q; the first one is used", m.key)
			continue
		}
		seen[m.key] = true
		v := m.val
		switch m.key {
		case "rpcspan_collector", "host":
			// read above
		case "fqdn":
			cr.optString(v, "fqdn")
		case "os":
			if s, ok := cr.optString(v, "os"); ok {
				cr.host.OS = strings.TrimSpace(s)
			}
		case "addresses":
			cr.addresses(v)
		case "dynamic":
			cr.dynamic(v)
		case "excluded":
			cr.excluded(v)
		case "rpc_internet":
			cr.rpcInternet(v)
		case "firewall_rules":
			cr.firewallRules(v)
		case "firewall_profiles":
			cr.firewallProfiles(v)
		case "errors":
			cr.errors(v)
		default:
			cr.unknown(m)
		}
	}
	cr.res.Hosts = append(cr.res.Hosts, cr.host)
}

// hostName returns the host name v holds, for naming a problem about an
// object that is skipped; "" when there is none.
func hostName(v *jsonValue) string {
	if v != nil && v.kind == jsonString && audit.ValidHostName(v.text) == nil {
		return v.text
	}
	return ""
}

func (cr *collectorReader) version(v *jsonValue) {
	n, ok := integer(v)
	switch {
	case !ok || n < 1:
		cr.bad(v.line, "rpcspan_collector: want the format version %d, got %s", collectorVersion, describe(v))
	case n > collectorVersion:
		cr.bad(v.line, "rpcspan_collector: format version %d is newer than this rpcspan reads (%d); keys it does not know are ignored", n, collectorVersion)
		cr.lenient = true
	}
}

func (cr *collectorReader) unknown(m jsonMember) {
	if !cr.lenient {
		cr.bad(m.line, "unknown key %q", m.key)
	}
}

// want reports that the value at path has the wrong type.
func (cr *collectorReader) want(v *jsonValue, path, what string) {
	cr.bad(v.line, "%s: want %s, got %s", path, what, describe(v))
}

// optString returns a string value; null is no value, anything else a
// problem.
func (cr *collectorReader) optString(v *jsonValue, path string) (string, bool) {
	switch v.kind {
	case jsonString:
		return v.text, true
	case jsonNull:
	default:
		cr.want(v, path, "a string or null")
	}
	return "", false
}

// list returns the elements of a list value; null is an empty list.
func (cr *collectorReader) list(v *jsonValue, path string) []*jsonValue {
	switch v.kind {
	case jsonArray:
		return v.elems
	case jsonNull:
	default:
		cr.want(v, path, "a list or null")
	}
	return nil
}

// eachKey calls fn, in the order written, for the members of an object
// value whose keys are the four range keys (tcp4, udp4, tcp6, udp6); null
// is an empty object.
func (cr *collectorReader) eachKey(v *jsonValue, path string, fn func(m jsonMember)) {
	switch v.kind {
	case jsonObject:
	case jsonNull:
		return
	default:
		cr.want(v, path, "an object or null")
		return
	}
	var seen []string
	for _, m := range v.members {
		if !slices.Contains(audit.Keys, audit.Key(m.key)) {
			if !cr.lenient {
				cr.bad(m.line, "%s: unknown key %q (want tcp4, udp4, tcp6 or udp6)", path, m.key)
			}
			continue
		}
		if slices.Contains(seen, m.key) {
			cr.bad(m.line, "%s: duplicate key %q; the first one is used", path, m.key)
			continue
		}
		seen = append(seen, m.key)
		fn(m)
	}
}

// port reads a port number or count: an integer, reported with path when
// it is not one. Range checks are left to the caller, whose messages say
// what the number was for.
func (cr *collectorReader) port(v *jsonValue, path string) (int, bool) {
	n, ok := integer(v)
	if !ok {
		cr.want(v, path, "an integer")
	}
	return n, ok
}

// fields returns the values of the members of object o called names, in
// that order: nil for a missing one, the first for a repeated one. Other
// keys are a problem unless the object is of a newer format version.
func (cr *collectorReader) fields(o *jsonValue, path string, names ...string) []*jsonValue {
	vals := make([]*jsonValue, len(names))
	for _, m := range o.members {
		if i := slices.Index(names, m.key); i >= 0 {
			vals[i] = firstOf(vals[i], m.val)
		} else if !cr.lenient {
			want := strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
			cr.bad(m.line, "%s: unknown key %q (want %s)", path, m.key, want)
		}
	}
	return vals
}

func (cr *collectorReader) addresses(v *jsonValue) {
	seen := map[netip.Addr]bool{}
	for i, e := range cr.list(v, "addresses") {
		path := fmt.Sprintf("addresses[%d]", i)
		if e.kind != jsonString {
			cr.want(e, path, "an IP address")
			continue
		}
		a, err := netip.ParseAddr(strings.TrimSpace(e.text))
		if err != nil {
			cr.bad(e.line, "%s: %q is not an IP address", path, e.text)
			continue
		}
		a = a.Unmap()
		if a.Zone() != "" || !serverAddr(a) {
			cr.bad(e.line, "%s: %q is not a server address (loopback, link-local, unspecified or multicast)", path, e.text)
			continue
		}
		if !seen[a] {
			seen[a] = true
			cr.host.Addresses = append(cr.host.Addresses, audit.Addr{Addr: a, Src: cr.src(e.line)})
		}
	}
}

func (cr *collectorReader) dynamic(v *jsonValue) {
	cr.eachKey(v, "dynamic", func(m jsonMember) {
		path := "dynamic." + m.key
		r := m.val
		switch r.kind {
		case jsonNull:
			return // not collected; the "errors" list says why
		case jsonObject:
		default:
			cr.want(r, path, "an object with start and count, or null")
			return
		}
		f := cr.fields(r, path, "start", "count")
		start, count := f[0], f[1]
		if start == nil || count == nil {
			cr.bad(r.line, "%s: want both start and count", path)
			return
		}
		s, ok1 := cr.port(start, path+".start")
		n, ok2 := cr.port(count, path+".count")
		if !ok1 || !ok2 {
			return
		}
		pr, err := audit.RangeFromStartCount(s, n)
		if err != nil {
			cr.bad(r.line, "%s: %v", path, err)
			return
		}
		cr.host.Ranges = append(cr.host.Ranges, audit.RangeObs{Key: audit.Key(m.key), Range: pr, Origin: audit.Captured, Src: cr.src(m.line)})
	})
}

func (cr *collectorReader) excluded(v *jsonValue) {
	cr.eachKey(v, "excluded", func(m jsonMember) {
		key := audit.Key(m.key)
		for i, e := range cr.list(m.val, "excluded."+m.key) {
			path := fmt.Sprintf("excluded.%s[%d]", m.key, i)
			if e.kind != jsonObject {
				cr.want(e, path, "an object with start, end and administered")
				continue
			}
			f := cr.fields(e, path, "start", "end", "administered")
			start, end, admin := f[0], f[1], f[2]
			if start == nil || end == nil {
				cr.bad(e.line, "%s: want both start and end", path)
				continue
			}
			first, ok1 := cr.port(start, path+".start")
			last, ok2 := cr.port(end, path+".end")
			if !ok1 || !ok2 {
				continue
			}
			switch {
			case first < 0 || first > 65535:
				cr.bad(start.line, "%s: start port %d outside 0-65535", path, first)
				continue
			case last < 0 || last > 65535:
				cr.bad(end.line, "%s: end port %d outside 0-65535", path, last)
				continue
			case last < first:
				cr.bad(end.line, "%s: end port %d below start port %d", path, last, first)
				continue
			}
			administered := false
			if admin != nil {
				switch admin.kind {
				case jsonBool:
					administered = admin.text == "true"
				case jsonNull:
				default:
					cr.want(admin, path+".administered", "true or false")
				}
			}
			x := audit.Excluded{Key: key, Range: audit.PortRange{First: uint16(first), Last: uint16(last)}, Administered: administered, Src: cr.src(e.line)}
			cr.host.Excluded = append(cr.host.Excluded, x)
		}
	})
}

func (cr *collectorReader) rpcInternet(v *jsonValue) {
	switch v.kind {
	case jsonNull:
		return
	case jsonObject:
	default:
		cr.want(v, "rpc_internet", "an object or null")
		return
	}
	rpc := &audit.RPCInternet{}
	var present *jsonValue
	anyValue := false
	for _, m := range v.members {
		path := "rpc_internet." + m.key
		if m.val.kind != jsonNull {
			anyValue = anyValue || m.key != "present"
		}
		switch m.key {
		case "present":
			present = firstOf(present, m.val)
		case "ports":
			for i, e := range cr.list(m.val, path) {
				if e.kind != jsonString {
					cr.want(e, fmt.Sprintf("%s[%d]", path, i), "a string")
					continue
				}
				rpc.Ports = append(rpc.Ports, audit.PortsEntry{Text: e.text, Src: cr.src(e.line)})
			}
		case "ports_type":
			if s, ok := cr.optString(m.val, path); ok {
				rpc.PortsType = s
			}
		case "ports_internet_available":
			if s, ok := cr.optString(m.val, path); ok {
				rpc.PortsInternetAvailable = audit.Flag{Value: s, Src: cr.src(m.val.line)}
			}
		case "use_internet_ports":
			if s, ok := cr.optString(m.val, path); ok {
				rpc.UseInternetPorts = audit.Flag{Value: s, Src: cr.src(m.val.line)}
			}
		default:
			if !cr.lenient {
				cr.bad(m.line, "rpc_internet: unknown key %q", m.key)
			}
		}
	}
	switch {
	case present == nil:
		// Values tell that the key exists.
		cr.bad(v.line, "rpc_internet: no \"present\" key")
		if anyValue {
			cr.host.RPC = rpc
		}
	case present.kind != jsonBool:
		cr.want(present, "rpc_internet.present", "true or false")
		if anyValue {
			cr.host.RPC = rpc
		}
	case present.text == "true":
		cr.host.RPC = rpc
	case anyValue:
		cr.bad(present.line, "rpc_internet: values given although present is false; they are ignored")
	}
}

// firewallRules records the host's inbound Windows Firewall rules, the
// lines netsh advfirewall printed, for package rulebase to read. netsh's
// listing is read by position, so a line that is not a string is not
// skipped: the listing is then left out, as a missing line would shift
// the fields after it. null means not collected (the "errors" list says
// why); the key is absent when the script ran with -NoFirewall.
func (cr *collectorReader) firewallRules(v *jsonValue) {
	text, lines, ok := cr.netshLines(v, "firewall_rules", "the host's firewall rules")
	if !ok {
		return
	}
	cr.host.FirewallCaptures = append(cr.host.FirewallCaptures, audit.FirewallCapture{
		Src: cr.src(lines[0]), Text: text, Lines: lines,
	})
}

// firewallProfiles reads the lines "netsh advfirewall show allprofiles"
// printed into the host's Windows Firewall profile settings, as a capture
// of that command is read (scanNetshProfiles; the three blocks are
// Domain, Private and Public in that order whatever the display
// language), each setting and problem naming the line of the JSON file
// that holds it. Lines that are not strings leave the settings out, as
// for firewall_rules; null means not collected, and the key is absent
// when the script ran with -NoFirewall.
func (cr *collectorReader) firewallProfiles(v *jsonValue) {
	const what = "the host's firewall profile settings"
	text, at, ok := cr.netshLines(v, "firewall_profiles", what)
	if !ok {
		return
	}
	c := newCapture(cr.file)
	obs := scanNetshProfiles(c, SplitLines(text), "all")
	fileLine := func(s audit.Source) audit.Source {
		if s.Line >= 1 && s.Line <= len(at) {
			s.Line = at[s.Line-1]
		}
		return s
	}
	for _, p := range c.problems {
		cr.bad(fileLine(p.Src).Line, "firewall_profiles: %s", p.Msg)
	}
	if len(obs) == 0 && len(c.problems) == 0 {
		cr.bad(at[0], "firewall_profiles: no profile settings in the lines, want what netsh advfirewall show allprofiles printed; %s are left out", what)
		return
	}
	for _, o := range obs {
		p := o.p
		if !p.StateSrc.IsZero() {
			p.StateSrc = fileLine(p.StateSrc)
		}
		if !p.InboundSrc.IsZero() {
			p.InboundSrc = fileLine(p.InboundSrc)
		}
		cr.host.SetFirewallProfile(p)
	}
}

// netshLines returns the text of a list of netsh output lines (key
// firewall_rules or firewall_profiles), each ending in "\n", and the JSON
// line of each. ok is false, with a problem saying that what is left
// out, when the list is not there or cannot be used.
func (cr *collectorReader) netshLines(v *jsonValue, key, what string) (text string, lines []int, ok bool) {
	elems := cr.list(v, key)
	if v.kind == jsonArray && len(elems) == 0 {
		cr.bad(v.line, "%s: empty list, want the lines netsh printed; %s are left out", key, what)
		return "", nil, false
	}
	var b strings.Builder
	lines = make([]int, 0, len(elems))
	ok = true
	for i, e := range elems {
		if e.kind != jsonString {
			cr.bad(e.line, "%s[%d]: want a string, got %s; %s are left out", key, i, describe(e), what)
			ok = false
			continue
		}
		// One line per element as the script writes them; line ends
		// inside one (a hand edit) still map to the element's line.
		for l := range strings.SplitSeq(e.text, "\n") {
			b.WriteString(strings.TrimRight(l, "\r"))
			b.WriteByte('\n')
			lines = append(lines, e.line)
		}
	}
	if !ok || len(elems) == 0 {
		return "", nil, false
	}
	if strings.TrimSpace(b.String()) == "" {
		cr.bad(v.line, "%s: only empty lines, want the lines netsh printed; %s are left out", key, what)
		return "", nil, false
	}
	return b.String(), lines, true
}

// errors turns what the script could not collect into problems.
func (cr *collectorReader) errors(v *jsonValue) {
	for i, e := range cr.list(v, "errors") {
		if e.kind != jsonString {
			cr.want(e, fmt.Sprintf("errors[%d]", i), "a string")
			continue
		}
		// One line, whatever a hand edit put there, so that the report
		// shows it as one finding.
		cr.bad(e.line, "collector: %s", strings.Join(strings.Fields(e.text), " "))
	}
}

func firstOf(have, v *jsonValue) *jsonValue {
	if have != nil {
		return have
	}
	return v
}

// integer returns the value of an integer JSON number. Numbers with a
// fraction or exponent are not integers; integers too long to matter are
// clamped, so that range checks still reject them.
func integer(v *jsonValue) (int, bool) {
	if v.kind != jsonNumber || strings.ContainsAny(v.text, ".eE") {
		return 0, false
	}
	digits := strings.TrimPrefix(v.text, "-")
	n := 1 << 30
	if len(digits) <= 9 {
		n, _ = strconv.Atoi(digits)
	}
	if len(digits) < len(v.text) {
		n = -n
	}
	return n, true
}

// describe names a JSON value in a problem message, quoting its text.
func describe(v *jsonValue) string {
	switch v.kind {
	case jsonString:
		return fmt.Sprintf("the string %q", clip(v.text, 60))
	case jsonNumber:
		return fmt.Sprintf("the number %s", v.text)
	case jsonBool:
		return v.text
	case jsonNull:
		return "null"
	case jsonArray:
		return "a list"
	}
	return "an object"
}
