package ingest

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rpcspan/rpcspan/audit"
)

func TestScanFirewall(t *testing.T) {
	dash := strings.Repeat("-", 70)
	file := []audit.FirewallCapture{{Src: audit.Source{File: "x.txt"}}}
	tests := []struct {
		name string
		in   string
		want []audit.FirewallCapture
	}{
		{"netsh English", "\nRule Name:    RPC\n" + dash + "\nEnabled:   Yes\n", file},
		{"netsh French", "Nom de la règle :    RPC\n" + dash + "\nActivé :   Oui\n", file},
		{"Get-NetFirewallRule", "Name        : {1}\nDirection   : Inbound\n", file},
		{"dynamicport is not a firewall", "Protocol tcp Dynamic Port Range\n" + strings.Repeat("-", 33) + "\nStart Port      : 49152\n", nil},
		{"dashes without fields", "\n" + dash + "\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCapture("x.txt")
			scanFirewall(c, SplitLines(tt.in))
			if diff := cmp.Diff(tt.want, c.host.FirewallCaptures); diff != "" {
				t.Errorf("scanFirewall(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}
