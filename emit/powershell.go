package emit

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

func init() { register("powershell", powershellEmitter{}) }

// powershellEmitter writes the rules of the netsh target as a Windows
// PowerShell 5.1 script of New-NetFirewallRule commands (NetSecurity
// module, Windows 8 / Server 2012 and later). The rules, their names and
// their split into parts are the same as netsh's; they also carry the group
// rpcspan. One script serves every destination host, each section guarded
// by a comparison with $env:COMPUTERNAME; with --out-dir each host gets a
// script of its own that refuses to run anywhere else.
//
// A run first removes the rules of group rpcspan and every rule whose
// display name starts with rpcspan- (which takes in rules the netsh target
// added), so that running it again replaces instead of duplicating.
//
// Text from the inputs reaches the script only inside single-quoted
// strings, where PowerShell expands nothing; see psQuote.
type powershellEmitter struct{}

// Emit writes the script for every host.
func (powershellEmitter) Emit(w io.Writer, in *Input) error {
	hosts, skipped, rules, counts, err := prepareFirewall(in, psLines)
	if err != nil {
		return err
	}
	c := newWinWriter(w)
	psPrologue(c, in, "")
	for _, h := range skipped {
		c.line("# " + psComment(h+": skipped, not Windows ("+hostOS(in, h)+"): its rules belong in iptables or nftables."))
	}
	c.line("$rpcspanDone = $false")
	// Hosts with the same rules share a section.
	for _, g := range groupHosts(hosts) {
		c.line("")
		if len(g.hosts) == 1 {
			c.line("if ($env:COMPUTERNAME -eq '" + computerName(g.hosts[0]) + "') {")
		} else {
			c.line("if (@(")
			for i, h := range g.hosts {
				sep := ","
				if i == len(g.hosts)-1 {
					sep = ""
				}
				c.line("    '" + computerName(h) + "'" + sep)
			}
			c.line(") -contains $env:COMPUTERNAME) {")
		}
		psSection(c, rules, hostRules{g.name(), g.rules}, counts[g.first], "    ")
		c.line("    $rpcspanDone = $true")
		c.line("}")
	}
	c.line("")
	c.line("if (-not $rpcspanDone) {")
	c.line("    Write-Output 'rpcspan: no rules for this host; its rpcspan- rules were removed.'")
	c.line("}")
	return c.flush()
}

// Hosts lists the destination hosts of the plan that run Windows.
func (powershellEmitter) Hosts(in *Input) []string {
	hosts, _ := firewallHosts(in)
	return hosts
}

// EmitHost writes the script for one host.
func (powershellEmitter) EmitHost(w io.Writer, in *Input, host string) error {
	rules, n, err := prepareFirewallHost(in, host, psLines)
	if err != nil {
		return err
	}
	c := newWinWriter(w)
	psPrologue(c, in, host)
	c.line("")
	psSection(c, rules, hostRules{host, planIndex(in.Plan).rules(host)}, n, "")
	return c.flush()
}

// Ext returns ".ps1".
func (powershellEmitter) Ext() string { return ".ps1" }

// psPrologue writes the header, the host check of a per-host script (host
// not empty) and the removal of earlier rules.
func psPrologue(c *winWriter, in *Input, host string) {
	scope := "Run it as administrator on every destination host: each host applies only its own section, picked by its computer name."
	if host != "" {
		scope = "Run it as administrator on " + host + " only."
	}
	ports := "Local ports are numbers (--windows-keywords writes the keywords RPCEPMap and RPC for rpc instead)."
	if in.Opt.WindowsKeywords {
		ports = "Local ports of rpc are the keywords RPCEPMap and RPC (--windows-keywords); Windows takes them with TCP only, so rpc-udp and explicit services keep numbers."
	}
	c.lines(header("# ", in,
		"Windows Firewall inbound rules for RPC (target powershell, Windows PowerShell 5.1): remote addresses are the",
		"sources, local ports the endpoint mapper and each host's span, as planned by rpcspan flows (rule names carry",
		"its rule numbers).",
		ports,
		scope,
		"A run first removes the rules of group rpcspan and those named rpcspan-..., so that running it again replaces them."))
	c.line("#Requires -RunAsAdministrator")
	c.line("$ErrorActionPreference = 'Stop'")
	if host != "" {
		c.line("if ($env:COMPUTERNAME -ne '" + computerName(host) + "') {")
		c.line("    throw 'rpcspan: this file is for " + host + " only; nothing was changed.'")
		c.line("}")
	}
	c.line("")
	c.line("# Remove the rules an earlier run added (netsh's too: their names start with rpcspan-).")
	c.line("Get-NetFirewallRule -Group '" + winGroup + "' -ErrorAction SilentlyContinue | Remove-NetFirewallRule")
	c.line("Get-NetFirewallRule -DisplayName '" + winRulePrefix + "*' -ErrorAction SilentlyContinue | Remove-NetFirewallRule")
}

// psSection writes the rules of one host, each line after indent (in the
// script for every host they sit in an if block).
func psSection(c *winWriter, rs *winRuleSet, h hostRules, n int, indent string) {
	count := strconv.Itoa(n) + " " + winPlural(n, "rule", "rules")
	c.line(indent + "# " + psComment(h.name+": "+count))
	rs.write(c, indent, h.rules)
	c.line(indent + "Write-Output 'rpcspan: " + h.name + ": " + count + " added.'")
}

// psLines returns the command that adds r.
func psLines(r *winRule) ([]string, error) {
	desc, err := r.description(psText)
	if err != nil {
		return nil, err
	}
	var port string
	switch r.keyword {
	case kwEPMap:
		port = "'RPCEPMap'"
	case kwRPCDyn:
		port = "'RPC'"
	default:
		parts := make([]string, len(r.ports))
		for i, p := range r.ports {
			parts[i] = "'" + p.String() + "'"
		}
		port = "@(" + strings.Join(parts, ", ") + ")"
	}
	name := "'" + r.name + "'"
	var b strings.Builder
	b.WriteString("New-NetFirewallRule -Name " + name + " -DisplayName " + name + " -Group '" + winGroup + "'")
	b.WriteString(" -Description '" + desc + "'")
	b.WriteString(" -Direction Inbound -Action Allow -Enabled True -Profile Any -Protocol " + strings.ToUpper(r.proto))
	b.WriteString(" -LocalPort " + port)
	b.WriteString(" -RemoteAddress @('" + strings.Join(r.remote, "', '") + "')")
	b.WriteString(" | Out-Null")
	return []string{b.String()}, nil
}

// psText makes untrusted text safe inside a single-quoted PowerShell
// string (the caller adds the quotes). Nothing expands there; the only
// way out is a quote, and PowerShell takes the typographic single quotes
// U+2018, U+2019, U+201A and U+201B for ' as well: all of them become a
// doubled ASCII quote, which PowerShell reads as one literal quote. Control
// characters (line breaks above all) are refused. Other non-ASCII
// characters become '?': Windows PowerShell 5.1 reads a script without a
// byte order mark in the ANSI code page, where the bytes of UTF-8 text can
// turn into those very quotes (U+2011 is E2 80 91, and 0x91 is U+2018 in
// code page 1252).
func psText(s string) (string, error) {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r < 0x20 || r == 0x7f || r >= 0x80 && r <= 0x9f || r == 0x2028 || r == 0x2029:
			return "", fmt.Errorf("%q contains a control character", s)
		case r == '\'' || r == 0x2018 || r == 0x2019 || r == 0x201a || r == 0x201b:
			b.WriteString("''")
		case r > 0x7e:
			b.WriteByte('?')
		default:
			b.WriteRune(r)
		}
	}
	return b.String(), nil
}

// psComment makes text safe for a # comment line: one line, ASCII.
func psComment(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r < 0x20 || r == 0x7f:
			return '?'
		case r > 0x7e:
			return '?'
		}
		return r
	}, s)
}
