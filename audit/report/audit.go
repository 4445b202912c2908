package report

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/rpcspan/rpcspan/audit"
)

// Audit is what "rpcspan audit" reports: a verdict, the findings, the
// required flows and, when asked, the migration view.
type Audit struct {
	Summary   Summary         `json:"summary"`
	Findings  []audit.Finding `json:"findings"`
	Flows     *Flows          `json:"flows,omitempty"`
	Migration *Migration      `json:"migration,omitempty"`
}

// Summary counts what was read and found.
type Summary struct {
	Verdict  string         `json:"verdict"` // one line, as the Markdown report starts
	Pass     bool           `json:"pass"`    // nothing at or above FailOn
	FailOn   string         `json:"fail_on"` // error, warning, info or never
	Hosts    int            `json:"hosts"`
	Files    int            `json:"files"`
	Findings map[string]int `json:"findings"` // by severity: error, warning, info
	RawFlows int            `json:"raw_flows"`
	Rules    int            `json:"rules"`
	// RuleBases are the existing rule bases the flows were evaluated
	// against; none when no rule base was given or captured.
	RuleBases []RuleBase `json:"rule_bases,omitempty"`
}

// RuleBase names an existing rule base an audit evaluated.
type RuleBase struct {
	Name     string `json:"name"`              // the file, as given
	Format   string `json:"format"`            // iptables, nftables or windows
	Host     string `json:"host,omitempty"`    // a host's own firewall: the host
	Hook     string `json:"hook,omitempty"`    // a network rule base: input or forward
	Profile  string `json:"profile,omitempty"` // a Windows Firewall: the active profile
	Problems int    `json:"problems"`          // lines that could not be read
}

// SetRuleBases records the rule bases the flows were evaluated against.
func (a *Audit) SetRuleBases(rbs []RuleBase) { a.Summary.RuleBases = rbs }

// ruleBasesText words the rule bases for a report: each network rule base
// by name, host firewalls as a count.
func ruleBasesText(rbs []RuleBase) string {
	var parts []string
	hosts, profile, problems := 0, "", 0
	for _, rb := range rbs {
		problems += rb.Problems
		if rb.Host != "" {
			hosts++
			profile = rb.Profile
			continue
		}
		parts = append(parts, fmt.Sprintf("%s (%s, %s hook)", rb.Name, rb.Format, rb.Hook))
	}
	if hosts > 0 {
		parts = append(parts, fmt.Sprintf("Windows Firewall rules of %d %s (%s profile)", hosts, plural(hosts, "host", "hosts"), profile))
	}
	t := strings.Join(parts, "; ")
	if problems > 0 {
		t += fmt.Sprintf("; %d %s could not be read", problems, plural(problems, "line", "lines"))
	}
	return t
}

// Flows is the aggregated plan as "rpcspan flows" prints it.
type Flows struct {
	Summary   FlowSummary `json:"summary"`
	Rules     []FlowRule  `json:"rules"`
	Unmatched []string    `json:"unmatched,omitempty"`
	Migration *Migration  `json:"migration,omitempty"`
}

// FlowSummary counts the required flows before and after aggregation.
type FlowSummary struct {
	RawFlows int `json:"raw_flows"`
	Rules    int `json:"rules"`
}

// FlowRule is one aggregated rule. Ports are "FIRST-LAST" strings, single
// ports "135".
type FlowRule struct {
	Family       int      `json:"family"`
	Proto        string   `json:"proto"`
	Service      string   `json:"service"`
	Ports        []string `json:"ports"`
	Sources      []string `json:"sources"`
	Destinations []string `json:"destinations"`
	DestHosts    []string `json:"dest_hosts"`
	Policies     []string `json:"policies"`
	Flows        int      `json:"flows"`
	// ExistingRules says what the audited rule bases do with the rule
	// ("allowed", "partly blocked", ...); "" when none were audited.
	ExistingRules string `json:"existing_rules,omitempty"`
}

// SetExistingRules records, for each rule in order, what the audited rule
// bases do with it (see FlowRule.ExistingRules).
func (f *Flows) SetExistingRules(status []string) {
	for i := range f.Rules {
		if i < len(status) {
			f.Rules[i].ExistingRules = status[i]
		}
	}
}

// audited reports whether rule bases were audited against the rules.
func (f *Flows) audited() bool {
	for _, r := range f.Rules {
		if r.ExistingRules != "" {
			return true
		}
	}
	return false
}

// columns returns the column heads of the rules table.
func (f *Flows) columns() []string {
	if f.audited() {
		return append(slices.Clip(flowColumns), "existing rules")
	}
	return flowColumns
}

// Migration is the pre-migration view: what changes when hosts move to
// Target.
type Migration struct {
	Target string       `json:"target"`
	Moving []string     `json:"moving"`
	Open   []FlowChange `json:"open"`
	Close  []FlowChange `json:"close"`
}

// FlowChange is one part of a migration.
type FlowChange struct {
	Family       int      `json:"family"`
	Proto        string   `json:"proto"`
	Ports        []string `json:"ports"`
	Sources      []string `json:"sources"`
	Destinations []string `json:"destinations"`
	DestHosts    []string `json:"dest_hosts"`
}

// NewFlows converts a plan (and an optional migration) for printing.
func NewFlows(p *audit.Plan, m *audit.Migration) *Flows {
	f := &Flows{Summary: FlowSummary{RawFlows: p.RawFlows, Rules: len(p.Rules)}, Rules: []FlowRule{}, Unmatched: p.Unmatched}
	for _, r := range p.Rules {
		f.Rules = append(f.Rules, FlowRule{
			Family: r.Family, Proto: r.Proto, Service: r.Service,
			Ports: rangeStrings(r.Ports), Sources: prefixStrings(r.Sources), Destinations: prefixStrings(r.Destinations),
			DestHosts: nonNil(r.DestHosts), Policies: nonNil(r.Policies), Flows: r.Flows,
		})
	}
	f.Migration = NewMigration(m)
	return f
}

// NewMigration converts a migration for printing; nil gives nil.
func NewMigration(m *audit.Migration) *Migration {
	if m == nil {
		return nil
	}
	out := &Migration{Target: m.Target.String(), Moving: nonNil(m.Moving), Open: []FlowChange{}, Close: []FlowChange{}}
	conv := func(cs []audit.Change) []FlowChange {
		res := []FlowChange{}
		for _, c := range cs {
			res = append(res, FlowChange{Family: c.Family, Proto: c.Proto, Ports: rangeStrings(c.Ports),
				Sources: prefixStrings(c.Sources), Destinations: prefixStrings(c.Destinations), DestHosts: nonNil(c.DestHosts)})
		}
		return res
	}
	out.Open, out.Close = conv(m.Open), conv(m.Close)
	return out
}

// NewAudit assembles the audit report. Findings must be sorted already.
func NewAudit(findings []audit.Finding, failOn string, threshold audit.Severity, never bool, hosts, files int, p *audit.Plan, m *audit.Migration) *Audit {
	a := &Audit{Findings: findings, Flows: NewFlows(p, nil), Migration: NewMigration(m)}
	if a.Findings == nil {
		a.Findings = []audit.Finding{}
	}
	counts := map[string]int{"error": 0, "warning": 0, "info": 0}
	pass := true
	for _, f := range findings {
		counts[f.Severity.String()]++
		if !never && f.Severity >= threshold {
			pass = false
		}
	}
	a.Summary = Summary{FailOn: failOn, Pass: pass, Hosts: hosts, Files: files, Findings: counts, RawFlows: p.RawFlows, Rules: len(p.Rules)}
	verdict := "PASS"
	if !pass {
		verdict = "FAIL"
	}
	a.Summary.Verdict = fmt.Sprintf("%s: %d %s, %d %s, %d info in %d %s read from %d %s (fail on %s); RPC needs %d %s (%d raw flows)",
		verdict, counts["error"], plural(counts["error"], "error", "errors"), counts["warning"], plural(counts["warning"], "warning", "warnings"),
		counts["info"], hosts, plural(hosts, "host", "hosts"), files, plural(files, "file", "files"), failOn,
		len(p.Rules), plural(len(p.Rules), "rule", "rules"), p.RawFlows)
	return a
}

// WriteJSON writes the audit as indented JSON.
//
// The findings are written one at a time: at 100,000 hosts they are
// hundreds of megabytes as one document.
func (a *Audit) WriteJSON(w io.Writer) error {
	if len(a.Findings) == 0 {
		return writeJSON(w, a)
	}
	rest := *a
	rest.Findings = []audit.Finding{}
	var b bytes.Buffer
	if err := writeJSON(&b, &rest); err != nil {
		return err
	}
	// A line that starts the member can't be inside a string: JSON
	// escapes line breaks.
	const member = "\n  \"findings\": []"
	head, tail, ok := bytes.Cut(b.Bytes(), []byte(member))
	if !ok {
		return writeJSON(w, a)
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.Write(head)
	bw.WriteString(member[:len(member)-1])
	for i := range a.Findings {
		f, err := json.MarshalIndent(&a.Findings[i], "    ", "  ")
		if err != nil {
			return err
		}
		if i > 0 {
			bw.WriteByte(',')
		}
		bw.WriteString("\n    ")
		bw.Write(f)
	}
	bw.WriteString("\n  ]")
	bw.Write(tail)
	return bw.Flush()
}

// WriteJSON writes the flows as indented JSON.
func (f *Flows) WriteJSON(w io.Writer) error { return writeJSON(w, f) }

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// Palette colours severities in terminal tables; the zero value prints
// plain text.
type Palette struct{ On bool }

// paint colours the severity words at the start of table rows. It works on
// the rendered table, because the table library would count the escape
// codes as characters and misalign the columns.
func (p Palette) paint(table string) string {
	if !p.On {
		return table
	}
	lines := strings.SplitAfter(table, "\n")
	for i, l := range lines {
		for _, s := range []struct{ word, code string }{{"error", "1;31"}, {"warning", "33"}, {"info", "36"}} {
			if strings.HasPrefix(l, "| "+s.word+" ") {
				lines[i] = "| \x1b[" + s.code + "m" + s.word + "\x1b[0m" + l[2+len(s.word):]
			}
		}
	}
	return strings.Join(lines, "")
}

// WriteTable writes the findings, the flows and the migration for a terminal.
func (a *Audit) WriteTable(w io.Writer, pal Palette) error {
	var rows [][]string
	for _, f := range a.Findings {
		rows = append(rows, []string{f.Severity.String(), dash(f.Host), f.ID, f.Message})
	}
	if len(rows) > 0 {
		var b strings.Builder
		if err := writeASCIITable(&b, []string{"severity", "host", "id", "message"}, rows); err != nil {
			return err
		}
		if _, err := io.WriteString(w, pal.paint(b.String())); err != nil {
			return err
		}
	}
	if len(a.Summary.RuleBases) > 0 {
		if _, err := fmt.Fprintf(w, "\nExisting rules: %s\n", ruleBasesText(a.Summary.RuleBases)); err != nil {
			return err
		}
	}
	if err := a.Flows.writeTable(w, "Required flows"); err != nil {
		return err
	}
	if err := writeMigrationTable(w, a.Migration); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\n%s\n", a.Summary.Verdict)
	return err
}

// WriteTable writes the flows for a terminal.
func (f *Flows) WriteTable(w io.Writer) error {
	if err := f.writeTable(w, ""); err != nil {
		return err
	}
	if err := writeMigrationTable(w, f.Migration); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\n%s\n", f.headline())
	return err
}

func (f *Flows) headline() string {
	n := f.Summary.RawFlows
	return fmt.Sprintf("%d raw %s aggregated into %d %s", n, plural(n, "flow", "flows"), len(f.Rules), plural(len(f.Rules), "rule", "rules"))
}

func (f *Flows) writeTable(w io.Writer, title string) error {
	if title != "" {
		if _, err := fmt.Fprintf(w, "\n%s: %s\n", title, f.headline()); err != nil {
			return err
		}
	}
	if len(f.Rules) > 0 {
		if err := writeASCIITable(w, f.columns(), f.rows(", ", 8)); err != nil {
			return err
		}
	}
	for _, u := range f.Unmatched {
		if _, err := fmt.Fprintf(w, "unmatched: %s\n", u); err != nil {
			return err
		}
	}
	return nil
}

var flowColumns = []string{"#", "family", "proto", "service", "ports", "sources", "destinations", "hosts", "flows"}

// rows renders the rules; lists longer than max items are cut with a
// count of the rest (max 0 keeps everything).
func (f *Flows) rows(sep string, max int) [][]string {
	var rows [][]string
	audited := f.audited()
	for i, r := range f.Rules {
		row := []string{
			strconv.Itoa(i + 1), "IPv" + strconv.Itoa(r.Family), r.Proto, r.Service, strings.Join(r.Ports, sep),
			cut(r.Sources, sep, max), cut(r.Destinations, sep, max), cut(r.DestHosts, sep, max), strconv.Itoa(r.Flows),
		}
		if audited {
			row = append(row, r.ExistingRules)
		}
		rows = append(rows, row)
	}
	return rows
}

func writeMigrationTable(w io.Writer, m *Migration) error {
	if m == nil {
		return nil
	}
	if _, err := fmt.Fprintf(w, "\nMigration to %s: %d %s move\n", m.Target, len(m.Moving), plural(len(m.Moving), "host", "hosts")); err != nil {
		return err
	}
	for _, part := range []struct {
		title string
		cs    []FlowChange
	}{{"open before the move", m.Open}, {"can close after the move", m.Close}} {
		if _, err := fmt.Fprintf(w, "%s: %d\n", part.title, len(part.cs)); err != nil {
			return err
		}
		if len(part.cs) > 0 {
			if err := writeASCIITable(w, changeColumns, changeRows(part.cs, ", ", 8)); err != nil {
				return err
			}
		}
	}
	return nil
}

var changeColumns = []string{"family", "proto", "ports", "sources", "destinations", "hosts"}

func changeRows(cs []FlowChange, sep string, max int) [][]string {
	var rows [][]string
	for _, c := range cs {
		rows = append(rows, []string{"IPv" + strconv.Itoa(c.Family), c.Proto, strings.Join(c.Ports, sep),
			cut(c.Sources, sep, max), cut(c.Destinations, sep, max), cut(c.DestHosts, sep, max)})
	}
	return rows
}

// WriteMarkdown writes a change-ticket comment: the verdict line, the
// findings, the flows and the migration view.
func (a *Audit) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "**%s**\n\n", markdownEscaper.Replace(a.Summary.Verdict))
	if len(a.Findings) > 0 {
		b.WriteString("### Findings\n\n")
		var rows [][]string
		for _, f := range a.Findings {
			rows = append(rows, []string{f.Severity.String(), f.Host, f.ID, f.Message})
		}
		if err := writeMarkdownTable(&b, []string{"severity", "host", "id", "message"}, rows); err != nil {
			return err
		}
		b.WriteString("\n")
	}
	if len(a.Summary.RuleBases) > 0 {
		fmt.Fprintf(&b, "Existing rules: %s\n\n", markdownEscaper.Replace(ruleBasesText(a.Summary.RuleBases)))
	}
	a.Flows.markdown(&b, "### Required flows")
	migrationMarkdown(&b, a.Migration)
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteMarkdown writes the flows as Markdown.
func (f *Flows) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	f.markdown(&b, "### Required flows")
	migrationMarkdown(&b, f.Migration)
	_, err := io.WriteString(w, b.String())
	return err
}

func (f *Flows) markdown(b *strings.Builder, title string) {
	fmt.Fprintf(b, "%s: %s\n\n", title, markdownEscaper.Replace(f.headline()))
	if len(f.Rules) > 0 {
		_ = writeMarkdownTable(b, f.columns(), f.rows(", ", 20))
		b.WriteString("\n")
	}
	for _, u := range f.Unmatched {
		fmt.Fprintf(b, "- unmatched: %s\n", markdownEscaper.Replace(u))
	}
}

func migrationMarkdown(b *strings.Builder, m *Migration) {
	if m == nil {
		return
	}
	fmt.Fprintf(b, "### Migration to %s: %d %s move\n\n", m.Target, len(m.Moving), plural(len(m.Moving), "host", "hosts"))
	if len(m.Moving) > 0 {
		fmt.Fprintf(b, "Moving: %s\n\n", markdownEscaper.Replace(cut(m.Moving, ", ", 50)))
	}
	for _, part := range []struct {
		title string
		cs    []FlowChange
	}{{"Open before the move", m.Open}, {"Can close after the move", m.Close}} {
		fmt.Fprintf(b, "%s: %d\n\n", part.title, len(part.cs))
		if len(part.cs) > 0 {
			_ = writeMarkdownTable(b, changeColumns, changeRows(part.cs, ", ", 20))
			b.WriteString("\n")
		}
	}
}

// WriteCSV writes one row per finding; detail is a JSON object. With a
// migration view, each change follows as a row with id migration-open or
// migration-close, the change as its detail.
func (a *Audit) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"severity", "host", "id", "message", "detail"}); err != nil {
		return err
	}
	write := func(sev, host, id, msg string, detail any) error {
		d, err := json.Marshal(detail)
		if err != nil {
			return err
		}
		return cw.Write([]string{sev, csvSafe(host), id, csvSafe(msg), csvSafe(string(d))})
	}
	for _, f := range a.Findings {
		if err := write(f.Severity.String(), f.Host, f.ID, f.Message, f.Detail); err != nil {
			return err
		}
	}
	if m := a.Migration; m != nil {
		for _, part := range []struct {
			id, verb string
			cs       []FlowChange
		}{{"migration-open", "open before the move to " + m.Target, m.Open}, {"migration-close", "can close after the move to " + m.Target, m.Close}} {
			for _, c := range part.cs {
				msg := fmt.Sprintf("%s: IPv%d %s %s from %s to %s", part.verb, c.Family, c.Proto, strings.Join(c.Ports, ", "),
					cut(c.Sources, ", ", 8), cut(c.DestHosts, ", ", 8))
				if err := write("info", "", part.id, msg, c); err != nil {
					return err
				}
			}
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteCSV writes one row per rule (and, with a migration, per change,
// marked in the first column).
func (f *Flows) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"kind", "family", "proto", "service", "ports", "sources", "destinations", "dest_hosts", "policies", "flows"}); err != nil {
		return err
	}
	for _, r := range f.Rules {
		row := []string{"rule", strconv.Itoa(r.Family), r.Proto, r.Service, strings.Join(r.Ports, " "), strings.Join(r.Sources, " "),
			strings.Join(r.Destinations, " "), strings.Join(r.DestHosts, " "), strings.Join(r.Policies, " "), strconv.Itoa(r.Flows)}
		if err := cw.Write(csvRow(row)); err != nil {
			return err
		}
	}
	if m := f.Migration; m != nil {
		for _, part := range []struct {
			kind string
			cs   []FlowChange
		}{{"open", m.Open}, {"close", m.Close}} {
			for _, c := range part.cs {
				row := []string{part.kind, strconv.Itoa(c.Family), c.Proto, "", strings.Join(c.Ports, " "), strings.Join(c.Sources, " "),
					strings.Join(c.Destinations, " "), strings.Join(c.DestHosts, " "), "", ""}
				if err := cw.Write(csvRow(row)); err != nil {
					return err
				}
			}
		}
	}
	cw.Flush()
	return cw.Error()
}

func csvRow(row []string) []string {
	for i, c := range row {
		row[i] = csvSafe(c)
	}
	return row
}

func cut(list []string, sep string, max int) string {
	if max > 0 && len(list) > max {
		return strings.Join(list[:max], sep) + fmt.Sprintf("%s... (%d more)", sep, len(list)-max)
	}
	if len(list) == 0 {
		return "-"
	}
	return strings.Join(list, sep)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func rangeStrings(rs []audit.PortRange) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.String()
	}
	return out
}

func prefixStrings(ps []netip.Prefix) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		if p.IsSingleIP() {
			out[i] = p.Addr().String()
		} else {
			out[i] = p.String()
		}
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
