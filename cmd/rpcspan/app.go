package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/urfave/cli/v2"
)

// Exit codes.
const (
	exitOK       = 0
	exitFindings = 1 // reserved for audit: something at or above --fail-on
	exitUsage    = 2 // usage errors and input that cannot be read
)

// exitError carries the exit code an action wants.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// errSilent ends a run with an exit code and no message: the report said
// it all.
var errSilent = errors.New("")

func usageError(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func newApp(stdin io.Reader, stdout, stderr io.Writer) *cli.App {
	return &cli.App{
		Name:                      "rpcspan",
		Usage:                     "work out the firewall spans Microsoft RPC needs between Windows servers",
		Version:                   version,
		Writer:                    stdout,
		ErrWriter:                 stderr,
		Reader:                    stdin,
		HideHelpCommand:           true,
		DisableSliceFlagSeparator: true,
		ExitErrHandler:            func(*cli.Context, error) {},
		Commands: []*cli.Command{
			auditCommand(),
			flowsCommand(),
			emitCommand(),
			applyCommand(),
			templatesCommand(),
			probeCommand(),
			inventoryCommand(),
			collectorCommand(),
		},
		CommandNotFound: func(c *cli.Context, name string) {
			fmt.Fprintf(c.App.ErrWriter, "rpcspan: unknown command %q; run 'rpcspan --help'\n", name)
			_ = cli.Exit("", exitUsage)
		},
	}
}

// run runs the CLI and returns the process exit code.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	app := newApp(stdin, stdout, stderr)
	notFound := false
	inner := app.CommandNotFound
	app.CommandNotFound = func(c *cli.Context, name string) {
		notFound = true
		inner(c, name)
	}
	err := app.Run(flagsFirst(app, args))
	if notFound {
		return exitUsage
	}
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err.Error() != "" {
			fmt.Fprintf(stderr, "rpcspan: %v\n", ee.err)
		}
		return ee.code
	}
	// Anything else comes from flag parsing: a usage error.
	fmt.Fprintf(stderr, "rpcspan: %v\n", err)
	return exitUsage
}
