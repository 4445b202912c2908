package templates

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf16"
)

// psScan is what the test tokenizer makes of a PowerShell script: the code
// with comments removed and every string literal replaced by a placeholder,
// plus the values of the single-quoted literals.
type psScan struct {
	code    string   // code only; strings become '' or "", comments spaces
	singles []string // values of '...' literals
	err     string   // why the script could not be scanned
}

// scanPS splits a PowerShell script into code, strings and comments. It
// knows what the collector uses: # and <# #> comments, '...' strings (a
// doubled quote escapes one), "..." strings with ` and "" escapes, and here-strings. Line ends
// are kept in the code, so that positions map to lines.
func scanPS(src string) psScan {
	var out psScan
	var code strings.Builder
	keepLines := func(s string) {
		for _, c := range s {
			if c == '\n' {
				code.WriteByte('\n')
			}
		}
	}
	i := 0
	for i < len(src) {
		c := src[i]
		switch {
		case strings.HasPrefix(src[i:], "<#"):
			end := strings.Index(src[i+2:], "#>")
			if end < 0 {
				out.err = "unterminated <# comment"
				return out
			}
			keepLines(src[i : i+2+end+2])
			code.WriteByte(' ')
			i += 2 + end + 2
		case c == '#':
			end := strings.IndexByte(src[i:], '\n')
			if end < 0 {
				end = len(src) - i
			}
			i += end
		case strings.HasPrefix(src[i:], "@'\n") || strings.HasPrefix(src[i:], "@\"\n"):
			q := src[i+1]
			end := strings.Index(src[i+3:], "\n"+string(q)+"@")
			if end < 0 {
				out.err = "unterminated here-string"
				return out
			}
			keepLines(src[i : i+3+end+3])
			code.WriteString(string(q) + string(q))
			i += 3 + end + 3
		case c == '\'':
			var val strings.Builder
			j := i + 1
			for {
				if j >= len(src) {
					out.err = "unterminated ' string"
					return out
				}
				if src[j] == '\'' {
					if j+1 < len(src) && src[j+1] == '\'' {
						val.WriteByte('\'')
						j += 2
						continue
					}
					break
				}
				val.WriteByte(src[j])
				j++
			}
			out.singles = append(out.singles, val.String())
			keepLines(src[i : j+1])
			code.WriteString("''")
			i = j + 1
		case c == '"':
			j := i + 1
			for {
				if j >= len(src) {
					out.err = "unterminated \" string"
					return out
				}
				if src[j] == '`' {
					j += 2
					continue
				}
				if strings.HasPrefix(src[j:], "$(") {
					// A subexpression may hold quotes of its own, which
					// this scanner does not follow.
					out.err = "a \"...\" string holds a $(...) subexpression; build the text with + instead"
					return out
				}
				if src[j] == '"' {
					if j+1 < len(src) && src[j+1] == '"' {
						j += 2
						continue
					}
					break
				}
				j++
			}
			keepLines(src[i : j+1])
			code.WriteString(`""`)
			i = j + 1
		default:
			code.WriteByte(c)
			i++
		}
	}
	out.code = code.String()
	return out
}

func lineOf(s string, off int) int { return strings.Count(s[:off], "\n") + 1 }

func TestCollectorScans(t *testing.T) {
	if strings.TrimSpace(Collector) == "" {
		t.Fatal("Collector is empty")
	}
	s := scanPS(Collector)
	if s.err != "" {
		t.Fatalf("scanning collector.ps1: %s", s.err)
	}
}

func TestCollectorHelp(t *testing.T) {
	if !strings.HasPrefix(Collector, "<#") {
		t.Errorf("collector.ps1 does not start with its comment-based help block")
	}
	end := strings.Index(Collector, "#>")
	if end < 0 {
		t.Fatal("collector.ps1 has no help block")
	}
	help := Collector[:end]
	for _, want := range []string{
		".SYNOPSIS", ".DESCRIPTION", ".PARAMETER OutFile", ".PARAMETER NoFirewall", ".EXAMPLE", ".NOTES",
		"Invoke-Command -ComputerName (Get-Content servers.txt) -FilePath",
		"UTF-16LE", "-Encoding utf8",
	} {
		if !strings.Contains(help, want) {
			t.Errorf("help block lacks %q", want)
		}
	}
	if n := strings.Count(help, ".EXAMPLE"); n < 2 {
		t.Errorf("help block has %d examples, want a single host and a fan-out one", n)
	}
}

func TestCollectorASCII(t *testing.T) {
	// rpcspan prints the script to a console; a redirection through an
	// OEM code page, or Windows PowerShell reading a file without BOM as
	// ANSI, keeps ASCII intact and nothing else.
	for i, line := range strings.Split(Collector, "\n") {
		for _, c := range line {
			if c > 0x7e || (c < 0x20 && c != '\t' && c != '\r') {
				t.Errorf("collector.ps1:%d: character %q is not printable ASCII", i+1, c)
			}
		}
	}
}

// ps2Violations lists what in the code of src (outside strings and
// comments) is newer than the collector may use: PowerShell 7 operators,
// and the PowerShell 3.0+ constructs the script avoids to run on Windows
// PowerShell 2.0. Each entry is "line: text: why".
func ps2Violations(src string) []string {
	s := scanPS(src)
	if s.err != "" {
		return []string{"scanning: " + s.err}
	}
	var out []string
	// No '?' at all covers ??, ??=, ?. and ?[ (PowerShell 7), the ternary
	// a ? b : c, and the ? alias of Where-Object.
	if i := strings.IndexByte(s.code, '?'); i >= 0 {
		out = append(out, fmt.Sprintf("%d: '?' in code", lineOf(s.code, i)))
	}
	for _, f := range forbidden {
		for _, loc := range f.re.FindAllStringIndex(s.code, -1) {
			out = append(out, fmt.Sprintf("%d: %q: %s", lineOf(s.code, loc[0]), s.code[loc[0]:loc[1]], f.why))
		}
	}
	return out
}

var forbidden = []struct {
	re  *regexp.Regexp
	why string
}{
	{regexp.MustCompile(`&&|\|\|`), "pipeline chain operators are PowerShell 7"},
	{regexp.MustCompile(`(?i)-Parallel\b`), "ForEach-Object -Parallel is PowerShell 7"},
	{regexp.MustCompile(`(?i)-AsArray\b`), "ConvertTo-Json -AsArray is PowerShell 7"},
	{regexp.MustCompile(`(?i)\bJoin-String\b`), "Join-String is PowerShell 7"},
	{regexp.MustCompile(`(?i)\$PSStyle\b`), "$PSStyle is PowerShell 7"},
	{regexp.MustCompile(`(?i)\$Is(Windows|Linux|MacOS|CoreCLR)\b`), "$IsWindows and its kin are PowerShell 6"},
	{regexp.MustCompile(`(?i)-EscapeHandling\b`), "ConvertTo-Json -EscapeHandling is PowerShell 6.2"},
	{regexp.MustCompile(`(?i)-AsHashtable\b`), "ConvertFrom-Json -AsHashtable is PowerShell 6"},
	{regexp.MustCompile(`(?i)-AsByteStream\b`), "-AsByteStream is PowerShell 6"},
	{regexp.MustCompile(`(?i)\butf8(No)?BOM\b`), "utf8BOM and utf8NoBOM encodings are PowerShell 6"},
	{regexp.MustCompile(`(?i)\bclean\s*\{`), "clean blocks are PowerShell 7"},
	{regexp.MustCompile(`(?i)\busing\s+(namespace|module)\b`), "using is PowerShell 5"},
	{regexp.MustCompile(`(?im)^\s*class\s`), "classes are PowerShell 5"},
	{regexp.MustCompile(`(?i)::new\(`), "::new() is PowerShell 5"},
	{regexp.MustCompile(`(?i)\[ordered\]`), "[ordered] is PowerShell 3"},
	{regexp.MustCompile(`(?i)\[pscustomobject\]`), "[pscustomobject] is PowerShell 3"},
	{regexp.MustCompile(`(?i)\$PSItem\b`), "$PSItem is PowerShell 3"},
	{regexp.MustCompile(`(?i)(^|[^\w-])-(not)?in\b`), "-in and -notin are PowerShell 3"},
	{regexp.MustCompile(`(?i)\.(ForEach|Where)\(`), ".ForEach() and .Where() are PowerShell 4"},
	{regexp.MustCompile(`(?i)\$using:`), "$using: is PowerShell 3"},
	{regexp.MustCompile(`(?i)-ErrorAction\s+Ignore\b`), "-ErrorAction Ignore is PowerShell 3"},
	{regexp.MustCompile(`(?i)\$PSScriptRoot\b`), "$PSScriptRoot in scripts is PowerShell 3"},
}

func TestCollectorPS2(t *testing.T) {
	for _, v := range ps2Violations(Collector) {
		t.Errorf("collector.ps1:%s", v)
	}
}

func TestPS2Violations(t *testing.T) {
	tests := []struct {
		src  string
		want int
	}{
		{"$a = $b ?? 1", 1},
		{"$a = $b ? 1 : 2", 1},
		{"$x?.Name", 1},
		{"Get-Item x | ? { $_ }", 1},
		{"a && b", 1},
		{"a || b", 1},
		{"1..3 | ForEach-Object -Parallel { $_ }", 1},
		{"$x | ConvertTo-Json -AsArray", 1},
		{"$h = [ordered]@{}", 1},
		{"$o = [PSCustomObject]@{a = 1}", 1},
		{"if ($a -in $b) {}", 1},
		{"$l.ForEach({ 1 })", 1},
		{"[Text.StringBuilder]::new()", 1},
		{"using namespace System", 1},
		{"if ($IsWindows) {}", 1},
		{"$x | ConvertTo-Json -EscapeHandling EscapeNonAscii", 1},
		{"$s | ConvertFrom-Json -AsHashtable", 1},
		{"Out-File x -Encoding utf8NoBOM", 1},
		{"$a -cnotmatch '[\\x00-\\x1f]'; [switch]$NoFirewall", 0},
		{"'a ?? b && c -in d' # e ? f", 0},
		{"$a -join ','; $b -match 'x'; $c -is [int]", 0},
		{"<# [ordered] #> $x = 1", 0},
	}
	for _, tt := range tests {
		if got := ps2Violations(tt.src); len(got) != tt.want {
			t.Errorf("ps2Violations(%q) = %q, want %d", tt.src, got, tt.want)
		}
	}
}

func TestCollectorBalanced(t *testing.T) {
	s := scanPS(Collector)
	if s.err != "" {
		t.Fatalf("scanning collector.ps1: %s", s.err)
	}
	pair := map[byte]byte{')': '(', '}': '{', ']': '['}
	type open struct {
		c    byte
		line int
	}
	var stack []open
	line := 1
	for i := 0; i < len(s.code); i++ {
		c := s.code[i]
		switch c {
		case '\n':
			line++
		case '(', '{', '[':
			stack = append(stack, open{c, line})
		case ')', '}', ']':
			if len(stack) == 0 || stack[len(stack)-1].c != pair[c] {
				t.Fatalf("collector.ps1:%d: unbalanced %q", line, c)
			}
			stack = stack[:len(stack)-1]
		}
	}
	for _, o := range stack {
		t.Errorf("collector.ps1:%d: %q never closed", o.line, o.c)
	}
}

// TestCollectorOutput checks what the script writes: one ConvertTo-Json call
// with -Depth (Windows PowerShell's default depth of 2 silently flattens
// the excluded lists), no stray output from List.Add, and every key
// audit/ingest.ReadCollector reads.
func TestCollectorOutput(t *testing.T) {
	s := scanPS(Collector)
	if s.err != "" {
		t.Fatalf("scanning collector.ps1: %s", s.err)
	}
	calls := regexp.MustCompile(`(?im)\bConvertTo-Json\b[^\n]*`).FindAllString(s.code, -1)
	var conversions int
	for _, c := range calls {
		if strings.Contains(c, "-ErrorAction") { // Get-Command ConvertTo-Json
			continue
		}
		conversions++
		if !regexp.MustCompile(`(?i)-Depth\s+\d+`).MatchString(c) {
			t.Errorf("ConvertTo-Json call %q has no -Depth", c)
		}
	}
	if conversions == 0 {
		t.Error("collector.ps1 never calls ConvertTo-Json")
	}
	for _, loc := range regexp.MustCompile(`\.Add\(`).FindAllStringIndex(s.code, -1) {
		start := strings.LastIndexByte(s.code[:loc[0]], '\n') + 1
		if !strings.Contains(s.code[start:loc[0]], "[void]") {
			t.Errorf("collector.ps1:%d: .Add( without [void] writes the new index to the output", lineOf(s.code, loc[0]))
		}
	}
	keys := []string{
		"rpcspan_collector", "host", "fqdn", "os", "addresses", "dynamic", "excluded", "rpc_internet", "errors",
		"tcp4", "udp4", "tcp6", "udp6",
		"start", "count", "end", "administered",
		"present", "ports", "ports_type", "ports_internet_available", "use_internet_ports",
		"firewall_rules", "firewall_profiles",
		"REG_MULTI_SZ", "REG_SZ",
	}
	for _, k := range keys {
		if !slices.Contains(s.singles, k) {
			t.Errorf("collector.ps1 never writes the key '%s'", k)
		}
	}
	if !strings.Contains(Collector, "$report['rpcspan_collector'] = 1") {
		t.Error("collector.ps1 does not write \"rpcspan_collector\": 1")
	}
}

func TestScanPS(t *testing.T) {
	tests := []struct {
		name, src, code string
		singles         []string
		err             bool
	}{
		{"comment", "a # b ? c\nd", "a \nd", nil, false},
		{"block comment", "<# ? \n #> x", "\n  x", nil, false},
		{"single", `x 'it''s ?' y`, `x '' y`, []string{"it's ?"}, false},
		{"double", "x \"a `\" \"\" ?\" y", `x "" y`, nil, false},
		{"here-string", "x @'\n?\n'@ y", "x \n\n'' y", nil, false},
		{"hash in string", `'#' + 1`, `'' + 1`, []string{"#"}, false},
		{"unterminated", `'abc`, "", nil, true},
		{"subexpression", `"$(1)"`, "", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := scanPS(tt.src)
			if (got.err != "") != tt.err {
				t.Fatalf("scanPS(%q) error %q, want error %v", tt.src, got.err, tt.err)
			}
			if tt.err {
				return
			}
			if got.code != tt.code || !slices.Equal(got.singles, tt.singles) {
				t.Errorf("scanPS(%q) = %q %q, want %q %q", tt.src, got.code, got.singles, tt.code, tt.singles)
			}
		})
	}
}

// TestCollectorFirewall checks how the script gathers the firewall rules
// and profile settings: the read-only netsh listing with the verbose
// fields rpcspan needs, the "nothing to list" text netsh exits 1 with,
// "netsh advfirewall show allprofiles", and the -NoFirewall switch that
// leaves both keys out.
func TestCollectorFirewall(t *testing.T) {
	s := scanPS(Collector)
	if s.err != "" {
		t.Fatalf("scanning collector.ps1: %s", s.err)
	}
	if !regexp.MustCompile(`(?is)\bparam\(\s*\[string\]\$OutFile,\s*\[switch\]\$NoFirewall\s*\)`).MatchString(s.code) {
		t.Error("collector.ps1 has no [switch]$NoFirewall parameter after $OutFile")
	}
	for _, args := range [][]string{
		{"advfirewall", "firewall", "show", "rule", "name=all", "dir=in", "verbose"},
		{"advfirewall", "show", "allprofiles"},
	} {
		if !slices.ContainsFunc(indexes(s.singles, args[0]), func(i int) bool {
			return slices.Equal(s.singles[i:min(i+len(args), len(s.singles))], args)
		}) {
			t.Errorf("collector.ps1 does not run netsh %s", strings.Join(args, " "))
		}
	}
	for _, want := range []string{"No rules match", "netsh advfirewall firewall show rule name=all dir=in verbose", "netsh advfirewall show allprofiles"} {
		if !slices.Contains(s.singles, want) {
			t.Errorf("collector.ps1 lacks '%s'", want)
		}
	}
	// Every line that writes either key is guarded by the switch, and
	// so is every line that runs netsh advfirewall for it.
	lines := strings.Split(s.code, "\n")
	for _, v := range []string{"$firewall", "$fwProfiles"} {
		writes, runs := 0, 0
		for i, l := range lines {
			write := strings.Contains(l, "$report[''] = "+v)
			run := strings.HasPrefix(strings.TrimSpace(l), v+" = Get-")
			if !write && !run {
				continue
			}
			if write {
				writes++
			} else {
				runs++
			}
			guard := i - 1
			if run {
				guard = i - 2 // inside try {
			}
			if guard < 0 || !strings.Contains(lines[guard], "if (-not $NoFirewall)") {
				t.Errorf("collector.ps1:%d: %s set without the -NoFirewall check before it", i+1, v)
			}
		}
		if writes != 1 || runs != 1 {
			t.Errorf("collector.ps1 writes %s into the report %d times and sets it %d times, want once each", v, writes, runs)
		}
	}
	// No other netsh verb than show: the script only reads.
	for _, v := range s.singles {
		if slices.Contains([]string{"set", "add", "delete", "reset", "import"}, strings.ToLower(v)) {
			t.Errorf("collector.ps1 passes %q to a command; it must only read", v)
		}
	}
}

// indexes returns the indexes of v in s.
func indexes(s []string, v string) []int {
	var out []int
	for i, x := range s {
		if x == v {
			out = append(out, i)
		}
	}
	return out
}

// psFormatJSONString runs the collector's Format-JsonString (the JSON
// writer for Windows PowerShell 2.0) as the script has it: its pattern for
// strings taken whole and its escapes are read from the script, so that a
// change there is tested here. The string is walked in UTF-16 units, as
// .NET's ToCharArray does.
func psFormatJSONString(t *testing.T, text string) string {
	t.Helper()
	start := strings.Index(Collector, "function Format-JsonString {")
	end := strings.Index(Collector[start:], "\n}\n")
	if start < 0 || end < 0 {
		t.Fatal("collector.ps1 has no function Format-JsonString")
	}
	body := Collector[start : start+end]
	m := regexp.MustCompile(`\$Text -cnotmatch '([^']*)'`).FindStringSubmatch(body)
	if m == nil {
		t.Fatal("Format-JsonString has no -cnotmatch fast path")
	}
	// .NET's \uXXXX is Go's \x{XXXX}.
	pattern := regexp.MustCompile(`\\u([0-9a-fA-F]{4})`).ReplaceAllString(m[1], `\x{$1}`)
	special := regexp.MustCompile(pattern)
	escapes := map[int]string{}
	for _, e := range regexp.MustCompile(`\$code -eq (\d+)\) \{\s*\[void\]\$sb\.Append\('([^']*)'\)`).FindAllStringSubmatch(body, -1) {
		n, _ := strconv.Atoi(e[1])
		escapes[n] = e[2]
	}
	r := regexp.MustCompile(`\$code -lt (\d+) -or \$code -gt (\d+)\) \{\s*\[void\]\$sb\.Append\(\('\\u\{0:x4\}' -f \$code\)\)`).FindStringSubmatch(body)
	if r == nil {
		t.Fatal("Format-JsonString has no \\u escape for control characters and non-ASCII")
	}
	lt, _ := strconv.Atoi(r[1])
	gt, _ := strconv.Atoi(r[2])
	units := utf16.Encode([]rune(text))
	whole := true
	for _, u := range units {
		// A surrogate becomes U+FFFD, which lies in the same class.
		if special.MatchString(string(rune(u))) {
			whole = false
		}
	}
	if whole {
		return `"` + text + `"`
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, u := range units {
		code := int(u)
		if e, ok := escapes[code]; ok {
			b.WriteString(e)
		} else if code < lt || code > gt {
			fmt.Fprintf(&b, `\u%04x`, code)
		} else {
			b.WriteRune(rune(u))
		}
	}
	b.WriteByte('"')
	return b.String()
}

func TestCollectorFormatJSONString(t *testing.T) {
	tests := []string{
		"",
		"Rule Name:                            RPC endpoint mapper",
		`Program:                              C:\Windows\System32\svchost.exe`,
		`Description:                          say "hi"	tab`,
		"\x00\x01\b\f\n\r\x1f\x7f",
		"Règle de pare-feu : activé ✓ 😀",
		`\\server\share\"quoted"\`,
	}
	for _, in := range tests {
		got := psFormatJSONString(t, in)
		var back string
		if err := json.Unmarshal([]byte(got), &back); err != nil || back != in {
			t.Errorf("Format-JsonString(%q) = %s, which JSON reads as %q (%v)", in, got, back, err)
		}
		for _, c := range got {
			if c < 0x20 || c > 0x7e {
				t.Errorf("Format-JsonString(%q) = %s, not printable ASCII", in, got)
				break
			}
		}
	}
}
