package emit

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/rpcspan/rpcspan/audit"
)

func init() { register("netsh-dynamicport", dynamicPortEmitter{}) }

// dynamicPortEmitter writes remediation as a .cmd file: netsh int
// ipv4|ipv6 set dynamicport commands that move each Windows host's dynamic
// ranges to the target (Options.Target, else each key's baseline), and reg
// commands that repair an Rpc\Internet restriction Windows would reject.
//
// The keys changed on a host are the ones RPC depends on there: every key
// something was read for, the TCP key of each family the host has an
// address in (IPv4 when it has none), and the UDP key of each family in
// which the plan opens rpc-udp to it. A key whose effective range (read or
// inferred) already equals the target gets nothing, and so does a host
// with nothing to change. Hosts that are not Windows are left out with a
// comment, and so are the dynamic ranges of Windows 2000, XP and Server
// 2003, which have no netsh dynamicport (their Rpc\Internet is still
// repaired). A target outside the netsh limits (fewer than 255 ports, or a
// start below 1025) is refused: the file never holds a command netsh
// would reject.
//
// An invalid Rpc\Internet restriction is repaired by keeping what Windows
// can read: the valid Ports entries are written back as REG_MULTI_SZ, and
// flags that are not Y or N are set to Y or N (Y when the value does not
// say which, as a restriction is set up with both flags Y). When no valid
// entry remains, the Ports value and the flags are deleted: the host then
// uses its dynamic range, which is what rpcspan already plans for it while
// the restriction is invalid. A repaired restriction that is in force
// moves RPC onto its ports after the restart, so the firewall rules must
// be generated again then; the comments say so.
type dynamicPortEmitter struct{}

// Emit writes the file for every host.
func (dynamicPortEmitter) Emit(w io.Writer, in *Input) error {
	dp, err := newDynPlan(in, true)
	if err != nil {
		return err
	}
	var hosts []*dynHost
	var names []string
	var notes []string
	for _, h := range in.Estate.Hosts() {
		dh, err := dp.host(h)
		if err != nil {
			return err
		}
		notes = append(notes, dh.notes...)
		if dh.commands > 0 {
			hosts = append(hosts, dh)
			names = append(names, h.Name)
		}
	}
	if err := checkComputerNames(names); err != nil {
		return err
	}
	c := newWinWriter(w)
	dp.prologue(c, "")
	for _, n := range notes {
		c.rem(n)
	}
	for i, dh := range hosts {
		c.line(`if /I "%COMPUTERNAME%"=="` + computerName(dh.h.Name) + `" goto ` + hostLabel(i, len(hosts)))
	}
	c.line("echo rpcspan: nothing to change on this host.")
	c.line("goto :eof")
	for i, dh := range hosts {
		c.line("")
		c.line(":" + hostLabel(i, len(hosts)))
		dh.write(c)
		c.line("goto :eof")
	}
	dynEpilogue(c, "")
	return c.flush()
}

// Hosts lists the hosts with something to change. Hosts cannot fail, so a
// host whose file cannot be made (a target outside the netsh limits, a bad
// name) is listed, and EmitHost refuses it with the reason.
func (dynamicPortEmitter) Hosts(in *Input) []string {
	dp, err := newDynPlan(in, false)
	if err != nil {
		return nil
	}
	var out []string
	for _, h := range in.Estate.Hosts() {
		// A host whose section cannot be made is listed too, so that
		// EmitHost reports why rather than the host going missing.
		if dh, err := dp.host(h); err != nil || dh.commands > 0 {
			out = append(out, h.Name)
		}
	}
	return out
}

// EmitHost writes the file for one host.
func (dynamicPortEmitter) EmitHost(w io.Writer, in *Input, host string) error {
	dp, err := newDynPlan(in, true)
	if err != nil {
		return err
	}
	h, ok := in.Estate.Lookup(host)
	if !ok {
		return fmt.Errorf("host %s: not in the estate", host)
	}
	dh, err := dp.host(h)
	if err != nil {
		return err
	}
	if dh.commands == 0 {
		return fmt.Errorf("host %s: nothing to change", host)
	}
	c := newWinWriter(w)
	dp.prologue(c, h.Name)
	for _, n := range dh.notes {
		c.rem(n)
	}
	dh.write(c)
	c.line("goto :eof")
	dynEpilogue(c, h.Name)
	return c.flush()
}

// Ext returns ".cmd".
func (dynamicPortEmitter) Ext() string { return ".cmd" }

// dynPlan holds what every host of one run shares: the input and the
// target of each key.
type dynPlan struct {
	in      *Input
	idx     *winIndex
	targets [4]dynTarget // indexed like audit.Keys
}

// dynTarget is the range one key moves to, and where it comes from.
type dynTarget struct {
	r    audit.PortRange
	from string // "--target-range" or "baseline ..."
	err  error  // not nil when r is outside the netsh limits
}

// newDynPlan checks the input and works out the targets. With strict, a
// --target-range outside the netsh limits is an error at once; a baseline
// outside them is an error only where a host would be moved to it.
func newDynPlan(in *Input, strict bool) (*dynPlan, error) {
	if in.Estate == nil {
		return nil, fmt.Errorf("no estate to remediate")
	}
	dp := &dynPlan{in: in, idx: planIndex(in.Plan)}
	for i, k := range audit.Keys {
		t := &dp.targets[i]
		if in.Opt.Target != nil {
			t.r, t.from = *in.Opt.Target, "--target-range"
		} else {
			b := in.Estate.BaselineRange(k)
			t.r, t.from = b.Range, "baseline"
			if !b.Src.IsZero() {
				t.from += " from " + b.Src.String()
			}
		}
		if !t.r.WithinNetshLimits() {
			t.err = fmt.Errorf("target %s range %s (%s) is outside the netsh limits: at least %d ports, from port %d up to 65535", k, t.r, t.from, audit.MinDynamicPorts, audit.MinDynamicStart)
			if strict && in.Opt.Target != nil {
				return nil, t.err
			}
		}
	}
	return dp, nil
}

// prologue writes the header and, for a per-host file (host not empty),
// the host check.
func (dp *dynPlan) prologue(c *winWriter, host string) {
	c.line("@echo off")
	var target string
	if dp.in.Opt.Target != nil {
		target = "Target range " + dp.in.Opt.Target.String() + " (--target-range) for tcp4, udp4, tcp6 and udp6."
	} else {
		parts := make([]string, len(audit.Keys))
		same := true
		for i, k := range audit.Keys {
			parts[i] = string(k) + " " + dp.targets[i].r.String()
			same = same && dp.targets[i].r == dp.targets[0].r
		}
		if same {
			target = "Target: the baseline " + dp.targets[0].r.String() + " for tcp4, udp4, tcp6 and udp6."
		} else {
			target = "Target: the baseline: " + strings.Join(parts, ", ") + "."
		}
	}
	scope := "Run it as administrator on every host: each host applies only its own section, picked by its computer name."
	if host != "" {
		scope = "Run it as administrator on " + host + " only."
	}
	c.lines(header("REM ", dp.in,
		"Dynamic port remediation (target netsh-dynamicport): moves the dynamic ranges RPC depends on to the target",
		"with netsh int ipv4|ipv6 set dynamicport, and repairs Rpc\\Internet settings Windows would reject.",
		target,
		scope,
		"Restart each host it changes, so that every RPC server binds within the new range."))
	c.line("setlocal DisableDelayedExpansion")
	if host != "" {
		c.line(`if /I not "%COMPUTERNAME%"=="` + computerName(host) + `" goto rpcspan_wrong_host`)
	}
}

// dynEpilogue writes the labels the sections jump to on failure.
func dynEpilogue(c *winWriter, host string) {
	if host != "" {
		c.line("")
		c.line(":rpcspan_wrong_host")
		c.line("echo rpcspan: this file is for " + host + " only; nothing was changed. 1>&2")
		c.line("exit /b 1")
	}
	c.line("")
	c.line(":rpcspan_failed")
	c.line("echo rpcspan: a command failed; the changes before it were made. 1>&2")
	c.line("exit /b 1")
}

// dynHost is what one host gets: its section and the notes about what is
// left out.
type dynHost struct {
	h        *audit.Host
	lines    []string // the section: comments and commands, each a whole line
	notes    []string // comments for the top of the file (skipped hosts and keys)
	commands int
	rpcFixed bool // Rpc\Internet changes
}

// write appends the host's section.
func (dh *dynHost) write(c *winWriter) {
	for _, l := range dh.lines {
		c.line(l)
	}
	n := strconv.Itoa(dh.commands) + " " + winPlural(dh.commands, "change", "changes")
	why := "RPC servers keep the ports they have until they start again."
	if dh.rpcFixed {
		why = "RPC reads Rpc\\Internet only when it starts."
	}
	c.line("REM Restart " + dh.h.Name + " now: " + why)
	c.line("echo rpcspan: " + dh.h.Name + ": " + n + " made; restart the host.")
}

// keys returns the keys RPC depends on for h (see dynamicPortEmitter),
// indexed like audit.Keys.
func (dp *dynPlan) keys(h *audit.Host) [4]bool {
	var rel [4]bool
	for _, o := range h.Ranges {
		rel[dynKeyIndex(o.Key)] = true
	}
	var fam4, fam6 bool
	for _, a := range h.Addresses {
		if a.Addr.Unmap().Is4() {
			fam4 = true
		} else if a.Addr.IsValid() {
			fam6 = true
		}
	}
	if !fam4 && !fam6 {
		fam4 = true
	}
	rel[dynKeyIndex(audit.TCP4)] = rel[dynKeyIndex(audit.TCP4)] || fam4
	rel[dynKeyIndex(audit.TCP6)] = rel[dynKeyIndex(audit.TCP6)] || fam6
	if dp.in.Plan != nil {
		for _, i := range dp.idx.rules(h.Name) {
			r := dp.in.Plan.Rules[i]
			if r.Service == string(audit.SvcRPCUDP) && (r.Family == 4 || r.Family == 6) {
				rel[dynKeyIndex(audit.MakeKey("udp", r.Family))] = true
			}
		}
	}
	return rel
}

func dynKeyIndex(k audit.Key) int {
	for i, x := range audit.Keys {
		if x == k {
			return i
		}
	}
	return 0
}

// host works out what h gets.
func (dp *dynPlan) host(h *audit.Host) (*dynHost, error) {
	dh := &dynHost{h: h}
	rel := dp.keys(h)
	type change struct {
		k   audit.Key
		eff audit.Effective
		t   dynTarget
	}
	var changes []change
	for i, k := range audit.Keys {
		if !rel[i] {
			continue
		}
		eff := dp.in.Estate.Effective(h, k)
		if eff.Range == dp.targets[i].r {
			continue
		}
		changes = append(changes, change{k, eff, dp.targets[i]})
	}
	nonWin := audit.NonWindows(h.OS)
	_, _, issues := h.Restriction()
	if nonWin {
		if len(changes) > 0 || len(issues) > 0 {
			var what []string
			for _, ch := range changes {
				what = append(what, string(ch.k)+" "+ch.eff.Range.String())
			}
			if len(issues) > 0 {
				what = append(what, "an invalid Rpc\\Internet")
			}
			dh.notes = append(dh.notes, h.Name+": skipped, not Windows ("+h.OS+"): "+strings.Join(what, ", ")+"; netsh does not apply, change it with the system's own tools.")
		}
		return dh, nil
	}
	legacy := audit.ParseOS(h.OS) == audit.OSLegacy
	if len(changes) > 0 || len(issues) > 0 {
		if err := checkWinHostName(h.Name); err != nil {
			return nil, err
		}
		head := h.Name
		if h.OS != "" {
			head += " (" + h.OS + ")"
		}
		dh.lines = append(dh.lines, "REM "+cmdComment(head))
	}
	var left []string // legacy keys, which netsh cannot change
	for _, ch := range changes {
		now := string(ch.k) + " is " + ch.eff.Range.String() + " (" + dynOrigin(ch.eff) + ")"
		if legacy {
			left = append(left, now)
			continue
		}
		if ch.t.err != nil {
			return nil, ch.t.err
		}
		start, num := ch.t.r.NetshArgs()
		if ch.t.r.First < audit.MinDynamicStart || num < audit.MinDynamicPorts || start+num-1 > 65535 {
			// Checked by dynTarget already; kept next to the command so
			// that no change elsewhere can let one through.
			return nil, fmt.Errorf("target %s outside the netsh limits", ch.t.r)
		}
		dh.lines = append(dh.lines,
			"REM "+cmdComment(now+"; target "+ch.t.r.String()+" ("+ch.t.from+")"),
			"netsh int ipv"+strconv.Itoa(ch.k.Family())+" set dynamicport "+ch.k.Proto()+" start="+strconv.Itoa(start)+" num="+strconv.Itoa(num)+" || goto rpcspan_failed")
		dh.commands++
	}
	if len(left) > 0 {
		dh.notes = append(dh.notes, h.Name+" ("+h.OS+") left as it is, as netsh dynamicport came with Vista and Server 2008: "+strings.Join(left, "; ")+".")
	}
	if len(issues) > 0 {
		dh.rpcInternet(issues)
	}
	return dh, nil
}

// dynOrigin says where an effective range came from.
func dynOrigin(e audit.Effective) string {
	switch e.Origin {
	case audit.Inferred:
		return "inferred from " + e.Reason
	case audit.Flagged:
		return "from " + e.Src.String()
	}
	return string(e.Origin) + " in " + e.Src.String()
}

// dynRPCKey is the registry key of the RPC port restriction.
const dynRPCKey = `HKLM\SOFTWARE\Microsoft\Rpc\Internet`

// rpcInternet adds the commands that repair the host's Rpc\Internet
// restriction (see dynamicPortEmitter for what is kept).
func (dh *dynHost) rpcInternet(issues []audit.RPCPortsIssue) {
	r := dh.h.RPC
	dh.rpcFixed = true
	dh.lines = append(dh.lines, "REM Rpc\\Internet is invalid, and Windows rejects it as a whole:")
	portsBad := false
	for _, is := range issues {
		dh.lines = append(dh.lines, "REM   "+cmdComment(is.Entry+": "+is.Msg))
		if is.Entry != "PortsInternetAvailable" && is.Entry != "UseInternetPorts" {
			portsBad = true
		}
	}
	var valid []string
	var validRanges []audit.PortRange
	for _, p := range r.Ports {
		pr, err := audit.ParsePortsEntry(p.Text)
		if err != nil {
			continue
		}
		if s := pr.String(); !slices.Contains(valid, s) {
			valid = append(valid, s)
			validRanges = append(validRanges, pr)
		}
	}
	flags := []struct {
		name string
		f    audit.Flag
	}{{"PortsInternetAvailable", r.PortsInternetAvailable}, {"UseInternetPorts", r.UseInternetPorts}}
	if len(valid) == 0 {
		dh.lines = append(dh.lines, "REM No valid Ports entry remains: delete the restriction, so that RPC uses the dynamic range.")
		dh.lines = append(dh.lines, "reg delete "+dynRPCKey+" /v Ports /f || goto rpcspan_failed")
		dh.commands++
		for _, f := range flags {
			if f.f.Set() {
				dh.lines = append(dh.lines, "reg delete "+dynRPCKey+" /v "+f.name+" /f || goto rpcspan_failed")
				dh.commands++
			}
		}
		return
	}
	if portsBad {
		dh.lines = append(dh.lines, "REM Keep the valid entries, as REG_MULTI_SZ.")
		dh.lines = append(dh.lines, "reg add "+dynRPCKey+` /v Ports /t REG_MULTI_SZ /d "`+strings.Join(valid, `\0`)+`" /f || goto rpcspan_failed`)
		dh.commands++
	}
	use := !r.UseInternetPorts.Set() || r.UseInternetPorts.Yes()
	for _, f := range flags {
		if !f.f.Set() {
			continue
		}
		v := strings.ToUpper(strings.TrimSpace(f.f.Value))
		if v == "Y" || v == "N" {
			continue
		}
		v = yesNo(f.f.Value)
		if f.name == "UseInternetPorts" {
			use = v == "Y"
		}
		dh.lines = append(dh.lines, "reg add "+dynRPCKey+" /v "+f.name+" /t REG_SZ /d "+v+" /f || goto rpcspan_failed")
		dh.commands++
	}
	if use {
		dh.lines = append(dh.lines, "REM After the restart RPC listens on "+audit.FormatRanges(audit.MergeRanges(validRanges))+" only: generate the firewall rules again then.")
	}
}

// yesNo reads a flag value that is not Y or N: words that mean yes or no
// become Y or N; anything else Y, the value a restriction is set up with.
func yesNo(v string) string {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "n", "no", "false", "0", "off", "nein", "non":
		return "N"
	}
	return "Y"
}
