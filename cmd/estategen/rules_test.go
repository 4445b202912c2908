package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/rpcspan/rpcspan/audit/rulebase"
)

// TestWriteRules checks that the synthetic rule base is deterministic and
// reads as iptables-save output with one accept per server.
func TestWriteRules(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.rules"), filepath.Join(dir, "b.rules")
	n, err := WriteRules(a, 200, 7)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := WriteRules(b, 200, 7); err != nil {
		t.Fatal(err)
	}
	x, _ := os.ReadFile(a)
	y, _ := os.ReadFile(b)
	if !bytes.Equal(x, y) {
		t.Fatal("WriteRules is not deterministic")
	}
	if n < 200 {
		t.Errorf("WriteRules wrote %d rules for 200 hosts", n)
	}
	base, err := rulebase.ParseIptablesSave(bytes.NewReader(x), "a.rules")
	if err != nil {
		t.Fatal(err)
	}
	rules := 0
	for _, c := range base.Chains {
		rules += len(c.Rules)
	}
	if rules != n {
		t.Errorf("parsed %d rules, wrote %d", rules, n)
	}
}
