package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/rpcspan/rpcspan/audit"
)

// TestMarkdownCellsStayInTheirCells feeds text that would break a
// Markdown table (a pipe, a line break, HTML) through every cell.
func TestMarkdownCellsStayInTheirCells(t *testing.T) {
	evil := "a | b\n| injected | row |\r<script>x</script>"
	fs := []audit.Finding{{ID: audit.IDInputInvalid, Severity: audit.Error, Host: "H1", Message: evil, Detail: map[string]any{}}}
	a := NewAudit(fs, "error", audit.Error, false, 1, 1, &audit.Plan{}, nil)
	var b bytes.Buffer
	if err := a.WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(b.String(), "\n") {
		if strings.Contains(line, "injected") {
			if cells := strings.Count(strings.ReplaceAll(line, `\|`, ""), "|"); cells != 5 {
				t.Errorf("row %q has %d cell borders, want 5", line, cells)
			}
			if strings.Contains(line, "<script>") {
				t.Errorf("row %q keeps HTML", line)
			}
		}
	}
	if strings.Count(b.String(), "injected") != 1 {
		t.Errorf("the message was split over lines:\n%s", b.String())
	}
}

func TestCSVSafe(t *testing.T) {
	tests := map[string]string{
		"=cmd|' /C calc'!A0": "'=cmd|' /C calc'!A0",
		"+1":                 "'+1",
		"-1":                 "'-1",
		"@SUM(1)":            "'@SUM(1)",
		"DC01":               "DC01",
		"":                   "",
	}
	for in, want := range tests {
		if got := csvSafe(in); got != want {
			t.Errorf("csvSafe(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestVerdict(t *testing.T) {
	fs := []audit.Finding{{ID: audit.IDRangeLegacy, Severity: audit.Warning, Host: "A"}}
	p := &audit.Plan{RawFlows: 2, Rules: []audit.Rule{{}}}
	tests := []struct {
		failOn string
		sev    audit.Severity
		never  bool
		pass   bool
	}{
		{"error", audit.Error, false, true},
		{"warning", audit.Warning, false, false},
		{"info", audit.Info, false, false},
		{"never", 0, true, true},
	}
	for _, tt := range tests {
		a := NewAudit(fs, tt.failOn, tt.sev, tt.never, 1, 3, p, nil)
		if a.Summary.Pass != tt.pass {
			t.Errorf("fail on %s: pass = %v, want %v", tt.failOn, a.Summary.Pass, tt.pass)
		}
		if !strings.Contains(a.Summary.Verdict, "0 errors, 1 warning, 0 info in 1 host read from 3 files") {
			t.Errorf("verdict %q", a.Summary.Verdict)
		}
	}
}
