package ingest

import (
	"fmt"
	"io"
	"strings"

	"github.com/rpcspan/rpcspan/audit"
)

// MaxFileSize is the largest input rpcspan reads; anything longer is cut
// there and reported, so that a stray disk image cannot exhaust memory.
const MaxFileSize = 64 << 20

// Kind names the formats a file can be recognised as.
type Kind string

// The kinds of input file.
const (
	KindInventory Kind = "inventory" // YAML or JSON inventory
	KindCSV       Kind = "csv"       // CSV inventory
	KindCollector Kind = "collector" // JSON written by rpcspan's collector script
	KindCapture   Kind = "capture"   // raw command output (netsh, PowerShell, reg, ipconfig, ...)
	KindUnknown   Kind = ""          // nothing rpcspan reads
)

// Result is what one file says.
type Result struct {
	Kind Kind
	// Formats lists the capture formats found, such as "netsh-dynamicport"
	// (for captures; one file may hold several).
	Formats []string
	// Hosts are the hosts the file describes. A capture describes one host
	// whose Name is empty unless the file names it itself (collector JSON);
	// Load then decides the name from the file's path.
	Hosts []*audit.Host
	// Baseline and Policy come from inventory files only.
	Baseline map[audit.Key]audit.RangeObs
	Policy   []audit.PolicyRule
	// PolicySet is true when the inventory has a policy key, even if none
	// of its rules could be read: then nothing is allowed, never everything.
	PolicySet bool
	// Problems are values that could not be read.
	Problems []audit.Problem
	// Fatal is set when the file could not be read at all (broken YAML);
	// the run stops with exit code 2 and this message.
	Fatal error
}

// capture collects what text scanners find in one capture file.
type capture struct {
	file     string
	host     *audit.Host
	formats  []string
	problems []audit.Problem
}

func newCapture(file string) *capture {
	return &capture{file: file, host: &audit.Host{}}
}

// src returns the source for 1-based line n.
func (c *capture) src(n int) audit.Source { return audit.Source{File: c.file, Line: n} }

// problem records a value that could not be read on line n.
func (c *capture) problem(n int, format string, args ...any) {
	c.problems = append(c.problems, audit.Problem{Src: c.src(n), Msg: fmt.Sprintf(format, args...)})
}

// found records that format was seen in the file.
func (c *capture) found(format string) {
	for _, f := range c.formats {
		if f == format {
			return
		}
	}
	c.formats = append(c.formats, format)
}

func (c *capture) result() *Result {
	r := &Result{Kind: KindCapture, Formats: c.formats, Problems: c.problems}
	if len(c.formats) > 0 {
		r.Hosts = []*audit.Host{c.host}
	} else {
		r.Kind = KindUnknown
	}
	return r
}

// A scanner looks for one capture format in the lines of a file (index i
// is line i+1, without its line end) and records what it finds in c.
type scanner func(c *capture, lines []string)

// scanners are all capture formats; each ignores lines that are not its own,
// so a file holding several captures one after another is read whole.
var scanners = []scanner{
	scanNetsh,     // netsh.go: dynamicport and excludedportrange blocks
	scanPSSetting, // pssetting.go: Get-NetTCPSetting / Get-NetUDPSetting
	scanReg,       // reg.go: .reg exports and reg query output of Rpc\Internet
	scanIPConfig,  // ipconfig.go
	scanLinux,     // linux.go: ip_local_port_range and smb.conf
	scanFirewall,  // winfw.go: Windows Firewall rules (netsh advfirewall, Get-NetFirewallRule)
	scanFWProfile, // winfwprofile.go: Windows Firewall profile state (netsh advfirewall show allprofiles, Get-NetFirewallProfile)
}

// SplitLines splits decoded text into lines without line ends.
func SplitLines(text string) []string {
	text = strings.TrimSuffix(text, "\n")
	if text == "" {
		return nil
	}
	return strings.Split(text, "\n")
}

// ReadCapture reads raw command output captured on one host.
func ReadCapture(r io.Reader, file string) (*Result, error) {
	b, err := readAll(r, file)
	if err != nil {
		return nil, err
	}
	return parseCapture(Decode(b), file), nil
}

func parseCapture(text, file string) *Result {
	c := newCapture(file)
	lines := SplitLines(text)
	for _, scan := range scanners {
		scan(c, lines)
	}
	return c.result()
}

// readAll reads at most MaxFileSize bytes.
func readAll(r io.Reader, file string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", file, err)
	}
	if len(b) > MaxFileSize {
		return nil, fmt.Errorf("reading %s: larger than %d MiB", file, MaxFileSize>>20)
	}
	return b, nil
}
