package rulebase

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/rpcspan/rpcspan/audit"
)

// The values of nft -j match expressions: addresses, ports and words as
// the JSON writes them (literals, sets, prefixes, ranges), and the text
// of an expression for reports.

// jAddrs reads an address value: "10.0.0.1", "10.0.0.0/8", a prefix or
// range object, an anonymous set or a list of those.
func jAddrs(v any) (*AddrSet, bool) {
	switch x := v.(type) {
	case string:
		p, ok := parseAddrOrPrefix(x)
		if !ok {
			return nil, false
		}
		return NewAddrSet(p), true
	case []any:
		out := &AddrSet{}
		for _, e := range x {
			s, ok := jAddrs(e)
			if !ok {
				return nil, false
			}
			out = out.Union(s)
		}
		return out, true
	case map[string]any:
		if len(x) != 1 {
			return nil, false
		}
		switch {
		case x["set"] != nil:
			return jAddrs(x["set"])
		case x["elem"] != nil:
			e, _ := x["elem"].(map[string]any)
			return jAddrs(e["val"])
		case x["prefix"] != nil:
			pm, _ := x["prefix"].(map[string]any)
			a, err := netip.ParseAddr(jstr(pm["addr"]))
			n, ok := pm["len"].(json.Number)
			if err != nil || !ok {
				return nil, false
			}
			bits, err := strconv.Atoi(n.String())
			a = a.Unmap().WithZone("")
			if err != nil || bits < 0 || bits > a.BitLen() {
				return nil, false
			}
			return NewAddrSet(netip.PrefixFrom(a, bits)), true
		case x["range"] != nil:
			r, _ := x["range"].([]any)
			if len(r) != 2 {
				return nil, false
			}
			lo, err1 := netip.ParseAddr(jstr(r[0]))
			hi, err2 := netip.ParseAddr(jstr(r[1]))
			if err1 != nil || err2 != nil {
				return nil, false
			}
			lo, hi = lo.Unmap().WithZone(""), hi.Unmap().WithZone("")
			if lo.Is4() != hi.Is4() || hi.Less(lo) {
				return nil, false
			}
			return rangeSet(lo, hi), true
		}
	}
	return nil, false
}

// jPort reads one port: a number, a numeric string or a service name.
func jPort(v any) (uint16, bool) {
	switch x := v.(type) {
	case json.Number:
		n, err := strconv.Atoi(x.String())
		if err != nil || n < 0 || n > 65535 {
			return 0, false
		}
		return uint16(n), true
	case string:
		if p, ok := nftjServices[strings.ToLower(x)]; ok {
			return p, true
		}
		p, err := iptPort(x)
		return p, err == nil
	}
	return 0, false
}

// jPorts reads a port value: a port, a range object, an anonymous set or
// a list of those.
func jPorts(v any) (*PortSet, bool) {
	switch x := v.(type) {
	case json.Number, string:
		p, ok := jPort(x)
		if !ok {
			return nil, false
		}
		return NewPortSet(audit.PortRange{First: p, Last: p}), true
	case []any:
		out := &PortSet{}
		for _, e := range x {
			s, ok := jPorts(e)
			if !ok {
				return nil, false
			}
			out = out.Union(s)
		}
		return out, true
	case map[string]any:
		if len(x) != 1 {
			return nil, false
		}
		switch {
		case x["set"] != nil:
			return jPorts(x["set"])
		case x["elem"] != nil:
			e, _ := x["elem"].(map[string]any)
			return jPorts(e["val"])
		case x["range"] != nil:
			r, _ := x["range"].([]any)
			if len(r) != 2 {
				return nil, false
			}
			lo, ok1 := jPort(r[0])
			hi, ok2 := jPort(r[1])
			if !ok1 || !ok2 || hi < lo {
				return nil, false
			}
			return NewPortSet(audit.PortRange{First: lo, Last: hi}), true
		}
	}
	return nil, false
}

// jWords returns the words of a value such as "new", ["new",
// "established"] or {"set": [...]}; ok is false for anything else.
func jWords(v any) (out []string, ok bool) {
	switch x := v.(type) {
	case string:
		return []string{x}, true
	case json.Number:
		return []string{x.String()}, true
	case []any:
		for _, e := range x {
			w, ok := jWords(e)
			if !ok {
				return nil, false
			}
			out = append(out, w...)
		}
		return out, true
	case map[string]any:
		if s, isSet := x["set"]; isSet && len(x) == 1 {
			return jWords(s)
		}
	}
	return nil, false
}

// jCompare returns the ports for "dport < N" and the like.
func jCompare(op string, n uint16) *PortSet {
	lo, hi := 0, 65535
	switch op {
	case "<":
		hi = int(n) - 1
	case "<=":
		hi = int(n)
	case ">":
		lo = int(n) + 1
	case ">=":
		lo = int(n)
	}
	if lo > hi {
		return &PortSet{}
	}
	return NewPortSet(audit.PortRange{First: uint16(lo), Last: uint16(hi)})
}

// jRender writes an expression in nft's text syntax as far as the model
// knows it, and as compact JSON otherwise, for reports.
func jRender(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case []any:
		var ws []string
		for _, e := range x {
			ws = append(ws, jRender(e))
		}
		return strings.Join(ws, ",")
	case map[string]any:
		if len(x) == 1 {
			for k, val := range x {
				vm, _ := val.(map[string]any)
				switch k {
				case "payload":
					if vm != nil && vm["protocol"] != nil {
						return jstr(vm["protocol"]) + " " + jstr(vm["field"])
					}
				case "meta", "ct":
					if vm != nil {
						return k + " " + jstr(vm["key"])
					}
				case "set":
					if l, ok := val.([]any); ok {
						var ws []string
						for _, e := range l {
							ws = append(ws, jRender(e))
						}
						return "{ " + strings.Join(ws, ", ") + " }"
					}
				case "range":
					if l, ok := val.([]any); ok && len(l) == 2 {
						return jRender(l[0]) + "-" + jRender(l[1])
					}
				case "prefix":
					if vm != nil {
						return jRender(vm["addr"]) + "/" + jRender(vm["len"])
					}
				case "elem":
					if vm != nil {
						return jRender(vm["val"])
					}
				case "match":
					if vm != nil {
						op := jstr(vm["op"])
						if op == "==" || op == "in" {
							op = ""
						}
						s := jRender(vm["left"])
						if op != "" {
							s += " " + op
						}
						return s + " " + jRender(vm["right"])
					}
				case "accept", "drop", "return", "continue", "reject", "counter", "log", "queue":
					if val == nil {
						return k
					}
				case "jump", "goto":
					if vm != nil {
						return k + " " + jstr(vm["target"])
					}
				}
			}
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
