package emit

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rpcspan/rpcspan/audit"
)

// psVariables are the only variables the scripts use.
var psVariables = regexp.MustCompile(`\$(env:COMPUTERNAME|ErrorActionPreference|rpcspanDone|true|false)\b`)

// checkPS checks a generated script statically, as there is no PowerShell
// here; see psProblems.
func checkPS(t testing.TB, s string) {
	t.Helper()
	winLines(t, s)
	for _, p := range psProblems(s) {
		t.Error(p)
	}
}

// psProblems returns what is wrong with a script: a line not ended by
// CRLF, non-ASCII text, a single-quoted string not closed on its line,
// double quotes, backticks or variables other than the known ones outside
// strings and comments (so nothing can expand), unbalanced braces or
// parentheses, and syntax newer than Windows PowerShell 5.1 (&&, ||, ??,
// ?., the ternary operator).
func psProblems(s string) []string {
	var out []string
	bad := func(n int, format string, args ...any) {
		out = append(out, fmt.Sprintf("line %d: ", n)+fmt.Sprintf(format, args...))
	}
	depth := map[rune]int{}
	pairs := map[rune]rune{'}': '{', ')': '(', ']': '['}
	if !strings.HasSuffix(s, "\r\n") {
		out = append(out, "no CRLF at the end")
	}
	for i, l := range strings.Split(strings.TrimSuffix(s, "\r\n"), "\r\n") {
		n := i + 1
		var code strings.Builder // the line outside strings and comments
		in := false
		for j := 0; j < len(l); j++ {
			c := l[j]
			if c < 0x20 || c > 0x7e {
				bad(n, "byte %#x outside printable ASCII", c)
			}
			switch {
			case in && c == '\'' && j+1 < len(l) && l[j+1] == '\'':
				j++ // a doubled quote inside a string
			case c == '\'':
				in = !in
				code.WriteByte(' ')
			case in:
			case c == '#':
				j = len(l) // a comment
			default:
				code.WriteByte(c)
			}
		}
		if in {
			bad(n, "string not closed: %s", l)
		}
		o := psVariables.ReplaceAllString(code.String(), "")
		for _, x := range []string{`"`, "`", "$", "&&", "||", "??", "?.", " ? ", "@'"} {
			if strings.Contains(o, x) {
				bad(n, "%q outside a string: %s", x, l)
			}
		}
		for _, c := range o {
			switch c {
			case '{', '(', '[':
				depth[c]++
			case '}', ')', ']':
				depth[pairs[c]]--
				if depth[pairs[c]] < 0 {
					bad(n, "unbalanced %q", c)
				}
			}
		}
	}
	for _, c := range "{([" {
		if depth[c] > 0 {
			out = append(out, fmt.Sprintf("%q left open %d times at the end", c, depth[c]))
		}
	}
	return out
}

func TestPowerShellHostSection(t *testing.T) {
	in := winInput(winEstate(t, winHandful, nil), Options{})
	tests := []struct {
		name string
		opt  Options
		want []string
	}{{
		name: "numbers",
		want: []string{
			"if ($env:COMPUTERNAME -eq 'FS01') {",
			"    # FS01: 2 rules",
			"    New-NetFirewallRule -Name 'rpcspan-1-rpc-ipv4-epm' -DisplayName 'rpcspan-1-rpc-ipv4-epm' -Group 'rpcspan' -Description 'rpcspan plan rule 1, rpc over IPv4 TCP endpoint mapper, policies: default' -Direction Inbound -Action Allow -Enabled True -Profile Any -Protocol TCP -LocalPort @('135') -RemoteAddress @('10.0.0.1', '10.0.0.2/31') | Out-Null",
			"    New-NetFirewallRule -Name 'rpcspan-3-rpc-ipv4' -DisplayName 'rpcspan-3-rpc-ipv4' -Group 'rpcspan' -Description 'rpcspan plan rule 3, rpc over IPv4 TCP, policies: default' -Direction Inbound -Action Allow -Enabled True -Profile Any -Protocol TCP -LocalPort @('50000-50999') -RemoteAddress @('10.0.0.1', '10.0.0.2/31') | Out-Null",
			"    Write-Output 'rpcspan: FS01: 2 rules added.'",
			"    $rpcspanDone = $true",
			"}",
		},
	}, {
		name: "keywords",
		opt:  Options{WindowsKeywords: true},
		want: []string{
			"if ($env:COMPUTERNAME -eq 'FS01') {",
			"    # FS01: 2 rules",
			"    New-NetFirewallRule -Name 'rpcspan-1-rpc-ipv4-epm' -DisplayName 'rpcspan-1-rpc-ipv4-epm' -Group 'rpcspan' -Description 'rpcspan plan rule 1, rpc over IPv4 TCP endpoint mapper, policies: default' -Direction Inbound -Action Allow -Enabled True -Profile Any -Protocol TCP -LocalPort 'RPCEPMap' -RemoteAddress @('10.0.0.1', '10.0.0.2/31') | Out-Null",
			"    New-NetFirewallRule -Name 'rpcspan-3-rpc-ipv4' -DisplayName 'rpcspan-3-rpc-ipv4' -Group 'rpcspan' -Description 'rpcspan plan rule 3, rpc over IPv4 TCP, policies: default' -Direction Inbound -Action Allow -Enabled True -Profile Any -Protocol TCP -LocalPort 'RPC' -RemoteAddress @('10.0.0.1', '10.0.0.2/31') | Out-Null",
			"    Write-Output 'rpcspan: FS01: 2 rules added.'",
			"    $rpcspanDone = $true",
			"}",
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in.Opt = tc.opt
			out := emitString(t, "powershell", in)
			checkPS(t, out)
			got := section(winLines(t, out), tc.want[0], "}")
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("powershell section (-want +got):\n%s\nwhole output:\n%s", diff, out)
			}
		})
	}
}

func TestPowerShellFile(t *testing.T) {
	in := winInput(winEstate(t, winHandful, nil), Options{})
	out := emitString(t, "powershell", in)
	checkPS(t, out)
	lines := winLines(t, out)
	for _, want := range []string{
		"# Generated by rpcspan; do not edit: change the inputs and run rpcspan again.",
		"#Requires -RunAsAdministrator",
		"$ErrorActionPreference = 'Stop'",
		"Get-NetFirewallRule -Group 'rpcspan' -ErrorAction SilentlyContinue | Remove-NetFirewallRule",
		"Get-NetFirewallRule -DisplayName 'rpcspan-*' -ErrorAction SilentlyContinue | Remove-NetFirewallRule",
		"# SMB01: skipped, not Windows (Debian GNU/Linux 12): its rules belong in iptables or nftables.",
		"if ($env:COMPUTERNAME -eq 'DC01') {",
		"if (-not $rpcspanDone) {",
		"    Write-Output 'rpcspan: no rules for this host; its rpcspan- rules were removed.'",
	} {
		if !containsLine(lines, want) {
			t.Errorf("output lacks line %q:\n%s", want, out)
		}
	}
	if indexOf(lines, "Get-NetFirewallRule -Group") > indexOf(lines, "if ($env:COMPUTERNAME") {
		t.Errorf("cleanup after a host section")
	}
	// The same rule names as netsh, so that each target replaces the
	// other's rules.
	names := func(s, re string) []string {
		var out []string
		for _, m := range regexp.MustCompile(re).FindAllStringSubmatch(s, -1) {
			out = append(out, m[1])
		}
		return out
	}
	ps := names(out, `-Name '([^']+)'`)
	netsh := names(emitString(t, "netsh", in), `add rule name=(\S+)`)
	if len(ps) == 0 || !cmp.Equal(ps, netsh) {
		t.Errorf("rule names differ:\npowershell %v\nnetsh      %v", ps, netsh)
	}
}

func TestPowerShellEmitHost(t *testing.T) {
	in := winInput(winEstate(t, winHandful, nil), Options{})
	out := emitHostString(t, "powershell", in, "DC01")
	checkPS(t, out)
	lines := winLines(t, out)
	for _, want := range []string{
		"if ($env:COMPUTERNAME -ne 'DC01') {",
		"    throw 'rpcspan: this file is for DC01 only; nothing was changed.'",
		"# DC01: 4 rules",
	} {
		if !containsLine(lines, want) {
			t.Errorf("output lacks line %q:\n%s", want, out)
		}
	}
	if g, c := indexOf(lines, "if ($env:COMPUTERNAME -ne"), indexOf(lines, "Get-NetFirewallRule"); g < 0 || g > c {
		t.Errorf("host check at line %d, cleanup at %d", g, c)
	}
	if strings.Contains(out, "FS01") || strings.Contains(out, "$rpcspanDone") {
		t.Errorf("per-host script holds other hosts:\n%s", out)
	}
	var b bytes.Buffer
	for _, host := range []string{"SMB01", "NOPE", "x'; calc; '"} {
		if err := (powershellEmitter{}).EmitHost(&b, in, host); err == nil {
			t.Errorf("EmitHost(%q) = nil error, want one", host)
		}
	}
	if got := (powershellEmitter{}).Hosts(in); !cmp.Equal(got, []string{"DC01", "FS01"}) {
		t.Errorf("Hosts() = %v", got)
	}
	if (powershellEmitter{}).Ext() != ".ps1" {
		t.Errorf("Ext() = %q", (powershellEmitter{}).Ext())
	}
}

func TestPSText(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{in: `a'; Remove-Item C:\ -Recurse; '`, want: `a''; Remove-Item C:\ -Recurse; ''`},
		{in: "curly\u2019; x; \u2018", want: "curly''; x; ''"},
		{in: "low\u201a high\u201b", want: "low'' high''"},
		{in: `$(calc) "x" ` + "`n", want: `$(calc) "x" ` + "`n"},
		{in: "n\u2011dash \u00e9", want: "n?dash ?"},
		{in: "line\nbreak", err: `"line\nbreak" contains a control character`},
		{in: "nel\u0085", err: `"nel\u0085" contains a control character`},
		{in: "ls\u2028", err: `"ls\u2028" contains a control character`},
	}
	for _, tc := range tests {
		got, err := psText(tc.in)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("psText(%q) error = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("psText(%q) = %q, %v, want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestPowerShellHostileNames(t *testing.T) {
	var ok []string
	for _, n := range hostileNames {
		if !strings.ContainsAny(n, "\r\n\t") {
			ok = append(ok, n)
		}
	}
	e := hostileEstate(t, ok)
	for _, opt := range []Options{{}, {WindowsKeywords: true}} {
		in := winInput(e, opt)
		out := emitString(t, "powershell", in)
		checkPS(t, out)
		checkPS(t, emitHostString(t, "powershell", in, "DC01"))
		for _, l := range winLines(t, out) {
			if strings.Contains(l, "New-NetFirewallRule") && !strings.HasSuffix(l, " | Out-Null") {
				t.Errorf("rule line does not end as built: %s", l)
			}
		}
		if !strings.Contains(out, `a''; Remove-Item C:\ -Recurse; ''`) {
			t.Errorf("quote in a policy name not doubled:\n%s", out)
		}
	}
	// Names with control characters are refused, not rewritten.
	for _, n := range []string{"line\nbreak", "cr\rreturn", "tab\there"} {
		in := winInput(hostileEstate(t, []string{n}), Options{})
		var b bytes.Buffer
		err := (powershellEmitter{}).Emit(&b, in)
		if err == nil || !strings.Contains(err.Error(), "control character") {
			t.Errorf("policy %q: Emit() error = %v, want a control character refused", n, err)
		}
		if b.Len() != 0 {
			t.Errorf("policy %q: %d bytes written before the error", n, b.Len())
		}
	}
}

func TestPowerShellGolden(t *testing.T) {
	e := winExample(t)
	for _, tc := range []struct {
		name string
		opt  Options
	}{{"powershell-example", Options{}}, {"powershell-example-keywords", Options{WindowsKeywords: true}}} {
		t.Run(tc.name, func(t *testing.T) {
			in := winInput(e, tc.opt)
			in.Inputs = []string{"testdata/example"}
			out := emitString(t, "powershell", in)
			checkPS(t, out)
			golden(t, tc.name, []byte(out))
		})
	}
	in := winInput(e, Options{WindowsKeywords: true})
	in.Inputs = []string{"testdata/example"}
	out := emitHostString(t, "powershell", in, "SQL03")
	checkPS(t, out)
	golden(t, "powershell-example-SQL03", []byte(out))
}

func TestPowerShellEmptyPlan(t *testing.T) {
	in := &Input{Plan: &audit.Plan{}, Estate: audit.NewEstate()}
	out := emitString(t, "powershell", in)
	checkPS(t, out)
	if strings.Contains(out, "New-NetFirewallRule") {
		t.Errorf("empty plan:\n%s", out)
	}
}

// TestPSProblems makes sure the checker catches what it is for.
func TestPSProblems(t *testing.T) {
	for _, bad := range []string{
		"Write-Output 'open\r\n",
		"Write-Output \"x $y\"\r\n",
		"a && b\r\n",
		"if ($x) {\r\n",
		"x ?? y\r\n",
		"Write-Output 'a' ; calc\u2019\r\n",
	} {
		if len(psProblems(bad)) == 0 {
			t.Errorf("psProblems(%q) found nothing", bad)
		}
	}
}

// BenchmarkPowerShell100k: go test ./emit -run '^$' -bench PowerShell100k -benchmem
func BenchmarkPowerShell100k(b *testing.B) { benchWin(b, "powershell") }
