package main

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"

	"github.com/rpcspan/rpcspan/audit"
)

// The captures below are rendered the way Windows prints them, byte for
// byte: see /work/shared/corpus (FORMATS.md) for the real samples each
// layout follows. Text is built with "\r\n" line ends and encoded last.

const crlf = "\r\n"

// lines collects text with CRLF line ends.
type lines struct{ strings.Builder }

func (l *lines) line(s string) { l.WriteString(s); l.WriteString(crlf) }

func (l *lines) linef(format string, args ...any) { l.line(fmt.Sprintf(format, args...)) }

// netshLang holds netsh's strings in one display language.
type netshLang struct {
	code       string
	dynHeader  string // "%s" is the protocol
	startLabel string
	countLabel string
	labelWidth int // labels are padded to this many characters before ": "
	exclHeader string
	exclCols   string
	exclDashes string
	exclFooter string
}

// The translations come from real captures (English, French Windows 10 and
// 11, German Windows 10). netsh pads the column header and dash lines of the
// exclusion table to the width of its rows.
var (
	langEN = &netshLang{
		code:       "en",
		dynHeader:  "Protocol %s Dynamic Port Range",
		startLabel: "Start Port", countLabel: "Number of Ports", labelWidth: 16,
		exclHeader: "Protocol %s Port Exclusion Ranges",
		exclCols:   "Start Port    End Port",
		exclDashes: "----------    --------",
		exclFooter: "* - Administered port exclusions.",
	}
	langFR = &netshLang{
		code:       "fr",
		dynHeader:  "Plage de ports dynamique du protocole %s",
		startLabel: "Port de démarrage", countLabel: "Nombre de ports", labelWidth: 20,
		exclHeader: "Protocole %s Plages d’exclusion de ports",
		exclCols:   "Port de début    Port de fin",
		exclDashes: "-------------    -----------",
		exclFooter: "* - Exclusions de ports administrés.",
	}
	langDE = &netshLang{
		code:       "de",
		dynHeader:  "Dynamischer Portbereich für das Protokoll %s",
		startLabel: "Startport", countLabel: "Anzahl der Ports", labelWidth: 17,
		exclHeader: `Portausschlussbereiche für das Protokoll "%s"`,
		exclCols:   "Startport      Endport",
		exclDashes: "----------    --------",
		exclFooter: "* - Verwaltete Portausschlüsse.",
	}
)

// exclRowWidth is the width of an excludedportrange row: start port right
// aligned in 10 columns, end port in 12, then 6 for the "*" mark.
const exclRowWidth = 28

func rpad(s string, n int) string {
	if c := utf8.RuneCountInString(s); c < n {
		return s + strings.Repeat(" ", n-c)
	}
	return s
}

// netshDynamic renders "netsh int ipvX show dynamicport PROTO": a blank
// line, the header, dashes two longer than the header, the two values.
func netshDynamic(l *lines, lang *netshLang, proto string, r audit.PortRange) {
	start, count := r.NetshArgs()
	header := fmt.Sprintf(lang.dynHeader, proto)
	l.line("")
	l.line(header)
	l.line(strings.Repeat("-", utf8.RuneCountInString(header)+2))
	l.line(rpad(lang.startLabel, lang.labelWidth) + ": " + strconv.Itoa(start))
	l.line(rpad(lang.countLabel, lang.labelWidth) + ": " + strconv.Itoa(count))
	l.line("")
}

// netshExcluded renders "netsh int ipvX show excludedportrange
// protocol=PROTO", rows padded with trailing spaces as netsh prints them.
func netshExcluded(l *lines, lang *netshLang, proto string, rows []exclusion) {
	l.line("")
	l.line(fmt.Sprintf(lang.exclHeader, proto))
	l.line("")
	l.line(rpad(lang.exclCols, exclRowWidth))
	l.line(rpad(lang.exclDashes, exclRowWidth))
	for _, x := range rows {
		mark := " "
		if x.admin {
			mark = "*"
		}
		l.linef("%10d%12d     %s", x.r.First, x.r.Last, mark)
	}
	l.line("")
	l.line(lang.exclFooter)
	l.line("")
}

// echo is what cmd.exe prints for each command of a batch file run with
// echo on: a blank line, then the prompt and the command.
func echo(l *lines, prompt, cmd string) {
	l.line("")
	l.line(prompt + cmd)
}

// renderNetsh renders netsh.txt: the output of a collection batch file run
// with echo on and redirected to a file by cmd.exe, in the OEM code page.
func renderNetsh(h *host) ([]byte, error) {
	var l lines
	f := h.f
	if f.netshHost {
		echo(&l, f.prompt, "hostname")
		l.line(h.name)
	}
	type block struct {
		fam   string
		proto string
		key   int
	}
	blocks := []block{{"ipv4", "tcp", tcp4}, {"ipv4", "udp", udp4}}
	if f.netshV6 {
		blocks = append(blocks, block{"ipv6", "tcp", tcp6}, block{"ipv6", "udp", udp6})
	}
	for _, b := range blocks {
		cmd := "int " + b.fam + " show dynamicport " + b.proto
		echo(&l, f.prompt, "netsh "+cmd)
		if f.netshMissing {
			l.line("The following command was not found: " + cmd + ".")
			continue
		}
		netshDynamic(&l, h.lang, b.proto, h.ranges[b.key])
	}
	if f.netshExcl {
		echo(&l, f.prompt, "netsh int ipv4 show excludedportrange protocol=tcp")
		netshExcluded(&l, h.lang, "tcp", h.exclTCP)
		echo(&l, f.prompt, "netsh int ipv4 show excludedportrange protocol=udp")
		netshExcluded(&l, h.lang, "udp", h.exclUDP)
	}
	return oem(l.String())
}

// oem encodes text as cmd.exe redirection writes it on Western European
// Windows: code page 850. Characters 850 lacks are replaced by their
// best-fit look-alike, as WideCharToMultiByte does (’ becomes ').
func oem(s string) ([]byte, error) {
	s = strings.ReplaceAll(s, "’", "'")
	b, err := charmap.CodePage850.NewEncoder().Bytes([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("encoding to code page 850: %w", err)
	}
	return b, nil
}

// utf16LE encodes text as Windows PowerShell 5.1 ">" and regedit write it:
// UTF-16LE with a byte order mark.
func utf16LE(s string) []byte {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2, 2+2*len(u))
	b[0], b[1] = 0xFF, 0xFE
	for _, c := range u {
		b = append(b, byte(c), byte(c>>8))
	}
	return b
}

// psField is one property of a Get-NetTCPSetting object.
type psField struct {
	name string
	// values for InternetCustom, DatacenterCustom, Compat, Datacenter and
	// Internet; "" means "the dynamic port range".
	vals [5]string
}

var psSettingNames = []string{"Automatic", "InternetCustom", "DatacenterCustom", "Compat", "Datacenter", "Internet"}

// psTCPFields returns the properties Get-NetTCPSetting shows on v, in order,
// with the values of a default installation.
func psTCPFields(v osVersion) []psField {
	same := func(s string) [5]string { return [5]string{s, s, s, s, s} }
	congestion := [5]string{"CTCP", "DCTCP", "NewReno", "DCTCP", "CTCP"}
	initialRto := "3000"
	if v >= os2019 {
		congestion = [5]string{"CUBIC", "CUBIC", "NewReno", "CUBIC", "CUBIC"}
		initialRto = "1000"
	}
	ackTimeout := [5]string{"50", "10", "200", "10", "50"}
	if v >= os2016 {
		ackTimeout = [5]string{"40", "10", "200", "10", "40"}
	}
	out := []psField{
		{"MinRto(ms)", [5]string{"300", "20", "300", "20", "300"}},
		{"InitialCongestionWindow(MSS)", [5]string{"10", "10", "4", "10", "10"}},
		{"CongestionProvider", congestion},
		{"CwndRestart", [5]string{"False", "False", "False", "False", "False"}},
		{"DelayedAckTimeout(ms)", ackTimeout},
	}
	if v >= os2016 {
		out = append(out, psField{"DelayedAckFrequency", same("2")})
	}
	out = append(out,
		psField{"MemoryPressureProtection", same("Disabled")},
		psField{"AutoTuningLevelLocal", same("Normal")},
		psField{"AutoTuningLevelGroupPolicy", same("NotConfigured")},
		psField{"AutoTuningLevelEffective", same("Local")},
		psField{"EcnCapability", same("Disabled")},
		psField{"Timestamps", same("Disabled")},
		psField{"InitialRto(ms)", same(initialRto)},
		psField{"ScalingHeuristics", same("Disabled")},
		psField{"DynamicPortRangeStartPort", [5]string{}},
		psField{"DynamicPortRangeNumberOfPorts", [5]string{}},
	)
	if v >= os2016 {
		out = append(out,
			psField{"AutomaticUseCustom", same("Disabled")},
			psField{"NonSackRttResiliency", same("Disabled")},
			psField{"ForceWS", same("Enabled")},
			psField{"MaxSynRetransmissions", same("4")},
		)
	}
	if v >= os2019 {
		out = append(out,
			psField{"AutoReusePortRangeStartPort", same("0")},
			psField{"AutoReusePortRangeNumberOfPorts", same("0")},
		)
	}
	return out
}

// psList writes one object in PowerShell's list view: names padded to the
// longest, " : ", the value (an empty value keeps the trailing space).
func psList(l *lines, width int, names, vals []string) {
	for i, n := range names {
		l.line(rpad(n, width) + " : " + vals[i])
	}
}

// renderPSTCP renders Get-NetTCPSetting as Windows PowerShell 5.1 writes it
// with ">": two blank lines, one block per setting with a blank line after
// each, two more blank lines; the Automatic block has no values.
func renderPSTCP(h *host) []byte {
	fields := psTCPFields(h.os)
	names := []string{"SettingName"}
	for _, f := range fields {
		names = append(names, f.name)
	}
	width := 0
	for _, n := range names {
		width = max(width, len(n))
	}
	start, count := h.ranges[tcp4].NetshArgs()
	var l lines
	l.line("")
	l.line("")
	for si, setting := range psSettingNames {
		vals := []string{setting}
		for _, f := range fields {
			v := ""
			switch {
			case si == 0:
			case f.name == "DynamicPortRangeStartPort":
				v = strconv.Itoa(start)
			case f.name == "DynamicPortRangeNumberOfPorts":
				v = strconv.Itoa(count)
			default:
				v = f.vals[si-1]
			}
			vals = append(vals, v)
		}
		psList(&l, width, names, vals)
		l.line("")
	}
	l.line("")
	l.line("")
	return utf16LE(l.String())
}

// renderPSUDP renders Get-NetUDPSetting: a single object without a
// SettingName.
func renderPSUDP(h *host) []byte {
	start, count := h.ranges[udp4].NetshArgs()
	names := []string{"DynamicPortRangeStartPort", "DynamicPortRangeNumberOfPorts"}
	var l lines
	l.line("")
	l.line("")
	psList(&l, len(names[1]), names, []string{strconv.Itoa(start), strconv.Itoa(count)})
	l.line("")
	l.line("")
	l.line("")
	return utf16LE(l.String())
}

// multiSZ returns the REG_MULTI_SZ bytes of strs: each string UTF-16LE and
// NUL-terminated, the list ended by one more NUL.
func multiSZ(strs []string) []byte {
	var b []byte
	for _, s := range strs {
		for _, c := range utf16.Encode([]rune(s)) {
			b = append(b, byte(c), byte(c>>8))
		}
		b = append(b, 0, 0)
	}
	return append(b, 0, 0)
}

// regHex renders a value as regedit exports binary data: "name"=hex(T):
// then comma-separated bytes, wrapped with a backslash once a line reaches
// 77 columns, continuation lines indented by two spaces. The check runs
// after each byte but the last, so a lone final byte can sit on its own
// line, as in real exports.
func regHex(name string, typ int, data []byte) string {
	var b strings.Builder
	prefix := `"` + name + `"=hex(` + strconv.FormatInt(int64(typ), 16) + "):"
	b.WriteString(prefix)
	col := len(prefix)
	for i, c := range data {
		fmt.Fprintf(&b, "%02x", c)
		if i == len(data)-1 {
			break
		}
		b.WriteByte(',')
		col += 3
		if col >= 77 {
			b.WriteString("\\" + crlf + "  ")
			col = 2
		}
	}
	return b.String()
}

// renderReg renders an export of HKLM\SOFTWARE\Microsoft\Rpc\Internet as
// regedit (or "reg export") writes it: UTF-16LE with BOM, CRLF, a blank line
// after the key.
func renderReg(h *host) []byte {
	var l lines
	l.line("Windows Registry Editor Version 5.00")
	l.line("")
	l.line(`[HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Rpc\Internet]`)
	if h.rpcSZ {
		l.line(`"Ports"="` + strings.Join(h.rpc, " ") + `"`)
	} else {
		l.line(regHex("Ports", 7, multiSZ(h.rpc)))
	}
	l.line(`"PortsInternetAvailable"="Y"`)
	l.line(`"UseInternetPorts"="Y"`)
	l.line("")
	return utf16LE(l.String())
}

// ipcLabel pads an ipconfig label as ipconfig does: dots on even columns,
// spaces on odd ones, up to column 34, then ": ".
func ipcLabel(label string) string {
	var b strings.Builder
	b.WriteString(label)
	for i := len(label); i < 34; i++ {
		if i%2 == 0 {
			b.WriteByte('.')
		} else {
			b.WriteByte(' ')
		}
	}
	b.WriteString(": ")
	return b.String()
}

// ipconfig continuation lines (a second gateway or DNS server) start under
// the value column.
var ipcCont = strings.Repeat(" ", 3+36)

func (h *host) nicName() (primary, spare string) {
	switch {
	case h.role.id == "hyperv":
		return "vEthernet (vSwitch-LAN)", "Ethernet 4"
	case h.os <= os2008R2:
		return "Local Area Connection", "Local Area Connection 2"
	}
	return "Ethernet0", "Ethernet1"
}

const dnsDomain = "corp.example.com"

func macString(m [6]byte) string {
	return fmt.Sprintf("%02X-%02X-%02X-%02X-%02X-%02X", m[0], m[1], m[2], m[3], m[4], m[5])
}

func (h *host) mask() string { return "255.255.255.0" }

func (h *host) gateway() string {
	a := h.v4.As4()
	a[3] = 1
	return fmt.Sprintf("%d.%d.%d.%d", a[0], a[1], a[2], a[3])
}

// renderIPConfig renders "ipconfig" or "ipconfig /all" on an English
// Windows: the server's adapter, a disconnected spare adapter and, before
// Server 2016, the ISATAP tunnel. Server 2003 prints its older layout.
func renderIPConfig(h *host, dcs []string) []byte {
	var l lines
	if h.os == os2003R2 {
		ind := strings.Repeat(" ", 8)
		l.line("")
		l.line("Windows IP Configuration")
		l.line("")
		l.line("")
		l.line("Ethernet adapter Local Area Connection:")
		l.line("")
		l.line(ind + ipcLabel("Connection-specific DNS Suffix "))
		l.line(ind + ipcLabel("IP Address") + h.v4.String())
		l.line(ind + ipcLabel("Subnet Mask") + h.mask())
		l.line(ind + ipcLabel("Default Gateway") + h.gateway())
		l.line("")
		l.line("Ethernet adapter Local Area Connection 2:")
		l.line("")
		l.line(ind + ipcLabel("Media State") + "Media disconnected")
		return []byte(l.String())
	}
	all := h.f.ipconfigAll
	pref := ""
	if all {
		pref = "(Preferred) "
	}
	ll := h.nic.linkLocal.WithZone(strconv.Itoa(h.nic.ifIndex))
	// Virtual machines show VMware's vmxnet3; a Hyper-V host shows its
	// management vNIC (Hyper-V's OUI) and a physical Intel port.
	m, spareMAC := h.nic.mac, h.nic.mac
	spareMAC[5] ^= 1
	desc, spareDesc := "vmxnet3 Ethernet Adapter", "vmxnet3 Ethernet Adapter #2"
	if h.role.id == "hyperv" {
		m[0], m[1], m[2] = 0x00, 0x15, 0x5D
		spareMAC[0], spareMAC[1], spareMAC[2] = 0x3C, 0xFD, 0xFE
		desc, spareDesc = "Hyper-V Virtual Ethernet Adapter", "Intel(R) Ethernet Controller X710 for 10GbE SFP+ #4"
	}
	in := "   "
	primary, spare := h.nicName()
	l.line("")
	l.line("Windows IP Configuration")
	l.line("")
	if all {
		l.line(in + ipcLabel("Host Name") + h.name)
		l.line(in + ipcLabel("Primary Dns Suffix ") + dnsDomain)
		l.line(in + ipcLabel("Node Type") + "Hybrid")
		l.line(in + ipcLabel("IP Routing Enabled") + "No")
		l.line(in + ipcLabel("WINS Proxy Enabled") + "No")
		l.line(in + ipcLabel("DNS Suffix Search List") + dnsDomain)
	}
	l.line("")
	l.line("Ethernet adapter " + primary + ":")
	l.line("")
	l.line(in + ipcLabel("Connection-specific DNS Suffix "))
	if all {
		l.line(in + ipcLabel("Description") + desc)
		l.line(in + ipcLabel("Physical Address") + macString(m))
		l.line(in + ipcLabel("DHCP Enabled") + "No")
		l.line(in + ipcLabel("Autoconfiguration Enabled") + "Yes")
	}
	if h.v6.IsValid() {
		l.line(in + ipcLabel("IPv6 Address") + h.v6.String() + pref)
	}
	l.line(in + ipcLabel("Link-local IPv6 Address") + ll.String() + pref)
	l.line(in + ipcLabel("IPv4 Address") + h.v4.String() + pref)
	l.line(in + ipcLabel("Subnet Mask") + h.mask())
	if h.v6.IsValid() {
		l.line(in + ipcLabel("Default Gateway") + "fe80::1%" + strconv.Itoa(h.nic.ifIndex))
		l.line(ipcCont + h.gateway())
	} else {
		l.line(in + ipcLabel("Default Gateway") + h.gateway())
	}
	if all {
		d := h.nic.duid
		l.line(in + ipcLabel("DHCPv6 IAID") + strconv.FormatUint(uint64(h.nic.iaid), 10))
		l.line(in + ipcLabel("DHCPv6 Client DUID") + fmt.Sprintf("00-01-00-01-%02X-%02X-%02X-%02X-", d[0], d[1], d[2], d[3]) + macString(m))
		for i, dns := range dcs {
			if i == 0 {
				l.line(in + ipcLabel("DNS Servers") + dns)
			} else {
				l.line(ipcCont + dns)
			}
		}
		l.line(in + ipcLabel("NetBIOS over Tcpip") + "Enabled")
	}
	l.line("")
	l.line("Ethernet adapter " + spare + ":")
	l.line("")
	l.line(in + ipcLabel("Media State") + "Media disconnected")
	l.line(in + ipcLabel("Connection-specific DNS Suffix "))
	if all {
		l.line(in + ipcLabel("Description") + spareDesc)
		l.line(in + ipcLabel("Physical Address") + macString(spareMAC))
		l.line(in + ipcLabel("DHCP Enabled") + "Yes")
		l.line(in + ipcLabel("Autoconfiguration Enabled") + "Yes")
	}
	if h.os < os2016 {
		l.line("")
		l.line("Tunnel adapter isatap." + h.nic.isatap + ":")
		l.line("")
		l.line(in + ipcLabel("Media State") + "Media disconnected")
		l.line(in + ipcLabel("Connection-specific DNS Suffix "))
		if all {
			l.line(in + ipcLabel("Description") + "Microsoft ISATAP Adapter")
			l.line(in + ipcLabel("Physical Address") + "00-00-00-00-00-00-00-E0")
			l.line(in + ipcLabel("DHCP Enabled") + "No")
			l.line(in + ipcLabel("Autoconfiguration Enabled") + "Yes")
		}
	}
	return []byte(l.String())
}

// renderSmbConf renders the Samba host's smb.conf as "samba-tool" and
// testparm leave it: tab-indented, LF line ends.
func renderSmbConf(h *host) []byte {
	var b strings.Builder
	p := func(s string) { b.WriteString(s); b.WriteByte('\n') }
	p("# Global parameters")
	p("[global]")
	p("\tnetbios name = " + h.name)
	p("\trealm = " + strings.ToUpper(dnsDomain))
	p("\tserver role = member server")
	p("\tsecurity = ADS")
	p("\tworkgroup = CORP")
	p("\tidmap config * : backend = tdb")
	p("\tidmap config * : range = 3000-7999")
	p("\tidmap config CORP : backend = rid")
	p("\tidmap config CORP : range = 10000-999999")
	p("\tlog file = /var/log/samba/log.%m")
	p("\tmax log size = 1000")
	if h.sambaR != audit.DefaultRange {
		// Narrowed so the firewall between the sites stays small.
		p("\trpc server dynamic port range = " + h.sambaR.String())
	}
	p("")
	p("[projects]")
	p("\tpath = /srv/samba/projects")
	p("\tread only = No")
	p("")
	p("[scans]")
	p("\tpath = /srv/samba/scans")
	p("\tread only = No")
	return []byte(b.String())
}
