package probe

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rpcspan/rpcspan/audit"
)

var (
	drsuapi  = mustUUID("e3514235-4b06-11d1-ab04-00c04fc2dcd2")
	netlogon = mustUUID("12345678-1234-abcd-ef00-01234567cffb")
	epmUUID  = mustUUID("e1af8308-5d1f-11c9-91a4-08002b14a0fa")
)

func tcp(u UUID, name string, port uint16, reachable bool, reason string) Endpoint {
	r := reachable
	return Endpoint{UUID: u, Version: "1.0", Name: name, Annotation: name, Protocol: "ncacn_ip_tcp", Port: port, Reachable: &r, Reason: reason}
}

// findingsEstate has DC1 declared 50000-50500, FS1 with no range (the
// baseline is inferred), and RPC1 restricted by Rpc\Internet to
// 5000-5100.
func findingsEstate() *audit.Estate {
	e := audit.NewEstate()
	dc := e.Host("DC1")
	dc.Addresses = []audit.Addr{{Addr: netip.MustParseAddr("10.250.0.1")}, {Addr: netip.MustParseAddr("fd00::1")}}
	dc.Ranges = []audit.RangeObs{
		{Key: audit.TCP4, Range: audit.PortRange{First: 50000, Last: 50500}, Origin: audit.Declared, Src: audit.Source{File: "inv.yaml", Line: 4}},
		{Key: audit.TCP6, Range: audit.PortRange{First: 49152, Last: 65535}, Origin: audit.Declared, Src: audit.Source{File: "inv.yaml", Line: 5}},
	}
	e.Host("FS1").Addresses = []audit.Addr{{Addr: netip.MustParseAddr("10.1.0.20")}}
	rpc := e.Host("RPC1")
	rpc.Addresses = []audit.Addr{{Addr: netip.MustParseAddr("10.1.0.30")}}
	rpc.RPC = &audit.RPCInternet{Ports: []audit.PortsEntry{{Text: "5000-5100"}}, PortsType: "REG_MULTI_SZ"}
	return e
}

func TestFindings(t *testing.T) {
	dc4, dc6 := netip.MustParseAddr("10.250.0.1"), netip.MustParseAddr("fd00::1")
	span4 := map[string]any{"key": "tcp4", "span": []string{"50000-50500"}, "span_from": "dynamic-range", "origin": "declared", "source": "inv.yaml:4"}
	with := func(d map[string]any, more map[string]any) map[string]any {
		out := map[string]any{}
		for k, v := range d {
			out[k] = v
		}
		for k, v := range more {
			out[k] = v
		}
		return out
	}
	tests := []struct {
		name    string
		results []Result
		want    []audit.Finding
	}{
		{
			name: "inside the declared range",
			results: []Result{{Target: "DC1", Host: "DC1", Address: dc4, EPM: StatusOK, Connected: true, Endpoints: []Endpoint{
				tcp(epmUUID, "epmapper", 135, true, ""), tcp(netlogon, "netlogon", 50000, true, ""), tcp(drsuapi, "drsuapi", 50500, true, ""),
			}}},
		},
		{
			name: "pinned outside, listed twice, and unreachable",
			results: []Result{{Target: "DC1", Host: "DC1", Address: dc4, EPM: StatusOK, Connected: true, Endpoints: []Endpoint{
				tcp(epmUUID, "epmapper", 135, true, ""), tcp(drsuapi, "drsuapi", 5000, false, "refused"), tcp(drsuapi, "drsuapi", 5000, false, "refused"),
				{UUID: epmUUID, Version: "3.0", Protocol: "ncacn_http", Port: 593},
			}}},
			want: []audit.Finding{
				{ID: IDEndpointOutsideRange, Severity: audit.Error, Host: "DC1",
					Message: "drsuapi (e3514235-4b06-11d1-ab04-00c04fc2dcd2 v1.0) listens on TCP 5000 at 10.250.0.1, outside the host's span 50000-50500 (tcp4 dynamic range, declared): rules built from that span block this endpoint",
					Detail:  with(span4, map[string]any{"address": "10.250.0.1", "port": 5000, "uuid": drsuapi.String(), "version": "1.0", "annotation": "drsuapi", "name": "drsuapi"})},
				{ID: IDEndpointUnreachable, Severity: audit.Error, Host: "DC1",
					Message: "the endpoint mapper at 10.250.0.1 names TCP 5000 for drsuapi (e3514235-4b06-11d1-ab04-00c04fc2dcd2 v1.0), but the port does not accept connections (refused)",
					Detail:  with(span4, map[string]any{"address": "10.250.0.1", "port": 5000, "uuid": drsuapi.String(), "version": "1.0", "annotation": "drsuapi", "name": "drsuapi", "reason": "refused"})},
			},
		},
		{
			name: "ipv6 judged against tcp6",
			results: []Result{{Target: "DC1", Host: "DC1", Address: dc6, EPM: StatusOK, Connected: true, Endpoints: []Endpoint{
				tcp(netlogon, "netlogon", 49700, true, ""), tcp(netlogon, "netlogon", 1030, true, ""),
			}}},
			want: []audit.Finding{{ID: IDEndpointOutsideRange, Severity: audit.Error, Host: "DC1",
				Message: "netlogon (12345678-1234-abcd-ef00-01234567cffb v1.0) listens on TCP 1030 at fd00::1, outside the host's span 49152-65535 (tcp6 dynamic range, declared): rules built from that span block this endpoint",
				Detail: map[string]any{"address": "fd00::1", "port": 1030, "uuid": netlogon.String(), "version": "1.0", "annotation": "netlogon", "name": "netlogon",
					"key": "tcp6", "span": []string{"49152-65535"}, "span_from": "dynamic-range", "origin": "declared", "source": "inv.yaml:5"}}},
		},
		{
			name: "inferred span and Rpc\\Internet span",
			results: []Result{
				{Target: "FS1", Host: "FS1", Address: netip.MustParseAddr("10.1.0.20"), EPM: StatusOK, Connected: true, Endpoints: []Endpoint{tcp(netlogon, "", 1025, true, "")}},
				{Target: "RPC1", Host: "RPC1", Address: netip.MustParseAddr("10.1.0.30"), EPM: StatusOK, Connected: true, Endpoints: []Endpoint{tcp(netlogon, "", 5100, true, ""), tcp(netlogon, "", 5101, true, "")}},
			},
			want: []audit.Finding{
				{ID: IDEndpointOutsideRange, Severity: audit.Error, Host: "FS1",
					Message: `12345678-1234-abcd-ef00-01234567cffb v1.0 listens on TCP 1025 at 10.1.0.20, outside the host's span 49152-65535 (tcp4 dynamic range, inferred): rules built from that span block this endpoint`,
					Detail: map[string]any{"address": "10.1.0.20", "port": 1025, "uuid": netlogon.String(), "version": "1.0", "annotation": "", "name": "",
						"key": "tcp4", "span": []string{"49152-65535"}, "span_from": "dynamic-range", "origin": "inferred", "inferred_from": "the baseline (no OS known)"}},
				{ID: IDEndpointOutsideRange, Severity: audit.Error, Host: "RPC1",
					Message: `12345678-1234-abcd-ef00-01234567cffb v1.0 listens on TCP 5101 at 10.1.0.30, outside the host's span 5000-5100 (Rpc\Internet ports): rules built from that span block this endpoint`,
					Detail: map[string]any{"address": "10.1.0.30", "port": 5101, "uuid": netlogon.String(), "version": "1.0", "annotation": "", "name": "",
						"key": "tcp4", "span": []string{"5000-5100"}, "span_from": "rpc-internet"}},
			},
		},
		{
			name: "no estate host: only reachability",
			results: []Result{
				{Target: "10.9.9.9", Address: netip.MustParseAddr("10.9.9.9"), EPM: StatusOK, Connected: true, Endpoints: []Endpoint{tcp(netlogon, "netlogon", 1025, false, "timeout")}},
				{Target: "10.9.9.8", Address: netip.MustParseAddr("10.9.9.8"), EPM: StatusTimeout, Error: "TCP 135 did not accept a connection within 2s"},
				{Target: "10.9.9.7", Address: netip.MustParseAddr("10.9.9.7"), EPM: StatusError, Connected: true, Error: "bind refused"},
				{Target: "nx.example", EPM: StatusError, Error: `resolving "nx.example": no such host`},
			},
			want: []audit.Finding{
				{ID: IDEPMUnreachable, Severity: audit.Error, Host: "10.9.9.8",
					Message: "the endpoint mapper at 10.9.9.8 cannot be reached (TCP 135 did not accept a connection within 2s): no RPC to this host can start",
					Detail:  map[string]any{"address": "10.9.9.8", "port": 135, "epm": "timeout", "error": "TCP 135 did not accept a connection within 2s"}},
				{ID: IDEndpointUnreachable, Severity: audit.Error, Host: "10.9.9.9",
					Message: "the endpoint mapper at 10.9.9.9 names TCP 1025 for netlogon (12345678-1234-abcd-ef00-01234567cffb v1.0), but the port does not accept connections (timeout)",
					Detail:  map[string]any{"address": "10.9.9.9", "port": 1025, "uuid": netlogon.String(), "version": "1.0", "annotation": "netlogon", "name": "netlogon", "reason": "timeout"}},
				{ID: IDEPMUnreachable, Severity: audit.Error, Host: "nx.example",
					Message: `the endpoint mapper at - cannot be reached (resolving "nx.example": no such host): no RPC to this host can start`,
					Detail:  map[string]any{"address": "-", "port": 135, "epm": "error", "error": `resolving "nx.example": no such host`}},
				{ID: IDEPMError, Severity: audit.Warning, Host: "10.9.9.7",
					Message: "the endpoint mapper at 10.9.9.7 answered, but its endpoint map could not be read (bind refused); 0 endpoints were checked",
					Detail:  map[string]any{"address": "10.9.9.7", "port": 135, "epm": "error", "error": "bind refused"}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Findings(findingsEstate(), tt.results)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Findings (-want +got):\n%s", diff)
			}
		})
	}
}
