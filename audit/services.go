package audit

import (
	"slices"
	"strconv"
)

// ServicePort is a fixed port a well-known service listens on. A dynamic
// range that holds it is a problem twice over: an outgoing connection may
// take the port before the service starts, and a firewall rule opened for
// the range opens the service too.
type ServicePort struct {
	Port  uint16
	Proto string // "tcp", "udp" or "both"
	Name  string
}

// Uses reports whether the service listens on proto ("tcp" or "udp").
func (s ServicePort) Uses(proto string) bool { return s.Proto == "both" || s.Proto == proto }

// String returns "1433/tcp SQL Server" ("3389/tcp+udp Remote Desktop" for
// both protocols).
func (s ServicePort) String() string {
	p := s.Proto
	if p == "both" {
		p = "tcp+udp"
	}
	return strconv.Itoa(int(s.Port)) + "/" + p + " " + s.Name
}

// ServicePorts is the table the service-port-overlap check uses: fixed
// ports of services found in Windows estates, sorted by port, then
// protocol. Ports below 1025 are left out because no dynamic range netsh
// accepts can hold them, and none lies in the default 49152-65535.
var ServicePorts = []ServicePort{
	{1433, "tcp", "SQL Server"},
	{1434, "tcp", "SQL Server dedicated admin connection"},
	{1434, "udp", "SQL Server Browser"},
	{1521, "tcp", "Oracle listener"},
	{1688, "tcp", "Key Management Service (KMS)"},
	{1723, "tcp", "PPTP VPN"},
	{1801, "both", "Message Queuing (MSMQ)"},
	{1812, "udp", "RADIUS authentication (NPS)"},
	{1813, "udp", "RADIUS accounting (NPS)"},
	{2049, "both", "NFS"},
	{2101, "tcp", "MSMQ directory service"},
	{2103, "tcp", "MSMQ RPC"},
	{2105, "tcp", "MSMQ RPC"},
	{2179, "tcp", "Hyper-V VMConnect"},
	{2382, "tcp", "SQL Server Analysis Services browser"},
	{2383, "tcp", "SQL Server Analysis Services"},
	{2701, "tcp", "Configuration Manager remote control"},
	{3260, "tcp", "iSCSI target"},
	{3268, "tcp", "global catalog (LDAP)"},
	{3269, "tcp", "global catalog (LDAP over SSL)"},
	{3306, "tcp", "MySQL"},
	{3343, "both", "Failover Clustering"},
	{3389, "both", "Remote Desktop"},
	{3544, "udp", "Teredo"},
	{4500, "udp", "IPsec NAT traversal"},
	{5022, "tcp", "SQL Server mirroring / Always On endpoint"},
	{5355, "udp", "LLMNR name resolution"},
	{5432, "tcp", "PostgreSQL"},
	{5722, "tcp", "DFS Replication (Server 2008 domain controllers)"},
	{5723, "tcp", "Operations Manager (SCOM) agent"},
	{5985, "tcp", "WinRM (HTTP)"},
	{5986, "tcp", "WinRM (HTTPS)"},
	{6600, "tcp", "Hyper-V live migration"},
	{8080, "tcp", "HTTP alternate"},
	{8443, "tcp", "HTTPS alternate"},
	{8530, "tcp", "WSUS (HTTP)"},
	{8531, "tcp", "WSUS (HTTPS)"},
	{9389, "tcp", "Active Directory Web Services"},
	{47001, "tcp", "WinRM listener (local)"},
}

// ServicesIn returns the entries of ServicePorts that listen on proto ("tcp"
// or "udp") at a port in r, in table order.
func ServicesIn(proto string, r PortRange) []ServicePort {
	i, _ := slices.BinarySearchFunc(ServicePorts, r.First, func(s ServicePort, p uint16) int { return int(s.Port) - int(p) })
	var out []ServicePort
	for ; i < len(ServicePorts) && ServicePorts[i].Port <= r.Last; i++ {
		if ServicePorts[i].Uses(proto) {
			out = append(out, ServicePorts[i])
		}
	}
	return out
}
