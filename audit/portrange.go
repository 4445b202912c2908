package audit

import (
	"fmt"
	"strconv"
	"strings"
)

// PortRange is an inclusive range of TCP or UDP ports. A single port has
// First == Last. The zero value is the range holding only port 0.
type PortRange struct {
	First uint16 // first port, inclusive
	Last  uint16 // last port, inclusive, >= First
}

// The netsh limits for "netsh int ipv4 set dynamicport": at least
// MinDynamicPorts ports, the first at least MinDynamicStart.
const (
	MinDynamicStart = 1025
	MinDynamicPorts = 255
)

// Well-known ranges from Microsoft's articles (KB929851).
var (
	// DefaultRange is the dynamic range of Vista / Server 2008 and later.
	DefaultRange = PortRange{49152, 65535}
	// LegacyRange is the dynamic range of Windows 2000, XP and Server 2003.
	LegacyRange = PortRange{1025, 5000}
	// Exchange2007Range is what Exchange 2007 sets on Server 2008.
	Exchange2007Range = PortRange{1025, 60000}
)

// Len returns the number of ports in r.
func (r PortRange) Len() int { return int(r.Last) - int(r.First) + 1 }

// Contains reports whether port p lies in r.
func (r PortRange) Contains(p uint16) bool { return p >= r.First && p <= r.Last }

// Overlaps reports whether r and o share at least one port.
func (r PortRange) Overlaps(o PortRange) bool { return r.First <= o.Last && o.First <= r.Last }

// String returns "135" for a single port and "49152-65535" for a range.
func (r PortRange) String() string {
	if r.First == r.Last {
		return strconv.Itoa(int(r.First))
	}
	return strconv.Itoa(int(r.First)) + "-" + strconv.Itoa(int(r.Last))
}

// NetshArgs returns the start and count netsh uses for r.
func (r PortRange) NetshArgs() (start, count int) { return int(r.First), r.Len() }

// WithinNetshLimits reports whether netsh would accept r as a dynamic range:
// at least 255 ports, starting at 1025 or above, ending at 65535 or below.
func (r PortRange) WithinNetshLimits() bool {
	return r.First >= MinDynamicStart && r.Len() >= MinDynamicPorts
}

// MarshalText implements encoding.TextMarshaler with String's form.
func (r PortRange) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParseRange.
func (r *PortRange) UnmarshalText(b []byte) error {
	v, err := ParseRange(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// ParseRange parses a port range in one of the forms people write:
// "49152-65535" (first-last, inclusive), "49152+16384" (netsh start+count),
// or a single port "5984". Spaces around the numbers are allowed. The result
// may break the netsh limits (that is for the audit to judge); a port outside
// 0-65535, a count of zero, a last port below the first, or text that is not
// a range is an error.
func ParseRange(s string) (PortRange, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return PortRange{}, fmt.Errorf("empty port range")
	}
	if a, b, ok := strings.Cut(t, "+"); ok {
		start, err := parsePort(a)
		if err != nil {
			return PortRange{}, fmt.Errorf("port range %q: start: %w", s, err)
		}
		n, err := parseCount(b)
		if err != nil {
			return PortRange{}, fmt.Errorf("port range %q: count: %w", s, err)
		}
		last := int(start) + n - 1
		if last > 65535 {
			return PortRange{}, fmt.Errorf("port range %q: ends at %d, beyond 65535", s, last)
		}
		return PortRange{start, uint16(last)}, nil
	}
	if a, b, ok := strings.Cut(t, "-"); ok {
		first, err := parsePort(a)
		if err != nil {
			return PortRange{}, fmt.Errorf("port range %q: first: %w", s, err)
		}
		last, err := parsePort(b)
		if err != nil {
			return PortRange{}, fmt.Errorf("port range %q: last: %w", s, err)
		}
		if last < first {
			return PortRange{}, fmt.Errorf("port range %q: last port below first", s)
		}
		return PortRange{first, last}, nil
	}
	p, err := parsePort(t)
	if err != nil {
		return PortRange{}, fmt.Errorf("port range %q: %w", s, err)
	}
	return PortRange{p, p}, nil
}

// RangeFromStartCount returns the range netsh describes as start and count,
// with the same checks as ParseRange.
func RangeFromStartCount(start, count int) (PortRange, error) {
	if start < 0 || start > 65535 {
		return PortRange{}, fmt.Errorf("start port %d outside 0-65535", start)
	}
	if count < 1 {
		return PortRange{}, fmt.Errorf("number of ports %d: must be at least 1", count)
	}
	if last := start + count - 1; last > 65535 {
		return PortRange{}, fmt.Errorf("start %d with %d ports ends at %d, beyond 65535", start, count, last)
	}
	return PortRange{uint16(start), uint16(start + count - 1)}, nil
}

func parsePort(s string) (uint16, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, fmt.Errorf("missing port number")
	}
	for _, c := range t {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%q is not a port number", t)
		}
	}
	if len(t) > 5 {
		return 0, fmt.Errorf("port %s outside 0-65535", t)
	}
	n, _ := strconv.Atoi(t)
	if n > 65535 {
		return 0, fmt.Errorf("port %d outside 0-65535", n)
	}
	return uint16(n), nil
}

func parseCount(s string) (int, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, fmt.Errorf("missing number of ports")
	}
	for _, c := range t {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%q is not a number of ports", t)
		}
	}
	if len(t) > 5 {
		return 0, fmt.Errorf("%s ports: more than 65536", t)
	}
	n, _ := strconv.Atoi(t)
	if n < 1 {
		return 0, fmt.Errorf("number of ports must be at least 1")
	}
	return n, nil
}
