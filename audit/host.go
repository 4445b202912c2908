package audit

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Key names one of the four dynamic port ranges a Windows host keeps: one
// per transport (TCP, UDP) and address family (IPv4, IPv6).
type Key string

// The four keys, in the order rpcspan lists them.
const (
	TCP4 Key = "tcp4"
	UDP4 Key = "udp4"
	TCP6 Key = "tcp6"
	UDP6 Key = "udp6"
)

// Keys lists the four keys in display order.
var Keys = []Key{TCP4, UDP4, TCP6, UDP6}

// Proto returns "tcp" or "udp".
func (k Key) Proto() string { return string(k[:3]) }

// Family returns 4 or 6.
func (k Key) Family() int {
	if strings.HasSuffix(string(k), "6") {
		return 6
	}
	return 4
}

// MakeKey returns the key for proto ("tcp" or "udp") and family (4 or 6).
func MakeKey(proto string, family int) Key { return Key(proto + strconv.Itoa(family)) }

// ParseKeys reads the key names the inventory accepts: "tcp" and "udp" mean
// both families; "tcp4", "udp4", "tcp6" and "udp6" mean one. Case is ignored.
func ParseKeys(s string) ([]Key, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "tcp":
		return []Key{TCP4, TCP6}, nil
	case "udp":
		return []Key{UDP4, UDP6}, nil
	case "tcp4":
		return []Key{TCP4}, nil
	case "udp4":
		return []Key{UDP4}, nil
	case "tcp6":
		return []Key{TCP6}, nil
	case "udp6":
		return []Key{UDP6}, nil
	}
	return nil, fmt.Errorf("unknown range key %q (want tcp, udp, tcp4, udp4, tcp6 or udp6)", s)
}

// Source says where a fact came from: a file and line, or a command-line
// flag. The zero Source means "built in" (a default).
type Source struct {
	File string // path as given by the user; "-" for standard input
	Line int    // 1-based line; 0 when the fact belongs to the file as a whole
	Flag string // the flag that gave the fact, such as "--range DC01:tcp=49152-65535"
}

// String returns "file:line", "file", the flag, or "default".
func (s Source) String() string {
	switch {
	case s.Flag != "":
		return s.Flag
	case s.File != "" && s.Line > 0:
		return s.File + ":" + strconv.Itoa(s.Line)
	case s.File != "":
		return s.File
	}
	return "default"
}

// IsZero reports whether s is the zero Source.
func (s Source) IsZero() bool { return s == Source{} }

// Compare orders sources by file, then line, then flag.
func (s Source) Compare(o Source) int {
	if c := cmp.Compare(s.File, o.File); c != 0 {
		return c
	}
	if c := cmp.Compare(s.Line, o.Line); c != 0 {
		return c
	}
	return cmp.Compare(s.Flag, o.Flag)
}

// Problem is a value that could not be read. The rest of the input is still
// used; later commands report each Problem as an "input-invalid" finding.
type Problem struct {
	Src  Source
	Host string // the host the value belonged to, when known
	Msg  string // what is wrong, quoting the offending text
}

// Error returns "file:line: message".
func (p Problem) Error() string {
	if p.Host != "" {
		return p.Src.String() + ": " + p.Host + ": " + p.Msg
	}
	return p.Src.String() + ": " + p.Msg
}

// Origin says how a dynamic range became known. Captures show what a host
// really uses, so they win over declarations; a command-line flag wins over
// both, because the user typed it for this run.
type Origin string

// The origins, weakest first.
const (
	Declared Origin = "declared" // written in an inventory file
	Captured Origin = "captured" // read from the host's own command output
	Flagged  Origin = "flag"     // given on the command line
)

func (o Origin) rank() int {
	switch o {
	case Captured:
		return 1
	case Flagged:
		return 2
	}
	return 0
}

// RangeObs is one observation of a host's dynamic range.
type RangeObs struct {
	Key    Key
	Range  PortRange
	Origin Origin
	Src    Source
}

// Excluded is one excluded port range ("netsh int ipv4 show
// excludedportrange"): ports the host will not hand out.
type Excluded struct {
	Key          Key
	Range        PortRange
	Administered bool // marked "*" by netsh: added by an administrator
	Src          Source
}

// Addr is one address of a host.
type Addr struct {
	Addr netip.Addr
	Src  Source
}

// Subnet is a network the host is attached to: the on-link prefix of one
// of its addresses, as ipconfig shows it (an IPv4 address and its Subnet
// Mask). Windows Firewall's address keyword LocalSubnet stands for these.
type Subnet struct {
	Prefix netip.Prefix // masked, such as 10.1.0.0/24
	Src    Source
}

// Flag is a Y/N registry value of Rpc\Internet, kept as written.
type Flag struct {
	Value string // as read, such as "Y", "n" or "yes"
	Src   Source
}

// Set reports whether the value was present.
func (f Flag) Set() bool { return !f.Src.IsZero() || f.Value != "" }

// Yes reports whether Windows would read the value as Y (case-insensitive).
func (f Flag) Yes() bool { return strings.EqualFold(strings.TrimSpace(f.Value), "Y") }

// PortsEntry is one string of the Rpc\Internet "Ports" value, kept exactly as
// Windows would see it so that the audit can judge it.
type PortsEntry struct {
	Text string
	Src  Source
}

// RPCInternet is the RPC port restriction under
// HKLM\SOFTWARE\Microsoft\Rpc\Internet.
type RPCInternet struct {
	Ports []PortsEntry
	// PortsType is the registry type "Ports" was written with: "REG_MULTI_SZ"
	// as Microsoft requires, or "REG_SZ", a mistake seen in the wild.
	PortsType              string
	PortsInternetAvailable Flag
	UseInternetPorts       Flag
}

// FirewallCapture is one listing of a host's Windows Firewall rules: a
// file of its own, or lines held in a larger file, such as the
// "firewall_rules" of collector JSON.
type FirewallCapture struct {
	// Src is the file; Line is 0 for a file of its own, else the line
	// of the file where the listing starts.
	Src Source
	// Text is the listing held in a larger file, lines ending in "\n";
	// "" means the listing is the whole file Src.File.
	Text string
	// Lines maps the lines of Text to lines of Src.File: line n of Text
	// (1-based) is line Lines[n-1] of the file, since JSON may put
	// several of them on one line (compressed output, a string holding
	// line ends).
	Lines []int
}

// FileLine returns the line of Src.File holding line n (1-based) of the
// listing: n itself for a file of its own, Src.Line for an n that Lines
// does not map.
func (c FirewallCapture) FileLine(n int) int {
	switch {
	case c.Text == "":
		return n
	case n >= 1 && n <= len(c.Lines):
		return c.Lines[n-1]
	}
	return c.Src.Line
}

// Same reports whether c and o are the same listing; Lines follows from
// Src and Text.
func (c FirewallCapture) Same(o FirewallCapture) bool {
	return c.Src == o.Src && c.Text == o.Text
}

// FirewallState is whether a Windows Firewall profile is switched on, as
// a capture of the host's profile settings shows it. The zero value means
// the capture does not show it, and Windows' default, on, holds.
type FirewallState string

// The firewall states.
const (
	FirewallStateNotShown FirewallState = ""        // not in the capture: on, as Windows defaults
	FirewallOn            FirewallState = "on"      // State ON, Enabled True or NotConfigured
	FirewallOff           FirewallState = "off"     // State OFF, Enabled False
	FirewallStateUnknown  FirewallState = "unknown" // shown, in a word rpcspan does not know
)

// InboundAction is what a Windows Firewall profile does with inbound
// traffic no rule decides. The zero value means the capture does not
// show it (netsh advfirewall show allprofiles state), and Windows'
// default, block, holds.
type InboundAction string

// The inbound actions.
const (
	InboundNotShown InboundAction = "" // not in the capture: block, as Windows defaults
	// InboundBlock blocks what no allow rule admits (BlockInbound;
	// NotConfigured, which means the default).
	InboundBlock InboundAction = "block"
	// InboundBlockAlways blocks all inbound traffic, allow rules
	// included (BlockInboundAlways; Get-NetFirewallProfile's
	// AllowInboundRules False).
	InboundBlockAlways InboundAction = "block-always"
	// InboundAllow admits what no block rule blocks (AllowInbound).
	InboundAllow InboundAction = "allow"
	// InboundUnknown is shown, in a form rpcspan does not read.
	InboundUnknown InboundAction = "unknown"
)

// FirewallProfile is what captures of the host's Windows Firewall profile
// settings (netsh advfirewall show allprofiles, Get-NetFirewallProfile)
// say about one profile.
type FirewallProfile struct {
	Profile  string // "domain", "private" or "public"
	State    FirewallState
	StateSrc Source // the line that shows State; zero when not shown
	Inbound  InboundAction
	// InboundSrc is the line that shows Inbound (netsh's Firewall
	// Policy, Get-NetFirewallProfile's DefaultInboundAction or the
	// AllowInboundRules that overrides it); zero when not shown.
	InboundSrc Source
}

// Host is one server of the estate and everything known about it.
type Host struct {
	Name      string // as first written; compared case-insensitively
	NameSrc   Source
	Addresses []Addr
	Groups    []string
	OS        string
	Apps      []string
	Ranges    []RangeObs // every observation, in the order read
	Excluded  []Excluded
	RPC       *RPCInternet // nil when no Rpc\Internet value was seen
	Captures  []string     // capture paths the inventory lists for this host, relative to the inventory
	// Subnets are the on-link prefixes of the host's addresses, each
	// once; empty when no capture showed them (ipconfig prints no IPv6
	// prefix length, so IPv6 subnets are never known from it). No report
	// shows them, so SourceList leaves their sources out.
	Subnets []Subnet
	// FirewallCaptures are the listings of the host's own Windows
	// Firewall rules (netsh advfirewall, Get-NetFirewallRule), read by
	// package rulebase when the audit evaluates rule bases.
	FirewallCaptures []FirewallCapture
	// FirewallProfiles holds, at most once per profile, what captures
	// of the host's Windows Firewall profile settings show; a setting
	// read later replaces one read earlier (SetFirewallProfile).
	FirewallProfiles []FirewallProfile
	// PreVista is where a capture showed that netsh on the host has no
	// "int ipv4 show dynamicport" command, as on Windows Server 2003 and
	// older; zero when no capture said so.
	PreVista Source
	Sources  []Source // every file (and flag) that said something about the host
}

// Range returns the host's effective range for k: a flag beats a capture,
// which beats a declaration; among equals the last one read wins.
func (h *Host) Range(k Key) (RangeObs, bool) {
	var best RangeObs
	found := false
	for _, o := range h.Ranges {
		if o.Key != k {
			continue
		}
		if !found || o.Origin.rank() >= best.Origin.rank() {
			best, found = o, true
		}
	}
	return best, found
}

// FirewallProfile returns what the host's captures show about the
// Windows Firewall profile name ("domain", "private" or "public"); ok is
// false when none shows it.
func (h *Host) FirewallProfile(name string) (p FirewallProfile, ok bool) {
	for _, q := range h.FirewallProfiles {
		if q.Profile == name {
			return q, true
		}
	}
	return FirewallProfile{}, false
}

// SetFirewallProfile records what a capture shows about one profile: the
// settings p shows (a non-zero State or Inbound) replace those recorded
// for the profile before, the others stay. A host's profile state can
// change between captures (a batch file that turns the firewall off and
// shows it again): the one read last is the one in force.
func (h *Host) SetFirewallProfile(p FirewallProfile) {
	i := slices.IndexFunc(h.FirewallProfiles, func(q FirewallProfile) bool { return q.Profile == p.Profile })
	if i < 0 {
		h.FirewallProfiles = append(h.FirewallProfiles, p)
		return
	}
	q := &h.FirewallProfiles[i]
	if p.State != FirewallStateNotShown {
		q.State, q.StateSrc = p.State, p.StateSrc
	}
	if p.Inbound != InboundNotShown {
		q.Inbound, q.InboundSrc = p.Inbound, p.InboundSrc
	}
}

// ExcludedRanges returns the host's excluded ranges for k, sorted and without
// repeats.
func (h *Host) ExcludedRanges(k Key) []PortRange {
	var out []PortRange
	for _, e := range h.Excluded {
		if e.Key == k {
			out = append(out, e.Range)
		}
	}
	slices.SortFunc(out, func(a, b PortRange) int {
		if c := cmp.Compare(a.First, b.First); c != 0 {
			return c
		}
		return cmp.Compare(a.Last, b.Last)
	})
	return slices.Compact(out)
}

// SubnetList returns the host's distinct subnets of family fam (4 or 6),
// sorted.
func (h *Host) SubnetList(fam int) []netip.Prefix {
	var out []netip.Prefix
	for _, n := range h.Subnets {
		if n.Prefix.Addr().Is4() == (fam == 4) {
			out = append(out, n.Prefix)
		}
	}
	slices.SortFunc(out, netip.Prefix.Compare)
	return slices.Compact(out)
}

// AddrList returns the host's distinct addresses, sorted.
func (h *Host) AddrList() []netip.Addr {
	out := make([]netip.Addr, 0, len(h.Addresses))
	for _, a := range h.Addresses {
		out = append(out, a.Addr)
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return slices.Compact(out)
}

// Merge adds everything o knows to h. Lists are joined without repeats;
// o's OS replaces h's only when h has none; range observations are all kept
// (Range decides which one counts); the firewall profile settings o shows
// replace h's (SetFirewallProfile).
func (h *Host) Merge(o *Host) {
	if h.Name == "" {
		h.Name, h.NameSrc = o.Name, o.NameSrc
	}
	for _, a := range o.Addresses {
		if !slices.ContainsFunc(h.Addresses, func(b Addr) bool { return b.Addr == a.Addr }) {
			h.Addresses = append(h.Addresses, a)
		}
	}
	for _, n := range o.Subnets {
		if !slices.ContainsFunc(h.Subnets, func(m Subnet) bool { return m.Prefix == n.Prefix }) {
			h.Subnets = append(h.Subnets, n)
		}
	}
	h.Groups = appendNewFold(h.Groups, o.Groups...)
	h.Apps = appendNewFold(h.Apps, o.Apps...)
	if h.OS == "" {
		h.OS = o.OS
	}
	h.Ranges = append(h.Ranges, o.Ranges...)
	for _, e := range o.Excluded {
		if !slices.ContainsFunc(h.Excluded, func(f Excluded) bool { return f.Key == e.Key && f.Range == e.Range }) {
			h.Excluded = append(h.Excluded, e)
		}
	}
	if o.RPC != nil {
		if h.RPC == nil {
			h.RPC = &RPCInternet{}
		}
		if len(o.RPC.Ports) > 0 || o.RPC.PortsType != "" {
			h.RPC.Ports, h.RPC.PortsType = o.RPC.Ports, o.RPC.PortsType
		}
		if o.RPC.PortsInternetAvailable.Set() {
			h.RPC.PortsInternetAvailable = o.RPC.PortsInternetAvailable
		}
		if o.RPC.UseInternetPorts.Set() {
			h.RPC.UseInternetPorts = o.RPC.UseInternetPorts
		}
	}
	h.Captures = append(h.Captures, o.Captures...)
	for _, f := range o.FirewallCaptures {
		if !slices.ContainsFunc(h.FirewallCaptures, f.Same) {
			h.FirewallCaptures = append(h.FirewallCaptures, f)
		}
	}
	for _, p := range o.FirewallProfiles {
		h.SetFirewallProfile(p)
	}
	if h.PreVista.IsZero() {
		h.PreVista = o.PreVista
	}
	for _, s := range o.Sources {
		if !slices.Contains(h.Sources, s) {
			h.Sources = append(h.Sources, s)
		}
	}
}

// SourceList returns the sources of every fact about the host, sorted by
// file and line, without repeats.
func (h *Host) SourceList() []Source {
	var out []Source
	add := func(s Source) {
		if !s.IsZero() {
			out = append(out, s)
		}
	}
	add(h.NameSrc)
	add(h.PreVista)
	for _, a := range h.Addresses {
		add(a.Src)
	}
	for _, r := range h.Ranges {
		add(r.Src)
	}
	for _, e := range h.Excluded {
		add(e.Src)
	}
	if h.RPC != nil {
		for _, p := range h.RPC.Ports {
			add(p.Src)
		}
		add(h.RPC.PortsInternetAvailable.Src)
		add(h.RPC.UseInternetPorts.Src)
	}
	for _, p := range h.FirewallProfiles {
		add(p.StateSrc)
		add(p.InboundSrc)
	}
	for _, s := range h.Sources {
		add(s)
	}
	slices.SortFunc(out, Source.Compare)
	out = slices.Compact(out)
	// A bare file entry says only "this file was read"; drop it when a
	// line of the same file is listed.
	withLines := map[string]bool{}
	for _, s := range out {
		if s.Line > 0 {
			withLines[s.File] = true
		}
	}
	return slices.DeleteFunc(out, func(s Source) bool { return s.Line == 0 && s.Flag == "" && withLines[s.File] })
}

func appendNewFold(list []string, add ...string) []string {
	for _, s := range add {
		if !slices.ContainsFunc(list, func(t string) bool { return strings.EqualFold(s, t) }) {
			list = append(list, s)
		}
	}
	return list
}

// ValidHostName checks a Windows/DNS host name: dot-separated labels of
// letters, digits, hyphens and underscores (NetBIOS names allow them), each
// 1-63 characters, not starting or ending with a hyphen, 253 characters in
// all. It returns nil when name is valid.
func ValidHostName(name string) error {
	if name == "" {
		return fmt.Errorf("empty host name")
	}
	if len(name) > 253 {
		return fmt.Errorf("host name %q longer than 253 characters", name)
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" {
			return fmt.Errorf("host name %q has an empty label", name)
		}
		if len(label) > 63 {
			return fmt.Errorf("host name %q has a label longer than 63 characters", name)
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("host name %q has a label starting or ending with '-'", name)
		}
		for _, c := range label {
			ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
			if !ok {
				return fmt.Errorf("host name %q contains %q (allowed: letters, digits, '-', '_', '.')", name, c)
			}
		}
	}
	return nil
}
