package emit

import (
	"bytes"
	"fmt"
	"io"
	"net/netip"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rpcspan/rpcspan/audit"
	"github.com/rpcspan/rpcspan/audit/ingest"
)

// Helpers shared by the tests of the Windows targets (netsh, powershell,
// netsh-dynamicport).

// winHost describes a host of a test estate.
type winTestHost struct {
	name   string
	addrs  []string
	groups []string
	os     string
	ranges map[audit.Key]string // captured
	rpc    *audit.RPCInternet
}

// winEstate builds an estate; policy nil means the default policy.
func winEstate(t testing.TB, hosts []winTestHost, policy []audit.PolicyRule) *audit.Estate {
	t.Helper()
	e := audit.NewEstate()
	for i, th := range hosts {
		h := e.Host(th.name)
		for _, a := range th.addrs {
			h.Addresses = append(h.Addresses, audit.Addr{Addr: netip.MustParseAddr(a)})
		}
		h.Groups, h.OS, h.RPC = th.groups, th.os, th.rpc
		for _, k := range audit.Keys {
			if s, ok := th.ranges[k]; ok {
				r, err := audit.ParseRange(s)
				if err != nil {
					t.Fatal(err)
				}
				h.Ranges = append(h.Ranges, audit.RangeObs{Key: k, Range: r, Origin: audit.Captured,
					Src: audit.Source{File: "captures/" + th.name + "/netsh.txt", Line: 3 + i}})
			}
		}
	}
	if policy != nil {
		e.Policy, e.PolicySet = policy, true
	}
	return e
}

// winInput plans e.
func winInput(e *audit.Estate, opt Options) *Input {
	return &Input{Plan: audit.BuildPlan(e), Estate: e, Inputs: []string{"inventory.yaml"}, Opt: opt}
}

// winPolicy returns one policy rule.
func winPolicy(t testing.TB, name string, from, to []string, services ...string) audit.PolicyRule {
	t.Helper()
	r := audit.PolicyRule{Name: name}
	for _, s := range from {
		sel, err := audit.ParseSelector(s)
		if err != nil {
			t.Fatal(err)
		}
		r.From = append(r.From, sel)
	}
	for _, s := range to {
		sel, err := audit.ParseSelector(s)
		if err != nil {
			t.Fatal(err)
		}
		r.To = append(r.To, sel)
	}
	for _, s := range services {
		svc, err := audit.ParseService(s)
		if err != nil {
			t.Fatal(err)
		}
		r.Services = append(r.Services, svc)
	}
	return r
}

// winExample loads testdata/example.
func winExample(t testing.TB) *audit.Estate {
	t.Helper()
	e, _, err := ingest.Load([]string{"../testdata/example"}, ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// emitString runs the named target.
func emitString(t testing.TB, target string, in *Input) string {
	t.Helper()
	em, err := Lookup(target)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := em.Emit(&b, in); err != nil {
		t.Fatalf("%s: Emit() error: %v", target, err)
	}
	return b.String()
}

// emitHostString runs the named per-host target for one host.
func emitHostString(t testing.TB, target string, in *Input, host string) string {
	t.Helper()
	em, err := Lookup(target)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := em.(PerHost).EmitHost(&b, in, host); err != nil {
		t.Fatalf("%s: EmitHost(%s) error: %v", target, host, err)
	}
	return b.String()
}

// winLines splits CRLF text into lines, failing on a bare LF or CR.
func winLines(t testing.TB, s string) []string {
	t.Helper()
	if !strings.HasSuffix(s, "\r\n") {
		t.Errorf("output does not end with CRLF")
	}
	lines := strings.Split(strings.TrimSuffix(s, "\r\n"), "\r\n")
	for i, l := range lines {
		if strings.ContainsAny(l, "\r\n") {
			t.Errorf("line %d has a bare CR or LF: %q", i+1, l)
		}
	}
	return lines
}

// section returns the lines from the one equal to start up to the first
// one equal to end (both included).
func section(lines []string, start, end string) []string {
	for i, l := range lines {
		if l != start {
			continue
		}
		for j := i; j < len(lines); j++ {
			if lines[j] == end {
				return lines[i : j+1]
			}
		}
	}
	return nil
}

// cmdPercent matches what may follow a % in the files: the one variable
// they read, and the for-loop variables.
var cmdPercent = regexp.MustCompile(`%COMPUTERNAME%|%%[ABN]`)

// checkCmd checks what cmd.exe needs of a generated .cmd file: CRLF line
// ends, no line over cmd.exe's limit, quotes balanced on every line, no %
// but the known variables, no ^ & | < > outside the known constructs and
// quotes, no REM line ending in ^, only ASCII, and a label for every goto.
func checkCmd(t testing.TB, s string) {
	t.Helper()
	lines := winLines(t, s)
	labels := map[string]bool{"eof": true}
	for _, l := range lines {
		if strings.HasPrefix(l, ":") {
			labels[strings.ToLower(l[1:])] = true
		}
	}
	for i, l := range lines {
		n := i + 1
		if len(l) > cmdMaxLine {
			t.Errorf("line %d: %d characters, more than %d", n, len(l), cmdMaxLine)
		}
		for _, c := range l {
			if c < 0x20 || c > 0x7e {
				t.Errorf("line %d: character %q outside printable ASCII", n, c)
			}
		}
		if strings.Count(l, `"`)%2 != 0 {
			t.Errorf("line %d: unbalanced quotes: %s", n, l)
		}
		if strings.Count(cmdPercent.ReplaceAllString(l, ""), "%") != 0 {
			t.Errorf("line %d: stray %%: %s", n, l)
		}
		if strings.HasPrefix(l, "REM") && strings.HasSuffix(l, "^") {
			t.Errorf("line %d: REM line ends in ^ (continues onto the next): %s", n, l)
		}
		// Outside quotes, only these operators appear.
		var outside strings.Builder
		in := false
		for _, c := range l {
			if c == '"' {
				in = !in
				continue
			}
			if !in {
				outside.WriteRune(c)
			}
		}
		o := outside.String()
		for _, ok := range []string{"|| goto rpcspan_failed", ">nul 2>&1", "1>&2"} {
			o = strings.ReplaceAll(o, ok, "")
		}
		if strings.HasPrefix(l, "REM ") || l == netshCleanup {
			// Comments, and the fixed cleanup loop, whose quoting nests.
			o = ""
		}
		if strings.ContainsAny(o, "^&|<>") {
			t.Errorf("line %d: shell operator outside the known constructs: %s", n, l)
		}
		if strings.ContainsAny(o, "()") {
			t.Errorf("line %d: parenthesis outside a REM or quotes: %s", n, l)
		}
		if _, target, ok := strings.Cut(l, "goto "); ok {
			target = strings.TrimPrefix(strings.Fields(target)[0], ":")
			if !labels[strings.ToLower(target)] {
				t.Errorf("line %d: goto %s: no such label", n, target)
			}
		}
	}
}

var winHandful = []winTestHost{
	{name: "DC01", addrs: []string{"10.0.0.1", "fd00::1"}, os: "Windows Server 2019"},
	{name: "FS01", addrs: []string{"10.0.0.2"}, os: "Windows Server 2016", ranges: map[audit.Key]string{audit.TCP4: "50000-50999"}},
	{name: "SMB01", addrs: []string{"10.0.0.3"}, os: "Debian GNU/Linux 12"},
}

func TestNetshHostSection(t *testing.T) {
	in := winInput(winEstate(t, winHandful, nil), Options{})
	tests := []struct {
		name string
		opt  Options
		host string
		want []string
	}{{
		name: "numbers",
		host: "DC01",
		want: []string{
			":rpcspan_host_000001",
			"REM DC01: 4 rules",
			"netsh advfirewall firewall delete rule name=rpcspan-1-rpc-ipv4-epm dir=in >nul 2>&1",
			`netsh advfirewall firewall add rule name=rpcspan-1-rpc-ipv4-epm dir=in action=allow enable=yes profile=any protocol=tcp localport=135 remoteip=10.0.0.1,10.0.0.2/31 description="rpcspan plan rule 1, rpc over IPv4 TCP endpoint mapper, policies: default" || goto rpcspan_failed`,
			"netsh advfirewall firewall delete rule name=rpcspan-2-rpc-ipv4 dir=in >nul 2>&1",
			`netsh advfirewall firewall add rule name=rpcspan-2-rpc-ipv4 dir=in action=allow enable=yes profile=any protocol=tcp localport=49152-65535 remoteip=10.0.0.1,10.0.0.2/31 description="rpcspan plan rule 2, rpc over IPv4 TCP, policies: default" || goto rpcspan_failed`,
			"netsh advfirewall firewall delete rule name=rpcspan-4-rpc-ipv6-epm dir=in >nul 2>&1",
			`netsh advfirewall firewall add rule name=rpcspan-4-rpc-ipv6-epm dir=in action=allow enable=yes profile=any protocol=tcp localport=135 remoteip=fd00::1 description="rpcspan plan rule 4, rpc over IPv6 TCP endpoint mapper, policies: default" || goto rpcspan_failed`,
			"netsh advfirewall firewall delete rule name=rpcspan-5-rpc-ipv6 dir=in >nul 2>&1",
			`netsh advfirewall firewall add rule name=rpcspan-5-rpc-ipv6 dir=in action=allow enable=yes profile=any protocol=tcp localport=49152-65535 remoteip=fd00::1 description="rpcspan plan rule 5, rpc over IPv6 TCP, policies: default" || goto rpcspan_failed`,
			"echo rpcspan: DC01: 4 rules added.",
			"goto :eof",
		},
	}, {
		name: "keywords",
		opt:  Options{WindowsKeywords: true},
		host: "FS01",
		want: []string{
			":rpcspan_host_000002",
			"REM FS01: 2 rules",
			"netsh advfirewall firewall delete rule name=rpcspan-1-rpc-ipv4-epm dir=in >nul 2>&1",
			`netsh advfirewall firewall add rule name=rpcspan-1-rpc-ipv4-epm dir=in action=allow enable=yes profile=any protocol=tcp localport=RPC-EPMap remoteip=10.0.0.1,10.0.0.2/31 description="rpcspan plan rule 1, rpc over IPv4 TCP endpoint mapper, policies: default" || goto rpcspan_failed`,
			"netsh advfirewall firewall delete rule name=rpcspan-3-rpc-ipv4 dir=in >nul 2>&1",
			`netsh advfirewall firewall add rule name=rpcspan-3-rpc-ipv4 dir=in action=allow enable=yes profile=any protocol=tcp localport=RPC remoteip=10.0.0.1,10.0.0.2/31 description="rpcspan plan rule 3, rpc over IPv4 TCP, policies: default" || goto rpcspan_failed`,
			"echo rpcspan: FS01: 2 rules added.",
			"goto :eof",
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in.Opt = tc.opt
			out := emitString(t, "netsh", in)
			checkCmd(t, out)
			got := section(winLines(t, out), tc.want[0], "goto :eof")
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("netsh section of %s (-want +got):\n%s\nwhole output:\n%s", tc.host, diff, out)
			}
		})
	}
}

func TestNetshFile(t *testing.T) {
	in := winInput(winEstate(t, winHandful, nil), Options{})
	out := emitString(t, "netsh", in)
	checkCmd(t, out)
	lines := winLines(t, out)
	if lines[0] != "@echo off" {
		t.Errorf("first line %q, want @echo off", lines[0])
	}
	for _, want := range []string{
		"REM Generated by rpcspan; do not edit: change the inputs and run rpcspan again.",
		"REM Inputs: inventory.yaml",
		"setlocal DisableDelayedExpansion",
		"REM SMB01: skipped, not Windows (Debian GNU/Linux 12): its rules belong in iptables or nftables.",
		`if /I "%COMPUTERNAME%"=="DC01" goto rpcspan_host_000001`,
		`if /I "%COMPUTERNAME%"=="FS01" goto rpcspan_host_000002`,
		"echo rpcspan: no rules for this host; its rpcspan- rules were removed.",
		netshCleanup,
		":rpcspan_failed",
	} {
		if !containsLine(lines, want) {
			t.Errorf("output lacks line %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "SMB01 goto") || strings.Contains(out, `"SMB01"`) {
		t.Errorf("the Samba host got a section:\n%s", out)
	}
	// The cleanup comes before any host's rules, and the jump table
	// before any section.
	cleanup, jump, first := indexOf(lines, "for /f "), indexOf(lines, `if /I "%COMPUTERNAME%"==`), indexOf(lines, ":rpcspan_host_000001")
	if !(cleanup < jump && jump < first) {
		t.Errorf("order: cleanup at %d, jump table at %d, first section at %d", cleanup, jump, first)
	}
	if got, want := (netshEmitter{}).Hosts(in), []string{"DC01", "FS01"}; !cmp.Equal(got, want) {
		t.Errorf("Hosts() = %v, want %v", got, want)
	}
}

func containsLine(lines []string, want string) bool { return indexOf(lines, want) >= 0 }

// indexOf returns the first line starting with prefix, or -1.
func indexOf(lines []string, prefix string) int {
	for i, l := range lines {
		if strings.HasPrefix(l, prefix) {
			return i
		}
	}
	return -1
}

func TestNetshEmitHost(t *testing.T) {
	in := winInput(winEstate(t, winHandful, nil), Options{})
	out := emitHostString(t, "netsh", in, "FS01")
	checkCmd(t, out)
	lines := winLines(t, out)
	for _, want := range []string{
		"REM Run it as administrator on FS01 only.",
		`if /I not "%COMPUTERNAME%"=="FS01" goto rpcspan_wrong_host`,
		"REM FS01: 2 rules",
		":rpcspan_wrong_host",
		"echo rpcspan: this file is for FS01 only; nothing was changed. 1>&2",
	} {
		if !containsLine(lines, want) {
			t.Errorf("output lacks line %q:\n%s", want, out)
		}
	}
	// The host check comes before anything is deleted.
	if g, c := indexOf(lines, "if /I not"), indexOf(lines, "for /f"); g < 0 || g > c {
		t.Errorf("host check at line %d, cleanup at %d", g, c)
	}
	if strings.Contains(out, "rpcspan_host_") || strings.Contains(out, "DC01") {
		t.Errorf("per-host file holds other hosts:\n%s", out)
	}
	var b bytes.Buffer
	for _, host := range []string{"SMB01", "NOPE", `x" & calc & "`} {
		if err := (netshEmitter{}).EmitHost(&b, in, host); err == nil {
			t.Errorf("EmitHost(%q) = nil error, want one", host)
		}
	}
	if (netshEmitter{}).Ext() != ".cmd" {
		t.Errorf("Ext() = %q", (netshEmitter{}).Ext())
	}
}

// hostileNames are policy names that try to break out of a description.
// netshCleanup is the loop that deletes earlier rules.
const netshCleanup = `for /f "tokens=1,* delims=:" %%A in ('netsh advfirewall firewall show rule name^=all dir^=in 2^>nul ^| findstr /R /C:":  *rpcspan-"') do for /f "tokens=1" %%N in ("%%B") do netsh advfirewall firewall delete rule name=%%N dir=in >nul 2>&1`

var hostileNames = []string{
	`x") & calc & ("`,
	`%PATH%`,
	`!PATH!`,
	`a'; Remove-Item C:\ -Recurse; '`,
	"line\nbreak",
	"cr\rreturn",
	`back\`,
	"curly\u2019; Remove-Item C:\\ -Recurse; \u2018",
	"low\u201a high\u201b",
	"caret^",
	"pipe | more > out.txt < in.txt",
	"n\u2011dash \u00e9t\u00e9",
	"tab\there",
}

func hostileEstate(t testing.TB, names []string) *audit.Estate {
	var policy []audit.PolicyRule
	for _, n := range names {
		policy = append(policy, winPolicy(t, n, []string{"group:all"}, []string{"group:all"}, "rpc", "rpc-udp", "tcp/445"))
	}
	return winEstate(t, []winTestHost{
		{name: "DC01", addrs: []string{"10.0.0.1", "fd00::1"}, groups: []string{"all"}},
		{name: "FS01", addrs: []string{"10.0.0.2"}, groups: []string{"all"}},
	}, policy)
}

func TestNetshHostileNames(t *testing.T) {
	e := hostileEstate(t, hostileNames)
	for _, opt := range []Options{{}, {WindowsKeywords: true}} {
		in := winInput(e, opt)
		out := emitString(t, "netsh", in)
		checkCmd(t, out)
		for _, bad := range []string{"%PATH%", "!PATH!", "& calc", `\"`, "\n\n", "| more"} {
			if strings.Contains(out, bad) {
				t.Errorf("output holds %q", bad)
			}
		}
		// Every description is one quoted argument at the end of its line.
		for _, l := range winLines(t, out) {
			if !strings.Contains(l, " add rule ") {
				continue
			}
			_, desc, _ := strings.Cut(l, ` description="`)
			desc, rest, ok := strings.Cut(desc, `"`)
			if !ok || rest != " || goto rpcspan_failed" {
				t.Errorf("description does not end the line: %s", l)
			}
			if strings.ContainsAny(desc, "%!^&|<>\\") {
				t.Errorf("description keeps a special character: %q", desc)
			}
		}
		host := emitHostString(t, "netsh", in, "DC01")
		checkCmd(t, host)
	}
}

func TestCmdSafe(t *testing.T) {
	tests := []struct{ in, want, comment string }{
		{`x") & calc & ("`, `x_) _ calc _ (_`, `x) _ calc _ (`},
		{"%PATH%", "_PATH_", "_PATH_"},
		{"a\r\nb", "a__b", "a__b"},
		{`C:\dir\`, "C:/dir/", `C:\dir\`},
		{"caf\u00e9 \u2019", "caf? ?", "caf? ?"},
		{"^", "_", "_"},
	}
	for _, tc := range tests {
		if got := cmdSafe(tc.in); got != tc.want {
			t.Errorf("cmdSafe(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got := cmdComment(tc.in); got != tc.comment {
			t.Errorf("cmdComment(%q) = %q, want %q", tc.in, got, tc.comment)
		}
	}
}

func TestNetshHostNames(t *testing.T) {
	// A host name that bypassed ingest's validation is refused.
	plan := &audit.Plan{Rules: []audit.Rule{{Family: 4, Proto: "tcp", Service: "rpc", Ports: []audit.PortRange{{First: 135, Last: 135}}, EPM: true,
		Sources: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24")}, DestHosts: []string{`DC01" goto x & "`}, Policies: []string{"p"}}}}
	in := &Input{Plan: plan, Estate: audit.NewEstate()}
	for _, target := range []string{"netsh", "powershell"} {
		em, _ := Lookup(target)
		if err := em.Emit(io.Discard, in); err == nil || !strings.Contains(err.Error(), "only letters, digits") {
			t.Errorf("%s: Emit() error = %v, want a refused host name", target, err)
		}
	}
	// Two hosts that COMPUTERNAME cannot tell apart.
	e := winEstate(t, []winTestHost{
		{name: "dc01.a.example", addrs: []string{"10.0.0.1"}},
		{name: "DC01.b.example", addrs: []string{"10.0.0.2"}},
	}, nil)
	in = winInput(e, Options{})
	for _, target := range []string{"netsh", "powershell"} {
		em, _ := Lookup(target)
		err := em.Emit(io.Discard, in)
		if want := "hosts dc01.a.example and DC01.b.example both have the computer name DC01, which a script cannot tell apart: write one file per host (--out-dir)"; err == nil || err.Error() != want {
			t.Errorf("%s: Emit() error = %v, want %q", target, err, want)
		}
		// One file per host works, and compares the computer name.
		out := emitHostString(t, target, in, "dc01.a.example")
		if !strings.Contains(out, "DC01") {
			t.Errorf("%s: per-host file does not compare DC01:\n%s", target, out)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"dc01", "DC01"}, {"dc01.corp.example", "DC01"}, {"averyveryverylonghostname", "AVERYVERYVERYLO"},
	} {
		if got := computerName(tc.in); got != tc.want {
			t.Errorf("computerName(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestNetshSplit checks that a long remote list is split into parts of at
// most 200 entries, each a rule of its own, and that no line passes
// cmd.exe's limit.
func TestNetshSplit(t *testing.T) {
	var from []string
	for i := range 450 {
		// Every other address, so that no two merge into a prefix.
		from = append(from, fmt.Sprintf("fd00:%x::%x", i, 2*i+1))
	}
	e := winEstate(t, []winTestHost{{name: "DC01", addrs: []string{"fd01::1"}, groups: []string{"dc"}}},
		[]audit.PolicyRule{winPolicy(t, "many", from, []string{"group:dc"}, "rpc")})
	in := winInput(e, Options{})
	out := emitString(t, "netsh", in)
	checkCmd(t, out)
	var names []string
	entries := 0
	for _, l := range winLines(t, out) {
		if !strings.Contains(l, " add rule ") {
			continue
		}
		name := strings.Fields(l)[5]
		names = append(names, strings.TrimPrefix(name, "name="))
		_, rest, _ := strings.Cut(l, "remoteip=")
		list, _, _ := strings.Cut(rest, " ")
		n := len(strings.Split(list, ","))
		if n > winMaxRemote {
			t.Errorf("%s: %d remote entries, more than %d", name, n, winMaxRemote)
		}
		entries += n
	}
	want := []string{"rpcspan-1-rpc-ipv6-epm-part1", "rpcspan-1-rpc-ipv6-epm-part2", "rpcspan-1-rpc-ipv6-epm-part3",
		"rpcspan-2-rpc-ipv6-part1", "rpcspan-2-rpc-ipv6-part2", "rpcspan-2-rpc-ipv6-part3"}
	if !cmp.Equal(names, want) {
		t.Errorf("rule names = %v, want %v", names, want)
	}
	if entries != 2*450 {
		t.Errorf("%d remote entries in all, want %d", entries, 2*450)
	}
	if !strings.Contains(out, `description="rpcspan plan rule 1 part 2 of 3, rpc over IPv6 TCP endpoint mapper, policies: many"`) {
		t.Errorf("part description missing:\n%s", out)
	}
}

// TestNetshLongDescription: many or long policy names are cut, so that a
// description cannot push the command past cmd.exe's limit.
func TestNetshLongDescription(t *testing.T) {
	var policy []audit.PolicyRule
	for i := range 60 {
		policy = append(policy, winPolicy(t, fmt.Sprintf("policy-%02d-%s", i, strings.Repeat("x", 40)), []string{"group:all"}, []string{"group:all"}, "rpc"))
	}
	policy = append(policy, winPolicy(t, strings.Repeat("y", 9000), []string{"group:all"}, []string{"group:all"}, "rpc"))
	e := winEstate(t, []winTestHost{{name: "DC01", addrs: []string{"10.0.0.1"}, groups: []string{"all"}}}, policy)
	for _, target := range []string{"netsh", "powershell"} {
		out := emitString(t, target, winInput(e, Options{}))
		if target == "netsh" {
			checkCmd(t, out)
		} else {
			checkPS(t, out)
		}
		re := regexp.MustCompile(`(?:description="|-Description ')([^"']*)`)
		for _, m := range re.FindAllStringSubmatch(out, -1) {
			if len(m[1]) > winMaxDesc {
				t.Errorf("%s: description of %d characters", target, len(m[1]))
			}
			if !strings.HasSuffix(m[1], " more") {
				t.Errorf("%s: description not cut: %s", target, m[1])
			}
		}
	}
}

func TestChunkRemote(t *testing.T) {
	long := strings.Repeat("a", 2999)
	tests := []struct {
		name string
		in   []string
		want []int // sizes of the chunks
	}{
		{"one", []string{"x"}, []int{1}},
		{"200", make([]string, 200), []int{200}},
		{"201", make([]string, 201), []int{200, 1}},
		// 2999 + 1 + 2999 = 5999 fits; the third would pass 6000.
		{"chars", []string{long, long, long}, []int{2, 1}},
	}
	for _, tc := range tests {
		var got []int
		for _, c := range chunkRemote(tc.in) {
			got = append(got, len(c))
		}
		if !cmp.Equal(got, tc.want) {
			t.Errorf("%s: chunkRemote() sizes = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestWinRemote(t *testing.T) {
	got, err := winRemote([]netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}, 4)
	if want := []string{"0.0.0.0/1", "128.0.0.0/1"}; err != nil || !cmp.Equal(got, want) {
		t.Errorf("winRemote(0.0.0.0/0) = %v, %v, want %v", got, err, want)
	}
	got, err = winRemote([]netip.Prefix{netip.MustParsePrefix("::/0"), netip.MustParsePrefix("fd00::1/128")}, 6)
	if want := []string{"::/1", "8000::/1", "fd00::1"}; err != nil || !cmp.Equal(got, want) {
		t.Errorf("winRemote(::/0) = %v, %v, want %v", got, err, want)
	}
	if _, err := winRemote([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, 6); err == nil {
		t.Errorf("winRemote(10.0.0.0/8, 6) = nil error, want a family mismatch")
	}
}

func TestNetshExplicitServices(t *testing.T) {
	e := winEstate(t, []winTestHost{
		{name: "APP01", addrs: []string{"10.0.2.1"}, groups: []string{"app"}},
		{name: "SQL01", addrs: []string{"10.0.3.1"}, groups: []string{"sql"}},
	}, []audit.PolicyRule{winPolicy(t, "app-sql", []string{"group:app", "192.168.0.0/16"}, []string{"group:sql"}, "rpc-udp", "tcp/1433", "udp/53-60")})
	in := winInput(e, Options{WindowsKeywords: true})
	out := emitString(t, "netsh", in)
	checkCmd(t, out)
	for _, want := range []string{
		// UDP keeps numbers even with --windows-keywords.
		"add rule name=rpcspan-1-tcp-1433-ipv4 dir=in action=allow enable=yes profile=any protocol=tcp localport=1433 remoteip=10.0.2.1,192.168.0.0/16 ",
		"add rule name=rpcspan-2-rpc-udp-ipv4-epm dir=in action=allow enable=yes profile=any protocol=udp localport=135 remoteip=10.0.2.1,192.168.0.0/16 ",
		"add rule name=rpcspan-3-rpc-udp-ipv4 dir=in action=allow enable=yes profile=any protocol=udp localport=49152-65535 remoteip=10.0.2.1,192.168.0.0/16 ",
		"add rule name=rpcspan-4-udp-53-60-ipv4 dir=in action=allow enable=yes profile=any protocol=udp localport=53-60 remoteip=10.0.2.1,192.168.0.0/16 ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "localport=RPC") {
		t.Errorf("keyword used for UDP or an explicit service:\n%s", out)
	}
}

func TestNetshGolden(t *testing.T) {
	e := winExample(t)
	for _, tc := range []struct {
		name string
		opt  Options
	}{{"netsh-example", Options{}}, {"netsh-example-keywords", Options{WindowsKeywords: true}}} {
		t.Run(tc.name, func(t *testing.T) {
			in := winInput(e, tc.opt)
			in.Inputs = []string{"testdata/example"}
			out := emitString(t, "netsh", in)
			checkCmd(t, out)
			golden(t, tc.name, []byte(out))
			if again := emitString(t, "netsh", in); again != out {
				t.Errorf("second run differs")
			}
		})
	}
	in := winInput(e, Options{})
	in.Inputs = []string{"testdata/example"}
	out := emitHostString(t, "netsh", in, "SQL03")
	checkCmd(t, out)
	golden(t, "netsh-example-SQL03", []byte(out))
}

// TestNetshDeterministic emits twice, from two plans of the same estate.
func TestNetshDeterministic(t *testing.T) {
	e := winExample(t)
	for _, target := range []string{"netsh", "powershell", "netsh-dynamicport"} {
		a := emitString(t, target, winInput(e, Options{WindowsKeywords: true}))
		b := emitString(t, target, winInput(e, Options{WindowsKeywords: true}))
		if a != b {
			t.Errorf("%s: two runs differ", target)
		}
	}
}

// TestNetshEmptyPlan: no destinations still gives a valid file that
// removes earlier rules.
func TestNetshEmptyPlan(t *testing.T) {
	in := &Input{Plan: &audit.Plan{}, Estate: audit.NewEstate()}
	out := emitString(t, "netsh", in)
	checkCmd(t, out)
	if !strings.Contains(out, "for /f ") || strings.Contains(out, "add rule") {
		t.Errorf("empty plan:\n%s", out)
	}
	if h := (netshEmitter{}).Hosts(in); len(h) != 0 {
		t.Errorf("Hosts() = %v, want none", h)
	}
}

// winBigEstate returns n hosts on consecutive IPv4 addresses, every fourth
// with an IPv6 address too, over three spans: the planner's 100k estate,
// except that the IPv6 addresses are consecutive as well. (The planner's
// are every fourth address, so that its 25,000 IPv6 sources cannot merge
// into prefixes; a Windows Firewall rule on each IPv6 host would then have
// to list all of them, which no output per host can avoid without
// widening the rules.)
func winBigEstate(n int) *audit.Estate {
	e := audit.NewEstate()
	for i := range n {
		h := e.Host(fmt.Sprintf("H%06d", i))
		h.OS = "Windows Server 2019"
		h.Addresses = []audit.Addr{{Addr: netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})}}
		if i%4 == 0 {
			j := i / 4
			h.Addresses = append(h.Addresses, audit.Addr{Addr: netip.AddrFrom16([16]byte{0: 0xfd, 13: byte(j >> 16), 14: byte(j >> 8), 15: byte(j)})})
		}
		switch i % 3 {
		case 1:
			h.OS = "Windows Server 2003 R2"
		case 2:
			for _, k := range audit.Keys {
				h.Ranges = append(h.Ranges, audit.RangeObs{Key: k, Range: audit.Exchange2007Range, Origin: audit.Declared})
			}
		}
	}
	return e
}

// benchWin emits target for 100,000 hosts with the default (all-to-all)
// policy into io.Discard and reports the output size.
func benchWin(b *testing.B, target string) {
	in := winInput(winBigEstate(100000), Options{})
	em, err := Lookup(target)
	if err != nil {
		b.Fatal(err)
	}
	var cw countWriter
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		cw = 0
		// Count building the per-host index of the plan in every run.
		winIndexCache.Lock()
		winIndexCache.plan = nil
		winIndexCache.Unlock()
		if err := em.Emit(&cw, in); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cw)/1e6, "MB/op")
}

type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) { *c += countWriter(len(p)); return len(p), nil }

// BenchmarkNetsh100k: go test ./emit -run '^$' -bench 'Netsh100k|PowerShell100k|DynamicPort100k' -benchmem
func BenchmarkNetsh100k(b *testing.B) { benchWin(b, "netsh") }

// TestNetshPerHostSize checks that a host's rules do not grow with the
// estate: with all-to-all, each host has its EPM and span rules per family,
// whose sources are a few prefixes.
func TestNetshPerHostSize(t *testing.T) {
	if testing.Short() {
		t.Skip("20,000 hosts")
	}
	in := winInput(winBigEstate(20000), Options{})
	out := emitHostString(t, "netsh", in, "H000004")
	lines := winLines(t, out)
	n := 0
	for _, l := range lines {
		if strings.Contains(l, " add rule ") {
			n++
			if len(l) > 600 {
				t.Errorf("rule line of %d characters: sources are not prefixes: %.200s...", len(l), l)
			}
		}
	}
	if n != 4 {
		t.Errorf("H000004 has %d rules, want 4 (EPM and span, IPv4 and IPv6)", n)
	}
}
