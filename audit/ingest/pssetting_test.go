package ingest

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rpcspan/rpcspan/audit"
)

// psBoth returns the observations a Get-Net*Setting range gives: one per
// family.
func psBoth(proto string, first, last uint16, line int) []audit.RangeObs {
	return []audit.RangeObs{
		netshObs(audit.MakeKey(proto, 4), first, last, line),
		netshObs(audit.MakeKey(proto, 6), first, last, line),
	}
}

var (
	fmtTCPSetting = []string{formatPSTCPSetting}
	fmtUDPSetting = []string{formatPSUDPSetting}
)

func TestPSSettingCorpus(t *testing.T) {
	tests := []struct {
		file string
		want netshWant
	}{
		{"get-nettcpsetting_ws2012_wireshark_ask.txt", netshWant{Ranges: psBoth("tcp", 49152, 65535, 34), Formats: fmtTCPSetting}},
		// 16358 ports, as the author's machine said.
		{"get-nettcpsetting_win10plus_etwanalyzer.txt", netshWant{Ranges: psBoth("tcp", 49152, 65509, 22), Formats: fmtTCPSetting}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			text := Decode(readTestdata(t, "corpus", "pssetting", tt.file))
			got, _ := netshGot(scanPSSetting, text)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("scanPSSetting(%s) mismatch (-want +got):\n%s", tt.file, diff)
			}
		})
	}
}

// psTCP builds Get-NetTCPSetting list output: one block per setting name,
// each "name=start/count".
func psTCP(blocks ...string) string {
	var b strings.Builder
	b.WriteString("PS C:\\> Get-NetTCPSetting\n\n")
	for _, blk := range blocks {
		name, rest, _ := strings.Cut(blk, "=")
		start, count, _ := strings.Cut(rest, "/")
		b.WriteString("\nSettingName                   : " + name + "\nMinRto(ms)                    : 300\n")
		b.WriteString("DynamicPortRangeStartPort     : " + start + "\nDynamicPortRangeNumberOfPorts : " + count + "\n")
	}
	b.WriteString("\n\n")
	return b.String()
}

func TestPSSettingSynthetic(t *testing.T) {
	udp := "PS C:\\> Get-NetUDPSetting\n\nDynamicPortRangeStartPort     : 10000\nDynamicPortRangeNumberOfPorts : 5000   \n\n\n"
	tests := []struct {
		name string
		text string
		want netshWant
	}{
		{
			name: "automatic is skipped",
			text: psTCP("Automatic=/", "Internet=50000/1000"),
			// Lines: 1 prompt, 2-3 blank, 4-7 Automatic, 8 blank, 9 SettingName, 11 StartPort.
			want: netshWant{Ranges: psBoth("tcp", 50000, 50999, 11), Formats: fmtTCPSetting},
		},
		{
			name: "only automatic",
			text: psTCP("Automatic=/"),
			want: netshWant{Formats: fmtTCPSetting},
		},
		{
			name: "later block disagreeing is ignored",
			text: psTCP("Internet=50000/1000", "Datacenter=49152/16384"),
			want: netshWant{Ranges: psBoth("tcp", 50000, 50999, 6), Formats: fmtTCPSetting},
		},
		{
			name: "udp setting",
			text: udp,
			want: netshWant{Ranges: psBoth("udp", 10000, 14999, 3), Formats: fmtUDPSetting},
		},
		{
			name: "both commands",
			text: psTCP("Automatic=/", "Internet=49152/16384") + udp,
			want: netshWant{
				Ranges:  append(psBoth("tcp", 49152, 65535, 11), psBoth("udp", 10000, 14999, 17)...),
				Formats: []string{formatPSTCPSetting, formatPSUDPSetting},
			},
		},
		{
			name: "udp output right after tcp without a blank line",
			text: "SettingName : Internet\nDynamicPortRangeStartPort : 49152\nDynamicPortRangeNumberOfPorts : 16384\nPS C:\\> get-netudpsetting\nDynamicPortRangeStartPort : 1025\nDynamicPortRangeNumberOfPorts : 3976\n",
			want: netshWant{
				Ranges:  append(psBoth("tcp", 49152, 65535, 2), psBoth("udp", 1025, 5000, 5)...),
				Formats: []string{formatPSTCPSetting, formatPSUDPSetting},
			},
		},
		{
			name: "selected properties after Get-NetTCPSetting",
			text: "PS C:\\> Get-NetTCPSetting -SettingName Internet | Select-Object DynamicPortRange*\n\nDynamicPortRangeStartPort     : 49152\nDynamicPortRangeNumberOfPorts : 16384\n",
			want: netshWant{Ranges: psBoth("tcp", 49152, 65535, 3), Formats: fmtTCPSetting},
		},
		{
			name: "start not a number",
			text: psTCP("Internet=4915x/16384", "Datacenter=49152/16384"),
			want: netshWant{Ranges: psBoth("tcp", 49152, 65535, 11), Problems: []int{6}, Formats: fmtTCPSetting},
		},
		{
			name: "start beyond 65535",
			text: psTCP("Internet=70000/16384"),
			want: netshWant{Problems: []int{6}, Formats: fmtTCPSetting},
		},
		{
			name: "count not a number",
			text: psTCP("Internet=49152/many"),
			want: netshWant{Problems: []int{7}, Formats: fmtTCPSetting},
		},
		{
			name: "range beyond 65535",
			text: psTCP("Internet=60000/10000"),
			want: netshWant{Problems: []int{7}, Formats: fmtTCPSetting},
		},
		{
			name: "empty count",
			text: psTCP("Internet=49152/"),
			want: netshWant{Problems: []int{7}, Formats: fmtTCPSetting},
		},
		{
			name: "empty start",
			text: psTCP("Internet=/16384"),
			want: netshWant{Problems: []int{6}, Formats: fmtTCPSetting},
		},
		{
			name: "count elided",
			text: "SettingName : Internet\nDynamicPortRangeStartPort : 49152\n...\n",
			want: netshWant{Problems: []int{2}, Formats: fmtTCPSetting},
		},
		{
			name: "start elided",
			text: "SettingName : Internet\n...\nDynamicPortRangeNumberOfPorts : 16384\n",
			want: netshWant{Problems: []int{3}, Formats: fmtTCPSetting},
		},
		{
			name: "auto reuse range is not the dynamic range",
			text: "SettingName : Internet\nAutoReusePortRangeStartPort : 0\nAutoReusePortRangeNumberOfPorts : 0\n",
		},
		{
			name: "unrelated list",
			text: "Name : eth0\nStatus : Up\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := netshGot(scanPSSetting, tt.text)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("scanPSSetting(%q) mismatch (-want +got):\n%s", tt.text, diff)
			}
		})
	}
}

func TestPSSettingUDPUTF16(t *testing.T) {
	text := "PS C:\\Users\\admin> Get-NetUDPSetting\r\n\r\nDynamicPortRangeStartPort     : 49152\r\nDynamicPortRangeNumberOfPorts : 16384\r\n\r\n\r\n"
	r, err := ReadCapture(bytes.NewReader(utf16LE(text, true)), "f")
	if err != nil {
		t.Fatalf("ReadCapture: %v", err)
	}
	if len(r.Hosts) != 1 {
		t.Fatalf("ReadCapture gave %d hosts, want 1", len(r.Hosts))
	}
	if diff := cmp.Diff(psBoth("udp", 49152, 65535, 3), r.Hosts[0].Ranges); diff != "" {
		t.Errorf("ranges mismatch (-want +got):\n%s", diff)
	}
	if !slices.Contains(r.Formats, formatPSUDPSetting) {
		t.Errorf("formats = %v, want %q among them", r.Formats, formatPSUDPSetting)
	}
	if len(r.Problems) != 0 {
		t.Errorf("problems = %v, want none", r.Problems)
	}
}

func FuzzPSSetting(f *testing.F) {
	seedDir(f, "testdata/corpus/pssetting")
	f.Add([]byte(psTCP("Automatic=/", "Internet=49152/16384", "Compat=x/70000")))
	f.Add(utf16LE("Get-NetUDPSetting\r\nDynamicPortRangeStartPort : 1\r\nDynamicPortRangeNumberOfPorts : 65535\r\n", true))
	f.Fuzz(func(t *testing.T, data []byte) {
		lines := SplitLines(Decode(data))
		c := newCapture("f")
		scanPSSetting(c, lines)
		netshCheckSane(t, c, len(lines))
	})
}
