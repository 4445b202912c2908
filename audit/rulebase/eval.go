package rulebase

// Outcome is what a rule base does with a part of a flow. The zero value
// is Allowed.
type Outcome uint8

// The outcomes, least severe first: combining rule bases keeps the most
// severe.
const (
	Allowed Outcome = iota
	Unknown
	Blocked
)

// String returns "allowed", "unknown" or "blocked".
func (o Outcome) String() string {
	switch o {
	case Blocked:
		return "blocked"
	case Unknown:
		return "unknown"
	}
	return "allowed"
}

// maxDepth bounds jumps: the kernels refuse loops, so a deeper chain of
// jumps means a rule base the reader got wrong, decided as unknown.
const maxDepth = 64

// Flow is a box of required flows: every source to every destination on
// every port, for one family and protocol.
type Flow struct {
	Family int   // 4 or 6
	Proto  Proto // TCP or UDP (one bit)
	Src    *AddrSet
	Dst    *AddrSet
	Ports  *PortSet
}

// Part is a disjoint piece of a Flow and what the rule bases do with it.
type Part struct {
	Src     *AddrSet
	Dst     *AddrSet
	Ports   *PortSet
	Outcome Outcome
	// Base, By and Rule name what decided: the rule base, the rule's
	// position and its text ("policy DROP" for a chain policy, the rule
	// with the unmodelled match for an unknown part). Empty for a part no
	// single rule decided (accepted by every base chain of nft).
	Base string
	By   Pos
	Rule string
	// Why lists, for an unknown part, the matches of the rule named that
	// the model does not evaluate.
	Why []string
}

// box is a part under evaluation. maybe holds, as bits 1<<Outcome, what a
// rule with unknown matches might have decided instead; taint is the first
// such rule.
type box struct {
	src, dst *AddrSet
	ports    *PortSet
	maybe    uint8
	taint    *Rule
}

// decided is a box with the outcome of one rule base.
type decided struct {
	box
	out  Outcome
	by   Pos
	text string
}

// Evaluate returns what the rule bases do with f, as disjoint parts that
// together make up f. Only rule bases that cover f's family take part; the
// result is nil when none does (f is not evaluated). A part is blocked when
// any rule base blocks it, else unknown when any leaves it unknown.
func Evaluate(bases []*Base, hook string, f Flow) []Part {
	var out []Part
	pending := []Part{{Src: f.Src, Dst: f.Dst, Ports: f.Ports}}
	any := false
	for _, b := range bases {
		if !b.Covers(f.Family) {
			continue
		}
		any = true
		var next []Part
		for _, p := range pending {
			if p.Outcome == Blocked {
				out = append(out, p)
				continue
			}
			for _, q := range EvaluateBase(b, hook, Flow{f.Family, f.Proto, p.Src, p.Dst, p.Ports}) {
				if q.Outcome <= p.Outcome && p.Outcome != Allowed {
					q.Outcome, q.Base, q.By, q.Rule = p.Outcome, p.Base, p.By, p.Rule
				}
				next = append(next, q)
			}
		}
		pending = next
	}
	if !any {
		return nil
	}
	return append(out, pending...)
}

// EvaluateBase returns what one rule base does with f on hook ("input" or
// "forward"): disjoint parts making up f.
func EvaluateBase(b *Base, hook string, f Flow) []Part {
	if f.Src.Empty() || f.Dst.Empty() || f.Ports.Empty() {
		return nil
	}
	ev := evaluator{b: b, fam: f.Family, proto: f.Proto}
	cur := []box{{src: f.Src, dst: f.Dst, ports: f.Ports}}
	var out []decided
	for _, c := range b.baseChains(hook, f.Family) {
		dec, ret := ev.chain(c, cur, 0)
		var next []box
		for _, d := range dec {
			if d.out == Allowed && !b.Final {
				// An nft accept ends only this base chain; the next
				// base chain of the hook sees the packet too.
				next = append(next, d.box)
				continue
			}
			out = append(out, d)
		}
		for _, r := range ret {
			switch c.Policy {
			case Accept, Continue:
				if b.Final {
					out = append(out, decided{r, Allowed, c.Pos, "policy " + string(Accept)})
				} else {
					next = append(next, r)
				}
			case Drop, Reject:
				out = append(out, decided{r, Blocked, c.Pos, "policy " + string(c.Policy)})
			default:
				out = append(out, decided{r, Unknown, c.Pos, "policy " + string(c.Policy)})
			}
		}
		cur = next
	}
	for _, r := range cur {
		out = append(out, decided{box: r})
	}
	parts := make([]Part, 0, len(out))
	for _, d := range out {
		p := Part{Src: d.src, Dst: d.dst, Ports: d.ports, Outcome: d.out, Base: b.Name, By: d.by, Rule: d.text}
		if d.maybe&^(1<<d.out) != 0 {
			p.Outcome, p.By, p.Rule, p.Why = Unknown, d.taint.Pos, d.taint.Text, d.taint.Unknown
		}
		if p.Outcome == Allowed && p.Rule == "" {
			p.Base = ""
		}
		parts = append(parts, p)
	}
	return parts
}

// evaluator walks the chains of one rule base for one family and protocol.
type evaluator struct {
	b     *Base
	fam   int
	proto Proto
}

// chain runs the boxes through c. It returns the parts c (or a chain it
// jumps to) decides and the boxes that leave c undecided: by a return,
// by the end of c, or out of a goto target.
func (ev *evaluator) chain(c *Chain, in []box, depth int) (dec []decided, ret []box) {
	if x := ev.index(c); x != nil {
		return ev.indexedChain(x, c, in, depth)
	}
	return ev.run(c, c.Rules, in, depth)
}

// run runs the boxes through rules, the rules of c or those of them that
// cover the boxes, as chain does.
func (ev *evaluator) run(c *Chain, rules []*Rule, in []box, depth int) (dec []decided, ret []box) {
	remaining := in
	for _, r := range rules {
		if len(remaining) == 0 {
			break
		}
		if !relevant(r, ev.fam, ev.proto) {
			continue
		}
		var next []box
		for _, b := range remaining {
			m, rest := split(b, r)
			next = append(next, rest...)
			if m == nil {
				continue
			}
			if len(r.Unknown) > 0 {
				// The rule may or may not match: the part goes on as
				// if it did not, remembering what the rule would do.
				switch r.Verdict {
				case Accept:
					m.maybe |= 1 << Allowed
				case Drop, Reject:
					m.maybe |= 1 << Blocked
				default:
					m.maybe |= 1 << Unknown
				}
				if m.taint == nil {
					m.taint = r
				}
				next = append(next, *m)
				continue
			}
			switch r.Verdict {
			case Accept:
				dec = append(dec, decided{*m, Allowed, r.Pos, r.Text})
			case Drop, Reject:
				dec = append(dec, decided{*m, Blocked, r.Pos, r.Text})
			case Continue:
				next = append(next, *m)
			case Return:
				ret = append(ret, *m)
			case Jump, Goto:
				t := ev.b.chain(c.Table, r.Target)
				if t == nil || depth >= maxDepth {
					dec = append(dec, decided{*m, Unknown, r.Pos, r.Text})
					continue
				}
				d, back := ev.chain(t, []box{*m}, depth+1)
				dec = append(dec, d...)
				if r.Verdict == Jump {
					next = append(next, back...)
				} else {
					ret = append(ret, back...)
				}
			default:
				dec = append(dec, decided{*m, Unknown, r.Pos, r.Text})
			}
		}
		remaining = next
	}
	return dec, append(ret, remaining...)
}

// split returns the part of b that r's address and port matches take (nil
// when none) and the disjoint rest of b.
func split(b box, r *Rule) (*box, []box) {
	src, dst, ports := b.src, b.dst, b.ports
	if r.Src != nil {
		if src = src.Intersect(r.Src); src.Empty() {
			return nil, []box{b}
		}
	}
	if r.Dst != nil {
		if dst = dst.Intersect(r.Dst); dst.Empty() {
			return nil, []box{b}
		}
	}
	if r.DPorts != nil {
		if ports = ports.Intersect(r.DPorts); ports.Empty() {
			return nil, []box{b}
		}
	}
	var rest []box
	if r.Src != nil {
		if s := b.src.Minus(r.Src); !s.Empty() {
			rest = append(rest, box{s, b.dst, b.ports, b.maybe, b.taint})
		}
	}
	if r.Dst != nil {
		if d := b.dst.Minus(r.Dst); !d.Empty() {
			rest = append(rest, box{src, d, b.ports, b.maybe, b.taint})
		}
	}
	if r.DPorts != nil {
		if p := b.ports.Minus(r.DPorts); !p.Empty() {
			rest = append(rest, box{src, dst, p, b.maybe, b.taint})
		}
	}
	return &box{src, dst, ports, b.maybe, b.taint}, rest
}
