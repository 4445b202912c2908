package ingest

import (
	"strings"

	"github.com/rpcspan/rpcspan/audit"
)

// Capture formats scanPSSetting reports through capture.found.
const (
	formatPSTCPSetting = "ps-nettcpsetting"
	formatPSUDPSetting = "ps-netudpsetting"
)

// The PowerShell property names scanPSSetting reads. PowerShell does not
// translate them.
const (
	psSettingName = "SettingName"
	psStartPort   = "DynamicPortRangeStartPort"
	psNumPorts    = "DynamicPortRangeNumberOfPorts"
)

// psField is one "Name : value" line; line is 1-based, 0 when absent.
type psField struct {
	line  int
	value string
}

// psBlock is one object of PowerShell's list view.
type psBlock struct {
	named bool // has SettingName, which only Get-NetTCPSetting prints
	dyn   bool // has a DynamicPortRange* property
	start psField
	count psField
}

// psScan is the state of scanPSSetting over one file.
type psScan struct {
	c *capture
	// cmd is "tcp" or "udp" after an echoed Get-NetTCPSetting or
	// Get-NetUDPSetting command, "" before any.
	cmd string
	// done is set per protocol (0 tcp, 1 udp) once a range is recorded.
	done  [2]bool
	block psBlock
}

// scanPSSetting reads the list output of Get-NetTCPSetting and
// Get-NetUDPSetting: blocks of "Name : value" lines separated by blank
// lines. Windows keeps one dynamic range per protocol for both families, so
// every TCP setting block shows the same range and the first block with
// values is recorded for tcp4 and tcp6 (likewise udp4 and udp6); the
// Automatic block has empty values and is skipped.
func scanPSSetting(c *capture, lines []string) {
	s := &psScan{c: c}
	for i, line := range lines {
		t := strings.TrimSpace(line)
		if t == "" {
			s.flush()
			continue
		}
		if proto := psCommand(t); proto != "" {
			s.flush()
			s.cmd = proto
			continue
		}
		label, value, ok := strings.Cut(t, ":")
		if !ok {
			continue // "..." elisions and other text
		}
		label = strings.TrimRight(label, " \t")
		f := psField{line: i + 1, value: strings.TrimSpace(value)}
		switch {
		case strings.EqualFold(label, psSettingName):
			// A new object, even when no blank line came before it.
			if s.block.named || s.block.dyn {
				s.flush()
			}
			s.block.named = true
		case strings.EqualFold(label, psStartPort):
			if s.block.start.line != 0 {
				s.flush()
			}
			s.block.start, s.block.dyn = f, true
		case strings.EqualFold(label, psNumPorts):
			if s.block.count.line != 0 {
				s.flush()
			}
			s.block.count, s.block.dyn = f, true
		}
	}
	s.flush()
}

// flush ends the current block and records its range.
func (s *psScan) flush() {
	b := s.block
	s.block = psBlock{}
	if !b.dyn {
		return
	}
	// SettingName marks Get-NetTCPSetting. Without it, a block is
	// Get-NetUDPSetting's unless the echoed command says otherwise (as after
	// "Get-NetTCPSetting | Select-Object DynamicPortRange*").
	proto, cmd, format := "udp", "Get-NetUDPSetting", formatPSUDPSetting
	if b.named || s.cmd == "tcp" {
		proto, cmd, format = "tcp", "Get-NetTCPSetting", formatPSTCPSetting
	}
	s.c.found(format)
	if b.start.value == "" && b.count.value == "" {
		return // the Automatic setting
	}
	c := s.c
	switch {
	case b.start.value == "" && b.start.line == 0:
		c.problem(b.count.line, "%s: %s %q without %s", cmd, psNumPorts, b.count.value, psStartPort)
		return
	case b.start.value == "":
		c.problem(b.start.line, "%s: %s is empty while %s is %q", cmd, psStartPort, psNumPorts, b.count.value)
		return
	case b.count.value == "" && b.count.line == 0:
		c.problem(b.start.line, "%s: %s %q without %s", cmd, psStartPort, b.start.value, psNumPorts)
		return
	case b.count.value == "":
		c.problem(b.count.line, "%s: %s is empty while %s is %q", cmd, psNumPorts, psStartPort, b.start.value)
		return
	}
	r, bad, err := netshStartCount(b.start.value, b.count.value, psStartPort, psNumPorts)
	if err != nil {
		c.problem([2]int{b.start.line, b.count.line}[bad], "%s: %v", cmd, err)
		return
	}
	d := &s.done[0]
	if proto == "udp" {
		d = &s.done[1]
	}
	if *d {
		return // the range is global; later blocks repeat it
	}
	*d = true
	for _, fam := range []int{4, 6} {
		c.host.Ranges = append(c.host.Ranges, audit.RangeObs{
			Key:    audit.MakeKey(proto, fam),
			Range:  r,
			Origin: audit.Captured,
			Src:    c.src(b.start.line),
		})
	}
}

// psCommand returns "tcp" or "udp" when s is an echoed Get-NetTCPSetting or
// Get-NetUDPSetting command line, and "" otherwise.
func psCommand(s string) string {
	k := netshIndexFold(s, "get-net")
	if k < 0 {
		return ""
	}
	rest := s[k+len("get-net"):]
	if len(rest) < len("tcpsetting") {
		return ""
	}
	switch w := rest[:len("tcpsetting")]; {
	case strings.EqualFold(w, "tcpsetting"):
		return "tcp"
	case strings.EqualFold(w, "udpsetting"):
		return "udp"
	}
	return ""
}
