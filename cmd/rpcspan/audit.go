package main

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/rpcspan/rpcspan/audit"
	"github.com/rpcspan/rpcspan/audit/report"
	"github.com/rpcspan/rpcspan/audit/rulebase"
	"github.com/rpcspan/rpcspan/emit"
)

var auditFormats = []string{"table", "json", "markdown", "csv", "html"}

func auditCommand() *cli.Command {
	return &cli.Command{
		Name:      "audit",
		Usage:     "flag every host whose RPC ranges break the baseline, the netsh limits or each other, and list the flows RPC needs",
		ArgsUsage: "INPUT...",
		Description: `Reads the estate like "rpcspan inventory" and reports findings (each with a
stable id, a severity, the host and a one-line message), then the required
flows, aggregated into rules.

Existing rules: with --rules (iptables-save, nft list ruleset or nft -j
output), and for every host whose captures hold Windows Firewall rules
(netsh advfirewall firewall show rule, Get-NetFirewallRule, the collector's
firewall_rules), each required flow is evaluated with the platform's
semantics: rule-gap (blocked ports, with the deciding rule's FILE:LINE),
rule-unknown (depends on a match rpcspan does not model; never counted as
allowed), rule-overbroad and rule-stale; the flows table gains an "existing
rules" column. Captured profile settings (netsh advfirewall show
allprofiles, Get-NetFirewallProfile) set the policy of the active
--profile; one that is off or allows inbound is host-firewall-open. A
rule-base line that cannot be read is printed as FILE:LINE and stands as
unknown (fatal with --strict).

Exit codes: 0 when nothing is at or above --fail-on; 1 when something is;
2 for usage errors and input that cannot be read at all.

Examples:
   rpcspan audit testdata/example
   rpcspan audit -o markdown --target-range 49152-65535 testdata/example > ticket.md
   rpcspan audit --fail-on warning -o json inventory.yaml captures/
   rpcspan audit --rules fw01.rules --rules fw02.nft inventory.yaml captures/
   rpcspan audit --hook input --rules samba01-iptables-save.txt inventory.yaml`,
		Flags: append([]cli.Flag{
			outputFlag(auditFormats...),
			baselineFlag(),
			&cli.StringFlag{Name: "fail-on", Value: "error", Usage: "exit 1 when a finding is at or above `SEVERITY`: error, warning, info or never"},
			colorFlag(),
			targetRangeFlag(),
			&cli.StringFlag{Name: "report", Usage: "also write the HTML report to `FILE`"},
			&cli.StringFlag{Name: "emit-target", Usage: "HTML report: include the rules for `TARGET` (as rpcspan emit --target)"},
			&cli.StringSliceFlag{Name: "rules", Usage: "evaluate the required flows against an existing rule base `FILE`: iptables-save or ip6tables-save output, nft list ruleset text or nft -j JSON (repeatable)"},
			hookFlag(),
			&cli.StringFlag{Name: "profile", Value: "domain", Usage: "Windows Firewall rules found in captures: the active `PROFILE`, domain, private or public"},
		}, append(probeAuditFlags(), inputFlags()...)...),
		Action: runAudit,
	}
}

func runAudit(c *cli.Context) error {
	format, err := checkOutput(c, auditFormats...)
	if err != nil {
		return err
	}
	failOn := c.String("fail-on")
	never := failOn == "never"
	var threshold audit.Severity
	if !never {
		if threshold, err = audit.ParseSeverity(failOn); err != nil {
			return usageError("--fail-on: %v", err)
		}
	}
	pal, err := palette(c)
	if err != nil {
		return err
	}
	target, migrate, err := targetRange(c)
	if err != nil {
		return err
	}
	var em emit.Emitter
	if t := c.String("emit-target"); t != "" {
		if format != "html" && c.String("report") == "" {
			return usageError("--emit-target: only for the HTML report (-o html or --report FILE)")
		}
		if path, ok := strings.CutPrefix(t, "template:"); ok {
			em, err = emit.TemplateTarget(path)
		} else {
			em, err = emit.Lookup(t)
		}
		if err != nil {
			return usageError("--emit-target: %v", err)
		}
	}
	est, stats, err := loadEstate(c)
	if err != nil {
		return err
	}
	findings := audit.Check(est, audit.CheckOptions{})
	probed, live, err := auditProbeFindings(c, est)
	if err != nil {
		return err
	}
	if len(probed) > 0 {
		findings = append(findings, probed...)
		audit.SortFindings(findings)
	}
	plan := audit.BuildPlan(est)
	hostBases, err := readHostFirewalls(est, c.String("profile"))
	if err != nil {
		return err
	}
	var ruleStatus []string // per plan rule, when rule bases were audited
	var ruleBases []report.RuleBase
	if files := c.StringSlice("rules"); len(files) > 0 || len(hostBases) > 0 {
		hook, err := hookOption(c)
		if err != nil {
			return err
		}
		bases, err := readRuleBases(files)
		if err != nil {
			return &exitError{code: exitUsage, err: err}
		}
		bases = append(bases, hostBases...)
		if err := reportRuleProblems(c, bases); err != nil {
			return err
		}
		res := rulebase.Audit(est, plan, bases, rulebase.Options{Hook: string(hook)})
		findings = append(findings, res.Findings...)
		findings = append(findings, rulebase.HostFirewallFindings(est, c.String("profile"))...)
		audit.SortFindings(findings)
		ruleStatus = res.Status
		for _, b := range bases {
			rb := report.RuleBase{Name: b.Name, Format: b.Format, Host: b.Host, Problems: len(b.Problems)}
			if b.Host == "" {
				rb.Hook = string(hook)
			} else {
				rb.Profile = strings.ToLower(c.String("profile"))
			}
			ruleBases = append(ruleBases, rb)
		}
	}
	var m *audit.Migration
	if migrate {
		m = audit.Migrate(est, target)
	}
	rep := report.NewAudit(findings, failOn, threshold, never, est.Len(), stats.Files, plan, m)
	rep.Flows.SetExistingRules(ruleStatus)
	rep.SetRuleBases(ruleBases)
	opt := report.HTMLOptions{Estate: est, Inputs: c.Args().Slice(), Live: live}
	if em != nil {
		in := &emit.Input{Plan: plan, Estate: est, Inputs: c.Args().Slice()}
		if migrate {
			in.Opt.Target = &target
		}
		var b bytes.Buffer
		if err := em.Emit(&b, in); err != nil {
			return &exitError{code: exitFindings, err: fmt.Errorf("--emit-target %s: %w", c.String("emit-target"), err)}
		}
		opt.EmitTarget, opt.Rules = c.String("emit-target"), b.String()
	}
	if path := c.String("report"); path != "" {
		var b bytes.Buffer
		if err := rep.WriteHTML(&b, opt); err != nil {
			return err
		}
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			return &exitError{code: exitUsage, err: fmt.Errorf("--report: writing %s: %w", path, err)}
		}
	}
	w := c.App.Writer
	switch format {
	case "html":
		err = rep.WriteHTML(w, opt)
	case "json":
		err = rep.WriteJSON(w)
	case "markdown":
		err = rep.WriteMarkdown(w)
	case "csv":
		err = rep.WriteCSV(w)
	default:
		err = rep.WriteTable(w, pal)
	}
	if err != nil {
		return err
	}
	if !rep.Summary.Pass {
		return &exitError{code: exitFindings, err: errSilent}
	}
	return nil
}

var flowsFormats = []string{"table", "json", "markdown", "csv"}

func flowsCommand() *cli.Command {
	return &cli.Command{
		Name:      "flows",
		Usage:     "list the flows RPC needs between the hosts, aggregated into the fewest rules that allow exactly them",
		ArgsUsage: "INPUT...",
		Description: `From the inventory's policy (default: RPC from every host to every other
host): TCP 135 plus each destination's span (its Rpc\Internet ports when that
restriction is in force, else its dynamic range), per address family.
Destinations with the same span share a rule; address sets are merged into
the fewest prefixes; the rules never allow more than the flows.

Examples:
   rpcspan flows testdata/example
   rpcspan flows -o csv --target-range 49152-65535 testdata/example`,
		Flags: append([]cli.Flag{outputFlag(flowsFormats...), baselineFlag(), targetRangeFlag()}, inputFlags()...),
		Action: func(c *cli.Context) error {
			format, err := checkOutput(c, flowsFormats...)
			if err != nil {
				return err
			}
			target, migrate, err := targetRange(c)
			if err != nil {
				return err
			}
			est, _, err := loadEstate(c)
			if err != nil {
				return err
			}
			var m *audit.Migration
			if migrate {
				m = audit.Migrate(est, target)
			}
			f := report.NewFlows(audit.BuildPlan(est), m)
			w := c.App.Writer
			switch format {
			case "json":
				return f.WriteJSON(w)
			case "markdown":
				return f.WriteMarkdown(w)
			case "csv":
				return f.WriteCSV(w)
			}
			return f.WriteTable(w)
		},
	}
}

func colorFlag() cli.Flag {
	return &cli.StringFlag{Name: "color", Value: "auto", Usage: "colour severities in tables: `WHEN` auto (only on a terminal, never with NO_COLOR set), always or never"}
}

// palette decides colour: always, never, or auto (standard output is a
// terminal, NO_COLOR is unset and TERM is not "dumb").
func palette(c *cli.Context) (report.Palette, error) {
	switch c.String("color") {
	case "always":
		return report.Palette{On: true}, nil
	case "never":
		return report.Palette{}, nil
	case "auto":
		if _, set := os.LookupEnv("NO_COLOR"); set || os.Getenv("TERM") == "dumb" {
			return report.Palette{}, nil
		}
		f, ok := c.App.Writer.(*os.File)
		if !ok {
			return report.Palette{}, nil
		}
		fi, err := f.Stat()
		return report.Palette{On: err == nil && fi.Mode()&os.ModeCharDevice != 0}, nil
	}
	return report.Palette{}, usageError("--color: unknown value %q (want auto, always or never)", c.String("color"))
}

// readHostFirewalls reads the Windows Firewall rules found in each host's
// captures as that host's own rule base, for the profile given; the RPC
// local-port keyword resolves to the host's span, the address keyword
// LocalSubnet to the subnets its captures (ipconfig) show, per family, and
// the profile's state and default inbound action, where captured, decide
// the policy. A listing held in a larger file (collector JSON) is read
// from its text, and its positions are moved to the lines of that file,
// so that reports name the line of the rule there. A host with profile
// settings but no listing gets a rule base only when the settings decide
// alone (the firewall is off: its flows are allowed; it blocks all
// inbound traffic); otherwise it is not evaluated, as without captures.
func readHostFirewalls(est *audit.Estate, profile string) ([]*rulebase.Base, error) {
	if p := strings.ToLower(profile); p != "domain" && p != "private" && p != "public" {
		return nil, usageError("--profile: %q: want domain, private or public", profile)
	}
	var bases []*rulebase.Base
	for _, h := range est.Hosts() {
		if len(h.FirewallCaptures) == 0 {
			b, err := rulebase.WindowsProfileBase(h.Name, rulebase.HostInfo{Profiles: h.FirewallProfiles}, profile)
			if err != nil {
				return nil, usageError("--profile: %v", err)
			}
			if b != nil {
				bases = append(bases, b)
			}
			continue
		}
		subnets := map[int][]netip.Prefix{4: h.SubnetList(4), 6: h.SubnetList(6)}
		info := rulebase.HostInfo{
			Span: func(proto string, family int) []audit.PortRange {
				return est.Span(h, audit.Key(proto+strconv.Itoa(family))).Ports
			},
			// A family without a subnet was not captured: ipconfig
			// shows a mask for every IPv4 address and no IPv6 prefix.
			Subnets: func(family int) ([]netip.Prefix, bool) {
				return subnets[family], len(subnets[family]) > 0
			},
			Profiles: h.FirewallProfiles,
		}
		for _, fc := range h.FirewallCaptures {
			name := fc.Src.File
			var b *rulebase.Base
			var err error
			if fc.Text == "" {
				fh, oerr := os.Open(name)
				if oerr != nil {
					return nil, &exitError{code: exitUsage, err: fmt.Errorf("reading %s: %w", name, oerr)}
				}
				b, err = rulebase.ParseNetshFirewall(fh, name, h.Name, info, profile)
				fh.Close()
			} else {
				b, err = rulebase.ParseNetshFirewall(strings.NewReader(fc.Text), name, h.Name, info, profile)
			}
			if err != nil {
				// The host is then not evaluated; the others are.
				msg := err.Error()
				if fc.Text != "" {
					msg = fc.Src.String() + ": " + strings.TrimPrefix(msg, name+": ")
				}
				b = &rulebase.Base{Name: name, Format: "windows", Host: h.Name, Problems: []string{msg}}
			}
			if fc.Text != "" {
				moveToFile(b, fc)
			}
			bases = append(bases, b)
		}
	}
	return bases, nil
}

// reportRuleProblems prints the lines of the rule bases that could not be
// read (unless --quiet); with --strict they stop the run.
func reportRuleProblems(c *cli.Context, bases []*rulebase.Base) error {
	n := 0
	for _, b := range bases {
		for _, p := range b.Problems {
			n++
			if !c.Bool("quiet") || c.Bool("strict") {
				fmt.Fprintf(c.App.ErrWriter, "rpcspan: %s\n", p)
			}
		}
	}
	if n > 0 && c.Bool("strict") {
		return &exitError{code: exitUsage, err: fmt.Errorf("%d rule base %s (--strict)", n, plural(n, "problem", "problems"))}
	}
	return nil
}

// moveToFile moves the positions of b, read from the text of fc (a
// listing inside a collector JSON), to the lines of the file holding it.
// A chain's policy of Windows' default has no line of its own: it is
// placed where the listing starts (one from profile settings names its
// line already). Rules are shared by the chains of both hooks: each is
// moved once.
func moveToFile(b *rulebase.Base, fc audit.FirewallCapture) {
	moved := map[*rulebase.Rule]bool{}
	for _, c := range b.Chains {
		if c.Pos == (rulebase.Pos{File: fc.Src.File}) {
			c.Pos.Line = fc.Src.Line
		}
		for _, r := range c.Rules {
			if !moved[r] {
				moved[r] = true
				r.Pos.Line = fc.FileLine(r.Pos.Line)
			}
		}
	}
}

// firstStatement returns b from its first line that is neither blank nor
// a comment ("#"): iptables-save and nft scripts alike may start with
// comments. When every line is one, it returns b trimmed.
func firstStatement(b []byte) []byte {
	rest := b
	for len(rest) > 0 {
		line, after, _ := bytes.Cut(rest, []byte("\n"))
		if t := bytes.TrimSpace(line); len(t) > 0 && t[0] != '#' {
			return bytes.TrimLeft(rest, " \t\r\n")
		}
		rest = after
	}
	return bytes.TrimSpace(b)
}

// nftStart reports whether t starts with a statement of an nft script or
// of "nft list ruleset" output.
func nftStart(t []byte) bool {
	word, _, _ := bytes.Cut(t, []byte(" "))
	switch string(word) {
	case "table", "flush", "delete", "add", "create", "insert", "define", "include":
		return true
	}
	return false
}

// readRuleBases reads rule bases for --rules, recognising the format by
// content: nft JSON (nft -j) is an object, nft text starts with a table
// (or flush/delete), iptables-save output with a comment, a table line
// such as *filter, or a chain.
func readRuleBases(files []string) ([]*rulebase.Base, error) {
	var bases []*rulebase.Base
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("--rules: reading %s: %w", f, err)
		}
		t := firstStatement(b)
		var base *rulebase.Base
		switch {
		case bytes.HasPrefix(t, []byte("{")):
			base, err = rulebase.ParseNftJSON(bytes.NewReader(b), f)
		case nftStart(t):
			base, err = rulebase.ParseNft(bytes.NewReader(b), f)
		default:
			base, err = rulebase.ParseIptablesSave(bytes.NewReader(b), f)
		}
		if err != nil {
			return nil, fmt.Errorf("--rules: %w", err)
		}
		bases = append(bases, base)
	}
	return bases, nil
}
