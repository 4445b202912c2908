package audit

import (
	"cmp"
	"hash/maphash"
	"net/netip"
	"slices"
	"strings"

	"go4.org/netipx"
)

// addAddrRuns adds sorted addresses to b as runs of consecutive addresses, so
// that a large estate with contiguous addressing costs few ranges.
func addAddrRuns(b *netipx.IPSetBuilder, sorted []netip.Addr) {
	for i := 0; i < len(sorted); {
		j := i
		for j+1 < len(sorted) && sorted[j].Next() == sorted[j+1] {
			j++
		}
		b.AddRange(netipx.IPRangeFrom(sorted[i], sorted[j]))
		i = j + 1
	}
}

// hashSeed makes ipSetHash values comparable within a process. Hashes only
// find candidates; IPSet.Equal decides, so results never depend on them.
var hashSeed = maphash.MakeSeed()

// ipSetHash hashes the addresses of set, for grouping equal sets.
func ipSetHash(set *netipx.IPSet) uint64 {
	var h maphash.Hash
	h.SetSeed(hashSeed)
	for _, r := range set.Ranges() {
		a, b := r.From().As16(), r.To().As16()
		h.Write(a[:])
		h.Write(b[:])
	}
	return h.Sum64()
}

// joinKey says which pieces may join: everything but one side (sources
// or destinations) must be equal; side is that side's hash.
type joinKey struct {
	fam      int
	proto    string
	service  Service
	epm      bool
	portsKey string
	side     uint64
}

// aggregate joins pieces until nothing joins: first those with equal
// sources (their destinations unite), then those with equal destinations
// (their sources unite). Anything else would widen the plan.
func (p *planner) aggregate(pieces []*planPiece) []*planPiece {
	bySrc := func(pc *planPiece) (*netipx.IPSet, uint64) { return pc.src, pc.srcHash }
	byDst := func(pc *planPiece) (*netipx.IPSet, uint64) { return pc.dst, pc.dstHash }
	for {
		n := len(pieces)
		pieces = joinPieces(pieces, bySrc, func(into *planPiece, from []*planPiece) {
			into.hosts = unionHosts(append([]*planPiece{into}, from...))
			into.dst = nil
		})
		for _, pc := range pieces {
			if pc.dst == nil {
				pc.dst = p.destSet(pc.fam, pc.hosts)
				pc.dstHash = ipSetHash(pc.dst)
			}
		}
		pieces = joinPieces(pieces, byDst, func(into *planPiece, from []*planPiece) {
			var b netipx.IPSetBuilder
			b.AddSet(into.src)
			for _, f := range from {
				b.AddSet(f.src)
			}
			into.src, _ = b.IPSet()
			into.srcHash = ipSetHash(into.src)
			// Equal addresses may belong to different hosts (a shared
			// address), so the host lists still unite.
			into.hosts = unionHosts(append([]*planPiece{into}, from...))
		})
		if len(pieces) == n {
			return pieces
		}
	}
}

// joinPieces groups pieces that are equal but for one side and joins each
// group into its first piece, keeping the order of first appearance.
func joinPieces(pieces []*planPiece, side func(*planPiece) (*netipx.IPSet, uint64), join func(into *planPiece, from []*planPiece)) []*planPiece {
	index := map[joinKey][]int{}
	var groups [][]*planPiece
	for _, pc := range pieces {
		set, hash := side(pc)
		k := joinKey{pc.fam, pc.proto, pc.service, pc.epm, pc.portsKey, hash}
		gi := -1
		for _, i := range index[k] {
			if s, _ := side(groups[i][0]); s.Equal(set) {
				gi = i
				break
			}
		}
		if gi < 0 {
			gi = len(groups)
			index[k] = append(index[k], gi)
			groups = append(groups, nil)
		}
		groups[gi] = append(groups[gi], pc)
	}
	out := make([]*planPiece, 0, len(groups))
	for _, g := range groups {
		into := g[0]
		if len(g) > 1 {
			join(into, g[1:])
			for _, f := range g[1:] {
				into.policies = append(into.policies, f.policies...)
				into.flows += f.flows
			}
			slices.Sort(into.policies)
			into.policies = slices.Compact(into.policies)
		}
		out = append(out, into)
	}
	return out
}

// unionHosts returns the sorted union of the pieces' host lists.
func unionHosts(ps []*planPiece) []int {
	n := 0
	for _, pc := range ps {
		n += len(pc.hosts)
	}
	out := make([]int, 0, n)
	for _, pc := range ps {
		out = append(out, pc.hosts...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// destSet returns the addresses of family fam of hosts.
func (p *planner) destSet(fam int, hosts []int) *netipx.IPSet {
	fi := 0
	if fam == 6 {
		fi = 1
	}
	n := 0
	for _, h := range hosts {
		n += len(p.addrs[fi][h])
	}
	all := make([]netip.Addr, 0, n)
	for _, h := range hosts {
		all = append(all, p.addrs[fi][h]...)
	}
	slices.SortFunc(all, netip.Addr.Compare)
	var b netipx.IPSetBuilder
	addAddrRuns(&b, slices.Compact(all))
	set, _ := b.IPSet()
	return set
}

// rule turns a finished piece into a Rule.
func (p *planner) rule(pc *planPiece) Rule {
	return Rule{
		Family:       pc.fam,
		Proto:        pc.proto,
		Service:      pc.service.String(),
		Ports:        slices.Clone(pc.ports),
		EPM:          pc.epm,
		Sources:      slices.Clone(pc.srcPfx),
		Destinations: slices.Clone(pc.dstPfx),
		DestHosts:    p.names(pc.hosts),
		Policies:     slices.Clone(pc.policies),
		Flows:        pc.flows,
	}
}

func (p *planner) names(hosts []int) []string {
	out := make([]string, len(hosts))
	for i, h := range hosts {
		out[i] = p.hosts[h].Name
	}
	return out
}

// comparePieces orders rules by family, protocol, service (rpc and rpc-udp
// before explicit ports), EPM first, ports, destinations, sources.
func comparePieces(a, b *planPiece) int {
	if c := cmp.Compare(a.fam, b.fam); c != 0 {
		return c
	}
	if c := strings.Compare(a.proto, b.proto); c != 0 {
		return c
	}
	if c := compareServiceOrder(a.service, b.service); c != 0 {
		return c
	}
	if a.epm != b.epm {
		if a.epm {
			return -1
		}
		return 1
	}
	if c := comparePortLists(a.ports, b.ports); c != 0 {
		return c
	}
	if c := comparePrefixLists(a.dstPfx, b.dstPfx); c != 0 {
		return c
	}
	return comparePrefixLists(a.srcPfx, b.srcPfx)
}

func compareServiceOrder(a, b Service) int {
	rank := func(s Service) int {
		switch s.Kind {
		case SvcRPC:
			return 0
		case SvcRPCUDP:
			return 1
		}
		return 2
	}
	if c := cmp.Compare(rank(a), rank(b)); c != 0 {
		return c
	}
	if c := strings.Compare(a.Proto, b.Proto); c != 0 {
		return c
	}
	return comparePortLists([]PortRange{a.Ports}, []PortRange{b.Ports})
}

// comparePortLists compares port lists element-wise, a shorter prefix first.
func comparePortLists(a, b []PortRange) int {
	return slices.CompareFunc(a, b, func(x, y PortRange) int {
		if c := cmp.Compare(x.First, y.First); c != 0 {
			return c
		}
		return cmp.Compare(x.Last, y.Last)
	})
}

func comparePrefixLists(a, b []netip.Prefix) int {
	return slices.CompareFunc(a, b, netip.Prefix.Compare)
}
