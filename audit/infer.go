package audit

import (
	"fmt"
	"strings"
)

// Inferred is the Origin of a range nobody captured or declared: rpcspan
// derived it from the host's OS and applications (KB929851), or fell back
// to the baseline.
const Inferred Origin = "inferred"

// Effective is the dynamic range rpcspan uses for one host and key, with
// how it became known.
type Effective struct {
	Key    Key
	Range  PortRange
	Origin Origin // Captured, Declared, Flagged or Inferred
	Src    Source // where the value was read; zero when inferred
	// Reason says what an inferred range was derived from, such as
	// `OS "Windows Server 2003 R2"`; empty otherwise.
	Reason string
}

// Effective returns the range h uses for k: the one read from the inputs
// (Host.Range decides between them) or, when there is none, the one its OS
// and applications imply, else the baseline.
func (e *Estate) Effective(h *Host, k Key) Effective {
	if o, ok := h.Range(k); ok {
		return Effective{Key: k, Range: o.Range, Origin: o.Origin, Src: o.Src}
	}
	if !h.PreVista.IsZero() {
		// A capture is better evidence than the OS text an inventory gives.
		reason := "netsh on the host has no \"int ipv4 show dynamicport\" (Windows Server 2003 or older), " + h.PreVista.String()
		return Effective{Key: k, Range: LegacyRange, Origin: Inferred, Reason: reason}
	}
	if r, reason, ok := InferRange(h.OS, h.Apps); ok {
		return Effective{Key: k, Range: r, Origin: Inferred, Reason: reason}
	}
	b := e.BaselineRange(k)
	reason := "the baseline (no OS known)"
	if h.OS != "" {
		reason = fmt.Sprintf("the baseline (OS %q not recognised)", h.OS)
	}
	return Effective{Key: k, Range: b.Range, Origin: Inferred, Reason: reason}
}

// OSGeneration classifies a Windows version by its dynamic port default.
type OSGeneration int

// The generations.
const (
	OSUnknown    OSGeneration = iota
	OSLegacy                  // Windows 2000, XP, Server 2003: 1025-5000
	OSServer2008              // Vista, Server 2008 (and R2), Windows 7: 49152-65535, and where Exchange 2007 sets 1025-60000
	OSModern                  // Windows 8 / Server 2012 and later: 49152-65535
)

// ParseOS recognises the usual spellings of Windows versions: "Windows
// Server 2003 R2", "Win2k3", "W2K8R2", "Microsoft Windows Server 2019
// Datacenter", "2012 R2", "Windows 10", "Vista" and the like.
func ParseOS(os string) OSGeneration {
	s := osNoise.Replace(strings.ToLower(os))
	compact := strings.ReplaceAll(s, " ", "")
	has := func(words ...string) bool {
		for _, w := range words {
			if strings.Contains(compact, w) {
				return true
			}
		}
		return false
	}
	// Newest first, so that "W2K8R2" is not taken for "W2K" (Windows 2000).
	switch {
	case has("2012", "2k12", "2016", "2k16", "2019", "2k19", "2022", "2k22", "2025", "windows8", "win8", "windows10", "win10", "windows11", "win11"):
		return OSModern
	case has("2008", "2k8", "vista", "windows7", "win7"):
		return OSServer2008
	case has("2003", "2k3", "windowsxp", "winxp", "2000", "win2k", "w2k", "nt4", "windowsnt"):
		return OSLegacy
	}
	if strings.Contains(s, "xp") && strings.Contains(s, "windows") {
		return OSLegacy
	}
	return OSUnknown
}

// NonWindows reports whether os names a system that is not Windows (Linux
// distributions, Samba, BSD, Unix), where netsh's limits do not apply.
func NonWindows(os string) bool {
	s := strings.ToLower(os)
	for _, w := range []string{"linux", "debian", "ubuntu", "red hat", "rhel", "centos", "rocky", "alma", "suse", "samba", "bsd", "unix", "solaris", "aix"} {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

// osNoise and appNoise remove what varies between spellings of the same
// name; package-level because building a Replacer per call showed up in
// profiles of 100,000-host estates.
var (
	osNoise  = strings.NewReplacer("microsoft", " ", "(r)", " ", "®", " ", "_", " ", "-", " ")
	appNoise = strings.NewReplacer(" ", "", "-", "", "_", "")
)

// exchange2007 reports whether apps lists Exchange 2007 in a usual spelling.
func exchange2007(apps []string) bool {
	for _, a := range apps {
		c := appNoise.Replace(strings.ToLower(a))
		if strings.Contains(c, "exchange2007") || c == "ex2007" || c == "exch2007" || c == "e2k7" {
			return true
		}
	}
	return false
}

// InferRange returns the dynamic range Windows uses by default for os and
// apps (KB929851): 1025-5000 before Vista, 1025-60000 where Exchange 2007
// was installed on Server 2008, 49152-65535 otherwise. ok is false when the
// OS is not recognised.
func InferRange(os string, apps []string) (r PortRange, reason string, ok bool) {
	switch ParseOS(os) {
	case OSLegacy:
		return LegacyRange, fmt.Sprintf("OS %q (pre-Vista default)", os), true
	case OSServer2008:
		if exchange2007(apps) {
			return Exchange2007Range, fmt.Sprintf("Exchange 2007 on OS %q", os), true
		}
		return DefaultRange, fmt.Sprintf("OS %q (Vista and later default)", os), true
	case OSModern:
		return DefaultRange, fmt.Sprintf("OS %q (Vista and later default)", os), true
	}
	return PortRange{}, "", false
}

// Span is the set of ports RPC servers on a host listen on, besides 135.
type Span struct {
	Ports []PortRange // merged and sorted
	// Restricted is true when the ports come from the Rpc\Internet
	// restriction rather than from the dynamic range.
	Restricted bool
	Range      Effective // the dynamic range, when Restricted is false
}

// Span returns the ports RPC on h uses for key k: its Rpc\Internet ports
// when that restriction is in force and valid (it applies to TCP and UDP
// alike), else its effective dynamic range. An invalid restriction is
// rejected by Windows as a whole, so the dynamic range is used then; the
// audit reports the error.
func (e *Estate) Span(h *Host, k Key) Span {
	if ports, inForce, issues := h.Restriction(); inForce && len(issues) == 0 && len(ports) > 0 {
		return Span{Ports: ports, Restricted: true}
	}
	eff := e.Effective(h, k)
	return Span{Ports: []PortRange{eff.Range}, Range: eff}
}
