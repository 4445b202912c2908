//go:build linux

package apply

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"syscall"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"github.com/mdlayher/netlink"
	"go4.org/netipx"

	"github.com/rpcspan/rpcspan/audit"
	"github.com/rpcspan/rpcspan/emit"
)

// elemChunk is how many set elements go into one netlink message: the
// element list is one attribute, whose length field has 16 bits, so a
// large set has to be sent in several messages (nft does the same). 512
// IPv6 elements take about 25 KiB.
const elemChunk = 512

// Protocol numbers as the kernel stores them.
const (
	nfprotoIPv4 = 2  // NFPROTO_IPV4
	nfprotoIPv6 = 10 // NFPROTO_IPV6
	ipprotoTCP  = 6
	ipprotoUDP  = 17
)

// conn opens a netlink connection to nftables in the named network
// namespace ("" for the current one). The returned function closes the
// namespace file; every operation of the Conn dials its own socket there.
// sizeHint is the number of netlink messages a batch will hold, to size
// the socket buffers (see bufferOption).
func conn(ns string, sizeHint int) (*nftables.Conn, func(), error) {
	opts := []nftables.ConnOption{nftables.WithSockOptions(bufferOption(sizeHint))}
	done := func() {}
	if ns != "" {
		p, err := nsPath(ns)
		if err != nil {
			return nil, nil, err
		}
		f, err := os.Open(p)
		if err != nil {
			return nil, nil, fmt.Errorf("opening network namespace %s: %w", ns, err)
		}
		done = func() { f.Close() }
		opts = append(opts, nftables.WithNetNSFd(int(f.Fd())))
	}
	c, err := nftables.New(opts...)
	if err != nil {
		done()
		return nil, nil, fmt.Errorf("netlink: %w", err)
	}
	return c, done, nil
}

// bufferOption sizes a netlink socket for a batch of about n messages. The
// library sends the whole batch in one sendmsg, which the kernel refuses
// (EMSGSIZE) when it is larger than the send buffer, and the kernel queues
// one acknowledgement per message, which overflows a small receive buffer
// (ENOBUFS, reported after the transaction was in fact committed). The
// FORCE variants pass the system limits (root only); failing that the
// ordinary ones are tried, and failing those the defaults stay, which is
// enough for ordinary tables.
func bufferOption(n int) nftables.SockOption {
	return func(c *netlink.Conn) error {
		size := max(4<<20, n*2048)
		rc, err := c.SyscallConn()
		if err != nil {
			return nil
		}
		_ = rc.Control(func(fd uintptr) {
			for _, o := range [][2]int{{syscall.SO_SNDBUFFORCE, syscall.SO_SNDBUF}, {syscall.SO_RCVBUFFORCE, syscall.SO_RCVBUF}} {
				if syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, o[0], size) != nil {
					_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, o[1], size)
				}
			}
		})
		return nil
	}
}

// Current reads table inet rpcspan from the kernel of network namespace ns
// ("" for the current one); nil when there is no such table. Kernel content
// the model does not describe is kept as Unknown expressions, so that Diff
// shows it and Apply knows it could not put it back.
func Current(ns string) (*Table, error) {
	c, done, err := conn(ns, 0)
	if err != nil {
		return nil, err
	}
	defer done()
	return current(c)
}

func current(c *nftables.Conn) (*Table, error) {
	nt, err := c.ListTableOfFamily(TableName, nftables.TableFamilyINet)
	if errors.Is(err, syscall.ENOENT) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading table inet %s: %w", TableName, err)
	}
	t := &Table{}
	sets, err := c.GetSets(nt)
	if err != nil {
		return nil, fmt.Errorf("reading the sets of table inet %s: %w", TableName, err)
	}
	for _, s := range sets {
		els, err := c.GetSetElements(s)
		if err != nil {
			return nil, fmt.Errorf("reading set %s: %w", s.Name, err)
		}
		t.Sets = append(t.Sets, setFromKernel(s, els))
	}
	chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyINet)
	if err != nil {
		return nil, fmt.Errorf("reading the chains of table inet %s: %w", TableName, err)
	}
	for _, ch := range chains {
		if ch.Table == nil || ch.Table.Name != TableName {
			continue
		}
		rules, err := c.GetRules(nt, ch)
		if err != nil {
			return nil, fmt.Errorf("reading chain %s: %w", ch.Name, err)
		}
		t.Chains = append(t.Chains, chainFromKernel(ch, rules))
	}
	return t, nil
}

// Apply replaces table inet rpcspan in the kernel of o.NetNS with want, in
// one netlink batch: add the table (so that the delete cannot fail on a
// missing one), delete it, add it with its sets, chain and rules. The
// kernel commits a batch whole or not at all, so on error the previous
// table is still in force. It returns the previous table (nil when there
// was none) for Restore.
//
// Apply refuses to replace a table holding content it could not put back
// (rules written by hand, say), since a rollback would then lose it.
func Apply(want *Table, o Options) (prev *Table, err error) {
	if want == nil {
		return nil, fmt.Errorf("no table to apply")
	}
	c, done, err := conn(o.NetNS, batchSize(want))
	if err != nil {
		return nil, err
	}
	defer done()
	prev, err = current(c)
	if err != nil {
		return nil, err
	}
	if err := prev.restorable(); err != nil {
		return prev, fmt.Errorf("table inet %s was changed outside rpcspan (%v), so a rollback could not restore it; delete it first with: nft delete table inet %s", TableName, err, TableName)
	}
	if err := replace(c, want); err != nil {
		return prev, err
	}
	return prev, nil
}

// Restore puts prev back in the kernel of o.NetNS atomically, as Apply
// does; a nil prev deletes the table (and is no error when there is none).
func Restore(prev *Table, o Options) error {
	if err := prev.restorable(); err != nil {
		return fmt.Errorf("cannot restore table inet %s: %v", TableName, err)
	}
	c, done, err := conn(o.NetNS, batchSize(prev))
	if err != nil {
		return err
	}
	defer done()
	return replace(c, prev)
}

// batchSize estimates the number of netlink messages replace sends.
func batchSize(t *Table) int {
	if t == nil {
		return 8
	}
	n := 8
	for i := range t.Sets {
		n += 2 + (2*len(t.Sets[i].Addrs)+2*len(t.Sets[i].Ports))/elemChunk
	}
	for i := range t.Chains {
		n += 1 + len(t.Chains[i].Rules)
	}
	return n
}

// replace queues add, delete, add of the table plus want's content (or
// only add and delete when want is nil) and sends them as one batch.
func replace(c *nftables.Conn, want *Table) error {
	nt := &nftables.Table{Family: nftables.TableFamilyINet, Name: TableName}
	c.AddTable(nt)
	c.DelTable(nt)
	if want != nil {
		if err := queueTable(c, nt, want); err != nil {
			return err
		}
	}
	if err := c.Flush(); err != nil {
		if errors.Is(err, syscall.ENOBUFS) {
			// The kernel ran the batch but its acknowledgements did not
			// fit the receive buffer: the outcome is unknown.
			return fmt.Errorf("netlink transaction on table inet %s: acknowledgements lost, the change may or may not be in force (read the table again): %w", TableName, err)
		}
		return fmt.Errorf("netlink transaction on table inet %s (nothing was changed): %w", TableName, err)
	}
	return nil
}

// queueTable queues the creation of t's table, sets, chains and rules.
func queueTable(c *nftables.Conn, nt *nftables.Table, t *Table) error {
	c.AddTable(nt)
	sets := map[string]*nftables.Set{}
	for i := range t.Sets {
		s := &t.Sets[i]
		kt, els, err := kernelElements(s)
		if err != nil {
			return err
		}
		ks := &nftables.Set{Table: nt, Name: s.Name, KeyType: kt, Interval: true}
		if err := c.AddSet(ks, nil); err != nil {
			return fmt.Errorf("set %s: %w", s.Name, err)
		}
		for len(els) > 0 {
			n := min(elemChunk, len(els))
			if err := c.SetAddElements(ks, els[:n]); err != nil {
				return fmt.Errorf("set %s: %w", s.Name, err)
			}
			els = els[n:]
		}
		sets[s.Name] = ks
	}
	for i := range t.Chains {
		ch := &t.Chains[i]
		kc, err := kernelChain(nt, ch)
		if err != nil {
			return err
		}
		c.AddChain(kc)
		for _, r := range ch.Rules {
			exprs, err := kernelExprs(r, sets)
			if err != nil {
				return fmt.Errorf("chain %s: rule %q: %w", ch.Name, r.String(), err)
			}
			kr := &nftables.Rule{Table: nt, Chain: kc, Exprs: exprs}
			if r.Comment != "" {
				// nft keeps a comment in the rule's user data, as a
				// NUL-terminated string of type 0.
				kr.UserData = userdata.AppendString(nil, userdata.TypeComment, r.Comment)
			}
			c.AddRule(kr)
		}
	}
	return nil
}

// kernelChain turns a model chain into the library's.
func kernelChain(nt *nftables.Table, ch *Chain) (*nftables.Chain, error) {
	var hook *nftables.ChainHook
	switch ch.Hook {
	case emit.HookInput:
		hook = nftables.ChainHookInput
	case emit.HookForward:
		hook = nftables.ChainHookForward
	default:
		return nil, fmt.Errorf("chain %s: unknown hook %q", ch.Name, ch.Hook)
	}
	var pol nftables.ChainPolicy
	switch ch.Policy {
	case "accept":
		pol = nftables.ChainPolicyAccept
	case "drop":
		pol = nftables.ChainPolicyDrop
	default:
		return nil, fmt.Errorf("chain %s: unknown policy %q", ch.Name, ch.Policy)
	}
	if ch.Type != "filter" {
		return nil, fmt.Errorf("chain %s: unknown type %q", ch.Name, ch.Type)
	}
	return &nftables.Chain{
		Name: ch.Name, Table: nt, Type: nftables.ChainTypeFilter,
		Hooknum: hook, Priority: nftables.ChainPriorityRef(nftables.ChainPriority(ch.Priority)), Policy: &pol,
	}, nil
}

// kernelElements encodes a set's ranges the way nft does: a start element
// per range and, unless the range runs to the top of the key space, an
// end element holding the first key past it (intervals are half-open in
// the kernel); plus, when the first range does not start at zero, a
// leading end element at zero.
func kernelElements(s *Set) (nftables.SetDatatype, []nftables.SetElement, error) {
	var kt nftables.SetDatatype
	var keys [][2][]byte // [first, past] per range; past nil at the top
	switch s.Type {
	case KeyIPv4, KeyIPv6:
		kt = nftables.TypeIPAddr
		if s.Type == KeyIPv6 {
			kt = nftables.TypeIP6Addr
		}
		for _, r := range s.Addrs {
			if !r.IsValid() || r.From().Is4() != (s.Type == KeyIPv4) || r.From().Is4In6() {
				return kt, nil, fmt.Errorf("set %s: %s is not a range of type %s", s.Name, rangeString(r), s.Type)
			}
			k := [2][]byte{r.From().AsSlice(), nil}
			if next := r.To().Next(); next.IsValid() {
				k[1] = next.AsSlice()
			}
			keys = append(keys, k)
		}
	case KeyPort:
		kt = nftables.TypeInetService
		for _, r := range s.Ports {
			if r.Last < r.First {
				return kt, nil, fmt.Errorf("set %s: invalid port range %d-%d", s.Name, r.First, r.Last)
			}
			k := [2][]byte{binaryutil.BigEndian.PutUint16(r.First), nil}
			if r.Last < 65535 {
				k[1] = binaryutil.BigEndian.PutUint16(r.Last + 1)
			}
			keys = append(keys, k)
		}
	default:
		return kt, nil, fmt.Errorf("set %s: unknown type %q", s.Name, s.Type)
	}
	els := make([]nftables.SetElement, 0, 2*len(keys)+1)
	if len(keys) > 0 && !isZero(keys[0][0]) {
		els = append(els, nftables.SetElement{Key: make([]byte, kt.Bytes), IntervalEnd: true})
	}
	for _, k := range keys {
		els = append(els, nftables.SetElement{Key: k[0]})
		if k[1] != nil {
			els = append(els, nftables.SetElement{Key: k[1], IntervalEnd: true})
		}
	}
	return kt, els, nil
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// kernelExprs turns a model rule into the expressions nft would generate
// for it (nft --debug=netlink shows them).
func kernelExprs(r Rule, sets map[string]*nftables.Set) ([]expr.Any, error) {
	var out []expr.Any
	lookup := func(name string) (expr.Any, error) {
		s, ok := sets[name]
		if !ok {
			// Left to the kernel to refuse (ENOENT), inside the
			// transaction, like any other error.
			return &expr.Lookup{SourceRegister: 1, SetName: name}, nil
		}
		return &expr.Lookup{SourceRegister: 1, SetName: s.Name, SetID: s.ID}, nil
	}
	for _, e := range r.Exprs {
		switch e := e.(type) {
		case Family:
			p := byte(nfprotoIPv4)
			if e.V == 6 {
				p = nfprotoIPv6
			}
			out = append(out,
				&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{p}})
		case L4Proto:
			p, err := protoNumber(e.Proto)
			if err != nil {
				return nil, err
			}
			out = append(out,
				&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{p}})
		case CtState:
			out = append(out,
				&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
				&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
					Mask: binaryutil.NativeEndian.PutUint32(e.Mask), Xor: make([]byte, 4)},
				&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: make([]byte, 4)})
		case AddrSet:
			off, n := addrOffset(e.V, e.Dst)
			l, err := lookup(e.Set)
			if err != nil {
				return nil, err
			}
			out = append(out, &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: n}, l)
		case PortSet:
			l, err := lookup(e.Set)
			if err != nil {
				return nil, err
			}
			out = append(out, &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2}, l)
		case Port:
			out = append(out,
				&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(e.Port)})
		case Verdict:
			var k expr.VerdictKind
			switch e.Kind {
			case "accept":
				k = expr.VerdictAccept
			case "drop":
				k = expr.VerdictDrop
			case "return":
				k = expr.VerdictReturn
			default:
				return nil, fmt.Errorf("unknown verdict %q", e.Kind)
			}
			out = append(out, &expr.Verdict{Kind: k})
		default:
			return nil, fmt.Errorf("cannot program %s", e)
		}
	}
	return out, nil
}

func protoNumber(p string) (byte, error) {
	switch p {
	case "tcp":
		return ipprotoTCP, nil
	case "udp":
		return ipprotoUDP, nil
	}
	return 0, fmt.Errorf("unknown protocol %q", p)
}

// addrOffset returns where the source or destination address lies in the
// IPv4 or IPv6 header, and its length.
func addrOffset(v int, dst bool) (off, n uint32) {
	if v == 6 {
		if dst {
			return 24, 16
		}
		return 8, 16
	}
	if dst {
		return 16, 4
	}
	return 12, 4
}

// setFromKernel turns a kernel set and its elements into the model. The
// kernel returns elements in no useful order: sorted by key, with an end
// element before a start element of the same key (adjacent ranges), each
// start pairs with the next end; a start without one runs to the top.
func setFromKernel(s *nftables.Set, els []nftables.SetElement) Set {
	out := Set{Name: s.Name, Type: KeyType(s.KeyType.Name), plain: !s.Interval}
	width := 0
	switch out.Type {
	case KeyIPv4:
		width = 4
	case KeyIPv6:
		width = 16
	case KeyPort:
		width = 2
	default:
		return out
	}
	slices.SortStableFunc(els, func(a, b nftables.SetElement) int {
		if c := bytes.Compare(a.Key, b.Key); c != 0 {
			return c
		}
		switch {
		case a.IntervalEnd && !b.IntervalEnd:
			return -1
		case !a.IntervalEnd && b.IntervalEnd:
			return 1
		}
		return 0
	})
	top := bytes.Repeat([]byte{0xff}, width)
	var start []byte
	emit := func(first, last []byte) {
		if len(first) < width || len(last) < width {
			return
		}
		first, last = first[:width], last[:width]
		if width == 2 {
			out.Ports = append(out.Ports, audit.PortRange{First: binary.BigEndian.Uint16(first), Last: binary.BigEndian.Uint16(last)})
			return
		}
		a, _ := netip.AddrFromSlice(first)
		b, _ := netip.AddrFromSlice(last)
		out.Addrs = append(out.Addrs, netipx.IPRangeFrom(a, b))
	}
	for _, e := range els {
		switch {
		case len(e.KeyEnd) > 0:
			// A range sent as one element (the pipapo form).
			emit(e.Key, e.KeyEnd)
		case !s.Interval:
			emit(e.Key, e.Key)
		case e.IntervalEnd:
			if start != nil {
				emit(start, prevKey(e.Key))
				start = nil
			}
		default:
			if start != nil {
				emit(start, prevKey(e.Key))
			}
			start = e.Key
		}
	}
	if start != nil {
		emit(start, top)
	}
	return out
}

// prevKey returns the big-endian number one below k (k is never zero for
// an end element that follows a start).
func prevKey(k []byte) []byte {
	p := slices.Clone(k)
	for i := len(p) - 1; i >= 0; i-- {
		p[i]--
		if p[i] != 0xff {
			break
		}
	}
	return p
}

// chainFromKernel turns a kernel chain and its rules into the model.
func chainFromKernel(ch *nftables.Chain, rules []*nftables.Rule) Chain {
	out := Chain{Name: ch.Name, Type: string(ch.Type)}
	if ch.Hooknum != nil {
		switch *ch.Hooknum {
		case *nftables.ChainHookInput:
			out.Hook = emit.HookInput
		case *nftables.ChainHookForward:
			out.Hook = emit.HookForward
		default:
			out.Hook = emit.Hook(fmt.Sprintf("hook%d", *ch.Hooknum))
		}
	}
	if ch.Priority != nil {
		out.Priority = int(*ch.Priority)
	}
	if ch.Policy != nil {
		switch *ch.Policy {
		case nftables.ChainPolicyAccept:
			out.Policy = "accept"
		case nftables.ChainPolicyDrop:
			out.Policy = "drop"
		}
	}
	for _, r := range rules {
		m := Rule{Exprs: exprsFromKernel(r.Exprs)}
		if len(r.UserData) > 0 {
			if c, ok := commentOnly(r.UserData); ok {
				m.Comment = c
			} else {
				// User data rpcspan does not write.
				m.Exprs = append(m.Exprs, Unknown{"user data"})
			}
		}
		out.Rules = append(out.Rules, m)
	}
	return out
}

// commentOnly returns the comment when ud holds exactly one comment, the
// way nft writes it (type 0, length, the text and a NUL). It parses by
// hand: the library's parser trusts the length byte.
func commentOnly(ud []byte) (string, bool) {
	if len(ud) < 3 || ud[0] != byte(userdata.TypeComment) || int(ud[1]) != len(ud)-2 || ud[len(ud)-1] != 0 {
		return "", false
	}
	return string(ud[2 : len(ud)-1]), true
}

// exprsFromKernel recognises the expression sequences kernelExprs (and
// nft, for the same rules) generates; anything else becomes Unknown.
func exprsFromKernel(es []expr.Any) []Expr {
	var out []Expr
	l4 := ""
	cmpAt := func(i int, op expr.CmpOp, reg uint32) *expr.Cmp {
		if i < len(es) {
			if c, ok := es[i].(*expr.Cmp); ok && c.Op == op && c.Register == reg {
				return c
			}
		}
		return nil
	}
	for i := 0; i < len(es); {
		switch e := es[i].(type) {
		case *expr.Meta:
			if c := cmpAt(i+1, expr.CmpOpEq, e.Register); c != nil && !e.SourceRegister && len(c.Data) == 1 {
				switch {
				case e.Key == expr.MetaKeyNFPROTO && c.Data[0] == nfprotoIPv4:
					out, i = append(out, Family{4}), i+2
					continue
				case e.Key == expr.MetaKeyNFPROTO && c.Data[0] == nfprotoIPv6:
					out, i = append(out, Family{6}), i+2
					continue
				case e.Key == expr.MetaKeyL4PROTO && c.Data[0] == ipprotoTCP:
					l4 = "tcp"
					out, i = append(out, L4Proto{l4}), i+2
					continue
				case e.Key == expr.MetaKeyL4PROTO && c.Data[0] == ipprotoUDP:
					l4 = "udp"
					out, i = append(out, L4Proto{l4}), i+2
					continue
				}
			}
		case *expr.Ct:
			if i+2 < len(es) && e.Key == expr.CtKeySTATE && !e.SourceRegister {
				b, ok := es[i+1].(*expr.Bitwise)
				c := cmpAt(i+2, expr.CmpOpNeq, e.Register)
				if ok && c != nil && b.SourceRegister == e.Register && b.DestRegister == e.Register &&
					b.Len == 4 && len(b.Mask) == 4 && isZero(b.Xor) && isZero(c.Data) {
					out, i = append(out, CtState{binaryutil.NativeEndian.Uint32(b.Mask)}), i+3
					continue
				}
			}
		case *expr.Payload:
			if i+1 < len(es) && e.OperationType == expr.PayloadLoad {
				l, isLookup := es[i+1].(*expr.Lookup)
				if isLookup && (l.Invert || l.SourceRegister != e.DestRegister || l.IsDestRegSet) {
					isLookup = false
				}
				switch {
				case e.Base == expr.PayloadBaseNetworkHeader && isLookup:
					if a, ok := addrMatch(e.Offset, e.Len); ok {
						a.Set = l.SetName
						out, i = append(out, a), i+2
						continue
					}
				case e.Base == expr.PayloadBaseTransportHeader && e.Offset == 2 && e.Len == 2 && l4 != "":
					if isLookup {
						out, i = append(out, PortSet{Proto: l4, Set: l.SetName}), i+2
						continue
					}
					if c := cmpAt(i+1, expr.CmpOpEq, e.DestRegister); c != nil && len(c.Data) == 2 {
						out, i = append(out, Port{Proto: l4, Port: binary.BigEndian.Uint16(c.Data)}), i+2
						continue
					}
				}
			}
		case *expr.Verdict:
			k := ""
			switch e.Kind {
			case expr.VerdictAccept:
				k = "accept"
			case expr.VerdictDrop:
				k = "drop"
			case expr.VerdictReturn:
				k = "return"
			}
			if k != "" && e.Chain == "" {
				out, i = append(out, Verdict{k}), i+1
				continue
			}
		}
		out, i = append(out, Unknown{fmt.Sprintf("%T", es[i])}), i+1
	}
	return out
}

// addrMatch recognises the address fields of the IPv4 and IPv6 headers.
func addrMatch(off, n uint32) (AddrSet, bool) {
	for _, v := range []int{4, 6} {
		for _, dst := range []bool{false, true} {
			if o, l := addrOffset(v, dst); o == off && l == n {
				return AddrSet{V: v, Dst: dst}, true
			}
		}
	}
	return AddrSet{}, false
}
