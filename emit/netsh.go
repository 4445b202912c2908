package emit

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

func init() { register("netsh", netshEmitter{}) }

// netshEmitter writes Windows Firewall inbound rules as a .cmd file of
// netsh advfirewall commands. One file serves every destination host: it
// compares COMPUTERNAME with each host and jumps to that host's section
// (goto labels rather than if (...) blocks, so that no text in a rule can
// close a block). With --out-dir, each host gets a file of its own that
// refuses to run anywhere else.
//
// A run first deletes the inbound rules whose names start with rpcspan-
// (found in "netsh advfirewall firewall show rule" output), then deletes
// each rule by its exact name before adding it: the name-by-name delete
// keeps a second run from duplicating rules even where the listing comes
// in a form the loop does not read. Rule names are rpcspan-N-SERVICE-ipvF
// with -epm for the endpoint mapper and -partK when a long remote list is
// split; N is the rule's number in "rpcspan flows".
type netshEmitter struct{}

// Emit writes the file for every host.
func (netshEmitter) Emit(w io.Writer, in *Input) error {
	hosts, skipped, rules, counts, err := prepareFirewall(in, netshLines)
	if err != nil {
		return err
	}
	c := newWinWriter(w)
	netshPrologue(c, in, "")
	for _, h := range skipped {
		c.rem(h + ": skipped, not Windows (" + hostOS(in, h) + "): its rules belong in iptables or nftables.")
	}
	// The jump table comes first: a host jumps to its section and runs
	// nothing of the others'. Hosts with the same rules share a section.
	groups := groupHosts(hosts)
	for gi, g := range groups {
		for _, h := range g.hosts {
			c.line(`if /I "%COMPUTERNAME%"=="` + computerName(h) + `" goto ` + hostLabel(gi, len(groups)))
		}
	}
	c.line("echo rpcspan: no rules for this host; its rpcspan- rules were removed.")
	c.line("goto :eof")
	for gi, g := range groups {
		c.line("")
		c.line(":" + hostLabel(gi, len(groups)))
		netshSection(c, rules, hostRules{g.name(), g.rules}, counts[g.first])
		c.line("goto :eof")
	}
	netshEpilogue(c, "")
	return c.flush()
}

// Hosts lists the destination hosts of the plan that run Windows.
func (netshEmitter) Hosts(in *Input) []string {
	hosts, _ := firewallHosts(in)
	return hosts
}

// EmitHost writes the file for one host.
func (netshEmitter) EmitHost(w io.Writer, in *Input, host string) error {
	rules, n, err := prepareFirewallHost(in, host, netshLines)
	if err != nil {
		return err
	}
	c := newWinWriter(w)
	netshPrologue(c, in, host)
	netshSection(c, rules, hostRules{host, planIndex(in.Plan).rules(host)}, n)
	c.line("goto :eof")
	netshEpilogue(c, host)
	return c.flush()
}

// Ext returns ".cmd".
func (netshEmitter) Ext() string { return ".cmd" }

// netshPrologue writes the header, the host check of a per-host file
// (host not empty) and the removal of earlier rules.
func netshPrologue(c *winWriter, in *Input, host string) {
	c.line("@echo off")
	scope := "Run it as administrator on every destination host: each host applies only its own section, picked by its computer name."
	if host != "" {
		scope = "Run it as administrator on " + host + " only."
	}
	ports := "Local ports are numbers (--windows-keywords writes the keywords RPC-EPMap and RPC for rpc instead)."
	if in.Opt.WindowsKeywords {
		ports = "Local ports of rpc are the keywords RPC-EPMap and RPC (--windows-keywords); Windows takes them with TCP only, so rpc-udp and explicit services keep numbers."
	}
	c.lines(header("REM ", in,
		"Windows Firewall inbound rules for RPC (target netsh): remote addresses are the sources, local ports the",
		"endpoint mapper and each host's span, as planned by rpcspan flows (rule names carry its rule numbers).",
		ports,
		scope,
		"A run first deletes the inbound rules named rpcspan-..., so that running it again replaces them."))
	c.line("setlocal DisableDelayedExpansion")
	if host != "" {
		c.line(`if /I not "%COMPUTERNAME%"=="` + computerName(host) + `" goto rpcspan_wrong_host`)
	}
	c.line("REM Delete the rules an earlier run added: every inbound rule whose name starts with rpcspan-.")
	c.line(`for /f "tokens=1,* delims=:" %%A in ('netsh advfirewall firewall show rule name^=all dir^=in 2^>nul ^| findstr /R /C:":  *rpcspan-"') do for /f "tokens=1" %%N in ("%%B") do netsh advfirewall firewall delete rule name=%%N dir=in >nul 2>&1`)
}

// netshEpilogue writes the labels the sections jump to on failure.
func netshEpilogue(c *winWriter, host string) {
	if host != "" {
		c.line("")
		c.line(":rpcspan_wrong_host")
		c.line("echo rpcspan: this file is for " + host + " only; nothing was changed. 1>&2")
		c.line("exit /b 1")
	}
	c.line("")
	c.line(":rpcspan_failed")
	c.line("echo rpcspan: a netsh command failed; the rules before it were added. 1>&2")
	c.line("exit /b 1")
}

// netshSection writes the rules of one host.
func netshSection(c *winWriter, rs *winRuleSet, h hostRules, n int) {
	count := strconv.Itoa(n) + " " + winPlural(n, "rule", "rules")
	c.rem(h.name + ": " + count)
	rs.write(c, "", h.rules)
	c.line("echo rpcspan: " + h.name + ": " + count + " added.")
}

// netshLines returns the commands of r: delete it by name, then add it.
func netshLines(r *winRule) ([]string, error) {
	add, err := netshAddRule(r)
	if err != nil {
		return nil, err
	}
	return []string{"netsh advfirewall firewall delete rule name=" + r.name + " dir=in >nul 2>&1", add}, nil
}

// netshAddRule returns the add command of r.
func netshAddRule(r *winRule) (string, error) {
	desc, err := r.description(cmdSafeOK)
	if err != nil {
		return "", err
	}
	var port string
	switch r.keyword {
	case kwEPMap:
		port = "RPC-EPMap"
	case kwRPCDyn:
		port = "RPC"
	default:
		port = portList(r.ports)
	}
	var b strings.Builder
	b.WriteString("netsh advfirewall firewall add rule name=" + r.name)
	b.WriteString(" dir=in action=allow enable=yes profile=any protocol=" + r.proto)
	b.WriteString(" localport=" + port)
	b.WriteString(" remoteip=" + strings.Join(r.remote, ","))
	b.WriteString(` description="` + desc + `"`)
	b.WriteString(" || goto rpcspan_failed")
	if b.Len() > cmdMaxLine {
		return "", fmt.Errorf("rule %s: the netsh command would be %d characters, more than cmd.exe's %d", r.name, b.Len(), cmdMaxLine)
	}
	return b.String(), nil
}
