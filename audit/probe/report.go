package probe

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"

	"github.com/rpcspan/rpcspan/audit"
)

// Report is what "rpcspan probe" prints: every result and the findings
// comparing them with the estate.
type Report struct {
	Targets  []Result        `json:"targets"`
	Findings []audit.Finding `json:"findings"`
}

// NewReport returns the report of results, with their findings against e
// (which may be nil).
func NewReport(e *audit.Estate, results []Result) *Report {
	r := &Report{Targets: results, Findings: Findings(e, results)}
	if r.Targets == nil {
		r.Targets = []Result{}
	}
	if r.Findings == nil {
		r.Findings = []audit.Finding{}
	}
	return r
}

// WriteJSON writes {"targets": [...], "findings": [...]}, indented.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}

// Summary returns one line: targets by status, endpoints, ports and the
// findings.
func (r *Report) Summary() string {
	count := map[Status]int{}
	tcp, unreachable := 0, 0
	for _, t := range r.Targets {
		count[t.EPM]++
		for _, e := range t.Endpoints {
			if e.Protocol != "ncacn_ip_tcp" {
				continue
			}
			tcp++
			if e.Reachable != nil && !*e.Reachable {
				unreachable++
			}
		}
	}
	var parts []string
	for _, s := range []Status{StatusOK, StatusRefused, StatusTimeout, StatusError} {
		if count[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", count[s], s))
		}
	}
	sev := map[audit.Severity]int{}
	for _, f := range r.Findings {
		sev[f.Severity]++
	}
	return fmt.Sprintf("%s probed (%s); %s, %d unreachable; %d %s, %d %s",
		plural(len(r.Targets), "address", "addresses"), strings.Join(parts, ", "),
		plural(tcp, "ncacn_ip_tcp endpoint", "ncacn_ip_tcp endpoints"), unreachable,
		sev[audit.Error], pluralWord(sev[audit.Error], "error", "errors"),
		sev[audit.Warning], pluralWord(sev[audit.Warning], "warning", "warnings"))
}

func plural(n int, one, many string) string { return strconv.Itoa(n) + " " + pluralWord(n, one, many) }

func pluralWord(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// rows returns one row per network endpoint (ncacn_ip_tcp, ncacn_http,
// ncadg_ip_udp: named pipes and ncalrpc concern no firewall rule for RPC's
// dynamic ports), or one row for a target without any, and the check
// column from the findings.
func (r *Report) rows() [][]string {
	type fkey struct {
		host, addr string
		port       int
		uuid       string
	}
	outside := map[fkey]string{}
	for _, f := range r.Findings {
		if f.ID != IDEndpointOutsideRange {
			continue
		}
		span, _ := f.Detail["span"].([]string)
		addr, _ := f.Detail["address"].(string)
		port, _ := f.Detail["port"].(int)
		uuid, _ := f.Detail["uuid"].(string)
		outside[fkey{f.Host, addr, port, uuid}] = "outside " + strings.Join(span, ", ")
	}
	var rows [][]string
	for _, t := range r.Targets {
		addr := "-"
		if t.Address.IsValid() {
			addr = t.Address.String()
		}
		host := t.Host
		if host == "" {
			host = t.Target
		}
		n := 0
		for _, e := range t.Endpoints {
			if e.Port == 0 {
				continue
			}
			n++
			check := "-"
			if e.Reachable != nil {
				check = "open"
				if !*e.Reachable {
					check = e.Reason
				}
				if o, ok := outside[fkey{host, addr, int(e.Port), e.UUID.String()}]; ok {
					check += "; " + o
				}
			}
			iface := e.Name
			if iface == "" {
				iface = e.Annotation
			}
			if iface == "" {
				iface = e.UUID.String()
			}
			rows = append(rows, []string{t.Target, addr, string(t.EPM), e.Protocol, strconv.Itoa(int(e.Port)), iface + " v" + e.Version, check})
		}
		if n == 0 {
			note := t.Error
			if note == "" {
				note = "no network endpoints"
			}
			rows = append(rows, []string{t.Target, addr, string(t.EPM), "-", "-", "-", note})
		} else if t.Error != "" {
			rows = append(rows, []string{t.Target, addr, string(t.EPM), "-", "-", "-", t.Error})
		}
	}
	return rows
}

var reportHeader = []string{"TARGET", "ADDRESS", "EPM", "PROTOCOL", "PORT", "INTERFACE", "CHECK"}

// WriteTable writes the endpoints as an ASCII table, then the findings,
// then the summary line.
func (r *Report) WriteTable(w io.Writer) error {
	t := tablewriter.NewTable(w,
		tablewriter.WithRenderer(renderer.NewBlueprint(tw.Rendition{Symbols: tw.NewSymbols(tw.StyleASCII)})),
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithRowAutoWrap(tw.WrapNormal),
		tablewriter.WithRowMaxWidth(60),
		tablewriter.WithHeaderAutoWrap(tw.WrapNone),
	)
	t.Header(anySlice(reportHeader)...)
	if err := t.Bulk(r.rows()); err != nil {
		return err
	}
	if err := t.Render(); err != nil {
		return err
	}
	var b strings.Builder
	if len(r.Findings) > 0 {
		b.WriteString("\nFindings:\n")
		for _, f := range r.Findings {
			fmt.Fprintf(&b, "  %-7s %-22s %s: %s\n", f.Severity, f.ID, f.Host, f.Message)
		}
	}
	b.WriteString("\n" + r.Summary() + "\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteMarkdown writes the same as WriteTable in GitHub-flavoured
// Markdown, every cell escaped so that nothing a server sends can break
// out of it.
func (r *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	b.WriteString("## RPC endpoints\n\n" + r.Summary() + "\n\n")
	markdownTable(&b, reportHeader, r.rows())
	if len(r.Findings) > 0 {
		b.WriteString("\n### Findings\n\n")
		var rows [][]string
		for _, f := range r.Findings {
			rows = append(rows, []string{f.Severity.String(), f.ID, f.Host, f.Message})
		}
		markdownTable(&b, []string{"severity", "id", "host", "message"}, rows)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func markdownTable(b *strings.Builder, header []string, rows [][]string) {
	line := func(cells []string) {
		b.WriteString("|")
		for _, c := range cells {
			b.WriteString(" " + markdownCell(c) + " |")
		}
		b.WriteString("\n")
	}
	line(header)
	b.WriteString("|" + strings.Repeat("---|", len(header)) + "\n")
	for _, r := range rows {
		line(r)
	}
}

// markdownEscaper keeps a cell in its cell, like audit/report's: "|" ends
// a cell, a line break a row, "<" could start HTML.
var markdownEscaper = strings.NewReplacer(`|`, `\|`, `<`, `&lt;`, `>`, `&gt;`, "\r", " ", "\n", " ")

func markdownCell(s string) string {
	if s == "" {
		return "-"
	}
	return markdownEscaper.Replace(s)
}

func anySlice(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}
