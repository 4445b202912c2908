package audit

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// ParsePortsEntry reads one string of the Rpc\Internet "Ports" value the
// way Windows does: a port "5984" or a range "5000-5100", each port 0-65535.
// Spaces around the numbers are tolerated.
func ParsePortsEntry(s string) (PortRange, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return PortRange{}, fmt.Errorf("empty entry")
	}
	a, b, isRange := strings.Cut(t, "-")
	first, err := portsNumber(a)
	if err != nil {
		return PortRange{}, err
	}
	if !isRange {
		return PortRange{first, first}, nil
	}
	last, err := portsNumber(b)
	if err != nil {
		return PortRange{}, err
	}
	if last < first {
		return PortRange{}, fmt.Errorf("range %q ends below its start", t)
	}
	return PortRange{first, last}, nil
}

func portsNumber(s string) (uint16, error) {
	t := strings.TrimSpace(s)
	if t == "" || len(t) > 5 || strings.TrimLeft(t, "0123456789") != "" {
		return 0, fmt.Errorf("%q is not a port number", t)
	}
	n, _ := strconv.Atoi(t)
	if n > 65535 {
		return 0, fmt.Errorf("port %d is outside 0-65535", n)
	}
	return uint16(n), nil
}

// RPCPortsIssue is one reason Windows rejects an Rpc\Internet configuration.
type RPCPortsIssue struct {
	Entry string // the offending text, or the value name
	Msg   string
	Src   Source
}

// Restriction interprets the host's Rpc\Internet values. It returns the
// restricted ports (merged, sorted) and whether the restriction is in force
// (UseInternetPorts=Y, or a Ports value without that flag, as an inventory's
// rpc_ports declares), with every reason Windows would reject the
// configuration. When issues is not empty, Windows treats the whole
// configuration as invalid (RPC registrations fail with error 87).
func (h *Host) Restriction() (ports []PortRange, inForce bool, issues []RPCPortsIssue) {
	r := h.RPC
	if r == nil || (len(r.Ports) == 0 && r.PortsType == "") {
		return nil, false, nil
	}
	srcOf := func() Source {
		if len(r.Ports) > 0 {
			return r.Ports[0].Src
		}
		return Source{}
	}
	if r.PortsType != "" && r.PortsType != "REG_MULTI_SZ" {
		issues = append(issues, RPCPortsIssue{Entry: "Ports", Msg: fmt.Sprintf("written as %s; Windows needs REG_MULTI_SZ", r.PortsType), Src: srcOf()})
	}
	for _, p := range r.Ports {
		pr, err := ParsePortsEntry(p.Text)
		if err != nil {
			issues = append(issues, RPCPortsIssue{Entry: p.Text, Msg: err.Error(), Src: p.Src})
			continue
		}
		ports = append(ports, pr)
	}
	if len(r.Ports) == 0 {
		issues = append(issues, RPCPortsIssue{Entry: "Ports", Msg: "the Ports value is empty", Src: srcOf()})
	}
	for _, f := range []struct {
		name string
		flag Flag
	}{{"PortsInternetAvailable", r.PortsInternetAvailable}, {"UseInternetPorts", r.UseInternetPorts}} {
		if !f.flag.Set() {
			continue
		}
		if v := strings.ToUpper(strings.TrimSpace(f.flag.Value)); v != "Y" && v != "N" {
			issues = append(issues, RPCPortsIssue{Entry: f.name, Msg: fmt.Sprintf("%s is %q; Windows accepts only Y or N", f.name, f.flag.Value), Src: f.flag.Src})
		}
	}
	inForce = !r.UseInternetPorts.Set() || r.UseInternetPorts.Yes()
	return MergeRanges(ports), inForce, issues
}

// MergeRanges sorts ranges and joins those that overlap or touch.
func MergeRanges(rs []PortRange) []PortRange {
	if len(rs) == 0 {
		return nil
	}
	out := slices.Clone(rs)
	slices.SortFunc(out, func(a, b PortRange) int {
		if a.First != b.First {
			return int(a.First) - int(b.First)
		}
		return int(a.Last) - int(b.Last)
	})
	w := 0
	for _, r := range out[1:] {
		cur := &out[w]
		if int(r.First) <= int(cur.Last)+1 {
			if r.Last > cur.Last {
				cur.Last = r.Last
			}
			continue
		}
		w++
		out[w] = r
	}
	return out[:w+1]
}

// CountPorts returns the number of ports in rs, which must not overlap.
func CountPorts(rs []PortRange) int {
	n := 0
	for _, r := range rs {
		n += r.Len()
	}
	return n
}

// SubtractRanges returns the ports of a that are in none of b (both merged).
func SubtractRanges(a, b []PortRange) []PortRange {
	var out []PortRange
	j := 0
	for _, r := range a {
		first := int(r.First)
		for j < len(b) && int(b[j].Last) < first {
			j++
		}
		for k := j; k < len(b) && int(b[k].First) <= int(r.Last); k++ {
			if int(b[k].First) > first {
				out = append(out, PortRange{uint16(first), b[k].First - 1})
			}
			if int(b[k].Last)+1 > first {
				first = int(b[k].Last) + 1
			}
		}
		if first <= int(r.Last) {
			out = append(out, PortRange{uint16(first), r.Last})
		}
	}
	return out
}

// FormatRanges returns rs as "135, 49152-65535".
func FormatRanges(rs []PortRange) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = r.String()
	}
	return strings.Join(parts, ", ")
}
