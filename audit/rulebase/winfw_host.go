package rulebase

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/rpcspan/rpcspan/audit"
)

// This file holds what the host contributes to reading its Windows
// Firewall rules, and the LocalIP, RemoteIP and LocalPort values whose
// keywords resolve through it.

// HostInfo is what the host whose Windows Firewall rules are read tells
// about itself: what the keywords of its rules stand for. The zero
// HostInfo tells nothing, and every such keyword is an unknown match.
type HostInfo struct {
	// Span returns the host's dynamic port range for proto ("tcp" or
	// "udp") and family (4 or 6), which the local-port keyword RPC stands
	// for; empty when not known. Nil: never known.
	Span func(proto string, family int) []audit.PortRange
	// Subnets returns the on-link prefixes of the host's networks of
	// family (4 or 6), which the address keyword LocalSubnet stands for
	// (LocalSubnet4 and LocalSubnet6 for one family); ok is false when
	// they were not captured. Nil: never known.
	Subnets func(family int) (prefixes []netip.Prefix, ok bool)
	// Profiles are what captures of the host's Windows Firewall profile
	// settings show (audit.Host.FirewallProfiles); the active profile's
	// entry decides the chains' policy and which rules count (see
	// ParseNetshFirewall). None for the active profile: Windows'
	// defaults, on and block inbound.
	Profiles []audit.FirewallProfile
}

// fwPolicy is what the active profile's settings make of a host's rules.
type fwPolicy struct {
	// pos is where the policy is read: the profile capture's line, or
	// zero for Windows' default, which is placed where the listing
	// starts.
	pos     Pos
	verdict Verdict
	// blocks and allows say whether the block rules (with those of an
	// action not known) and the allow rules take part.
	blocks, allows bool
	// blockWhy and allowWhy are unknown matches every block rule, or
	// every allow rule, gets: the settings that may make it moot.
	blockWhy, allowWhy string
	state              string // "off" or "unknown" for the chain's name, else ""
}

// policy works out what the settings of profile make of the host's
// rules. A firewall that is off admits everything: policy accept, no
// rule counts. Default inbound Allow: the block rules, then accept.
// BlockInboundAlways: no rule counts, drop. Block (or not captured):
// block rules, allow rules, drop. A default inbound action shown in a
// form not read leaves the policy unknown and every allow rule in doubt
// (BlockInboundAlways would ignore it). A state not known may be off:
// whatever the profile blocks becomes unknown (each block rule gets an
// unknown match, a drop policy becomes unknown), and what it admits stays
// allowed, as an off firewall admits it too.
func (h HostInfo) policy(profile string) fwPolicy {
	p := fwPolicy{verdict: Drop, blocks: true, allows: true}
	i := slices.IndexFunc(h.Profiles, func(q audit.FirewallProfile) bool { return q.Profile == profile })
	if i < 0 {
		return p
	}
	fp := h.Profiles[i]
	if fp.State == audit.FirewallOff {
		return fwPolicy{pos: srcPos(fp.StateSrc), verdict: Accept, state: "off"}
	}
	switch fp.Inbound {
	case audit.InboundBlock:
		p.pos = srcPos(fp.InboundSrc)
	case audit.InboundAllow:
		p = fwPolicy{pos: srcPos(fp.InboundSrc), verdict: Accept, blocks: true}
	case audit.InboundBlockAlways:
		p = fwPolicy{pos: srcPos(fp.InboundSrc), verdict: Drop}
	case audit.InboundUnknown:
		p = fwPolicy{pos: srcPos(fp.InboundSrc), verdict: Opaque, blocks: true, allows: true,
			allowWhy: fmt.Sprintf("%s profile's default inbound action not known (%s)", profile, fp.InboundSrc)}
	}
	if fp.State == audit.FirewallStateUnknown {
		p.state = "unknown"
		p.blockWhy = fmt.Sprintf("%s profile's state not known, it may be off (%s)", profile, fp.StateSrc)
		if p.verdict != Accept {
			p.verdict, p.pos = Opaque, srcPos(fp.StateSrc)
		}
	}
	return p
}

// srcPos returns the position of a source.
func srcPos(s audit.Source) Pos { return Pos{File: s.File, Line: s.Line} }

// span returns the host's span for proto and family, nil when unknown.
func (h HostInfo) span(proto string, family int) []audit.PortRange {
	if h.Span == nil {
		return nil
	}
	return h.Span(proto, family)
}

// subnets returns the host's subnets of family; ok is false when unknown.
func (h HostInfo) subnets(family int) ([]netip.Prefix, bool) {
	if h.Subnets == nil {
		return nil, false
	}
	return h.Subnets(family)
}

// perFamily reports whether w reads differently for IPv4 and IPv6.
func (w *fwRule) perFamily(host HostInfo) bool {
	if host.Span != nil && hasRPCKeyword(w.localPort) {
		proto := "tcp"
		if protoWord(w.proto) == UDP {
			proto = "udp"
		}
		if !slices.Equal(host.span(proto, 4), host.span(proto, 6)) {
			return true
		}
	}
	for _, v := range []string{w.localIP, w.remoteIP} {
		for _, it := range strings.Split(v, ",") {
			for _, fam := range subnetFamilies(it) {
				if _, ok := host.subnets(fam); !ok {
					return true
				}
			}
		}
	}
	return false
}

// subnetFamilies returns the families an address keyword LocalSubnet,
// LocalSubnet4 or LocalSubnet6 (any case) stands for, none for any other
// value.
func subnetFamilies(item string) []int {
	switch strings.ToLower(strings.TrimSpace(item)) {
	case "localsubnet":
		return []int{4, 6}
	case "localsubnet4":
		return []int{4}
	case "localsubnet6":
		return []int{6}
	}
	return nil
}

// hasRPCKeyword reports whether a LocalPort value holds the keyword RPC.
func hasRPCKeyword(v string) bool {
	for _, it := range strings.Split(v, ",") {
		if strings.EqualFold(strings.TrimSpace(it), "rpc") {
			return true
		}
	}
	return false
}

// fwAddrs reads a LocalIP or RemoteIP value for the flows of family fam
// (4 or 6; 0 for both): any, or a comma list of addresses, prefixes
// (length or netmask), ranges and the keyword LocalSubnet (LocalSubnet4,
// LocalSubnet6), which stands for the host's subnets of fam: those of all
// its adapters, since a capture does not tell which adapter a flow comes
// in on. set is nil for any. ok is false for the keywords that
// depend on the host's network in ways not captured (DNS, DHCP, WINS,
// DefaultGateway, Intranet, ...), for a value not read, and for
// LocalSubnet when the host's subnets of fam are not known; why then says
// which family's are missing.
func fwAddrs(v string, fam int, host HostInfo) (set *AddrSet, why string, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" || fwAny[strings.ToLower(v)] {
		return nil, "", true
	}
	var s AddrSet
	for _, it := range strings.Split(v, ",") {
		it = strings.TrimSpace(it)
		if fams := subnetFamilies(it); fams != nil {
			for _, f := range fams {
				if fam != 0 && f != fam {
					continue // LocalSubnet4 matches no IPv6 flow
				}
				ps, known := host.subnets(f)
				if !known {
					if why == "" {
						why = it + ": " + subnetsMissing(f)
					}
					continue
				}
				s = *s.Union(NewAddrSet(ps...))
			}
			continue
		}
		if lo, hi, isRange := strings.Cut(it, "-"); isRange {
			a, err1 := netip.ParseAddr(strings.TrimSpace(lo))
			b, err2 := netip.ParseAddr(strings.TrimSpace(hi))
			if err1 != nil || err2 != nil || a.BitLen() != b.BitLen() || b.Less(a) {
				return nil, "", false
			}
			s = *s.Union(rangeSet(a.Unmap().WithZone(""), b.Unmap().WithZone("")))
			continue
		}
		p, ok := parseAddrOrPrefix(it)
		if !ok {
			return nil, "", false
		}
		s = *s.Union(NewAddrSet(p))
	}
	if why != "" {
		return nil, why, false
	}
	return &s, "", true
}

// subnetsMissing says why LocalSubnet of family fam is not known.
func subnetsMissing(fam int) string {
	if fam == 4 {
		return "the host's IPv4 subnets were not captured (no ipconfig with Subnet Mask)"
	}
	return "the host's IPv6 prefixes were not captured"
}

// unknownAddrs returns the unknown match of an address field with value
// v: "remoteip=LocalSubnet: why" when v is the keyword alone that why
// explains ("KEYWORD: reason"), "remoteip=v (why)" when v holds more.
func unknownAddrs(field, v, why string) string {
	switch {
	case why == "":
		return field + "=" + v
	case strings.HasPrefix(why, strings.TrimSpace(v)+": "):
		return field + "=" + why
	}
	return field + "=" + v + " (" + why + ")"
}

// fwPorts reads a LocalPort value: any, or a comma list of ports, ranges
// and the keywords RPC (the host's dynamic range for proto) and RPC-EPMap
// (135). ok is false for other keywords (IPHTTPS, Teredo, ...) and for
// RPC when the span is not known.
func fwPorts(v, proto string, span func(string) []audit.PortRange) (*PortSet, bool) {
	v = strings.TrimSpace(v)
	if v == "" || fwAny[strings.ToLower(v)] {
		return nil, true
	}
	var rs []audit.PortRange
	for _, it := range strings.Split(v, ",") {
		it = strings.TrimSpace(it)
		switch strings.ToLower(it) {
		case "rpc":
			var sp []audit.PortRange
			if span != nil {
				sp = span(proto)
			}
			if len(sp) == 0 {
				return nil, false
			}
			rs = append(rs, sp...)
			continue
		case "rpc-epmap", "rpcepmap":
			rs = append(rs, audit.PortRange{First: 135, Last: 135})
			continue
		}
		a, b, isRange := strings.Cut(it, "-")
		first, err := portNum(a)
		if err != nil {
			return nil, false
		}
		last := first
		if isRange {
			if last, err = portNum(b); err != nil || last < first {
				return nil, false
			}
		}
		rs = append(rs, audit.PortRange{First: first, Last: last})
	}
	return NewPortSet(rs...), true
}

func portNum(s string) (uint16, error) {
	s = strings.TrimSpace(s)
	if !isNum(s) || len(s) > 5 {
		return 0, fmt.Errorf("port %q: not a number", s)
	}
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	if n > 65535 {
		return 0, fmt.Errorf("port %q: out of range", s)
	}
	return uint16(n), nil
}
