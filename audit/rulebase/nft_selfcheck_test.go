package rulebase

import (
	"strings"
	"testing"

	"github.com/rpcspan/rpcspan/audit"
	"github.com/rpcspan/rpcspan/emit"
)

// checkNftSelf reads the nftables output of in back; its drops for the
// RPC ports must spare every required flow. A second run adds a table
// whose base chain drops everything at a later priority: then nothing may
// pass (an accept in one table does not bind another), which proves the
// first run evaluated the rules.
func checkNftSelf(t *testing.T, name string, est *audit.Estate, plan *audit.Plan, in *emit.Input, hook string) {
	t.Helper()
	text := render(t, "nftables", in)
	b, err := ParseNft(strings.NewReader(text), "rpcspan.nft")
	if err != nil {
		t.Fatalf("%s: reading back nftables: %v", name, err)
	}
	if fs := Findings(est, plan, []*Base{b}, Options{Hook: hook}); len(fs) > 0 {
		t.Errorf("%s hook %s: nftables output yields %d findings, first %v", name, hook, len(fs), fs[0])
	}
	other := text + "table ip other {\n\tchain c {\n\t\ttype filter hook " + hook + " priority filter + 10; policy drop;\n\t}\n}\n"
	b, err = ParseNft(strings.NewReader(other), "rpcspan.nft")
	if err != nil {
		t.Fatalf("%s: reading back nftables: %v", name, err)
	}
	var v4 bool
	for _, r := range plan.Rules {
		v4 = v4 || r.Family == 4
	}
	if fs := Findings(est, plan, []*Base{b}, Options{Hook: hook}); v4 && len(fs) == 0 {
		t.Errorf("%s hook %s: nftables output with a drop-all table yields no findings", name, hook)
	}
}
