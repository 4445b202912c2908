//go:build linux

package netnstest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// RequireEnv is the environment variable that turns skips into failures
// when set to anything but "": CI sets it so that a missing tool or
// privilege cannot pass unnoticed.
const RequireEnv = "RPCSPAN_REQUIRE_INTEGRATION"

// execTimeout bounds every command the harness runs, so that a hung tool
// fails the test instead of hanging it. samba-tool domain provision, the
// slowest, takes up to about 17 s.
const execTimeout = 2 * time.Minute

// ErrNoNamespaces is wrapped by Create's error when "ip netns add" fails:
// root without CAP_SYS_ADMIN (some containers) cannot make namespaces,
// which is a limit of the environment rather than a failure of the code
// under test.
var ErrNoNamespaces = errors.New("cannot create a network namespace")

// Available says why namespaces cannot be made here, or "" when they can:
// the process must be root, setns(2) must be known on this architecture,
// and ip plus the named tools must be on PATH.
func Available(tools ...string) string {
	if os.Geteuid() != 0 {
		return fmt.Sprintf("needs root to create network namespaces (running as uid %d)", os.Geteuid())
	}
	if sysSetns() == 0 {
		return "setns(2) syscall number unknown on " + runtime.GOARCH
	}
	for _, tool := range append([]string{"ip"}, tools...) {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Sprintf("needs %s on PATH (.ci/run installs every tool the integration tests use): %v", tool, err)
		}
	}
	return ""
}

// Skip skips tb with reason, or fails it when RequireEnv is set.
func Skip(tb testing.TB, reason string) {
	tb.Helper()
	if os.Getenv(RequireEnv) != "" {
		tb.Fatalf("%s (and %s is set, so this may not be skipped)", reason, RequireEnv)
		return
	}
	tb.Skip(reason)
}

// Require skips tb (or fails it when RequireEnv is set) unless Available
// says namespaces with the named tools can be used.
func Require(tb testing.TB, tools ...string) {
	tb.Helper()
	if reason := Available(tools...); reason != "" {
		Skip(tb, reason)
	}
}

// Prefix returns base, the pid and a random suffix joined by dashes and
// ending in a dash ("rpcspan-4242-a1b2c3-"), the start of namespace names
// that no other test binary uses.
func Prefix(base string) string {
	var rnd [3]byte
	rand.Read(rnd[:]) // never fails (crypto/rand)
	return base + "-" + strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(rnd[:]) + "-"
}

// Namespace is a network namespace created by the harness.
type Namespace struct {
	// Name is the namespace's name, for "ip netns exec" and
	// /run/netns/NAME.
	Name string
	f    *os.File // /run/netns/NAME, for setns
}

// Create creates the namespace name with its loopback up. The caller
// deletes it with Close; tests that need it no longer than themselves use
// NewNamespace instead. A failing "ip netns add" gives an error that wraps
// ErrNoNamespaces.
func Create(name string) (*Namespace, error) {
	if out, err := run(nil, "ip", "netns", "add", name); err != nil {
		return nil, fmt.Errorf("%w: ip netns add %s: %v: %s", ErrNoNamespaces, name, err, bytes.TrimSpace(out))
	}
	n := &Namespace{Name: name}
	f, err := os.Open(filepath.Join("/run/netns", name))
	if err != nil {
		run(nil, "ip", "netns", "delete", name)
		return nil, err
	}
	n.f = f
	if _, err := n.IP("link", "set", "lo", "up"); err != nil {
		n.Close()
		return nil, err
	}
	return n, nil
}

// NewNamespace creates the namespace name for t and removes it at
// t.Cleanup. When namespaces cannot be made here it skips t (or fails it
// when RequireEnv is set); any other error fails t.
func NewNamespace(t testing.TB, name string) *Namespace {
	t.Helper()
	Require(t)
	n, err := Create(name)
	if errors.Is(err, ErrNoNamespaces) {
		Skip(t, err.Error())
	}
	if err != nil {
		t.Fatalf("netnstest: %v", err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("netnstest: cleanup: %v", err)
		}
	})
	return n
}

// Close deletes the namespace, and with it every link, address and route
// in it.
func (n *Namespace) Close() error {
	if n.f != nil {
		n.f.Close()
		n.f = nil
	}
	if out, err := run(nil, "ip", "netns", "delete", n.Name); err != nil {
		return fmt.Errorf("ip netns delete %s: %v: %s", n.Name, err, bytes.TrimSpace(out))
	}
	return nil
}

// IP runs "ip -n NAME args..."; its error includes the command and its
// output.
func (n *Namespace) IP(args ...string) ([]byte, error) {
	out, err := run(nil, "ip", append([]string{"-n", n.Name}, args...)...)
	if err != nil {
		return out, fmt.Errorf("ip -n %s %s: %v: %s", n.Name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return out, nil
}

// Exec runs prog inside the namespace with "ip netns exec" and returns its
// combined output. It gives up after two minutes.
func (n *Namespace) Exec(prog string, args ...string) ([]byte, error) {
	return n.ExecInput(nil, prog, args...)
}

// ExecInput is Exec with stdin as the program's standard input.
func (n *Namespace) ExecInput(stdin []byte, prog string, args ...string) ([]byte, error) {
	return run(stdin, "ip", append([]string{"netns", "exec", n.Name, prog}, args...)...)
}

// Command returns a command that runs prog inside the namespace, for
// callers that want its output streams and exit code apart or run it in
// the background; ctx bounds it.
func (n *Namespace) Command(ctx context.Context, prog string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", n.Name, prog}, args...)...)
}

// Do runs fn on an OS thread that has entered the namespace. Sockets fn
// opens stay in the namespace wherever they are used later, and files
// under /proc/sys/net opened there are the namespace's own.
func (n *Namespace) Do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		// Never unlocked: when this goroutine ends, the runtime
		// terminates the thread rather than reuse it in the wrong
		// namespace.
		runtime.LockOSThread()
		if _, _, errno := syscall.RawSyscall(sysSetns(), n.f.Fd(), syscall.CLONE_NEWNET, 0); errno != 0 {
			errc <- fmt.Errorf("setns %s: %w", n.Name, errno)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// Sysctl sets the sysctl key ("net/ipv4/ip_forward") to value inside the
// namespace.
func (n *Namespace) Sysctl(key, value string) error {
	p := filepath.Join("/proc/sys", key)
	if err := n.Do(func() error { return os.WriteFile(p, []byte(value+"\n"), 0o644) }); err != nil {
		return fmt.Errorf("sysctl %s=%s in %s: %w", key, value, n.Name, err)
	}
	return nil
}

// DialContext dials from inside the namespace; it fits probe.Options.Dial
// and net.Dialer-shaped hooks.
func (n *Namespace) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return n.DialFrom(ctx, nil, network, addr)
}

// DialFrom is DialContext from a chosen local address (nil lets the kernel
// choose).
func (n *Namespace) DialFrom(ctx context.Context, local net.Addr, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := n.Do(func() error {
		d := net.Dialer{LocalAddr: local}
		var err error
		c, err = d.DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

// Listen listens inside the namespace.
func (n *Namespace) Listen(network, addr string) (net.Listener, error) {
	var l net.Listener
	err := n.Do(func() error {
		var err error
		l, err = net.Listen(network, addr)
		return err
	})
	return l, err
}

// Veth links namespace a (device aDev) and b (device bDev) with a veth
// pair and sets both ends up. The pair is made inside a and its peer sent
// straight to b, so the test's own namespace never holds either end;
// device names are per namespace, so short fixed names are safe.
func Veth(a *Namespace, aDev string, b *Namespace, bDev string) error {
	if _, err := a.IP("link", "add", aDev, "type", "veth", "peer", "name", bDev, "netns", b.Name); err != nil {
		return err
	}
	if _, err := a.IP("link", "set", aDev, "up"); err != nil {
		return err
	}
	_, err := b.IP("link", "set", bDev, "up")
	return err
}

// run runs a command with a bounded time and returns its combined output.
func run(stdin []byte, prog string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), execTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return out, fmt.Errorf("%s timed out after %v", prog, execTimeout)
	}
	return out, err
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
