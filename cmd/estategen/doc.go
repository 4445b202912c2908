// Estategen writes a synthetic but realistic estate of Windows servers for
// rpcspan to read: an inventory plus, for most hosts, the raw output that an
// administrator would have collected on each server. The same flags always
// give the same bytes, so the output can be committed and compared.
//
// Usage:
//
//	go run ./cmd/estategen -hosts N -seed S -out DIR
//
// Flags:
//
//	-hosts N   number of hosts, 1 to 100000 (default 40)
//	-seed S    seed of the PCG generator (default 1); each seed gives another estate
//	-out DIR   folder to write; it must be missing, empty, or an earlier
//	           estategen output (whose inventory.yaml and captures/ are replaced)
//
// The bundled example estate, which the README's first command reads, is
// exactly the output of
//
//	go run ./cmd/estategen -hosts 40 -seed 1 -out testdata/example
//
// and a test in this package fails when the committed copy drifts from it.
//
// # What it writes
//
// DIR/inventory.yaml lists the baseline range, every host (name, addresses,
// groups, OS, applications, sometimes a declared dynamic range and
// Rpc\Internet ports, and the folder of its captures) and a policy saying
// which groups open RPC to which. It is written by hand, with comments, in
// the shape rpcspan's inventory reader expects.
//
// DIR/captures/HOST/ holds what each server printed, in the encoding Windows
// wrote it:
//
//	netsh.txt              a batch file run with echo on and redirected by
//	                       cmd.exe: prompt lines followed by "netsh int ipv4|ipv6
//	                       show dynamicport tcp|udp" and "show excludedportrange"
//	                       blocks; English ones are ASCII, French and German ones
//	                       code page 850 (the OEM code page); CRLF
//	Get-NetTCPSetting.txt  Windows PowerShell 5.1 ">" output: UTF-16LE with BOM,
//	Get-NetUDPSetting.txt  CRLF, list view, properties as on the host's version
//	rpc-internet.reg       regedit export of HKLM\SOFTWARE\Microsoft\Rpc\Internet:
//	                       UTF-16LE with BOM, "Ports"=hex(7) wrapped as regedit
//	                       wraps it (one host has the REG_SZ mistake instead)
//	ipconfig.txt           English ipconfig or ipconfig /all (Server 2003 hosts
//	                       print the older "IP Address" layout); CRLF
//	smb.conf               the Samba host's configuration (LF)
//
// # The estate
//
// Hosts come in roles, each with its own naming, group and OS mix: domain
// controllers DC01.., file servers FS01.., SQL servers SQL01.., Exchange 2007
// on Server 2008 EXCH01.. (dynamic range 1025-60000), Windows Server 2003 R2
// hosts LEG2003-01.. (1025-5000), Hyper-V hosts HV01.. (100-port exclusions
// inside the dynamic range plus an administered 50000-50059), application and
// web servers APP01.. and WEB01.., and Samba boxes SMB01... Numbers widen for
// large estates (DC001..). IPv4 addresses are 10.SITE.ROLE.N; some hosts also
// have a ULA address fd00:SITE:ROLE::N.
//
// To be worth auditing, the estate carries the problems real ones have: a
// few hosts restrict RPC with Rpc\Internet (one with too few ports, one with
// the value written as REG_SZ), a few have IPv4 and IPv6 ranges that differ,
// one runs with a range netsh itself would refuse (1024-65534), a few
// declare in the inventory a range their captures contradict, and a couple
// have no capture at all. Proportions hold for any size, so -hosts 10000
// gives the same kind of estate, only larger.
package main
