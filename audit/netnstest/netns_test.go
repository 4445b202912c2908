//go:build linux

package netnstest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"
)

// skipRecorder records Skip and Fatalf instead of ending the test.
type skipRecorder struct {
	testing.TB
	skipped, failed string
}

func (r *skipRecorder) Helper()                           {}
func (r *skipRecorder) Skip(args ...any)                  { r.skipped = fmt.Sprint(args...) }
func (r *skipRecorder) Fatalf(format string, args ...any) { r.failed = fmt.Sprintf(format, args...) }

// TestSkip: Skip skips unless RequireEnv is set to anything but "", and
// then fails with the reason.
func TestSkip(t *testing.T) {
	tests := []struct {
		env, skipped, failed string
	}{
		{"", "no tool", ""},
		{"1", "", "no tool (and RPCSPAN_REQUIRE_INTEGRATION is set, so this may not be skipped)"},
		{"yes", "", "no tool (and RPCSPAN_REQUIRE_INTEGRATION is set, so this may not be skipped)"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s=%q", RequireEnv, tt.env), func(t *testing.T) {
			t.Setenv(RequireEnv, tt.env)
			r := &skipRecorder{TB: t}
			Skip(r, "no tool")
			if r.skipped != tt.skipped || r.failed != tt.failed {
				t.Errorf("Skip(%q) skipped %q, failed %q; want skipped %q, failed %q", "no tool", r.skipped, r.failed, tt.skipped, tt.failed)
			}
		})
	}
}

// TestAvailable: a missing tool is named in the reason.
func TestAvailable(t *testing.T) {
	Require(t)
	const tool = "rpcspan-no-such-tool"
	if got := Available(tool); !strings.Contains(got, "needs "+tool+" on PATH") {
		t.Errorf("Available(%q) = %q, want it to name the tool", tool, got)
	}
}

// TestNamespace joins two namespaces with a veth pair and checks what
// the Samba harness relies on: IP, Exec, Command, Sysctl, Listen and
// DialContext all act inside the namespace, a second Create of the same
// name wraps ErrNoNamespaces, and Close removes the namespace.
func TestNamespace(t *testing.T) {
	Require(t)
	prefix := Prefix("rpcspan-nstest")
	a, err := Create(prefix + "a")
	if err != nil {
		t.Fatal(err)
	}
	var b *Namespace
	t.Run("pair", func(t *testing.T) {
		b = NewNamespace(t, prefix+"b")
		if err := Veth(a, "veth0", b, "veth1"); err != nil {
			t.Fatal(err)
		}
		aAddr, bAddr := netip.MustParseAddr("10.99.0.1"), netip.MustParseAddr("10.99.0.2")
		if _, err := a.IP("addr", "add", aAddr.String()+"/30", "dev", "veth0"); err != nil {
			t.Fatal(err)
		}
		if _, err := b.IP("addr", "add", bAddr.String()+"/30", "dev", "veth1"); err != nil {
			t.Fatal(err)
		}
		if _, err := b.IP("addr", "add", "not-an-address", "dev", "veth1"); err == nil || !strings.Contains(err.Error(), "ip -n "+b.Name+" addr add not-an-address") {
			t.Errorf("IP(bad address) = %v, want an error naming the command", err)
		}
		if err := a.Sysctl("net/ipv4/ip_forward", "1"); err != nil {
			t.Fatal(err)
		}
		out, err := a.Exec("cat", "/proc/sys/net/ipv4/ip_forward")
		if err != nil || strings.TrimSpace(string(out)) != "1" {
			t.Errorf("ip_forward in a = %q, %v; want 1", out, err)
		}
		out, err = b.Exec("cat", "/proc/sys/net/ipv4/ip_forward")
		if err != nil || strings.TrimSpace(string(out)) != "0" {
			t.Errorf("ip_forward in b = %q, %v; want 0 (the sysctl is per namespace)", out, err)
		}
		out, err = b.Command(context.Background(), "ip", "-4", "-o", "addr", "show", "dev", "veth1").Output()
		if err != nil || !strings.Contains(string(out), bAddr.String()) {
			t.Errorf("Command(ip addr show) = %q, %v; want %s", out, err, bAddr)
		}
		ln, err := a.Listen("tcp", netip.AddrPortFrom(aAddr, 135).String())
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			if c, err := ln.Accept(); err == nil {
				io.WriteString(c, "hello")
				c.Close()
			}
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := b.DialContext(ctx, "tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(c)
		c.Close()
		if err != nil || string(got) != "hello" {
			t.Errorf("read %q, %v; want hello", got, err)
		}
		if got := c.LocalAddr().(*net.TCPAddr).AddrPort().Addr(); got != bAddr {
			t.Errorf("dialled from %v, want %v", got, bAddr)
		}
		if _, err := Create(a.Name); !errors.Is(err, ErrNoNamespaces) {
			t.Errorf("Create(%q) again = %v, want ErrNoNamespaces", a.Name, err)
		}
	})
	if err := a.Close(); err != nil {
		t.Error(err)
	}
	names := []string{a.Name}
	if b != nil {
		names = append(names, b.Name)
	}
	for _, n := range names {
		if _, err := os.Stat("/run/netns/" + n); !os.IsNotExist(err) {
			t.Errorf("namespace %s still exists after Close and cleanup (stat: %v)", n, err)
		}
	}
}
