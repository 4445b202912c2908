//go:build linux

// Package netnstest builds throwaway network namespaces for tests that load
// firewall rules into a real kernel and then send real TCP traffic through
// them. Nothing here touches the namespace the test runs in: every link,
// address, route, sysctl and rule lives in namespaces the test creates and
// removes again.
//
// A Lab is three namespaces in a line:
//
//	client (192.0.2.10 "in", 192.0.2.20 "out"; fd00:0:1::10, fd00:0:1::20)
//	   | veth 192.0.2.0/24, fd00:0:1::/64
//	fw (192.0.2.1, fd00:0:1::1 | 198.51.100.1, fd00:0:2::1), forwarding on
//	   | veth 198.51.100.0/24, fd00:0:2::/64
//	server (198.51.100.10, fd00:0:2::10)
//
// The addresses are TEST-NET and ULA addresses; they exist only inside the
// lab, so parallel labs do not collide.
//
// Listeners and dials run in the test process itself: a goroutine locks its
// OS thread, setns(2)es the thread into the namespace, and opens the socket
// there. A socket stays in the namespace it was created in, so the rest of
// the program may use it from any thread. The goroutine never unlocks its
// thread, so the Go runtime throws the thread away instead of reusing it in
// the wrong namespace.
package netnstest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// RequireEnv is the environment variable that turns skips into failures:
// CI sets it so that a missing tool or privilege cannot pass unnoticed.
const RequireEnv = "RPCSPAN_REQUIRE_INTEGRATION"

// execTimeout bounds every command a lab runs; a hung tool fails the test
// instead of hanging it.
const execTimeout = 60 * time.Second

// Require skips the test (or fails it when RequireEnv is set) unless the
// process is root, setns(2) is known on this architecture, and ip plus the
// named tools are on PATH.
func Require(t testing.TB, tools ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		unavailable(t, "needs root to create network namespaces (running as uid %d)", os.Geteuid())
	}
	if sysSetns() == 0 {
		unavailable(t, "setns(2) syscall number unknown on %s", runtime.GOARCH)
	}
	for _, tool := range append([]string{"ip"}, tools...) {
		if _, err := exec.LookPath(tool); err != nil {
			unavailable(t, "needs %s on PATH (apt-get install iproute2 iptables nftables): %v", tool, err)
		}
	}
}

// unavailable skips, or fails when RequireEnv is set.
func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv(RequireEnv) != "" {
		t.Fatalf("%s (and %s is set)", msg, RequireEnv)
	}
	t.Skip(msg)
}

// Namespace roles of a Lab.
const (
	Client = "client"
	FW     = "fw"
	Server = "server"
)

// Lab is a set of network namespaces made by one test, removed by
// t.Cleanup.
type Lab struct {
	t     testing.TB
	names map[string]string   // role -> real namespace name
	fds   map[string]*os.File // role -> open /run/netns/NAME, for setns

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

// New creates the client, fw and server namespaces, links them with veth
// pairs, addresses them (IPv4 and IPv6, without duplicate address
// detection so that IPv6 works at once), routes the client and the server
// through fw and turns forwarding on in fw. It calls Require first. The
// namespaces are named "rpcspan-PID-RANDOM-ROLE" and deleted at cleanup,
// also when New fails half way.
func New(t testing.TB) *Lab {
	t.Helper()
	Require(t)
	var rnd [3]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		t.Fatalf("netnstest: random suffix: %v", err)
	}
	prefix := "rpcspan-" + strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(rnd[:]) + "-"
	l := &Lab{
		t: t, names: map[string]string{}, fds: map[string]*os.File{},
		ClientIn4: clientIn4, ClientOut4: clientOut4, ClientIn6: clientIn6, ClientOut6: clientOut6,
		Server4: server4, Server6: server6, FW4: fw4, FW6: fw6, FWServer4: fwServer4, FWServer6: fwServer6,
	}
	t.Cleanup(l.close)
	for _, role := range []string{Client, FW, Server} {
		name := prefix + role
		if out, err := run(nil, "ip", "netns", "add", name); err != nil {
			// Root without CAP_SYS_ADMIN (some containers) cannot make
			// namespaces: that is an environment limit, not a failure.
			unavailable(t, "cannot create network namespace %s: %v: %s", name, err, bytes.TrimSpace(out))
		}
		l.names[role] = name
		f, err := os.Open("/run/netns/" + name)
		if err != nil {
			t.Fatalf("netnstest: %v", err)
		}
		l.fds[role] = f
	}
	// Duplicate address detection would hold even the link-local
	// addresses tentative for a second or more after the links come up;
	// nothing else is on these links, so it is turned off before they
	// exist (new interfaces copy "default").
	for _, role := range []string{Client, FW, Server} {
		for _, p := range []string{"/proc/sys/net/ipv6/conf/all/accept_dad", "/proc/sys/net/ipv6/conf/default/accept_dad"} {
			if err := l.in(role, func() error { return os.WriteFile(p, []byte("0\n"), 0o644) }); err != nil {
				t.Fatalf("netnstest: turning DAD off in %s: %v", l.names[role], err)
			}
		}
	}
	c, f, s := l.names[Client], l.names[FW], l.names[Server]
	steps := [][]string{
		{"-n", c, "link", "set", "lo", "up"},
		{"-n", f, "link", "set", "lo", "up"},
		{"-n", s, "link", "set", "lo", "up"},
		// Interface names are per namespace, so fixed short names are
		// safe; creating the pair inside the client namespace and sending
		// the peer straight to fw keeps the host namespace untouched.
		{"-n", c, "link", "add", "eth0", "type", "veth", "peer", "name", "client0", "netns", f},
		{"-n", s, "link", "add", "eth0", "type", "veth", "peer", "name", "server0", "netns", f},
		{"-n", c, "addr", "add", clientIn4.String() + "/24", "dev", "eth0"},
		{"-n", c, "addr", "add", clientOut4.String() + "/24", "dev", "eth0"},
		{"-n", c, "-6", "addr", "add", clientIn6.String() + "/64", "dev", "eth0", "nodad"},
		{"-n", c, "-6", "addr", "add", clientOut6.String() + "/64", "dev", "eth0", "nodad"},
		{"-n", f, "addr", "add", fw4.String() + "/24", "dev", "client0"},
		{"-n", f, "-6", "addr", "add", fw6.String() + "/64", "dev", "client0", "nodad"},
		{"-n", f, "addr", "add", fwServer4.String() + "/24", "dev", "server0"},
		{"-n", f, "-6", "addr", "add", fwServer6.String() + "/64", "dev", "server0", "nodad"},
		{"-n", s, "addr", "add", server4.String() + "/24", "dev", "eth0"},
		{"-n", s, "-6", "addr", "add", server6.String() + "/64", "dev", "eth0", "nodad"},
		{"-n", c, "link", "set", "eth0", "up"},
		{"-n", f, "link", "set", "client0", "up"},
		{"-n", f, "link", "set", "server0", "up"},
		{"-n", s, "link", "set", "eth0", "up"},
		{"-n", c, "route", "add", "default", "via", fw4.String()},
		{"-n", c, "-6", "route", "add", "default", "via", fw6.String()},
		{"-n", s, "route", "add", "default", "via", fwServer4.String()},
		{"-n", s, "-6", "route", "add", "default", "via", fwServer6.String()},
	}
	for _, st := range steps {
		if out, err := run(nil, "ip", st...); err != nil {
			t.Fatalf("netnstest: ip %v: %v: %s", st, err, bytes.TrimSpace(out))
		}
	}
	// Forwarding is per namespace; /proc/sys/net of a thread follows its
	// network namespace, so the write is done from inside fw.
	for _, p := range []string{"/proc/sys/net/ipv4/ip_forward", "/proc/sys/net/ipv6/conf/all/forwarding"} {
		if err := l.in(FW, func() error { return os.WriteFile(p, []byte("1\n"), 0o644) }); err != nil {
			t.Fatalf("netnstest: enabling forwarding in %s: %v", f, err)
		}
	}
	l.waitReady()
	return l
}

// waitReady waits (at most ten seconds) until the client reaches the server
// over both families: a refused connection to a port nobody listens on
// proves the path, neighbour discovery included, works both ways. IPv6
// takes about a second after the links come up (the kernel handles link
// state changes with a delay), so short tries are repeated.
func (l *Lab) waitReady() {
	l.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for _, p := range [][2]netip.Addr{{l.ClientIn4, l.Server4}, {l.ClientIn6, l.Server6}} {
		for {
			err := l.DialErr(p[0], p[1], 9, 100*time.Millisecond)
			if errors.Is(err, syscall.ECONNREFUSED) {
				break
			}
			if time.Now().After(deadline) {
				l.t.Fatalf("netnstest: %v cannot reach %v through fw: %v", p[0], p[1], err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// NS returns the real name of the namespace with the given role ("client",
// "fw" or "server"), for ip netns exec and for opening /run/netns/NAME.
func (l *Lab) NS(role string) string {
	n, ok := l.names[role]
	if !ok {
		l.t.Fatalf("netnstest: unknown namespace role %q (want client, fw or server)", role)
	}
	return n
}

// Exec runs a command inside a namespace ("client", "fw" or "server") with
// ip netns exec and returns its combined output. It gives up after a
// minute.
func (l *Lab) Exec(ns string, name string, args ...string) ([]byte, error) {
	return l.ExecInput(ns, nil, name, args...)
}

// ExecInput is Exec with stdin as the command's standard input.
func (l *Lab) ExecInput(ns string, stdin []byte, name string, args ...string) ([]byte, error) {
	return run(stdin, "ip", append([]string{"netns", "exec", l.NS(ns), name}, args...)...)
}

// run runs a command with a bounded time and returns its combined output.
func run(stdin []byte, name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), execTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return out, fmt.Errorf("%s timed out after %v", name, execTimeout)
	}
	return out, err
}

// Listen starts TCP listeners in ns on the given ports, on every IPv4 and
// IPv6 address of the namespace; they accept and close connections until
// cleanup.
func (l *Lab) Listen(ns string, ports ...uint16) {
	l.t.Helper()
	for _, port := range ports {
		var ln net.Listener
		err := l.in(ns, func() error {
			var err error
			// "tcp" on an empty host is one dual-stack socket, so IPv4
			// and IPv6 clients reach the same listener.
			ln, err = net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(int(port))))
			return err
		})
		if err != nil {
			l.t.Fatalf("netnstest: listening on %d in %s: %v", port, l.NS(ns), err)
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
	var c net.Conn
	err := l.in(ns, func() error {
		d := net.Dialer{Timeout: timeout, LocalAddr: net.TCPAddrFromAddrPort(src)}
		var err error
		c, err = d.Dial("tcp", dst.String())
		return err
	})
	if c != nil {
		c.Close()
	}
	return err
}

// in runs fn on an OS thread that has entered namespace ns. The thread is
// never unlocked, so it ends with the goroutine and no other goroutine
// ever runs in the lab's namespace by accident.
func (l *Lab) in(ns string, fn func() error) error {
	f, ok := l.fds[ns]
	if !ok {
		return fmt.Errorf("unknown namespace role %q", ns)
	}
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if _, _, errno := syscall.RawSyscall(sysSetns(), f.Fd(), syscall.CLONE_NEWNET, 0); errno != 0 {
			done <- fmt.Errorf("setns %s: %w", l.names[ns], errno)
			return
		}
		done <- fn()
	}()
	return <-done
}

// close stops the listeners and deletes the namespaces. Errors are
// reported but do not stop the rest of the cleanup.
func (l *Lab) close() {
	l.mu.Lock()
	for _, ln := range l.listeners {
		ln.Close()
	}
	l.listeners = nil
	l.mu.Unlock()
	var errs []error
	for _, role := range []string{Client, FW, Server} {
		if f := l.fds[role]; f != nil {
			f.Close()
		}
		if n, ok := l.names[role]; ok {
			if out, err := run(nil, "ip", "netns", "del", n); err != nil {
				errs = append(errs, fmt.Errorf("ip netns del %s: %v: %s", n, err, bytes.TrimSpace(out)))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		l.t.Errorf("netnstest: cleanup: %v", err)
	}
}

// sysSetns returns the setns(2) system call number, which the syscall
// package does not define on every architecture (golang.org/x/sys/unix is
// not a direct dependency); 0 when unknown.
func sysSetns() uintptr {
	switch runtime.GOARCH {
	case "amd64":
		return 308
	case "arm64", "riscv64", "loong64":
		return 268
	case "386":
		return 346
	case "arm":
		return 375
	case "ppc64", "ppc64le":
		return 350
	case "s390x":
		return 339
	}
	return 0
}
