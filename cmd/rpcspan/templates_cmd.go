package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/rpcspan/rpcspan/templates"
)

// templatesCommand lists and prints the shipped vendor templates, so that a
// user can start a "--target template:PATH" of their own from one.
//
// The subcommand is read from the arguments rather than declared as cli
// subcommands: flagsFirst puts "--" in front of a command's arguments,
// after which the library no longer looks for subcommands.
func templatesCommand() *cli.Command {
	return &cli.Command{
		Name:      "templates",
		Usage:     "list the vendor templates rpcspan ships, or print one to start your own from",
		ArgsUsage: "list | show NAME",
		Description: `"rpcspan templates list" names the shipped templates with what each writes;
"rpcspan templates show NAME" prints one. Each is a Go text/template that
"rpcspan emit --target NAME" renders; a copy you change is rendered with
"rpcspan emit --target template:PATH". The README describes the data model.

Examples:
   rpcspan templates list
   rpcspan templates show cisco-asa > my-asa.tmpl
   rpcspan emit --target template:my-asa.tmpl testdata/example`,
		Action: func(c *cli.Context) error {
			args := c.Args().Slice()
			switch {
			case len(args) == 1 && args[0] == "list":
				return listTemplates(c.App.Writer)
			case len(args) == 2 && args[0] == "show":
				text, err := templates.VendorTemplate(args[1])
				if err != nil {
					return usageError("templates show: %v", err)
				}
				_, err = io.WriteString(c.App.Writer, text)
				return err
			case len(args) == 1 && args[0] == "show":
				return usageError("templates show: name a template (%s)", strings.Join(templates.VendorNames(), ", "))
			}
			return usageError("templates: want \"list\" or \"show NAME\"")
		},
	}
}

// listTemplates writes each shipped template's name and its description,
// the first line of the template ({{/* NAME: what it writes */}}).
func listTemplates(w io.Writer) error {
	names := templates.VendorNames()
	width := 0
	for _, n := range names {
		width = max(width, len(n))
	}
	for _, n := range names {
		text, err := templates.VendorTemplate(n)
		if err != nil {
			return err
		}
		first, _, _ := strings.Cut(text, "\n")
		desc := strings.TrimSpace(strings.TrimSuffix(strings.TrimSuffix(strings.TrimSpace(first), "-}}"), "}}"))
		desc = strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(desc, "{{/*"), "*/"))
		desc = strings.TrimSpace(strings.TrimPrefix(desc, n+":"))
		if _, err := fmt.Fprintf(w, "%-*s  %s\n", width, n, desc); err != nil {
			return err
		}
	}
	return nil
}
