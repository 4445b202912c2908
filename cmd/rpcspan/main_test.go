package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/rpcspan/rpcspan/audit"
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
		{name: "flag after input", args: []string{"inventory", "testdata/LEG2003-01.txt", "-o", "json", "-q"}, wantCode: 0},
		{name: "bad flag after input", args: []string{"inventory", "testdata/LEG2003-01.txt", "-o", "xml"}, wantCode: 2, wantStderr: `unknown output format "xml"`},
		{name: "input named like a flag after --", args: []string{"inventory", "-q", "--", "-o"}, wantCode: 2, wantStderr: "reading -o: no such file"},
		{name: "bad host flag", args: []string{"inventory", "--host", "DC 01=10.0.0.1"}, wantCode: 2, wantStderr: `--host "DC 01=10.0.0.1"`},
		{name: "bad range flag", args: []string{"inventory", "--range", "DC01:tcp=49152-70000"}, wantCode: 2, wantStderr: `port 70000 outside 0-65535`},
		{name: "stdin", args: []string{"inventory", "-"}, stdin: "hosts:\n  - name: DC09\n    addresses: [10.0.0.9]\n", wantCode: 0, wantStderr: "1 host"},
		{name: "stdin capture needs a host", args: []string{"inventory", "-"}, stdin: "Protocol tcp Dynamic Port Range\n----------------\nStart Port : 1025\nNumber of Ports : 3976\n", wantCode: 0, wantStderr: "cannot tell which host"},
		{name: "collector", args: []string{"collector"}, wantCode: 0},
		{name: "audit fails on errors", args: []string{"audit", "-q", "testdata/badvalues.yaml"}, wantCode: 1},
		{name: "audit fail-on never", args: []string{"audit", "-q", "--fail-on", "never", "testdata/badvalues.yaml"}, wantCode: 0},
		{name: "audit clean host passes", args: []string{"audit", "-q", "--host", "DC01=10.1.0.10", "--range", "DC01=49152-65535"}, wantCode: 0},
		{name: "audit warning below error passes", args: []string{"audit", "-q", "--host", "DC01=10.1.0.10", "--range", "DC01=1025-5000"}, wantCode: 0},
		{name: "audit fail-on warning", args: []string{"audit", "-q", "--fail-on", "warning", "--host", "DC01=10.1.0.10", "--range", "DC01=1025-5000"}, wantCode: 1},
		{name: "audit fail-on bogus", args: []string{"audit", "--fail-on", "fatal", "testdata/LEG2003-01.txt"}, wantCode: 2, wantStderr: `--fail-on: unknown severity "fatal"`},
		{name: "audit bad color", args: []string{"audit", "--color", "pink", "testdata/LEG2003-01.txt"}, wantCode: 2, wantStderr: `--color: unknown value "pink"`},
		{name: "audit bad baseline", args: []string{"audit", "--baseline", "lots", "testdata/LEG2003-01.txt"}, wantCode: 2, wantStderr: "--baseline"},
		{name: "audit bad target", args: []string{"audit", "--target-range", "1000-1100", "testdata/LEG2003-01.txt"}, wantCode: 2, wantStderr: "netsh would refuse it"},
		{name: "audit broken yaml", args: []string{"audit", "testdata/broken.yaml"}, wantCode: 2, wantStderr: "testdata/broken.yaml:"},
		{name: "audit no input", args: []string{"audit"}, wantCode: 2, wantStderr: "no input"},
		{name: "flows ok with errors in input", args: []string{"flows", "-q", "testdata/badvalues.yaml"}, wantCode: 0},
		{name: "flows has no fail-on", args: []string{"flows", "--fail-on", "error", "testdata/badvalues.yaml"}, wantCode: 2, wantStderr: "flag provided but not defined"},
		{name: "flows missing file", args: []string{"flows", "nope"}, wantCode: 2, wantStderr: "reading nope"},
		{name: "emit nftables", args: []string{"emit", "-q", "--target", "nftables", "../../testdata/example"}, wantCode: 0},
		{name: "emit needs a target", args: []string{"emit", "../../testdata/example"}, wantCode: 2, wantStderr: `--target is required`},
		{name: "emit unknown target", args: []string{"emit", "--target", "pf", "../../testdata/example"}, wantCode: 2, wantStderr: `unknown target "pf"`},
		{name: "emit bad hook", args: []string{"emit", "--target", "nftables", "--hook", "output", "../../testdata/example"}, wantCode: 2, wantStderr: `unknown hook "output"`},
		{name: "emit with input errors renders and exits 1", args: []string{"emit", "-q", "--target", "iptables", "testdata/badvalues.yaml"}, wantCode: 1, wantStderr: "rendered what is valid"},
		{name: "emit strict writes nothing", args: []string{"emit", "--strict", "--target", "iptables", "testdata/badvalues.yaml"}, wantCode: 2, wantStderr: "(--strict)"},
		{name: "emit refuses a target range netsh refuses", args: []string{"emit", "--target", "netsh-dynamicport", "--target-range", "1000-1100", "../../testdata/example"}, wantCode: 2, wantStderr: "netsh would refuse it"},
		{name: "audit emit-target needs html", args: []string{"audit", "--emit-target", "nftables", "../../testdata/example"}, wantCode: 2, wantStderr: "only for the HTML report"},
		{name: "audit unknown emit-target", args: []string{"audit", "-o", "html", "--emit-target", "pf", "../../testdata/example"}, wantCode: 2, wantStderr: `unknown target "pf"`},
		{name: "apply bad confirm", args: []string{"apply", "--confirm", "-5s", "--dry-run", "../../testdata/example"}, wantCode: 2, wantStderr: "--confirm"},
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
		{"audit.txt", []string{"audit", "-q", "--fail-on", "never", "--color", "never", "../../testdata/example"}},
		{"audit.json", []string{"audit", "-q", "--fail-on", "never", "-o", "json", "../../testdata/example"}},
		{"audit.md", []string{"audit", "-q", "--fail-on", "never", "-o", "markdown", "../../testdata/example"}},
		{"audit.csv", []string{"audit", "-q", "--fail-on", "never", "-o", "csv", "../../testdata/example"}},
		{"audit-migration.md", []string{"audit", "-q", "--fail-on", "never", "-o", "markdown", "--target-range", "49152-65535", "../../testdata/example"}},
		{"audit-migration.json", []string{"audit", "-q", "--fail-on", "never", "-o", "json", "--target-range", "49152-65535", "../../testdata/example"}},
		{"audit-migration.txt", []string{"audit", "-q", "--fail-on", "never", "--target-range", "49152-65535", "../../testdata/example"}},
		{"audit-migration.csv", []string{"audit", "-q", "--fail-on", "never", "-o", "csv", "--target-range", "49152-65535", "../../testdata/example"}},
		{"flows.txt", []string{"flows", "-q", "../../testdata/example"}},
		{"flows.json", []string{"flows", "-q", "-o", "json", "../../testdata/example"}},
		{"flows.md", []string{"flows", "-q", "-o", "markdown", "../../testdata/example"}},
		{"flows.csv", []string{"flows", "-q", "-o", "csv", "../../testdata/example"}},
		{"flows-migration.csv", []string{"flows", "-q", "-o", "csv", "--target-range", "49152-65535", "../../testdata/example"}},
		{"audit.html", []string{"audit", "-q", "--fail-on", "never", "-o", "html", "--target-range", "49152-65535", "--emit-target", "nftables", "../../testdata/example"}},
		{"audit-flags.txt", []string{"audit", "-q", "--fail-on", "never", "--color", "always", "--host", "LEG01=10.9.0.5", "--range", "LEG01:tcp=1025-5000", "--host", "DC01=10.1.0.10", "--range", "DC01:tcp=49152-65535"}},
		{"badvalues.json", []string{"inventory", "-q", "-o", "json", "testdata/badvalues.yaml"}},
		{"audit-rules.txt", []string{"audit", "-q", "--fail-on", "never", "--color", "never", "--rules", "testdata/only135.rules", "../../testdata/example"}},
		{"audit-rules.json", []string{"audit", "-q", "--fail-on", "never", "-o", "json", "--rules", "testdata/only135.rules", "../../testdata/example"}},
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

// TestColor checks that colour is used only when asked or on a terminal,
// and never with NO_COLOR set.
func TestColor(t *testing.T) {
	args := []string{"audit", "-q", "--fail-on", "never", "--host", "LEG01=10.9.0.5", "--range", "LEG01=1025-5000"}
	if r := runBinary(t, "", args...); strings.Contains(r.stdout, "\x1b[") {
		t.Error("auto colour on a pipe")
	}
	if r := runBinary(t, "", append([]string{args[0], "--color", "always"}, args[1:]...)...); !strings.Contains(r.stdout, "\x1b[33mwarning") {
		t.Errorf("--color always: no colour:\n%s", r.stdout)
	}
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	out, _ := cmd.Output()
	if strings.Contains(string(out), "\x1b[") {
		t.Error("colour with NO_COLOR set")
	}
}

// TestEmitOutDir checks that --out-dir writes one file per Windows host and
// one file for a Linux target, and that strict mode writes nothing.
func TestEmitOutDir(t *testing.T) {
	dir := t.TempDir()
	if r := runBinary(t, "", "emit", "-q", "--target", "netsh", "--out-dir", dir, "../../testdata/example"); r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.cmd"))
	if len(files) < 20 {
		t.Errorf("netsh --out-dir wrote %d .cmd files, want one per Windows destination host", len(files))
	}
	b, err := os.ReadFile(filepath.Join(dir, "SQL03.cmd"))
	if err != nil || !strings.Contains(string(b), `"%COMPUTERNAME%"=="SQL03"`) {
		t.Errorf("SQL03.cmd: %v\n%s", err, b)
	}
	lin := t.TempDir()
	if r := runBinary(t, "", "emit", "-q", "--target", "nftables", "--out-dir", lin, "../../testdata/example"); r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(lin, "rpcspan-nftables.nft")); err != nil {
		t.Error(err)
	}
	strict := filepath.Join(t.TempDir(), "out")
	runBinary(t, "", "emit", "--strict", "--target", "netsh", "--out-dir", strict, "testdata/badvalues.yaml")
	if _, err := os.Stat(strict); err == nil {
		t.Error("--strict with input problems created the output folder")
	}
}

// TestAuditRules gives rule bases to audit: rpcspan's own output must leave
// no rule-gap, and a rule base that opens only part of the spans must.
func TestAuditRules(t *testing.T) {
	dir := t.TempDir()
	for _, targets := range [][]string{{"nftables"}, {"iptables", "ip6tables"}} {
		target := strings.Join(targets, "+")
		args := []string{"audit", "-q", "--fail-on", "never", "-o", "json"}
		for _, tg := range targets {
			out := filepath.Join(dir, tg)
			r := runBinary(t, "", "emit", "-q", "--target", tg, "--out-dir", out, "../../testdata/example")
			if r.code != 0 {
				t.Fatalf("emit %s: exit %d: %s", tg, r.code, r.stderr)
			}
			files, _ := filepath.Glob(filepath.Join(out, "*"))
			for _, f := range files {
				if tg != "nftables" {
					// As the file's header says: load it, then add the jump
					// from FORWARD; iptables-save then shows both. Policy
					// drop, so that only the file's accepts let flows pass.
					b, err := os.ReadFile(f)
					if err != nil {
						t.Fatal(err)
					}
					b = bytes.Replace(b, []byte("*filter\n"), []byte("*filter\n:FORWARD DROP [0:0]\n-A FORWARD -j RPCSPAN\n"), 1)
					if err := os.WriteFile(f, b, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				args = append(args, "--rules", f)
			}
		}
		r := runBinary(t, "", append(args, "../../testdata/example")...)
		if r.code != 0 || strings.Contains(r.stdout, `"rule-gap"`) {
			t.Errorf("%s output given back with --rules: exit %d, rule-gap present: %v\n%s", target, r.code, strings.Contains(r.stdout, `"rule-gap"`), r.stderr)
		}
		// Not vacuous: every flow rule was evaluated, and allowed.
		if n, all := strings.Count(r.stdout, `"existing_rules": "allowed"`), strings.Count(r.stdout, `"existing_rules"`); n == 0 || n != all {
			t.Errorf("%s output given back with --rules: %d of %d flow rules allowed", target, n, all)
		}
	}
	r := runBinary(t, "", "audit", "-q", "--fail-on", "never", "--rules", "testdata/only135.rules", "../../testdata/example")
	if !strings.Contains(r.stdout, "rule-gap") || !strings.Contains(r.stdout, "60001-65535") {
		t.Errorf("a rule base opening 49152-60000 only must leave rule-gap 60001-65535:\n%s", r.stdout)
	}
	if r := runBinary(t, "", "audit", "--rules", "nope.rules", "../../testdata/example"); r.code != 2 {
		t.Errorf("missing rule base: exit %d, want 2", r.code)
	}
	// A file that is no rule base at all is an error, not a rule base that
	// evaluates nothing.
	for _, f := range []string{"../../testdata/example/inventory.yaml", "testdata/empty.txt"} {
		if r := runBinary(t, "", "audit", "--rules", f, "../../testdata/example"); r.code != 2 || !strings.Contains(r.stderr, "not iptables-save output") {
			t.Errorf("--rules %s: exit %d, want 2 and a message:\n%s", f, r.code, r.stderr)
		}
	}
	// A line that can't be read is named with file and line; the rule
	// stands as unknown and the rest of the rule base is read.
	bad := filepath.Join(dir, "bad.rules")
	text := "*filter\n:FORWARD DROP [0:0]\n-A FORWARD -p tcp --dport 135 -j ACCEPT\n-A FORWARD -p tcp --dport 49152:6553x -j ACCEPT\nCOMMIT\n"
	if err := os.WriteFile(bad, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	r = runBinary(t, "", "audit", "--fail-on", "never", "-o", "json", "--rules", bad, "../../testdata/example")
	if r.code != 0 || !strings.Contains(r.stderr, bad+":4: rule") || !strings.Contains(r.stdout, `"rule-unknown"`) {
		t.Errorf("unreadable rule: exit %d, want 0, a problem at %s:4 and rule-unknown findings:\n%s", r.code, bad, r.stderr)
	}
	if r := runBinary(t, "", "audit", "--strict", "--rules", bad, "../../testdata/example"); r.code != 2 {
		t.Errorf("unreadable rule with --strict: exit %d, want 2", r.code)
	}
}

// TestAuditHostFirewall: a host's captured Windows Firewall rules (netsh
// advfirewall show rule, UTF-16LE as PowerShell writes it) apply to the
// flows to that host, for the active profile only.
func TestAuditHostFirewall(t *testing.T) {
	r := runBinary(t, "", "audit", "-q", "--fail-on", "never", "-o", "json", "testdata/winfw")
	if r.code != 0 || strings.Contains(r.stdout, "rule-gap") {
		t.Errorf("domain profile allows RPC-EPMap and RPC: exit %d, gap: %v\n%s", r.code, strings.Contains(r.stdout, "rule-gap"), r.stderr)
	}
	var rep struct {
		Findings []struct{ ID, Host, Message string } `json:"findings"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	var unknown []string
	for _, f := range rep.Findings {
		if f.ID == audit.IDRuleUnknown {
			unknown = append(unknown, f.Host)
			if !strings.Contains(f.Message, "netsh advfirewall firewall show rule name=all verbose") {
				t.Errorf("%s: the message must say how to capture Program and Service: %s", f.Host, f.Message)
			}
		}
	}
	// DC01's verbose listing shows its rules have no Program or Service
	// condition; DC02's plain listing can't, so its allows are unknown.
	if !slices.Equal(unknown, []string{"DC02"}) {
		t.Errorf("rule-unknown for %v, want DC02 only", unknown)
	}
	r = runBinary(t, "", "audit", "-q", "--fail-on", "never", "--profile", "public", "testdata/winfw")
	if !strings.Contains(r.stdout, "rule-gap") || !strings.Contains(r.stdout, "DC01") {
		t.Errorf("public profile: the Domain-only rules must not count:\n%s", r.stdout)
	}
	if r := runBinary(t, "", "audit", "--profile", "home", "testdata/winfw"); r.code != 2 {
		t.Errorf("--profile home: exit %d, want 2", r.code)
	}
}

// TestAuditHostFirewallLocalSubnet: DC01's rules admit RemoteIP
// LocalSubnet, and its ipconfig capture shows 10.1.0.10 with mask
// 255.255.255.0. Flows from 10.1.0.0/24 are allowed, flows from outside
// are a rule-gap, and only IPv6 flows, whose prefixes ipconfig does not
// show, are rule-unknown.
func TestAuditHostFirewallLocalSubnet(t *testing.T) {
	r := runBinary(t, "", "audit", "-q", "--fail-on", "never", "-o", "json",
		"--host", "APP09=10.9.0.5,fd00:9::5", "--host", "APP10=10.1.0.77", "--host", "DC01=fd00:10:1::10", "testdata/winfw")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	type decided struct {
		Family       int      `json:"family"`
		Sources      []string `json:"sources"`
		NotEvaluated []string `json:"not_evaluated"`
	}
	var rep struct {
		Findings []struct {
			ID, Host string
			Detail   struct {
				Decided []decided `json:"decided"`
			} `json:"detail"`
		} `json:"findings"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{} // "ID family" -> sources
	for _, f := range rep.Findings {
		if f.Host != "DC01" {
			continue
		}
		for _, d := range f.Detail.Decided {
			k := f.ID + " IPv" + strconv.Itoa(d.Family)
			got[k] = append(got[k], d.Sources...)
			if f.ID == audit.IDRuleUnknown && !slices.Equal(d.NotEvaluated, []string{"remoteip=LocalSubnet: the host's IPv6 prefixes were not captured"}) {
				t.Errorf("DC01 rule-unknown not evaluated = %q, want the IPv6 prefixes", d.NotEvaluated)
			}
		}
	}
	for k := range got {
		slices.Sort(got[k])
		got[k] = slices.Compact(got[k])
	}
	want := map[string][]string{
		// 10.1.0.11 (DC02) and 10.1.0.77 (APP10) are in 10.1.0.0/24.
		audit.IDRuleGap + " IPv4": {"10.9.0.5/32"},
		// DC01's own fd00:10:1::10 is left out: its flows to itself
		// cross no firewall.
		audit.IDRuleUnknown + " IPv6": {"fd00:9::5/128"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("DC01 findings by id and family mismatch (-want +got):\n%s", diff)
	}
}

// TestAuditCollectorFirewall: the collector's "firewall_rules" are each
// host's own rule base. SQL01 (UTF-16LE, as Windows PowerShell 5.1's ">"
// writes it) allows only part of the span and blocks some of it; SQL02
// (UTF-8, -OutFile) allows it all. Only SQL01 has a rule-gap, and it
// names the JSON file and the line of the rule there.
func TestAuditCollectorFirewall(t *testing.T) {
	const sql01, sql02 = "testdata/collectorfw/sql01_ps51.json", "testdata/collectorfw/sql02_outfile_utf8.json"
	for f, bom := range map[string][]byte{sql01: {0xFF, 0xFE, '{', 0}, sql02: {0xEF, 0xBB, 0xBF, '{'}} {
		if b, err := os.ReadFile(f); err != nil || !bytes.HasPrefix(b, bom) {
			t.Fatalf("%s: %v, want it to start % x", f, err, bom)
		}
	}
	r := runBinary(t, "", "audit", "-q", "--fail-on", "never", "-o", "json", sql01, sql02)
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("exit %d, want 0 and nothing on stderr:\n%s", r.code, r.stderr)
	}
	var rep struct {
		Findings []struct{ ID, Host, Message string } `json:"findings"`
		Flows    struct {
			Rules []struct {
				Ports    []string `json:"ports"`
				Existing string   `json:"existing_rules"`
			} `json:"rules"`
		} `json:"flows"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range rep.Findings {
		got = append(got, f.ID+" "+f.Host)
		if f.ID == audit.IDRuleGap {
			// Line 109 holds the block rule's name; line 52, where the
			// listing starts, stands for its default block.
			want := "SQL01: required tcp 60000-65535 from 10.30.0.21/32, 10.30.0.22/32 blocked by " + sql01 + ":109, " + sql01 + ":52 (policy drop)"
			if f.Message != want {
				t.Errorf("rule-gap message = %q, want %q", f.Message, want)
			}
		}
	}
	if !slices.Equal(got, []string{audit.IDRuleGap + " SQL01"}) {
		t.Errorf("findings %q, want a rule-gap for SQL01 only", got)
	}
	// Both hosts' rules were read: TCP 135 to either is decided, and
	// allowed (a host without a rule base would leave it "not evaluated").
	var existing []string
	for _, fl := range rep.Flows.Rules {
		existing = append(existing, strings.Join(fl.Ports, ",")+" "+fl.Existing)
	}
	if want := []string{"135 allowed", "49152-65535 partly blocked"}; !slices.Equal(existing, want) {
		t.Errorf("existing rules of the flows = %q, want %q", existing, want)
	}
	// Lines that hold no rule listing are named by the line where they
	// start.
	bad := filepath.Join(t.TempDir(), "bad.json")
	text := "{\"rpcspan_collector\": 1, \"host\": \"X\",\n\"firewall_rules\": [\n\"\",\n\"nothing here\"]}\n"
	if err := os.WriteFile(bad, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	r = runBinary(t, "", "audit", "--fail-on", "never", bad)
	if want := "rpcspan: " + bad + ":3: no Windows Firewall rules"; r.code != 0 || !strings.Contains(r.stderr, want) {
		t.Errorf("listing without rules: exit %d, want 0 and %q on stderr:\n%s", r.code, want, r.stderr)
	}
}

// TestAuditHostFirewallProfile: the state of a host's Windows Firewall
// profile decides whether its rules apply. FS01's rules allow only
// RPC-EPMap, and its "netsh advfirewall show allprofiles" (French,
// UTF-16LE) shows the Domain profile off: with --profile domain its flows
// are allowed, with public (on, BlockInbound) the dynamic range is a
// rule-gap decided by the Public block's firewall policy line. FS02 has
// only Get-NetFirewallProfile: off in Domain, its flows are allowed; on
// in Public, without rules, it is not evaluated.
func TestAuditHostFirewallProfile(t *testing.T) {
	const dir = "testdata/winfwprofile"
	type report struct {
		Findings []struct{ ID, Host, Message string } `json:"findings"`
		Flows    struct {
			Rules []struct {
				Ports    []string `json:"ports"`
				Existing string   `json:"existing_rules"`
			} `json:"rules"`
		} `json:"flows"`
	}
	run := func(profile string) (report, []string, []string) {
		t.Helper()
		r := runBinary(t, "", "audit", "-q", "--fail-on", "never", "-o", "json", "--profile", profile, dir)
		if r.code != 0 || r.stderr != "" {
			t.Fatalf("--profile %s: exit %d, want 0 and nothing on stderr:\n%s", profile, r.code, r.stderr)
		}
		var rep report
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatal(err)
		}
		var ids, existing []string
		for _, f := range rep.Findings {
			ids = append(ids, f.ID+" "+f.Host)
		}
		for _, fl := range rep.Flows.Rules {
			existing = append(existing, strings.Join(fl.Ports, ",")+" "+fl.Existing)
		}
		return rep, ids, existing
	}
	rep0, ids, existing := run("domain")
	if want := []string{"host-firewall-open FS01", "host-firewall-open FS02"}; !slices.Equal(ids, want) {
		t.Errorf("domain profile (off on both hosts): findings %q, want %q", ids, want)
	}
	for _, f := range rep0.Findings {
		if !strings.Contains(f.Message, "off for the domain profile ("+dir) {
			t.Errorf("%s: the message must say the firewall is off and where the capture says so: %s", f.Host, f.Message)
		}
	}
	if want := []string{"135 allowed", "49152-65535 allowed"}; !slices.Equal(existing, want) {
		t.Errorf("domain profile: existing rules of the flows = %q, want %q", existing, want)
	}
	rep, ids, existing := run("public")
	if want := []string{"rule-gap FS01"}; !slices.Equal(ids, want) {
		t.Errorf("public profile: findings %q, want %q", ids, want)
	}
	want := "FS01: required tcp 49152-65535 from 10.2.0.10/31 blocked by " + dir + "/captures/FS01/profiles.txt:37 (policy drop)"
	if len(rep.Findings) > 0 && rep.Findings[0].Message != want {
		t.Errorf("public profile: rule-gap message = %q, want %q", rep.Findings[0].Message, want)
	}
	if want := []string{"135 allowed (some destinations not evaluated)", "49152-65535 blocked (some destinations not evaluated)"}; !slices.Equal(existing, want) {
		t.Errorf("public profile: existing rules of the flows = %q, want %q", existing, want)
	}

	// The collector's firewall_profiles work the same, and the policy is
	// placed on the line of the JSON file that holds the profile's
	// firewall policy (line 8 for Private, 11 for Public), not where the
	// rule listing starts.
	dash := strings.Repeat("-", 70)
	lines := []string{
		`{"rpcspan_collector": 1, "host": "APP01", "addresses": ["10.3.0.5"], "dynamic": {"tcp4": {"start": 49152, "count": 16384}},`,
		`"firewall_profiles": [`,
		`"Domain Profile Settings:",`, `"` + dash + `",`, `"State                                 OFF",`, `"Firewall Policy                       BlockInbound,AllowOutbound",`,
		`"",`, `"Private Profile Settings:\n` + dash + `\nState      ON\nFirewall Policy     BlockInbound,AllowOutbound\n",`,
		`"Public Profile Settings:",`, `"` + dash + `\nState                                 ON",`, `"Firewall Policy                       BlockInbound,AllowOutbound",`,
		`"Ok."],`,
		`"firewall_rules": [`,
		`"Rule Name:                            RPC endpoint mapper",`, `"` + dash + `",`,
		`"Enabled:                              Yes",`, `"Direction:                            In",`, `"Profiles:                             Any",`,
		`"Grouping:                             ",`, `"LocalIP:                              Any",`, `"RemoteIP:                             Any",`,
		`"Protocol:                             TCP",`, `"LocalPort:                            RPC-EPMap",`, `"RemotePort:                           Any",`,
		`"Edge traversal:                       No",`, `"InterfaceTypes:                       Any",`, `"Security:                             NotRequired",`,
		`"Rule source:                          Local Setting",`, `"Action:                               Allow",`, `"Ok."]}`,
	}
	col := filepath.Join(t.TempDir(), "app01.json")
	if err := os.WriteFile(col, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ profile, want string }{
		{"domain", ""},
		// APP01's own 10.3.0.5 is no source of a gap: loopback.
		{"private", "APP01: required tcp 49152-65535 from 10.3.0.9/32 blocked by " + col + ":8 (policy drop)"},
		{"public", "APP01: required tcp 49152-65535 from 10.3.0.9/32 blocked by " + col + ":11 (policy drop)"},
	} {
		r := runBinary(t, "", "audit", "-q", "--fail-on", "never", "-o", "json", "--profile", tt.profile, "--host", "SRC=10.3.0.9", col)
		var rep report
		if err := json.Unmarshal([]byte(r.stdout), &rep); r.code != 0 || r.stderr != "" || err != nil {
			t.Fatalf("collector, --profile %s: exit %d, %v:\n%s", tt.profile, r.code, err, r.stderr)
		}
		var got []string
		for _, f := range rep.Findings {
			if strings.HasPrefix(f.ID, "rule-") {
				got = append(got, f.Message)
			}
		}
		var want []string
		if tt.want != "" {
			want = []string{tt.want}
		}
		if !slices.Equal(got, want) {
			t.Errorf("collector, --profile %s: findings %q, want %q", tt.profile, got, want)
		}
	}
}
