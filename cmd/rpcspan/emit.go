package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/rpcspan/rpcspan/audit"
	"github.com/rpcspan/rpcspan/emit"
)

func hookFlag() cli.Flag {
	return &cli.StringFlag{Name: "hook", Value: "forward", Usage: "where Linux rules sit: `HOOK` input (traffic to this machine) or forward (traffic through it)"}
}

func acceptOnlyFlag() cli.Flag {
	return &cli.BoolFlag{Name: "accept-only", Usage: "emit only the accept rules, for inclusion into an existing default-deny policy"}
}

func hookOption(c *cli.Context) (emit.Hook, error) {
	switch h := emit.Hook(c.String("hook")); h {
	case emit.HookInput, emit.HookForward:
		return h, nil
	}
	return "", usageError("--hook: unknown hook %q (want input or forward)", c.String("hook"))
}

func emitCommand() *cli.Command {
	return &cli.Command{
		Name:      "emit",
		Usage:     "render the required flows as rules to deploy: Windows Firewall, remediation, iptables, nftables",
		ArgsUsage: "INPUT...",
		Description: `Targets: ` + strings.Join(emit.Targets(), ", ") + `.

Output goes to standard output, or with --out-dir to one file per host
(Windows targets) or one file (Linux targets). The same input always gives
the same bytes. When the inputs carry errors, emit still renders what is
valid, reports the problems on standard error and exits 1; with --strict it
writes nothing and exits 2.

Examples:
   rpcspan emit --target nftables --hook input testdata/example > rpcspan.nft
   rpcspan emit --target netsh --windows-keywords --out-dir fw/ testdata/example
   rpcspan emit --target netsh-dynamicport --target-range 49152-65535 testdata/example`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "target", Aliases: []string{"t"}, Usage: "`TARGET`: " + strings.Join(emit.Targets(), ", ")},
			hookFlag(),
			&cli.StringFlag{Name: "out-dir", Usage: "write files into `DIR` instead of standard output"},
			acceptOnlyFlag(),
			&cli.BoolFlag{Name: "windows-keywords", Usage: "Windows Firewall: localport=RPC-EPMap and localport=RPC instead of port numbers"},
			baselineFlag(),
			targetRangeFlag(),
			&cli.StringFlag{Name: "acl", Usage: "vendor targets: access-list `NAME` (Cisco; default rpcspan)"},
			&cli.StringFlag{Name: "acl6", Usage: "cisco-ios: IPv6 access-list `NAME` (default the --acl name + -v6)"},
			&cli.StringFlag{Name: "from-zone", Usage: "juniper-srx, paloalto: source `ZONE` (default trust); fortigate: source interface (default any)"},
			&cli.StringFlag{Name: "to-zone", Usage: "juniper-srx, paloalto: destination `ZONE` (default untrust); fortigate: destination interface (default any)"},
			&cli.StringFlag{Name: "interface", Usage: "cisco-asa, cisco-ios: bind the ACL inbound to `IFACE` (default: binding only as a comment)"},
			&cli.StringFlag{Name: "object-prefix", Usage: "vendor targets: start object names with `PREFIX` (default rpcspan-)"},
			&cli.BoolFlag{Name: "no-object-prefix", Usage: "vendor targets: no prefix on object names"},
			&cli.BoolFlag{Name: "ms-rpc-gateway", Usage: "juniper-srx, paloalto: use the MS-RPC application gateway instead of written port ranges"},
		}, inputFlags()...),
		Action: runEmit,
	}
}

func runEmit(c *cli.Context) error {
	// Checked here rather than with the library's Required, which reports
	// a missing flag as an unknown command named after the first input.
	if c.String("target") == "" {
		return usageError("emit: --target is required: %s", strings.Join(emit.Targets(), ", "))
	}
	var em emit.Emitter
	var err error
	if path, ok := strings.CutPrefix(c.String("target"), "template:"); ok {
		em, err = emit.TemplateTarget(path)
	} else {
		em, err = emit.Lookup(c.String("target"))
	}
	if err != nil {
		return usageError("--target: %v", err)
	}
	em, err = emit.WithVendorOptions(em, emit.VendorOptions{
		ACL: c.String("acl"), ACL6: c.String("acl6"), FromZone: c.String("from-zone"), ToZone: c.String("to-zone"),
		Interface: c.String("interface"), Prefix: c.String("object-prefix"), NoPrefix: c.Bool("no-object-prefix"),
		Gateway: c.Bool("ms-rpc-gateway"),
	})
	if err != nil {
		return usageError("%v", err)
	}
	hook, err := hookOption(c)
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
	in := &emit.Input{
		Plan:   audit.BuildPlan(est),
		Estate: est,
		Inputs: c.Args().Slice(),
		Opt: emit.Options{
			Hook:            hook,
			AcceptOnly:      c.Bool("accept-only"),
			WindowsKeywords: c.Bool("windows-keywords"),
		},
	}
	if migrate {
		in.Opt.Target = &target
	}
	if dir := c.String("out-dir"); dir != "" {
		err = emitFiles(dir, c.String("target"), em, in)
	} else {
		// Render fully before writing, so that an error leaves no half file.
		var b bytes.Buffer
		if err = em.Emit(&b, in); err == nil {
			_, err = c.App.Writer.Write(b.Bytes())
		}
	}
	if err != nil {
		return &exitError{code: exitFindings, err: fmt.Errorf("emit %s: %w", c.String("target"), err)}
	}
	if len(est.Problems) > 0 {
		return &exitError{code: exitFindings, err: fmt.Errorf("emit: rendered what is valid; %d input %s (see above)", len(est.Problems), plural(len(est.Problems), "problem", "problems"))}
	}
	return nil
}

// emitFiles writes one file per host for per-host targets, else one file
// named after the target. Files are rendered in memory first.
func emitFiles(dir, target string, em emit.Emitter, in *emit.Input) error {
	files := map[string][]byte{}
	var names []string
	if ph, ok := em.(emit.PerHost); ok {
		for _, h := range ph.Hosts(in) {
			var b bytes.Buffer
			if err := ph.EmitHost(&b, in, h); err != nil {
				return err
			}
			name := h + ph.Ext()
			files[name] = b.Bytes()
			names = append(names, name)
		}
	} else {
		var b bytes.Buffer
		if err := em.Emit(&b, in); err != nil {
			return err
		}
		if strings.HasPrefix(target, "template:") {
			target = "template"
		}
		name := "rpcspan-" + target + outputExt(target)
		files[name] = b.Bytes()
		names = append(names, name)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), files[n], 0o644); err != nil {
			return err
		}
	}
	return nil
}

func outputExt(target string) string {
	switch target {
	case "nftables":
		return ".nft"
	case "iptables", "ip6tables":
		return ".rules"
	}
	return ".txt"
}
