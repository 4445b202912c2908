package ingest

import (
	"fmt"
	"strings"
	"unicode/utf16"

	"golang.org/x/text/encoding/charmap"

	"github.com/rpcspan/rpcspan/audit"
)

// rpcInternetKey is HKLM\SOFTWARE\Microsoft\Rpc\Internet as regKeyPath
// normalises it. The Wow6432Node twin is a different key: RPC reads only
// the native one.
const rpcInternetKey = `hklm\software\microsoft\rpc\internet`

// The registry value types rpcspan keeps for "Ports".
const (
	regTypeMultiSZ = "REG_MULTI_SZ"
	regTypeSZ      = "REG_SZ"
)

// regQuotes repairs the curly quotes that blogs and word processors put
// into .reg snippets; people paste those into files, and reading them as
// straight quotes recovers what the author meant.
var regQuotes = strings.NewReplacer("\u201c", `"`, "\u201d", `"`)

// scanReg reads HKLM\SOFTWARE\Microsoft\Rpc\Internet in three forms:
// regedit exports (REGEDIT4 and version 5.00), "reg query" output, and the
// "Name: TYPE: data" rendering of Microsoft's articles. When the file has
// registry key lines, only values under the Rpc\Internet key count; a file
// without any (a snippet) is read as that key.
func scanReg(c *capture, lines []string) {
	hasKeys := false
	for _, l := range lines {
		if _, ok := regKeyLine(l); ok {
			hasKeys = true
			break
		}
	}
	r := regScan{c: c, inKey: !hasKeys}
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if path, ok := regKeyLine(line); ok {
			r.inKey = path == rpcInternetKey
			continue
		}
		t := strings.TrimSpace(line)
		if t == "" {
			continue
		}
		switch t[0] {
		case ';':
			continue
		case 'R', 'r', 'W', 'w':
			// The export header decides how wide hex(7) characters are.
			if strings.EqualFold(t, "REGEDIT4") {
				r.ansi, r.header = true, true
				continue
			}
			if strings.HasPrefix(t, "Windows Registry Editor Version") {
				r.ansi, r.header = false, true
				continue
			}
		}
		// Curly quotes start with byte 0xE2 in UTF-8; checking it first
		// keeps this off the profile for the many lines without one.
		if strings.IndexByte(t, 0xE2) >= 0 && strings.ContainsAny(t, "\u201c\u201d") {
			t = regQuotes.Replace(t)
		}
		if t[0] == '"' {
			i = r.regValue(lines, i, t)
			continue
		}
		if !r.inKey {
			continue
		}
		if !strings.Contains(t, "REG_") {
			// Both remaining forms name the type; most lines of most
			// captures are not registry values at all.
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			if r.queryValue(i+1, t) {
				continue
			}
		}
		r.docValue(i+1, t)
	}
}

// regScan is the state of scanReg over one file.
type regScan struct {
	c      *capture
	inKey  bool // the lines belong to Rpc\Internet
	ansi   bool // REGEDIT4: hex(7) holds single-byte characters
	header bool // an export header was seen, so ansi is known
}

// rpc returns the host's Rpc\Internet, creating it on the first value.
func (r *regScan) rpc() *audit.RPCInternet {
	if r.c.host.RPC == nil {
		r.c.host.RPC = &audit.RPCInternet{}
	}
	r.c.found("reg-rpc-internet")
	return r.c.host.RPC
}

// setPorts records the Ports value read on line n. A value read again (two
// exports in one file) replaces the earlier one, as an import would.
func (r *regScan) setPorts(n int, typ string, texts []string) {
	rpc := r.rpc()
	rpc.PortsType = typ
	rpc.Ports = make([]audit.PortsEntry, 0, len(texts))
	for _, s := range texts {
		rpc.Ports = append(rpc.Ports, audit.PortsEntry{Text: s, Src: r.c.src(n)})
	}
}

// setFlag records PortsInternetAvailable or UseInternetPorts.
func (r *regScan) setFlag(n int, name, value string) {
	f := audit.Flag{Value: value, Src: r.c.src(n)}
	rpc := r.rpc()
	if strings.EqualFold(name, "UseInternetPorts") {
		rpc.UseInternetPorts = f
	} else {
		rpc.PortsInternetAvailable = f
	}
}

// regValueName returns the canonical spelling of the Rpc\Internet value
// called name (registry names ignore case), or "" for any other value.
func regValueName(name string) string {
	for _, v := range [...]string{"Ports", "PortsInternetAvailable", "UseInternetPorts"} {
		if strings.EqualFold(name, v) {
			return v
		}
	}
	return ""
}

// regValue reads the .reg value line at index i (t is its trimmed text with
// quotes repaired) and returns the index of its last line: hex data wraps
// onto following lines ending in "\".
func (r *regScan) regValue(lines []string, i int, t string) int {
	n := i + 1
	name, rest, ok := regString(t)
	if !ok {
		return i
	}
	rest = strings.TrimLeft(rest, " \t")
	if !strings.HasPrefix(rest, "=") {
		return i
	}
	data := strings.TrimLeft(rest[1:], " \t")
	canon := regValueName(name)
	keep := r.inKey && canon != ""
	last := i
	if len(data) >= 3 && strings.EqualFold(data[:3], "hex") {
		// Other values' hex data is only skipped, never joined: a whole
		// HKLM export holds megabytes of it.
		var b strings.Builder
		d := data
		for {
			d = strings.TrimRight(d, " \t")
			cont := strings.HasSuffix(d, `\`)
			if keep {
				b.WriteString(strings.TrimSuffix(d, `\`))
			}
			if !cont || last+1 >= len(lines) {
				break
			}
			last++
			d = strings.TrimSpace(lines[last])
		}
		data = b.String()
	}
	if !keep {
		return last
	}
	switch {
	case data == "-":
		// A deletion leaves the value unset.
	case strings.HasPrefix(data, `"`):
		s, tail, ok := regString(data)
		switch {
		case !ok:
			r.c.problem(n, "registry value %q: unterminated string %q", canon, data)
		case strings.TrimSpace(tail) != "":
			r.c.problem(n, "registry value %q: unexpected text %q after the string", canon, strings.TrimSpace(tail))
		case canon == "Ports":
			r.setPorts(n, regTypeSZ, []string{s})
		default:
			r.setFlag(n, canon, s)
		}
	case len(data) >= 7 && strings.EqualFold(data[:7], "hex(7):"):
		if canon != "Ports" {
			r.c.problem(n, "registry value %q is a multi-string (hex(7)); Windows reads it only as a string", canon)
			break
		}
		texts, err := r.multiSZ(data[7:])
		if err != nil {
			r.c.problem(n, "registry value %q: %v", canon, err)
			break
		}
		r.setPorts(n, regTypeMultiSZ, texts)
	default:
		typ, _, _ := strings.Cut(data, ":")
		want := "a string"
		if canon == "Ports" {
			want = "a multi-string (hex(7))"
		}
		r.c.problem(n, "registry value %q has type %q; want %s", canon, typ, want)
	}
	return last
}

// regString reads a .reg quoted string at the start of s, undoing the \\
// and \" escapes regedit writes, and returns it with the text after the
// closing quote.
func regString(s string) (str, rest string, ok bool) {
	if !strings.HasPrefix(s, `"`) {
		return "", s, false
	}
	end := -1
	escaped := false
	for j := 1; j < len(s); j++ {
		if s[j] == '\\' && j+1 < len(s) {
			escaped = true
			j++
			continue
		}
		if s[j] == '"' {
			end = j
			break
		}
	}
	if end < 0 {
		return "", s, false
	}
	body := s[1:end]
	if escaped {
		var b strings.Builder
		for j := 0; j < len(body); j++ {
			if body[j] == '\\' && j+1 < len(body) {
				j++
			}
			b.WriteByte(body[j])
		}
		body = b.String()
	}
	return body, s[end+1:], true
}

// multiSZ decodes the comma-separated bytes of a hex(7) value into its
// strings.
func (r *regScan) multiSZ(hexList string) ([]string, error) {
	b, err := regHexBytes(hexList)
	if err != nil {
		return nil, err
	}
	ansi := r.ansi
	if !r.header {
		// A snippet without header: regedit 5 data has a zero high byte
		// after every ASCII character, REGEDIT4 data does not.
		ansi = len(b)%2 != 0 || !regZeroOddBytes(b)
	}
	var text []rune
	if ansi {
		text = make([]rune, len(b))
		for j, x := range b {
			text[j] = charmap.Windows1252.DecodeByte(x)
		}
	} else {
		if len(b)%2 != 0 {
			return nil, fmt.Errorf("hex(7) data has an odd number of bytes (%d) for UTF-16 strings", len(b))
		}
		u := make([]uint16, len(b)/2)
		for j := range u {
			u[j] = uint16(b[2*j]) | uint16(b[2*j+1])<<8
		}
		text = utf16.Decode(u)
	}
	return splitMultiSZ(text), nil
}

// splitMultiSZ splits NUL-terminated strings ended by an extra NUL. Data of
// NULs only is an empty list. A missing final terminator is tolerated; an
// empty string inside the list is kept, since that is what is stored.
func splitMultiSZ(text []rune) []string {
	allNUL := true
	for _, x := range text {
		if x != 0 {
			allNUL = false
			break
		}
	}
	if allNUL {
		return []string{}
	}
	if n := len(text); n >= 2 && text[n-1] == 0 && text[n-2] == 0 {
		text = text[:n-1]
	}
	parts := strings.Split(string(text), "\x00")
	if parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	return parts
}

// regHexBytes reads "36,00,30,00": one or two hex digits per byte, spaces
// allowed around each. An empty list is no bytes.
func regHexBytes(s string) ([]byte, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	out := make([]byte, 0, (len(s)+1)/3)
	for tok := range strings.SplitSeq(s, ",") {
		h := strings.TrimSpace(tok)
		if len(h) == 0 || len(h) > 2 {
			return nil, fmt.Errorf("hex(7) data: %q is not a hex byte", h)
		}
		var v byte
		for j := 0; j < len(h); j++ {
			d, ok := regHexDigit(h[j])
			if !ok {
				return nil, fmt.Errorf("hex(7) data: %q is not a hex byte", h)
			}
			v = v<<4 | d
		}
		out = append(out, v)
	}
	return out, nil
}

func regHexDigit(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// regZeroOddBytes reports whether every second byte is zero, as in UTF-16LE
// text of ASCII characters.
func regZeroOddBytes(b []byte) bool {
	for j := 1; j < len(b); j += 2 {
		if b[j] != 0 {
			return false
		}
	}
	return true
}

// queryValue reads a "reg query" value line ("Ports    REG_MULTI_SZ
// 5000-5100\06000", indented by four spaces) and reports whether it was one
// of the Rpc\Internet values.
func (r *regScan) queryValue(n int, t string) bool {
	f := strings.Fields(t)
	if len(f) < 2 || !strings.HasPrefix(f[1], "REG_") {
		return false
	}
	canon := regValueName(f[0])
	if canon == "" {
		return false
	}
	// The data follows the type after four spaces. Trailing blanks are cut
	// with the rest of the line: reg query never pads, editors and pasting
	// do.
	_, data, _ := strings.Cut(t[len(f[0]):], f[1])
	data = strings.TrimRight(strings.TrimPrefix(data, "    "), " \t")
	r.typedValue(n, canon, f[1], data, `\0`)
	return true
}

// docValue reads Microsoft's article form "Ports: REG_MULTI_SZ: 5000-6000",
// possibly quoted with "> ".
func (r *regScan) docValue(n int, t string) {
	t = strings.TrimLeft(t, "> \t")
	name, rest, ok := strings.Cut(t, ":")
	if !ok {
		return
	}
	canon := regValueName(strings.TrimSpace(name))
	if canon == "" {
		return
	}
	typ, data, ok := strings.Cut(rest, ":")
	typ = strings.TrimSpace(typ)
	if !ok || !strings.HasPrefix(typ, "REG_") {
		return
	}
	r.typedValue(n, canon, typ, strings.TrimSpace(data), "")
}

// typedValue records a value given as a registry type name and text; sep
// separates multi-string items ("" for a single item).
func (r *regScan) typedValue(n int, canon, typ, data, sep string) {
	switch {
	case canon == "Ports" && typ == regTypeMultiSZ:
		texts := []string{}
		if data != "" {
			if sep == "" {
				texts = []string{data}
			} else {
				texts = strings.Split(data, sep)
			}
		}
		r.setPorts(n, regTypeMultiSZ, texts)
	case canon == "Ports" && typ == regTypeSZ:
		r.setPorts(n, regTypeSZ, []string{data})
	case canon == "Ports":
		r.c.problem(n, "registry value %q has type %q; want REG_MULTI_SZ", canon, typ)
	case typ == regTypeSZ:
		r.setFlag(n, canon, data)
	default:
		r.c.problem(n, "registry value %q has type %q; want REG_SZ", canon, typ)
	}
}

// regKeyLine reports whether line names a registry key, as "[HKEY_...]"
// in a .reg export (or "[-HKEY_...]", a deletion) or as the unindented key
// line of reg query output, and returns the key's normalised path.
func regKeyLine(line string) (string, bool) {
	if line == "" {
		return "", false
	}
	var p string
	switch line[0] {
	case '[':
		t := strings.TrimRight(line, " \t")
		if !strings.HasSuffix(t, "]") {
			return "", false
		}
		p = t[1 : len(t)-1]
		if strings.HasPrefix(p, "-") {
			// The key is deleted: its lines are no values of the key.
			k, ok := regKeyPath(p[1:])
			if !ok {
				return "", false
			}
			return "-" + k, true
		}
	case 'H', 'h', 'C', 'c', '\\':
		p = strings.TrimRight(line, " \t")
	default:
		return "", false
	}
	return regKeyPath(p)
}

// regKeyPath normalises a registry path to lower case with the "hklm"
// abbreviation, dropping a "Computer\" (regedit's address bar) or
// "\\HOST\" (remote reg query) prefix and a trailing backslash. It reports
// false when p is not a registry path.
func regKeyPath(p string) (string, bool) {
	if strings.HasPrefix(p, `\\`) {
		_, after, ok := strings.Cut(p[2:], `\`)
		if !ok {
			return "", false
		}
		p = after
	}
	if len(p) >= 9 && strings.EqualFold(p[:9], `computer\`) {
		p = p[9:]
	}
	root, rest, _ := strings.Cut(p, `\`)
	switch strings.ToLower(root) {
	case "hkey_local_machine", "hklm":
		root = "hklm"
	case "hkey_current_user", "hkcu", "hkey_classes_root", "hkcr", "hkey_users", "hku",
		"hkey_current_config", "hkcc", "hkey_performance_data", "hkey_dyn_data":
		root = strings.ToLower(root)
	default:
		return "", false
	}
	rest = strings.TrimRight(rest, `\`)
	if rest == "" {
		return root, true
	}
	return root + `\` + strings.ToLower(rest), true
}
