// Package audit holds rpcspan's estate model: the Windows servers of an
// estate, the dynamic (ephemeral) port ranges Microsoft RPC uses on each, the
// Rpc\Internet port restriction, excluded port ranges, the baseline range and
// the policy saying which hosts may open RPC to which.
//
// The package is pure: it reads no files, opens no sockets and prints
// nothing. Readers in audit/ingest turn captures and inventories into the
// values defined here; every value remembers where it came from (a Source),
// so that a finding or an error can name the file and line behind it.
//
// Port ranges are inclusive (PortRange{First: 49152, Last: 65535}); the netsh
// "start+count" form is converted once, by ParseRange.
package audit
