package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/rpcspan/rpcspan/audit"
	"github.com/rpcspan/rpcspan/audit/ingest"
)

// inputFlags are the flags of every command that reads an estate.
func inputFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "host", Usage: "add a host: `NAME=ADDRS`, ADDRS a comma list such as DC01=10.1.0.10,fd00::10 (repeatable)"},
		&cli.StringSliceFlag{Name: "range", Usage: "set a dynamic range: `NAME:KEY=RANGE`, KEY tcp|udp|tcp4|udp4|tcp6|udp6 (none: all four), RANGE FIRST-LAST or START+COUNT (repeatable)"},
		&cli.BoolFlag{Name: "strict", Usage: "treat every input problem as fatal (exit 2)"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "do not print the summary line and problems on standard error"},
	}
}

// loadEstate reads the command's inputs. Problems are printed to standard
// error with the summary; with --strict they stop the run.
func loadEstate(c *cli.Context) (*audit.Estate, *ingest.Stats, error) {
	args := c.Args().Slice()
	if len(args) == 0 && len(c.StringSlice("host")) == 0 && len(c.StringSlice("range")) == 0 {
		return nil, nil, usageError("%s: no input: give inventory files, captures, folders or - (see --help)", c.Command.Name)
	}
	return loadInputs(c, args, true)
}

// loadInputs reads inputs with the command's --host, --range, --strict,
// --quiet and --baseline flags. The summary line is printed when summary
// is true or there were inputs.
func loadInputs(c *cli.Context, inputs []string, summary bool) (*audit.Estate, *ingest.Stats, error) {
	est, stats, err := ingest.Load(inputs, ingest.Options{
		Stdin:  c.App.Reader,
		Hosts:  c.StringSlice("host"),
		Ranges: c.StringSlice("range"),
	})
	if err != nil {
		return nil, nil, &exitError{code: exitUsage, err: err}
	}
	w := c.App.ErrWriter
	if !c.Bool("quiet") || c.Bool("strict") {
		for _, p := range est.SortedProblems() {
			fmt.Fprintf(w, "rpcspan: %s\n", p.Error())
		}
		for _, s := range stats.Skipped {
			fmt.Fprintf(w, "rpcspan: %s: skipped: %s\n", s.Path, s.Reason)
		}
	}
	if !c.Bool("quiet") && (summary || len(inputs) > 0) {
		fmt.Fprintf(w, "rpcspan: %s\n", stats.Summary())
	}
	if c.Bool("strict") && len(est.Problems) > 0 {
		return nil, nil, &exitError{code: exitUsage, err: fmt.Errorf("%d input %s (--strict)", len(est.Problems), plural(len(est.Problems), "problem", "problems"))}
	}
	if b := c.String("baseline"); c.IsSet("baseline") {
		r, err := audit.ParseRange(b)
		if err != nil {
			return nil, nil, usageError("--baseline: %v", err)
		}
		for _, k := range audit.Keys {
			est.Baseline[k] = audit.RangeObs{Key: k, Range: r, Origin: audit.Flagged, Src: audit.Source{Flag: "--baseline " + b}}
		}
	}
	return est, stats, nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// baselineFlag overrides the inventory's baseline for all four keys.
func baselineFlag() cli.Flag {
	return &cli.StringFlag{Name: "baseline", Usage: "the range every host should use, `RANGE` FIRST-LAST or START+COUNT (default: the inventory's, else 49152-65535)"}
}

// targetRangeFlag asks for the migration view.
func targetRangeFlag() cli.Flag {
	return &cli.StringFlag{Name: "target-range", Usage: "show what changes when every host moves to `RANGE` (pre-migration view)"}
}

// targetRange reads --target-range; ok is false when it is not given.
func targetRange(c *cli.Context) (r audit.PortRange, ok bool, err error) {
	if !c.IsSet("target-range") {
		return r, false, nil
	}
	r, err = audit.ParseRange(c.String("target-range"))
	if err != nil {
		return r, false, usageError("--target-range: %v", err)
	}
	if !r.WithinNetshLimits() {
		return r, false, usageError("--target-range %s: netsh would refuse it (at least 255 ports, starting at 1025 or above)", r)
	}
	return r, true, nil
}

// outputFlag is -o with the formats a command supports.
func outputFlag(formats ...string) cli.Flag {
	return &cli.StringFlag{
		Name:    "output",
		Aliases: []string{"o"},
		Value:   formats[0],
		Usage:   "output format: " + strings.Join(formats, ", "),
	}
}

func checkOutput(c *cli.Context, formats ...string) (string, error) {
	o := c.String("output")
	if !slices.Contains(formats, o) {
		return "", usageError("%s: unknown output format %q (want %s)", c.Command.Name, o, strings.Join(formats, ", "))
	}
	return o, nil
}
