// Package report renders rpcspan's results (the resolved estate, and later
// findings and rule plans) for people and programs: terminal tables,
// Markdown for change tickets, JSON, YAML, CSV, and a self-contained HTML
// report with a port-range map. Output is deterministic:
// the same estate always gives the same bytes, with no timestamps.
package report

import (
	"io"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
)

// writeASCIITable renders rows under a header with plain ASCII borders, so
// that the output pastes anywhere.
func writeASCIITable(w io.Writer, header []string, rows [][]string) error {
	t := tablewriter.NewTable(w,
		tablewriter.WithRenderer(renderer.NewBlueprint(tw.Rendition{Symbols: tw.NewSymbols(tw.StyleASCII)})),
		tablewriter.WithHeaderAutoFormat(tw.Off),
		// Long messages and address lists wrap at word boundaries so that
		// a table stays readable in a terminal.
		tablewriter.WithRowAutoWrap(tw.WrapNormal),
		tablewriter.WithRowMaxWidth(72),
		tablewriter.WithHeaderAutoWrap(tw.WrapNone),
	)
	t.Header(toAny(header)...)
	if err := t.Bulk(rows); err != nil {
		return err
	}
	return t.Render()
}

// writeMarkdownTable renders a GitHub-flavoured Markdown table. Cells are
// escaped so that no input can break out of its cell or the table.
func writeMarkdownTable(w io.Writer, header []string, rows [][]string) error {
	var b strings.Builder
	line := func(cells []string) {
		b.WriteString("|")
		for _, c := range cells {
			b.WriteString(" ")
			b.WriteString(markdownCell(c))
			b.WriteString(" |")
		}
		b.WriteString("\n")
	}
	line(header)
	b.WriteString("|")
	for range header {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, r := range rows {
		line(r)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// markdownEscaper keeps a cell inside its cell on GitHub, GitLab, Jira and
// ServiceNow: "|" would end the cell, a line break the row, and "<" could
// start HTML. Other Markdown punctuation is left alone, because renderers
// disagree on backslash escapes (Jira shows them) and a Windows path like
// Rpc\Internet must read as written.
var markdownEscaper = strings.NewReplacer(
	`|`, `\|`, `<`, `&lt;`, `>`, `&gt;`, "\r", " ", "\n", " ",
)

func markdownCell(s string) string {
	if s == "" {
		return "-"
	}
	return markdownEscaper.Replace(s)
}

// csvSafe keeps a spreadsheet from running a cell as a formula.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}
