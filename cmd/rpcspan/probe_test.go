package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rpcspan/rpcspan/audit/probe/epmtest"
)

// runProbeCmd runs the CLI in-process with the probe command registered
// (whether or not app.go registers it yet).
func runProbeCmd(t *testing.T, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	app := newApp(strings.NewReader(""), &out, &errb)
	if app.Command("probe") == nil {
		app.Commands = append(app.Commands, probeCommand())
	}
	full := append([]string{"rpcspan", "probe"}, args...)
	err := app.Run(flagsFirst(app, full))
	code := exitOK
	if err != nil {
		code = exitUsage
		var ee *exitError
		if e, ok := err.(*exitError); ok {
			ee = e
		}
		if ee != nil {
			code = ee.code
			if ee.err.Error() != "" {
				fmt.Fprintf(&errb, "rpcspan: %v\n", ee.err)
			}
		} else {
			fmt.Fprintf(&errb, "rpcspan: %v\n", err)
		}
	}
	return result{code, out.String(), errb.String()}
}

func TestProbeUsage(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		stderr string
	}{
		{"nothing", nil, "probe: nothing to probe"},
		{"bad timeout", []string{"--timeout", "0s", "127.0.0.1"}, "--timeout 0s: want more than 0 and at most 10m0s"},
		{"bad concurrency", []string{"--concurrency", "0", "127.0.0.1"}, "--concurrency 0: want 1 to 4096"},
		{"huge concurrency", []string{"--concurrency", "100000", "127.0.0.1"}, "--concurrency 100000: want 1 to 4096"},
		{"missing inventory", []string{"inventry.yaml"}, `probe: "inventry.yaml": no such file or folder`},
		{"missing folder", []string{"captures/dc01"}, `probe: "captures/dc01": no such file or folder`},
		{"bad name", []string{"dc_01!"}, `probe: "dc_01!" is not an address, a host name or a readable input`},
		{"bad format", []string{"-o", "csv", "127.0.0.1"}, `probe: unknown output format "csv" (want table, json, markdown)`},
		{"bad fail-on", []string{"--fail-on", "fatal", "127.0.0.1"}, `--fail-on: unknown severity "fatal"`},
		{"host without address", []string{"--range", "DC9:tcp=49152-65535"}, "probe: nothing to probe"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runProbeCmd(t, tt.args...)
			if r.code != exitUsage || !strings.Contains(r.stderr, tt.stderr) {
				t.Errorf("rpcspan probe %v = exit %d, stderr %q; want exit 2 and %q", tt.args, r.code, r.stderr, tt.stderr)
			}
		})
	}
}

// TestProbeCommand probes a fake domain controller on 127.0.0.1 whose
// samr port is closed and whose lsarpc/drsuapi port lies outside the
// declared range.
func TestProbeCommand(t *testing.T) {
	open := func() uint16 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		return uint16(l.Addr().(*net.TCPAddr).Port)
	}
	netlogon, lsa := open(), open()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	samr := uint16(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	el, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	epm := uint16(el.Addr().(*net.TCPAddr).Port)
	entries := epmtest.DC(netlogon, lsa, samr)
	entries[0].Port = epm // the endpoint mapper's own entry
	s := epmtest.Serve(el, epmtest.SambaDC, entries)
	t.Cleanup(s.Close)
	// Only netlogon's port is declared: lsarpc, drsuapi and samr lie
	// outside it.
	declared := fmt.Sprintf("%d-%d", netlogon, netlogon)
	base := []string{"--epm-port", strconv.Itoa(int(epm)), "--timeout", "2s", "-q",
		"--host", "DC1=127.0.0.1", "--range", "DC1:tcp=" + declared}

	r := runProbeCmd(t, append(base, "-o", "json")...)
	if r.code != exitFindings {
		t.Fatalf("exit %d, want 1 (errors found); stderr %s", r.code, r.stderr)
	}
	var got struct {
		Targets []struct {
			Target, Host, Address, EPM string
			Endpoints                  []struct {
				UUID, Protocol string
				Port           int
				Reachable      *bool
			}
		}
		Findings []struct {
			ID, Host string
			Detail   map[string]any
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("json: %v\n%s", err, r.stdout)
	}
	if len(got.Targets) != 1 || got.Targets[0].EPM != "ok" || got.Targets[0].Host != "DC1" || got.Targets[0].Address != "127.0.0.1" || len(got.Targets[0].Endpoints) != 8 {
		t.Fatalf("targets = %+v", got.Targets)
	}
	type brief struct {
		ID   string
		Port int
		UUID string
	}
	var fs []brief
	for _, f := range got.Findings {
		fs = append(fs, brief{f.ID, int(f.Detail["port"].(float64)), f.Detail["uuid"].(string)})
	}
	want := []brief{
		{"endpoint-outside-range", int(lsa), "12345778-1234-abcd-ef00-0123456789ab"},
		{"endpoint-outside-range", int(lsa), "e3514235-4b06-11d1-ab04-00c04fc2dcd2"},
		{"endpoint-outside-range", int(samr), "12345778-1234-abcd-ef00-0123456789ac"},
		{"endpoint-unreachable", int(samr), "12345778-1234-abcd-ef00-0123456789ac"},
	}
	sortBrief := func(b []brief) {
		slices.SortFunc(b, func(x, y brief) int { return strings.Compare(fmt.Sprint(x), fmt.Sprint(y)) })
	}
	sortBrief(want)
	sortBrief(fs)
	if diff := cmp.Diff(want, fs); diff != "" {
		t.Errorf("findings (-want +got):\n%s\n%s", diff, r.stdout)
	}

	for _, format := range []string{"table", "markdown"} {
		r := runProbeCmd(t, append(base, "-o", format)...)
		if r.code != exitFindings || !strings.Contains(r.stdout, "endpoint-outside-range") || !strings.Contains(r.stdout, "1 address probed (1 ok)") {
			t.Errorf("-o %s: exit %d\n%s", format, r.code, r.stdout)
		}
	}
	if r := runProbeCmd(t, append(base, "--fail-on", "never")...); r.code != exitOK {
		t.Errorf("--fail-on never: exit %d", r.code)
	}
}

// TestProbeRefused: a bare address whose endpoint mapper refuses gives
// epm-unreachable and exit 1.
func TestProbeRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	r := runProbeCmd(t, "--epm-port", strconv.Itoa(port), "-o", "json", "127.0.0.1", "127.0.0.1")
	if r.code != exitFindings {
		t.Fatalf("exit %d, want 1; stderr %s", r.code, r.stderr)
	}
	want := fmt.Sprintf(`"target": "127.0.0.1",
      "address": "127.0.0.1",
      "epm": "refused",
      "endpoints": [],
      "error": "TCP %d refused the connection"`, port)
	if !strings.Contains(r.stdout, want) || strings.Count(r.stdout, `"target"`) != 1 || !strings.Contains(r.stdout, `"id": "epm-unreachable"`) {
		t.Errorf("output:\n%s\nwant it to contain once:\n%s", r.stdout, want)
	}
}
