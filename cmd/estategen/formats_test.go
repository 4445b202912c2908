package main

import (
	"bytes"
	"encoding/hex"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/text/encoding/charmap"

	"github.com/rpcspan/rpcspan/audit"
)

func TestNetshDynamic(t *testing.T) {
	tests := []struct {
		name  string
		lang  *netshLang
		proto string
		r     audit.PortRange
		want  string
	}{
		// Layouts of the corpus samples en_tcp_datadog.txt and
		// fr_tcp_rempart_real_win11.txt, with CRLF.
		{"en", langEN, "tcp", audit.DefaultRange,
			"\r\nProtocol tcp Dynamic Port Range\r\n---------------------------------\r\n" +
				"Start Port      : 49152\r\nNumber of Ports : 16384\r\n\r\n"},
		{"en-udp-exchange", langEN, "udp", audit.Exchange2007Range,
			"\r\nProtocol udp Dynamic Port Range\r\n---------------------------------\r\n" +
				"Start Port      : 1025\r\nNumber of Ports : 58976\r\n\r\n"},
		{"fr", langFR, "tcp", audit.DefaultRange,
			"\r\nPlage de ports dynamique du protocole tcp\r\n-------------------------------------------\r\n" +
				"Port de démarrage   : 49152\r\nNombre de ports     : 16384\r\n\r\n"},
		{"de", langDE, "tcp", audit.PortRange{First: 1024, Last: 65534},
			"\r\nDynamischer Portbereich für das Protokoll tcp\r\n-----------------------------------------------\r\n" +
				"Startport        : 1024\r\nAnzahl der Ports : 64511\r\n\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var l lines
			netshDynamic(&l, tt.lang, tt.proto, tt.r)
			if d := cmp.Diff(tt.want, l.String()); d != "" {
				t.Errorf("netshDynamic(%s, %s, %v) (-want +got):\n%s", tt.name, tt.proto, tt.r, d)
			}
		})
	}
}

func TestNetshExcluded(t *testing.T) {
	rows := []exclusion{
		{r: audit.PortRange{First: 80, Last: 80}},
		{r: audit.PortRange{First: 50000, Last: 50059}, admin: true},
		{r: audit.PortRange{First: 50160, Last: 50259}},
	}
	tests := []struct {
		name string
		lang *netshLang
		rows []exclusion
		want string
	}{
		// The layout of excludedportrange_tcp_raw_trailing_spaces_dugate_log.txt.
		{"en", langEN, rows, "\r\nProtocol tcp Port Exclusion Ranges\r\n\r\n" +
			"Start Port    End Port      \r\n----------    --------      \r\n" +
			"        80          80      \r\n     50000       50059     *\r\n     50160       50259      \r\n" +
			"\r\n* - Administered port exclusions.\r\n\r\n"},
		{"en-empty", langEN, nil, "\r\nProtocol tcp Port Exclusion Ranges\r\n\r\n" +
			"Start Port    End Port      \r\n----------    --------      \r\n" +
			"\r\n* - Administered port exclusions.\r\n\r\n"},
		{"fr", langFR, rows[1:2], "\r\nProtocole tcp Plages d’exclusion de ports\r\n\r\n" +
			"Port de début    Port de fin\r\n-------------    -----------\r\n" +
			"     50000       50059     *\r\n" +
			"\r\n* - Exclusions de ports administrés.\r\n\r\n"},
		{"de", langDE, rows[1:2], "\r\nPortausschlussbereiche für das Protokoll \"tcp\"\r\n\r\n" +
			"Startport      Endport      \r\n----------    --------      \r\n" +
			"     50000       50059     *\r\n" +
			"\r\n* - Verwaltete Portausschlüsse.\r\n\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var l lines
			netshExcluded(&l, tt.lang, "tcp", tt.rows)
			if d := cmp.Diff(tt.want, l.String()); d != "" {
				t.Errorf("netshExcluded(%s) (-want +got):\n%s", tt.name, d)
			}
		})
	}
}

// utf16String encodes s as UTF-16LE without BOM.
func utf16Bytes(s string) []byte { return utf16LE(s)[2:] }

func TestRegHex(t *testing.T) {
	tests := []struct {
		name string
		typ  int
		data []byte
		want string
	}{
		// What Windows' reg.exe exports for these values (the expectations of
		// Wine's reg export tests, which were checked against Windows).
		{"Multiple strings", 7, multiSZ([]string{"Line1", "Line2", "Line3"}),
			`"Multiple strings"=hex(7):4c,00,69,00,6e,00,65,00,31,00,00,00,4c,00,69,00,6e,\` + "\r\n" +
				`  00,65,00,32,00,00,00,4c,00,69,00,6e,00,65,00,33,00,00,00,00,00`},
		{"String expansion", 2, utf16Bytes("%HOME%\\%PATH%\x00"),
			`"String expansion"=hex(2):25,00,48,00,4f,00,4d,00,45,00,25,00,5c,00,25,00,50,\` + "\r\n" +
				`  00,41,00,54,00,48,00,25,00,00,00`},
		{"Ports", 7, multiSZ([]string{"5000-5100", "5984"}),
			`"Ports"=hex(7):35,00,30,00,30,00,30,00,2d,00,35,00,31,00,30,00,30,00,00,00,35,\` + "\r\n" +
				`  00,39,00,38,00,34,00,00,00,00,00`},
		// The check after the next-to-last byte leaves the last one alone.
		{"Ports", 7, multiSZ([]string{"6000-6050"}),
			`"Ports"=hex(7):36,00,30,00,30,00,30,00,2d,00,36,00,30,00,35,00,30,00,00,00,00,\` + "\r\n" +
				`  00`},
		{"Short", 7, multiSZ([]string{"135"}), `"Short"=hex(7):31,00,33,00,35,00,00,00,00,00`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := regHex(tt.name, tt.typ, tt.data); got != tt.want {
				t.Errorf("regHex(%q) =\n%s\nwant\n%s", tt.name, got, tt.want)
			}
		})
	}
}

// decodeRegPorts reads "Ports" back from a .reg export: hex(7) bytes joined
// across continuation lines, UTF-16LE strings split at NUL. It also checks
// the line layout regedit uses.
func decodeRegPorts(t *testing.T, b []byte) (ports []string, regSZ bool) {
	t.Helper()
	if !bytes.HasPrefix(b, []byte{0xFF, 0xFE}) {
		t.Fatalf(".reg does not start with FF FE: % x", b[:min(4, len(b))])
	}
	text := decodeUTF16LE(t, b[2:])
	lines := strings.Split(strings.TrimSuffix(text, "\r\n"), "\r\n")
	if lines[0] != "Windows Registry Editor Version 5.00" || lines[1] != "" {
		t.Errorf(".reg header = %q", lines[:2])
	}
	for i := 0; i < len(lines); i++ {
		if len(lines[i]) > 80 {
			t.Errorf(".reg line %d longer than 80 columns: %q", i+1, lines[i])
		}
		if v, ok := strings.CutPrefix(lines[i], `"Ports"="`); ok {
			return []string{strings.TrimSuffix(v, `"`)}, true
		}
		v, ok := strings.CutPrefix(lines[i], `"Ports"=hex(7):`)
		if !ok {
			continue
		}
		for strings.HasSuffix(v, `\`) {
			i++
			next, ok := strings.CutPrefix(lines[i], "  ")
			if !ok || strings.HasPrefix(next, " ") {
				t.Fatalf(".reg continuation line %d not indented by two spaces: %q", i+1, lines[i])
			}
			v = strings.TrimSuffix(v, `\`) + next
		}
		raw, err := hex.DecodeString(strings.ReplaceAll(v, ",", ""))
		if err != nil {
			t.Fatalf(".reg hex(7) %q: %v", v, err)
		}
		s := decodeUTF16LE(t, raw)
		if !strings.HasSuffix(s, "\x00\x00") {
			t.Errorf("hex(7) %q does not end with two NULs", s)
		}
		return strings.Split(strings.TrimSuffix(s, "\x00\x00"), "\x00"), false
	}
	t.Fatalf(".reg has no Ports value:\n%s", text)
	return nil, false
}

func decodeUTF16LE(t *testing.T, b []byte) string {
	t.Helper()
	if len(b)%2 != 0 {
		t.Fatalf("UTF-16 text of odd length %d", len(b))
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = uint16(b[2*i]) | uint16(b[2*i+1])<<8
	}
	return string(utf16.Decode(u))
}

func TestRegRoundTrip(t *testing.T) {
	lists := [][]string{
		{"6000-6050"},
		{"5000-5100", "5984"},
		{"5000-5100", "5200-5300", "5400-5500", "6000-6100", "8085", "9000-9100", "10000-10100"},
		{"5001"},
	}
	for _, l := range lists {
		t.Run(strings.Join(l, ","), func(t *testing.T) {
			h := &host{rpc: l}
			got, sz := decodeRegPorts(t, renderReg(h))
			if sz {
				t.Errorf("renderReg(%q) wrote REG_SZ", l)
			}
			if d := cmp.Diff(l, got); d != "" {
				t.Errorf("renderReg(%q) decodes to %q (-want +got):\n%s", l, got, d)
			}
		})
	}
	got, sz := decodeRegPorts(t, renderReg(&host{rpc: []string{"5000-5500"}, rpcSZ: true}))
	if !sz || !cmp.Equal(got, []string{"5000-5500"}) {
		t.Errorf("REG_SZ host: got %q (REG_SZ %v), want \"5000-5500\" as REG_SZ", got, sz)
	}
}

// TestCaptureFiles reads back every capture of a generated estate and
// checks encoding, line ends and the facts they state.
func TestCaptureFiles(t *testing.T) {
	const n = 300
	dir, _ := generate(t, n, 11)
	r := rand.New(rand.NewPCG(11, 11^0x9E3779B97F4A7C15))
	e, err := newEstate(n, r)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, h := range e.hosts {
		hd := filepath.Join(dir, "captures", h.name)
		entries, err := os.ReadDir(hd)
		if h.noCapt {
			if err == nil {
				t.Errorf("%s has no capture in the plan but a folder on disk", h.name)
			}
			continue
		}
		if err != nil || len(entries) == 0 {
			t.Errorf("%s: no capture files: %v", h.name, err)
			continue
		}
		for _, en := range entries {
			name := en.Name()
			seen[name]++
			b, err := os.ReadFile(filepath.Join(hd, name))
			if err != nil {
				t.Fatal(err)
			}
			switch name {
			case "Get-NetTCPSetting.txt", "Get-NetUDPSetting.txt", "rpc-internet.reg":
				if !bytes.HasPrefix(b, []byte{0xFF, 0xFE}) {
					t.Errorf("%s/%s does not start with FF FE", h.name, name)
				}
				text := decodeUTF16LE(t, b[2:])
				checkCRLF(t, h.name+"/"+name, text)
				if name == "rpc-internet.reg" {
					ports, sz := decodeRegPorts(t, b)
					if sz != h.rpcSZ || !cmp.Equal(ports, h.rpc) {
						t.Errorf("%s/%s: Ports %q (REG_SZ %v), want %q (REG_SZ %v)", h.name, name, ports, sz, h.rpc, h.rpcSZ)
					}
				} else {
					checkPS(t, h, name, text)
				}
			case "netsh.txt":
				if bytes.HasPrefix(b, []byte{0xFF, 0xFE}) || bytes.HasPrefix(b, []byte{0xEF, 0xBB, 0xBF}) {
					t.Errorf("%s/netsh.txt has a BOM; cmd.exe writes none", h.name)
				}
				text, err := charmap.CodePage850.NewDecoder().String(string(b))
				if err != nil {
					t.Fatal(err)
				}
				if h.lang != langEN && !h.f.netshMissing && utf8.Valid(b) {
					t.Errorf("%s/netsh.txt (%s) is valid UTF-8; want code page 850", h.name, h.lang.code)
				}
				checkCRLF(t, h.name+"/"+name, text)
				checkNetsh(t, h, text)
			case "ipconfig.txt":
				text := string(b)
				checkCRLF(t, h.name+"/"+name, text)
				if !strings.Contains(text, ". : "+h.v4.String()) {
					t.Errorf("%s/ipconfig.txt does not show %s", h.name, h.v4)
				}
				if h.v6.IsValid() && !strings.Contains(text, ". : "+h.v6.String()) {
					t.Errorf("%s/ipconfig.txt does not show %s", h.name, h.v6)
				}
			case "smb.conf":
				if bytes.Contains(b, []byte("\r")) {
					t.Errorf("%s/smb.conf has CR; Linux writes LF", h.name)
				}
				want := "rpc server dynamic port range = " + h.sambaR.String()
				if h.sambaR != audit.DefaultRange && !bytes.Contains(b, []byte(want)) {
					t.Errorf("%s/smb.conf lacks %q", h.name, want)
				}
			default:
				t.Errorf("%s: unexpected file %q", h.name, name)
			}
		}
	}
	for _, f := range []string{"netsh.txt", "Get-NetTCPSetting.txt", "Get-NetUDPSetting.txt", "rpc-internet.reg", "ipconfig.txt", "smb.conf"} {
		if seen[f] == 0 {
			t.Errorf("no host has %s", f)
		}
	}
}

func checkCRLF(t *testing.T, name, text string) {
	t.Helper()
	if strings.Count(text, "\n") != strings.Count(text, "\r\n") || strings.Count(text, "\r") != strings.Count(text, "\r\n") {
		t.Errorf("%s: line ends are not all CRLF", name)
	}
	if !strings.HasSuffix(text, "\r\n") {
		t.Errorf("%s: does not end with CRLF", name)
	}
}

// checkNetsh reads netsh.txt the way rpcspan must: the prompt line says the
// family and protocol, the two "label : value" lines after the dashes give
// start and count.
func checkNetsh(t *testing.T, h *host, text string) {
	t.Helper()
	lines := strings.Split(text, "\r\n")
	keys := map[string]int{"ipv4 tcp": tcp4, "ipv4 udp": udp4, "ipv6 tcp": tcp6, "ipv6 udp": udp6}
	found := 0
	for i, l := range lines {
		_, cmdline, ok := strings.Cut(l, ">netsh int ")
		if !ok {
			continue
		}
		f := strings.Fields(cmdline)
		if f[2] != "dynamicport" {
			continue
		}
		if h.f.netshMissing {
			if lines[i+1] != "The following command was not found: int "+cmdline+"." {
				t.Errorf("%s: netsh on 2003 printed %q", h.name, lines[i+1])
			}
			continue
		}
		header, dashes := lines[i+2], lines[i+3]
		if utf8.RuneCountInString(dashes) != utf8.RuneCountInString(header)+2 || strings.Trim(dashes, "-") != "" {
			t.Errorf("%s: dash line %q under %q", h.name, dashes, header)
		}
		var vals [2]int
		for j := range vals {
			_, v, _ := strings.Cut(lines[i+4+j], ": ")
			vals[j], _ = strconv.Atoi(v)
		}
		want := h.ranges[keys[f[0]+" "+f[3]]]
		if start, count := want.NetshArgs(); vals != [2]int{start, count} {
			t.Errorf("%s: %s shows start %d count %d, want %v", h.name, cmdline, vals[0], vals[1], want)
		}
		found++
	}
	if !h.f.netshMissing {
		want := 2
		if h.f.netshV6 {
			want = 4
		}
		if found != want {
			t.Errorf("%s: %d dynamicport blocks, want %d", h.name, found, want)
		}
	}
}

func checkPS(t *testing.T, h *host, name, text string) {
	t.Helper()
	r := h.ranges[tcp4]
	if name == "Get-NetUDPSetting.txt" {
		r = h.ranges[udp4]
		if strings.Contains(text, "SettingName") {
			t.Errorf("%s/%s has a SettingName", h.name, name)
		}
	}
	start, count := r.NetshArgs()
	col := -1
	values := 0
	for _, l := range strings.Split(text, "\r\n") {
		if l == "" {
			continue
		}
		i := strings.Index(l, " : ")
		if col < 0 {
			col = i
		}
		if i != col {
			t.Errorf("%s/%s: %q not aligned at column %d", h.name, name, l, col)
		}
		k, v := strings.TrimSpace(l[:i]), l[i+3:]
		switch {
		case v == "":
		case k == "DynamicPortRangeStartPort" && v != strconv.Itoa(start),
			k == "DynamicPortRangeNumberOfPorts" && v != strconv.Itoa(count):
			t.Errorf("%s/%s: %q, want range %v", h.name, name, l, r)
		case k == "DynamicPortRangeStartPort":
			values++
		}
	}
	if want := map[bool]int{true: 1, false: 5}[name == "Get-NetUDPSetting.txt"]; values != want {
		t.Errorf("%s/%s: %d DynamicPortRangeStartPort values, want %d", h.name, name, values, want)
	}
}

func TestIPConfigLabel(t *testing.T) {
	// Label lines as ipconfig prints them (FORMATS.md and real output).
	tests := []struct{ label, want string }{
		{"IPv4 Address", "IPv4 Address. . . . . . . . . . . : "},
		{"IPv6 Address", "IPv6 Address. . . . . . . . . . . : "},
		{"Link-local IPv6 Address", "Link-local IPv6 Address . . . . . : "},
		{"Connection-specific DNS Suffix ", "Connection-specific DNS Suffix  . : "},
		{"Default Gateway", "Default Gateway . . . . . . . . . : "},
		{"Subnet Mask", "Subnet Mask . . . . . . . . . . . : "},
		{"Physical Address", "Physical Address. . . . . . . . . : "},
		{"Primary Dns Suffix ", "Primary Dns Suffix  . . . . . . . : "},
		{"Autoconfiguration Enabled", "Autoconfiguration Enabled . . . . : "},
		{"IP Address", "IP Address. . . . . . . . . . . . : "},
		{"Media State", "Media State . . . . . . . . . . . : "},
	}
	for _, tt := range tests {
		if got := ipcLabel(tt.label); got != tt.want {
			t.Errorf("ipcLabel(%q) = %q, want %q", tt.label, got, tt.want)
		}
	}
}

func TestOEM(t *testing.T) {
	b, err := oem("Port de démarrage ’ für")
	if err != nil {
		t.Fatal(err)
	}
	want := []byte("Port de d\x82marrage ' f\x81r")
	if !bytes.Equal(b, want) {
		t.Errorf("oem() = % x, want % x", b, want)
	}
}
