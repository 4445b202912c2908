//go:build linux

package netnstest

import (
	"os"
	"strings"
	"testing"
	"time"
)

// TestLab builds a lab and checks what other tests rely on: both client
// addresses of both families reach the server through fw, a closed port
// is refused quickly rather than timing out, commands run inside the
// right namespace, and cleanup removes the namespaces.
func TestLab(t *testing.T) {
	Require(t)
	var names []string
	t.Run("lab", func(t *testing.T) {
		l := New(t)
		for _, role := range []string{Client, FW, Server} {
			names = append(names, l.NS(role))
			if !strings.HasPrefix(l.NS(role), "rpcspan-") {
				t.Errorf("NS(%q) = %q, want prefix rpcspan-", role, l.NS(role))
			}
		}
		l.Listen(Server, 135, 50000)
		check := func(name string, err error) {
			t.Helper()
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
		check("in4:135", l.DialErr(l.ClientIn4, l.Server4, 135, 2*time.Second))
		check("out4:50000", l.DialErr(l.ClientOut4, l.Server4, 50000, 2*time.Second))
		check("in6:135", l.DialErr(l.ClientIn6, l.Server6, 135, 2*time.Second))
		check("out6:50000", l.DialErr(l.ClientOut6, l.Server6, 50000, 2*time.Second))
		start := time.Now()
		if l.Dial(l.ClientIn4, l.Server4, 22, 2*time.Second) {
			t.Errorf("Dial to a closed port succeeded")
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("Dial to a closed port took %v, want a quick refusal", d)
		}
		out, err := l.Exec(FW, "ip", "-6", "addr", "show", "dev", "server0")
		if err != nil || !strings.Contains(string(out), l.FWServer6.String()) {
			t.Errorf("Exec(fw, ip -6 addr) = %q, %v; want %s", out, err, l.FWServer6)
		}
		out, err = l.Exec(FW, "cat", "/proc/sys/net/ipv4/ip_forward")
		if err != nil || strings.TrimSpace(string(out)) != "1" {
			t.Errorf("fw ip_forward = %q, %v; want 1", out, err)
		}
	})
	for _, n := range names {
		if _, err := os.Stat("/run/netns/" + n); !os.IsNotExist(err) {
			t.Errorf("namespace %s still exists after cleanup (stat: %v)", n, err)
		}
	}
}
