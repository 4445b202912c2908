package main

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files")

// binary is the rpcspan built once for all tests, so that exit codes and
// output are those a user gets.
var binary string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "rpcspan-test")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "rpcspan")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		os.Stderr.Write(out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
}

func runBinary(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running rpcspan %v: %v", args, err)
	}
	return result{code, out.String(), errb.String()}
}

func TestExitCodes(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		stdin      string
		wantCode   int
		wantStderr string // substring
	}{
		{name: "no command", args: nil, wantCode: 0},
		{name: "help", args: []string{"--help"}, wantCode: 0},
		{name: "unknown command", args: []string{"frobnicate"}, wantCode: 2, wantStderr: `unknown command "frobnicate"`},
		{name: "unknown flag", args: []string{"inventory", "--frob", "x"}, wantCode: 2, wantStderr: "flag provided but not defined: -frob"},
		{name: "no input", args: []string{"inventory"}, wantCode: 2, wantStderr: "no input"},
		{name: "bad output format", args: []string{"inventory", "-o", "xml", "testdata/LEG2003-01.txt"}, wantCode: 2, wantStderr: `unknown output format "xml"`},
		{name: "missing file", args: []string{"inventory", "testdata/nope.yaml"}, wantCode: 2, wantStderr: "reading testdata/nope.yaml: no such file or directory"},
		{name: "broken yaml", args: []string{"inventory", "testdata/broken.yaml"}, wantCode: 2, wantStderr: "testdata/broken.yaml:"},
		{name: "bad values go on", args: []string{"inventory", "testdata/badvalues.yaml"}, wantCode: 0, wantStderr: "testdata/badvalues.yaml:5:"},
		{name: "bad values strict", args: []string{"inventory", "--strict", "testdata/badvalues.yaml"}, wantCode: 2, wantStderr: "(--strict)"},
		{name: "flag after input", args: []string{"inventory", "testdata/LEG2003-01.txt", "-o", "json"}, wantCode: 2, wantStderr: `flag "-o" after the inputs`},
		{name: "bad host flag", args: []string{"inventory", "--host", "DC 01=10.0.0.1"}, wantCode: 2, wantStderr: `--host "DC 01=10.0.0.1"`},
		{name: "bad range flag", args: []string{"inventory", "--range", "DC01:tcp=49152-70000"}, wantCode: 2, wantStderr: `port 70000 outside 0-65535`},
		{name: "stdin", args: []string{"inventory", "-"}, stdin: "hosts:\n  - name: DC09\n    addresses: [10.0.0.9]\n", wantCode: 0, wantStderr: "1 host"},
		{name: "stdin capture needs a host", args: []string{"inventory", "-"}, stdin: "Protocol tcp Dynamic Port Range\n----------------\nStart Port : 1025\nNumber of Ports : 3976\n", wantCode: 0, wantStderr: "cannot tell which host"},
		{name: "collector", args: []string{"collector"}, wantCode: 0},
		{name: "collector args", args: []string{"collector", "x"}, wantCode: 2, wantStderr: "takes no arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runBinary(t, tt.stdin, tt.args...)
			if r.code != tt.wantCode {
				t.Errorf("rpcspan %v exit code = %d, want %d\nstderr: %s", tt.args, r.code, tt.wantCode, r.stderr)
			}
			if !strings.Contains(r.stderr, tt.wantStderr) {
				t.Errorf("rpcspan %v stderr = %q, want it to contain %q", tt.args, r.stderr, tt.wantStderr)
			}
		})
	}
}

// TestBadValuesAccounted checks that a file with bad values still yields
// every host it could, and says what it could not read.
func TestBadValuesAccounted(t *testing.T) {
	r := runBinary(t, "", "inventory", "-o", "json", "testdata/badvalues.yaml")
	if r.code != 0 {
		t.Fatalf("exit code %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{`"name": "FS01"`, `"name": "FS02"`, `"name": "FS04"`, `"udp4": "49152-65535"`, `"10.1.2.11"`, `"id": "input-invalid"`} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %s:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "calc") && !strings.Contains(r.stdout, `"message"`) {
		t.Errorf("invalid host name leaked into the host list:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, "3 hosts") {
		t.Errorf("summary should count 3 hosts: %s", r.stderr)
	}
}

func TestGolden(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"example.json", []string{"inventory", "-q", "-o", "json", "../../testdata/example"}},
		{"example.txt", []string{"inventory", "-q", "../../testdata/example"}},
		{"example.md", []string{"inventory", "-q", "-o", "markdown", "../../testdata/example"}},
		{"example.csv", []string{"inventory", "-q", "-o", "csv", "../../testdata/example"}},
		{"flags.json", []string{"inventory", "-q", "-o", "json", "--host", "DC01=10.1.0.10,fd00:1::10", "--range", "DC01:tcp=49152-65535", "--range", "DC01:udp=49152+16384", "--host", "LEG01=10.9.0.5", "--range", "LEG01=1025-5000"}},
		{"legacy.yaml", []string{"inventory", "-q", "-o", "yaml", "testdata/LEG2003-01.txt"}},
		{"badvalues.json", []string{"inventory", "-q", "-o", "json", "testdata/badvalues.yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runBinary(t, "", tt.args...)
			if r.code != 0 {
				t.Fatalf("rpcspan %v: exit code %d: %s", tt.args, r.code, r.stderr)
			}
			golden := filepath.Join("testdata", "golden", tt.name)
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, []byte(r.stdout), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./cmd/rpcspan -update)", err)
			}
			if diff := cmp.Diff(string(want), r.stdout); diff != "" {
				t.Errorf("rpcspan %v differs from %s (-want +got):\n%s", tt.args, golden, diff)
			}
		})
	}
}

// TestDeterministic runs the same command twice and compares the bytes.
func TestDeterministic(t *testing.T) {
	a := runBinary(t, "", "inventory", "-o", "json", "../../testdata/example")
	b := runBinary(t, "", "inventory", "-o", "json", "../../testdata/example")
	if a.stdout != b.stdout || a.stderr != b.stderr {
		t.Fatal("two runs on the same input differ")
	}
}
