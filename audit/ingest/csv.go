package ingest

import (
	"encoding/csv"
	"errors"
	"io"
	"slices"
	"strings"

	"github.com/rpcspan/rpcspan/audit"
)

// csvColumns are the columns ReadCSV knows. "sources" is what rpcspan's
// own CSV inventory output adds; it is accepted and ignored so that such a
// file reads back.
var csvColumns = []string{"name", "addresses", "groups", "tcp4", "udp4", "tcp6", "udp6", "tcp", "udp", "os", "apps", "rpc_ports", "excluded", "sources"}

// ReadCSV reads a CSV inventory, one host per row under a header such as
//
//	name,addresses,groups,tcp4,udp4,tcp6,udp6
//	DC01,10.1.0.10;fd00:1::10,dc,49152-65535,49152+16384,,
//
// Columns are matched by header name, case-insensitively, in any order; tcp
// and udp (both families), os, apps, rpc_ports, excluded ("tcp4:50000-50059"
// entries) and sources (ignored) may be added. Lists inside a cell are
// separated by spaces, semicolons or commas; an empty cell means unknown.
// A bad cell is a problem on its line and reading goes on; a row without a
// valid name is skipped with a problem. The error is only for failures to
// read r.
func ReadCSV(r io.Reader, file string) (*Result, error) {
	b, err := readAll(r, file)
	if err != nil {
		return nil, err
	}
	return parseCSV(Decode(b), file), nil
}

// csvInv reads the rows of a CSV inventory.
type csvInv struct {
	*invReader
	cr      *csv.Reader
	cols    map[string]int // column name -> index in the row
	width   int            // fields in the header
	unnamed []int          // columns without a header name
}

func parseCSV(text, file string) *Result {
	v := newInvReader(file, KindCSV)
	cr := csv.NewReader(strings.NewReader(text))
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	cr.Comment = '#' // no host name starts with '#'
	c := &csvInv{invReader: v, cr: cr, cols: map[string]int{}}
	if !c.header() {
		return v.result()
	}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			v.problem(pe.StartLine, "", "row skipped: %v", pe.Err)
			continue
		}
		if err != nil || len(rec) == 0 {
			break // only a failing reader; strings.Reader does not fail
		}
		c.row(rec)
	}
	return v.result()
}

// line returns the line of field i of the row just read.
func (c *csvInv) line(i int) int {
	n, _ := c.cr.FieldPos(i)
	return n
}

// header reads the first row and reports whether there are rows to read.
func (c *csvInv) header() bool {
	rec, err := c.cr.Read()
	var pe *csv.ParseError
	switch {
	case errors.As(err, &pe):
		c.problem(pe.StartLine, "", "cannot read the header: %v", pe.Err)
		return false
	case err != nil || len(rec) == 0: // empty file
		return false
	}
	line := c.line(0)
	c.width = len(rec)
	for i, h := range rec {
		name := strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\uFEFF")))
		switch {
		case name == "":
			c.unnamed = append(c.unnamed, i)
		case !slices.Contains(csvColumns, name):
			c.problem(line, "", "unknown column %q (want %s)", invShort(h), invOrList(csvColumns))
		default:
			if _, dup := c.cols[name]; dup {
				c.problem(line, "", "column %q given twice; the second is ignored", invShort(h))
				continue
			}
			c.cols[name] = i
		}
	}
	if _, ok := c.cols["name"]; !ok {
		c.problem(line, "", "no name column: want a header such as name,addresses,groups,tcp4,udp4,tcp6,udp6")
		return false
	}
	return true
}

// cell returns the trimmed cell of column col and its line; ok is false
// when the column is absent or the cell empty (unknown).
func (c *csvInv) cell(rec []string, col string) (s string, line int, ok bool) {
	i, has := c.cols[col]
	if !has || i >= len(rec) {
		return "", 0, false
	}
	s = strings.TrimSpace(rec[i])
	// rpcspan's CSV output guards cells a spreadsheet would run as a
	// formula with a leading quote; take it off again.
	if len(s) > 1 && s[0] == '\'' && strings.IndexByte("=+-@", s[1]) >= 0 {
		s = s[1:]
	}
	return s, c.line(i), s != ""
}

// csvSplitList splits a cell holding a list.
func csvSplitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ';' || r == ',' || r == '\t' })
}

func (c *csvInv) row(rec []string) {
	empty := true
	for _, f := range rec {
		if strings.TrimSpace(f) != "" {
			empty = false
			break
		}
	}
	if empty { // spreadsheets write rows of bare commas
		return
	}
	first := c.line(0)
	if len(rec) != c.width {
		c.problem(first, "", "row has %d fields, the header has %d", len(rec), c.width)
	}
	for _, i := range c.unnamed {
		if i < len(rec) && strings.TrimSpace(rec[i]) != "" {
			c.problem(c.line(i), "", "column %d has no name in the header; its cells are ignored", i+1)
			c.unnamed = nil // once per file
			break
		}
	}
	name, line, _ := c.cell(rec, "name")
	if line == 0 {
		line = first
	}
	e := c.addHost(name, line)
	if e == nil {
		return
	}
	host := e.h.Name
	if s, line, ok := c.cell(rec, "addresses"); ok {
		for _, t := range csvSplitList(s) {
			a, err := invAddr(t)
			if err != nil {
				c.problem(line, host, "addresses: %v", err)
				continue
			}
			e.addAddr(a, c.src(line))
		}
	}
	if s, line, ok := c.cell(rec, "groups"); ok {
		for _, t := range csvSplitList(s) {
			if err := audit.ValidGroupName(t); err != nil {
				c.problem(line, host, "groups: %v", err)
				continue
			}
			e.addGroup(t)
		}
	}
	if s, line, ok := c.cell(rec, "os"); ok {
		if err := invText(s); err != nil {
			c.problem(line, host, "os: %v", err)
		} else {
			e.setOS(s)
		}
	}
	if s, line, ok := c.cell(rec, "apps"); ok {
		for _, t := range csvSplitList(s) {
			if err := invText(t); err != nil {
				c.problem(line, host, "apps: %v", err)
				continue
			}
			e.addApp(t)
		}
	}
	// Both-family columns first, so that tcp4 beats tcp wherever it stands.
	for _, col := range []string{"tcp", "udp", "tcp4", "udp4", "tcp6", "udp6"} {
		s, line, ok := c.cell(rec, col)
		if !ok {
			continue
		}
		r, err := audit.ParseRange(s)
		if err != nil {
			c.problem(line, host, "%s: %v", col, err)
			continue
		}
		keys, _ := audit.ParseKeys(col)
		for _, k := range keys {
			e.addRange(audit.RangeObs{Key: k, Range: r, Origin: audit.Declared, Src: c.src(line)})
		}
	}
	if s, line, ok := c.cell(rec, "excluded"); ok {
		for _, t := range csvSplitList(s) {
			key, rng, found := strings.Cut(t, ":")
			if !found {
				c.problem(line, host, "excluded: %q: want KEY:RANGE such as tcp4:50000-50059", invShort(t))
				continue
			}
			keys, err := audit.ParseKeys(key)
			if err != nil {
				c.problem(line, host, "excluded: %v", err)
				continue
			}
			r, err := audit.ParseRange(rng)
			if err != nil {
				c.problem(line, host, "excluded: %v", err)
				continue
			}
			for _, k := range keys {
				e.addExcluded(audit.Excluded{Key: k, Range: r, Src: c.src(line)})
			}
		}
	}
	if s, line, ok := c.cell(rec, "rpc_ports"); ok {
		var ports []audit.PortsEntry
		for _, t := range csvSplitList(s) {
			ports = append(ports, audit.PortsEntry{Text: t, Src: c.src(line)})
		}
		e.setRPCPorts(ports, c.src(line))
	}
}
