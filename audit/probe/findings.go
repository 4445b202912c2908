package probe

import (
	"fmt"

	"github.com/rpcspan/rpcspan/audit"
)

// The finding ids the probe adds to the audit's.
const (
	// IDEndpointOutsideRange is an ncacn_ip_tcp endpoint listening outside
	// the host's span: rules built from that span block it.
	IDEndpointOutsideRange = "endpoint-outside-range"
	// IDEndpointUnreachable is a port the endpoint mapper names that does
	// not accept connections.
	IDEndpointUnreachable = "endpoint-unreachable"
	// IDEPMUnreachable is an endpoint mapper that could not be reached:
	// TCP 135 refused, timed out, or had no route.
	IDEPMUnreachable = "epm-unreachable"
	// IDEPMError is an endpoint mapper that accepted the connection but
	// whose answer could not be read as an endpoint map: the server may
	// be fine, but its endpoints were not (all) checked.
	IDEPMError = "epm-error"
)

// Findings compares probe results with the estate: for each result whose
// host is in e (Result.Host), every ncacn_ip_tcp endpoint outside the
// host's span (Estate.Span for TCP and the address's family) is
// endpoint-outside-range; whatever the host, an endpoint whose port does
// not accept connections is endpoint-unreachable and an endpoint mapper
// that cannot be reached is epm-unreachable. The endpoint mapper's own
// port is never outside the range. An endpoint listed several times
// (several towers, object UUIDs) gives one finding. e may be nil. The
// findings are sorted with audit.SortFindings.
func Findings(e *audit.Estate, results []Result) []audit.Finding {
	var out []audit.Finding
	for _, r := range results {
		out = append(out, resultFindings(e, r)...)
	}
	audit.SortFindings(out)
	return out
}

func resultFindings(e *audit.Estate, r Result) []audit.Finding {
	host := r.Host
	if host == "" {
		host = r.Target
	}
	epmPort := r.Port
	if epmPort == 0 {
		epmPort = EPMPort
	}
	addr := "-"
	if r.Address.IsValid() {
		addr = r.Address.String()
	}
	var out []audit.Finding
	switch {
	case r.EPM == StatusRefused || r.EPM == StatusTimeout || r.EPM == StatusError && !r.Connected:
		out = append(out, audit.Finding{ID: IDEPMUnreachable, Severity: audit.Error, Host: host,
			Message: fmt.Sprintf("the endpoint mapper at %s cannot be reached (%s): no RPC to this host can start", addr, r.Error),
			Detail:  map[string]any{"address": addr, "port": int(epmPort), "epm": string(r.EPM), "error": r.Error}})
	case r.EPM == StatusError:
		out = append(out, audit.Finding{ID: IDEPMError, Severity: audit.Warning, Host: host,
			Message: fmt.Sprintf("the endpoint mapper at %s answered, but its endpoint map could not be read (%s); %d endpoints were checked", addr, r.Error, len(r.Endpoints)),
			Detail:  map[string]any{"address": addr, "port": int(epmPort), "epm": string(r.EPM), "error": r.Error}})
	}
	sp, spanKnown := span(e, r)
	type key struct {
		uuid    UUID
		version string
		port    uint16
	}
	seen := map[key]bool{}
	for _, ep := range r.Endpoints {
		if ep.Protocol != "ncacn_ip_tcp" {
			continue
		}
		k := key{ep.UUID, ep.Version, ep.Port}
		if seen[k] {
			continue
		}
		seen[k] = true
		base := func() map[string]any {
			d := map[string]any{
				"address": addr, "port": int(ep.Port), "uuid": ep.UUID.String(), "version": ep.Version,
				"annotation": ep.Annotation, "name": ep.Name,
			}
			if spanKnown {
				for k, v := range sp.detail {
					d[k] = v
				}
			}
			return d
		}
		if ep.Reachable != nil && !*ep.Reachable {
			d := base()
			d["reason"] = ep.Reason
			out = append(out, audit.Finding{ID: IDEndpointUnreachable, Severity: audit.Error, Host: host,
				Message: fmt.Sprintf("the endpoint mapper at %s names TCP %d for %s, but the port does not accept connections (%s)", addr, ep.Port, ep.Label(), ep.Reason),
				Detail:  d})
		}
		if spanKnown && ep.Port != epmPort && !inRanges(ep.Port, sp.ports) {
			out = append(out, audit.Finding{ID: IDEndpointOutsideRange, Severity: audit.Error, Host: host,
				Message: fmt.Sprintf("%s listens on TCP %d at %s, outside the host's span %s (%s): rules built from that span block this endpoint", ep.Label(), ep.Port, addr, sp.text, sp.what),
				Detail:  base()})
		}
	}
	return out
}

// hostSpan is the span a result is judged against, worded for messages
// and detail.
type hostSpan struct {
	ports  []audit.PortRange
	text   string // "49152-65535"
	what   string // "tcp4 dynamic range, declared", "Rpc\Internet ports"
	detail map[string]any
}

// span returns the span of r's host for TCP in r's address family.
func span(e *audit.Estate, r Result) (hostSpan, bool) {
	if e == nil || r.Host == "" || !r.Address.IsValid() {
		return hostSpan{}, false
	}
	h, ok := e.Lookup(r.Host)
	if !ok {
		return hostSpan{}, false
	}
	k := audit.TCP4
	if !r.Address.Unmap().Is4() {
		k = audit.TCP6
	}
	s := e.Span(h, k)
	list := make([]string, len(s.Ports))
	for i, p := range s.Ports {
		list[i] = p.String()
	}
	hs := hostSpan{ports: s.Ports, text: audit.FormatRanges(s.Ports)}
	hs.detail = map[string]any{"key": string(k), "span": list}
	if s.Restricted {
		hs.what = "Rpc\\Internet ports"
		hs.detail["span_from"] = "rpc-internet"
	} else {
		hs.what = string(k) + " dynamic range, " + originWords[s.Range.Origin]
		hs.detail["span_from"] = "dynamic-range"
		hs.detail["origin"] = string(s.Range.Origin)
		if !s.Range.Src.IsZero() {
			hs.detail["source"] = s.Range.Src.String()
		}
		if s.Range.Reason != "" {
			hs.detail["inferred_from"] = s.Range.Reason
		}
	}
	return hs, true
}

// originWords says in a message where a range came from.
var originWords = map[audit.Origin]string{
	audit.Declared: "declared",
	audit.Captured: "captured",
	audit.Flagged:  "given with --range",
	audit.Inferred: "inferred",
}

func inRanges(p uint16, rs []audit.PortRange) bool {
	for _, r := range rs {
		if r.Contains(p) {
			return true
		}
	}
	return false
}
