package ingest

import (
	"fmt"
	"strings"

	"github.com/rpcspan/rpcspan/audit"
)

// Capture formats scanNetsh reports through capture.found.
const (
	formatNetshDynamic  = "netsh-dynamicport"
	formatNetshExcluded = "netsh-excludedportrange"
)

// scanNetsh reads the output of "netsh int ipv4|ipv6 show dynamicport
// tcp|udp" and "netsh int ipv4|ipv6 show excludedportrange protocol=tcp|udp".
//
// Windows translates every word netsh prints, so blocks are found by their
// shape, never by label text: a header naming tcp or udp as a word, then
// either a single line of dashes (dynamicport) or a column-title line and a
// line of two dash groups (excludedportrange). The output does not say IPv4
// or IPv6; only an echoed command line before the block does, so the most
// recent such line decides and IPv4 is assumed without one.
func scanNetsh(c *capture, lines []string) {
	family := 4
	for i := 0; i < len(lines); i++ {
		t := netshTrim(lines[i])
		if t == "" {
			continue
		}
		if t[0] != '-' {
			if f, ok := netshCommandFamily(t); ok {
				family = f
			}
			// Windows Server 2003's netsh has no "int ipv4" context; its
			// refusal tells that the host is pre-Vista (English only).
			if strings.HasPrefix(t, "The following command was not found: int") && strings.Contains(t, "dynamicport") {
				if c.host.PreVista.IsZero() {
					c.host.PreVista = c.src(i + 1)
				}
				c.found("netsh-pre-vista")
			}
			continue
		}
		if netshIsDashes(t) {
			if len(t) >= 10 && i > 0 {
				if proto := netshProto(netshTrim(lines[i-1])); proto != "" {
					i = scanNetshDynamic(c, lines, i, audit.MakeKey(proto, family))
				}
			}
			continue
		}
		if proto := netshExcludedHeader(lines, i); proto != "" {
			i = scanNetshExcluded(c, lines, i, audit.MakeKey(proto, family))
		}
	}
}

// scanNetshDynamic reads the two "label : integer" lines after the dash line
// at index dash and returns the index of the last line it used. Labels are
// translated, so the lines are taken by position: start port, then number of
// ports.
func scanNetshDynamic(c *capture, lines []string, dash int, key audit.Key) int {
	var idx [2]int
	var val [2]string
	j := dash
	for k := range idx {
		j++
		for j < len(lines) && netshTrim(lines[j]) == "" {
			j++
		}
		if j >= len(lines) {
			return dash
		}
		v, ok := netshLabelValue(netshTrim(lines[j]))
		if !ok {
			return dash
		}
		idx[k], val[k] = j, v
	}
	// "netsh int tcp show global" and "show tcpstats" also print a tcp
	// header over a dash line, but with many "label : value" lines; a
	// dynamicport block has exactly two.
	if j+1 < len(lines) {
		if _, ok := netshLabelValue(netshTrim(lines[j+1])); ok {
			return dash
		}
	}
	c.found(formatNetshDynamic)
	r, bad, err := netshStartCount(val[0], val[1], "start port", "number of ports")
	if err != nil {
		c.problem(idx[bad]+1, "netsh dynamicport %s: %v", key, err)
		return j
	}
	c.host.Ranges = append(c.host.Ranges, audit.RangeObs{Key: key, Range: r, Origin: audit.Captured, Src: c.src(idx[0] + 1)})
	return j
}

// netshStartCount reads a dynamic port range as Windows prints it, in netsh
// and Get-Net*Setting output alike: a decimal start port and number of
// ports. On failure bad is 0 when the start is wrong and 1 when the count
// is, and err starts with startName or countName and quotes the value, for
// the caller to put after its own prefix.
func netshStartCount(start, count, startName, countName string) (r audit.PortRange, bad int, err error) {
	s, ok := netshNumber(start)
	if !ok {
		return r, 0, fmt.Errorf("%s %q is not a number", startName, start)
	}
	if s > 65535 {
		return r, 0, fmt.Errorf("%s %q outside 0-65535", startName, start)
	}
	n, ok := netshNumber(count)
	if !ok {
		return r, 1, fmt.Errorf("%s %q is not a number", countName, count)
	}
	if r, err = audit.RangeFromStartCount(s, n); err != nil {
		return r, 1, fmt.Errorf("%s %q: %w", countName, count, err)
	}
	return r, 0, nil
}

// netshExcludedHeader reports the protocol of an excludedportrange block
// whose two-group dash line is at index dash: a column-title line right
// above it and, above that past any blank lines, a header naming tcp or udp.
// It returns "" when the lines do not have that shape.
func netshExcludedHeader(lines []string, dash int) string {
	f := strings.Fields(netshTrim(lines[dash]))
	if len(f) != 2 || len(f[0]) < 3 || len(f[1]) < 3 || !netshIsDashes(f[0]) || !netshIsDashes(f[1]) {
		return ""
	}
	if dash < 2 {
		return ""
	}
	if t := netshTrim(lines[dash-1]); t == "" || t[0] == '-' {
		return ""
	}
	j := dash - 2
	for j >= 0 && netshTrim(lines[j]) == "" {
		j--
	}
	if j < 0 {
		return ""
	}
	return netshProto(netshTrim(lines[j]))
}

// scanNetshExcluded reads the rows after the dash line at index dash and
// returns the index of the last line it used. A table without rows is valid:
// it says the host has no exclusions.
func scanNetshExcluded(c *capture, lines []string, dash int, key audit.Key) int {
	j := dash + 1
	for ; j < len(lines); j++ {
		t := netshTrim(lines[j])
		if t == "" || t[0] == '*' {
			break
		}
		if _, ok := netshCommandFamily(t); ok {
			break
		}
		f := strings.Fields(t)
		if len(f) == 0 {
			break // only Unicode spaces netshTrim keeps: a blank line
		}
		// "show udpconnections" prints a two-column address table under a
		// udp header; its rows start with an address, never a port.
		if j == dash+1 && strings.ContainsAny(f[0], ".:[") {
			return dash
		}
		n := j + 1
		if len(f) < 2 || len(f) > 3 || len(f) == 3 && f[2] != "*" {
			c.problem(n, "netsh excludedportrange %s: row %q: want start port, end port and an optional '*'", key, t)
			continue
		}
		first, ok := netshNumber(f[0])
		if !ok {
			c.problem(n, "netsh excludedportrange %s: start port %q is not a number", key, f[0])
			continue
		}
		if first > 65535 {
			c.problem(n, "netsh excludedportrange %s: start port %q outside 0-65535", key, f[0])
			continue
		}
		last, ok := netshNumber(f[1])
		if !ok {
			c.problem(n, "netsh excludedportrange %s: end port %q is not a number", key, f[1])
			continue
		}
		if last > 65535 {
			c.problem(n, "netsh excludedportrange %s: end port %q outside 0-65535", key, f[1])
			continue
		}
		if last < first {
			c.problem(n, "netsh excludedportrange %s: row %q: end port below start port", key, t)
			continue
		}
		c.host.Excluded = append(c.host.Excluded, audit.Excluded{
			Key:          key,
			Range:        audit.PortRange{First: uint16(first), Last: uint16(last)},
			Administered: len(f) == 3,
			Src:          c.src(n),
		})
	}
	c.found(formatNetshExcluded)
	return j - 1
}

// netshTrim removes what surrounds netsh output in real captures: trailing
// spaces, indentation, and comment prefixes such as "  #      " when the
// output was pasted into a script.
func netshTrim(s string) string {
	return strings.TrimRight(strings.TrimLeft(s, " \t#"), " \t")
}

// netshIsDashes reports whether s is made of '-' only.
func netshIsDashes(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != '-' {
			return false
		}
	}
	return s != ""
}

// netshLabelValue splits "label : value" and reports whether s has that form.
func netshLabelValue(s string) (string, bool) {
	label, value, ok := strings.Cut(s, ":")
	if !ok || strings.TrimSpace(label) == "" {
		return "", false
	}
	return strings.TrimSpace(value), true
}

// netshProto returns "tcp" or "udp" when s holds one of them as a whole word
// in any case, and "" otherwise. Only ASCII letters, digits and '_' join a
// word, so "tcpstats" does not count while a header written in a script
// without spaces (Chinese, Japanese) still does.
func netshProto(s string) string {
	for i := 0; i+3 <= len(s); i++ {
		if i > 0 && netshWordByte(s[i-1]) {
			continue
		}
		if i+3 < len(s) && netshWordByte(s[i+3]) {
			continue
		}
		switch w := s[i : i+3]; {
		case strings.EqualFold(w, "tcp"):
			return "tcp"
		case strings.EqualFold(w, "udp"):
			return "udp"
		}
	}
	return ""
}

func netshWordByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_'
}

// netshCommandFamily recognises an echoed command line such as
// `C:\Windows\system32>netsh int ipv6 show dynamicport tcp`,
// `PS C:\> netsh interface ipv4 show excludedportrange udp` or the prompt of
// netsh's own shell (`netsh interface ipv6>show dynamicport tcp`), and
// returns the address family it names.
func netshCommandFamily(s string) (int, bool) {
	k := netshIndexFold(s, "netsh")
	if k < 0 {
		return 0, false
	}
	if pre := strings.TrimRight(s[:k], " \t"); pre != "" {
		switch pre[len(pre)-1] {
		case '>', '$', '&':
		default:
			return 0, false
		}
	}
	rest := s[k+len("netsh"):]
	if len(rest) >= 4 && strings.EqualFold(rest[:4], ".exe") {
		rest = rest[4:]
	}
	if rest == "" || rest[0] != ' ' && rest[0] != '\t' {
		return 0, false
	}
	f := strings.FieldsFunc(rest, func(r rune) bool { return r == ' ' || r == '\t' || r == '>' })
	if len(f) < 4 || !netshAbbrev(f[0], "interface", 2) || !netshAbbrev(f[2], "show", 2) {
		return 0, false
	}
	if !netshAbbrev(f[3], "dynamicport", 3) && !netshAbbrev(f[3], "excludedportrange", 3) {
		return 0, false
	}
	switch strings.ToLower(f[1]) {
	case "ipv4", "ip":
		return 4, true
	case "ipv6":
		return 6, true
	}
	return 0, false
}

// netshAbbrev reports whether s is word or an abbreviation of it netsh
// accepts (at least min characters), ignoring case.
func netshAbbrev(s, word string, min int) bool {
	return len(s) >= min && len(s) <= len(word) && strings.EqualFold(s, word[:len(s)])
}

// netshIndexFold returns the index of the first instance of the lower-case
// ASCII word in s, ignoring case, or -1. It avoids lowering every line of a
// capture.
func netshIndexFold(s, word string) int {
	for i := 0; i+len(word) <= len(s); i++ {
		if s[i]|0x20 == word[0] && strings.EqualFold(s[i:i+len(word)], word) {
			return i
		}
	}
	return -1
}

// netshNumber reads a decimal number made of ASCII digits only. Numbers too
// large for the ports at hand come back as 1e9 rather than failing, so that
// callers report "outside 0-65535" instead of "not a number".
func netshNumber(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if n < 1e8 {
			n = n*10 + int(c-'0')
		} else {
			n = 1e9
		}
	}
	return n, true
}
