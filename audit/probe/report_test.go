package probe

import (
	"bytes"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// reportResults is one of each: a DC with an endpoint pinned outside its
// declared range and one closed port, a target that timed out, one whose
// answer was unreadable, and a name that did not resolve. The annotation
// of one endpoint tries to break out of its Markdown cell.
func reportResults() []Result {
	dc := netip.MustParseAddr("10.250.0.1")
	drs := tcp(drsuapi, "drsuapi", 5000, true, "")
	drs.Version, drs.Address = "4.0", dc
	nl := tcp(netlogon, "netlogon", 50000, false, "refused")
	nl.Address = dc
	epm := tcp(epmUUID, "epmapper", 135, true, "")
	epm.Version, epm.Address = "3.0", dc
	odd := Endpoint{UUID: mustUUID("00000000-0000-0000-0000-000000000001"), Version: "1.0", Annotation: "a|b<script>", Protocol: "ncacn_ip_tcp", Port: 50001, Address: dc, Reachable: yes()}
	return []Result{
		{Target: "DC1", Host: "DC1", Address: dc, EPM: StatusOK, Connected: true, Endpoints: []Endpoint{
			epm, drs, nl, odd,
			{UUID: epmUUID, Version: "3.0", Name: "epmapper", Annotation: "epmapper", Protocol: "ncacn_http", Port: 593, Address: dc},
			{UUID: drsuapi, Version: "4.0", Name: "drsuapi", Annotation: "drsuapi", Protocol: "ncacn_np", Endpoint: `\pipe\lsass`},
		}},
		{Target: "192.0.2.1", Address: netip.MustParseAddr("192.0.2.1"), EPM: StatusTimeout, Endpoints: []Endpoint{}, Error: "TCP 135 did not accept a connection within 2s"},
		{Target: "10.9.9.7", Address: netip.MustParseAddr("10.9.9.7"), EPM: StatusError, Connected: true, Endpoints: []Endpoint{}, Error: "bind refused: protocol version not supported"},
		{Target: "nx.example", EPM: StatusError, Endpoints: []Endpoint{}, Error: `resolving "nx.example": no such host`},
	}
}

func TestReportGolden(t *testing.T) {
	rep := NewReport(findingsEstate(), reportResults())
	tests := []struct {
		file  string
		write func(*bytes.Buffer) error
	}{
		{"report.json.golden", func(b *bytes.Buffer) error { return rep.WriteJSON(b) }},
		{"report.table.golden", func(b *bytes.Buffer) error { return rep.WriteTable(b) }},
		{"report.md.golden", func(b *bytes.Buffer) error { return rep.WriteMarkdown(b) }},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			var b bytes.Buffer
			if err := tt.write(&b); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", tt.file)
			if *update {
				if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./audit/probe -update)", err)
			}
			if diff := cmp.Diff(string(want), b.String()); diff != "" {
				t.Errorf("%s (-want +got):\n%s", tt.file, diff)
			}
		})
	}
}

// TestReportEmpty: no results still give both arrays in JSON.
func TestReportEmpty(t *testing.T) {
	var b bytes.Buffer
	if err := NewReport(nil, nil).WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	if want := "{\n  \"targets\": [],\n  \"findings\": []\n}\n"; b.String() != want {
		t.Errorf("WriteJSON(empty) = %q, want %q", b.String(), want)
	}
}
