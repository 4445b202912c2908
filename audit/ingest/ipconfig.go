package ingest

import (
	"math/bits"
	"net/netip"
	"slices"
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
//
// It also reads the host's IPv4 subnets: ipconfig prints "Subnet Mask"
// after each IPv4 address ("IP Address" on Windows XP and Server 2003) of
// an adapter, and the address and mask make an on-link prefix, the
// networks Windows Firewall's keyword LocalSubnet stands for. Every
// address Windows uses adds its subnet, an APIPA address 169.254.0.0/16
// too; an address that failed duplicate address detection, or 0.0.0.0,
// adds none. A mask pairs with the last IPv4 address before it in
// the same adapter block; one without such an address is no ipconfig mask
// and is ignored. ipconfig prints no IPv6 prefix length, so IPv6 subnets
// stay unknown.
func scanIPConfig(c *capture, lines []string) {
	var seen map[netip.Addr]bool
	var last ipv4Line // the adapter's last IPv4 address not yet given a mask
	for i, line := range lines {
		if adapterHeader(line) {
			last = ipv4Line{}
		}
		if !strings.Contains(line, "Address") {
			switch {
			case strings.HasPrefix(strings.TrimSpace(line), "Windows IP Configuration"):
				c.found("ipconfig")
				last = ipv4Line{}
			case last.addr.IsValid() && strings.Contains(line, "Subnet Mask"):
				if label, value, ok := strings.Cut(line, ":"); ok && ipconfigLabel(label) == "subnet mask" {
					c.subnet(i+1, last, strings.TrimSpace(value))
					last = ipv4Line{}
				}
			}
			continue
		}
		label, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		server, ok := ipconfigLabels[ipconfigLabel(label)]
		if !ok {
			continue
		}
		c.found("ipconfig")
		last = ipv4Line{}
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
		// Windows does not use an address that failed duplicate address
		// detection, so it is no server address and has no subnet.
		dup := strings.EqualFold(suffix, "Duplicate")
		if a.Is4() {
			last = ipv4Line{addr: a, used: !dup}
		}
		a = a.WithZone("").Unmap()
		if !server || dup || !serverAddr(a) {
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

// ipv4Line is an IPv4 address ipconfig printed, waiting for its mask.
type ipv4Line struct {
	addr netip.Addr // the zero Addr when there is none
	used bool       // false for an address that failed duplicate detection
}

// ipconfigLabel returns the label of an ipconfig line without its dotted
// leader, in lower case: "subnet mask", "ipv4 address".
func ipconfigLabel(label string) string {
	return strings.ToLower(strings.TrimRight(strings.TrimSpace(label), ". "))
}

// adapterHeader reports whether line starts an adapter block, such as
// "Ethernet adapter Ethernet0:" at the left margin. A field whose value is
// empty ("Default Gateway . . . :") ends with a colon as well but has its
// dotted leader.
func adapterHeader(line string) bool {
	if line == "" || line[0] == ' ' || line[0] == '\t' {
		return false
	}
	t := strings.TrimRight(line, " \t")
	return strings.HasSuffix(t, ":") && !strings.HasSuffix(strings.TrimSpace(t[:len(t)-1]), ".")
}

// subnet records the on-link prefix of the IPv4 address a with the mask
// on line n. A mask that is no IPv4 netmask (not an address, one bits not
// contiguous, no network bits) is a problem. 0.0.0.0, which Windows XP
// and Server 2003 print with mask 0.0.0.0 for an adapter without an
// address, and an address Windows does not use add no subnet.
func (c *capture) subnet(n int, a ipv4Line, mask string) {
	if a.addr.IsUnspecified() {
		return
	}
	m, err := netip.ParseAddr(mask)
	if err != nil || !m.Is4() {
		c.problem(n, "ipconfig subnet mask %q is not an IPv4 netmask", mask)
		return
	}
	b := m.As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	ones := bits.LeadingZeros32(^v)
	if v<<ones != 0 {
		c.problem(n, "ipconfig subnet mask %q is not contiguous", mask)
		return
	}
	if ones == 0 {
		c.problem(n, "ipconfig subnet mask %q has no network bits", mask)
		return
	}
	if !a.used || a.addr.IsLoopback() || a.addr.IsMulticast() {
		return
	}
	p := netip.PrefixFrom(a.addr, ones).Masked()
	if slices.ContainsFunc(c.host.Subnets, func(s audit.Subnet) bool { return s.Prefix == p }) {
		return
	}
	c.host.Subnets = append(c.host.Subnets, audit.Subnet{Prefix: p, Src: c.src(n)})
}

// serverAddr reports whether a could be where clients reach the host: not
// link-local (fe80::/10, 169.254/16), loopback, unspecified or multicast.
// The readers that take a host's addresses from the host itself (ipconfig,
// the collector) keep only such addresses.
func serverAddr(a netip.Addr) bool {
	return !a.IsLinkLocalUnicast() && !a.IsLoopback() && !a.IsUnspecified() &&
		!a.IsMulticast() && !a.IsLinkLocalMulticast()
}
