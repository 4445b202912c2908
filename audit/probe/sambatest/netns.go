//go:build linux

package sambatest

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
	"strings"
	"syscall"
	"time"
)

// RequireEnv turns skips into failures when set: CI sets it so that a
// missing tool or privilege cannot pass unnoticed.
const RequireEnv = "RPCSPAN_REQUIRE_INTEGRATION"

// execTimeout bounds every command the harness runs, so that a hung tool
// fails the test instead of hanging it.
const execTimeout = 2 * time.Minute

// Tools are the programs the harness needs on PATH.
var Tools = []string{"ip", "samba", "samba-tool", "rpcclient"}

// Available says why the harness cannot run here, or "" when it can.
func Available() string {
	if os.Geteuid() != 0 {
		return fmt.Sprintf("needs root to create network namespaces (running as uid %d)", os.Geteuid())
	}
	if setnsTrap() == 0 {
		return "setns(2) syscall number unknown on " + runtime.GOARCH
	}
	for _, t := range Tools {
		if _, err := exec.LookPath(t); err != nil {
			return fmt.Sprintf("needs %s on PATH (run .ci/install-samba.sh): %v", t, err)
		}
	}
	return ""
}

// Skip skips tb (or fails it when RequireEnv is set) with the reason why.
func Skip(tb interface {
	Helper()
	Fatalf(string, ...any)
	Skip(...any)
}, reason string) {
	tb.Helper()
	if os.Getenv(RequireEnv) != "" {
		tb.Fatalf("%s (and %s is set, so this may not be skipped)", reason, RequireEnv)
	}
	tb.Skip(reason)
}

// setnsTrap returns setns(2)'s number; the syscall package lacks it on
// some architectures.
func setnsTrap() uintptr {
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

// Netns is a network namespace created by the harness.
type Netns struct {
	Name string
	f    *os.File // /run/netns/NAME, for setns
}

// newNetns creates a namespace with its loopback up.
func newNetns(name string) (*Netns, error) {
	if out, err := run("ip", "netns", "add", name); err != nil {
		return nil, fmt.Errorf("ip netns add %s: %v: %s", name, err, out)
	}
	f, err := os.Open("/run/netns/" + name)
	if err != nil {
		run("ip", "netns", "delete", name)
		return nil, err
	}
	n := &Netns{Name: name, f: f}
	if _, err := n.IP("link", "set", "lo", "up"); err != nil {
		n.delete()
		return nil, err
	}
	return n, nil
}

func (n *Netns) delete() error {
	n.f.Close()
	if out, err := run("ip", "netns", "delete", n.Name); err != nil {
		return fmt.Errorf("ip netns delete %s: %v: %s", n.Name, err, out)
	}
	return nil
}

// IP runs "ip -n NAME args...".
func (n *Netns) IP(args ...string) ([]byte, error) {
	out, err := run("ip", append([]string{"-n", n.Name}, args...)...)
	if err != nil {
		return out, fmt.Errorf("ip -n %s %s: %v: %s", n.Name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return out, nil
}

// Exec runs a program inside the namespace and returns its combined
// output.
func (n *Netns) Exec(prog string, args ...string) ([]byte, error) {
	return run("ip", append([]string{"netns", "exec", n.Name, prog}, args...)...)
}

// Command returns a command that runs prog inside the namespace, for
// callers that want its output streams and exit code apart.
func (n *Netns) Command(ctx context.Context, prog string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", n.Name, prog}, args...)...)
}

// Do runs f on an OS thread that has entered the namespace. Sockets f
// opens stay in the namespace wherever they are used later.
func (n *Netns) Do(f func() error) error {
	errc := make(chan error, 1)
	go func() {
		// Never unlocked: when this goroutine ends, the runtime
		// terminates the thread rather than reuse it in the wrong
		// namespace.
		runtime.LockOSThread()
		if _, _, e := syscall.RawSyscall(setnsTrap(), n.f.Fd(), syscall.CLONE_NEWNET, 0); e != 0 {
			errc <- fmt.Errorf("setns %s: %v", n.Name, e)
			return
		}
		errc <- f()
	}()
	return <-errc
}

// DialContext dials from inside the namespace; it fits probe.Options.Dial.
func (n *Netns) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := n.Do(func() error {
		var d net.Dialer
		var err error
		c, err = d.DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

// Listen listens inside the namespace.
func (n *Netns) Listen(network, addr string) (net.Listener, error) {
	var l net.Listener
	err := n.Do(func() error {
		var err error
		l, err = net.Listen(network, addr)
		return err
	})
	return l, err
}

func run(prog string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), execTimeout)
	defer cancel()
	return exec.CommandContext(ctx, prog, args...).CombinedOutput()
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
	DC, Client *Netns
	fakes      int // FakeAddr(1..fakes) are configured
}

// NewLab builds a lab whose namespaces are named after prefix, the pid
// and a random suffix, so that parallel test binaries never collide.
// fakes is how many fake endpoint-mapper addresses to configure.
func NewLab(prefix string, fakes int) (*Lab, error) {
	var rnd [3]byte
	rand.Read(rnd[:])
	base := fmt.Sprintf("%s-%d-%s", prefix, os.Getpid(), hex.EncodeToString(rnd[:]))
	l := &Lab{fakes: fakes}
	var err error
	if l.DC, err = newNetns(base + "-dc"); err != nil {
		return nil, err
	}
	if l.Client, err = newNetns(base + "-cl"); err != nil {
		l.DC.delete()
		return nil, err
	}
	if err := l.wire(); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

func (l *Lab) wire() error {
	dc, cl := l.DC.Name, l.Client.Name
	steps := [][]string{
		{"link", "add", "veth0", "netns", dc, "type", "veth", "peer", "name", "veth1", "netns", cl},
		{"link", "add", "veth2", "netns", dc, "type", "veth", "peer", "name", "veth3", "netns", cl},
		{"link", "add", "veth5", "netns", dc, "type", "veth", "peer", "name", "veth4", "netns", cl},
	}
	for _, s := range steps {
		if out, err := run("ip", s...); err != nil {
			return fmt.Errorf("ip %s: %v: %s", strings.Join(s, " "), err, out)
		}
	}
	type cmd struct {
		ns   *Netns
		args []string
	}
	cmds := []cmd{
		{l.DC, []string{"addr", "add", DCAddr.String() + "/30", "dev", "veth0"}},
		{l.Client, []string{"addr", "add", ClientAddr.String() + "/30", "dev", "veth1"}},
		{l.Client, []string{"addr", "add", fakeClientEnd.String() + "/24", "dev", "veth3"}},
		{l.DC, []string{"link", "set", "veth0", "up"}},
		{l.DC, []string{"link", "set", "veth2", "up"}},
		{l.Client, []string{"link", "set", "veth1", "up"}},
		{l.Client, []string{"link", "set", "veth3", "up"}},
		{l.DC, []string{"addr", "add", sinkAddr.String() + "/30", "dev", "veth5"}},
		{l.Client, []string{"addr", "add", sinkClientEnd.String() + "/30", "dev", "veth4"}},
		{l.DC, []string{"link", "set", "veth5", "up"}},
		{l.Client, []string{"link", "set", "veth4", "up"}},
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
	// it does not forward; say so rather than trust the default. The file
	// opened on a thread inside the namespace is the namespace's own.
	return l.DC.Do(func() error {
		return os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("0\n"), 0o644)
	})
}

// Close deletes both namespaces (and with them every link and address).
func (l *Lab) Close() error {
	var errs []error
	for _, n := range []*Netns{l.DC, l.Client} {
		if n != nil {
			errs = append(errs, n.delete())
		}
	}
	return errors.Join(errs...)
}
