package ingest

import (
	"strconv"
	"strings"

	"github.com/rpcspan/rpcspan/audit"
)

// scanLinux reads the ephemeral port range of a Linux host and the RPC port
// range of Samba. Linux captures are recognised in three shapes only, so
// that prose about ip_local_port_range (the kernel documentation) yields
// nothing:
//   - the file is one line holding two port numbers (the /proc file itself);
//   - a line mentions ip_local_port_range (a "cat" prompt, possibly behind
//     "#") and the next non-blank line holds the two numbers, possibly
//     behind "#";
//   - sysctl's "net.ipv4.ip_local_port_range = 32768	60999".
//
// Samba's "rpc server dynamic port range" counts in [global] or before any
// section. An smb.conf whose [global] section sets Samba's own parameters
// (workgroup, server role, ...) but not the range runs on Samba's default
// range, 49152-65535, recorded at the [global] line. "rpc server port"
// (one fixed port for RPC servers) is not modelled and is reported.
func scanLinux(c *capture, lines []string) {
	if n, ok := linuxOnlyLine(lines); ok {
		if a, b, ok := linuxTwoPorts(lines[n-1]); ok {
			linuxRange(c, n, lines[n-1], a, b)
		}
	}
	global := true
	globalLine, sambaParams, rangeSet := 0, 0, false
	defer func() {
		if globalLine > 0 && sambaParams > 0 && !rangeSet {
			c.found("smb.conf")
			for _, k := range []audit.Key{audit.TCP4, audit.TCP6} {
				c.host.Ranges = append(c.host.Ranges, audit.RangeObs{Key: k, Range: audit.DefaultRange, Origin: audit.Captured, Src: c.src(globalLine)})
			}
		}
	}()
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if strings.Contains(line, "ip_local_port_range") {
			linuxMention(c, lines, i)
			continue
		}
		t := strings.TrimLeft(line, " \t")
		if t == "" {
			continue
		}
		switch t[0] {
		case '#', ';':
			continue
		case '[':
			name, _, _ := strings.Cut(t[1:], "]")
			global = strings.EqualFold(strings.TrimSpace(name), "global")
			if global && globalLine == 0 {
				globalLine = i + 1
			}
			continue
		}
		if !global {
			continue
		}
		name, value, ok := strings.Cut(t, "=")
		if !ok {
			continue
		}
		if sambaOwnParam(name) {
			sambaParams++
		}
		if n, v := strings.TrimSpace(name), strings.TrimSpace(value); strings.HasPrefix(strings.ToLower(n), "rpc server port") && v != "0" {
			c.found("smb.conf")
			c.problem(i+1, "%s = %s: Samba serves RPC on a fixed port here, which rpcspan does not model; its span is used instead", n, v)
			continue
		}
		if !sambaParamIs(name, "rpcserverdynamicportrange") {
			continue
		}
		rangeSet = true
		// Samba joins a line ending in "\" with the next one.
		n := i + 1
		value = strings.TrimSpace(value)
		for strings.HasSuffix(value, `\`) && i+1 < len(lines) {
			i++
			value = strings.TrimSuffix(value, `\`) + strings.TrimSpace(lines[i])
		}
		sambaRange(c, n, value)
	}
}

// linuxOnlyLine returns the 1-based number of the file's only non-blank
// line, and false when there are none or several.
func linuxOnlyLine(lines []string) (int, bool) {
	n := 0
	for i, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		if n != 0 {
			return 0, false
		}
		n = i + 1
	}
	return n, n != 0
}

// linuxMention reads the range belonging to lines[i], which mentions
// ip_local_port_range: either a sysctl line holding the value, or a command
// whose output is the next non-blank line.
func linuxMention(c *capture, lines []string, i int) {
	t := strings.TrimSpace(lines[i])
	if name, value, ok := strings.Cut(t, "="); ok && strings.TrimSpace(name) == "net.ipv4.ip_local_port_range" {
		a, b, ok := linuxTwoPorts(value)
		if !ok {
			c.found("linux-ip-local-port-range")
			c.problem(i+1, "ip_local_port_range %q: want two port numbers", strings.TrimSpace(value))
			return
		}
		linuxRange(c, i+1, value, a, b)
		return
	}
	for j := i + 1; j < len(lines); j++ {
		v := strings.TrimSpace(lines[j])
		if v == "" {
			continue
		}
		v = strings.TrimPrefix(v, "#")
		if a, b, ok := linuxTwoPorts(v); ok {
			linuxRange(c, j+1, v, a, b)
		}
		return
	}
}

// linuxTwoPorts splits s into exactly two runs of digits separated by
// blanks, as the kernel prints the range.
func linuxTwoPorts(s string) (a, b string, ok bool) {
	f := strings.Fields(s)
	if len(f) != 2 || !linuxDigits(f[0]) || !linuxDigits(f[1]) {
		return "", "", false
	}
	return f[0], f[1], true
}

func linuxDigits(s string) bool {
	for j := 0; j < len(s); j++ {
		if s[j] < '0' || s[j] > '9' {
			return false
		}
	}
	return s != ""
}

// linuxPort reads a run of digits as a port number.
func linuxPort(s string) (uint16, bool) {
	if len(s) > 5 {
		return 0, false
	}
	v, err := strconv.Atoi(s)
	if err != nil || v > 65535 {
		return 0, false
	}
	return uint16(v), true
}

// linuxRange records the range first-last read on line n (text is the
// value as written). One range serves TCP and UDP over IPv4 and IPv6.
func linuxRange(c *capture, n int, text, first, last string) {
	c.found("linux-ip-local-port-range")
	text = strings.TrimSpace(text)
	lo, ok1 := linuxPort(first)
	hi, ok2 := linuxPort(last)
	switch {
	case !ok1 || !ok2:
		c.problem(n, "ip_local_port_range %q: port outside 0-65535", text)
		return
	case hi < lo:
		c.problem(n, "ip_local_port_range %q: last port below first", text)
		return
	}
	r := audit.PortRange{First: lo, Last: hi}
	for _, k := range audit.Keys {
		c.host.Ranges = append(c.host.Ranges, audit.RangeObs{Key: k, Range: r, Origin: audit.Captured, Src: c.src(n)})
	}
}

// sambaOwnParam reports whether name is a [global] parameter only Samba's
// smb.conf has, which tells it from other INI files with a [global]
// section.
func sambaOwnParam(name string) bool {
	for _, p := range []string{"workgroup", "serverrole", "netbiosname", "realm", "security", "passdbbackend", "serverstring", "dnsforwarder"} {
		if sambaParamIs(name, p) {
			return true
		}
	}
	return false
}

// sambaParamIs compares a parameter name the way Samba does: ignoring case
// and blanks ("RPC Server Dynamic Port Range" and
// "rpcserverdynamicportrange" are the same). want is lower case without
// blanks.
func sambaParamIs(name, want string) bool {
	j := 0
	for k := 0; k < len(name); k++ {
		ch := name[k]
		if ch == ' ' || ch == '\t' {
			continue
		}
		if ch >= 'A' && ch <= 'Z' {
			ch += 'a' - 'A'
		}
		if j >= len(want) || want[j] != ch {
			return false
		}
		j++
	}
	return j == len(want)
}

// sambaRange reads "FIRST-LAST" with Samba's own limits: Samba refuses a
// value below 1024, above 65535 or with LAST below FIRST and keeps its
// default, so such a value is a problem rather than a range.
func sambaRange(c *capture, n int, value string) {
	c.found("smb.conf")
	a, b, ok := strings.Cut(value, "-")
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	if !ok || !linuxDigits(a) || !linuxDigits(b) {
		c.problem(n, "rpc server dynamic port range %q: want FIRST-LAST", value)
		return
	}
	lo, ok1 := linuxPort(a)
	hi, ok2 := linuxPort(b)
	switch {
	case !ok1 || !ok2 || lo < 1024:
		c.problem(n, "rpc server dynamic port range %q: samba accepts ports 1024-65535 only", value)
		return
	case hi < lo:
		c.problem(n, "rpc server dynamic port range %q: last port below first", value)
		return
	}
	r := audit.PortRange{First: lo, Last: hi}
	// Samba's RPC servers listen on TCP only, in both families.
	for _, k := range []audit.Key{audit.TCP4, audit.TCP6} {
		c.host.Ranges = append(c.host.Ranges, audit.RangeObs{Key: k, Range: r, Origin: audit.Captured, Src: c.src(n)})
	}
}
