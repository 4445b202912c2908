package report

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/rpcspan/rpcspan/audit"
)

// TestWriteJSONStreamed: writing the findings one at a time gives the very
// bytes of encoding the report as one document.
func TestWriteJSONStreamed(t *testing.T) {
	p := &audit.Plan{Rules: []audit.Rule{{Family: 4, Proto: "tcp", Service: "rpc", Ports: []audit.PortRange{{First: 135, Last: 135}}}}}
	for _, n := range []int{0, 1, 3} {
		var fs []audit.Finding
		for i := range n {
			fs = append(fs, audit.Finding{ID: "x", Severity: audit.Warning, Host: fmt.Sprint("H", i),
				Message: "<b>&\n\"findings\": []", Detail: map[string]any{"n": i, "list": []string{"a", "b"}, "empty": map[string]any{}}})
		}
		a := NewAudit(fs, "error", audit.Error, false, n, n, p, nil)
		var got, want bytes.Buffer
		if err := a.WriteJSON(&got); err != nil {
			t.Fatal(err)
		}
		if err := writeJSON(&want, a); err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			t.Errorf("%d findings: streamed JSON differs:\n%s\nwant:\n%s", n, got.String(), want.String())
		}
	}
}
