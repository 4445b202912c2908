package report

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"strconv"
	"strings"

	"github.com/rpcspan/rpcspan/audit"
	"github.com/rpcspan/rpcspan/templates"
)

// HTMLOptions is what the HTML report shows besides the Audit itself. The
// zero value gives the summary, the findings, the flows and the migration
// view, without the map.
type HTMLOptions struct {
	// Estate is the estate the audit judged; it is drawn as the port-range
	// map. Nil leaves the map out.
	Estate *audit.Estate
	// Title heads the page; "" means "rpcspan audit".
	Title string
	// Inputs are the files and folders read, as given on the command line.
	Inputs []string
	// EmitTarget names the target Rules were rendered for ("nftables").
	EmitTarget string
	// Rules is the text "rpcspan emit --target EmitTarget" writes for the
	// same estate, shown in a copyable block; "" leaves the section out.
	Rules string
	// Live is what probing found: per host name (compared
	// case-insensitively), the ports its endpoint mapper listed. They are
	// drawn as ticks on the map, marked when they lie outside the host's
	// span. Nil means the estate was not probed.
	Live map[string][]LivePort
}

// htmlMaxList is how many items of an address or host list a table cell
// shows; the copyable text under the table has them all.
const htmlMaxList = 12

// htmlTemplate is parsed once. Everything from the inputs reaches the page
// through html/template's contextual escaping; nothing is marked safe.
var htmlTemplate = template.Must(template.New("report").
	Option("missingkey=error").
	Funcs(template.FuncMap{
		"num":     num,
		"add":     func(a, b float64) float64 { return a + b },
		"join":    func(s []string) string { return strings.Join(s, ", ") },
		"rects":   rectPath,
		"markers": markerPath,
	}).
	ParseFS(templates.Report, "report/*.html"))

// htmlPage is what the template renders.
type htmlPage struct {
	Title      string
	NFindings  int
	Verdict    string
	Pass       bool
	FailOn     string
	Hosts      int
	Files      int
	Inputs     []string
	RuleBases  string // "" when no rule base was evaluated
	Severities []htmlCount
	Findings   []htmlFinding
	Map        *mapView
	Flows      htmlFlows
	EmitTarget string
	Rules      string
	Migration  *htmlMigration
}

type htmlCount struct {
	Severity string
	Mark     string
	N        int
}

// htmlFinding is one row of the findings table: a finding, with every
// host that has the very same one (same severity, id and message).
type htmlFinding struct {
	Rank     int // severity, 2 for error, for sorting
	Severity string
	Hosts    []string
	ID       string
	Message  string
}

// htmlList is a list cut for a table cell: the first items and how many
// more there are.
type htmlList struct {
	Items []string
	More  int
}

func cutList(s []string) htmlList {
	if len(s) > htmlMaxList {
		return htmlList{Items: s[:htmlMaxList], More: len(s) - htmlMaxList}
	}
	return htmlList{Items: s}
}

type htmlFlows struct {
	Headline  string
	Rules     []htmlRule
	Unmatched []string
	Status    bool // the Status column is shown
	Text      string
}

type htmlRule struct {
	N            int
	Family       string
	Proto        string
	Service      string
	Ports        []string
	Sources      htmlList
	Destinations htmlList
	Hosts        htmlList
	Flows        int
	Status       string
}

type htmlMigration struct {
	Target string
	Moving htmlList
	All    []string
	Parts  []htmlMigrationPart
	Text   string
}

type htmlMigrationPart struct {
	Title   string
	ID      string
	Changes []htmlChange
}

type htmlChange struct {
	Family       string
	Proto        string
	Ports        []string
	Sources      htmlList
	Destinations htmlList
	Hosts        htmlList
}

// WriteHTML writes the audit as one self-contained HTML page for a change
// ticket: the summary, the port-range map (when opt.Estate is given), the
// findings in a table that sorts and filters without any network, the
// required flows, the rules for one target and the migration view. The
// page loads nothing: styles, the map (SVG) and the script are inline and a
// Content-Security-Policy forbids any fetch. The output is deterministic.
func (a *Audit) WriteHTML(w io.Writer, opt HTMLOptions) error {
	p := a.htmlPage(opt)
	// Rendered fully before writing, so that an error leaves no half page.
	var b bytes.Buffer
	if err := htmlTemplate.ExecuteTemplate(&b, "audit.html", p); err != nil {
		return fmt.Errorf("rendering the HTML report: %w", err)
	}
	_, err := w.Write(b.Bytes())
	return err
}

func (a *Audit) htmlPage(opt HTMLOptions) *htmlPage {
	p := &htmlPage{
		Title: opt.Title, Verdict: a.Summary.Verdict, Pass: a.Summary.Pass, FailOn: a.Summary.FailOn,
		Hosts: a.Summary.Hosts, Files: a.Summary.Files, Inputs: opt.Inputs,
		EmitTarget: opt.EmitTarget, Rules: opt.Rules, NFindings: len(a.Findings),
		RuleBases: ruleBasesText(a.Summary.RuleBases),
	}
	if p.Title == "" {
		p.Title = "rpcspan audit"
	}
	for _, s := range []string{"error", "warning", "info"} {
		p.Severities = append(p.Severities, htmlCount{Severity: s, Mark: strings.ToUpper(s[:1]), N: a.Summary.Findings[s]})
	}
	p.Findings = groupFindings(a.Findings)
	var target *audit.PortRange
	if a.Migration != nil {
		if r, err := audit.ParseRange(a.Migration.Target); err == nil {
			target = &r
		}
	}
	if opt.Estate != nil {
		p.Map = buildMap(opt.Estate, a.Findings, opt.Live, target)
	}
	if a.Flows != nil {
		p.Flows = htmlFlowsOf(a.Flows)
	}
	p.Migration = htmlMigrationOf(a.Migration)
	return p
}

// groupFindings puts findings that differ only in their host into one
// row, in the order of their first: in a large estate thousands of hosts
// share a handful of messages, and one row with the hosts reads (and
// weighs) far less than thousands of repeats.
func groupFindings(fs []audit.Finding) []htmlFinding {
	type key struct {
		sev         audit.Severity
		id, message string
	}
	index := map[key]int{}
	var out []htmlFinding
	for _, f := range fs {
		k := key{f.Severity, f.ID, f.Message}
		i, ok := index[k]
		if !ok {
			i = len(out)
			index[k] = i
			out = append(out, htmlFinding{Rank: int(f.Severity), Severity: f.Severity.String(), ID: f.ID, Message: f.Message})
		}
		if f.Host != "" {
			out[i].Hosts = append(out[i].Hosts, f.Host)
		}
	}
	return out
}

func htmlFlowsOf(f *Flows) htmlFlows {
	out := htmlFlows{Headline: f.headline(), Unmatched: f.Unmatched, Status: f.audited()}
	var text strings.Builder
	for i, r := range f.Rules {
		hr := htmlRule{
			N: i + 1, Family: "IPv" + strconv.Itoa(r.Family), Proto: r.Proto, Service: r.Service, Ports: r.Ports,
			Sources: cutList(r.Sources), Destinations: cutList(r.Destinations), Hosts: cutList(r.DestHosts), Flows: r.Flows,
		}
		hr.Status = r.ExistingRules
		out.Rules = append(out.Rules, hr)
		fmt.Fprintf(&text, "rule %d: IPv%d %s %s, ports %s, %d raw %s", i+1, r.Family, r.Proto, r.Service, strings.Join(r.Ports, ", "),
			r.Flows, plural(r.Flows, "flow", "flows"))
		if hr.Status != "" {
			fmt.Fprintf(&text, ", %s", hr.Status)
		}
		fmt.Fprintf(&text, "\n  from:  %s\n  to:    %s\n  hosts: %s\n  policy: %s\n",
			listText(r.Sources), listText(r.Destinations), listText(r.DestHosts), listText(r.Policies))
	}
	for _, u := range f.Unmatched {
		fmt.Fprintf(&text, "unmatched: %s\n", u)
	}
	out.Text = text.String()
	return out
}

func htmlMigrationOf(m *Migration) *htmlMigration {
	if m == nil {
		return nil
	}
	out := &htmlMigration{Target: m.Target, Moving: cutList(m.Moving), All: m.Moving}
	var text strings.Builder
	fmt.Fprintf(&text, "migration to %s: %d %s move\n", m.Target, len(m.Moving), plural(len(m.Moving), "host", "hosts"))
	fmt.Fprintf(&text, "moving: %s\n", listText(m.Moving))
	for _, part := range []struct {
		title, id, verb string
		cs              []FlowChange
	}{
		{"Open before the move", "migration-open", "open", m.Open},
		{"Can close after the move", "migration-close", "close", m.Close},
	} {
		hp := htmlMigrationPart{Title: part.title, ID: part.id}
		for _, c := range part.cs {
			hp.Changes = append(hp.Changes, htmlChange{
				Family: "IPv" + strconv.Itoa(c.Family), Proto: c.Proto, Ports: c.Ports,
				Sources: cutList(c.Sources), Destinations: cutList(c.Destinations), Hosts: cutList(c.DestHosts),
			})
			fmt.Fprintf(&text, "%s: IPv%d %s ports %s\n  from:  %s\n  to:    %s\n  hosts: %s\n", part.verb, c.Family, c.Proto,
				strings.Join(c.Ports, ", "), listText(c.Sources), listText(c.Destinations), listText(c.DestHosts))
		}
		out.Parts = append(out.Parts, hp)
	}
	out.Text = text.String()
	return out
}

func listText(s []string) string {
	if len(s) == 0 {
		return "-"
	}
	return strings.Join(s, ", ")
}
