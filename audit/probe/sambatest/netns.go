//go:build linux

package sambatest

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/rpcspan/rpcspan/audit/netnstest"
)

// Tools are the programs the harness needs on PATH besides ip.
var Tools = []string{"samba", "samba-tool", "rpcclient"}

// Available says why the harness cannot run here, or "" when it can.
func Available() string {
	return netnstest.Available(Tools...)
}

// Lab addresses. They exist only inside the lab's namespaces.
var (
	DCAddr     = netip.MustParseAddr("10.250.0.1") // Samba, on veth0
	ClientAddr = netip.MustParseAddr("10.250.0.2")
	// fakeClientEnd is the client's end of the second veth pair, which
	// carries the fake endpoint mappers (FakeAddr) Samba does not bind to.
	fakeClientEnd = netip.MustParseAddr("10.250.1.254")
	// Silent are routed from the client namespace to the sink, an address
	// of the DC namespace, which does not forward and so drops every
	// packet without a word: connections to them time out.
	sinkAddr      = netip.MustParseAddr("10.250.2.1")
	sinkClientEnd = netip.MustParseAddr("10.250.2.2")
	Silent        = []netip.Prefix{
		netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("198.51.100.0/24"),
		netip.MustParsePrefix("203.0.113.0/24"), netip.MustParsePrefix("198.18.0.0/15"),
	}
)

// FakeAddr returns the i-th fake endpoint mapper address, 10.250.1.i
// (1 <= i <= 200).
func FakeAddr(i int) netip.Addr {
	if i < 1 || i > 200 {
		panic(fmt.Sprintf("sambatest: fake address %d outside 1-200", i))
	}
	return netip.AddrFrom4([4]byte{10, 250, 1, byte(i)})
}

// Lab is the DC and client namespaces and their links.
type Lab struct {
	DC, Client *netnstest.Namespace
	fakes      int // FakeAddr(1..fakes) are configured
}

// NewLab builds a lab whose namespaces are named after prefix, the pid
// and a random suffix, so that parallel test binaries never collide.
// fakes is how many fake endpoint-mapper addresses to configure. The lab
// outlives any one test (provisioning the DC takes seconds), so the
// caller removes it with Close. An error wraps netnstest.ErrNoNamespaces
// when the kernel refuses to make namespaces.
func NewLab(prefix string, fakes int) (*Lab, error) {
	base := netnstest.Prefix(prefix)
	l := &Lab{fakes: fakes}
	var err error
	if l.DC, err = netnstest.Create(base + "dc"); err != nil {
		return nil, err
	}
	if l.Client, err = netnstest.Create(base + "cl"); err != nil {
		l.DC.Close()
		return nil, err
	}
	if err := l.wire(); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

func (l *Lab) wire() error {
	pairs := []struct{ dc, cl string }{{"veth0", "veth1"}, {"veth2", "veth3"}, {"veth5", "veth4"}}
	for _, p := range pairs {
		if err := netnstest.Veth(l.DC, p.dc, l.Client, p.cl); err != nil {
			return err
		}
	}
	type cmd struct {
		ns   *netnstest.Namespace
		args []string
	}
	cmds := []cmd{
		{l.DC, []string{"addr", "add", DCAddr.String() + "/30", "dev", "veth0"}},
		{l.Client, []string{"addr", "add", ClientAddr.String() + "/30", "dev", "veth1"}},
		{l.Client, []string{"addr", "add", fakeClientEnd.String() + "/24", "dev", "veth3"}},
		{l.DC, []string{"addr", "add", sinkAddr.String() + "/30", "dev", "veth5"}},
		{l.Client, []string{"addr", "add", sinkClientEnd.String() + "/30", "dev", "veth4"}},
	}
	for i := 1; i <= l.fakes; i++ {
		cmds = append(cmds, cmd{l.DC, []string{"addr", "add", FakeAddr(i).String() + "/24", "dev", "veth2"}})
	}
	for _, p := range Silent {
		cmds = append(cmds, cmd{l.Client, []string{"route", "add", p.String(), "via", sinkAddr.String(), "dev", "veth4"}})
	}
	for _, c := range cmds {
		if _, err := c.ns.IP(c.args...); err != nil {
			return err
		}
	}
	// The sink drops what it is sent for the Silent blocks only because
	// it does not forward; say so rather than trust the default.
	return l.DC.Sysctl("net/ipv4/ip_forward", "0")
}

// Close deletes both namespaces (and with them every link and address).
func (l *Lab) Close() error {
	var errs []error
	for _, n := range []*netnstest.Namespace{l.DC, l.Client} {
		if n != nil {
			errs = append(errs, n.Close())
		}
	}
	return errors.Join(errs...)
}
