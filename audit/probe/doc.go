// Package probe asks Windows (and Samba) servers themselves which RPC
// endpoints they serve, the way PortQry and impacket's rpcdump do, and
// compares the answer with the range the firewall rules are built from.
//
// The client speaks DCE/RPC connection-oriented PDUs over TCP 135: it binds
// to the endpoint mapper (e1af8308-5d1f-11c9-91a4-08002b14a0fa v3.0) with the
// NDR 2.0 transfer syntax, calls ept_lookup (opnum 2) for every element and
// follows the entry handle from page to page, then decodes each tower into
// an interface UUID and version, a protocol sequence, a port and an address.
// It copes with what real servers send: the last page of entries arriving
// together with ept_s_not_registered (samba-dcerpcd), 0.0.0.0 in the
// towers' address floor (the Samba AD DC; the queried address is used
// instead) and ncacn_http advertised on a port nothing listens on (only
// ncacn_ip_tcp endpoints are checked).
//
// Everything read from the network is distrusted: every read has a
// deadline, the whole exchange has one too, and every length and count is
// checked against what is left of the message and against fixed limits
// (Limits) before anything is allocated, so that a broken or hostile server
// can neither hang the client nor crash it nor make it allocate much.
//
// Run probes many targets with bounded concurrency: the endpoint mapper of
// each, then a TCP connect to every distinct ncacn_ip_tcp port it names.
// Findings compares the results with each host's span (Estate.Span): the
// endpoints listening outside it, the ports that do not accept connections
// and the endpoint mappers that cannot be reached.
package probe
