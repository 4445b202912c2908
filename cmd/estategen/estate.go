package main

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strconv"

	"github.com/rpcspan/rpcspan/audit"
)

// MaxHosts is the largest estate Generate writes. The address plan
// (10.SITE.ROLE.N, 254 sites, fourth octets 10-199 per role and 200-254 for
// Samba) runs out not far above it.
const MaxHosts = 100000

// osVersion is a server operating system; the order is the release order.
type osVersion int

const (
	os2003R2 osVersion = iota
	os2008
	os2008R2
	os2012R2
	os2016
	os2019
	os2022
	osLinux
)

var osNames = map[osVersion]string{
	os2003R2: "Windows Server 2003 R2",
	os2008:   "Windows Server 2008",
	os2008R2: "Windows Server 2008 R2",
	os2012R2: "Windows Server 2012 R2",
	os2016:   "Windows Server 2016",
	os2019:   "Windows Server 2019",
	os2022:   "Windows Server 2022",
	osLinux:  "Debian GNU/Linux 12",
}

func (v osVersion) String() string { return osNames[v] }

// hasPowerShellNet reports whether the NetTCPIP PowerShell module
// (Get-NetTCPSetting) exists: Server 2012 and later.
func (v osVersion) hasPowerShellNet() bool { return v >= os2012R2 && v != osLinux }

// hasExcludedPortRange reports whether "netsh int ipv4 show
// excludedportrange" is there out of the box: Server 2012 and later (2008
// needs a hotfix, so captures from it rarely have it).
func (v osVersion) hasExcludedPortRange() bool { return v >= os2012R2 && v != osLinux }

// weighted is one choice of a weighted draw; weights are relative.
type weighted[T any] struct {
	v T
	w int
}

func draw[T any](r *rand.Rand, choices []weighted[T]) T {
	total := 0
	for _, c := range choices {
		total += c.w
	}
	n := r.IntN(total)
	for _, c := range choices {
		if n < c.w {
			return c.v
		}
		n -= c.w
	}
	return choices[len(choices)-1].v
}

// role is a kind of server: its name prefix, inventory group and share of
// the estate.
type role struct {
	id      string // internal name
	group   string // inventory group
	prefix  string // host name prefix
	octet   int    // third octet of its IPv4 addresses (the second is the site)
	first   int    // fourth octet of the first host at a site
	weight  int    // share of the estate, in thousandths
	title   string // heading comment in the inventory
	os      []weighted[osVersion]
	v6Share int // percentage of hosts with a ULA address
}

// roles are in inventory order; priority decides which roles a tiny estate
// (fewer hosts than roles) gets.
var roles = []*role{
	{id: "dc", group: "dc", prefix: "DC", octet: 0, first: 10, weight: 100, v6Share: 75,
		title: "Domain controllers",
		os:    []weighted[osVersion]{{os2016, 30}, {os2019, 45}, {os2022, 25}}},
	{id: "file", group: "file", prefix: "FS", octet: 1, first: 10, weight: 100, v6Share: 25,
		title: "File servers",
		os:    []weighted[osVersion]{{os2012R2, 25}, {os2016, 30}, {os2019, 30}, {os2022, 15}}},
	{id: "samba", group: "file", prefix: "SMB", octet: 1, first: 200, weight: 5,
		title: "Samba file servers (Linux)",
		os:    []weighted[osVersion]{{osLinux, 1}}},
	{id: "sql", group: "sql", prefix: "SQL", octet: 2, first: 10, weight: 100, v6Share: 25,
		title: "SQL Server",
		os:    []weighted[osVersion]{{os2012R2, 15}, {os2016, 35}, {os2019, 35}, {os2022, 15}}},
	{id: "exchange", group: "exchange", prefix: "EXCH", octet: 3, first: 10, weight: 75, v6Share: 50,
		title: "Exchange 2007 on Windows Server 2008 (setup widens the range to 1025-60000)",
		os:    []weighted[osVersion]{{os2008, 50}, {os2008R2, 50}}},
	{id: "legacy", group: "legacy", prefix: "LEG2003-", octet: 4, first: 10, weight: 75,
		title: "Windows Server 2003 R2: dynamic range 1025-5000, no netsh dynamicport",
		os:    []weighted[osVersion]{{os2003R2, 1}}},
	{id: "hyperv", group: "hyperv", prefix: "HV", octet: 5, first: 10, weight: 100, v6Share: 25,
		title: "Hyper-V hosts (reserve 100-port blocks inside the dynamic range)",
		os:    []weighted[osVersion]{{os2016, 30}, {os2019, 45}, {os2022, 25}}},
	{id: "app", group: "app", prefix: "APP", octet: 6, first: 10, weight: 250, v6Share: 25,
		title: "Application servers",
		os:    []weighted[osVersion]{{os2008R2, 10}, {os2012R2, 25}, {os2016, 25}, {os2019, 25}, {os2022, 15}}},
	{id: "web", group: "web", prefix: "WEB", octet: 7, first: 10, weight: 175, v6Share: 25,
		title: "Web servers",
		os:    []weighted[osVersion]{{os2008R2, 10}, {os2012R2, 25}, {os2016, 25}, {os2019, 25}, {os2022, 15}}},
}

var priority = []string{"dc", "file", "app", "sql", "web", "hyperv", "exchange", "legacy", "samba"}

// Key indexes of host.ranges, in audit.Keys order.
const (
	tcp4 = iota
	udp4
	tcp6
	udp6
)

// declared is one entry of a host's "dynamic:" map in the inventory.
type declared struct {
	key string // "tcp", "udp", "tcp4", ...
	r   audit.PortRange
}

// exclusion is one row of "netsh show excludedportrange".
type exclusion struct {
	r     audit.PortRange
	admin bool // marked "*": added by an administrator
}

// files says which captures a host has and how they look.
type files struct {
	netsh        bool
	netshV6      bool // the ipv6 dynamicport blocks are in netsh.txt
	netshExcl    bool // excludedportrange blocks are in netsh.txt
	netshHost    bool // the batch file starts with "hostname"
	netshMissing bool // Server 2003: netsh knows no "int ipv4" context
	prompt       string
	psTCP        bool
	psUDP        bool
	reg          bool
	ipconfig     bool
	ipconfigAll  bool // "ipconfig /all" rather than "ipconfig"
	smb          bool
}

// host is one server and everything the generator decided about it.
type host struct {
	name    string
	role    *role
	site    int
	n       int // fourth octet
	v4      netip.Addr
	v6      netip.Addr // invalid when the host has no ULA address
	os      osVersion
	apps    []string
	ranges  [4]audit.PortRange // what the host really uses: tcp4, udp4, tcp6, udp6
	exclTCP []exclusion
	exclUDP []exclusion
	rpc     []string // Rpc\Internet "Ports" strings; nil when not configured
	rpcSZ   bool     // "Ports" written as REG_SZ, a real mistake
	sambaR  audit.PortRange
	declDyn []declared // "dynamic:" in the inventory
	declRPC []string   // "rpc_ports:" in the inventory
	comment string     // note after the host's name in the inventory
	lang    *netshLang
	noCapt  bool // no capture collected at all
	special bool // already given a feature; pools skip it
	f       files
	// nic holds the adapter details (MAC, link-local address, interface
	// index), drawn once so that every file agrees.
	nic nicInfo
}

// nicInfo are the adapter details ipconfig shows.
type nicInfo struct {
	ifIndex   int
	linkLocal netip.Addr
	mac       [6]byte
	isatap    string // GUID of the ISATAP tunnel adapter
	iaid      uint32
	duid      [8]byte
}

// estate is a whole generated estate.
type estate struct {
	hosts []*host
	sites int
}

func (h *host) modernWindows() bool { return h.os >= os2008 && h.os != osLinux }

// counts splits n hosts over the roles: every role gets one host when n
// allows, the rest goes by weight (largest remainder, ties in role order).
func counts(n int) map[string]int {
	out := map[string]int{}
	if n < len(roles) {
		for _, id := range priority[:n] {
			out[id] = 1
		}
		return out
	}
	rest := n - len(roles)
	total := 0
	for _, r := range roles {
		total += r.weight
	}
	type frac struct {
		id  string
		rem int
		i   int
	}
	var fr []frac
	given := 0
	for i, r := range roles {
		c := rest * r.weight / total
		out[r.id] = 1 + c
		given += c
		fr = append(fr, frac{r.id, rest * r.weight % total, i})
	}
	slices.SortStableFunc(fr, func(a, b frac) int {
		if a.rem != b.rem {
			return b.rem - a.rem
		}
		return a.i - b.i
	})
	for i := 0; given < rest; i++ {
		out[fr[i%len(fr)].id]++
		given++
	}
	return out
}

// width returns the digits needed to number count hosts, at least two.
func width(count int) int {
	return max(2, len(strconv.Itoa(count)))
}

// newEstate draws an estate of n hosts. Every decision comes from r, in a
// fixed order, so the same seed gives the same estate everywhere.
func newEstate(n int, r *rand.Rand) (*estate, error) {
	if n < 1 || n > MaxHosts {
		return nil, fmt.Errorf("host count %d out of range 1-%d", n, MaxHosts)
	}
	cnt := counts(n)
	maxRole := 0
	for _, c := range cnt {
		maxRole = max(maxRole, c)
	}
	// About 100 hosts of a role per site; 254 sites fit the second octet,
	// which holds up to ceil(25.5% of MaxHosts / 254) = 101 per site.
	e := &estate{sites: min(254, max(2, (maxRole+99)/100))}
	for _, ro := range roles {
		c := cnt[ro.id]
		w := width(c)
		for i := range c {
			h := &host{
				name: fmt.Sprintf("%s%0*d", ro.prefix, w, i+1),
				role: ro,
				site: i%e.sites + 1,
				n:    ro.first + i/e.sites,
			}
			h.os = draw(r, ro.os)
			h.v4 = netip.AddrFrom4([4]byte{10, byte(h.site), byte(ro.octet), byte(h.n)})
			if ro.v6Share > 0 && r.IntN(100) < ro.v6Share {
				h.v6 = ula(h.site, ro.octet, h.n)
			}
			for k := range h.ranges {
				h.ranges[k] = audit.DefaultRange
			}
			h.nic = newNIC(r)
			e.hosts = append(e.hosts, h)
		}
	}
	e.roleDefaults(r)
	e.features(r)
	e.languages(r)
	e.declarations(r)
	e.captures(r)
	return e, nil
}

// ula returns fd00:SITE:ROLE::N, with the decimal digits written as they
// read (administrators number hosts so that ::10 matches .10).
func ula(site, octet, n int) netip.Addr {
	a, err := netip.ParseAddr(fmt.Sprintf("fd00:%d:%d::%d", site, octet, n))
	if err != nil {
		return netip.Addr{}
	}
	return a
}

func newNIC(r *rand.Rand) nicInfo {
	var ni nicInfo
	ni.ifIndex = 2 + r.IntN(18)
	var ll [16]byte
	ll[0], ll[1] = 0xfe, 0x80
	for i := 8; i < 16; i++ {
		ll[i] = byte(r.IntN(256))
	}
	ni.linkLocal = netip.AddrFrom16(ll)
	ni.mac = [6]byte{0x00, 0x50, 0x56, byte(r.IntN(64)), byte(r.IntN(256)), byte(r.IntN(256))}
	ni.isatap = fmt.Sprintf("{%08X-%04X-%04X-%04X-%012X}", r.Uint32(), r.IntN(1<<16), r.IntN(1<<16), r.IntN(1<<16), r.Uint64()&(1<<48-1))
	ni.iaid = 50000000 + uint32(r.IntN(400000000))
	for i := range ni.duid {
		ni.duid[i] = byte(r.IntN(256))
	}
	return ni
}

// roleDefaults sets what every host of a role has in common.
func (e *estate) roleDefaults(r *rand.Rand) {
	for _, h := range e.hosts {
		switch h.role.id {
		case "exchange":
			h.apps = []string{"exchange-2007"}
			for k := range h.ranges {
				h.ranges[k] = audit.Exchange2007Range
			}
		case "legacy":
			for k := range h.ranges {
				h.ranges[k] = audit.LegacyRange
			}
		case "hyperv":
			admin := exclusion{r: audit.PortRange{First: 50000, Last: 50059}, admin: true}
			h.exclTCP = hyperVBlocks(r, admin)
			h.exclUDP = hyperVBlocks(r, admin)
		case "samba":
			h.sambaR = draw(r, []weighted[audit.PortRange]{
				{audit.PortRange{First: 49152, Last: 49200}, 3},
				{audit.PortRange{First: 50000, Last: 55000}, 1},
				{audit.DefaultRange, 1},
			})
		}
	}
	// The first Samba box has the narrow range of the classic how-to, so
	// that every estate shows it.
	for _, h := range e.hosts {
		if h.role.id == "samba" {
			h.sambaR = audit.PortRange{First: 49152, Last: 49200}
			break
		}
	}
}

// hyperVBlocks draws the 100-port blocks Hyper-V (WinNAT) reserves inside
// the dynamic range, in runs of adjacent blocks as it takes them, plus the
// administered range, sorted as netsh prints them.
func hyperVBlocks(r *rand.Rand, admin exclusion) []exclusion {
	out := []exclusion{admin}
	runs := 2 + r.IntN(3)
	for range runs {
		size := 1 + r.IntN(3)
		for range 20 {
			start := 49152 + r.IntN(65535-49152-size*100)
			run := audit.PortRange{First: uint16(start), Last: uint16(start + size*100 - 1)}
			if slices.ContainsFunc(out, func(x exclusion) bool {
				return run.First <= x.r.Last+1 && x.r.First <= run.Last+1
			}) {
				continue
			}
			for b := range size {
				f := start + b*100
				out = append(out, exclusion{r: audit.PortRange{First: uint16(f), Last: uint16(f + 99)}})
			}
			break
		}
	}
	slices.SortFunc(out, func(a, b exclusion) int { return int(a.r.First) - int(b.r.First) })
	return out
}

// pool returns the hosts that pass ok and have no feature yet, shuffled.
func (e *estate) pool(r *rand.Rand, ok func(*host) bool) []*host {
	var out []*host
	for _, h := range e.hosts {
		if !h.special && ok(h) {
			out = append(out, h)
		}
	}
	r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// take marks and returns the first k hosts of p (fewer when p is short).
func take(p []*host, k int) []*host {
	p = p[:min(k, len(p))]
	for _, h := range p {
		h.special = true
	}
	return p
}

func isRole(ids ...string) func(*host) bool {
	return func(h *host) bool { return slices.Contains(ids, h.role.id) }
}

func and(fs ...func(*host) bool) func(*host) bool {
	return func(h *host) bool {
		for _, f := range fs {
			if !f(h) {
				return false
			}
		}
		return true
	}
}

func atLeast(v osVersion) func(*host) bool {
	return func(h *host) bool { return h.os >= v && h.os != osLinux }
}

// scaled returns n*per/1000 but at least lo: a feature stays visible in a
// small estate and keeps its share in a large one.
func scaled(n, per, lo int) int { return max(lo, n*per/1000) }

// rpcVariants are the Rpc\Internet "Ports" values handed out in turn:
// pools following Microsoft's advice (above 5000, at least 100 ports), some
// with an extra single port, and one too small (6000-6050, 51 ports).
var rpcVariants = [][]string{
	{"5000-5100", "5984"},
	{"6000-6050"},
	{"5000-5200"},
	{"5100-5300", "8085"},
}

// features hands out the problems the estate should show.
func (e *estate) features(r *rand.Rand) {
	n := len(e.hosts)
	small := n < 10

	// Hosts nobody collected anything from: one Server 2003 box (its range
	// must come from the OS) and some application servers.
	if !small {
		k := scaled(n, 10, 2)
		var none []*host
		none = append(none, take(e.pool(r, isRole("legacy")), 1)...)
		none = append(none, take(e.pool(r, isRole("app", "web")), k-len(none))...)
		for _, h := range none {
			h.noCapt = true
			h.comment = "no capture collected yet"
		}
	}

	// The Rpc\Internet restriction.
	restricted := take(e.pool(r, and(isRole("app", "web", "sql"), atLeast(os2012R2))), scaled(n, 40, 3))
	sortByName(restricted)
	for i, h := range restricted {
		h.rpc = rpcVariants[i%len(rpcVariants)]
		if i%3 != 2 {
			h.declRPC = h.rpc
		}
	}
	for _, h := range take(e.pool(r, and(isRole("app", "web"), atLeast(os2012R2))), scaled(n, 2, 1)) {
		h.rpc, h.rpcSZ = []string{"5000-5500"}, true
		h.declRPC = h.rpc
	}

	// IPv4 ranges changed with netsh while IPv6 kept the default.
	custom := take(e.pool(r, and(isRole("app", "web", "sql", "file"), atLeast(os2012R2))), scaled(n, 25, 2))
	sortByName(custom)
	for i, h := range custom {
		switch i % 3 {
		case 0: // start=50000 num=15536 for TCP and UDP
			h.ranges[tcp4] = audit.PortRange{First: 50000, Last: 65535}
			h.ranges[udp4] = h.ranges[tcp4]
		case 1: // a Visual Studio build image: start=1024 num=64511, below netsh's minimum
			h.ranges[tcp4] = audit.PortRange{First: 1024, Last: 65534}
			h.ranges[udp4] = h.ranges[tcp4]
			h.comment = "build server"
		case 2: // half the default range for TCP only
			h.ranges[tcp4] = audit.PortRange{First: 49152, Last: 57343}
		}
	}
	for _, h := range take(e.pool(r, and(isRole("app", "web", "file", "dc"), atLeast(os2012R2))), scaled(n, 12, 1)) {
		h.ranges[tcp6] = audit.PortRange{First: 55000, Last: 65535}
		h.ranges[udp6] = h.ranges[tcp6]
	}

	// Stale documentation: the inventory declares what the captures deny.
	stale := 0
	if ex := e.pool(r, isRole("exchange")); len(ex) > 0 {
		h := take(ex, 1)[0]
		h.declDyn = []declared{{"tcp", audit.DefaultRange}}
		h.comment = "build sheet 2009"
		stale++
	}
	if len(custom) > 0 {
		custom[0].declDyn = []declared{{"tcp", audit.DefaultRange}}
		stale++
	}
	for _, h := range take(e.pool(r, and(isRole("app", "web", "sql", "file", "dc"), atLeast(os2012R2))), scaled(n, 25, 3)-stale) {
		h.declDyn = []declared{{"tcp", audit.PortRange{First: 50000, Last: 50999}}}
		h.comment = "range narrowed per change CHG-2291"
	}
}

func sortByName(hs []*host) {
	slices.SortFunc(hs, func(a, b *host) int {
		if a.role != b.role {
			return slices.Index(roles, a.role) - slices.Index(roles, b.role)
		}
		return a.n*1000 + a.site - (b.n*1000 + b.site)
	})
}

// languages makes some Windows hosts French or German: their netsh output
// is translated and written in code page 850.
func (e *estate) languages(r *rand.Rand) {
	var cand []*host
	for _, h := range e.hosts {
		h.lang = langEN
		if h.modernWindows() && !h.noCapt {
			cand = append(cand, h)
		}
	}
	r.Shuffle(len(cand), func(i, j int) { cand[i], cand[j] = cand[j], cand[i] })
	if len(cand) < 10 {
		return
	}
	fr := max(1, len(cand)*15/100)
	de := max(1, len(cand)*10/100)
	for i, h := range cand[:fr+de] {
		if i < fr {
			h.lang = langFR
		} else {
			h.lang = langDE
		}
	}
}

// declarations fills the inventory's "dynamic:" for hosts that have none
// yet: always for Server 2003 (nothing else tells the range), for a quarter
// of the others, matching what the host really uses.
func (e *estate) declarations(r *rand.Rand) {
	for _, h := range e.hosts {
		if h.declDyn != nil || h.noCapt || h.role.id == "samba" {
			continue
		}
		if h.role.id == "legacy" {
			h.declDyn = []declared{{"tcp", audit.LegacyRange}, {"udp", audit.LegacyRange}}
			continue
		}
		if r.IntN(100) >= 25 {
			continue
		}
		if h.ranges[tcp4] == h.ranges[tcp6] {
			h.declDyn = []declared{{"tcp", h.ranges[tcp4]}}
		} else {
			h.declDyn = []declared{{"tcp4", h.ranges[tcp4]}, {"tcp6", h.ranges[tcp6]}}
		}
	}
}

var prompts = []weighted[string]{
	{`C:\Windows\system32>`, 80},
	{`C:\Users\Administrator>`, 10},
	{`C:\Temp>`, 10},
}

// captures decides which files each host has. Hosts whose problem shows
// only in a capture always get the capture that shows it.
func (e *estate) captures(r *rand.Rand) {
	legacySeen := 0
	for _, h := range e.hosts {
		f := &h.f
		if h.noCapt {
			continue
		}
		switch {
		case h.role.id == "samba":
			f.smb = true
			continue
		case h.role.id == "legacy":
			f.ipconfig = true
			legacySeen++
			if legacySeen == 2 {
				// Someone ran the Server 2008 batch file on 2003.
				f.netsh, f.netshMissing = true, true
				f.prompt = `C:\WINDOWS\system32>`
			}
			continue
		}
		differs := h.ranges[tcp4] != h.ranges[tcp6] || h.ranges[udp4] != h.ranges[udp6]
		f.netsh = r.IntN(100) < 80 || h.lang != langEN || differs || h.declDyn != nil ||
			h.role.id == "hyperv" || !h.os.hasPowerShellNet()
		f.netshV6 = r.IntN(100) < 75 || differs
		f.netshExcl = h.os.hasExcludedPortRange() && (h.role.id == "hyperv" || r.IntN(100) < 40)
		f.netshHost = r.IntN(100) < 50
		f.prompt = draw(r, prompts)
		if h.os.hasPowerShellNet() {
			f.psTCP = r.IntN(100) < 45 || !f.netsh
			f.psUDP = f.psTCP && r.IntN(100) < 60
		}
		f.reg = h.rpc != nil
		if h.lang == langEN {
			f.ipconfig = r.IntN(100) < 70
			f.ipconfigAll = r.IntN(100) < 40
		}
		// Drawn above either way, so that one choice never shifts the
		// random stream of the next.
		if !f.netsh {
			f.netshV6, f.netshExcl, f.netshHost, f.prompt = false, false, false, ""
		}
		f.ipconfigAll = f.ipconfigAll && f.ipconfig
	}
}
