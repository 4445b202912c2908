package audit

import "testing"

func TestCheckRPCPorts(t *testing.T) {
	reg := src("captures/X/rpc-internet.reg", 4)
	rpcHost := func(typ string, use Flag, ports ...string) *Estate {
		r := &RPCInternet{PortsType: typ, UseInternetPorts: use}
		for _, p := range ports {
			r.Ports = append(r.Ports, PortsEntry{Text: p, Src: reg})
		}
		return estateOf(&Host{Name: "X", Addresses: addrs("10.0.0.1"), Ranges: obs("49152-65535", Captured, netsh, TCP4), RPC: r})
	}
	yes := Flag{Value: "Y", Src: src("captures/X/rpc-internet.reg", 6)}
	no := Flag{Value: "N", Src: src("captures/X/rpc-internet.reg", 6)}
	t.Run("invalid", func(t *testing.T) {
		bad := rpcHost("REG_SZ", Flag{Value: "yes", Src: src("captures/X/rpc-internet.reg", 6)}, "5000-5100", "lots", "49152-70000")
		runChecks(t, IDRPCPortsInvalid, []checkCase{
			{"malformed", bad, []Finding{
				{ID: IDRPCPortsInvalid, Severity: Error, Host: "X",
					Message: `Rpc\Internet is invalid, so Windows rejects the whole port restriction: Ports written as REG_SZ; Windows needs REG_MULTI_SZ; entry "lots": "lots" is not a port number; entry "49152-70000": port 70000 is outside 0-65535; UseInternetPorts is "yes"; Windows accepts only Y or N`,
					Detail: map[string]any{"issues": []map[string]any{
						{"entry": "Ports", "problem": "written as REG_SZ; Windows needs REG_MULTI_SZ", "source": "captures/X/rpc-internet.reg:4"},
						{"entry": "lots", "problem": `"lots" is not a port number`, "source": "captures/X/rpc-internet.reg:4"},
						{"entry": "49152-70000", "problem": "port 70000 is outside 0-65535", "source": "captures/X/rpc-internet.reg:4"},
						{"entry": "UseInternetPorts", "problem": `UseInternetPorts is "yes"; Windows accepts only Y or N`, "source": "captures/X/rpc-internet.reg:6"},
					}}},
			}},
			{"not in force is still judged", rpcHost("REG_MULTI_SZ", no, "6000-"), []Finding{
				{ID: IDRPCPortsInvalid, Severity: Error, Host: "X",
					Message: `Rpc\Internet is invalid, so Windows rejects the whole port restriction: entry "6000-": "" is not a port number`,
					Detail: map[string]any{"issues": []map[string]any{
						{"entry": "6000-", "problem": `"" is not a port number`, "source": "captures/X/rpc-internet.reg:4"},
					}}},
			}},
			{"valid", rpcHost("REG_MULTI_SZ", yes, "5001-5100", "5984"), nil},
			{"none", estateOf(modern("X")), nil},
		})
		// An invalid set is not judged further: Windows does not use it.
		for _, id := range []string{IDRPCPortsTooFew, IDRPCPortsLow} {
			if fs := only(Check(rpcHost("REG_SZ", Flag{}, "1000-1010"), CheckOptions{}), id); len(fs) != 0 {
				t.Errorf("invalid set got %s: %v", id, fs)
			}
		}
	})
	t.Run("too few", func(t *testing.T) {
		runChecks(t, IDRPCPortsTooFew, []checkCase{
			{"51 ports", rpcHost("REG_MULTI_SZ", yes, "6000-6050"), []Finding{
				{ID: IDRPCPortsTooFew, Severity: Warning, Host: "X",
					Message: `Rpc\Internet restricts RPC to 51 ports (6000-6050); with fewer than 100, busy servers run out of ports`,
					Detail:  map[string]any{"ports": []string{"6000-6050"}, "count": 51, "sources": []string{"captures/X/rpc-internet.reg:4"}}},
			}},
			{"overlapping entries counted once", rpcHost("REG_MULTI_SZ", Flag{}, "6000-6050", "6040-6060", "7000"), []Finding{
				{ID: IDRPCPortsTooFew, Severity: Warning, Host: "X",
					Message: `Rpc\Internet restricts RPC to 62 ports (6000-6060, 7000); with fewer than 100, busy servers run out of ports`,
					Detail:  map[string]any{"ports": []string{"6000-6060", "7000"}, "count": 62, "sources": []string{"captures/X/rpc-internet.reg:4"}}},
			}},
			{"exactly 100", rpcHost("REG_MULTI_SZ", yes, "6000-6099"), nil},
			{"not in force", rpcHost("REG_MULTI_SZ", no, "6000-6050"), nil},
		})
	})
	t.Run("low", func(t *testing.T) {
		runChecks(t, IDRPCPortsLow, []checkCase{
			{"5000", rpcHost("REG_MULTI_SZ", Flag{}, "5000-5100", "5984"), []Finding{
				{ID: IDRPCPortsLow, Severity: Warning, Host: "X",
					Message: `Rpc\Internet ports 5000-5100, 5984 include 1 port at or below 5000 (5000), where other programs and the pre-Vista dynamic range take ports; Microsoft advises ports above 5000`,
					Detail: map[string]any{"ports": []string{"5000-5100", "5984"}, "low": []string{"5000"}, "low_count": 1,
						"sources": []string{"captures/X/rpc-internet.reg:4"}}},
			}},
			{"two low blocks", rpcHost("REG_MULTI_SZ", yes, "1100-1200", "4900-5100"), []Finding{
				{ID: IDRPCPortsLow, Severity: Warning, Host: "X",
					Message: `Rpc\Internet ports 1100-1200, 4900-5100 include 202 ports at or below 5000 (1100-1200, 4900-5000), where other programs and the pre-Vista dynamic range take ports; Microsoft advises ports above 5000`,
					Detail: map[string]any{"ports": []string{"1100-1200", "4900-5100"}, "low": []string{"1100-1200", "4900-5000"}, "low_count": 202,
						"sources": []string{"captures/X/rpc-internet.reg:4"}}},
			}},
			{"above 5000", rpcHost("REG_MULTI_SZ", yes, "5001-5200"), nil},
			{"not in force", rpcHost("REG_MULTI_SZ", no, "1100-1200"), nil},
		})
	})
}
