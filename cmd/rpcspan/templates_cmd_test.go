package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/rpcspan/rpcspan/templates"
)

// runTemplates runs templatesCommand in an app of its own, with the
// argument handling of the real one (flagsFirst), so that it is tested
// before it is registered.
func runTemplates(args ...string) (string, int, error) {
	var out bytes.Buffer
	app := &cli.App{Name: "rpcspan", Writer: &out, ErrWriter: &out, Commands: []*cli.Command{templatesCommand()},
		ExitErrHandler: func(*cli.Context, error) {}}
	err := app.Run(flagsFirst(app, append([]string{"rpcspan", "templates"}, args...)))
	var ee *exitError
	if errors.As(err, &ee) {
		return out.String(), ee.code, err
	}
	return out.String(), 0, err
}

func TestTemplatesCommand(t *testing.T) {
	out, code, err := runTemplates("list")
	if err != nil || code != 0 {
		t.Fatalf("templates list: %v (code %d)", err, code)
	}
	for _, want := range []string{"cisco-asa    Cisco ASA 9.x", "juniper-srx  Junos SRX", "example      every part of the data model"} {
		if !strings.Contains(out, want) {
			t.Errorf("templates list lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "\n"); n != len(templates.VendorNames()) {
		t.Errorf("templates list wrote %d lines, want one per template (%d)", n, len(templates.VendorNames()))
	}
	out, _, err = runTemplates("show", "cisco-asa")
	want, _ := templates.VendorTemplate("cisco-asa")
	if err != nil || out != want {
		t.Errorf("templates show cisco-asa = %v, output differs from the template", err)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, `templates: want "list" or "show NAME"`},
		{[]string{"frob"}, `templates: want "list" or "show NAME"`},
		{[]string{"show"}, "templates show: name a template (cisco-asa, "},
		{[]string{"show", "nope"}, `templates show: unknown template "nope" (want cisco-asa, `},
		{[]string{"show", "../collector.ps1"}, `unknown template "../collector.ps1"`},
	} {
		_, code, err := runTemplates(tt.args...)
		if code != exitUsage || err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("templates %q = %v (code %d), want usage error %q", tt.args, err, code, tt.want)
		}
	}
}
