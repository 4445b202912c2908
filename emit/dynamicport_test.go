package emit

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rpcspan/rpcspan/audit"
)

// rpcInternet returns an Rpc\Internet restriction as read from a capture.
func rpcInternet(typ, available, use string, ports ...string) *audit.RPCInternet {
	src := audit.Source{File: "rpc.reg", Line: 4}
	r := &audit.RPCInternet{PortsType: typ}
	for _, p := range ports {
		r.Ports = append(r.Ports, audit.PortsEntry{Text: p, Src: src})
	}
	if available != "" {
		r.PortsInternetAvailable = audit.Flag{Value: available, Src: src}
	}
	if use != "" {
		r.UseInternetPorts = audit.Flag{Value: use, Src: src}
	}
	return r
}

func TestDynamicPortSections(t *testing.T) {
	tests := []struct {
		name string
		host winTestHost
		opt  Options
		// want is the host's section, from its REM line to the echo;
		// nil when the host gets nothing.
		want []string
		note string // a line expected at the top, if any
	}{{
		name: "exchange 2007",
		host: winTestHost{name: "EXCH01", addrs: []string{"10.0.0.1"}, os: "Windows Server 2008 R2",
			ranges: map[audit.Key]string{audit.TCP4: "1025-60000", audit.UDP4: "1025-60000"}},
		want: []string{
			"REM EXCH01 (Windows Server 2008 R2)",
			"REM tcp4 is 1025-60000 (captured in captures/EXCH01/netsh.txt:3); target 49152-65535 (baseline)",
			"netsh int ipv4 set dynamicport tcp start=49152 num=16384 || goto rpcspan_failed",
			"REM udp4 is 1025-60000 (captured in captures/EXCH01/netsh.txt:3); target 49152-65535 (baseline)",
			"netsh int ipv4 set dynamicport udp start=49152 num=16384 || goto rpcspan_failed",
			"REM Restart EXCH01 now: RPC servers keep the ports they have until they start again.",
			"echo rpcspan: EXCH01: 2 changes made; restart the host.",
		},
	}, {
		name: "inferred from the OS, IPv6",
		host: winTestHost{name: "EX2", addrs: []string{"fd00::2"}, os: "Windows Server 2008 SP2"},
		opt:  Options{Target: &audit.PortRange{First: 50000, Last: 59999}},
		want: []string{
			"REM EX2 (Windows Server 2008 SP2)",
			"REM tcp6 is 49152-65535 (inferred from OS Windows Server 2008 SP2 (Vista and later default)); target 50000-59999 (--target-range)",
			"netsh int ipv6 set dynamicport tcp start=50000 num=10000 || goto rpcspan_failed",
			"REM Restart EX2 now: RPC servers keep the ports they have until they start again.",
			"echo rpcspan: EX2: 1 change made; restart the host.",
		},
	}, {
		name: "on the baseline",
		host: winTestHost{name: "DC01", addrs: []string{"10.0.0.1"}, os: "Windows Server 2019",
			ranges: map[audit.Key]string{audit.TCP4: "49152-65535"}},
	}, {
		name: "on the target, baseline elsewhere",
		host: winTestHost{name: "DC01", addrs: []string{"10.0.0.1"}, ranges: map[audit.Key]string{audit.TCP4: "1025-60000"}},
		opt:  Options{Target: &audit.Exchange2007Range},
	}, {
		name: "legacy",
		host: winTestHost{name: "LEG01", addrs: []string{"10.0.0.4"}, os: "Windows Server 2003 R2"},
		note: "REM LEG01 (Windows Server 2003 R2) left as it is, as netsh dynamicport came with Vista and Server 2008: tcp4 is 1025-5000 (inferred from OS Windows Server 2003 R2 (pre-Vista default)).",
	}, {
		name: "not windows",
		host: winTestHost{name: "SMB01", addrs: []string{"10.0.0.5"}, os: "Debian GNU/Linux 12", ranges: map[audit.Key]string{audit.TCP4: "49152-49200"}},
		note: "REM SMB01: skipped, not Windows (Debian GNU/Linux 12): tcp4 49152-49200; netsh does not apply, change it with the system's own tools.",
	}, {
		name: "Rpc Internet as REG_SZ",
		host: winTestHost{name: "APP01", addrs: []string{"10.0.0.6"}, rpc: rpcInternet("REG_SZ", "Y", "Y", "5000-5500")},
		want: []string{
			"REM APP01",
			`REM Rpc\Internet is invalid, and Windows rejects it as a whole:`,
			"REM   Ports: written as REG_SZ; Windows needs REG_MULTI_SZ",
			"REM Keep the valid entries, as REG_MULTI_SZ.",
			`reg add HKLM\SOFTWARE\Microsoft\Rpc\Internet /v Ports /t REG_MULTI_SZ /d "5000-5500" /f || goto rpcspan_failed`,
			"REM After the restart RPC listens on 5000-5500 only: generate the firewall rules again then.",
			`REM Restart APP01 now: RPC reads Rpc\Internet only when it starts.`,
			"echo rpcspan: APP01: 1 change made; restart the host.",
		},
	}, {
		name: "Rpc Internet with bad entries and flags",
		host: winTestHost{name: "APP02", addrs: []string{"10.0.0.7"},
			rpc: rpcInternet("REG_MULTI_SZ", "yes", "maybe", "5000-5100", "5984", "5000\u20135100", `6000" & calc & "`, "5984")},
		want: []string{
			"REM APP02",
			`REM Rpc\Internet is invalid, and Windows rejects it as a whole:`,
			`REM   5000?5100: 5000?5100 is not a port number`,
			`REM   6000 _ calc _ : 6000\ _ calc _ \ is not a port number`,
			`REM   PortsInternetAvailable: PortsInternetAvailable is yes; Windows accepts only Y or N`,
			`REM   UseInternetPorts: UseInternetPorts is maybe; Windows accepts only Y or N`,
			"REM Keep the valid entries, as REG_MULTI_SZ.",
			`reg add HKLM\SOFTWARE\Microsoft\Rpc\Internet /v Ports /t REG_MULTI_SZ /d "5000-5100\05984" /f || goto rpcspan_failed`,
			`reg add HKLM\SOFTWARE\Microsoft\Rpc\Internet /v PortsInternetAvailable /t REG_SZ /d Y /f || goto rpcspan_failed`,
			`reg add HKLM\SOFTWARE\Microsoft\Rpc\Internet /v UseInternetPorts /t REG_SZ /d Y /f || goto rpcspan_failed`,
			"REM After the restart RPC listens on 5000-5100, 5984 only: generate the firewall rules again then.",
			`REM Restart APP02 now: RPC reads Rpc\Internet only when it starts.`,
			"echo rpcspan: APP02: 3 changes made; restart the host.",
		},
	}, {
		name: "Rpc Internet flag no",
		host: winTestHost{name: "APP03", addrs: []string{"10.0.0.8"}, rpc: rpcInternet("REG_MULTI_SZ", "Y", "no", "5000-5100")},
		want: []string{
			"REM APP03",
			`REM Rpc\Internet is invalid, and Windows rejects it as a whole:`,
			`REM   UseInternetPorts: UseInternetPorts is no; Windows accepts only Y or N`,
			`reg add HKLM\SOFTWARE\Microsoft\Rpc\Internet /v UseInternetPorts /t REG_SZ /d N /f || goto rpcspan_failed`,
			`REM Restart APP03 now: RPC reads Rpc\Internet only when it starts.`,
			"echo rpcspan: APP03: 1 change made; restart the host.",
		},
	}, {
		name: "Rpc Internet with nothing valid",
		host: winTestHost{name: "APP04", addrs: []string{"10.0.0.9"}, rpc: rpcInternet("REG_MULTI_SZ", "", "Y", "lots", "70000")},
		want: []string{
			"REM APP04",
			`REM Rpc\Internet is invalid, and Windows rejects it as a whole:`,
			`REM   lots: lots is not a port number`,
			`REM   70000: port 70000 is outside 0-65535`,
			"REM No valid Ports entry remains: delete the restriction, so that RPC uses the dynamic range.",
			`reg delete HKLM\SOFTWARE\Microsoft\Rpc\Internet /v Ports /f || goto rpcspan_failed`,
			`reg delete HKLM\SOFTWARE\Microsoft\Rpc\Internet /v UseInternetPorts /f || goto rpcspan_failed`,
			`REM Restart APP04 now: RPC reads Rpc\Internet only when it starts.`,
			"echo rpcspan: APP04: 2 changes made; restart the host.",
		},
	}, {
		name: "hostile OS and source",
		host: winTestHost{name: "H1", addrs: []string{"10.0.0.10"}, os: `Windows Server 2019" & calc & "%PATH%^`,
			ranges: map[audit.Key]string{audit.TCP4: "50000-65535"}},
		want: []string{
			"REM H1 (Windows Server 2019 _ calc _ _PATH__)",
			"REM tcp4 is 50000-65535 (captured in captures/H1/netsh.txt:3); target 49152-65535 (baseline)",
			"netsh int ipv4 set dynamicport tcp start=49152 num=16384 || goto rpcspan_failed",
			"REM Restart H1 now: RPC servers keep the ports they have until they start again.",
			"echo rpcspan: H1: 1 change made; restart the host.",
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := winInput(winEstate(t, []winTestHost{tc.host}, nil), tc.opt)
			out := emitString(t, "netsh-dynamicport", in)
			checkCmd(t, out)
			checkDynamicLimits(t, out)
			lines := winLines(t, out)
			hosts := (dynamicPortEmitter{}).Hosts(in)
			if tc.want == nil {
				if len(hosts) != 0 || strings.Contains(out, "goto rpcspan_host_") {
					t.Errorf("host got a section (Hosts() = %v):\n%s", hosts, out)
				}
			} else {
				got := section(lines, tc.want[0], tc.want[len(tc.want)-1])
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("section (-want +got):\n%s\nwhole output:\n%s", diff, out)
				}
				if !cmp.Equal(hosts, []string{tc.host.name}) {
					t.Errorf("Hosts() = %v, want [%s]", hosts, tc.host.name)
				}
				// The per-host file has the same section.
				one := emitHostString(t, "netsh-dynamicport", in, tc.host.name)
				checkCmd(t, one)
				if got := section(winLines(t, one), tc.want[0], tc.want[len(tc.want)-1]); !cmp.Equal(got, tc.want) {
					t.Errorf("per-host file differs:\n%s", one)
				}
			}
			if tc.note != "" && !containsLine(lines, tc.note) {
				t.Errorf("output lacks note %q:\n%s", tc.note, out)
			}
		})
	}
}

// TestDynamicPortUDP: the UDP key counts where the plan opens rpc-udp.
func TestDynamicPortUDP(t *testing.T) {
	hosts := []winTestHost{
		{name: "A", addrs: []string{"10.0.0.1"}, groups: []string{"a"}, os: "Windows Server 2008 R2"},
		{name: "B", addrs: []string{"10.0.0.2", "fd00::2"}, groups: []string{"b"}, os: "Windows Server 2008 R2"},
	}
	target := audit.PortRange{First: 50000, Last: 60000}
	e := winEstate(t, hosts, []audit.PolicyRule{winPolicy(t, "udp", []string{"group:a"}, []string{"group:b"}, "rpc-udp")})
	out := emitString(t, "netsh-dynamicport", winInput(e, Options{Target: &target}))
	checkCmd(t, out)
	var got []string
	for _, l := range winLines(t, out) {
		if strings.HasPrefix(l, ":") || strings.HasPrefix(l, "netsh ") {
			got = append(got, l)
		}
	}
	want := []string{
		":rpcspan_host_000001",
		"netsh int ipv4 set dynamicport tcp start=50000 num=10001 || goto rpcspan_failed",
		":rpcspan_host_000002",
		"netsh int ipv4 set dynamicport tcp start=50000 num=10001 || goto rpcspan_failed",
		"netsh int ipv4 set dynamicport udp start=50000 num=10001 || goto rpcspan_failed",
		// No udp6: A has no IPv6 address, so the plan opens rpc-udp to B
		// over IPv4 only.
		"netsh int ipv6 set dynamicport tcp start=50000 num=10001 || goto rpcspan_failed",
		":rpcspan_failed",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("commands (-want +got):\n%s\n%s", diff, out)
	}
}

// netshDynamic matches the commands that set a range.
var netshDynamic = regexp.MustCompile(`^netsh int ipv[46] set dynamicport (tcp|udp) start=(\d+) num=(\d+) \|\| goto rpcspan_failed$`)

// checkDynamicLimits fails on any set dynamicport command outside the
// netsh limits, or in another form.
func checkDynamicLimits(t testing.TB, out string) {
	t.Helper()
	for _, l := range winLines(t, out) {
		if !strings.Contains(l, "dynamicport") || strings.HasPrefix(l, "REM ") {
			continue
		}
		m := netshDynamic.FindStringSubmatch(l)
		if m == nil {
			t.Errorf("unexpected dynamicport line: %s", l)
			continue
		}
		start, _ := strconv.Atoi(m[2])
		num, _ := strconv.Atoi(m[3])
		if start < 1025 || num < 255 || start+num-1 > 65535 {
			t.Errorf("command outside the netsh limits: %s", l)
		}
	}
}

func TestDynamicPortLimits(t *testing.T) {
	host := []winTestHost{{name: "EXCH01", addrs: []string{"10.0.0.1"}, ranges: map[audit.Key]string{audit.TCP4: "1025-60000"}}}
	e := winEstate(t, host, nil)
	for _, tc := range []struct {
		target audit.PortRange
		ok     bool
	}{
		{audit.PortRange{First: 1024, Last: 5000}, false},
		{audit.PortRange{First: 1025, Last: 1278}, false}, // 254 ports
		{audit.PortRange{First: 1025, Last: 1279}, true},  // 255 ports
		{audit.PortRange{First: 65281, Last: 65535}, true},
		{audit.PortRange{First: 65282, Last: 65535}, false},
		{audit.PortRange{First: 0, Last: 65535}, false},
		{audit.PortRange{First: 5000, Last: 5000}, false},
	} {
		target := tc.target
		in := winInput(e, Options{Target: &target})
		for _, run := range []struct {
			name string
			f    func(*bytes.Buffer) error
		}{
			{"Emit", func(b *bytes.Buffer) error { return (dynamicPortEmitter{}).Emit(b, in) }},
			{"EmitHost", func(b *bytes.Buffer) error { return (dynamicPortEmitter{}).EmitHost(b, in, "EXCH01") }},
		} {
			var b bytes.Buffer
			err := run.f(&b)
			if tc.ok {
				if err != nil {
					t.Errorf("%s(target %s) error: %v", run.name, target, err)
				}
				checkDynamicLimits(t, b.String())
				continue
			}
			want := "target tcp4 range " + target.String() + " (--target-range) is outside the netsh limits: at least 255 ports, from port 1025 up to 65535"
			if err == nil || err.Error() != want {
				t.Errorf("%s(target %s) error = %v, want %q", run.name, target, err, want)
			}
			if b.Len() != 0 {
				t.Errorf("%s(target %s) wrote %d bytes before refusing", run.name, target, b.Len())
			}
		}
	}
	// A baseline outside the limits is refused where a host would move to
	// it, and ignored where none would.
	bad := audit.RangeObs{Key: audit.TCP4, Range: audit.PortRange{First: 1000, Last: 1099}, Origin: audit.Declared, Src: audit.Source{File: "inventory.yaml", Line: 2}}
	e.Baseline[audit.TCP4] = bad
	var b bytes.Buffer
	err := (dynamicPortEmitter{}).Emit(&b, winInput(e, Options{}))
	if want := "target tcp4 range 1000-1099 (baseline from inventory.yaml:2) is outside the netsh limits: at least 255 ports, from port 1025 up to 65535"; err == nil || err.Error() != want {
		t.Errorf("Emit(bad baseline) error = %v, want %q", err, want)
	}
	in := winInput(e, Options{})
	if got := (dynamicPortEmitter{}).Hosts(in); !cmp.Equal(got, []string{"EXCH01"}) {
		t.Errorf("Hosts(bad baseline) = %v, want the host, for EmitHost to refuse", got)
	}
	if err := (dynamicPortEmitter{}).EmitHost(&b, in, "EXCH01"); err == nil {
		t.Errorf("EmitHost(bad baseline) = nil error")
	}
	e.Baseline = map[audit.Key]audit.RangeObs{audit.UDP6: {Key: audit.UDP6, Range: bad.Range, Origin: audit.Declared}}
	out := emitString(t, "netsh-dynamicport", winInput(e, Options{}))
	checkDynamicLimits(t, out)
	if !strings.Contains(out, "REM Target: the baseline: tcp4 49152-65535, udp4 49152-65535, tcp6 49152-65535, udp6 1000-1099.") {
		t.Errorf("header does not give the baselines:\n%s", out)
	}
}

func TestDynamicPortFile(t *testing.T) {
	hosts := []winTestHost{
		{name: "EXCH01", addrs: []string{"10.0.0.1"}, ranges: map[audit.Key]string{audit.TCP4: "1025-60000"}},
		{name: "DC01", addrs: []string{"10.0.0.2"}},
	}
	in := winInput(winEstate(t, hosts, nil), Options{})
	out := emitString(t, "netsh-dynamicport", in)
	checkCmd(t, out)
	lines := winLines(t, out)
	for _, want := range []string{
		"@echo off",
		"REM Generated by rpcspan; do not edit: change the inputs and run rpcspan again.",
		"REM Target: the baseline 49152-65535 for tcp4, udp4, tcp6 and udp6.",
		"setlocal DisableDelayedExpansion",
		`if /I "%COMPUTERNAME%"=="EXCH01" goto rpcspan_host_000001`,
		"echo rpcspan: nothing to change on this host.",
		":rpcspan_failed",
	} {
		if !containsLine(lines, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "DC01") {
		t.Errorf("a host on the baseline got a section:\n%s", out)
	}
	one := emitHostString(t, "netsh-dynamicport", in, "EXCH01")
	checkCmd(t, one)
	if !containsLine(winLines(t, one), `if /I not "%COMPUTERNAME%"=="EXCH01" goto rpcspan_wrong_host`) {
		t.Errorf("per-host file without the host check:\n%s", one)
	}
	var b bytes.Buffer
	for _, host := range []string{"DC01", "NOPE"} {
		if err := (dynamicPortEmitter{}).EmitHost(&b, in, host); err == nil {
			t.Errorf("EmitHost(%s) = nil error, want one", host)
		}
	}
	if (dynamicPortEmitter{}).Ext() != ".cmd" {
		t.Errorf("Ext() = %q", (dynamicPortEmitter{}).Ext())
	}
	if err := (dynamicPortEmitter{}).Emit(&b, &Input{Plan: &audit.Plan{}}); err == nil {
		t.Errorf("Emit() without an estate = nil error")
	}
}

func TestDynamicPortGolden(t *testing.T) {
	e := winExample(t)
	target := audit.DefaultRange
	for _, tc := range []struct {
		name string
		opt  Options
	}{{"dynamicport-example", Options{}}, {"dynamicport-example-target", Options{Target: &target}}} {
		t.Run(tc.name, func(t *testing.T) {
			in := winInput(e, tc.opt)
			in.Inputs = []string{"testdata/example"}
			out := emitString(t, "netsh-dynamicport", in)
			checkCmd(t, out)
			checkDynamicLimits(t, out)
			golden(t, tc.name, []byte(out))
			for _, h := range (dynamicPortEmitter{}).Hosts(in) {
				one := emitHostString(t, "netsh-dynamicport", in, h)
				checkCmd(t, one)
				checkDynamicLimits(t, one)
			}
		})
	}
	in := winInput(e, Options{})
	in.Inputs = []string{"testdata/example"}
	golden(t, "dynamicport-example-APP01", []byte(emitHostString(t, "netsh-dynamicport", in, "APP01")))
}

// BenchmarkDynamicPort100k: go test ./emit -run '^$' -bench DynamicPort100k -benchmem
func BenchmarkDynamicPort100k(b *testing.B) { benchWin(b, "netsh-dynamicport") }
