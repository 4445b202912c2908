// Command rpcspan works out the firewall spans Microsoft RPC needs between
// Windows servers, from each server's real dynamic (ephemeral) port ranges.
//
// Windows servers listen for RPC on TCP 135 (the endpoint mapper) and on
// ports from their dynamic range: 49152-65535 since Vista / Server 2008,
// 1025-5000 on Server 2003, 1025-60000 where Exchange 2007 was installed on
// Server 2008, or whatever "netsh int ipv4 set dynamicport" or the
// Rpc\Internet registry restriction set. rpcspan reads what each server
// really uses and reports it.
//
// Usage:
//
//	rpcspan audit [--fail-on error|warning|info|never] [-o table|markdown|json|csv|html] [--target-range RANGE] [--probe] [--rules FILE] [--hook input|forward] [--profile domain|private|public] INPUT...
//	rpcspan flows [-o table|markdown|json|csv] [--target-range RANGE] INPUT...
//	rpcspan emit --target TARGET [--hook input|forward] [--out-dir DIR] INPUT...
//	rpcspan apply [--hook input|forward] [--netns NAME] [--dry-run] [--confirm DURATION] INPUT...
//	rpcspan probe [--timeout D] [--concurrency N] [-o table|json|markdown] TARGET...
//	rpcspan inventory [-o table|json|yaml|csv|markdown] INPUT...
//	rpcspan templates list | show NAME
//	rpcspan collector > collect-rpcspan.ps1
//
// audit reports every mismatch as a finding with a stable id and the flows
// RPC needs and, given existing rule bases (--rules: iptables-save, nft
// text or JSON; Windows Firewall listings among a host's captures), which
// of those flows today's rules block (rule-gap), cannot be told
// (rule-unknown), open far too wide (rule-overbroad) or open for a span
// no host uses any more (rule-stale); flows prints those flows aggregated into rules; emit renders
// them for Windows Firewall, netsh dynamicport remediation, iptables,
// nftables and vendor firewalls; apply programs nftables over netlink;
// probe asks the servers' endpoint mappers which ports they really use.
// Flags may come before or after the inputs.
//
// INPUT is any mix of inventory files (YAML, JSON, CSV), raw captures
// (netsh, PowerShell, .reg, reg query, ipconfig, ip_local_port_range,
// smb.conf, netsh advfirewall rule and profile listings,
// Get-NetFirewallRule and Get-NetFirewallProfile), collector JSON and
// folders (read recursively), or "-" for standard input. Captures are
// recognised by content in any encoding Windows writes.
//
// Hosts can be given without any file: --host DC01=10.1.0.10,fd00::10 adds
// a host and its addresses; --range DC01:tcp=49152-65535 sets a range (KEY is
// tcp, udp, tcp4, udp4, tcp6 or udp6; tcp and udp mean both families; without
// ":KEY" all four). Both flags repeat. A flag wins over captures, and a
// capture wins over an inventory's declaration.
//
// Values that cannot be read are reported with file and line on standard
// error and kept as input-invalid problems; the rest of the input is used.
// --strict makes any such problem fatal.
//
// Exit codes: 0 success; 1 audit found something at or above --fail-on, or
// emit/apply rendered only what was valid; 2 usage error, an input that
// cannot be read at all, or (with --strict) any input problem.
package main

import (
	"os"
	"runtime/debug"
)

// memoryLimit is the soft heap limit rpcspan sets unless GOMEMLIMIT says
// otherwise: the garbage collector then works harder instead of letting a
// 100,000-host estate (200,000 files) grow past 1 GB, at no measurable cost
// in time.
const memoryLimit = 768 << 20

func main() {
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		debug.SetMemoryLimit(memoryLimit)
	}
	os.Exit(run(os.Args, os.Stdin, os.Stdout, os.Stderr))
}
