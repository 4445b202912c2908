package audit

import (
	"fmt"
	"net/netip"
	"strings"
)

// PolicyRule says that the hosts matching From may open the Services on the
// hosts matching To.
type PolicyRule struct {
	Name     string
	From     []Selector
	To       []Selector
	Services []Service
	Src      Source
}

// SelectorKind tells what a Selector names.
type SelectorKind string

// The selector kinds.
const (
	SelGroup  SelectorKind = "group"  // every host in a group
	SelHost   SelectorKind = "host"   // one host by name
	SelPrefix SelectorKind = "prefix" // an address or prefix (a single address is a /32 or /128)
)

// Selector picks hosts or addresses in a policy rule: "group:NAME",
// "host:NAME", an address or a prefix.
type Selector struct {
	Kind   SelectorKind
	Name   string       // group or host name; empty for SelPrefix
	Prefix netip.Prefix // masked; only for SelPrefix
}

// String returns the selector as written in an inventory.
func (s Selector) String() string {
	if s.Kind == SelPrefix {
		if s.Prefix.IsSingleIP() {
			return s.Prefix.Addr().String()
		}
		return s.Prefix.String()
	}
	return string(s.Kind) + ":" + s.Name
}

// ParseSelector reads "group:NAME", "host:NAME", an address or a prefix.
func ParseSelector(s string) (Selector, error) {
	t := strings.TrimSpace(s)
	if kind, name, ok := strings.Cut(t, ":"); ok && (strings.EqualFold(kind, "group") || strings.EqualFold(kind, "host")) {
		if name == "" {
			return Selector{}, fmt.Errorf("selector %q: missing name", s)
		}
		if strings.EqualFold(kind, "host") {
			if err := ValidHostName(name); err != nil {
				return Selector{}, fmt.Errorf("selector %q: %w", s, err)
			}
			return Selector{Kind: SelHost, Name: name}, nil
		}
		if err := validGroupName(name); err != nil {
			return Selector{}, fmt.Errorf("selector %q: %w", s, err)
		}
		return Selector{Kind: SelGroup, Name: name}, nil
	}
	if strings.Contains(t, "/") {
		p, err := netip.ParsePrefix(t)
		if err != nil {
			return Selector{}, fmt.Errorf("selector %q: not group:NAME, host:NAME, an address or a prefix", s)
		}
		return Selector{Kind: SelPrefix, Prefix: p.Masked()}, nil
	}
	a, err := netip.ParseAddr(t)
	if err != nil || a.Zone() != "" {
		return Selector{}, fmt.Errorf("selector %q: not group:NAME, host:NAME, an address or a prefix", s)
	}
	a = a.Unmap()
	return Selector{Kind: SelPrefix, Prefix: netip.PrefixFrom(a, a.BitLen())}, nil
}

// validGroupName accepts the same characters as a host name label, so that
// a group name can become part of a firewall object name.
func validGroupName(name string) error {
	if len(name) > 63 {
		return fmt.Errorf("group name %q longer than 63 characters", name)
	}
	for _, c := range name {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
		if !ok {
			return fmt.Errorf("group name %q contains %q (allowed: letters, digits, '-', '_', '.')", name, c)
		}
	}
	if name == "" {
		return fmt.Errorf("empty group name")
	}
	return nil
}

// ValidGroupName checks a group name: 1-63 letters, digits, '-', '_' or '.'.
func ValidGroupName(name string) error { return validGroupName(name) }

// ServiceKind tells what a Service opens.
type ServiceKind string

// The service kinds.
const (
	SvcRPC    ServiceKind = "rpc"     // TCP 135 plus the destination's TCP span
	SvcRPCUDP ServiceKind = "rpc-udp" // UDP 135 plus the destination's UDP span
	SvcPort   ServiceKind = "port"    // a fixed protocol and port range
)

// Service is what a policy rule opens.
type Service struct {
	Kind  ServiceKind
	Proto string    // "tcp" or "udp"; only for SvcPort
	Ports PortRange // only for SvcPort
}

// String returns the service as written in an inventory.
func (s Service) String() string {
	if s.Kind == SvcPort {
		return s.Proto + "/" + s.Ports.String()
	}
	return string(s.Kind)
}

// ParseService reads "rpc", "rpc-udp", or "PROTO/PORTS" such as "tcp/445"
// and "udp/53-60".
func ParseService(s string) (Service, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	switch t {
	case "rpc":
		return Service{Kind: SvcRPC}, nil
	case "rpc-udp":
		return Service{Kind: SvcRPCUDP}, nil
	}
	proto, ports, ok := strings.Cut(t, "/")
	if !ok || (proto != "tcp" && proto != "udp") {
		return Service{}, fmt.Errorf("service %q: want rpc, rpc-udp, tcp/PORTS or udp/PORTS", s)
	}
	r, err := ParseRange(ports)
	if err != nil {
		return Service{}, fmt.Errorf("service %q: %w", s, err)
	}
	return Service{Kind: SvcPort, Proto: proto, Ports: r}, nil
}
