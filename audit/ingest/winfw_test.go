package ingest

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestScanFirewall(t *testing.T) {
	dash := strings.Repeat("-", 70)
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"netsh English", "\nRule Name:    RPC\n" + dash + "\nEnabled:   Yes\n", []string{"x.txt"}},
		{"netsh French", "Nom de la règle :    RPC\n" + dash + "\nActivé :   Oui\n", []string{"x.txt"}},
		{"Get-NetFirewallRule", "Name        : {1}\nDirection   : Inbound\n", []string{"x.txt"}},
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
