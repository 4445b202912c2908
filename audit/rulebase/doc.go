// Package rulebase reads existing firewall rule bases (iptables-save, nft
// list ruleset text and nft -j JSON, Windows Firewall's netsh advfirewall
// and Get-NetFirewallRule listings) into one neutral model and evaluates
// the required flows of an audit.Plan against them with each platform's
// semantics, reporting rule-gap, rule-unknown, rule-overbroad and
// rule-stale findings.
//
// Evaluation works on boxes: a source address set, a destination address
// set and a destination port set, for one protocol and family. In a short
// chain each rule, in order, splits every remaining box into the part it
// matches and at most three disjoint parts it does not match. A chain of
// 16 rules or more is indexed once (index.go): the address space is cut
// at every boundary its rules name, and each piece is evaluated only
// against the rules that cover it. Either way the cost grows with the
// rules and the shape of the sets, never with the number of ports or
// addresses. Every part ends allowed, blocked or unknown; a part
// is unknown when a rule with a match the model does not evaluate (an
// interface, a rate limit, a source port) might have decided it otherwise.
// Unknown is never reported as allowed.
//
// A flow is allowed only when every rule base that applies to it allows
// it; a block in any of them wins. A network rule base (Base.Host empty)
// applies to every destination of the families it has base chains for; a
// host rule base only to flows to that host. A destination no rule base
// applies to is not evaluated.
package rulebase
