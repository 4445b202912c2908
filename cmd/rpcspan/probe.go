package main

import (
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/rpcspan/rpcspan/audit"
	"github.com/rpcspan/rpcspan/audit/probe"
	"github.com/rpcspan/rpcspan/audit/report"
)

var probeFormats = []string{"table", "json", "markdown"}

// Bounds of the probe flags: a timeout beyond maxProbeTimeout is a typo,
// and each unit of concurrency is an open socket.
const (
	maxProbeTimeout     = 10 * time.Minute
	maxProbeConcurrency = 4096
)

func probeCommand() *cli.Command {
	return &cli.Command{
		Name:      "probe",
		Usage:     "ask the servers' endpoint mappers (TCP 135) which RPC ports they really use, and compare with the declared ranges",
		ArgsUsage: "TARGET...",
		Description: `TARGET is an address, a host name, or inventory/capture input as for
"rpcspan inventory" (then every host with an address is probed). For each
address rpcspan queries the endpoint mapper like PortQry and impacket's
rpcdump (ept_lookup over DCE/RPC), then connects to every distinct
ncacn_ip_tcp port it names. Where a host's range is known (inventory,
captures, --range), every endpoint outside the host's span is reported:
rules built from that span would block it.

Findings: endpoint-outside-range (error), endpoint-unreachable (error),
epm-unreachable (error: TCP 135 refused, timed out or unroutable),
epm-error (warning: 135 answered but not with a readable endpoint map).

At most --concurrency connections are open at once, so N targets that
never answer take about ceil(N / concurrency) x timeout.

Exit codes: 0 when no finding is at or above --fail-on; 1 when one is;
2 for usage errors and input that cannot be read at all.

Examples:
   rpcspan probe 10.1.0.10 dc02.corp.example
   rpcspan probe -o json --timeout 1s --concurrency 200 inventory.yaml
   rpcspan probe --host DC01=10.1.0.10 --range DC01:tcp=49152-65535`,
		Flags: append(append([]cli.Flag{
			outputFlag(probeFormats...),
			&cli.StringFlag{Name: "fail-on", Value: "error", Usage: "exit 1 when a finding is at or above `SEVERITY`: error, warning, info or never"},
			baselineFlag(),
		}, probeFlags()...), inputFlags()...),
		Action: runProbe,
	}
}

// probeFlags are the flags "probe" and "audit --probe" share.
func probeFlags() []cli.Flag {
	return []cli.Flag{
		&cli.DurationFlag{Name: "timeout", Value: probe.DefaultTimeout, Usage: "wait at most `D` for each connection and each answer"},
		&cli.IntFlag{Name: "concurrency", Value: probe.DefaultConcurrency, Usage: "open at most `N` connections at once"},
		// The tests point the probe at fake endpoint mappers on
		// unprivileged ports of 127.0.0.1.
		&cli.UintFlag{Name: "epm-port", Value: probe.EPMPort, Hidden: true},
	}
}

// probeAuditFlags are the flags "audit" needs for --probe.
func probeAuditFlags() []cli.Flag {
	return append([]cli.Flag{
		&cli.BoolFlag{Name: "probe", Usage: "also query every host's endpoint mapper and report endpoints outside its span (see rpcspan probe)"},
	}, probeFlags()...)
}

// probeOptions reads --timeout and --concurrency.
func probeOptions(c *cli.Context) (probe.Options, error) {
	t, n, port := c.Duration("timeout"), c.Int("concurrency"), c.Uint("epm-port")
	if port < 1 || port > 65535 {
		return probe.Options{}, usageError("--epm-port %d: want 1 to 65535", port)
	}
	if t <= 0 || t > maxProbeTimeout {
		return probe.Options{}, usageError("--timeout %v: want more than 0 and at most %v", t, maxProbeTimeout)
	}
	if n < 1 || n > maxProbeConcurrency {
		return probe.Options{}, usageError("--concurrency %d: want 1 to %d", n, maxProbeConcurrency)
	}
	return probe.Options{Timeout: t, Concurrency: n, Port: uint16(port), Progress: progress(c)}, nil
}

// auditProbeFindings is what "audit --probe" adds to the findings: nil
// without --probe. The caller sorts the joined list (audit.SortFindings).
func auditProbeFindings(c *cli.Context, est *audit.Estate) ([]audit.Finding, map[string][]report.LivePort, error) {
	if !c.Bool("probe") {
		return nil, nil, nil
	}
	results, err := probeEstate(c, est)
	if err != nil {
		return nil, nil, err
	}
	return probe.Findings(est, results), livePorts(results), nil
}

// livePorts turns probe results into the ticks of the HTML report's map:
// per host, each endpoint's port with the key (protocol and family) it
// was seen on.
func livePorts(results []probe.Result) map[string][]report.LivePort {
	live := map[string][]report.LivePort{}
	for _, r := range results {
		if r.Host == "" || !r.Address.IsValid() {
			continue
		}
		fam := 4
		if r.Address.Is6() && !r.Address.Is4In6() {
			fam = 6
		}
		for _, e := range r.Endpoints {
			if e.Port == 0 {
				continue
			}
			proto := "tcp"
			if e.Protocol == "ncadg_ip_udp" {
				proto = "udp"
			}
			live[r.Host] = append(live[r.Host], report.LivePort{Key: audit.MakeKey(proto, fam), Port: e.Port})
		}
	}
	return live
}

// probeEstate probes every address of every host of est with the
// command's --timeout and --concurrency, showing progress on standard
// error when it is a terminal.
func probeEstate(c *cli.Context, est *audit.Estate) ([]probe.Result, error) {
	opt, err := probeOptions(c)
	if err != nil {
		return nil, err
	}
	noAddressNote(c, est)
	return probe.Run(c.Context, probe.EstateTargets(est), opt), nil
}

func runProbe(c *cli.Context) error {
	format, err := checkOutput(c, probeFormats...)
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
	opt, err := probeOptions(c)
	if err != nil {
		return err
	}
	addrs, names, inputs, err := splitProbeArgs(c.Args().Slice())
	if err != nil {
		return err
	}
	var est *audit.Estate
	if len(inputs) > 0 || len(c.StringSlice("host")) > 0 || len(c.StringSlice("range")) > 0 {
		if est, _, err = loadInputs(c, inputs, false); err != nil {
			return err
		}
		noAddressNote(c, est)
	}
	targets := probeTargets(est, addrs, names)
	if len(targets) == 0 {
		return usageError("probe: nothing to probe: give addresses, host names, or inputs with hosts that have addresses (see --help)")
	}
	results := probe.Run(c.Context, targets, opt)
	attachHosts(est, results)
	rep := probe.NewReport(est, results)
	w := c.App.Writer
	switch format {
	case "json":
		err = rep.WriteJSON(w)
	case "markdown":
		err = rep.WriteMarkdown(w)
	default:
		err = rep.WriteTable(w)
	}
	if err != nil {
		return err
	}
	if !never && slices.ContainsFunc(rep.Findings, func(f audit.Finding) bool { return f.Severity >= threshold }) {
		return &exitError{code: exitFindings, err: errSilent}
	}
	return nil
}

// inputExts are file name endings that mark an argument as an input
// file even when it does not exist, so that a typo is a usage error
// rather than a DNS lookup of "inventry.yaml".
var inputExts = []string{".yaml", ".yml", ".json", ".csv", ".txt", ".reg", ".conf", ".log", ".out"}

// splitProbeArgs sorts the arguments into addresses, host names and
// inputs: "-" and existing files or folders are inputs, anything that
// parses as an IP address is an address, and a valid host name is a
// name (an estate host's name or one to resolve).
func splitProbeArgs(args []string) (addrs []netip.Addr, names, inputs []string, err error) {
	for _, a := range args {
		if a == "-" {
			inputs = append(inputs, a)
			continue
		}
		if ip, perr := netip.ParseAddr(a); perr == nil {
			addrs = append(addrs, ip.Unmap())
			continue
		}
		if _, serr := os.Stat(a); serr == nil {
			inputs = append(inputs, a)
			continue
		}
		looksLikeFile := strings.ContainsAny(a, `/\`) || slices.Contains(inputExts, strings.ToLower(filepath.Ext(a)))
		if looksLikeFile {
			return nil, nil, nil, usageError("probe: %q: no such file or folder", a)
		}
		if verr := audit.ValidHostName(a); verr != nil {
			return nil, nil, nil, usageError("probe: %q is not an address, a host name or a readable input: %v", a, verr)
		}
		names = append(names, a)
	}
	return addrs, names, inputs, nil
}

// probeTargets lists what to probe: every address of every estate host
// (hosts sorted by name), then the addresses and names given, in order,
// without repeats. A name that is an estate host's is that host; other
// names are resolved when probed.
func probeTargets(est *audit.Estate, addrs []netip.Addr, names []string) []probe.Target {
	var out []probe.Target
	seen := map[netip.Addr]bool{}
	if est != nil {
		for _, t := range probe.EstateTargets(est) {
			if !seen[t.Addr] {
				seen[t.Addr] = true
				out = append(out, t)
			}
		}
	}
	for _, a := range addrs {
		if !seen[a] {
			seen[a] = true
			out = append(out, probe.Target{Name: a.String(), Addr: a})
		}
	}
	seenName := map[string]bool{}
	for _, n := range names {
		k := strings.ToLower(n)
		if seenName[k] {
			continue
		}
		seenName[k] = true
		if est != nil {
			if _, ok := est.Lookup(n); ok {
				continue // already probed by address, or noted as without one
			}
		}
		out = append(out, probe.Target{Name: n})
	}
	return out
}

// attachHosts ties results without a host (a bare address, or a name the
// resolver answered) to the estate host with that address, so that they
// are compared with its span.
func attachHosts(est *audit.Estate, results []probe.Result) {
	if est == nil {
		return
	}
	byAddr := map[netip.Addr]string{}
	for _, h := range est.Hosts() {
		for _, a := range h.AddrList() {
			if _, ok := byAddr[a.Unmap()]; !ok {
				byAddr[a.Unmap()] = h.Name
			}
		}
	}
	for i := range results {
		if results[i].Host == "" {
			results[i].Host = byAddr[results[i].Address]
		}
	}
}

// noAddressNote says on standard error which hosts cannot be probed.
func noAddressNote(c *cli.Context, est *audit.Estate) {
	if c.Bool("quiet") {
		return
	}
	for _, h := range est.Hosts() {
		if len(h.Addresses) == 0 {
			fmt.Fprintf(c.App.ErrWriter, "rpcspan: %s: no address, not probed\n", h.Name)
		}
	}
}

// progress returns a Progress function that keeps one line on standard
// error up to date, at most ten times a second, when standard error is a
// terminal and --quiet is not given; else nil.
func progress(c *cli.Context) func(done, total int) {
	if c.Bool("quiet") || !isTerminal(c.App.ErrWriter) {
		return nil
	}
	w := c.App.ErrWriter
	var mu sync.Mutex
	var last time.Time
	return func(done, total int) {
		mu.Lock()
		defer mu.Unlock()
		if done < total && time.Since(last) < 100*time.Millisecond {
			return
		}
		last = time.Now()
		if done == total {
			fmt.Fprint(w, "\r\033[K")
			return
		}
		fmt.Fprintf(w, "\rrpcspan: probed %d of %d targets", done, total)
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
