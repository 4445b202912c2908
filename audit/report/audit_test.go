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

func TestRuleBasesText(t *testing.T) {
	for _, c := range []struct {
		rbs  []RuleBase
		want string
	}{
		{[]RuleBase{{Name: "fw.rules", Format: "iptables", Hook: "forward"}}, "fw.rules (iptables, forward hook)"},
		{[]RuleBase{{Name: "a.nft", Format: "nftables", Hook: "input", Problems: 2},
			{Name: "c/DC01/fw.txt", Format: "windows", Host: "DC01", Profile: "domain"},
			{Name: "c/DC02/fw.txt", Format: "windows", Host: "DC02", Profile: "domain", Problems: 1}},
			"a.nft (nftables, input hook); Windows Firewall rules of 2 hosts (domain profile); 3 lines could not be read"},
	} {
		if got := ruleBasesText(c.rbs); got != c.want {
			t.Errorf("ruleBasesText(%v) = %q, want %q", c.rbs, got, c.want)
		}
	}
	p := &audit.Plan{}
	a := NewAudit(nil, "error", audit.Error, false, 0, 0, p, nil)
	a.SetRuleBases([]RuleBase{{Name: "<fw>.rules", Format: "iptables", Hook: "forward"}})
	var b bytes.Buffer
	if err := a.WriteHTML(&b, HTMLOptions{}); err != nil {
		t.Fatal(err)
	}
	if want := "<dt>Existing rules</dt><dd>&lt;fw&gt;.rules (iptables, forward hook)</dd>"; !bytes.Contains(b.Bytes(), []byte(want)) {
		t.Errorf("HTML lacks %q", want)
	}
}
