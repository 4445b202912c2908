package apply

import (
	"strings"

	"go4.org/netipx"

	"github.com/rpcspan/rpcspan/audit"
)

// Unchanged is the only line Diff returns when nothing changes.
const Unchanged = "= unchanged"

// lcsLimit bounds the rule-list comparison (cells of the LCS table): past
// it the changed middle of a chain is shown as all removed, then all added,
// which is still correct, only less precise.
const lcsLimit = 4 << 20

// Diff describes what changes from cur to want (either may be nil for "no
// table"), as lines a person reads, each starting with "+" (added) or "-"
// (removed): "+ table inet rpcspan", "+ set r1_src ipv4_addr { 10.0.0.0/8,
// 192.0.2.10 }", "- element r1_ports 5000-5100", "+ chain forward { type
// filter hook forward priority filter; policy accept; }", "- rule forward:
// ip daddr @r3_dst tcp dport @r3_ports drop"; or the single line Unchanged.
// The order is fixed: table, sets (in want's order, then those only cur
// has, in its order), chains likewise, rules in chain order; the same
// tables always give the same lines.
func Diff(cur, want *Table) []string {
	var out []string
	switch {
	case cur == nil && want == nil:
		return []string{Unchanged}
	case cur == nil:
		out = append(out, "+ table inet "+TableName)
		cur = &Table{}
	case want == nil:
		out = append(out, "- table inet "+TableName)
		want = &Table{}
	}
	for i := range want.Sets {
		w := &want.Sets[i]
		c := cur.Set(w.Name)
		switch {
		case c == nil:
			out = append(out, "+ "+setLine(w))
		case c.Type != w.Type:
			out = append(out, "- "+setLine(c), "+ "+setLine(w))
		default:
			out = append(out, elementDiff(c, w)...)
		}
	}
	for i := range cur.Sets {
		if want.Set(cur.Sets[i].Name) == nil {
			out = append(out, "- "+setLine(&cur.Sets[i]))
		}
	}
	for i := range want.Chains {
		w := &want.Chains[i]
		c := cur.Chain(w.Name)
		switch {
		case c == nil:
			out = append(out, "+ "+chainLine(w))
			c = &Chain{Name: w.Name}
		case c.Header() != w.Header():
			out = append(out, "- "+chainLine(c), "+ "+chainLine(w))
		}
		out = append(out, ruleDiff(w.Name, c.Rules, w.Rules)...)
	}
	for i := range cur.Chains {
		c := &cur.Chains[i]
		if want.Chain(c.Name) == nil {
			out = append(out, "- "+chainLine(c))
			out = append(out, ruleDiff(c.Name, c.Rules, nil)...)
		}
	}
	if len(out) == 0 {
		return []string{Unchanged}
	}
	return out
}

// Equal reports whether two tables (nil meaning none) are the same.
func Equal(a, b *Table) bool {
	d := Diff(a, b)
	return len(d) == 1 && d[0] == Unchanged
}

func setLine(s *Set) string {
	line := "set " + safeName(s.Name) + " " + safeName(string(s.Type))
	if el := s.Elements(); len(el) > 0 {
		line += " { " + strings.Join(el, ", ") + " }"
	}
	return line
}

func chainLine(c *Chain) string {
	return "chain " + safeName(c.Name) + " { " + c.Header() + " }"
}

// elementDiff lists the elements only one of two sets of the same type
// has; both lists are sorted, so one merge walk finds them.
func elementDiff(c, w *Set) []string {
	var out []string
	add := func(sign, el string) { out = append(out, sign+" element "+safeName(w.Name)+" "+el) }
	if w.Type == KeyPort {
		i, j := 0, 0
		for i < len(c.Ports) || j < len(w.Ports) {
			switch {
			case j == len(w.Ports) || i < len(c.Ports) && portLess(c.Ports[i], w.Ports[j]):
				add("-", c.Ports[i].String())
				i++
			case i == len(c.Ports) || portLess(w.Ports[j], c.Ports[i]):
				add("+", w.Ports[j].String())
				j++
			default:
				i++
				j++
			}
		}
		return out
	}
	i, j := 0, 0
	for i < len(c.Addrs) || j < len(w.Addrs) {
		switch {
		case j == len(w.Addrs) || i < len(c.Addrs) && rangeLess(c.Addrs[i], w.Addrs[j]):
			add("-", rangeString(c.Addrs[i]))
			i++
		case i == len(c.Addrs) || rangeLess(w.Addrs[j], c.Addrs[i]):
			add("+", rangeString(w.Addrs[j]))
			j++
		default:
			i++
			j++
		}
	}
	return out
}

func portLess(a, b audit.PortRange) bool {
	if a.First != b.First {
		return a.First < b.First
	}
	return a.Last < b.Last
}

func rangeLess(a, b netipx.IPRange) bool {
	if c := a.From().Compare(b.From()); c != 0 {
		return c < 0
	}
	return a.To().Compare(b.To()) < 0
}

// ruleDiff lists the rules removed from and added to a chain: common head
// and tail are skipped, the middle is aligned on a longest common
// subsequence so that one inserted rule shows as one line.
func ruleDiff(chain string, cur, want []Rule) []string {
	for len(cur) > 0 && len(want) > 0 && cur[0].Equal(want[0]) {
		cur, want = cur[1:], want[1:]
	}
	for len(cur) > 0 && len(want) > 0 && cur[len(cur)-1].Equal(want[len(want)-1]) {
		cur, want = cur[:len(cur)-1], want[:len(want)-1]
	}
	var out []string
	line := func(sign string, r Rule) { out = append(out, sign+" rule "+safeName(chain)+": "+r.String()) }
	n, m := len(cur), len(want)
	if n == 0 || m == 0 || n*m > lcsLimit {
		for _, r := range cur {
			line("-", r)
		}
		for _, r := range want {
			line("+", r)
		}
		return out
	}
	// l[i][j] is the LCS length of cur[i:] and want[j:].
	l := make([][]int32, n+1)
	for i := range l {
		l[i] = make([]int32, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if cur[i].Equal(want[j]) {
				l[i][j] = l[i+1][j+1] + 1
			} else {
				l[i][j] = max(l[i+1][j], l[i][j+1])
			}
		}
	}
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && cur[i].Equal(want[j]):
			i++
			j++
		case j == m || i < n && l[i+1][j] >= l[i][j+1]:
			line("-", cur[i])
			i++
		default:
			line("+", want[j])
			j++
		}
	}
	return out
}
