// Package emit turns rpcspan's rule plan into configuration a person can
// deploy: Windows Firewall (netsh, PowerShell), iptables, nftables and
// vendor firewalls through the text templates in package templates. Each
// target lives in its own file behind one interface, and the same plan
// always gives the same bytes.
//
// The package is empty until the planner (package audit) produces a plan;
// see the project's open issues.
package emit
