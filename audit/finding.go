package audit

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Severity ranks findings. The zero value is Info.
type Severity int

// The severities, least severe first.
const (
	Info Severity = iota
	Warning
	Error
)

// String returns "info", "warning" or "error".
func (s Severity) String() string {
	switch s {
	case Warning:
		return "warning"
	case Error:
		return "error"
	}
	return "info"
}

// MarshalText implements encoding.TextMarshaler.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// ParseSeverity reads "error", "warning" or "info".
func ParseSeverity(s string) (Severity, error) {
	switch strings.ToLower(s) {
	case "error":
		return Error, nil
	case "warning":
		return Warning, nil
	case "info":
		return Info, nil
	}
	return 0, fmt.Errorf("unknown severity %q (want error, warning or info)", s)
}

// Finding is one thing wrong (or worth knowing) about the estate. ID is
// stable across releases; Message is one line a person understands without
// the docs; Detail holds the numbers (ranges as "FIRST-LAST" strings,
// counts, sources) for programs.
type Finding struct {
	ID       string         `json:"id"`
	Severity Severity       `json:"severity"`
	Host     string         `json:"host,omitempty"`
	Message  string         `json:"message"`
	Detail   map[string]any `json:"detail"`
}

// The finding ids.
const (
	IDInputInvalid           = "input-invalid"
	IDHostNoAddress          = "host-no-address"
	IDRangeInvalid           = "range-invalid"
	IDRangeAssumed           = "range-assumed"
	IDRangeLegacy            = "range-legacy"
	IDRangeExchange2007      = "range-exchange-2007"
	IDRangeBaselineMismatch  = "range-baseline-mismatch"
	IDRangeFamilyMismatch    = "range-family-mismatch"
	IDRangeProtocolMismatch  = "range-protocol-mismatch"
	IDRangeGroupInconsistent = "range-group-inconsistent"
	IDRangeDeclaredMismatch  = "range-declared-mismatch"
	IDServicePortOverlap     = "service-port-overlap"
	IDExcludedOverlap        = "excluded-overlap"
	IDRPCPortsInvalid        = "rpc-ports-invalid"
	IDRPCPortsTooFew         = "rpc-ports-too-few"
	IDRPCPortsLow            = "rpc-ports-low"
	// IDPolicyUnmatched is a policy selector that matches no host, or a
	// policy rule left with no source or destination.
	IDPolicyUnmatched = "policy-unmatched"
	// IDRuleGap is a required flow that the rule bases given with --rules
	// do not (fully) allow: one finding per destination host and protocol.
	IDRuleGap = "rule-gap"
	// IDRuleUnknown is a part of a required flow whose verdict depends on
	// matches rpcspan does not evaluate.
	IDRuleUnknown = "rule-unknown"
	// IDRuleOverbroad is a rule that allows far more than any required
	// flow through it needs.
	IDRuleOverbroad = "rule-overbroad"
	// IDRuleStale is a rule that allows an RPC span no host uses any more.
	IDRuleStale = "rule-stale"
	// IDHostFirewallOpen is a host whose captured Windows Firewall
	// settings admit every inbound connection no rule blocks, for the
	// active profile: the firewall is off, or its default inbound action
	// is allow.
	IDHostFirewallOpen = "host-firewall-open"
)

// SortFindings orders findings by severity (most severe first), then host,
// id and message, so that reports are stable.
func SortFindings(fs []Finding) {
	slices.SortStableFunc(fs, func(a, b Finding) int {
		if c := cmp.Compare(b.Severity, a.Severity); c != 0 {
			return c
		}
		if c := strings.Compare(strings.ToLower(a.Host), strings.ToLower(b.Host)); c != 0 {
			return c
		}
		if c := strings.Compare(a.ID, b.ID); c != 0 {
			return c
		}
		return strings.Compare(a.Message, b.Message)
	})
}
