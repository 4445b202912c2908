package ingest

import (
	"strings"

	"github.com/rpcspan/rpcspan/audit"
)

// scanFirewall recognises a host's Windows Firewall rules, which package
// rulebase reads when the audit evaluates rule bases: it only records the
// file on the host. netsh advfirewall output is recognised by shape, as
// netsh translates its labels: a "label: value" line, a line of exactly 70
// dashes, and another "label: value" line. Get-NetFirewallRule output is
// recognised by its untranslated "Direction : Inbound" (or Outbound) line.
func scanFirewall(c *capture, lines []string) {
	for i, line := range lines {
		line = strings.TrimRight(line, "\r ")
		netsh := i > 0 && i+1 < len(lines) && len(line) == 70 && strings.Trim(line, "-") == "" &&
			fwField(lines[i-1]) && fwField(lines[i+1])
		l, v, _ := strings.Cut(line, ":")
		ps := strings.TrimSpace(l) == "Direction" && (strings.TrimSpace(v) == "Inbound" || strings.TrimSpace(v) == "Outbound")
		if netsh || ps {
			c.found("windows-firewall")
			c.host.FirewallCaptures = append(c.host.FirewallCaptures, audit.FirewallCapture{Src: audit.Source{File: c.file}})
			return
		}
	}
}

// fwField reports whether s is a "label: value" line of netsh (the colon
// may be full width).
func fwField(s string) bool {
	i := strings.IndexAny(s, ":：")
	return i > 0 && strings.TrimSpace(s[:i]) != ""
}
