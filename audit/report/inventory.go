package report

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/rpcspan/rpcspan/audit"
)

// Inventory is the resolved estate as "rpcspan inventory" prints it: what
// each host uses, and where every fact came from.
type Inventory struct {
	Hosts    []InventoryHost   `json:"hosts" yaml:"hosts"`
	Baseline map[string]string `json:"baseline" yaml:"baseline"`
	Policy   []InventoryPolicy `json:"policy,omitempty" yaml:"policy,omitempty"`
	Problems []InventoryIssue  `json:"problems" yaml:"problems"`
}

// InventoryHost is one host of an Inventory. Ranges are "FIRST-LAST"
// strings, single ports "5984"; keys of Dynamic and Excluded appear only for
// what is known.
type InventoryHost struct {
	Name      string   `json:"name" yaml:"name"`
	Addresses []string `json:"addresses" yaml:"addresses"`
	Groups    []string `json:"groups,omitempty" yaml:"groups,omitempty"`
	OS        string   `json:"os,omitempty" yaml:"os,omitempty"`
	Apps      []string `json:"apps,omitempty" yaml:"apps,omitempty"`
	// Dynamic is the effective range per key (tcp4, udp4, tcp6, udp6).
	Dynamic map[string]string `json:"dynamic" yaml:"dynamic"`
	// DynamicFrom says, per key, whether the range was captured, declared
	// in an inventory or given as a flag, and where.
	DynamicFrom map[string]RangeFrom `json:"dynamic_from,omitempty" yaml:"dynamic_from,omitempty"`
	RPCPorts    []string             `json:"rpc_ports,omitempty" yaml:"rpc_ports,omitempty"`
	RPCInternet *RPCInternet         `json:"rpc_internet,omitempty" yaml:"rpc_internet,omitempty"`
	Excluded    map[string][]string  `json:"excluded,omitempty" yaml:"excluded,omitempty"`
	Sources     []string             `json:"sources" yaml:"sources"`
}

// RangeFrom tells where an effective range came from.
type RangeFrom struct {
	Origin string `json:"origin" yaml:"origin"` // captured, declared or flag
	Source string `json:"source" yaml:"source"` // file:line or the flag
}

// RPCInternet is the Rpc\Internet restriction besides its Ports list.
type RPCInternet struct {
	PortsType              string `json:"ports_type,omitempty" yaml:"ports_type,omitempty"`
	PortsInternetAvailable string `json:"ports_internet_available,omitempty" yaml:"ports_internet_available,omitempty"`
	UseInternetPorts       string `json:"use_internet_ports,omitempty" yaml:"use_internet_ports,omitempty"`
}

// InventoryPolicy is one policy rule.
type InventoryPolicy struct {
	Name     string   `json:"name" yaml:"name"`
	From     []string `json:"from" yaml:"from"`
	To       []string `json:"to" yaml:"to"`
	Services []string `json:"services" yaml:"services"`
	Source   string   `json:"source" yaml:"source"`
}

// InventoryIssue is a value that could not be read.
type InventoryIssue struct {
	ID      string `json:"id" yaml:"id"` // always "input-invalid"
	Source  string `json:"source" yaml:"source"`
	Host    string `json:"host,omitempty" yaml:"host,omitempty"`
	Message string `json:"message" yaml:"message"`
}

// NewInventory builds the printable inventory of e.
func NewInventory(e *audit.Estate) *Inventory {
	inv := &Inventory{Hosts: []InventoryHost{}, Baseline: map[string]string{}, Problems: []InventoryIssue{}}
	for _, k := range audit.Keys {
		inv.Baseline[string(k)] = e.BaselineRange(k).Range.String()
	}
	for _, h := range e.Hosts() {
		ih := InventoryHost{
			Name:      h.Name,
			Addresses: []string{},
			Groups:    h.Groups,
			OS:        h.OS,
			Apps:      h.Apps,
			Dynamic:   map[string]string{},
			Sources:   []string{},
		}
		for _, a := range h.AddrList() {
			ih.Addresses = append(ih.Addresses, a.String())
		}
		for _, k := range audit.Keys {
			if o, ok := h.Range(k); ok {
				ih.Dynamic[string(k)] = o.Range.String()
				if ih.DynamicFrom == nil {
					ih.DynamicFrom = map[string]RangeFrom{}
				}
				ih.DynamicFrom[string(k)] = RangeFrom{Origin: string(o.Origin), Source: o.Src.String()}
			}
			if ex := h.ExcludedRanges(k); len(ex) > 0 {
				if ih.Excluded == nil {
					ih.Excluded = map[string][]string{}
				}
				for _, r := range ex {
					ih.Excluded[string(k)] = append(ih.Excluded[string(k)], r.String())
				}
			}
		}
		if h.RPC != nil {
			for _, p := range h.RPC.Ports {
				ih.RPCPorts = append(ih.RPCPorts, p.Text)
			}
			ih.RPCInternet = &RPCInternet{
				PortsType:              h.RPC.PortsType,
				PortsInternetAvailable: h.RPC.PortsInternetAvailable.Value,
				UseInternetPorts:       h.RPC.UseInternetPorts.Value,
			}
		}
		for _, s := range h.SourceList() {
			ih.Sources = append(ih.Sources, s.String())
		}
		inv.Hosts = append(inv.Hosts, ih)
	}
	for _, r := range e.Policy {
		p := InventoryPolicy{Name: r.Name, Source: r.Src.String()}
		for _, s := range r.From {
			p.From = append(p.From, s.String())
		}
		for _, s := range r.To {
			p.To = append(p.To, s.String())
		}
		for _, s := range r.Services {
			p.Services = append(p.Services, s.String())
		}
		inv.Policy = append(inv.Policy, p)
	}
	for _, p := range e.SortedProblems() {
		inv.Problems = append(inv.Problems, InventoryIssue{ID: "input-invalid", Source: p.Src.String(), Host: p.Host, Message: p.Msg})
	}
	return inv
}

// WriteJSON writes inv as indented JSON.
func (inv *Inventory) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(inv)
}

// WriteYAML writes inv as YAML.
func (inv *Inventory) WriteYAML(w io.Writer) error {
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(inv); err != nil {
		return err
	}
	return enc.Close()
}

// inventoryColumns are the columns of the CSV, table and Markdown forms.
// The CSV header matches the inventory CSV rpcspan reads, so an inventory
// printed with -o csv can be read back.
var inventoryColumns = []string{"name", "addresses", "groups", "tcp4", "udp4", "tcp6", "udp6", "os", "rpc_ports", "excluded", "sources"}

// rows returns one row per host. With brief, excluded ranges are counted
// per key instead of listed, to keep a terminal table readable.
func (inv *Inventory) rows(sep string, brief bool) [][]string {
	var rows [][]string
	for _, h := range inv.Hosts {
		row := []string{h.Name, strings.Join(h.Addresses, sep), strings.Join(h.Groups, sep)}
		for _, k := range audit.Keys {
			row = append(row, h.Dynamic[string(k)])
		}
		var ex []string
		for _, k := range audit.Keys {
			list := h.Excluded[string(k)]
			if brief && len(list) > 0 {
				ex = append(ex, fmt.Sprintf("%s: %d", k, len(list)))
				continue
			}
			for _, r := range list {
				ex = append(ex, string(k)+":"+r)
			}
		}
		row = append(row, h.OS, strings.Join(h.RPCPorts, sep), strings.Join(ex, sep), strings.Join(h.Sources, sep))
		rows = append(rows, row)
	}
	return rows
}

// WriteCSV writes one row per host. Cells that a spreadsheet would run as
// a formula are prefixed with a quote.
func (inv *Inventory) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(inventoryColumns); err != nil {
		return err
	}
	for _, row := range inv.rows(" ", false) {
		for i, c := range row {
			row[i] = csvSafe(c)
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteTable writes a terminal table. Problems are not part of it: the
// command prints them to standard error.
func (inv *Inventory) WriteTable(w io.Writer) error {
	cols := []string{"host", "addresses", "groups", "tcp4", "udp4", "tcp6", "udp6", "os", "rpc ports", "excluded ranges"}
	var rows [][]string
	for _, r := range inv.rows(", ", true) {
		for i := range r {
			if r[i] == "" {
				r[i] = "-"
			}
		}
		rows = append(rows, r[:len(cols)])
	}
	return writeASCIITable(w, cols, rows)
}

// WriteMarkdown writes a Markdown table for change tickets.
func (inv *Inventory) WriteMarkdown(w io.Writer) error {
	cols := []string{"host", "addresses", "groups", "tcp4", "udp4", "tcp6", "udp6", "os", "rpc ports", "excluded"}
	var rows [][]string
	for _, r := range inv.rows(", ", true) {
		rows = append(rows, r[:len(cols)])
	}
	if _, err := fmt.Fprintf(w, "### Estate: %d hosts\n\n", len(inv.Hosts)); err != nil {
		return err
	}
	if err := writeMarkdownTable(w, cols, rows); err != nil {
		return err
	}
	if len(inv.Problems) == 0 {
		return nil
	}
	if _, err := fmt.Fprintf(w, "\n### Input problems: %d\n\n", len(inv.Problems)); err != nil {
		return err
	}
	var prows [][]string
	for _, p := range inv.Problems {
		prows = append(prows, []string{p.Source, p.Host, p.Message})
	}
	return writeMarkdownTable(w, []string{"source", "host", "problem"}, prows)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
