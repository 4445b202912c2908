package ingest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rpcspan/rpcspan/audit"
)

// netshCapture returns "netsh int ipv4 show dynamicport tcp" output as
// cmd.exe redirection writes it.
func netshCapture(start, count string) string {
	return "\r\nProtocol tcp Dynamic Port Range\r\n---------------------------------\r\n" +
		"Start Port      : " + start + "\r\nNumber of Ports : " + count + "\r\n"
}

// writeTree writes files (path -> content) under a new temporary folder
// and returns it.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, content := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func hostRanges(e *audit.Estate) map[string]string {
	out := map[string]string{}
	for _, h := range e.Hosts() {
		var parts []string
		for _, k := range audit.Keys {
			if o, ok := h.Range(k); ok {
				parts = append(parts, string(k)+"="+o.Range.String())
			}
		}
		out[h.Name] = strings.Join(parts, " ")
	}
	return out
}

func TestLoadHostAssignment(t *testing.T) {
	root := writeTree(t, map[string]string{
		"inventory.yaml":            "hosts:\n  - name: APP01\n    addresses: [10.0.0.1]\n    captures: [caps/APP01/, single/web.txt]\n  - name: WEB01\n    captures: [single/web.txt]\n",
		"caps/APP01/netsh.txt":      netshCapture("50000", "1000"),
		"caps/APP01/sub/more.txt":   netshCapture("50000", "1000"),
		"single/web.txt":            netshCapture("49152", "16384"),
		"captures/DC01/netsh.txt":   netshCapture("49152", "16384"),
		"captures/LEG01.txt":        netshCapture("1025", "3976"),
		"captures/notes/README.md":  "# notes\nnothing to read here\n",
		"captures/.git/config":      "[core]\n",
		"captures/DC01/.hidden.txt": netshCapture("1", "1"),
	})
	est, stats, err := Load([]string{
		filepath.Join(root, "inventory.yaml"),
		filepath.Join(root, "captures"),
		filepath.Join(root, "captures", "DC01", "netsh.txt"), // named twice: read once
	}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := hostRanges(est)
	want := map[string]string{
		"APP01": "tcp4=49152-65535",
		"DC01":  "tcp4=49152-65535",
		"LEG01": "tcp4=1025-5000",
		"WEB01": "",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("hosts (-want +got):\n%s", diff)
	}
	if stats.Files != 6 {
		t.Errorf("Files = %d, want 6 (inventory + 5 captures)", stats.Files)
	}
	if len(stats.Skipped) != 1 || !strings.HasSuffix(stats.Skipped[0].Path, "README.md") {
		t.Errorf("Skipped = %v, want the README only", stats.Skipped)
	}
	if len(est.Problems) != 1 || est.Problems[0].Msg != `capture "single/web.txt" is already listed for host APP01; it stays with APP01` {
		t.Errorf("Problems = %v", est.Problems)
	}
	if !strings.Contains(stats.Summary(), "4 hosts, 1 problem, 1 file skipped") {
		t.Errorf("Summary() = %q", stats.Summary())
	}
}

func TestLoadFileNameHost(t *testing.T) {
	root := writeTree(t, map[string]string{"DC07.txt": netshCapture("49152", "16384"), "bad name (1).txt": netshCapture("49152", "16384")})
	est, _, err := Load([]string{filepath.Join(root, "DC07.txt"), filepath.Join(root, "bad name (1).txt")}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := est.Lookup("dc07"); !ok || est.Len() != 1 {
		t.Fatalf("hosts = %v", hostRanges(est))
	}
	if len(est.Problems) != 1 || !strings.Contains(est.Problems[0].Msg, "cannot tell which host") {
		t.Fatalf("Problems = %v", est.Problems)
	}
}

func TestLoadErrors(t *testing.T) {
	root := writeTree(t, map[string]string{
		"inv.yaml":    "hosts:\n  - name: A\n    captures: [missing/]\n",
		"unknown.txt": "hello\n",
	})
	if _, _, err := Load([]string{filepath.Join(root, "nope")}, Options{}); err == nil || !strings.Contains(err.Error(), "no such file or directory") {
		t.Errorf("missing input: err = %v", err)
	}
	est, _, err := Load([]string{filepath.Join(root, "inv.yaml"), filepath.Join(root, "unknown.txt")}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, p := range est.SortedProblems() {
		msgs = append(msgs, p.Msg)
	}
	if len(msgs) != 2 || !strings.Contains(strings.Join(msgs, "\n"), `capture "missing/" listed for the host cannot be read`) ||
		!strings.Contains(strings.Join(msgs, "\n"), "not a capture, inventory or collector file") {
		t.Errorf("problems = %q", msgs)
	}
	if _, _, err := Load(nil, Options{Ranges: []string{"DC01:tcp"}}); err == nil {
		t.Error("bad --range: no error")
	}
	if _, _, err := Load([]string{"-"}, Options{}); err == nil {
		t.Error("- without stdin: no error")
	}
}

func TestLoadFlags(t *testing.T) {
	est, _, err := Load([]string{"-"}, Options{
		Stdin:  strings.NewReader("hosts:\n  - name: DC01\n    dynamic: {tcp: 1025-5000}\n"),
		Hosts:  []string{"DC01=10.1.0.10;fd00::10", "NEW01"},
		Ranges: []string{"dc01:tcp4=49152-65535", "NEW01=49152+16384"},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := hostRanges(est)
	want := map[string]string{
		"DC01":  "tcp4=49152-65535 tcp6=1025-5000",
		"NEW01": "tcp4=49152-65535 udp4=49152-65535 tcp6=49152-65535 udp6=49152-65535",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("hosts (-want +got):\n%s", diff)
	}
	dc, _ := est.Lookup("DC01")
	if len(dc.AddrList()) != 2 {
		t.Errorf("addresses = %v", dc.AddrList())
	}
	if o, _ := dc.Range(audit.TCP4); o.Src.String() != "--range dc01:tcp4=49152-65535" {
		t.Errorf("source = %v", o.Src)
	}
}

func TestDetect(t *testing.T) {
	tests := []struct {
		text, file string
		want       Kind
	}{
		{"hosts:\n  - name: A\n", "x.txt", KindInventory},
		{"# comment\nbaseline: 1025-5000\n", "x", KindInventory},
		{"", "inv.yml", KindInventory},
		{`{"hosts": []}`, "x.json", KindInventory},
		{`{"rpcspan_collector": 1, "host": "A"}`, "x.json", KindCollector},
		{"name,addresses,groups\nA,10.0.0.1,dc\n", "x.csv", KindCSV},
		{"\"Name\",\"Addresses\"\n", "x.csv", KindCSV},
		{"Protocol tcp Dynamic Port Range\n", "x.txt", KindCapture},
		{`{"nftables": []}`, "x.json", KindCapture},
	}
	for _, tt := range tests {
		if got := Detect(tt.text, tt.file); got != tt.want {
			t.Errorf("Detect(%q, %q) = %q, want %q", tt.text, tt.file, got, tt.want)
		}
	}
}
