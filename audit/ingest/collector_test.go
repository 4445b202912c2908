package ingest

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/rpcspan/rpcspan/audit"
	"github.com/rpcspan/rpcspan/templates"
)

// collectorDir holds samples of the collector's output, written byte for
// byte as Windows PowerShell writes them (see SOURCES.tsv there).
const collectorDir = "testdata/collector"

var cmpAddr = cmp.Comparer(func(a, b netip.Addr) bool { return a == b })

// colHost builds the expected host of a collector file.
type colHost struct {
	file string
	h    *audit.Host
}

func newColHost(file, name string, line int, os string) *colHost {
	return &colHost{file: file, h: &audit.Host{Name: name, NameSrc: audit.Source{File: file, Line: line}, OS: os}}
}

func (c *colHost) src(line int) audit.Source { return audit.Source{File: c.file, Line: line} }

func (c *colHost) addr(line int, a string) *colHost {
	c.h.Addresses = append(c.h.Addresses, audit.Addr{Addr: netip.MustParseAddr(a), Src: c.src(line)})
	return c
}

func (c *colHost) rng(line int, k audit.Key, first, last uint16) *colHost {
	c.h.Ranges = append(c.h.Ranges, audit.RangeObs{Key: k, Range: audit.PortRange{First: first, Last: last}, Origin: audit.Captured, Src: c.src(line)})
	return c
}

// ranges adds the four keys' ranges at lines line, line+4, ... as the
// Windows PowerShell 5.1 layout puts them.
func (c *colHost) ranges(line, step int, first, last uint16) *colHost {
	for i, k := range audit.Keys {
		c.rng(line+i*step, k, first, last)
	}
	return c
}

func (c *colHost) excl(line int, k audit.Key, first, last uint16, admin bool) *colHost {
	c.h.Excluded = append(c.h.Excluded, audit.Excluded{Key: k, Range: audit.PortRange{First: first, Last: last}, Administered: admin, Src: c.src(line)})
	return c
}

func (c *colHost) rpc(r *audit.RPCInternet) *colHost {
	c.h.RPC = r
	return c
}

func hostsOf(cs ...*colHost) []*audit.Host {
	var out []*audit.Host
	for _, c := range cs {
		out = append(out, c.h)
	}
	return out
}

func TestReadCollectorSamples(t *testing.T) {
	const dc, fan, fs = "dc01_ws2019_ps51.json", "fanout_3hosts_ps51.json", "fs02_errors_outfile_utf8.json"
	dc01 := newColHost(dc, "DC01", 3, "Microsoft Windows Server 2019 Standard").
		addr(7, "fd00:20::10").addr(8, "10.20.0.10").
		ranges(11, 4, 49152, 65535)
	dc01.rpc(&audit.RPCInternet{
		Ports:                  []audit.PortsEntry{{Text: "5000-5200", Src: dc01.src(45)}},
		PortsType:              "REG_MULTI_SZ",
		PortsInternetAvailable: audit.Flag{Value: "Y", Src: dc01.src(48)},
		UseInternetPorts:       audit.Flag{Value: "Y", Src: dc01.src(49)},
	})

	hv01 := newColHost(fan, "HV01", 3, "Microsoft Windows Server 2016 Datacenter").
		addr(7, "2001:db8:20:1::21").addr(8, "10.20.1.21").addr(9, "10.20.9.21").
		ranges(12, 4, 49152, 65535).
		excl(31, audit.TCP4, 49696, 49795, false).
		excl(36, audit.TCP4, 49796, 49895, false).
		excl(41, audit.TCP4, 50000, 50059, true).
		excl(46, audit.TCP4, 50060, 50159, false).
		excl(51, audit.TCP4, 52837, 52936, false).
		excl(61, audit.TCP6, 49696, 49795, false).
		excl(66, audit.TCP6, 49796, 49895, false).
		excl(71, audit.TCP6, 50060, 50159, false).
		excl(76, audit.TCP6, 52837, 52936, false)
	// Windows PowerShell 2.0 on Server 2008 R2: the script's own JSON
	// writer, and WMI's caption with its trailing space (trimmed).
	exch01 := newColHost(fan, "EXCH01", 99, "Microsoft Windows Server 2008 R2 Enterprise").
		addr(103, "10.20.3.15").
		rng(106, audit.TCP4, 1025, 60000).
		rng(110, audit.UDP4, 49152, 65535).
		rng(114, audit.TCP6, 1025, 60000).
		rng(118, audit.UDP6, 49152, 65535)
	appleg02 := newColHost(fan, "APPLEG02", 140, "Microsoft Windows Server 2012 R2 Standard").
		addr(144, "10.20.4.40").
		ranges(147, 4, 1025, 5000)

	fs02 := newColHost(fs, "FS02", 3, "Microsoft Windows Server 2016 Standard").
		addr(7, "10.20.5.12").
		rng(10, audit.TCP4, 49152, 65535).
		rng(14, audit.UDP4, 49152, 65535).
		excl(23, audit.TCP4, 50000, 50059, true)
	fs02.rpc(&audit.RPCInternet{
		Ports:                  []audit.PortsEntry{{Text: "5000-5500", Src: fs02.src(38)}},
		PortsType:              "REG_SZ",
		PortsInternetAvailable: audit.Flag{Value: "Y", Src: fs02.src(41)},
	})
	gap := func(line int, what string) audit.Problem {
		return audit.Problem{Src: fs02.src(line), Host: "FS02", Msg: "collector: netsh int ipv6 show " + what + ": exit code 1: The following command was not found: int ipv6 show " + what + "."}
	}

	tests := []struct {
		file     string
		hosts    []*audit.Host
		problems []audit.Problem
	}{
		{dc, hostsOf(dc01), nil},
		{fan, hostsOf(hv01, exch01, appleg02), nil},
		{fs, hostsOf(fs02), []audit.Problem{
			gap(45, "dynamicport tcp"),
			gap(46, "excludedportrange protocol=tcp"),
			gap(47, "dynamicport udp"),
			gap(48, "excludedportrange protocol=udp"),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b := readTestdata(t, "collector", tt.file)
			for _, via := range []string{"ReadCollector", "Parse"} {
				var r *Result
				if via == "Parse" {
					r = Parse(b, tt.file)
				} else {
					var err error
					if r, err = ReadCollector(bytes.NewReader(b), tt.file); err != nil {
						t.Fatalf("ReadCollector(%s): %v", tt.file, err)
					}
				}
				if r.Fatal != nil {
					t.Fatalf("%s(%s).Fatal = %v", via, tt.file, r.Fatal)
				}
				if r.Kind != KindCollector || !cmp.Equal(r.Formats, []string{"collector"}) {
					t.Errorf("%s(%s) = kind %q formats %q, want collector [collector]", via, tt.file, r.Kind, r.Formats)
				}
				if d := cmp.Diff(tt.hosts, r.Hosts, cmpAddr); d != "" {
					t.Errorf("%s(%s) hosts (-want +got):\n%s", via, tt.file, d)
				}
				if d := cmp.Diff(tt.problems, r.Problems, cmpopts.EquateEmpty()); d != "" {
					t.Errorf("%s(%s) problems (-want +got):\n%s", via, tt.file, d)
				}
			}
		})
	}
}

// TestReadCollectorSampleBytes pins what the samples are, so that an
// edit that loses the encoding Windows wrote them in is noticed.
func TestReadCollectorSampleBytes(t *testing.T) {
	tests := []struct {
		file   string
		prefix []byte
		utf16  bool
	}{
		{"dc01_ws2019_ps51.json", []byte{0xFF, 0xFE, '{', 0, '\r', 0, '\n', 0}, true},
		{"fanout_3hosts_ps51.json", []byte{0xFF, 0xFE, '{', 0, '\r', 0, '\n', 0}, true},
		{"fs02_errors_outfile_utf8.json", []byte{0xEF, 0xBB, 0xBF, '{', '\r', '\n'}, false},
		{"fanout_firewall_ps51.json", []byte{0xFF, 0xFE, '{', 0, '\r', 0, '\n', 0}, true},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b := readTestdata(t, "collector", tt.file)
			if !bytes.HasPrefix(b, tt.prefix) {
				t.Errorf("%s starts % x, want % x", tt.file, b[:min(len(b), len(tt.prefix))], tt.prefix)
			}
			text := Decode(b)
			if !IsCollectorJSON(text) {
				t.Errorf("IsCollectorJSON(%s) = false", tt.file)
			}
			if !strings.Contains(text, `"host":`) {
				t.Errorf("%s does not decode to collector JSON", tt.file)
			}
			raw := string(b)
			if tt.utf16 {
				raw = string(decodeUTF16(b[2:], false))
			}
			if strings.Count(raw, "\r\n") != strings.Count(raw, "\n") {
				t.Errorf("%s has line ends other than CRLF", tt.file)
			}
		})
	}
}

// TestReadCollectorFirewallSample reads the firewall rules of a fan-out
// sample: WEB01 in the layout of Windows PowerShell 5.1 (which escapes
// <, >, & and ' as \u00XX), FS03 written by the script's own JSON writer
// on Windows PowerShell 2.0 (everything outside ASCII escaped), PRN01 run
// with -NoFirewall, and APP03 whose firewall service did not answer.
func TestReadCollectorFirewallSample(t *testing.T) {
	const file = "fanout_firewall_ps51.json"
	r := Parse(readTestdata(t, "collector", file), file)
	if r.Fatal != nil {
		t.Fatalf("Parse(%s).Fatal = %v", file, r.Fatal)
	}
	// block returns the lines netsh prints for one verbose rule.
	block := func(name, desc, grouping string) []string {
		pad := func(label, value string) string { return fmt.Sprintf("%-38s%s", label+":", value) }
		return []string{"", pad("Rule Name", name), strings.Repeat("-", 70), pad("Description", desc),
			pad("Enabled", "Yes"), pad("Direction", "In"), pad("Profiles", "Domain"), pad("Grouping", grouping),
			pad("LocalIP", "Any"), pad("RemoteIP", "Any"), pad("Protocol", "TCP"), pad("LocalPort", "RPC"),
			pad("RemotePort", "Any"), pad("Edge traversal", "No"), pad("InterfaceTypes", "Any"),
			pad("Security", "NotRequired"), pad("Rule source", "Local Setting"), pad("Action", "Allow"), "", "Ok.", ""}
	}
	capture := func(first int, lines []string) []audit.FirewallCapture {
		c := audit.FirewallCapture{Src: audit.Source{File: file, Line: first}, Text: strings.Join(lines, "\n") + "\n"}
		for i := range lines {
			c.Lines = append(c.Lines, first+i)
		}
		return []audit.FirewallCapture{c}
	}
	want := map[string][]audit.FirewallCapture{
		"WEB01": capture(52, block("RPC (rpcspan)", "Règle\tdynamic <RPC> & 'EPMap' C:\\inetpub", `Web "tier"`)),
		"FS03":  capture(116, block("Règle RPC", "a\tb \"c\" \\\\d", "Fichiers")),
		"PRN01": nil,
		"APP03": nil,
	}
	got := map[string][]audit.FirewallCapture{}
	for _, h := range r.Hosts {
		got[h.Name] = h.FirewallCaptures
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Parse(%s) firewall captures by host (-want +got):\n%s", file, d)
	}
	wantProblems := []audit.Problem{{Src: audit.Source{File: file, Line: 238}, Host: "APP03", Msg: "collector: netsh advfirewall firewall show rule name=all dir=in verbose: exit code 1: " +
		"An error occurred while attempting to contact the Windows Firewall service. Make sure that the service is running and try your request again."}}
	if d := cmp.Diff(wantProblems, r.Problems); d != "" {
		t.Errorf("Parse(%s) problems (-want +got):\n%s", file, d)
	}
}

// TestCollectorScriptKeys checks that ReadCollector knows every key the
// shipped script writes: an object with each of them (null, "not
// collected") reads without a problem.
func TestCollectorScriptKeys(t *testing.T) {
	var members []string
	for _, m := range regexp.MustCompile(`\$report\['(\w+)'\] =`).FindAllStringSubmatch(templates.Collector, -1) {
		if m[1] != "rpcspan_collector" && m[1] != "host" {
			members = append(members, `"`+m[1]+`": null`)
		}
	}
	if !slices.Contains(members, `"firewall_rules": null`) || len(members) < 8 {
		t.Fatalf("collector.ps1 writes %q, want firewall_rules and the other keys", members)
	}
	in := minimal("A", strings.Join(members, ", "))
	r, err := ReadCollector(strings.NewReader(in), "in.json")
	if err != nil || r.Fatal != nil || len(r.Hosts) != 1 || len(r.Problems) > 0 {
		t.Errorf("ReadCollector(%q) = %v, %v, %d hosts, problems %v; want one host, no problem", in, err, r.Fatal, len(r.Hosts), r.Problems)
	}
}

// psOut encodes s as Windows PowerShell 5.1's ">" writes it: UTF-16LE
// with a BOM, CRLF line ends.
func psOut(s string) []byte { return utf16LE(strings.ReplaceAll(s, "\n", "\r\n"), true) }

// minimal returns a valid collector object for host name on one line,
// with extra members spliced in before the closing brace.
func minimal(name, extra string) string {
	s := `{"rpcspan_collector": 1, "host": "` + name + `"`
	if extra != "" {
		s += ", " + extra
	}
	return s + "}"
}

func TestReadCollectorSynthetic(t *testing.T) {
	const f = "in.json"
	src := func(line int) audit.Source { return audit.Source{File: f, Line: line} }
	host := func(name string, line int) *audit.Host {
		return &audit.Host{Name: name, NameSrc: src(line)}
	}
	withRange := func(h *audit.Host, line int, k audit.Key, first, last uint16) *audit.Host {
		h.Ranges = append(h.Ranges, audit.RangeObs{Key: k, Range: audit.PortRange{First: first, Last: last}, Origin: audit.Captured, Src: src(line)})
		return h
	}
	prob := func(line int, host, msg string) audit.Problem {
		return audit.Problem{Src: src(line), Host: host, Msg: msg}
	}
	withFirewall := func(h *audit.Host, c audit.FirewallCapture) *audit.Host {
		h.FirewallCaptures = append(h.FirewallCaptures, c)
		return h
	}
	withProfiles := func(h *audit.Host, ps ...audit.FirewallProfile) *audit.Host {
		h.FirewallProfiles = ps
		return h
	}
	profile := func(name string, state audit.FirewallState, stateLine int, inbound audit.InboundAction, inboundLine int) audit.FirewallProfile {
		p := audit.FirewallProfile{Profile: name, State: state, Inbound: inbound}
		if stateLine > 0 {
			p.StateSrc = src(stateLine)
		}
		if inboundLine > 0 {
			p.InboundSrc = src(inboundLine)
		}
		return p
	}
	tests := []struct {
		name     string
		in       []byte
		hosts    []*audit.Host
		problems []audit.Problem
	}{
		{
			name: "compressed objects one per line",
			in: []byte(minimal("A", `"dynamic": {"tcp4": {"start": 49152, "count": 16384}}`) + "\n" +
				minimal("B", `"dynamic": {"udp6": {"start": 1025, "count": 3976}}`) + "\n"),
			hosts: []*audit.Host{
				withRange(host("A", 1), 1, audit.TCP4, 49152, 65535),
				withRange(host("B", 2), 2, audit.UDP6, 1025, 5000),
			},
		},
		{
			name:  "array of objects",
			in:    []byte("[\n  " + minimal("A", "") + ",\n  " + minimal("B", "") + "\n]\n"),
			hosts: []*audit.Host{host("A", 2), host("B", 3)},
		},
		{
			name:  "objects without white space between them",
			in:    []byte(minimal("A", "") + minimal("B", "")),
			hosts: []*audit.Host{host("A", 1), host("B", 1)},
		},
		{
			name: "utf-16le with bom, crlf, trailing spaces",
			in: psOut("{   \n    \"rpcspan_collector\":  1,   \n    \"host\":  \"SRV-01\",  \n" +
				"    \"dynamic\":  {  \n                    \"tcp4\":  {  \n   \"start\":  5000,\n \"count\":  256  \n  }  \n }\n}  \n"),
			hosts: []*audit.Host{withRange(host("SRV-01", 3), 5, audit.TCP4, 5000, 5255)},
		},
		{
			name: "utf-8 with bom",
			in:   append([]byte{0xEF, 0xBB, 0xBF}, minimal("A", `"os": "Windows Server 2022 Datacenter"`)...),
			hosts: []*audit.Host{func() *audit.Host {
				h := host("A", 1)
				h.OS = "Windows Server 2022 Datacenter"
				return h
			}()},
		},
		{
			name:  "escapes as Windows PowerShell writes them",
			in:    []byte(minimal("A", `"errors": ["Get-NetIPAddress: the term \u0027Get-NetIPAddress\u0027 is not recognized", "C:\\Windows \u00e9\ud83d\ude00 \/\r\n  next line"]`)),
			hosts: []*audit.Host{host("A", 1)},
			problems: []audit.Problem{
				prob(1, "A", "collector: Get-NetIPAddress: the term 'Get-NetIPAddress' is not recognized"),
				prob(1, "A", "collector: C:\\Windows é😀 / next line"),
			},
		},
		{
			name: "null values are not collected, not problems",
			in: []byte(minimal("A", `"fqdn": null, "os": null, "addresses": null, "dynamic": {"tcp4": null, "udp4": null},
"excluded": {"tcp4": null}, "rpc_internet": null, "errors": null`)),
			hosts: []*audit.Host{host("A", 1)},
		},
		{
			name: "rpc internet present with null values",
			in:   []byte(minimal("A", `"rpc_internet": {"present": true, "ports": null, "ports_type": null, "ports_internet_available": null, "use_internet_ports": null}`)),
			hosts: []*audit.Host{func() *audit.Host {
				h := host("A", 1)
				h.RPC = &audit.RPCInternet{}
				return h
			}()},
		},
		{
			name: "rpc internet ports kept as written",
			in: []byte(minimal("A", `"rpc_internet": {"present": true,
"ports": ["5000-5100", " 6000 ", "70000", ""], "ports_type": "REG_MULTI_SZ", "use_internet_ports": "n"}`)),
			hosts: []*audit.Host{func() *audit.Host {
				h := host("A", 1)
				h.RPC = &audit.RPCInternet{
					Ports:            []audit.PortsEntry{{Text: "5000-5100", Src: src(2)}, {Text: " 6000 ", Src: src(2)}, {Text: "70000", Src: src(2)}, {Text: "", Src: src(2)}},
					PortsType:        "REG_MULTI_SZ",
					UseInternetPorts: audit.Flag{Value: "n", Src: src(2)},
				}
				return h
			}()},
		},
		{
			name:  "address forms",
			in:    []byte(minimal("A", `"addresses": ["10.0.0.1", "::ffff:10.0.0.2", "FD00::1", "10.0.0.1"]`)),
			hosts: []*audit.Host{{Name: "A", NameSrc: src(1), Addresses: []audit.Addr{{Addr: netip.MustParseAddr("10.0.0.1"), Src: src(1)}, {Addr: netip.MustParseAddr("10.0.0.2"), Src: src(1)}, {Addr: netip.MustParseAddr("fd00::1"), Src: src(1)}}}},
		},
		{
			name: "bad dynamic values",
			in: []byte(`{"rpcspan_collector": 1, "host": "A", "dynamic": {
"tcp4": {"start": 70000, "count": 10},
"udp4": {"start": 1025, "count": "x"},
"tcp6": {"start": 60000, "count": 6000},
"udp6": {"start": 1.5, "count": 0},
"tcp5": {"start": 1, "count": 1}
}}`),
			hosts: []*audit.Host{host("A", 1)},
			problems: []audit.Problem{
				prob(2, "A", "dynamic.tcp4: start port 70000 outside 0-65535"),
				prob(3, "A", `dynamic.udp4.count: want an integer, got the string "x"`),
				prob(4, "A", "dynamic.tcp6: start 60000 with 6000 ports ends at 65999, beyond 65535"),
				prob(5, "A", "dynamic.udp6.start: want an integer, got the number 1.5"),
				prob(6, "A", `dynamic: unknown key "tcp5" (want tcp4, udp4, tcp6 or udp6)`),
			},
		},
		{
			name: "dynamic shapes",
			in: []byte(`{"rpcspan_collector": 1, "host": "A", "dynamic": {
"tcp4": [49152, 16384],
"udp4": {"start": 49152},
"tcp6": {"start": 49152, "count": 16384, "end": 65535},
"udp6": {"start": -1, "count": 99999999999}
}}`),
			hosts: []*audit.Host{withRange(host("A", 1), 4, audit.TCP6, 49152, 65535)},
			problems: []audit.Problem{
				prob(2, "A", "dynamic.tcp4: want an object with start and count, or null, got a list"),
				prob(3, "A", "dynamic.udp4: want both start and count"),
				prob(4, "A", `dynamic.tcp6: unknown key "end" (want start and count)`),
				prob(5, "A", "dynamic.udp6: start port -1 outside 0-65535"),
			},
		},
		{
			name: "bad excluded values",
			in: []byte(`{"rpcspan_collector": 1, "host": "A", "excluded": {
"tcp4": [{"start": 50000, "end": 50059, "administered": true},
         {"start": 2000, "end": 1000, "administered": false},
         {"start": 1, "end": 70000},
         {"start": 80, "end": 80, "administered": "yes"},
         "5357-5357"],
"udp4": "none"
}}`),
			hosts: []*audit.Host{{Name: "A", NameSrc: src(1), Excluded: []audit.Excluded{
				{Key: audit.TCP4, Range: audit.PortRange{First: 50000, Last: 50059}, Administered: true, Src: src(2)},
				{Key: audit.TCP4, Range: audit.PortRange{First: 80, Last: 80}, Src: src(5)},
			}}},
			problems: []audit.Problem{
				prob(3, "A", "excluded.tcp4[1]: end port 1000 below start port 2000"),
				prob(4, "A", "excluded.tcp4[2]: end port 70000 outside 0-65535"),
				prob(5, "A", `excluded.tcp4[3].administered: want true or false, got the string "yes"`),
				prob(6, "A", `excluded.tcp4[4]: want an object with start, end and administered, got the string "5357-5357"`),
				prob(7, "A", `excluded.udp4: want a list or null, got the string "none"`),
			},
		},
		{
			name: "wrong types",
			in: []byte(`{"rpcspan_collector": 1, "host": "A",
"os": 2019,
"addresses": "10.0.0.1",
"rpc_internet": {"present": "yes", "ports": "5000-5100", "ports_type": 7},
"errors": [42],
"extra": true
}`),
			hosts: []*audit.Host{func() *audit.Host {
				h := host("A", 1)
				h.RPC = &audit.RPCInternet{}
				return h
			}()},
			problems: []audit.Problem{
				prob(2, "A", "os: want a string or null, got the number 2019"),
				prob(3, "A", `addresses: want a list or null, got the string "10.0.0.1"`),
				prob(4, "A", `rpc_internet.ports: want a list or null, got the string "5000-5100"`),
				prob(4, "A", "rpc_internet.ports_type: want a string or null, got the number 7"),
				prob(4, "A", `rpc_internet.present: want true or false, got the string "yes"`),
				prob(5, "A", "errors[0]: want a string, got the number 42"),
				prob(6, "A", `unknown key "extra"`),
			},
		},
		{
			name:  "bad addresses",
			in:    []byte(minimal("A", `"addresses": ["10.0.0.256", "fe80::1%12", "127.0.0.1", "169.254.1.1", "0.0.0.0", 10]`)),
			hosts: []*audit.Host{host("A", 1)},
			problems: []audit.Problem{
				prob(1, "A", `addresses[0]: "10.0.0.256" is not an IP address`),
				prob(1, "A", `addresses[1]: "fe80::1%12" is not a server address (loopback, link-local, unspecified or multicast)`),
				prob(1, "A", `addresses[2]: "127.0.0.1" is not a server address (loopback, link-local, unspecified or multicast)`),
				prob(1, "A", `addresses[3]: "169.254.1.1" is not a server address (loopback, link-local, unspecified or multicast)`),
				prob(1, "A", `addresses[4]: "0.0.0.0" is not a server address (loopback, link-local, unspecified or multicast)`),
				prob(1, "A", "addresses[5]: want an IP address, got the number 10"),
			},
		},
		{
			name: "rpc internet without present",
			in:   []byte(minimal("A", `"rpc_internet": {"ports": ["5000-5100"]}`)),
			hosts: []*audit.Host{func() *audit.Host {
				h := host("A", 1)
				h.RPC = &audit.RPCInternet{Ports: []audit.PortsEntry{{Text: "5000-5100", Src: src(1)}}}
				return h
			}()},
			problems: []audit.Problem{prob(1, "A", `rpc_internet: no "present" key`)},
		},
		{
			name:     "rpc internet values although absent",
			in:       []byte(minimal("A", `"rpc_internet": {"present": false, "ports": ["5000-5100"]}`)),
			hosts:    []*audit.Host{host("A", 1)},
			problems: []audit.Problem{prob(1, "A", "rpc_internet: values given although present is false; they are ignored")},
		},
		{
			name: "objects skipped",
			in: []byte(`{"host": "A"}
{"rpcspan_collector": 1}
{"rpcspan_collector": 1, "host": "bad name"}
{"rpcspan_collector": 1, "host": ["B"]}
{"rpcspan_collector": 1, "host": "C"}
[{"rpcspan_collector": 1, "host": "D"}, 5]
"text"
`),
			hosts: []*audit.Host{host("C", 5), host("D", 6)},
			problems: []audit.Problem{
				prob(1, "A", `object without "rpcspan_collector": not collector output, skipped`),
				prob(2, "", `object without "host": skipped, since the host it describes is unknown`),
				prob(3, "", `host: host name "bad name" contains ' ' (allowed: letters, digits, '-', '_', '.'); object skipped`),
				prob(4, "", "host: want a host name, got a list; object skipped"),
				prob(6, "", "want a collector object, got the number 5"),
				prob(7, "", `want a collector object, got the string "text"`),
			},
		},
		{
			name:     "duplicate keys",
			in:       []byte(minimal("A", `"os": "first", "os": "second", "dynamic": {"tcp4": {"start": 1025, "count": 3976}, "tcp4": null}`)),
			hosts:    []*audit.Host{withRange(func() *audit.Host { h := host("A", 1); h.OS = "first"; return h }(), 1, audit.TCP4, 1025, 5000)},
			problems: []audit.Problem{prob(1, "A", `duplicate key "os"; the first one is used`), prob(1, "A", `dynamic: duplicate key "tcp4"; the first one is used`)},
		},
		{
			name: "version",
			in: []byte(`{"rpcspan_collector": "1", "host": "A"}
{"rpcspan_collector": 0, "host": "B"}
{"rpcspan_collector": 2, "host": "C", "new": 1, "dynamic": {"tcp4": {"start": 1025, "count": 3976, "source": "netsh"}, "any4": {}}}
`),
			hosts: []*audit.Host{host("A", 1), host("B", 2), withRange(host("C", 3), 3, audit.TCP4, 1025, 5000)},
			problems: []audit.Problem{
				prob(1, "A", `rpcspan_collector: want the format version 1, got the string "1"`),
				prob(2, "B", "rpcspan_collector: want the format version 1, got the number 0"),
				prob(3, "C", "rpcspan_collector: format version 2 is newer than this rpcspan reads (1); keys it does not know are ignored"),
			},
		},
		{
			name:     "empty",
			in:       []byte(" \n"),
			problems: []audit.Problem{prob(1, "", "no JSON object in the file")},
		},
		{
			name: "firewall rules",
			in: []byte(`{"rpcspan_collector": 1, "host": "A", "firewall_rules": [
"",
"Rule Name: RPC",
"two\nlines\r\n",
"tab\there \"quoted\" C:\\x"]}`),
			hosts: []*audit.Host{withFirewall(host("A", 1), audit.FirewallCapture{
				Src:   src(2),
				Text:  "\nRule Name: RPC\ntwo\nlines\n\ntab\there \"quoted\" C:\\x\n",
				Lines: []int{2, 3, 4, 4, 4, 5},
			})},
		},
		{
			name: "firewall rules on one line",
			in:   []byte(minimal("A", `"firewall_rules": ["", "Rule Name: RPC", "Ok."]`)),
			hosts: []*audit.Host{withFirewall(host("A", 1), audit.FirewallCapture{
				Src: src(1), Text: "\nRule Name: RPC\nOk.\n", Lines: []int{1, 1, 1},
			})},
		},
		{
			name:  "firewall rules not collected or left out",
			in:    []byte(minimal("A", `"firewall_rules": null`) + "\n" + minimal("B", "")),
			hosts: []*audit.Host{host("A", 1), host("B", 2)},
		},
		{
			name: "firewall rules with lines that are not strings",
			in: []byte(`{"rpcspan_collector": 1, "host": "A", "firewall_rules": [
"Rule Name: RPC",
5,
null,
["Enabled: Yes"]
]}`),
			hosts: []*audit.Host{host("A", 1)},
			problems: []audit.Problem{
				prob(3, "A", "firewall_rules[1]: want a string, got the number 5; the host's firewall rules are left out"),
				prob(4, "A", "firewall_rules[2]: want a string, got null; the host's firewall rules are left out"),
				prob(5, "A", "firewall_rules[3]: want a string, got a list; the host's firewall rules are left out"),
			},
		},
		{
			name: "firewall rules empty",
			in: []byte(minimal("A", `"firewall_rules": []`) + "\n" +
				minimal("B", `"firewall_rules": ["", "  "]`) + "\n" +
				minimal("C", `"firewall_rules": "Rule Name: RPC"`)),
			hosts: []*audit.Host{host("A", 1), host("B", 2), host("C", 3)},
			problems: []audit.Problem{
				prob(1, "A", "firewall_rules: empty list, want the lines netsh printed; the host's firewall rules are left out"),
				prob(2, "B", "firewall_rules: only empty lines, want the lines netsh printed; the host's firewall rules are left out"),
				prob(3, "C", `firewall_rules: want a list or null, got the string "Rule Name: RPC"`),
			},
		},
	}
	tests = append(tests, []struct {
		name     string
		in       []byte
		hosts    []*audit.Host
		problems []audit.Problem
	}{
		{
			// netsh's lines one per element, in any language: the
			// blocks are Domain, Private and Public in that order.
			name: "firewall profiles",
			in: []byte(`{"rpcspan_collector": 1, "host": "A", "firewall_profiles": [
"",
"Paramètres Profil de domaine :",
"` + strings.Repeat("-", 70) + `",
"État                                  Inactif",
"Stratégie de pare-feu                 BlockInbound,AllowOutbound",
"",
"Paramètres Profil privé :\n` + strings.Repeat("-", 70) + `\nÉtat      Actif\nStratégie de pare-feu   AllowInbound,AllowOutbound\n",
"Paramètres Profil public :",
"` + strings.Repeat("-", 70) + `",
"État                                  Allumé",
"Stratégie de pare-feu                 BlockInboundAlways,AllowOutbound",
"LocalFirewallRules                    N/A (magasin d'objets de stratégie de groupe uniquement)",
"",
"Ok."]}`),
			hosts: []*audit.Host{withProfiles(host("A", 1),
				profile("domain", audit.FirewallOff, 5, audit.InboundBlock, 6),
				profile("private", audit.FirewallOn, 8, audit.InboundAllow, 8),
				profile("public", audit.FirewallStateUnknown, 11, audit.InboundBlockAlways, 12))},
			problems: []audit.Problem{prob(11, "A", `firewall_profiles: netsh advfirewall public profile: state "Allumé" is not a word rpcspan knows `+
				`(ON/OFF, EIN/AUS, Actif/Inactif); the profile's state is unknown`)},
		},
		{
			name: "firewall profiles not collected, left out, or unusable",
			in: []byte(minimal("A", `"firewall_profiles": null`) + "\n" + minimal("B", "") + "\n" +
				minimal("C", `"firewall_profiles": []`) + "\n" +
				minimal("D", `"firewall_profiles": ["Domain Profile Settings:", 5]`) + "\n" +
				minimal("E", `"firewall_profiles": ["The Windows Firewall service is not running.", "Ok."]`) + "\n" +
				minimal("F", `"firewall_profiles": "State ON"`)),
			hosts: []*audit.Host{host("A", 1), host("B", 2), host("C", 3), host("D", 4), host("E", 5), host("F", 6)},
			problems: []audit.Problem{
				prob(3, "C", "firewall_profiles: empty list, want the lines netsh printed; the host's firewall profile settings are left out"),
				prob(4, "D", "firewall_profiles[1]: want a string, got the number 5; the host's firewall profile settings are left out"),
				prob(5, "E", "firewall_profiles: no profile settings in the lines, want what netsh advfirewall show allprofiles printed; the host's firewall profile settings are left out"),
				prob(6, "F", `firewall_profiles: want a list or null, got the string "State ON"`),
			},
		},
	}...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ReadCollector(bytes.NewReader(tt.in), f)
			if err != nil {
				t.Fatalf("ReadCollector(%q): %v", tt.in, err)
			}
			if r.Fatal != nil {
				t.Fatalf("ReadCollector(%q).Fatal = %v", tt.in, r.Fatal)
			}
			if d := cmp.Diff(tt.hosts, r.Hosts, cmpAddr, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("ReadCollector(%q) hosts (-want +got):\n%s", tt.in, d)
			}
			if d := cmp.Diff(tt.problems, r.Problems, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("ReadCollector(%q) problems (-want +got):\n%s", tt.in, d)
			}
		})
	}
}

func TestReadCollectorSyntax(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"{\n\"rpcspan_collector\": 1,\n\"host\": \"A\",\n}", `in.json:4: collector JSON: unexpected '}', want a key in double quotes`},
		{"{\"rpcspan_collector\": 1, \"host\": \"A\"", `in.json:1: collector JSON: unexpected end of file, want ',' or '}'`},
		{"{\"host\" \"A\"}", `in.json:1: collector JSON: unexpected '"', want ':' after the key`},
		{"[{\"host\": 1}\n{\"host\": 2}]", `in.json:2: collector JSON: unexpected '{', want ',' or ']'`},
		{"{\"host\": \"A\\x\"}", `in.json:1: collector JSON: invalid escape "\\x" in a string`},
		{"{\"host\": \"A\\u12\"}", `in.json:1: collector JSON: invalid escape "\\u12\"}" in a string`},
		{"{\"host\": \"A\\u1", `in.json:1: collector JSON: incomplete \u escape in a string`},
		{"{\"host\": \"A", `in.json:1: collector JSON: string not closed before the end of the file`},
		{"{\"host\": \"A\\", `in.json:1: collector JSON: string not closed before the end of the file`},
		{"{\"host\": \"A\tB\"}", `in.json:1: collector JSON: control character '\t' in a string`},
		{"{\"host\": 01}", `in.json:1: collector JSON: number "01" has a leading zero`},
		{"{\"host\": -}", `in.json:1: collector JSON: unexpected '}', want a digit`},
		{"{\"host\": 1.}", `in.json:1: collector JSON: unexpected '}', want a digit`},
		{"{\"host\": 1e}", `in.json:1: collector JSON: unexpected '}', want a digit`},
		{"{\"host\": True}", `in.json:1: collector JSON: unexpected 'T', want a value`},
		{"{\"host\": 'A'}", `in.json:1: collector JSON: unexpected '\'', want a value`},
		{"{\"a\": 1}\nPS C:\\> ", `in.json:2: collector JSON: unexpected 'P', want a value`},
		{strings.Repeat("[", 65) + strings.Repeat("]", 65), `in.json:1: collector JSON: nested deeper than 64 levels`},
	}
	for _, tt := range tests {
		r, err := ReadCollector(strings.NewReader(tt.in), "in.json")
		if err != nil {
			t.Fatalf("ReadCollector(%q): %v", tt.in, err)
		}
		if r.Fatal == nil || r.Fatal.Error() != tt.want {
			t.Errorf("ReadCollector(%q).Fatal = %v, want %s", tt.in, r.Fatal, tt.want)
		}
		if r.Kind != KindCollector || len(r.Hosts) != 0 {
			t.Errorf("ReadCollector(%q) = kind %q, %d hosts; want collector, none", tt.in, r.Kind, len(r.Hosts))
		}
	}
}

func TestParseJSONStream(t *testing.T) {
	tests := []struct {
		in   string
		want []string // kind:text of each top-level value
	}{
		{`0 -0 12 -3.25e+10 1E5`, []string{"num:0", "num:-0", "num:12", "num:-3.25e+10", "num:1E5"}},
		{`"" "a\"b" "\u00e9" "\ud800"`, []string{"str:", `str:a"b`, "str:é", "str:\uFFFD"}},
		{"true false null", []string{"bool:true", "bool:false", "null:"}},
		{"\uFEFF{} \uFEFF[]", []string{"obj:", "arr:"}},
	}
	name := map[jsonKind]string{jsonNull: "null", jsonBool: "bool", jsonNumber: "num", jsonString: "str", jsonArray: "arr", jsonObject: "obj"}
	for _, tt := range tests {
		vals, err := parseJSONStream(tt.in)
		if err != nil {
			t.Errorf("parseJSONStream(%q): line %d: %s", tt.in, err.line, err.msg)
			continue
		}
		var got []string
		for _, v := range vals {
			got = append(got, name[v.kind]+":"+v.text)
		}
		if !cmp.Equal(got, tt.want) {
			t.Errorf("parseJSONStream(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestIsCollectorJSON(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{`{"rpcspan_collector": 1}`, true},
		{"\uFEFF \r\n [ \n {\"rpcspan_collector\":1}]", true},
		{"{\n    \"rpcspan_collector\":  1,", true},
		{`[1, {"rpcspan_collector": 1}]`, false},
		{`{"hosts": []}`, false},
		{`rpcspan_collector: 1`, false},
		{`# {"rpcspan_collector": 1}`, false},
		{"", false},
	}
	for _, tt := range tests {
		if got := IsCollectorJSON(tt.in); got != tt.want {
			t.Errorf("IsCollectorJSON(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// collectorSeeds returns the samples and a few hand-made inputs.
func collectorSeeds(t testing.TB) [][]byte {
	seeds := [][]byte{
		[]byte(minimal("A", `"dynamic": {"tcp4": {"start": 49152, "count": 16384}}, "excluded": {"tcp4": [{"start": 1, "end": 2, "administered": true}]}`)),
		[]byte(`[{"rpcspan_collector": 2, "host": "B", "rpc_internet": {"present": true, "ports": ["5000-5100"]}, "errors": ["x"]}]`),
		psOut(minimal("C", `"addresses": ["10.0.0.1", "fd00::1"]`)),
		[]byte(minimal("D", `"firewall_rules": ["", "Rule Name: RPC", "`+strings.Repeat("-", 70)+`", "Enabled: Yes\r\nDirection: In", 5]`)),
		psOut("{\n    \"rpcspan_collector\":  1,\n    \"host\":  \"E\",\n    \"firewall_rules\":  [\n                           \"\",\n                           \"Ok.\"\n                       ]\n}\n"),
		[]byte(minimal("F", `"firewall_profiles": ["Domain Profile Settings:", "`+strings.Repeat("-", 70)+`", "State    OFF", "Firewall Policy    AllowInbound,AllowOutbound", "", "X:\n`+
			strings.Repeat("-", 70)+`\nY    Z\nW    BlockInboundAlways,AllowOutbound", "", "Z:", "`+strings.Repeat("-", 70)+`", "Y    EIN", "Ok."]`)),
		psOut("{\n    \"rpcspan_collector\":  1,\n    \"host\":  \"G\",\n    \"firewall_profiles\":  [\n                           \"Domain Profile Settings:\",\n                           \"" +
			strings.Repeat("-", 70) + "\",\n                           \"State                                 ON\",\n                           \"Firewall Policy                       BlockInbound,AllowOutbound\"\n                       ]\n}\n"),
	}
	entries, err := os.ReadDir(collectorDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".json") {
			seeds = append(seeds, readTestdata(t, "collector", e.Name()))
		}
	}
	return seeds
}

func FuzzCollector(f *testing.F) {
	for _, s := range collectorSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		const file = "fuzz.json"
		r, err := ReadCollector(bytes.NewReader(b), file)
		if err != nil {
			t.Fatalf("ReadCollector: %v", err)
		}
		if r.Kind != KindCollector {
			t.Fatalf("kind %q", r.Kind)
		}
		if r.Fatal != nil {
			if !strings.HasPrefix(r.Fatal.Error(), file+":") {
				t.Fatalf("Fatal %q does not name the file and line", r.Fatal)
			}
			return
		}
		for _, p := range r.Problems {
			if p.Src.File != file || p.Src.Line < 1 || p.Msg == "" {
				t.Fatalf("problem %+v has no file, line or message", p)
			}
		}
		for _, h := range r.Hosts {
			if err := audit.ValidHostName(h.Name); err != nil {
				t.Fatalf("host %q: %v", h.Name, err)
			}
			for _, o := range h.Ranges {
				if o.Range.First > o.Range.Last || o.Src.Line < 1 || o.Origin != audit.Captured {
					t.Fatalf("host %s: bad range %+v", h.Name, o)
				}
			}
			for _, e := range h.Excluded {
				if e.Range.First > e.Range.Last || e.Src.Line < 1 {
					t.Fatalf("host %s: bad excluded range %+v", h.Name, e)
				}
			}
			for _, a := range h.Addresses {
				if !a.Addr.IsValid() || a.Addr.Zone() != "" || a.Addr.Is4In6() {
					t.Fatalf("host %s: bad address %v", h.Name, a.Addr)
				}
			}
			for _, p := range h.FirewallProfiles {
				for _, s := range []audit.Source{p.StateSrc, p.InboundSrc} {
					if !s.IsZero() && (s.File != file || s.Line < 1) {
						t.Fatalf("host %s: firewall profile %+v names no line of the file", h.Name, p)
					}
				}
				if (p.State == audit.FirewallStateNotShown) != p.StateSrc.IsZero() || (p.Inbound == audit.InboundNotShown) != p.InboundSrc.IsZero() {
					t.Fatalf("host %s: firewall profile %+v has a setting without its line", h.Name, p)
				}
			}
			for _, c := range h.FirewallCaptures {
				lines := strings.Split(strings.TrimSuffix(c.Text, "\n"), "\n")
				if c.Src.File != file || c.Src.Line < 1 || strings.TrimSpace(c.Text) == "" || len(lines) != len(c.Lines) || c.Lines[0] != c.Src.Line {
					t.Fatalf("host %s: bad firewall capture %+v", h.Name, c)
				}
				for i, l := range lines {
					if strings.HasSuffix(l, "\r") || c.Lines[i] < c.Src.Line || c.FileLine(i+1) != c.Lines[i] {
						t.Fatalf("host %s: firewall capture line %d %q maps to %d", h.Name, i+1, l, c.Lines[i])
					}
				}
			}
		}
	})
}

// BenchmarkReadCollector reads the fan-out sample (three hosts, UTF-16LE):
//
//	go test ./audit/ingest -run '^$' -bench ReadCollector
func BenchmarkReadCollector(b *testing.B) {
	data := readTestdata(b, "collector", "fanout_3hosts_ps51.json")
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		r, _ := ReadCollector(bytes.NewReader(data), "fanout.json")
		if len(r.Hosts) != 3 {
			b.Fatalf("%d hosts", len(r.Hosts))
		}
	}
}
