package ingest

import (
	"fmt"
	"net/netip"
	"strings"
	"unicode"

	"github.com/rpcspan/rpcspan/audit"
)

// This file holds what the YAML/JSON inventory reader (inventory.go) and the
// CSV reader (csv.go) share: the problem list with its cap, the table of
// hosts by name, the per-host sets that keep lists free of repeats, and the
// checks of values both formats carry.

// invMaxProblems caps the problems one inventory file reports: a file of a
// million bad values must not exhaust memory with messages. The rest are
// counted in one last problem.
const invMaxProblems = 1000

// invReader collects what an inventory file (YAML, JSON or CSV) says.
type invReader struct {
	file  string
	res   *Result
	hosts map[string]*invHost // by lower-case name
	seen  map[audit.Problem]bool
	extra int // problems beyond invMaxProblems
}

func newInvReader(file string, kind Kind) *invReader {
	return &invReader{file: file, res: &Result{Kind: kind}, hosts: map[string]*invHost{}, seen: map[audit.Problem]bool{}}
}

func (v *invReader) src(line int) audit.Source { return audit.Source{File: v.file, Line: line} }

// problem records a bad value on line. A problem repeated word for word
// (the same aliased value read twice) is recorded once.
func (v *invReader) problem(line int, host, format string, args ...any) {
	p := audit.Problem{Src: v.src(line), Host: host, Msg: fmt.Sprintf(format, args...)}
	if v.seen[p] {
		return
	}
	if len(v.res.Problems) >= invMaxProblems {
		v.extra++
		return
	}
	v.seen[p] = true
	v.res.Problems = append(v.res.Problems, p)
}

func (v *invReader) result() *Result {
	if v.extra > 0 {
		v.res.Problems = append(v.res.Problems, audit.Problem{Src: audit.Source{File: v.file},
			Msg: fmt.Sprintf("%d more problems not listed (only the first %d are)", v.extra, invMaxProblems)})
		v.extra = 0
	}
	return v.res
}

func (v *invReader) fatal(err error) *Result {
	return &Result{Kind: v.res.Kind, Fatal: err}
}

// addHost returns the entry of the host called name, written on line. An
// invalid name is a problem and gives nil: such a host cannot be listed
// safely. A repeated name is a problem and gives the first entry, so that
// nothing the second one says is lost.
func (v *invReader) addHost(name string, line int) *invHost {
	if err := audit.ValidHostName(name); err != nil {
		v.problem(line, "", "host skipped: %v", err)
		return nil
	}
	k := strings.ToLower(name)
	if e, ok := v.hosts[k]; ok {
		v.problem(line, e.h.Name, "duplicate host name %q (first at line %d); merged into the first", name, e.h.NameSrc.Line)
		return e
	}
	e := &invHost{h: &audit.Host{Name: name, NameSrc: v.src(line)}}
	v.hosts[k] = e
	v.res.Hosts = append(v.res.Hosts, e.h)
	return e
}

// invHost is a host being read, with sets that keep its lists free of
// repeats in constant time per value (audit.Host.Merge scans lists, which
// a file repeating one host many times would make quadratic).
type invHost struct {
	h        *audit.Host
	addrs    map[netip.Addr]bool
	groups   map[string]bool // lower case
	apps     map[string]bool // lower case
	ranges   map[audit.RangeObs]bool
	excluded map[invExcludedKey]bool
	captures map[string]bool
}

type invExcludedKey struct {
	key audit.Key
	r   audit.PortRange
}

func (e *invHost) addAddr(a netip.Addr, src audit.Source) {
	addOnce(&e.addrs, a, &e.h.Addresses, audit.Addr{Addr: a, Src: src})
}

func (e *invHost) addGroup(g string) { addOnce(&e.groups, strings.ToLower(g), &e.h.Groups, g) }

func (e *invHost) addApp(a string) { addOnce(&e.apps, strings.ToLower(a), &e.h.Apps, a) }

// addRange keeps every observation (Host.Range decides which counts)
// except exact repeats, which only an alias read twice produces.
func (e *invHost) addRange(o audit.RangeObs) { addOnce(&e.ranges, o, &e.h.Ranges, o) }

func (e *invHost) addExcluded(x audit.Excluded) {
	addOnce(&e.excluded, invExcludedKey{x.Key, x.Range}, &e.h.Excluded, x)
}

func (e *invHost) addCapture(p string) { addOnce(&e.captures, p, &e.h.Captures, p) }

// addOnce appends v to list unless key is in seen, and records key. seen
// is made on first use: most hosts never fill most of their lists.
func addOnce[K comparable, V any](seen *map[K]bool, key K, list *[]V, v V) {
	if *seen == nil {
		*seen = map[K]bool{}
	}
	if !(*seen)[key] {
		(*seen)[key] = true
		*list = append(*list, v)
	}
}

// setOS keeps the first OS, as audit.Host.Merge does.
func (e *invHost) setOS(os string) {
	if e.h.OS == "" {
		e.h.OS = os
	}
}

// setRPCPorts records a declared Rpc\Internet restriction. Declaring the
// ports means the restriction is in force, so both flags read "Y" from the
// line that declared them. A later declaration replaces an earlier one, as
// audit.Host.Merge does. An rpc_ports list stands for a correctly typed
// value: REG_MULTI_SZ, the type Windows requires.
func (e *invHost) setRPCPorts(ports []audit.PortsEntry, src audit.Source) {
	y := audit.Flag{Value: "Y", Src: src}
	e.h.RPC = &audit.RPCInternet{Ports: ports, PortsType: regTypeMultiSZ, PortsInternetAvailable: y, UseInternetPorts: y}
}

// invAddr reads one host address: no zone, IPv4-mapped IPv6 unmapped.
func invAddr(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%q is not an IP address", invShort(s))
	}
	if a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("%q has a zone; a server address has none", invShort(s))
	}
	return a.Unmap(), nil
}

// invText refuses control characters in free text (os, apps, rule
// names): they would break the lines of every report that prints it.
func invText(s string) error {
	for _, c := range s {
		if unicode.IsControl(c) {
			return fmt.Errorf("%q contains a control character", invShort(s))
		}
	}
	return nil
}

// invShort cuts text quoted in a message to a readable length.
func invShort(s string) string { return clip(s, 80) }

// invOrList joins words as "a, b or c".
func invOrList(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}
