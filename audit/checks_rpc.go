package audit

import (
	"fmt"
	"slices"
	"strings"
)

// Microsoft's advice for the Rpc\Internet restriction (KB154596): at least
// 100 ports, all above 5000.
const (
	minRPCPorts    = 100
	maxLowRPCPorts = 5000
)

// rpcValueNames are the Rpc\Internet value names an issue can be about, as
// opposed to the text of a Ports entry.
var rpcValueNames = []string{"Ports", "PortsInternetAvailable", "UseInternetPorts"}

// issueText renders one Restriction issue for a message.
func issueText(is RPCPortsIssue) string {
	switch {
	case is.Entry == "Ports" && strings.HasPrefix(is.Msg, "written as"):
		return "Ports " + is.Msg
	case slices.Contains(rpcValueNames, is.Entry):
		return is.Msg
	}
	return fmt.Sprintf("entry %q: %s", is.Entry, is.Msg)
}

// rpcSources returns the sources of the host's Ports entries, sorted,
// without repeats.
func rpcSources(r *RPCInternet) []string {
	var srcs []Source
	for _, p := range r.Ports {
		if !p.Src.IsZero() {
			srcs = append(srcs, p.Src)
		}
	}
	slices.SortFunc(srcs, Source.Compare)
	srcs = slices.Compact(srcs)
	out := make([]string, len(srcs))
	for i, s := range srcs {
		out[i] = s.String()
	}
	return out
}

// checkRPCPorts judges the host's Rpc\Internet restriction: an invalid one
// is an error whether or not it is in force (Windows rejects the whole
// configuration); a valid one in force should have at least 100 ports, all
// above 5000.
func checkRPCPorts(h *Host, out []Finding) []Finding {
	ports, inForce, issues := h.Restriction()
	if len(issues) > 0 {
		texts := make([]string, len(issues))
		list := make([]map[string]any, len(issues))
		for i, is := range issues {
			texts[i] = issueText(is)
			list[i] = map[string]any{"entry": is.Entry, "problem": is.Msg, "source": is.Src.String()}
		}
		msg := "Rpc\\Internet is invalid, so Windows rejects the whole port restriction: " + strings.Join(texts, "; ")
		return append(out, hostFinding(IDRPCPortsInvalid, Error, h, msg, map[string]any{"issues": list}))
	}
	if !inForce || len(ports) == 0 {
		return out
	}
	all := FormatRanges(ports)
	if n := CountPorts(ports); n < minRPCPorts {
		msg := fmt.Sprintf("Rpc\\Internet restricts RPC to %s (%s); with fewer than %d, busy servers run out of ports", plural(n, "port"), all, minRPCPorts)
		out = append(out, hostFinding(IDRPCPortsTooFew, Warning, h, msg,
			map[string]any{"ports": rangeStrings(ports), "count": n, "sources": rpcSources(h.RPC)}))
	}
	low := SubtractRanges(ports, []PortRange{{maxLowRPCPorts + 1, 65535}})
	if len(low) > 0 {
		n := CountPorts(low)
		msg := fmt.Sprintf("Rpc\\Internet ports %s include %s at or below 5000 (%s), where other programs and the pre-Vista dynamic range take ports; Microsoft advises ports above 5000",
			all, plural(n, "port"), FormatRanges(low))
		out = append(out, hostFinding(IDRPCPortsLow, Warning, h, msg,
			map[string]any{"ports": rangeStrings(ports), "low": rangeStrings(low), "low_count": n, "sources": rpcSources(h.RPC)}))
	}
	return out
}

// plural returns "1 port" or "2 ports".
func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
