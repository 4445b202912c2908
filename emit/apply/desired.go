package apply

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"

	"go4.org/netipx"

	"github.com/rpcspan/rpcspan/audit"
	"github.com/rpcspan/rpcspan/emit"
)

// Options say where and how the table is programmed.
type Options struct {
	Hook emit.Hook // "" means emit.HookForward
	// AcceptOnly is refused by Desired: see ErrAcceptOnly.
	AcceptOnly bool
	// NetNS is the name of a network namespace under /run/netns; "" is the
	// namespace the process runs in.
	NetNS string
}

// ErrAcceptOnly is Desired's answer to Options.AcceptOnly. A verdict in one
// nft table does not bind another table's base chains, so a table holding
// only accepts would open nothing next to a default-deny policy elsewhere;
// accept-only rules are a fragment for the user's own table, which the
// nftables text target writes and apply does not program.
var ErrAcceptOnly = errors.New("accept-only rules cannot be applied as a table of their own (a verdict in one nft table does not bind another): " +
	"include the output of rpcspan emit --target nftables --accept-only in your own table instead")

// hook returns o.Hook with its default, or an error for an unknown hook.
func (o Options) hook() (emit.Hook, error) {
	switch o.Hook {
	case "":
		return emit.HookForward, nil
	case emit.HookInput, emit.HookForward:
		return o.Hook, nil
	}
	return "", fmt.Errorf("unknown hook %q (want input or forward)", o.Hook)
}

// commentMax is the longest rule comment nft accepts.
const commentMax = 128

// Desired builds the table the nftables text target describes for the
// plan, object for object, so that the kernel holds the same table after
// Apply as after nft -f of the text:
//
//   - one interval set per distinct address list (addr4_N, addr6_N) or
//     port list (ports_N), numbered by first use: per IPv4 rule then per
//     IPv6 rule, in plan order, its sources, destinations and ports; then
//     those of the drop rules;
//   - the base chain named after the hook (type filter, priority filter,
//     policy accept): ct state established,related return; one accept per
//     plan rule (IPv4 rules first), commented with its number, service and
//     policies; then, per family, one drop per protocol and port list of
//     the rpc and rpc-udp rules, for the union of their destinations.
//
// Policy and service names reach only the comments, reduced to letters,
// digits, space and ._:/- as the text target reduces them. It touches
// nothing outside its arguments.
func Desired(p *audit.Plan, o Options) (*Table, error) {
	hook, err := o.hook()
	if err != nil {
		return nil, err
	}
	if o.AcceptOnly {
		return nil, ErrAcceptOnly
	}
	if p == nil {
		return nil, fmt.Errorf("no plan")
	}
	var byFamily [2][]int // plan rule indexes of IPv4, IPv6 rules
	for i := range p.Rules {
		if err := emit.CheckRule(&p.Rules[i]); err != nil {
			return nil, fmt.Errorf("rule %d: %w", i+1, err)
		}
		fi := 0
		if p.Rules[i].Family == 6 {
			fi = 1
		}
		byFamily[fi] = append(byFamily[fi], i)
	}
	sets := &setNamer{byKey: map[string]string{}, count: map[string]int{}}
	t := &Table{}
	ch := Chain{Name: string(hook), Type: "filter", Hook: hook, Policy: "accept"}
	ch.Rules = append(ch.Rules, Rule{Exprs: []Expr{CtState{CtEstablished | CtRelated}, Verdict{"return"}}})
	for _, idx := range byFamily {
		for _, i := range idx {
			r := &p.Rules[i]
			// Argument order is set numbering order: sources,
			// destinations, ports.
			src, err := sets.addrs(t, r.Family, r.Sources)
			if err != nil {
				return nil, fmt.Errorf("rule %d: %w", i+1, err)
			}
			dst, err := sets.addrs(t, r.Family, r.Destinations)
			if err != nil {
				return nil, fmt.Errorf("rule %d: %w", i+1, err)
			}
			ports := sets.ports(t, r.Ports)
			ch.Rules = append(ch.Rules, Rule{
				Exprs: []Expr{
					// One meta nfproto guards both address lookups, as
					// nft generates it.
					Family{r.Family}, AddrSet{V: r.Family, Set: src},
					AddrSet{V: r.Family, Dst: true, Set: dst},
					L4Proto{r.Proto}, PortSet{Proto: r.Proto, Set: ports},
					Verdict{"accept"},
				},
				Comment: emit.RuleComment(i+1, r, commentMax),
			})
		}
	}
	for fi, idx := range byFamily {
		fam := 4 + 2*fi
		rules := make([]*audit.Rule, len(idx))
		for k, i := range idx {
			rules[k] = &p.Rules[i]
		}
		for _, g := range emit.DropGroups(rules) {
			dst, err := sets.addrs(t, fam, g.Dst)
			if err != nil {
				return nil, err
			}
			ports := sets.ports(t, g.Ports)
			ch.Rules = append(ch.Rules, Rule{
				Exprs: []Expr{
					Family{fam}, AddrSet{V: fam, Dst: true, Set: dst},
					L4Proto{g.Proto}, PortSet{Proto: g.Proto, Set: ports},
					Verdict{"drop"},
				},
				Comment: emit.Comment(emit.DropComment, commentMax),
			})
		}
	}
	t.Chains = []Chain{ch}
	return t, nil
}

// setNamer gives each distinct address or port list one set, named and
// numbered by first use as the text target names them.
type setNamer struct {
	byKey map[string]string
	count map[string]int
	buf   []byte
}

// addrs returns the name of the set holding ps (of family v), adding it
// to t on first use.
func (s *setNamer) addrs(t *Table, v int, ps []netip.Prefix) (string, error) {
	typ, base := KeyIPv4, "addr4_"
	if v == 6 {
		typ, base = KeyIPv6, "addr6_"
	}
	s.buf = append(s.buf[:0], typ...)
	for _, p := range ps {
		s.buf = append(s.buf, ' ')
		s.buf = p.AppendTo(s.buf)
	}
	if name, ok := s.byKey[string(s.buf)]; ok {
		return name, nil
	}
	rs, err := addrRanges(ps, v)
	if err != nil {
		return "", err
	}
	return s.add(t, string(s.buf), base, Set{Type: typ, Addrs: rs}), nil
}

// ports returns the name of the set holding ports, adding it to t on
// first use.
func (s *setNamer) ports(t *Table, ports []audit.PortRange) string {
	s.buf = append(s.buf[:0], "ports"...)
	for _, p := range ports {
		s.buf = append(s.buf, ' ')
		s.buf = strconv.AppendUint(s.buf, uint64(p.First), 10)
		s.buf = append(s.buf, '-')
		s.buf = strconv.AppendUint(s.buf, uint64(p.Last), 10)
	}
	if name, ok := s.byKey[string(s.buf)]; ok {
		return name
	}
	return s.add(t, string(s.buf), "ports_", Set{Type: KeyPort, Ports: portRanges(ports)})
}

func (s *setNamer) add(t *Table, key, base string, set Set) string {
	s.count[base]++
	set.Name = base + strconv.Itoa(s.count[base])
	s.byKey[key] = set.Name
	t.Sets = append(t.Sets, set)
	return set.Name
}

// addrRanges turns prefixes of family v into set elements: one range per
// prefix, sorted, overlapping ones joined (nft refuses overlapping
// intervals, and the kernel refuses some with EEXIST but stores others as
// given, which breaks the lookup), adjacent ones kept apart as nft keeps
// them.
func addrRanges(ps []netip.Prefix, v int) ([]netipx.IPRange, error) {
	out := make([]netipx.IPRange, 0, len(ps))
	for _, p := range ps {
		if !p.IsValid() || familyOf(p.Addr()) != v || p.Addr().Is4In6() {
			return nil, fmt.Errorf("address %s is not a valid IPv%d prefix", p, v)
		}
		out = append(out, netipx.RangeOfPrefix(p.Masked()))
	}
	return mergeOverlapping(out), nil
}

// mergeOverlapping sorts address ranges and joins those that share an
// address.
func mergeOverlapping(rs []netipx.IPRange) []netipx.IPRange {
	sorted := true
	for i := 1; i < len(rs); i++ {
		if rs[i].From().Compare(rs[i-1].To()) <= 0 {
			sorted = false
			break
		}
	}
	if sorted {
		// The plan's prefixes are sorted and disjoint; skip the work.
		return rs
	}
	slices.SortFunc(rs, func(a, b netipx.IPRange) int { return a.From().Compare(b.From()) })
	out := rs[:0]
	for _, r := range rs {
		if k := len(out) - 1; k >= 0 && r.From().Compare(out[k].To()) <= 0 {
			if r.To().Compare(out[k].To()) > 0 {
				out[k] = netipx.IPRangeFrom(out[k].From(), r.To())
			}
			continue
		}
		out = append(out, r)
	}
	return out
}

// portRanges copies port ranges sorted, overlapping ones joined.
func portRanges(ps []audit.PortRange) []audit.PortRange {
	out := slices.Clone(ps)
	slices.SortFunc(out, func(a, b audit.PortRange) int { return int(a.First) - int(b.First) })
	merged := out[:0]
	for _, r := range out {
		if k := len(merged) - 1; k >= 0 && r.First <= merged[k].Last {
			merged[k].Last = max(merged[k].Last, r.Last)
			continue
		}
		merged = append(merged, r)
	}
	return merged
}
