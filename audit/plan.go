package audit

import (
	"net/netip"
)

// Rule is one aggregated allow rule of a Plan: every source may open Ports
// over Proto on every destination. Aggregation never widens: the rules of a
// plan allow exactly the union of the required flows, except that a host
// in both Sources and Destinations may reach itself.
type Rule struct {
	Family  int         // 4 or 6
	Proto   string      // "tcp" or "udp"
	Service string      // "rpc", "rpc-udp" or "tcp/445"-style, as in the policy
	Ports   []PortRange // merged, sorted
	// EPM is true for the endpoint-mapper rule (port 135 of an rpc or
	// rpc-udp service), which all destinations of a service share.
	EPM          bool
	Sources      []netip.Prefix // fewest prefixes, sorted
	Destinations []netip.Prefix // fewest prefixes, sorted
	DestHosts    []string       // the hosts behind Destinations, sorted
	Policies     []string       // names of the policy rules it serves, sorted
	Flows        int            // raw flows it covers
}

// Plan is the set of flows RPC needs between the hosts of an estate, as
// aggregated rules in a stable order (family, proto, service, EPM first,
// ports, destinations, sources).
type Plan struct {
	Rules    []Rule
	RawFlows int // source/destination/service/family combinations before aggregation
	// Unmatched lists policy selectors that matched no host or address,
	// as "policy NAME: from group:web" strings, sorted.
	Unmatched []string
}

// Change is a part of a migration: Sources need (Open) or no longer need
// (Close) Ports over Proto on Destinations.
type Change struct {
	Family       int
	Proto        string
	Ports        []PortRange
	Sources      []netip.Prefix
	Destinations []netip.Prefix
	DestHosts    []string
}

// Migration answers the pre-migration question: when every host moves its
// dynamic ranges to Target, which required flows change.
type Migration struct {
	Target PortRange
	// Moving lists the hosts whose span changes, sorted.
	Moving []string
	Open   []Change // to open before the move
	Close  []Change // can be closed after the move
}
