package ingest

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/rpcspan/rpcspan/audit"
)

// ParseHostFlag reads a --host flag, "NAME=ADDR[,ADDR...]" (commas or
// semicolons between addresses), or a bare "NAME" for a host known only by
// name. The host's facts carry the flag as their source.
func ParseHostFlag(f string) (*audit.Host, error) {
	src := audit.Source{Flag: "--host " + f}
	name, addrs, _ := strings.Cut(f, "=")
	name = strings.TrimSpace(name)
	if err := audit.ValidHostName(name); err != nil {
		return nil, fmt.Errorf("--host %q: %w", f, err)
	}
	h := &audit.Host{Name: name, NameSrc: src, Sources: []audit.Source{src}}
	for _, a := range strings.FieldsFunc(addrs, func(r rune) bool { return r == ',' || r == ';' || r == ' ' }) {
		ip, err := netip.ParseAddr(a)
		if err != nil || ip.Zone() != "" {
			return nil, fmt.Errorf("--host %q: %q is not an IP address", f, a)
		}
		h.Addresses = append(h.Addresses, audit.Addr{Addr: ip.Unmap(), Src: src})
	}
	return h, nil
}

// ParseRangeFlag reads a --range flag, "NAME:KEY=RANGE", where KEY is tcp,
// udp, tcp4, udp4, tcp6 or udp6 (tcp and udp mean both families) and RANGE
// is "FIRST-LAST" or "START+COUNT". Without ":KEY" the range applies to all
// four keys. A flag wins over captures and inventories.
func ParseRangeFlag(f string) (string, []audit.RangeObs, error) {
	src := audit.Source{Flag: "--range " + f}
	lhs, rng, ok := strings.Cut(f, "=")
	if !ok {
		return "", nil, fmt.Errorf("--range %q: want NAME:KEY=RANGE, such as DC01:tcp=49152-65535", f)
	}
	name, keyText, hasKey := strings.Cut(lhs, ":")
	name = strings.TrimSpace(name)
	if err := audit.ValidHostName(name); err != nil {
		return "", nil, fmt.Errorf("--range %q: %w", f, err)
	}
	keys := audit.Keys
	if hasKey {
		var err error
		if keys, err = audit.ParseKeys(keyText); err != nil {
			return "", nil, fmt.Errorf("--range %q: %w", f, err)
		}
	}
	r, err := audit.ParseRange(rng)
	if err != nil {
		return "", nil, fmt.Errorf("--range %q: %w", f, err)
	}
	var out []audit.RangeObs
	for _, k := range keys {
		out = append(out, audit.RangeObs{Key: k, Range: r, Origin: audit.Flagged, Src: src})
	}
	return name, out, nil
}
