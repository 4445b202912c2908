package audit

import (
	"fmt"
	"slices"
	"strings"
)

// CheckOptions tunes Check. The zero value runs every check; the baseline
// the checks compare against is Estate.Baseline.
type CheckOptions struct{}

// Check runs every check on e and returns the findings, sorted with
// SortFindings. Findings stack: a host gets every finding that applies to
// it (a 1025-5000 range gets range-legacy and range-baseline-mismatch),
// and there is at most one finding per host and id, naming every key it
// concerns (range-group-inconsistent: one per host and group).
//
// The keys checked on a host are the "relevant" ones: every key with an
// observation, plus the TCP key of each address family the host has an
// address in (IPv4 when it has none) and, when a policy rule opens rpc-udp
// to the host, the UDP key of those families. A relevant key nobody captured
// or declared is checked with the range rpcspan infers (Estate.Effective)
// and reported once per host as range-assumed.
func Check(e *Estate, opt CheckOptions) []Finding {
	out := checkProblems(e)
	// sortedHosts (planner.go) is Hosts' order without lowering names in
	// every comparison, which took a quarter of the time on 100,000 hosts.
	hosts, _ := sortedHosts(e)
	x := newSelectorIndex(hosts)
	udp := rpcUDPTargets(e, x)
	views := make([]hostView, len(hosts))
	memo, infer := serviceMemo{}, inferMemo{}
	for i, h := range hosts {
		views[i] = newHostView(e, h, udp[h], infer)
		out = views[i].check(e, memo, out)
	}
	out = append(out, checkGroups(views)...)
	out = append(out, checkPolicy(e, x)...)
	SortFindings(out)
	return out
}

// checkProblems turns every value that could not be read into an
// input-invalid finding.
func checkProblems(e *Estate) []Finding {
	var out []Finding
	for _, p := range e.SortedProblems() {
		out = append(out, Finding{ID: IDInputInvalid, Severity: Error, Host: p.Host, Message: p.Msg,
			Detail: map[string]any{"source": p.Src.String()}})
	}
	return out
}

// rpcUDPTargets returns the hosts some policy rule opens rpc-udp to; only
// their UDP spans are needed, so only their unobserved UDP keys are checked
// (the default policy, without rules, opens rpc alone).
func rpcUDPTargets(e *Estate, x *selectorIndex) map[*Host]bool {
	out := map[*Host]bool{}
	for _, r := range e.Policy {
		if !slices.ContainsFunc(r.Services, func(s Service) bool { return s.Kind == SvcRPCUDP }) {
			continue
		}
		for _, s := range r.To {
			for _, h := range x.match(e, s) {
				out[h] = true
			}
		}
	}
	return out
}

// hostView is one host with the effective range of each key it is checked
// on, indexed like Keys.
type hostView struct {
	h       *Host
	checked [4]bool
	eff     [4]Effective
}

func keyIndex(k Key) int {
	switch k {
	case UDP4:
		return 1
	case TCP6:
		return 2
	case UDP6:
		return 3
	}
	return 0
}

func newHostView(e *Estate, h *Host, udp bool, infer inferMemo) hostView {
	v := hostView{h: h}
	for _, o := range h.Ranges {
		v.checked[keyIndex(o.Key)] = true
	}
	var fam4, fam6 bool
	for _, a := range h.Addresses {
		if a.Addr.Unmap().Is4() {
			fam4 = true
		} else {
			fam6 = true
		}
	}
	if !fam4 && !fam6 {
		fam4 = true
	}
	for _, k := range Keys {
		if (k.Family() == 4 && fam4 || k.Family() == 6 && fam6) && (k.Proto() == "tcp" || udp) {
			v.checked[keyIndex(k)] = true
		}
	}
	for i, k := range Keys {
		if v.checked[i] {
			v.eff[i] = infer.effective(e, h, k)
		}
	}
	return v
}

// inferKey is what Estate.Effective infers a range from.
type inferKey struct {
	os, apps string
	k        Key
}

// inferMemo caches inferred ranges across the hosts of one Check: hosts
// share a few OS strings, and inferring parses the OS text each time.
type inferMemo map[inferKey]Effective

func (m inferMemo) effective(e *Estate, h *Host, k Key) Effective {
	if _, ok := h.Range(k); ok {
		return e.Effective(h, k)
	}
	ik := inferKey{h.OS, strings.Join(h.Apps, "\x00"), k}
	if eff, ok := m[ik]; ok {
		return eff
	}
	// A host with nothing but the OS and apps gets exactly the inference.
	eff := e.Effective(&Host{Name: h.Name, OS: h.OS, Apps: h.Apps}, k)
	m[ik] = eff
	return eff
}

// effs returns the effective ranges of the checked keys for which keep is
// true, in key order.
func (v *hostView) effs(keep func(Effective) bool) []Effective {
	var out []Effective
	for i := range Keys {
		if v.checked[i] && keep(v.eff[i]) {
			out = append(out, v.eff[i])
		}
	}
	return out
}

// check appends the host's own findings (all but the group ones) to out.
func (v *hostView) check(e *Estate, memo serviceMemo, out []Finding) []Finding {
	h := v.h
	if len(h.Addresses) == 0 {
		out = append(out, Finding{ID: IDHostNoAddress, Severity: Warning, Host: h.Name,
			Message: "no address known, so no firewall rule can name this host", Detail: map[string]any{}})
	}
	out = v.checkAssumed(out)
	out = v.checkInvalid(out)
	out = v.checkKnownRange(out, IDRangeLegacy, LegacyRange,
		", the pre-Vista default: firewalls opened for 49152-65535 block RPC to this host")
	out = v.checkKnownRange(out, IDRangeExchange2007, Exchange2007Range,
		", the range Exchange 2007 sets on Server 2008: firewalls opened for 49152-65535 block RPC to this host on ports below 49152")
	out = v.checkBaseline(e, out)
	out = v.checkMismatch(out, IDRangeFamilyMismatch, Warning, "IPv4 and IPv6 ranges differ: ",
		[][2]Key{{TCP4, TCP6}, {UDP4, UDP6}})
	out = v.checkMismatch(out, IDRangeProtocolMismatch, Info, "TCP and UDP ranges differ: ",
		[][2]Key{{TCP4, UDP4}, {TCP6, UDP6}})
	out = v.checkDeclared(out)
	out = v.checkServices(memo, out)
	out = v.checkExcluded(out)
	out = checkRPCPorts(h, out)
	return out
}

func hostFinding(id string, sev Severity, h *Host, msg string, d map[string]any) Finding {
	return Finding{ID: id, Severity: sev, Host: h.Name, Message: msg, Detail: d}
}

// rangeDetail returns the detail every range finding shares: "keys", the
// range ("range" when all keys share it, else "ranges" by key), "sources"
// by key for ranges that were read and "inferred_from" for inferred ones.
func rangeDetail(effs []Effective) map[string]any {
	keys := make([]Key, len(effs))
	ranges := make([]string, len(effs))
	src := make(map[string]string, len(effs))
	reason := ""
	for i, x := range effs {
		keys[i], ranges[i] = x.Key, x.Range.String()
		if x.Origin == Inferred {
			// The reason depends on the host's OS and apps only, so it is
			// the same for every inferred key of a host.
			reason = x.Reason
			continue
		}
		src[string(x.Key)] = x.Src.String()
	}
	// Sized for the fields any check adds, so that the map never grows.
	d := make(map[string]any, 8)
	d["keys"] = keyStrings(keys)
	perKey(d, "range", "ranges", keys, ranges)
	if len(src) > 0 {
		d["sources"] = src
	}
	if reason != "" {
		d["inferred_from"] = reason
	}
	return d
}

func keyStrings(keys []Key) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = string(k)
	}
	return out
}

// perKey stores vals (one per key) as d[one] when they are all equal, else
// as d[many], a map by key.
func perKey[T comparable](d map[string]any, one, many string, keys []Key, vals []T) {
	if len(vals) == 0 {
		return
	}
	same := true
	for _, v := range vals[1:] {
		same = same && v == vals[0]
	}
	if same {
		d[one] = vals[0]
		return
	}
	m := make(map[string]T, len(keys))
	for i, k := range keys {
		m[string(k)] = vals[i]
	}
	d[many] = m
}

// clause is "tcp4, udp4 use 1025-5000" plus an optional tail; keys sharing
// a range, an origin (read or assumed) and a tail make one clause.
type clause struct {
	keys    []Key
	r       PortRange
	assumed bool
	tail    string
}

func (c clause) String() string {
	verb := "uses"
	switch {
	case c.assumed && len(c.keys) > 1:
		verb = "are assumed to use"
	case c.assumed:
		verb = "is assumed to use"
	case len(c.keys) > 1:
		verb = "use"
	}
	s := strings.Join(keyStrings(c.keys), ", ") + " " + verb + " " + c.r.String()
	if c.tail != "" {
		s += c.tail
	}
	return s
}

// clauses groups effs into clauses in key order; tail (which may be nil)
// gives each key's tail.
func clauses(effs []Effective, tail func(Effective) string) string {
	var cs []clause
	for _, x := range effs {
		t := ""
		if tail != nil {
			t = tail(x)
		}
		assumed := x.Origin == Inferred
		i := slices.IndexFunc(cs, func(c clause) bool { return c.r == x.Range && c.assumed == assumed && c.tail == t })
		if i < 0 {
			cs = append(cs, clause{r: x.Range, assumed: assumed, tail: t})
			i = len(cs) - 1
		}
		cs[i].keys = append(cs[i].keys, x.Key)
	}
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = c.String()
	}
	return strings.Join(parts, "; ")
}

// checkAssumed reports the relevant keys nobody captured or declared.
func (v *hostView) checkAssumed(out []Finding) []Finding {
	effs := v.effs(func(x Effective) bool { return x.Origin == Inferred })
	if len(effs) == 0 {
		return out
	}
	keys := make([]string, len(effs))
	assumed := make([]string, len(effs))
	for i, x := range effs {
		keys[i] = string(x.Key)
		assumed[i] = x.Range.String()
	}
	what := assumed[0]
	if slices.ContainsFunc(assumed, func(s string) bool { return s != assumed[0] }) {
		for i := range assumed {
			assumed[i] = keys[i] + " " + assumed[i]
		}
		what = strings.Join(assumed, ", ")
	}
	msg := fmt.Sprintf("no range captured or declared for %s; assumed %s from %s", strings.Join(keys, ", "), what, effs[0].Reason)
	return append(out, hostFinding(IDRangeAssumed, Warning, v.h, msg, rangeDetail(effs)))
}
