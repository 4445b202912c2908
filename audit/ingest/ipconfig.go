package ingest

import (
	"net/netip"
	"strings"

	"github.com/rpcspan/rpcspan/audit"
)

// ipconfigLabels are the English ipconfig labels that carry an address of
// the host itself, with whether the address may serve as a server address.
// Temporary IPv6 addresses are privacy addresses for outgoing connections:
// nobody calls a server on them. "IP Address" and "Autoconfiguration IP
// Address" are what Windows XP and Server 2003 print.
var ipconfigLabels = map[string]bool{
	"ipv4 address":                   true,
	"ipv6 address":                   true,
	"ip address":                     true,
	"link-local ipv6 address":        true,
	"autoconfiguration ipv4 address": true,
	"autoconfiguration ip address":   true,
	"temporary ipv6 address":         false,
}

// scanIPConfig reads the host's own addresses from English "ipconfig" and
// "ipconfig /all" output. Only addresses a client could call a server on are
// kept: link-local, loopback, unspecified, multicast and temporary
// addresses are dropped. The host name ipconfig prints is left alone: Load
// decides which host a capture belongs to.
func scanIPConfig(c *capture, lines []string) {
	var seen map[netip.Addr]bool
	for i, line := range lines {
		if !strings.Contains(line, "Address") {
			if strings.HasPrefix(strings.TrimSpace(line), "Windows IP Configuration") {
				c.found("ipconfig")
			}
			continue
		}
		label, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		server, ok := ipconfigLabels[strings.ToLower(strings.TrimRight(strings.TrimSpace(label), ". "))]
		if !ok {
			continue
		}
		c.found("ipconfig")
		text := strings.TrimSpace(value)
		suffix := ""
		if open := strings.IndexByte(text, '('); open >= 0 && strings.HasSuffix(text, ")") {
			// "(Preferred)", "(Deprecated)", "(Tentative)", "(Duplicate)".
			suffix = text[open+1 : len(text)-1]
			text = strings.TrimSpace(text[:open])
		}
		a, err := netip.ParseAddr(text)
		if err != nil {
			c.problem(i+1, "ipconfig address %q is not an IP address", text)
			continue
		}
		a = a.WithZone("").Unmap()
		// Windows does not use an address that failed duplicate address
		// detection, so it is no server address either.
		if !server || strings.EqualFold(suffix, "Duplicate") || !serverAddr(a) {
			continue
		}
		if seen == nil {
			seen = make(map[netip.Addr]bool, len(c.host.Addresses)+4)
			for _, x := range c.host.Addresses {
				seen[x.Addr] = true
			}
		}
		if seen[a] {
			continue
		}
		seen[a] = true
		c.host.Addresses = append(c.host.Addresses, audit.Addr{Addr: a, Src: c.src(i + 1)})
	}
}

// serverAddr reports whether a could be where clients reach the host: not
// link-local (fe80::/10, 169.254/16), loopback, unspecified or multicast.
// The readers that take a host's addresses from the host itself (ipconfig,
// the collector) keep only such addresses.
func serverAddr(a netip.Addr) bool {
	return !a.IsLinkLocalUnicast() && !a.IsLoopback() && !a.IsUnspecified() &&
		!a.IsMulticast() && !a.IsLinkLocalMulticast()
}
