package rulebase

import (
	"strings"
	"testing"
)

// TestLoopback: a rule for the loopback interface never matches another
// host's packets, its negation is no condition, and any other interface
// is an unmodelled match; in all three readers.
func TestLoopback(t *testing.T) {
	ipt := func(match string) string {
		return "*filter\n:INPUT DROP [0:0]\n-A INPUT " + match + " -j ACCEPT\nCOMMIT\n"
	}
	nft := func(match string) string {
		return "table inet f {\n\tchain in {\n\t\ttype filter hook input priority filter; policy drop;\n\t\t" + match + " accept\n\t}\n}\n"
	}
	json := func(key, op, value string) string {
		return `{"nftables":[{"table":{"family":"inet","name":"f"}},` +
			`{"chain":{"family":"inet","table":"f","name":"in","type":"filter","hook":"input","prio":0,"policy":"drop"}},` +
			`{"rule":{"family":"inet","table":"f","chain":"in","expr":[{"match":{"op":"` + op + `","left":{"meta":{"key":"` + key + `"}},"right":"` + value + `"}},{"accept":null}]}}]}`
	}
	for _, c := range []struct {
		name, in string
		parse    func(string) (*Base, error)
		want     string
	}{
		{"iptables -i lo", ipt("-i lo"), parseIpt, "blocked"},
		{"iptables ! -i lo", ipt("! -i lo"), parseIpt, "allowed"},
		{"iptables -i eth0", ipt("-i eth0"), parseIpt, "unknown"},
		{"iptables -o lo", ipt("-o lo"), parseIpt, "blocked"},
		{"nft iifname lo", nft(`iifname "lo"`), parseNftText, "blocked"},
		{"nft iif lo", nft("iif lo"), parseNftText, "blocked"},
		{"nft meta iifname != lo", nft(`meta iifname != "lo"`), parseNftText, "allowed"},
		{"nft iifname eth0", nft(`iifname "eth0"`), parseNftText, "unknown"},
		{"nft -j iifname lo", json("iifname", "==", "lo"), parseNftJSONText, "blocked"},
		{"nft -j iifname != lo", json("iifname", "!=", "lo"), parseNftJSONText, "allowed"},
		{"nft -j iifname eth0", json("iifname", "==", "eth0"), parseNftJSONText, "unknown"},
	} {
		b, err := c.parse(c.in)
		if err != nil || len(b.Problems) > 0 {
			t.Fatalf("%s: %v %v", c.name, err, b.Problems)
		}
		parts := EvaluateBase(b, "input", flow(t, "tcp 10.0.0.1 10.0.0.2 135"))
		if len(parts) != 1 || parts[0].Outcome.String() != c.want {
			t.Errorf("%s: %v, want %s", c.name, summary(parts), c.want)
		}
	}
}

func parseIpt(s string) (*Base, error)         { return ParseIptablesSave(strings.NewReader(s), "r") }
func parseNftText(s string) (*Base, error)     { return ParseNft(strings.NewReader(s), "r") }
func parseNftJSONText(s string) (*Base, error) { return ParseNftJSON(strings.NewReader(s), "r") }
