package audit

import (
	"testing"
)

func TestCheckRangeInvalid(t *testing.T) {
	runChecks(t, IDRangeInvalid, []checkCase{
		{"start below 1025", estateOf(&Host{Name: "APP05", Addresses: addrs("10.1.6.12"), Ranges: obs("1024-65534", Captured, netsh, TCP4, UDP4)}), []Finding{
			{ID: IDRangeInvalid, Severity: Error, Host: "APP05", Message: "tcp4, udp4 use 1024-65534, which breaks the netsh limits (start below 1025)",
				Detail: map[string]any{"keys": []string{"tcp4", "udp4"}, "range": "1024-65534", "reason": "start below 1025",
					"sources": map[string]string{"tcp4": "captures/H/netsh.txt:6", "udp4": "captures/H/netsh.txt:6"}}},
		}},
		{"different ranges", estateOf(&Host{Name: "X", Addresses: addrs("10.0.0.1"),
			Ranges: append(obs("1025-1100", Declared, inv, TCP4), obs("1000+100", Flagged, Source{Flag: "--range X:udp4=1000+100"}, UDP4)...)}), []Finding{
			{ID: IDRangeInvalid, Severity: Error, Host: "X",
				Message: "tcp4 uses 1025-1100, which breaks the netsh limits (76 ports, fewer than 255); udp4 uses 1000-1099, which breaks the netsh limits (start below 1025, 100 ports, fewer than 255)",
				Detail: map[string]any{"keys": []string{"tcp4", "udp4"}, "ranges": map[string]string{"tcp4": "1025-1100", "udp4": "1000-1099"},
					"reasons": map[string]string{"tcp4": "76 ports, fewer than 255", "udp4": "start below 1025, 100 ports, fewer than 255"},
					"sources": map[string]string{"tcp4": "inventory.yaml:12", "udp4": "--range X:udp4=1000+100"}}},
		}},
		{"single port", estateOf(&Host{Name: "X", Addresses: addrs("10.0.0.1"), Ranges: obs("2000", Declared, inv, TCP4)}), []Finding{
			{ID: IDRangeInvalid, Severity: Error, Host: "X", Message: "tcp4 uses 2000, which breaks the netsh limits (1 port, fewer than 255)",
				Detail: map[string]any{"keys": []string{"tcp4"}, "range": "2000", "reason": "1 port, fewer than 255", "sources": map[string]string{"tcp4": "inventory.yaml:12"}}},
		}},
		{"exactly 255 ports from 1025", estateOf(&Host{Name: "X", Addresses: addrs("10.0.0.1"), Ranges: obs("1025+255", Declared, inv, TCP4)}), nil},
		{"full range", estateOf(&Host{Name: "X", Addresses: addrs("10.0.0.1"), Ranges: obs("1025-65535", Declared, inv, TCP4)}), nil},
		{"default", estateOf(modern("DC01")), nil},
	})
}

func TestCheckRangeLegacy(t *testing.T) {
	runChecks(t, IDRangeLegacy, []checkCase{
		{"all four captured", estateOf(&Host{Name: "LEG2003-01", Addresses: addrs("10.1.4.10", "fd00::1"), Ranges: obs("1025-5000", Captured, netsh, all4...)}), []Finding{
			{ID: IDRangeLegacy, Severity: Warning, Host: "LEG2003-01",
				Message: "tcp4, udp4, tcp6, udp6 use 1025-5000, the pre-Vista default: firewalls opened for 49152-65535 block RPC to this host",
				Detail: map[string]any{"keys": []string{"tcp4", "udp4", "tcp6", "udp6"}, "range": "1025-5000",
					"sources": map[string]string{"tcp4": "captures/H/netsh.txt:6", "udp4": "captures/H/netsh.txt:6", "tcp6": "captures/H/netsh.txt:6", "udp6": "captures/H/netsh.txt:6"}}},
		}},
		{"inferred", estateOf(&Host{Name: "LEG2003-02", Addresses: addrs("10.2.4.10"), OS: "Windows Server 2003 R2"}), []Finding{
			{ID: IDRangeLegacy, Severity: Warning, Host: "LEG2003-02",
				Message: "tcp4 is assumed to use 1025-5000, the pre-Vista default: firewalls opened for 49152-65535 block RPC to this host",
				Detail:  map[string]any{"keys": []string{"tcp4"}, "range": "1025-5000", "inferred_from": `OS "Windows Server 2003 R2" (pre-Vista default)`}},
		}},
		{"read and inferred", estateOf(&Host{Name: "LEG", Addresses: addrs("10.0.0.1", "fd00::1"), OS: "Win2k3", Ranges: obs("1025-5000", Declared, inv, TCP4)}), []Finding{
			{ID: IDRangeLegacy, Severity: Warning, Host: "LEG",
				Message: "tcp4 uses 1025-5000; tcp6 is assumed to use 1025-5000, the pre-Vista default: firewalls opened for 49152-65535 block RPC to this host",
				Detail: map[string]any{"keys": []string{"tcp4", "tcp6"}, "range": "1025-5000", "sources": map[string]string{"tcp4": "inventory.yaml:12"},
					"inferred_from": `OS "Win2k3" (pre-Vista default)`}},
		}},
		{"one more port", estateOf(&Host{Name: "X", Addresses: addrs("10.0.0.1"), Ranges: obs("1025-5001", Declared, inv, TCP4)}), nil},
		{"default", estateOf(modern("DC01")), nil},
	})
}

func TestCheckRangeExchange2007(t *testing.T) {
	runChecks(t, IDRangeExchange2007, []checkCase{
		{"captured", estateOf(&Host{Name: "EXCH01", Addresses: addrs("10.1.3.10"), Ranges: obs("1025-60000", Captured, netsh, TCP4, UDP4)}), []Finding{
			{ID: IDRangeExchange2007, Severity: Warning, Host: "EXCH01",
				Message: "tcp4, udp4 use 1025-60000, the range Exchange 2007 sets on Server 2008: firewalls opened for 49152-65535 block RPC to this host on ports below 49152",
				Detail: map[string]any{"keys": []string{"tcp4", "udp4"}, "range": "1025-60000",
					"sources": map[string]string{"tcp4": "captures/H/netsh.txt:6", "udp4": "captures/H/netsh.txt:6"}}},
		}},
		{"inferred", estateOf(&Host{Name: "EXCH04", Addresses: addrs("10.2.3.11"), OS: "W2K8R2", Apps: []string{"E2K7"}}), []Finding{
			{ID: IDRangeExchange2007, Severity: Warning, Host: "EXCH04",
				Message: "tcp4 is assumed to use 1025-60000, the range Exchange 2007 sets on Server 2008: firewalls opened for 49152-65535 block RPC to this host on ports below 49152",
				Detail:  map[string]any{"keys": []string{"tcp4"}, "range": "1025-60000", "inferred_from": `Exchange 2007 on OS "W2K8R2"`}},
		}},
		{"other range", estateOf(&Host{Name: "X", Addresses: addrs("10.0.0.1"), Ranges: obs("1025-60001", Declared, inv, TCP4)}), nil},
		{"Exchange 2007 on Server 2016 is not inferred", estateOf(&Host{Name: "X", Addresses: addrs("10.0.0.1"), OS: "Windows Server 2016", Apps: []string{"exchange-2007"}}), nil},
	})
}

func TestCheckRangeBaselineMismatch(t *testing.T) {
	perKey := estateOf(&Host{Name: "X", Addresses: addrs("10.0.0.1"), Ranges: obs("50000-65535", Captured, netsh, TCP4, UDP4)})
	perKey.Baseline[TCP4] = RangeObs{Key: TCP4, Range: mustRange("50000-65535")}
	perKey.Baseline[UDP4] = RangeObs{Key: UDP4, Range: mustRange("55000-65535")}
	custom := estateOf(&Host{Name: "X", Addresses: addrs("10.0.0.1"), Ranges: obs("49152-65535", Captured, netsh, TCP4)},
		&Host{Name: "NOOS", Addresses: addrs("10.0.0.2")})
	custom.Baseline[TCP4] = RangeObs{Key: TCP4, Range: mustRange("50000-59999")}
	runChecks(t, IDRangeBaselineMismatch, []checkCase{
		{"default baseline", estateOf(&Host{Name: "APP04", Addresses: addrs("10.2.6.11"), Ranges: obs("50000-65535", Captured, netsh, TCP4, UDP4)}), []Finding{
			{ID: IDRangeBaselineMismatch, Severity: Warning, Host: "APP04", Message: "tcp4, udp4 use 50000-65535 instead of the baseline 49152-65535",
				Detail: map[string]any{"keys": []string{"tcp4", "udp4"}, "range": "50000-65535", "baseline": "49152-65535",
					"sources": map[string]string{"tcp4": "captures/H/netsh.txt:6", "udp4": "captures/H/netsh.txt:6"}}},
		}},
		{"per-key baseline", perKey, []Finding{
			{ID: IDRangeBaselineMismatch, Severity: Warning, Host: "X", Message: "udp4 uses 50000-65535 instead of the baseline 55000-65535",
				Detail: map[string]any{"keys": []string{"udp4"}, "range": "50000-65535", "baseline": "55000-65535",
					"sources": map[string]string{"udp4": "captures/H/netsh.txt:6"}}},
		}},
		// NOOS falls back to the baseline itself, so it matches.
		{"custom baseline", custom, []Finding{
			{ID: IDRangeBaselineMismatch, Severity: Warning, Host: "X", Message: "tcp4 uses 49152-65535 instead of the baseline 50000-59999",
				Detail: map[string]any{"keys": []string{"tcp4"}, "range": "49152-65535", "baseline": "50000-59999",
					"sources": map[string]string{"tcp4": "captures/H/netsh.txt:6"}}},
		}},
		{"baseline", estateOf(modern("DC01")), nil},
	})
}

func TestCheckRangeFamilyMismatch(t *testing.T) {
	runChecks(t, IDRangeFamilyMismatch, []checkCase{
		{"captured", estateOf(&Host{Name: "DC02", Addresses: addrs("10.2.0.10", "fd00:2::10"),
			Ranges: append(obs("49152-65535", Captured, netsh, TCP4), obs("55000-65535", Captured, src("captures/H/netsh.txt", 25), TCP6)...)}), []Finding{
			{ID: IDRangeFamilyMismatch, Severity: Warning, Host: "DC02", Message: "IPv4 and IPv6 ranges differ: tcp4 uses 49152-65535; tcp6 uses 55000-65535",
				Detail: map[string]any{"keys": []string{"tcp4", "tcp6"}, "ranges": map[string]string{"tcp4": "49152-65535", "tcp6": "55000-65535"},
					"sources": map[string]string{"tcp4": "captures/H/netsh.txt:6", "tcp6": "captures/H/netsh.txt:25"}}},
		}},
		{"against an inferred range", estateOf(&Host{Name: "APP04", Addresses: addrs("10.2.6.11", "fd00::11"), OS: "Windows Server 2019",
			Ranges: obs("50000-65535", Captured, netsh, TCP4)}), []Finding{
			{ID: IDRangeFamilyMismatch, Severity: Warning, Host: "APP04", Message: "IPv4 and IPv6 ranges differ: tcp4 uses 50000-65535; tcp6 is assumed to use 49152-65535",
				Detail: map[string]any{"keys": []string{"tcp4", "tcp6"}, "ranges": map[string]string{"tcp4": "50000-65535", "tcp6": "49152-65535"},
					"sources": map[string]string{"tcp4": "captures/H/netsh.txt:6"}, "inferred_from": `OS "Windows Server 2019" (Vista and later default)`}},
		}},
		{"ipv6 not relevant", estateOf(&Host{Name: "APP04", Addresses: addrs("10.2.6.11"), OS: "Windows Server 2019", Ranges: obs("50000-65535", Captured, netsh, TCP4)}), nil},
		{"same", estateOf(&Host{Name: "DC03", Addresses: addrs("10.1.0.11", "fd00::11"), Ranges: obs("49152-65535", Captured, netsh, all4...)}), nil},
	})
}

func TestCheckRangeProtocolMismatch(t *testing.T) {
	runChecks(t, IDRangeProtocolMismatch, []checkCase{
		{"captured", estateOf(&Host{Name: "X", Addresses: addrs("10.0.0.1"),
			Ranges: append(obs("49152-65535", Captured, netsh, TCP4), obs("50000-65535", Declared, inv, UDP4)...)}), []Finding{
			{ID: IDRangeProtocolMismatch, Severity: Info, Host: "X", Message: "TCP and UDP ranges differ: tcp4 uses 49152-65535; udp4 uses 50000-65535",
				Detail: map[string]any{"keys": []string{"tcp4", "udp4"}, "ranges": map[string]string{"tcp4": "49152-65535", "udp4": "50000-65535"},
					"sources": map[string]string{"tcp4": "captures/H/netsh.txt:6", "udp4": "inventory.yaml:12"}}},
		}},
		{"udp not relevant", estateOf(&Host{Name: "SMB01", Addresses: addrs("10.1.1.200"), Ranges: obs("49152-49200", Captured, netsh, TCP4, TCP6)}), nil},
		{"same", estateOf(&Host{Name: "X", Addresses: addrs("10.0.0.1"), Ranges: obs("49152-65535", Captured, netsh, TCP4, UDP4)}), nil},
	})
}

func TestCheckRangeGroupInconsistent(t *testing.T) {
	member := func(name, r string, groups ...string) *Host {
		return &Host{Name: name, Addresses: addrs("10.0.0.1"), Groups: groups, Ranges: obs(r, Captured, netsh, TCP4)}
	}
	d := "49152-65535"
	runChecks(t, IDRangeGroupInconsistent, []checkCase{
		{"3 of 4", estateOf(member("W1", d, "web"), member("W2", d, "web"), member("W3", d, "Web"), member("W4", "50000-65535", "web")), []Finding{
			{ID: IDRangeGroupInconsistent, Severity: Warning, Host: "W4",
				Message: `differs from most of group "web": tcp4 uses 50000-65535 where 3 of the group's 4 hosts use 49152-65535`,
				Detail: map[string]any{"group": "web", "keys": []string{"tcp4"}, "range": "50000-65535", "majority_range": "49152-65535",
					"majority_hosts": 3, "group_hosts": 4, "sources": map[string]string{"tcp4": "captures/H/netsh.txt:6"}}},
		}},
		{"2 of 3 is a strict majority", estateOf(member("A", d, "g"), member("B", d, "g"), member("C", "1025-5000", "g")), []Finding{
			{ID: IDRangeGroupInconsistent, Severity: Warning, Host: "C",
				Message: `differs from most of group "g": tcp4 uses 1025-5000 where 2 of the group's 3 hosts use 49152-65535`,
				Detail: map[string]any{"group": "g", "keys": []string{"tcp4"}, "range": "1025-5000", "majority_range": "49152-65535",
					"majority_hosts": 2, "group_hosts": 3, "sources": map[string]string{"tcp4": "captures/H/netsh.txt:6"}}},
		}},
		{"one finding per group", estateOf(member("A", d, "g", "h"), member("B", d, "g", "h"), member("C", "1025-5000", "g", "h")), []Finding{
			{ID: IDRangeGroupInconsistent, Severity: Warning, Host: "C",
				Message: `differs from most of group "g": tcp4 uses 1025-5000 where 2 of the group's 3 hosts use 49152-65535`,
				Detail: map[string]any{"group": "g", "keys": []string{"tcp4"}, "range": "1025-5000", "majority_range": "49152-65535",
					"majority_hosts": 2, "group_hosts": 3, "sources": map[string]string{"tcp4": "captures/H/netsh.txt:6"}}},
			{ID: IDRangeGroupInconsistent, Severity: Warning, Host: "C",
				Message: `differs from most of group "h": tcp4 uses 1025-5000 where 2 of the group's 3 hosts use 49152-65535`,
				Detail: map[string]any{"group": "h", "keys": []string{"tcp4"}, "range": "1025-5000", "majority_range": "49152-65535",
					"majority_hosts": 2, "group_hosts": 3, "sources": map[string]string{"tcp4": "captures/H/netsh.txt:6"}}},
		}},
		{"inferred ranges count", estateOf(&Host{Name: "A", Addresses: addrs("10.0.0.1"), Groups: []string{"g"}, OS: "Windows Server 2019"},
			&Host{Name: "B", Addresses: addrs("10.0.0.2"), Groups: []string{"g"}, OS: "Windows Server 2022"},
			&Host{Name: "C", Addresses: addrs("10.0.0.3"), Groups: []string{"g"}, OS: "Windows Server 2003"}), []Finding{
			{ID: IDRangeGroupInconsistent, Severity: Warning, Host: "C",
				Message: `differs from most of group "g": tcp4 is assumed to use 1025-5000 where 2 of the group's 3 hosts use 49152-65535`,
				Detail: map[string]any{"group": "g", "keys": []string{"tcp4"}, "range": "1025-5000", "majority_range": "49152-65535",
					"majority_hosts": 2, "group_hosts": 3, "inferred_from": `OS "Windows Server 2003" (pre-Vista default)`}},
		}},
		{"2-2 tie", estateOf(member("A", d, "g"), member("B", d, "g"), member("C", "1025-5000", "g"), member("D", "1025-5000", "g")), nil},
		{"no majority among 3", estateOf(member("A", d, "g"), member("B", "50000-65535", "g"), member("C", "1025-5000", "g")), nil},
		{"2-host group", estateOf(member("A", d, "g"), member("B", "1025-5000", "g")), nil},
		{"all agree", estateOf(member("A", d, "g"), member("B", d, "g"), member("C", d, "g")), nil},
	})
}

func TestCheckRangeDeclaredMismatch(t *testing.T) {
	cap1 := src("captures/FS02/Get-NetTCPSetting.txt", 34)
	runChecks(t, IDRangeDeclaredMismatch, []checkCase{
		{"capture differs", estateOf(&Host{Name: "FS02", Addresses: addrs("10.2.1.10", "fd00::10"),
			Ranges: append(obs("50000-50999", Declared, inv, TCP4, TCP6), obs("49152-65535", Captured, cap1, TCP4, TCP6)...)}), []Finding{
			{ID: IDRangeDeclaredMismatch, Severity: Warning, Host: "FS02",
				Message: "the inventory declares 50000-50999 for tcp4, tcp6 but a capture shows 49152-65535; the capture wins over the inventory",
				Detail: map[string]any{"keys": []string{"tcp4", "tcp6"}, "declared_range": "50000-50999", "captured_range": "49152-65535",
					"declared_sources": map[string]string{"tcp4": "inventory.yaml:12", "tcp6": "inventory.yaml:12"},
					"captured_sources": map[string]string{"tcp4": "captures/FS02/Get-NetTCPSetting.txt:34", "tcp6": "captures/FS02/Get-NetTCPSetting.txt:34"}}},
		}},
		{"per key", estateOf(&Host{Name: "X", Addresses: addrs("10.0.0.1"),
			Ranges: append(append(obs("49152-65535", Declared, inv, TCP4, UDP4), obs("50000-65535", Captured, cap1, TCP4)...), obs("1025-5000", Captured, cap1, UDP4)...)}), []Finding{
			{ID: IDRangeDeclaredMismatch, Severity: Warning, Host: "X",
				Message: "the inventory declares 49152-65535 for tcp4 but a capture shows 50000-65535; the inventory declares 49152-65535 for udp4 but a capture shows 1025-5000; the capture wins over the inventory",
				Detail: map[string]any{"keys": []string{"tcp4", "udp4"}, "declared_range": "49152-65535",
					"captured_ranges":  map[string]string{"tcp4": "50000-65535", "udp4": "1025-5000"},
					"declared_sources": map[string]string{"tcp4": "inventory.yaml:12", "udp4": "inventory.yaml:12"},
					"captured_sources": map[string]string{"tcp4": "captures/FS02/Get-NetTCPSetting.txt:34", "udp4": "captures/FS02/Get-NetTCPSetting.txt:34"}}},
		}},
		{"capture agrees", estateOf(&Host{Name: "X", Addresses: addrs("10.0.0.1"),
			Ranges: append(obs("49152-65535", Declared, inv, TCP4), obs("49152-65535", Captured, cap1, TCP4)...)}), nil},
		{"declared only", estateOf(&Host{Name: "X", Addresses: addrs("10.0.0.1"), Ranges: obs("50000-50999", Declared, inv, TCP4)}), nil},
		{"flag against declaration", estateOf(&Host{Name: "X", Addresses: addrs("10.0.0.1"),
			Ranges: append(obs("50000-50999", Declared, inv, TCP4), obs("49152-65535", Flagged, Source{Flag: "--range X=49152-65535"}, TCP4)...)}), nil},
	})
}

func TestCheckServicePortOverlap(t *testing.T) {
	runChecks(t, IDServicePortOverlap, []checkCase{
		{"tcp", estateOf(&Host{Name: "X", Addresses: addrs("10.0.0.1"), Ranges: obs("5900-6000", Declared, inv, TCP4)}), []Finding{
			{ID: IDServicePortOverlap, Severity: Warning, Host: "X",
				Message: "tcp4 uses 5900-6000, holding fixed service ports 5985 WinRM (HTTP), 5986 WinRM (HTTPS): a service may find its port taken, and a firewall rule for the range opens these ports too",
				Detail: map[string]any{"keys": []string{"tcp4"}, "range": "5900-6000", "services": []string{"5985/tcp WinRM (HTTP)", "5986/tcp WinRM (HTTPS)"},
					"sources": map[string]string{"tcp4": "inventory.yaml:12"}}},
		}},
		{"udp holds 1434 but not 1433", estateOf(&Host{Name: "X", Addresses: addrs("10.0.0.1"),
			Ranges: append(obs("49152-65535", Declared, inv, TCP4), obs("1430-1440", Declared, inv, UDP4)...)}), []Finding{
			{ID: IDServicePortOverlap, Severity: Warning, Host: "X",
				Message: "udp4 uses 1430-1440, holding fixed service ports 1434 SQL Server Browser: a service may find its port taken, and a firewall rule for the range opens these ports too",
				Detail: map[string]any{"keys": []string{"udp4"}, "range": "1430-1440", "services": []string{"1434/udp SQL Server Browser"},
					"sources": map[string]string{"udp4": "inventory.yaml:12"}}},
		}},
		{"tcp and udp share the range", estateOf(&Host{Name: "X", Addresses: addrs("10.0.0.1"), Ranges: obs("3380-3390", Declared, inv, TCP4, UDP4)}), []Finding{
			{ID: IDServicePortOverlap, Severity: Warning, Host: "X",
				Message: "tcp4, udp4 use 3380-3390, holding fixed service ports 3389 Remote Desktop: a service may find its port taken, and a firewall rule for the range opens these ports too",
				Detail: map[string]any{"keys": []string{"tcp4", "udp4"}, "range": "3380-3390", "services": []string{"3389/tcp Remote Desktop", "3389/udp Remote Desktop"},
					"sources": map[string]string{"tcp4": "inventory.yaml:12", "udp4": "inventory.yaml:12"}}},
		}},
		{"range reaching 47001", estateOf(&Host{Name: "E", Addresses: addrs("10.0.0.1"), Ranges: obs("40000-60000", Declared, inv, TCP4)}), []Finding{
			{ID: IDServicePortOverlap, Severity: Warning, Host: "E",
				Message: "tcp4 uses 40000-60000, holding fixed service ports 47001 WinRM listener (local): a service may find its port taken, and a firewall rule for the range opens these ports too",
				Detail: map[string]any{"keys": []string{"tcp4"}, "range": "40000-60000", "services": []string{"47001/tcp WinRM listener (local)"},
					"sources": map[string]string{"tcp4": "inventory.yaml:12"}}},
		}},
		{"udp range without udp services", estateOf(&Host{Name: "X", Addresses: addrs("10.0.0.1"), Ranges: obs("5900-6000", Declared, inv, UDP4)}), nil},
		{"default range", estateOf(&Host{Name: "X", Addresses: addrs("10.0.0.1", "fd00::1"), Ranges: obs("49152-65535", Captured, netsh, all4...)}), nil},
		{"inferred default range", estateOf(&Host{Name: "X", Addresses: addrs("10.0.0.1"), OS: "Windows Server 2022"}), nil},
	})
}

func TestCheckExcludedOverlap(t *testing.T) {
	ex := func(k Key, r string, admin bool) Excluded {
		return Excluded{Key: k, Range: mustRange(r), Administered: admin, Src: src("captures/HV01/excluded.txt", 5)}
	}
	small := func(excl string) *Estate {
		return estateOf(&Host{Name: "HV", Addresses: addrs("10.0.0.1"), Ranges: obs("49152-49651", Captured, netsh, TCP4),
			Excluded: []Excluded{ex(TCP4, excl, false)}})
	}
	runChecks(t, IDExcludedOverlap, []checkCase{
		{"info", estateOf(&Host{Name: "HV01", Addresses: addrs("10.1.5.10"), Ranges: obs("49152-65535", Captured, netsh, TCP4, UDP4),
			Excluded: []Excluded{ex(TCP4, "50000-50059", true), ex(TCP4, "55331-55430", false), ex(TCP4, "55431-55530", false),
				ex(TCP4, "2869", false), ex(UDP4, "50000-50059", true)}}), []Finding{
			{ID: IDExcludedOverlap, Severity: Info, Host: "HV01",
				Message: "excluded port ranges cut into the dynamic range: tcp4 uses 49152-65535 minus excluded 50000-50059, 55331-55530, leaving 16124 of 16384 ports; udp4 uses 49152-65535 minus excluded 50000-50059, leaving 16324 of 16384 ports",
				Detail: map[string]any{"keys": []string{"tcp4", "udp4"}, "range": "49152-65535",
					"excluded":     map[string][]string{"tcp4": {"50000-50059", "55331-55430", "55431-55530"}, "udp4": {"50000-50059"}},
					"administered": map[string][]string{"tcp4": {"50000-50059"}, "udp4": {"50000-50059"}},
					"usable":       map[string]int{"tcp4": 16124, "udp4": 16324},
					"sources":      map[string]string{"tcp4": "captures/H/netsh.txt:6", "udp4": "captures/H/netsh.txt:6"}}},
		}},
		{"255 usable is info", small("49152-49396"), []Finding{
			{ID: IDExcludedOverlap, Severity: Info, Host: "HV",
				Message: "excluded port ranges cut into the dynamic range: tcp4 uses 49152-49651 minus excluded 49152-49396, leaving 255 of 500 ports",
				Detail: map[string]any{"keys": []string{"tcp4"}, "range": "49152-49651", "excluded": map[string][]string{"tcp4": {"49152-49396"}},
					"usable": map[string]int{"tcp4": 255}, "sources": map[string]string{"tcp4": "captures/H/netsh.txt:6"}}},
		}},
		{"254 usable is a warning", small("49152-49397"), []Finding{
			{ID: IDExcludedOverlap, Severity: Warning, Host: "HV",
				Message: "excluded port ranges cut into the dynamic range: tcp4 uses 49152-49651 minus excluded 49152-49397, leaving 254 of 500 ports (fewer than 255)",
				Detail: map[string]any{"keys": []string{"tcp4"}, "range": "49152-49651", "excluded": map[string][]string{"tcp4": {"49152-49397"}},
					"usable": map[string]int{"tcp4": 254}, "sources": map[string]string{"tcp4": "captures/H/netsh.txt:6"}}},
		}},
		{"outside the range", small("40000-49151"), nil},
		{"other key", estateOf(&Host{Name: "HV", Addresses: addrs("10.0.0.1"), Ranges: obs("49152-65535", Captured, netsh, TCP4),
			Excluded: []Excluded{ex(UDP6, "50000-50059", false)}}), nil},
	})
}
