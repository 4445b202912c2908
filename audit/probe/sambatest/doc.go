// Package sambatest runs a real MS-RPC server for the probe's tests: Samba
// 4.17's Active Directory domain controller, whose endpoint mapper on TCP
// 135 hands out ncacn_ip_tcp endpoints from "rpc server dynamic port
// range" exactly as a Windows server does.
//
// Everything happens in network namespaces the tests create (Lab, built
// on audit/netnstest): the DC's ("dc", 10.250.0.1 on veth0) and the
// client's ("client", 10.250.0.2), joined by a veth pair; a second pair
// (10.250.1.0/24) carries fake endpoint mappers, so that they never clash
// with Samba's listeners; and a third (10.250.2.0/30) is where the client
// namespace routes the TEST-NET blocks (192.0.2.0/24, 198.51.100.0/24,
// 203.0.113.0/24) and 198.18.0.0/15: the DC namespace does not forward,
// so it drops those packets without an answer, and they play hosts that
// never answer. Nothing is added to, or sent from, the namespace the
// tests run in; the probe dials from the client namespace through
// netnstest.Namespace.DialContext.
//
// DC provisions a throwaway domain (samba-tool domain provision, 4-17 s)
// into a temporary folder once and restarts samba with another
// configuration per scenario. Samba is stopped by the pid it was started
// with (SIGTERM, then its process group is waited for), and Close removes
// the namespaces.
//
// Available says why the harness cannot run here (not root, Samba
// missing); the tests pass the reason to netnstest.Skip, which skips, or
// fails instead when RPCSPAN_REQUIRE_INTEGRATION is set, as CI does.
// .ci/install-samba.sh installs what is needed.
package sambatest
