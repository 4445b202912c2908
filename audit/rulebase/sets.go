package rulebase

import (
	"net/netip"
	"slices"

	"github.com/rpcspan/rpcspan/audit"
	"go4.org/netipx"
)

// AddrSet is a set of addresses of both families as sorted, disjoint,
// non-adjacent ranges. The zero value is empty. Sets are never changed in
// place once built, so rules and boxes share them freely.
type AddrSet struct{ r []netipx.IPRange }

// NewAddrSet returns the set of the given prefixes (masked first).
func NewAddrSet(ps ...netip.Prefix) *AddrSet {
	var b netipx.IPSetBuilder
	for _, p := range ps {
		b.AddPrefix(p.Masked())
	}
	return setFromBuilder(&b)
}

// setFromBuilder returns the set b holds.
func setFromBuilder(b *netipx.IPSetBuilder) *AddrSet {
	s, _ := b.IPSet()
	return &AddrSet{s.Ranges()}
}

// allAddrs is every IPv4 and IPv6 address, the universe negation works in.
var allAddrs = &AddrSet{[]netipx.IPRange{
	netipx.IPRangeFrom(netip.IPv4Unspecified(), netip.AddrFrom4([4]byte{255, 255, 255, 255})),
	netipx.IPRangeFrom(netip.IPv6Unspecified(), netip.AddrFrom16([16]byte{
		255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255})),
}}

// famAddrs returns every address of family 4 or 6.
func famAddrs(fam int) *AddrSet {
	if fam == 6 {
		return &AddrSet{allAddrs.r[1:]}
	}
	return &AddrSet{allAddrs.r[:1]}
}

// Empty reports whether s holds no address.
func (s *AddrSet) Empty() bool { return s == nil || len(s.r) == 0 }

// Prefixes returns s as the fewest prefixes, sorted.
func (s *AddrSet) Prefixes() []netip.Prefix {
	var out []netip.Prefix
	for _, r := range s.r {
		out = r.AppendPrefixes(out)
	}
	return out
}

// Not returns every address of both families that is not in s.
func (s *AddrSet) Not() *AddrSet { return allAddrs.Minus(s) }

// Union returns the addresses in s or o.
func (s *AddrSet) Union(o *AddrSet) *AddrSet {
	var b netipx.IPSetBuilder
	for _, l := range [][]netipx.IPRange{s.r, o.r} {
		for _, r := range l {
			b.AddRange(r)
		}
	}
	return setFromBuilder(&b)
}

// Intersect returns the addresses in both s and o.
func (s *AddrSet) Intersect(o *AddrSet) *AddrSet {
	a, b := s.r, o.r
	var out []netipx.IPRange
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		lo := maxAddr(a[i].From(), b[j].From())
		hi := minAddr(a[i].To(), b[j].To())
		if lo.Compare(hi) <= 0 {
			out = append(out, netipx.IPRangeFrom(lo, hi))
		}
		if a[i].To().Less(b[j].To()) {
			i++
		} else {
			j++
		}
	}
	return &AddrSet{out}
}

// Minus returns the addresses in s but not in o.
func (s *AddrSet) Minus(o *AddrSet) *AddrSet {
	b := o.r
	var out []netipx.IPRange
	j := 0
	for _, r := range s.r {
		lo, hi := r.From(), r.To()
		for j < len(b) && b[j].To().Less(lo) {
			j++
		}
		cur, done := lo, false
		for k := j; k < len(b) && b[k].From().Compare(hi) <= 0; k++ {
			if cur.Less(b[k].From()) {
				out = append(out, netipx.IPRangeFrom(cur, b[k].From().Prev()))
			}
			if b[k].To().Compare(hi) >= 0 {
				done = true
				break
			}
			cur = b[k].To().Next()
		}
		if !done {
			out = append(out, netipx.IPRangeFrom(cur, hi))
		}
	}
	return &AddrSet{out}
}

// String returns the prefixes of s separated by commas.
func (s *AddrSet) String() string {
	var b []byte
	for i, p := range s.Prefixes() {
		if i > 0 {
			b = append(b, ',')
		}
		b = p.AppendTo(b)
	}
	return string(b)
}

func maxAddr(a, b netip.Addr) netip.Addr {
	if a.Less(b) {
		return b
	}
	return a
}

func minAddr(a, b netip.Addr) netip.Addr {
	if a.Less(b) {
		return a
	}
	return b
}

// PortSet is a set of ports as sorted, disjoint, non-adjacent ranges. The
// zero value is empty.
type PortSet struct{ r []audit.PortRange }

// NewPortSet returns the set of the given ranges in any order.
func NewPortSet(rs ...audit.PortRange) *PortSet {
	l := slices.Clone(rs)
	slices.SortFunc(l, func(a, b audit.PortRange) int { return int(a.First) - int(b.First) })
	var out []audit.PortRange
	for _, r := range l {
		if n := len(out); n > 0 && int(r.First) <= int(out[n-1].Last)+1 {
			out[n-1].Last = max(out[n-1].Last, r.Last)
			continue
		}
		out = append(out, r)
	}
	return &PortSet{out}
}

// allPorts is 0-65535.
var allPorts = &PortSet{[]audit.PortRange{{First: 0, Last: 65535}}}

// Empty reports whether s holds no port.
func (s *PortSet) Empty() bool { return s == nil || len(s.r) == 0 }

// Ranges returns the ranges of s, sorted.
func (s *PortSet) Ranges() []audit.PortRange { return slices.Clone(s.r) }

// Not returns the ports that are not in s.
func (s *PortSet) Not() *PortSet { return allPorts.Minus(s) }

// Intersect returns the ports in both s and o.
func (s *PortSet) Intersect(o *PortSet) *PortSet {
	a, b := s.r, o.r
	var out []audit.PortRange
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		lo, hi := max(a[i].First, b[j].First), min(a[i].Last, b[j].Last)
		if lo <= hi {
			out = append(out, audit.PortRange{First: lo, Last: hi})
		}
		if a[i].Last < b[j].Last {
			i++
		} else {
			j++
		}
	}
	return &PortSet{out}
}

// Minus returns the ports in s but not in o.
func (s *PortSet) Minus(o *PortSet) *PortSet {
	b := o.r
	var out []audit.PortRange
	j := 0
	for _, r := range s.r {
		for j < len(b) && b[j].Last < r.First {
			j++
		}
		cur, done := int(r.First), false
		for k := j; k < len(b) && b[k].First <= r.Last; k++ {
			if cur < int(b[k].First) {
				out = append(out, audit.PortRange{First: uint16(cur), Last: b[k].First - 1})
			}
			if b[k].Last >= r.Last {
				done = true
				break
			}
			cur = int(b[k].Last) + 1
		}
		if !done {
			out = append(out, audit.PortRange{First: uint16(cur), Last: r.Last})
		}
	}
	return &PortSet{out}
}

// Union returns the ports in s or o.
func (s *PortSet) Union(o *PortSet) *PortSet { return NewPortSet(slices.Concat(s.r, o.r)...) }

// String returns "135,49152-65535".
func (s *PortSet) String() string {
	var b []byte
	for i, r := range s.r {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, r.String()...)
	}
	return string(b)
}

// rangeSet returns the addresses from lo to hi inclusive.
func rangeSet(lo, hi netip.Addr) *AddrSet {
	return &AddrSet{[]netipx.IPRange{netipx.IPRangeFrom(lo, hi)}}
}
