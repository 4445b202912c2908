package rulebase

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNftSemantics(t *testing.T) {
	tests := []struct {
		name    string
		ruleset string
		flow    string
		want    []string
	}{
		{"policy drop, anonymous port set and interval",
			"table inet f {\n\tchain fw {\n\t\ttype filter hook forward priority filter; policy drop;\n\t\ttcp dport { 135, 49152-60000 } accept\n\t}\n}\n",
			"tcp 10.0.0.0/24 10.1.0.5 135,49152-65535",
			[]string{"blocked 10.0.0.0/24 10.1.0.5/32 60001-65535 @3"}},
		{"named sets",
			"table ip f {\n\tset src {\n\t\ttype ipv4_addr\n\t\tflags interval\n\t\telements = { 10.0.0.0/25,\n\t\t\t     10.0.0.200-10.0.0.255 }\n\t}\n\tset p {\n\t\ttype inet_service\n\t\tflags interval\n\t\telements = { 135 }\n\t}\n\tchain fw {\n\t\ttype filter hook forward priority 0; policy drop;\n\t\tip saddr @src tcp dport @p accept\n\t}\n}\n",
			"tcp 10.0.0.0/24 10.1.0.5 135",
			[]string{"blocked 10.0.0.128/26,10.0.0.192/29 10.1.0.5/32 135 @14"}},
		{"drop in any base chain is final",
			"table inet a {\n\tchain fw {\n\t\ttype filter hook forward priority 0; policy accept;\n\t\taccept\n\t}\n}\ntable inet b {\n\tchain fw {\n\t\ttype filter hook forward priority 10; policy accept;\n\t\tip daddr 10.1.0.5 tcp dport 445 drop\n\t}\n}\n",
			"tcp 10.0.0.0/24 10.1.0.5 135,445",
			[]string{"blocked 10.0.0.0/24 10.1.0.5/32 445 @10"}},
		{"priority order: earlier drop wins over later accept",
			"table inet b {\n\tchain late {\n\t\ttype filter hook forward priority filter + 10; policy drop;\n\t}\n\tchain early {\n\t\ttype filter hook forward priority filter - 10; policy accept;\n\t\ttcp dport 135 drop\n\t}\n}\n",
			"tcp 10.0.0.0/24 10.1.0.5 135,445",
			[]string{"blocked 10.0.0.0/24 10.1.0.5/32 135 @7", "blocked 10.0.0.0/24 10.1.0.5/32 445 @3"}},
		{"jump, return and negation",
			"table inet f {\n\tchain sub {\n\t\tip saddr != 10.0.0.0/25 return\n\t\taccept\n\t}\n\tchain fw {\n\t\ttype filter hook forward priority 0; policy drop;\n\t\tct state established,related accept\n\t\tjump sub\n\t}\n}\n",
			"tcp 10.0.0.0/24 10.1.0.5 135",
			[]string{"blocked 10.0.0.128/25 10.1.0.5/32 135 @7"}},
		{"meta l4proto and ip6",
			"table inet f {\n\tchain fw {\n\t\ttype filter hook forward priority 0; policy drop;\n\t\tmeta l4proto udp accept\n\t\tip6 saddr fd00::/64 meta l4proto tcp accept\n\t}\n}\n",
			"tcp fd00::/63 fd01::5 135",
			[]string{"blocked fd00:0:0:1::/64 fd01::5/128 135 @3"}},
		{"unknown match", "table inet f {\n\tchain fw {\n\t\ttype filter hook forward priority 0; policy drop;\n\t\tiifname \"eth0\" accept\n\t}\n}\n",
			"tcp 10.0.0.0/24 10.1.0.5 135",
			[]string{"unknown 10.0.0.0/24 10.1.0.5/32 135 @4"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := ParseNft(strings.NewReader(tt.ruleset), "r")
			if err != nil {
				t.Fatal(err)
			}
			got := summary(EvaluateBase(b, "forward", flow(t, tt.flow)))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("EvaluateBase(%q) mismatch (-want +got):\n%s", tt.ruleset, diff)
			}
		})
	}
}

func TestNftCorpus(t *testing.T) {
	const file = "testdata/nft_list_ruleset_0037_set_with_inet_service.nft"
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ParseNft(strings.NewReader(string(data)), file)
	if err != nil {
		t.Fatal(err)
	}
	// The concatenated set is not modelled: unknown, then policy drop.
	got := summary(EvaluateBase(b, "forward", flow(t, "tcp 10.0.0.0/24 192.168.0.12 53")))
	want := []string{"unknown 10.0.0.0/24 192.168.0.12/32 53 @14"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("corpus mismatch (-want +got):\n%s", diff)
	}
	files, _ := filepath.Glob("testdata/*.nft")
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseNft(strings.NewReader(string(data)), f); err != nil {
			t.Errorf("ParseNft(%s): %v", f, err)
		}
	}
}

func FuzzParseNft(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.nft")
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(data))
	}
	f.Add("table inet f {\n\tset s {\n\t\ttype ipv4_addr\n\t\tflags interval\n\t\telements = { 10.0.0.0/8, 1.2.3.4-1.2.3.9 }\n\t}\n\tchain c {\n\t\tip saddr != @s tcp dport != { 1-2, 5 } return\n\t}\n\tchain fw {\n\t\ttype filter hook forward priority filter - 5; policy drop;\n\t\tjump c\n\t\tgoto c\n\t}\n}\n")
	f.Fuzz(func(t *testing.T, in string) {
		b, err := ParseNft(strings.NewReader(in), "fuzz")
		if err != nil {
			return
		}
		checkProblems(t, b, in)
		fl := flow(t, "tcp 10.0.0.0/8 10.1.0.5,192.168.0.0/16 135,49152-65535")
		checkPartition(t, EvaluateBase(b, "forward", fl), fl)
	})
}
