package rulebase

import (
	"fmt"
	"strings"

	"github.com/rpcspan/rpcspan/audit"
)

// IDHostFirewallOpen is spelled in package audit with the other ids.
const IDHostFirewallOpen = audit.IDHostFirewallOpen

// HostFirewallFindings returns a host-firewall-open warning for each host
// whose captured Windows Firewall settings for profile ("domain",
// "private" or "public"; "" means domain) admit every inbound connection
// no rule blocks: the firewall is off, or the default inbound action is
// allow. Such a host passes its required RPC flows, and every other port
// too. Sorted.
func HostFirewallFindings(est *audit.Estate, profile string) []audit.Finding {
	profile = strings.ToLower(profile)
	if profile == "" {
		profile = "domain"
	}
	var out []audit.Finding
	for _, h := range est.Hosts() {
		p, ok := h.FirewallProfile(profile)
		if !ok {
			continue
		}
		var why string
		var src audit.Source
		switch {
		case p.State == audit.FirewallOff:
			why, src = "Windows Firewall is off", p.StateSrc
		case p.Inbound == audit.InboundAllow:
			why, src = "Windows Firewall's default inbound action is allow", p.InboundSrc
		default:
			continue
		}
		out = append(out, audit.Finding{ID: IDHostFirewallOpen, Severity: audit.Warning, Host: h.Name,
			Message: fmt.Sprintf("%s: %s for the %s profile (%s): every inbound port no rule blocks is open, not only RPC's", h.Name, why, profile, src),
			Detail:  map[string]any{"host": h.Name, "profile": profile, "state": string(p.State), "inbound": string(p.Inbound), "source": src.String()}})
	}
	audit.SortFindings(out)
	return out
}
