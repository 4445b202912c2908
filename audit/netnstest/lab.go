//go:build linux

package netnstest

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Namespace roles of a Lab.
const (
	Client = "client"
	FW     = "fw"
	Server = "server"
)

// Lab is three namespaces in a line, made by New for one test and removed
// by t.Cleanup:
//
//	client (192.0.2.10 "in", 192.0.2.20 "out"; fd00:0:1::10, fd00:0:1::20)
//	   | veth 192.0.2.0/24, fd00:0:1::/64
//	fw (192.0.2.1, fd00:0:1::1 | 198.51.100.1, fd00:0:2::1), forwarding on
//	   | veth 198.51.100.0/24, fd00:0:2::/64
//	server (198.51.100.10, fd00:0:2::10)
//
// The addresses are TEST-NET and ULA addresses; they exist only inside the
// lab, so parallel labs do not collide.
type Lab struct {
	t  testing.TB
	ns map[string]*Namespace // role -> namespace

	// ClientIn4 and ClientIn6 are the client addresses meant to be inside
	// an estate's source set; ClientOut4 and ClientOut6 the ones outside.
	ClientIn4, ClientOut4, ClientIn6, ClientOut6 netip.Addr
	// Server4 and Server6 are the server's addresses.
	Server4, Server6 netip.Addr
	// FW4 and FW6 are the firewall's addresses on the client side (the
	// client's gateway); FWServer4 and FWServer6 those on the server side.
	FW4, FW6, FWServer4, FWServer6 netip.Addr

	mu        sync.Mutex
	listeners []net.Listener
}

// Lab addresses; fixed, since each lab has its own namespaces.
var (
	clientIn4  = netip.MustParseAddr("192.0.2.10")
	clientOut4 = netip.MustParseAddr("192.0.2.20")
	fw4        = netip.MustParseAddr("192.0.2.1")
	fwServer4  = netip.MustParseAddr("198.51.100.1")
	server4    = netip.MustParseAddr("198.51.100.10")
	clientIn6  = netip.MustParseAddr("fd00:0:1::10")
	clientOut6 = netip.MustParseAddr("fd00:0:1::20")
	fw6        = netip.MustParseAddr("fd00:0:1::1")
	fwServer6  = netip.MustParseAddr("fd00:0:2::1")
	server6    = netip.MustParseAddr("fd00:0:2::10")
)

// readyWait bounds how long New waits for the lab's paths to work.
const readyWait = 10 * time.Second

// New creates the client, fw and server namespaces, links them with veth
// pairs, addresses them (IPv4 and IPv6, without duplicate address
// detection so that IPv6 works at once), routes the client and the server
// through fw, turns forwarding on in fw and waits until the client reaches
// the server. It calls Require first. The namespaces are named
// "rpcspan-PID-RANDOM-ROLE" and deleted at cleanup, also when New fails
// half way.
func New(t testing.TB) *Lab {
	t.Helper()
	Require(t)
	l := &Lab{
		t: t, ns: map[string]*Namespace{},
		ClientIn4: clientIn4, ClientOut4: clientOut4, ClientIn6: clientIn6, ClientOut6: clientOut6,
		Server4: server4, Server6: server6, FW4: fw4, FW6: fw6, FWServer4: fwServer4, FWServer6: fwServer6,
	}
	prefix := Prefix("rpcspan")
	for _, role := range []string{Client, FW, Server} {
		n := NewNamespace(t, prefix+role)
		l.ns[role] = n
		// Duplicate address detection would hold even the link-local
		// addresses tentative for a second or more after the links come
		// up; nothing else is on these links, so it is turned off before
		// they exist (new interfaces copy "default").
		for _, key := range []string{"net/ipv6/conf/all/accept_dad", "net/ipv6/conf/default/accept_dad"} {
			if err := n.Sysctl(key, "0"); err != nil {
				t.Fatalf("netnstest: %v", err)
			}
		}
	}
	// Registered after the namespaces' own cleanups, so it runs first.
	t.Cleanup(l.close)
	c, f, s := l.ns[Client], l.ns[FW], l.ns[Server]
	if err := Veth(c, "eth0", f, "client0"); err != nil {
		t.Fatalf("netnstest: %v", err)
	}
	if err := Veth(s, "eth0", f, "server0"); err != nil {
		t.Fatalf("netnstest: %v", err)
	}
	steps := []struct {
		ns   *Namespace
		args []string
	}{
		{c, []string{"addr", "add", clientIn4.String() + "/24", "dev", "eth0"}},
		{c, []string{"addr", "add", clientOut4.String() + "/24", "dev", "eth0"}},
		{c, []string{"-6", "addr", "add", clientIn6.String() + "/64", "dev", "eth0", "nodad"}},
		{c, []string{"-6", "addr", "add", clientOut6.String() + "/64", "dev", "eth0", "nodad"}},
		{f, []string{"addr", "add", fw4.String() + "/24", "dev", "client0"}},
		{f, []string{"-6", "addr", "add", fw6.String() + "/64", "dev", "client0", "nodad"}},
		{f, []string{"addr", "add", fwServer4.String() + "/24", "dev", "server0"}},
		{f, []string{"-6", "addr", "add", fwServer6.String() + "/64", "dev", "server0", "nodad"}},
		{s, []string{"addr", "add", server4.String() + "/24", "dev", "eth0"}},
		{s, []string{"-6", "addr", "add", server6.String() + "/64", "dev", "eth0", "nodad"}},
		{c, []string{"route", "add", "default", "via", fw4.String()}},
		{c, []string{"-6", "route", "add", "default", "via", fw6.String()}},
		{s, []string{"route", "add", "default", "via", fwServer4.String()}},
		{s, []string{"-6", "route", "add", "default", "via", fwServer6.String()}},
	}
	for _, st := range steps {
		if _, err := st.ns.IP(st.args...); err != nil {
			t.Fatalf("netnstest: %v", err)
		}
	}
	for _, key := range []string{"net/ipv4/ip_forward", "net/ipv6/conf/all/forwarding"} {
		if err := f.Sysctl(key, "1"); err != nil {
			t.Fatalf("netnstest: %v", err)
		}
	}
	l.waitReady()
	return l
}

// waitReady waits (at most readyWait) until the client reaches the server
// over both families: a refused connection to a port nobody listens on
// proves the path, neighbour discovery included, works both ways. IPv6
// takes about a second after the links come up (the kernel handles link
// state changes with a delay), so short tries are repeated.
func (l *Lab) waitReady() {
	l.t.Helper()
	deadline := time.Now().Add(readyWait)
	for _, p := range [][2]netip.Addr{{l.ClientIn4, l.Server4}, {l.ClientIn6, l.Server6}} {
		for {
			err := l.DialErr(p[0], p[1], 9, 100*time.Millisecond)
			if errors.Is(err, syscall.ECONNREFUSED) {
				break
			}
			if time.Now().After(deadline) {
				l.t.Fatalf("netnstest: %v cannot reach %v through fw within %v: %v", p[0], p[1], readyWait, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// Namespace returns the namespace with the given role ("client", "fw" or
// "server").
func (l *Lab) Namespace(role string) *Namespace {
	n, ok := l.ns[role]
	if !ok {
		l.t.Fatalf("netnstest: unknown namespace role %q (want client, fw or server)", role)
	}
	return n
}

// NS returns the real name of the namespace with the given role, for ip
// netns exec and for opening /run/netns/NAME.
func (l *Lab) NS(role string) string {
	return l.Namespace(role).Name
}

// Exec runs a command inside a namespace ("client", "fw" or "server") with
// ip netns exec and returns its combined output. It gives up after two
// minutes.
func (l *Lab) Exec(ns string, name string, args ...string) ([]byte, error) {
	return l.Namespace(ns).Exec(name, args...)
}

// ExecInput is Exec with stdin as the command's standard input.
func (l *Lab) ExecInput(ns string, stdin []byte, name string, args ...string) ([]byte, error) {
	return l.Namespace(ns).ExecInput(stdin, name, args...)
}

// Listen starts TCP listeners in ns on the given ports, on every IPv4 and
// IPv6 address of the namespace; they accept and close connections until
// cleanup.
func (l *Lab) Listen(ns string, ports ...uint16) {
	l.t.Helper()
	n := l.Namespace(ns)
	for _, port := range ports {
		// "tcp" on an empty host is one dual-stack socket, so IPv4 and
		// IPv6 clients reach the same listener.
		ln, err := n.Listen("tcp", net.JoinHostPort("", strconv.Itoa(int(port))))
		if err != nil {
			l.t.Fatalf("netnstest: listening on %d in %s: %v", port, n.Name, err)
		}
		l.mu.Lock()
		l.listeners = append(l.listeners, ln)
		l.mu.Unlock()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
	}
}

// Dial reports whether a TCP connection from src (a client address) to
// dst:port succeeds within timeout, made inside the client namespace. It
// is safe to call from several goroutines at once.
func (l *Lab) Dial(src, dst netip.Addr, port uint16, timeout time.Duration) bool {
	return l.DialErr(src, dst, port, timeout) == nil
}

// DialErr is Dial with the reason a connection failed (a timeout when a
// rule drops the SYN, "connection refused" when nothing listens).
func (l *Lab) DialErr(src, dst netip.Addr, port uint16, timeout time.Duration) error {
	return l.DialFrom(Client, src, dst, port, timeout)
}

// DialFrom is DialErr from any namespace of the lab.
func (l *Lab) DialFrom(ns string, src, dst netip.Addr, port uint16, timeout time.Duration) error {
	return l.DialPort(ns, netip.AddrPortFrom(src, 0), netip.AddrPortFrom(dst, port), timeout)
}

// DialPort is DialFrom with a chosen source port (0 lets the kernel
// choose), to test what happens to replies that come back to a given
// local port.
func (l *Lab) DialPort(ns string, src, dst netip.AddrPort, timeout time.Duration) error {
	n, ok := l.ns[ns]
	if !ok {
		return errors.New("unknown namespace role " + strconv.Quote(ns))
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c, err := n.DialFrom(ctx, net.TCPAddrFromAddrPort(src), "tcp", dst.String())
	if c != nil {
		c.Close()
	}
	return err
}

// close stops the listeners; the namespaces' own cleanups delete them.
func (l *Lab) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, ln := range l.listeners {
		ln.Close()
	}
	l.listeners = nil
}
