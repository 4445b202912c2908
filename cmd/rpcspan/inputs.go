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
		&cli.StringSliceFlag{Name: "host", Usage: "add a host: `NAME=ADDR[,ADDR...]` (repeatable)"},
		&cli.StringSliceFlag{Name: "range", Usage: "set a dynamic range: `NAME:KEY=RANGE`, KEY tcp|udp|tcp4|udp4|tcp6|udp6, RANGE FIRST-LAST or START+COUNT (repeatable)"},
		&cli.BoolFlag{Name: "strict", Usage: "treat every input problem as fatal (exit 2)"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "do not print the summary line and problems on standard error"},
	}
}

// loadEstate reads the command's inputs. Problems are printed to standard
// error with the summary; with --strict they stop the run.
func loadEstate(c *cli.Context) (*audit.Estate, error) {
	args := c.Args().Slice()
	if len(args) == 0 && len(c.StringSlice("host")) == 0 && len(c.StringSlice("range")) == 0 {
		return nil, usageError("%s: no input: give inventory files, captures, folders or - (see --help)", c.Command.Name)
	}
	if i := slices.IndexFunc(args, func(a string) bool { return strings.HasPrefix(a, "-") && a != "-" }); i >= 0 {
		return nil, usageError("%s: flag %q after the inputs: put flags before INPUT", c.Command.Name, args[i])
	}
	est, stats, err := ingest.Load(args, ingest.Options{
		Stdin:  c.App.Reader,
		Hosts:  c.StringSlice("host"),
		Ranges: c.StringSlice("range"),
	})
	if err != nil {
		return nil, &exitError{code: exitUsage, err: err}
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
	if !c.Bool("quiet") {
		fmt.Fprintf(w, "rpcspan: %s\n", stats.Summary())
	}
	if c.Bool("strict") && len(est.Problems) > 0 {
		return nil, &exitError{code: exitUsage, err: fmt.Errorf("%d input %s (--strict)", len(est.Problems), plural(len(est.Problems), "problem", "problems"))}
	}
	return est, nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
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
