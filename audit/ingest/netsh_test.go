package ingest

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/text/encoding/charmap"

	"github.com/rpcspan/rpcspan/audit"
)

// netshWant is what one capture should yield. Sources are compared by line
// only; the file name is the one given to newCapture.
type netshWant struct {
	Ranges   []audit.RangeObs
	Excluded []audit.Excluded
	Problems []int // lines of the problems, in order
	Formats  []string
}

func netshObs(k audit.Key, first, last uint16, line int) audit.RangeObs {
	return audit.RangeObs{Key: k, Range: audit.PortRange{First: first, Last: last}, Origin: audit.Captured, Src: audit.Source{File: "f", Line: line}}
}

func netshEx(k audit.Key, first, last uint16, admin bool, line int) audit.Excluded {
	return audit.Excluded{Key: k, Range: audit.PortRange{First: first, Last: last}, Administered: admin, Src: audit.Source{File: "f", Line: line}}
}

// netshGot runs scan over text the way parseCapture does and returns what it
// recorded, with problem lines in place of problems.
func netshGot(scan scanner, text string) (netshWant, *capture) {
	c := newCapture("f")
	scan(c, SplitLines(text))
	got := netshWant{Ranges: c.host.Ranges, Excluded: c.host.Excluded, Formats: c.formats}
	for _, p := range c.problems {
		got.Problems = append(got.Problems, p.Src.Line)
	}
	return got, c
}

var (
	fmtDyn = []string{formatNetshDynamic}
	fmtEx  = []string{formatNetshExcluded}
)

func TestNetshCorpus(t *testing.T) {
	tcpHyperV := []audit.Excluded{
		netshEx(audit.TCP4, 80, 80, false, 5),
		netshEx(audit.TCP4, 81, 81, false, 6),
		netshEx(audit.TCP4, 88, 88, false, 7),
		netshEx(audit.TCP4, 443, 443, false, 8),
		netshEx(audit.TCP4, 2869, 2869, false, 9),
		netshEx(audit.TCP4, 4041, 5040, false, 10),
		netshEx(audit.TCP4, 5041, 5140, false, 11),
		netshEx(audit.TCP4, 5141, 5240, false, 12),
		netshEx(audit.TCP4, 5241, 5340, false, 13),
		netshEx(audit.TCP4, 5357, 5357, false, 14),
		netshEx(audit.TCP4, 8000, 8000, false, 15),
		netshEx(audit.TCP4, 50000, 50059, true, 16),
	}
	tcpDugate := []audit.Excluded{
		netshEx(audit.TCP4, 80, 80, false, 6),
		netshEx(audit.TCP4, 443, 443, false, 7),
		netshEx(audit.TCP4, 2323, 2323, false, 8),
		netshEx(audit.TCP4, 5357, 5357, false, 9),
		netshEx(audit.TCP4, 49286, 49385, false, 10),
		netshEx(audit.TCP4, 49737, 49836, false, 11),
		netshEx(audit.TCP4, 50000, 50059, true, 12),
		netshEx(audit.TCP4, 50160, 50259, false, 13),
		netshEx(audit.TCP4, 50260, 50359, false, 14),
		netshEx(audit.TCP4, 51466, 51565, false, 15),
		netshEx(audit.TCP4, 56760, 56859, false, 16),
	}
	var udpFrameLink []audit.Excluded
	for _, start := range []int{12, 25} {
		udpFrameLink = append(udpFrameLink,
			netshEx(audit.UDP4, 50000, 50059, true, start),
			netshEx(audit.UDP4, 57566, 57665, false, start+1),
			netshEx(audit.UDP4, 57666, 57765, false, start+2),
			netshEx(audit.UDP4, 59236, 59335, false, start+3),
			netshEx(audit.UDP4, 59336, 59435, false, start+4),
		)
	}
	tests := []struct {
		file string
		want netshWant
	}{
		{"en_tcp_datadog.txt", netshWant{Ranges: []audit.RangeObs{netshObs(audit.TCP4, 49152, 65535, 4)}, Formats: fmtDyn}},
		{"fr_tcp_datadog.txt", netshWant{Ranges: []audit.RangeObs{netshObs(audit.TCP4, 49152, 65535, 4)}, Formats: fmtDyn}},
		{"fr_tcp_rempart_real_win11.txt", netshWant{Ranges: []audit.RangeObs{netshObs(audit.TCP4, 49152, 65535, 4)}, Formats: fmtDyn}},
		// Start 1024 breaks the netsh limits; it is recorded for the audit to judge.
		{"en_tcp_widened_1024_64511_vs_installer.txt", netshWant{Ranges: []audit.RangeObs{netshObs(audit.TCP4, 1024, 65534, 3)}, Formats: fmtDyn}},
		{"excludedportrange_tcp_empty_go_test.txt", netshWant{Formats: fmtEx}},
		{"excludedportrange_tcp_hyperv_blog.txt", netshWant{Excluded: tcpHyperV, Formats: fmtEx}},
		{"excludedportrange_tcp_raw_trailing_spaces_dugate_log.txt", netshWant{Excluded: tcpDugate, Formats: fmtEx}},
		{"excludedportrange_udp_plus_dynamicport_framelink.txt", netshWant{
			Ranges:   []audit.RangeObs{netshObs(audit.UDP4, 49152, 65535, 4)},
			Excluded: udpFrameLink,
			Formats:  []string{formatNetshDynamic, formatNetshExcluded},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			text := Decode(readTestdata(t, "corpus", "netsh", tt.file))
			got, _ := netshGot(scanNetsh, text)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("scanNetsh(%s) mismatch (-want +got):\n%s", tt.file, diff)
			}
		})
	}
}

func TestNetshSynthetic(t *testing.T) {
	dyn := func(proto, start, count string) string {
		return "\nProtocol " + proto + " Dynamic Port Range\n---------------------------------\nStart Port      : " + start + "\nNumber of Ports : " + count + "\n\n"
	}
	tests := []struct {
		name string
		text string
		want netshWant
	}{
		{
			name: "trailing spaces and tabs",
			text: "Protocol tcp Dynamic Port Range   \n---------------------------------  \t\nStart Port      : 49152  \nNumber of Ports : 16384\t\n",
			want: netshWant{Ranges: []audit.RangeObs{netshObs(audit.TCP4, 49152, 65535, 3)}, Formats: fmtDyn},
		},
		{
			name: "blank line between dashes and values",
			text: "Protocol udp Dynamic Port Range\n---------------------------------\n\nStart Port      : 1025\n\nNumber of Ports : 3976\n",
			want: netshWant{Ranges: []audit.RangeObs{netshObs(audit.UDP4, 1025, 5000, 4)}, Formats: fmtDyn},
		},
		{
			name: "several blocks without commands are IPv4",
			text: dyn("tcp", "49152", "16384") + dyn("udp", "1025", "59000"),
			want: netshWant{Ranges: []audit.RangeObs{netshObs(audit.TCP4, 49152, 65535, 4), netshObs(audit.UDP4, 1025, 60024, 10)}, Formats: fmtDyn},
		},
		{
			name: "german labels and a short dash line",
			text: "Dynamischer Portbereich für Protokoll TCP\n----------\nStartport       : 50000\nAnzahl Ports    : 255\n",
			want: netshWant{Ranges: []audit.RangeObs{netshObs(audit.TCP4, 50000, 50254, 3)}, Formats: fmtDyn},
		},
		{
			name: "start port beyond 65535",
			text: dyn("tcp", "70000", "16384"),
			want: netshWant{Problems: []int{4}, Formats: fmtDyn},
		},
		{
			name: "count not a number",
			text: dyn("tcp", "49152", "lots"),
			want: netshWant{Problems: []int{5}, Formats: fmtDyn},
		},
		{
			name: "empty start port",
			text: dyn("tcp", "", "16384"),
			want: netshWant{Problems: []int{4}, Formats: fmtDyn},
		},
		{
			name: "range ends beyond 65535",
			text: dyn("udp", "60000", "10000"),
			want: netshWant{Problems: []int{5}, Formats: fmtDyn},
		},
		{
			name: "zero ports",
			text: dyn("udp", "60000", "0"),
			want: netshWant{Problems: []int{5}, Formats: fmtDyn},
		},
		{
			name: "huge numbers",
			text: dyn("tcp", "99999999999999999999999", "1"),
			want: netshWant{Problems: []int{4}, Formats: fmtDyn},
		},
		{
			name: "prompt decides family, header decides protocol",
			text: "C:\\Windows\\system32>netsh int ipv6 show dynamicport udp\n" + dyn("tcp", "49152", "16384"),
			want: netshWant{Ranges: []audit.RangeObs{netshObs(audit.TCP6, 49152, 65535, 5)}, Formats: fmtDyn},
		},
		{
			name: "interface spelled out in capitals",
			text: "C:\\>NETSH INTERFACE IPV6 SHOW DYNAMICPORT TCP\n" + dyn("tcp", "49152", "16384"),
			want: netshWant{Ranges: []audit.RangeObs{netshObs(audit.TCP6, 49152, 65535, 5)}, Formats: fmtDyn},
		},
		{
			name: "powershell prompt and later ipv4 command",
			text: "PS C:\\> netsh int ipv6 show dynamicport tcp\n" + dyn("tcp", "49152", "16384") +
				"> netsh int ipv4 show dynamicport tcp\n" + dyn("tcp", "10000", "1000"),
			want: netshWant{Ranges: []audit.RangeObs{netshObs(audit.TCP6, 49152, 65535, 5), netshObs(audit.TCP4, 10000, 10999, 12)}, Formats: fmtDyn},
		},
		{
			name: "netsh shell prompt",
			text: "netsh interface ipv6>show dynamicport udp\n" + dyn("udp", "49152", "16384"),
			want: netshWant{Ranges: []audit.RangeObs{netshObs(audit.UDP6, 49152, 65535, 5)}, Formats: fmtDyn},
		},
		{
			name: "other netsh commands do not change the family",
			text: "C:\\>netsh int ipv6 show dynamicport tcp\n" + dyn("tcp", "49152", "16384") +
				"C:\\>netsh int tcp show global\nC:\\>echo netsh int ipv4 show dynamicport tcp\n" + dyn("tcp", "49152", "16384"),
			want: netshWant{Ranges: []audit.RangeObs{netshObs(audit.TCP6, 49152, 65535, 5), netshObs(audit.TCP6, 49152, 65535, 13)}, Formats: fmtDyn},
		},
		{
			name: "tcp global parameters are not a dynamicport block",
			text: "Querying active state...\n\nTCP Global Parameters\n----------------------------------------------\nReceive-Side Scaling State          : enabled\nReceive Window Auto-Tuning Level    : normal\nAdd-On Congestion Control Provider  : default\n",
		},
		{
			name: "tcp statistics are not a dynamicport block",
			text: "TCP Statistics\n------------------------------------------------------\nTimeout Algorithm:                  Van Jacobson's Algorithm\nMinimum Timeout:                    1 ms\nMaximum Timeout:                    4294967295 ms\n",
		},
		{
			name: "header without protocol word",
			text: "Protocol tcpx Dynamic Port Range\n---------------------------------\nStart Port      : 49152\nNumber of Ports : 16384\n",
		},
		{
			name: "excluded block for ipv6 udp",
			text: "C:\\>netsh int ipv6 show excludedportrange udp\n\nProtocol udp Port Exclusion Ranges\n\nStart Port    End Port\n----------    --------\n      5353        5353\n     50000       50059     *   \n\n* - Administered port exclusions.\n",
			want: netshWant{Excluded: []audit.Excluded{netshEx(audit.UDP6, 5353, 5353, false, 7), netshEx(audit.UDP6, 50000, 50059, true, 8)}, Formats: fmtEx},
		},
		{
			name: "excluded header directly above the titles",
			text: "Plages d'exclusion de ports du protocole tcp\nPort de début    Port de fin\n-------------    -----------\n      8000        8005\n",
			want: netshWant{Excluded: []audit.Excluded{netshEx(audit.TCP4, 8000, 8005, false, 4)}, Formats: fmtEx},
		},
		{
			name: "excluded bad rows",
			text: "Protocol tcp Port Exclusion Ranges\n\nStart Port    End Port\n----------    --------\n       100          90\n     70000       70001\n      5OOO        5010\n      6000        6001     x\n      6000\n      7000        7001\n\n* - Administered port exclusions.\n",
			want: netshWant{Excluded: []audit.Excluded{netshEx(audit.TCP4, 7000, 7001, false, 10)}, Problems: []int{5, 6, 7, 8, 9}, Formats: fmtEx},
		},
		{
			name: "excluded rows end at the next command",
			text: "Protocol tcp Port Exclusion Ranges\n\nStart Port    End Port\n----------    --------\n      8000        8005\nC:\\>netsh int ipv6 show dynamicport tcp\n" + dyn("tcp", "49152", "16384"),
			want: netshWant{
				Ranges:   []audit.RangeObs{netshObs(audit.TCP6, 49152, 65535, 10)},
				Excluded: []audit.Excluded{netshEx(audit.TCP4, 8000, 8005, false, 5)},
				Formats:  []string{formatNetshExcluded, formatNetshDynamic},
			},
		},
		{
			name: "udp connections table is not an exclusion table",
			text: "MIB-II UDP Listener Entry\nLocal Address    Port\n---------------  -----\n0.0.0.0          123\n0.0.0.0          500\n",
		},
		{
			name: "row of no-break spaces ends the table",
			text: "Protocol tcp Port Exclusion Ranges\nStart Port    End Port\n----------    --------\n\u00a0\u00a0\n      8000        8005\n",
			want: netshWant{Formats: fmtEx},
		},
		{
			name: "dash line at the top",
			text: "---------------------------------\n----------    --------\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := netshGot(scanNetsh, tt.text)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("scanNetsh(%q) mismatch (-want +got):\n%s", tt.text, diff)
			}
		})
	}
}

// netshBatch is what a batch file with echo on writes on French Windows.
const netshBatch = `
C:\Windows\system32>netsh int ipv4 show dynamicport tcp

Plage de ports dynamique du protocole tcp
-------------------------------------------
Port de démarrage   : 49152
Nombre de ports     : 16384


C:\Windows\system32>netsh int ipv4 show dynamicport udp

Plage de ports dynamique du protocole udp
-------------------------------------------
Port de démarrage   : 49152
Nombre de ports     : 16384


C:\Windows\system32>netsh int ipv6 show dynamicport tcp

Plage de ports dynamique du protocole tcp
-------------------------------------------
Port de démarrage   : 10000
Nombre de ports     : 20000


C:\Windows\system32>netsh int ipv6 show dynamicport udp

Plage de ports dynamique du protocole udp
-------------------------------------------
Port de démarrage   : 1024
Nombre de ports     : 64511


C:\Windows\system32>netsh int ipv4 show excludedportrange protocol=tcp

Plages d'exclusion de ports du protocole tcp

Port de début    Port de fin
-------------    -----------
      5357        5357
     50000       50059     *

* - Exclusions de ports administrées.


C:\Windows\system32>netsh int ipv6 show excludedportrange protocol=udp

Plages d'exclusion de ports du protocole udp

Port de début    Port de fin
-------------    -----------

* - Exclusions de ports administrées.

`

func TestNetshBatchEncodings(t *testing.T) {
	crlf := strings.ReplaceAll(netshBatch, "\n", "\r\n")
	cp850, err := charmap.CodePage850.NewEncoder().Bytes([]byte(crlf))
	if err != nil {
		t.Fatal(err)
	}
	wantRanges := []audit.RangeObs{
		netshObs(audit.TCP4, 49152, 65535, 6),
		netshObs(audit.UDP4, 49152, 65535, 14),
		netshObs(audit.TCP6, 10000, 29999, 22),
		netshObs(audit.UDP6, 1024, 65534, 30),
	}
	wantEx := []audit.Excluded{
		netshEx(audit.TCP4, 5357, 5357, false, 40),
		netshEx(audit.TCP4, 50000, 50059, true, 41),
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"cp850 crlf", cp850},
		{"utf-16le bom crlf", utf16LE(crlf, true)},
		{"utf-8 lf", []byte(netshBatch)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ReadCapture(bytes.NewReader(tt.data), "f")
			if err != nil {
				t.Fatalf("ReadCapture: %v", err)
			}
			if len(r.Hosts) != 1 {
				t.Fatalf("ReadCapture gave %d hosts, want 1", len(r.Hosts))
			}
			h := r.Hosts[0]
			if diff := cmp.Diff(wantRanges, h.Ranges); diff != "" {
				t.Errorf("ranges mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(wantEx, h.Excluded); diff != "" {
				t.Errorf("excluded mismatch (-want +got):\n%s", diff)
			}
			for _, f := range []string{formatNetshDynamic, formatNetshExcluded} {
				if !slices.Contains(r.Formats, f) {
					t.Errorf("formats = %v, want %q among them", r.Formats, f)
				}
			}
			if len(r.Problems) != 0 {
				t.Errorf("problems = %v, want none", r.Problems)
			}
		})
	}
}

func TestNetshCommandFamily(t *testing.T) {
	tests := []struct {
		line string
		fam  int
		ok   bool
	}{
		{`C:\Windows\system32>netsh int ipv6 show dynamicport tcp`, 6, true},
		{`C:\>netsh interface ipv4 show excludedportrange protocol=udp`, 4, true},
		{`PS C:\> netsh.exe int ip sh dyn tcp`, 4, true},
		{`$ netsh int ipv6 show excludedportrange udp`, 6, true},
		{`> netsh int ipv6 show dynamicport tcp > out.txt`, 6, true},
		{`netsh int ipv6 show dynamicport tcp`, 6, true},
		{`netsh interface ipv6>show dynamicport tcp`, 6, true},
		{`netsh int ipv6 set dynamicport tcp start=10000 num=1000`, 0, false},
		{`netsh int tcp show global`, 0, false},
		{`echo netsh int ipv6 show dynamicport tcp`, 0, false},
		{`netshx int ipv6 show dynamicport tcp`, 0, false},
		{`netsh`, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			fam, ok := netshCommandFamily(tt.line)
			if fam != tt.fam || ok != tt.ok {
				t.Errorf("netshCommandFamily(%q) = %d, %v, want %d, %v", tt.line, fam, ok, tt.fam, tt.ok)
			}
		})
	}
}

// netshCheckSane fails when a scanner's output breaks an invariant callers
// rely on, whatever the input.
func netshCheckSane(t *testing.T, c *capture, nlines int) {
	t.Helper()
	inFile := func(s audit.Source) bool { return s.File == "f" && s.Line >= 1 && s.Line <= nlines }
	for _, r := range c.host.Ranges {
		if r.Range.First > r.Range.Last || !slices.Contains(audit.Keys, r.Key) || !inFile(r.Src) || r.Origin != audit.Captured {
			t.Errorf("bad range %+v", r)
		}
	}
	for _, e := range c.host.Excluded {
		if e.Range.First > e.Range.Last || !slices.Contains(audit.Keys, e.Key) || !inFile(e.Src) {
			t.Errorf("bad exclusion %+v", e)
		}
	}
	for _, p := range c.problems {
		if !inFile(p.Src) || p.Msg == "" {
			t.Errorf("bad problem %+v", p)
		}
	}
	if (len(c.host.Ranges) > 0 || len(c.host.Excluded) > 0) && len(c.formats) == 0 {
		t.Errorf("values recorded without a format")
	}
}

func FuzzNetsh(f *testing.F) {
	seedDir(f, "testdata/corpus/netsh")
	f.Add([]byte(netshBatch))
	f.Add(utf16LE(strings.ReplaceAll(netshBatch, "\n", "\r\n"), true))
	f.Add([]byte("Protocol tcp Dynamic Port Range\n----------\nA : 70000\nB : x\n"))
	f.Add([]byte("Protocol tcp Port Exclusion Ranges\nS E\n--- ---\n1 2 *\n3\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		lines := SplitLines(Decode(data))
		c := newCapture("f")
		scanNetsh(c, lines)
		netshCheckSane(t, c, len(lines))
	})
}

// BenchmarkScanNetsh measures the netsh and Get-Net*Setting scanners on a
// batch capture: go test ./audit/ingest -run '^$' -bench ScanNetsh
func BenchmarkScanNetsh(b *testing.B) {
	lines := SplitLines(netshBatch + psTCP("Automatic=/", "Internet=49152/16384", "Datacenter=49152/16384"))
	for b.Loop() {
		c := newCapture("f")
		scanNetsh(c, lines)
		scanPSSetting(c, lines)
	}
}

// TestNetshPreVista reads Windows Server 2003's refusal of "netsh int ipv4
// show dynamicport" as evidence of a pre-Vista host.
func TestNetshPreVista(t *testing.T) {
	text := "\r\nC:\\WINDOWS\\system32>netsh int ipv4 show dynamicport tcp\r\n" +
		"The following command was not found: int ipv4 show dynamicport tcp.\r\n"
	r := parseCapture(Decode([]byte(text)), "LEG.txt")
	if r.Kind != KindCapture || len(r.Hosts) != 1 {
		t.Fatalf("parseCapture = %+v, want one capture host", r)
	}
	if got := r.Hosts[0].PreVista.String(); got != "LEG.txt:3" {
		t.Errorf("PreVista = %q, want LEG.txt:3", got)
	}
	if len(r.Hosts[0].Ranges) != 0 {
		t.Errorf("Ranges = %v, want none", r.Hosts[0].Ranges)
	}
}
