package audit

import (
	"slices"
	"strings"
)

// Estate is the set of servers rpcspan reasons about, with the baseline
// range they should share and the policy saying who may call whom.
type Estate struct {
	hosts map[string]*Host // by lower-case name

	// Baseline is the range every host is expected to use, per key. Keys
	// missing here fall back to DefaultRange (see BaselineRange).
	Baseline map[Key]RangeObs
	// Policy lists who may open RPC to whom. Without any policy (PolicySet
	// false) every host may open RPC to every other host; a policy that was
	// written but whose rules could not be read allows nothing.
	Policy    []PolicyRule
	PolicySet bool
	// Problems are values that could not be read (input-invalid findings).
	Problems []Problem
}

// NewEstate returns an empty estate with the default baseline.
func NewEstate() *Estate {
	return &Estate{hosts: map[string]*Host{}, Baseline: map[Key]RangeObs{}}
}

// Host returns the host called name (compared case-insensitively), adding
// an empty one first if there is none.
func (e *Estate) Host(name string) *Host {
	if e.hosts == nil {
		e.hosts = map[string]*Host{}
	}
	k := strings.ToLower(name)
	h, ok := e.hosts[k]
	if !ok {
		h = &Host{Name: name}
		e.hosts[k] = h
	}
	return h
}

// Lookup returns the host called name, if there is one.
func (e *Estate) Lookup(name string) (*Host, bool) {
	h, ok := e.hosts[strings.ToLower(name)]
	return h, ok
}

// Add merges h into the host of the same name.
func (e *Estate) Add(h *Host) { e.Host(h.Name).Merge(h) }

// Hosts returns the hosts sorted by name (case-insensitively, then as
// written, so that the order never depends on map iteration).
func (e *Estate) Hosts() []*Host {
	type keyed struct {
		lower string
		h     *Host
	}
	ks := make([]keyed, 0, len(e.hosts))
	for lower, h := range e.hosts {
		ks = append(ks, keyed{lower, h})
	}
	slices.SortFunc(ks, func(a, b keyed) int {
		if c := strings.Compare(a.lower, b.lower); c != 0 {
			return c
		}
		return strings.Compare(a.h.Name, b.h.Name)
	})
	out := make([]*Host, len(ks))
	for i, k := range ks {
		out[i] = k.h
	}
	return out
}

// Len returns the number of hosts.
func (e *Estate) Len() int { return len(e.hosts) }

// BaselineRange returns the baseline for k: the configured one, or
// DefaultRange (49152-65535) with a zero Source.
func (e *Estate) BaselineRange(k Key) RangeObs {
	if o, ok := e.Baseline[k]; ok {
		return o
	}
	return RangeObs{Key: k, Range: DefaultRange, Origin: Declared}
}

// Problem records a value that could not be read.
func (e *Estate) Problem(p Problem) { e.Problems = append(e.Problems, p) }

// SortedProblems returns the problems ordered by source, then host and text.
func (e *Estate) SortedProblems() []Problem {
	out := slices.Clone(e.Problems)
	slices.SortStableFunc(out, func(a, b Problem) int {
		if c := a.Src.Compare(b.Src); c != 0 {
			return c
		}
		if c := strings.Compare(a.Host, b.Host); c != 0 {
			return c
		}
		return strings.Compare(a.Msg, b.Msg)
	})
	return slices.CompactFunc(out, func(a, b Problem) bool { return a == b })
}
