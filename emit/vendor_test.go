package emit

import (
	"bytes"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/rpcspan/rpcspan/audit"
	"github.com/rpcspan/rpcspan/audit/ingest"
	"github.com/rpcspan/rpcspan/templates"
)

// vendorTargets are the shipped vendor targets, in the order of the specs.
var vendorTargets = []string{"cisco-asa", "cisco-ios", "juniper-srx", "paloalto", "fortigate"}

var (
	vendorExampleOnce sync.Once
	vendorExampleEst  *audit.Estate
	vendorExampleErr  error
)

// vendorExample returns an Input for the bundled example estate.
func vendorExample(t testing.TB) *Input {
	t.Helper()
	vendorExampleOnce.Do(func() {
		vendorExampleEst, _, vendorExampleErr = ingest.Load([]string{"../testdata/example"}, ingest.Options{})
	})
	if vendorExampleErr != nil {
		t.Fatalf("loading the example estate: %v", vendorExampleErr)
	}
	return &Input{Plan: audit.BuildPlan(vendorExampleEst), Estate: vendorExampleEst, Inputs: []string{"testdata/example"}}
}

// vendorEmit renders in with a vendor target and options.
func vendorEmit(t testing.TB, target string, opt VendorOptions, in *Input) string {
	t.Helper()
	e, err := Lookup(target)
	if err != nil {
		t.Fatal(err)
	}
	e, err = WithVendorOptions(e, opt)
	if err != nil {
		t.Fatalf("%s: %v", target, err)
	}
	var b bytes.Buffer
	if err := e.Emit(&b, in); err != nil {
		t.Fatalf("%s Emit: %v", target, err)
	}
	return b.String()
}

// vendorHost adds a host with addresses and groups; an OS gives it the
// range Windows would use.
func vendorHost(e *audit.Estate, name, os string, groups []string, addrs ...string) {
	h := e.Host(name)
	h.OS = os
	h.Groups = append(h.Groups, groups...)
	for _, a := range addrs {
		h.Addresses = append(h.Addresses, audit.Addr{Addr: netip.MustParseAddr(a)})
	}
}

// vendorPolicy adds a policy rule from selector and service strings.
func vendorPolicy(t testing.TB, e *audit.Estate, name string, from, to, services []string) {
	t.Helper()
	pr := audit.PolicyRule{Name: name}
	sel := func(s string) audit.Selector {
		if kind, name, ok := strings.Cut(s, ":"); ok && (kind == "group" || kind == "host") {
			// Taken as written, so that hostile names get through.
			return audit.Selector{Kind: audit.SelectorKind(kind), Name: name}
		}
		v, err := audit.ParseSelector(s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, s := range from {
		pr.From = append(pr.From, sel(s))
	}
	for _, s := range to {
		pr.To = append(pr.To, sel(s))
	}
	for _, s := range services {
		svc, err := audit.ParseService(s)
		if err != nil {
			t.Fatal(err)
		}
		pr.Services = append(pr.Services, svc)
	}
	e.Policy = append(e.Policy, pr)
	e.PolicySet = true
}

// vendorServers returns an estate of n Windows Server 2019 hosts in group
// "srv" that two client /16s may open rpc on, the policy of the Aerleon
// comparison. With spread, no two addresses are adjacent, so nothing
// merges: one prefix per server, the worst case.
func vendorServers(t testing.TB, n int, spread bool) *audit.Estate {
	e := audit.NewEstate()
	for i := range n {
		step := 1
		if spread {
			step = 2
		}
		v := uint32(172<<24|16<<16) + uint32(1+i*step)
		a := netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
		vendorHost(e, fmt.Sprintf("SRV%06d", i), "Windows Server 2019", []string{"srv"}, a.String())
	}
	vendorPolicy(t, e, "allow-msrpc", []string{"10.10.0.0/16", "10.20.0.0/16"}, []string{"group:srv"}, []string{"rpc"})
	return e
}

func TestVendorGolden(t *testing.T) {
	in := vendorExample(t)
	for _, target := range vendorTargets {
		t.Run(target, func(t *testing.T) {
			out := vendorEmit(t, target, VendorOptions{}, in)
			golden(t, "vendor-"+target, []byte(out))
			for _, e := range checkStructure(vendorGrammars[target], out) {
				t.Error(e)
			}
		})
	}
	for _, target := range []string{"juniper-srx", "paloalto"} {
		t.Run(target+"-gateway", func(t *testing.T) {
			out := vendorEmit(t, target, VendorOptions{Gateway: true}, in)
			golden(t, "vendor-"+target+"-gateway", []byte(out))
			for _, e := range checkStructure(vendorGrammars[target], out) {
				t.Error(e)
			}
		})
	}
	t.Run("options", func(t *testing.T) {
		opt := VendorOptions{ACL: "INSIDE_IN", ACL6: "INSIDE6_IN", Interface: "GigabitEthernet0/0/1", Prefix: "RS_", FromZone: "servers", ToZone: "dc"}
		for _, target := range vendorTargets {
			out := vendorEmit(t, target, opt, in)
			for _, e := range checkStructure(vendorGrammars[target], out) {
				t.Errorf("%s: %s", target, e)
			}
		}
		golden(t, "vendor-cisco-ios-options", []byte(vendorEmit(t, "cisco-ios", opt, in)))
	})
}

func TestVendorDeterministic(t *testing.T) {
	in := vendorExample(t)
	for _, target := range vendorTargets {
		a, b := vendorEmit(t, target, VendorOptions{}, in), vendorEmit(t, target, VendorOptions{}, vendorExample(t))
		if a != b {
			t.Errorf("%s: two runs on the same input differ", target)
		}
	}
}

// TestVendorSize checks that output grows with distinct objects: 1,000
// servers sharing one span give one statement plus one address entry per
// merged prefix, whether the addresses merge or not.
func TestVendorSize(t *testing.T) {
	for _, spread := range []bool{false, true} {
		e := vendorServers(t, 1000, spread)
		in := &Input{Plan: audit.BuildPlan(e), Estate: e}
		prefixes := 0
		for _, r := range in.Plan.Rules {
			if !r.EPM {
				prefixes = len(r.Sources) + len(r.Destinations)
			}
		}
		// Statements (ACL entries or policies) and address entries per
		// vendor, as line patterns.
		counts := []struct {
			target           string
			statement, entry string
		}{
			{"cisco-asa", `^access-list \S+ extended `, `^ network-object `},
			{"cisco-ios", `^ permit `, `^ (host |\d)`},
			{"juniper-srx", `^set security policies .* then permit$`, `^set security address-book global address `},
			{"paloalto", `^set rulebase security rules \S+ from `, `^set address `},
			{"fortigate", `^    edit 0$`, `^        set (subnet|ip6) `},
		}
		for _, c := range counts {
			out := vendorEmit(t, c.target, VendorOptions{}, in)
			st := len(regexp.MustCompile(`(?m)`+c.statement).FindAllString(out, -1))
			en := len(regexp.MustCompile(`(?m)`+c.entry).FindAllString(out, -1))
			lines := strings.Count(out, "\n")
			t.Logf("%s spread=%v: %d lines, %d statements, %d address entries for %d prefixes", c.target, spread, lines, st, en, prefixes)
			if st != 1 {
				t.Errorf("%s spread=%v: %d statements, want 1", c.target, spread, st)
			}
			if en != prefixes {
				t.Errorf("%s spread=%v: %d address entries, want one per merged prefix (%d)", c.target, spread, en, prefixes)
			}
			// FortiGate writes three lines per address (edit, set, next).
			if lines > prefixes*3+60 {
				t.Errorf("%s spread=%v: %d lines for %d prefixes", c.target, spread, lines, prefixes)
			}
		}
	}
}

// TestVendorASASize10k holds the bound: ASA for 10,000 servers in
// at most a third of the 40,008 lines Aerleon writes.
func TestVendorASASize10k(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 hosts")
	}
	e := vendorServers(t, 10000, true)
	out := vendorEmit(t, "cisco-asa", VendorOptions{}, &Input{Plan: audit.BuildPlan(e), Estate: e})
	if n := strings.Count(out, "\n"); n > 40008/3 {
		t.Errorf("ASA for 10,000 servers: %d lines, want at most %d", n, 40008/3)
	}
}

// vendorHostileEstate is an estate whose names and comments carry quotes, line
// breaks, vendor keywords and statements, as an estate built in code (not
// checked by ingest) may.
func vendorHostileEstate(t testing.TB) *audit.Estate {
	e := audit.NewEstate()
	bad := []string{
		"DC01\"; permit ip any any",
		"EVIL\nset security policies from-zone untrust to-zone trust policy x then permit",
		"any",
		"end",
		"next\r\nconfig system admin",
		"über-host\u2028x",
		"'; delete rulebase security rules x; '",
		strings.Repeat("L", 300),
		"a\\\"b`c$(reboot)",
	}
	for i, n := range bad {
		groups := []string{"evil\"\nend", "all"}
		vendorHost(e, n, "Windows Server 2019", groups, fmt.Sprintf("10.9.%d.1", i), fmt.Sprintf("fd00:9:%d::1", i))
	}
	vendorHost(e, "OK01", "Windows Server 2003", []string{"legacy"}, "10.9.99.1")
	vendorPolicy(t, e, "p1\" description \"x", []string{"group:all"}, []string{"group:evil\"\nend"}, []string{"rpc", "tcp/445"})
	vendorPolicy(t, e, "p2\nconfig system admin\nedit admin", []string{"host:any", "10.0.0.0/8"}, []string{"host:OK01", "host:end"}, []string{"rpc", "rpc-udp"})
	vendorPolicy(t, e, "any", []string{"group:legacy"}, []string{"group:all"}, []string{"rpc"})
	vendorPolicy(t, e, "", []string{"fd00::/16"}, []string{"group:all"}, []string{"rpc"})
	vendorPolicy(t, e, strings.Repeat("policy-", 40), []string{"group:legacy"}, []string{"host:OK01"}, []string{"udp/5000-5100"})
	return e
}

// TestVendorInjection renders the hostile estate with every target: every
// line must still be a statement of the vendor's grammar, so no name or
// comment can have added one, and the hostile text appears only made
// safe.
func TestVendorInjection(t *testing.T) {
	e := vendorHostileEstate(t)
	in := &Input{Plan: audit.BuildPlan(e), Estate: e, Inputs: []string{"in\nend", `x"y`}}
	if len(in.Plan.Rules) < 5 {
		t.Fatalf("hostile plan has %d rules, want several", len(in.Plan.Rules))
	}
	for _, target := range vendorTargets {
		for _, gw := range []bool{false, true} {
			spec, _ := specForTest(target)
			if gw && spec.gateway == nil {
				continue
			}
			out := vendorEmit(t, target, VendorOptions{Gateway: gw}, in)
			for _, err := range checkStructure(vendorGrammars[target], out) {
				t.Errorf("%s gateway=%v: %s", target, gw, err)
			}
			for _, bad := range []string{"\r", "\u2028", "ü", "config system admin\n", "permit ip any any\n"} {
				if strings.Contains(out, bad) {
					t.Errorf("%s: output holds %q", target, bad)
				}
			}
			if !strings.Contains(out, "policy p1_ description _x") {
				t.Errorf("%s: the policy name with quotes is not in the output made safe", target)
			}
		}
	}
	// A user template gets the same safe strings.
	path := filepath.Join(t.TempDir(), "t.tmpl")
	if err := os.WriteFile(path, []byte("{{range .Rules}}{{.Name}} {{quote .Comment}}\n{{end}}{{range .Hosts}}{{.Name}}\n{{end}}"), 0o644); err != nil {
		t.Fatal(err)
	}
	em, err := TemplateTarget(path)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := em.Emit(&b, in); err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n") {
		if !regexp.MustCompile(`^([A-Za-z][A-Za-z0-9_.-]* "[^"\\]*"|[ -~]+)$`).MatchString(l) {
			t.Errorf("template line %d is not one safe line: %q", i+1, l)
		}
	}
}

// specForTest returns the spec of a target.
func specForTest(target string) (vendorSpec, bool) {
	for _, s := range vendorSpecs {
		if s.target == target {
			return s, true
		}
	}
	return vendorSpec{}, false
}

func TestVendorOptionsRefused(t *testing.T) {
	tests := []struct {
		target string
		opt    VendorOptions
		want   string
	}{
		{"cisco-asa", VendorOptions{ACL: "in side"}, `ACL name "in side": may hold only letters, digits and _ . - / :`},
		{"cisco-asa", VendorOptions{ACL: "x\npermit ip any any"}, `ACL name "x\npermit ip any any": may hold only letters, digits and _ . - / :`},
		{"cisco-ios", VendorOptions{ACL6: "101"}, `IPv6 ACL name "101": must start with a letter`},
		{"cisco-asa", VendorOptions{ACL: "any"}, `ACL name "any": is a reserved word`},
		{"juniper-srx", VendorOptions{FromZone: `trust" then permit`}, `from-zone "trust\" then permit": may hold only letters, digits and _ . - / :`},
		{"fortigate", VendorOptions{ToZone: strings.Repeat("z", 64)}, `to-zone "` + strings.Repeat("z", 64) + `": longer than 63 characters`},
		{"cisco-asa", VendorOptions{Interface: "outside;reload"}, `interface "outside;reload": may hold only letters, digits and _ . - / :`},
		{"paloalto", VendorOptions{Prefix: "rs/"}, `object name prefix "rs/": may hold only letters, digits and _ . -`},
		{"paloalto", VendorOptions{Prefix: "1rs"}, `object name prefix "1rs": must start with a letter`},
		{"cisco-asa", VendorOptions{Gateway: true}, `Cisco ASA has no MS-RPC application gateway rpcspan can use (Junos and PAN-OS have); leave out the gateway option`},
		{"fortigate", VendorOptions{Gateway: true}, `FortiGate has no MS-RPC application gateway rpcspan can use (Junos and PAN-OS have); leave out the gateway option`},
	}
	for _, tt := range tests {
		e, _ := Lookup(tt.target)
		_, err := WithVendorOptions(e, tt.opt)
		if err == nil || err.Error() != tt.want {
			t.Errorf("WithVendorOptions(%s, %+v) = %v, want %q", tt.target, tt.opt, err, tt.want)
		}
		// Emit refuses them too, for callers that skip the check.
		var b bytes.Buffer
		if err := e.(*VendorEmitter).With(tt.opt).Emit(&b, vendorExample(t)); err == nil || err.Error() != tt.want || b.Len() != 0 {
			t.Errorf("Emit(%s, %+v) = %v with %d bytes, want %q and nothing", tt.target, tt.opt, err, b.Len(), tt.want)
		}
	}
	// Not a vendor target: the options do not apply.
	if e, err := WithVendorOptions(vendorFakeEmitter{}, VendorOptions{ACL: "in side"}); err != nil || e != (vendorFakeEmitter{}) {
		t.Errorf("WithVendorOptions(non-vendor) = %v, %v", e, err)
	}
}

type vendorFakeEmitter struct{}

func (vendorFakeEmitter) Emit(io.Writer, *Input) error { return nil }

func TestVendorGateway(t *testing.T) {
	in := vendorExample(t)
	srx := vendorEmit(t, "juniper-srx", VendorOptions{Gateway: true}, in)
	for _, want := range []string{"match application junos-ms-rpc-tcp", "match application junos-ms-rpc-udp", "# MS-RPC gateway:", "match application rpcspan-tcp-1433"} {
		if !strings.Contains(srx, want) {
			t.Errorf("juniper-srx with the gateway lacks %q", want)
		}
	}
	if strings.Contains(srx, "49152-65535") {
		t.Error("juniper-srx with the gateway still writes the span 49152-65535")
	}
	pan := vendorEmit(t, "paloalto", VendorOptions{Gateway: true}, in)
	if !strings.Contains(pan, "application msrpc service application-default") || strings.Contains(pan, "49152-65535") {
		t.Error("paloalto with the gateway: want application msrpc and no written span")
	}
}

func TestNamer(t *testing.T) {
	n := newNamer("rpcspan-", 0)
	tests := []struct {
		base string
		max  int
		want string
	}{
		{"dc", 63, "rpcspan-dc"},
		{"dc", 63, "rpcspan-dc-2"},
		{"DC", 63, "rpcspan-DC-3"}, // unique regardless of case
		{"a b\"c\nd", 63, "rpcspan-a_b_c_d"},
		{"über", 63, "rpcspan-_ber"},
		{strings.Repeat("x", 100), 20, "rpcspan-xxxxxxxxxxxx"},
		{strings.Repeat("x", 100), 20, "rpcspan-xxxxxxxxxx-2"},
	}
	for _, tt := range tests {
		if got := n.name(tt.base, tt.max); got != tt.want {
			t.Errorf("name(%q, %d) = %q, want %q", tt.base, tt.max, got, tt.want)
		}
	}
	bare := newNamer("", 0)
	for _, tt := range []struct{ base, want string }{
		{"any", "any_"}, {"10.0.0.0_8", "n10.0.0.0_8"}, {"", "obj"}, {"\"\"", "obj-2"}, {"-x-", "n-x-"},
	} {
		if got := bare.name(tt.base, 63); got != tt.want {
			t.Errorf("bare name(%q) = %q, want %q", tt.base, got, tt.want)
		}
	}
}

func TestVendorText(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want string
	}{
		{"plain text", 100, "plain text"},
		{"a\nb\r\nc", 100, "a?b??c"},
		{`say "hi" and 'bye' \ ` + "`x`", 100, "say _hi_ and _bye_ _ _x_"},
		{"  many   spaces\t ", 100, "many spaces"},
		{"ü\u2028", 100, "??"},
		{strings.Repeat("a", 50), 10, "aaaaaaa..."},
	}
	for _, tt := range tests {
		if got := vendorText(tt.in, tt.max); got != tt.want {
			t.Errorf("vendorText(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
		}
	}
}

func TestTemplateTarget(t *testing.T) {
	in := vendorExample(t)
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// The shipped example template, as a user would start from it.
	text, err := templates.VendorTemplate("example")
	if err != nil {
		t.Fatal(err)
	}
	em, err := TemplateTarget(write("example.tmpl", text))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := em.Emit(&b, in); err != nil {
		t.Fatal(err)
	}
	golden(t, "vendor-template-example", b.Bytes())

	// Every helper.
	p := write("funcs.tmpl", `{{join "," (list)}}|{{mask "10.0.0.0/22"}}|{{wildcard "10.0.0.0/22"}}|{{addr "10.1.2.0/24"}}|{{bits "10.1.2.0/24"}}|{{upper "ab"}}|{{lower "AB"}}|{{quote "a\"b\nc"}}|{{join "+" (index .Rules 0).Ports}}`)
	if _, err := TemplateTarget(p); err == nil || !strings.Contains(err.Error(), p+":1:") || !strings.Contains(err.Error(), `function "list" not defined`) {
		t.Errorf("TemplateTarget with an unknown function = %v, want the file, line 1 and the function", err)
	}
	p = write("funcs.tmpl", `{{join "," (index .Rules 0).Sources}}|{{mask "10.0.0.0/22"}}|{{wildcard "10.0.0.0/22"}}|{{addr "10.1.2.0/24"}}|{{bits "10.1.2.0/24"}}|{{upper "ab"}}|{{lower "AB"}}|{{quote "a\"b\nc"}}|{{join "+" (index .Rules 0).Ports}}`)
	em, err = TemplateTarget(p)
	if err != nil {
		t.Fatal(err)
	}
	b.Reset()
	if err := em.Emit(&b, in); err != nil {
		t.Fatal(err)
	}
	want := in.Plan.Rules[0].Sources[0].String()
	if got := b.String(); !strings.HasPrefix(got, want) || !strings.HasSuffix(got, `|255.255.252.0|0.0.3.255|10.1.2.0|24|AB|ab|"a_b?c"|135+49152-65535`) {
		t.Errorf("helpers gave %q", got)
	}

	// Errors name the file and the line.
	for _, tt := range []struct{ name, text, want string }{
		{"parse.tmpl", "line one\n{{range .Rules}}\n", "parse.tmpl:3: unexpected EOF"},
		{"field.tmpl", "ok\n\n{{.Nope}}", `field.tmpl:3:2: executing "` + filepath.Join(dir, "field.tmpl") + `" at <.Nope>: can't evaluate field Nope`},
		{"mask6.tmpl", "{{range .Rules}}{{if .IPv6}}{{mask (index .Sources 0)}}{{end}}{{end}}", "mask6.tmpl:1:"},
	} {
		p := write(tt.name, tt.text)
		em, err := TemplateTarget(p)
		if err == nil {
			err = em.Emit(&b, in)
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want it to contain %q", tt.name, err, tt.want)
		}
	}
	if _, err := TemplateTarget(filepath.Join(dir, "missing.tmpl")); err == nil || !strings.Contains(err.Error(), "missing.tmpl") {
		t.Errorf("TemplateTarget(missing) = %v, want an error naming the file", err)
	}
}

// TestShippedTemplates checks that every shipped template parses, has its
// one-line description, and that each vendor target has one.
func TestShippedTemplates(t *testing.T) {
	names := templates.VendorNames()
	for _, target := range vendorTargets {
		if !strings.Contains(" "+strings.Join(names, " ")+" ", " "+target+" ") {
			t.Errorf("no shipped template for %s in %v", target, names)
		}
	}
	for _, n := range names {
		text, err := templates.VendorTemplate(n)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(text, "{{/* "+n+": ") {
			t.Errorf("%s.tmpl does not start with its description comment", n)
		}
		if _, err := parseVendorTemplate(n+".tmpl", text); err != nil {
			t.Error(err)
		}
	}
	if _, err := templates.VendorTemplate("../collector.ps1"); err == nil {
		t.Error("VendorTemplate reads outside vendor/")
	}
}

func TestVendorEmptyPlan(t *testing.T) {
	for _, target := range vendorTargets {
		out := vendorEmit(t, target, VendorOptions{}, &Input{Plan: &audit.Plan{}, Estate: audit.NewEstate()})
		for _, e := range checkStructure(vendorGrammars[target], out) {
			t.Errorf("%s: %s", target, e)
		}
	}
}

// vendorBench returns an Input of n spread servers, planned once.
func vendorBench(b *testing.B, n int) *Input {
	e := vendorServers(b, n, true)
	return &Input{Plan: audit.BuildPlan(e), Estate: e}
}

// BenchmarkVendorASA10k is the Aerleon comparison: 10,000 servers, two
// client /16s, TCP 135 and 49152-65535. "plan" includes planning from the
// estate; "emit" renders a plan made before.
//
//	go test ./emit -run '^$' -bench VendorASA10k -benchmem
func BenchmarkVendorASA10k(b *testing.B) {
	e := vendorServers(b, 10000, true)
	asa, _ := Lookup("cisco-asa")
	b.Run("plan+emit", func(b *testing.B) {
		var out bytes.Buffer
		for b.Loop() {
			out.Reset()
			if err := asa.Emit(&out, &Input{Plan: audit.BuildPlan(e), Estate: e}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(bytes.Count(out.Bytes(), []byte("\n"))), "lines")
	})
	b.Run("emit", func(b *testing.B) {
		in := &Input{Plan: audit.BuildPlan(e), Estate: e}
		var out bytes.Buffer
		for b.Loop() {
			out.Reset()
			if err := asa.Emit(&out, in); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(bytes.Count(out.Bytes(), []byte("\n"))), "lines")
	})
}

// BenchmarkVendor100k renders 100,000 spread servers (one prefix each)
// with every vendor target, the plan made before; "plan" is planning
// alone, for the sum.
//
//	go test ./emit -run '^$' -bench Vendor100k -benchtime 3x -benchmem
func BenchmarkVendor100k(b *testing.B) {
	in := vendorBench(b, 100000)
	b.Run("plan", func(b *testing.B) {
		for b.Loop() {
			audit.BuildPlan(in.Estate)
		}
	})
	for _, target := range vendorTargets {
		b.Run(target, func(b *testing.B) {
			em, _ := Lookup(target)
			var out bytes.Buffer
			for b.Loop() {
				out.Reset()
				if err := em.Emit(&out, in); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(bytes.Count(out.Bytes(), []byte("\n"))), "lines")
		})
	}
}

// FuzzVendorNames renders an estate whose host, group and policy names are
// the fuzzer's with every vendor target: every line must stay a statement
// of the vendor's grammar, with every object defined once.
//
//	go test ./emit -run '^$' -fuzz FuzzVendorNames -fuzztime 30s
func FuzzVendorNames(f *testing.F) {
	f.Add("DC01", "dc", "policy")
	f.Add("DC01\"; permit ip any any", "evil\"\nend", "p1\" description \"x")
	f.Add("any", "all", "any")
	f.Add("next\r\nconfig system admin", "\u2028", "#3")
	f.Add(strings.Repeat("L", 300), strings.Repeat("g", 100), strings.Repeat("policy-", 40))
	f.Fuzz(func(t *testing.T, host, group, policy string) {
		e := audit.NewEstate()
		vendorHost(e, host, "Windows Server 2019", []string{group}, "10.1.0.1", "fd00::1")
		vendorHost(e, host+"2", "Windows Server 2003", []string{group}, "10.1.0.3")
		vendorHost(e, "SRC", "", nil, "10.2.0.1")
		vendorPolicy(t, e, policy, []string{"host:SRC", "10.9.0.0/16", "fd00:9::/32"}, []string{"group:" + group}, []string{"rpc", "udp/53"})
		in := &Input{Plan: audit.BuildPlan(e), Estate: e, Inputs: []string{host}}
		for _, target := range vendorTargets {
			out := vendorEmit(t, target, VendorOptions{}, in)
			for _, err := range checkStructure(vendorGrammars[target], out) {
				t.Errorf("%s: %s", target, err)
			}
		}
	})
}
