package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/rpcspan/rpcspan/audit/probe/epmtest"
)

var localhost = netip.MustParseAddr("127.0.0.1")

// openPort listens on a free port of 127.0.0.1 until the test ends.
func openPort(t *testing.T) uint16 {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return uint16(l.Addr().(*net.TCPAddr).Port)
}

// closedPort returns a port of 127.0.0.1 that nothing listens on.
func closedPort(t *testing.T) uint16 {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := uint16(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	return p
}

func yes() *bool { b := true; return &b }
func no() *bool  { b := false; return &b }

// fakeDC starts a fake domain controller on 127.0.0.1: netlogon and lsarpc
// ports open, samr's port closed, the endpoint mapper's own entry on its
// real port. It returns the server and the three ports.
func fakeDC(t *testing.T, m epmtest.Mode) (s *epmtest.Server, netlogon, lsa, samr uint16) {
	t.Helper()
	netlogon, lsa, samr = openPort(t), openPort(t), closedPort(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	entries := epmtest.DC(netlogon, lsa, samr)
	entries[0].Port = uint16(l.Addr().(*net.TCPAddr).Port) // the endpoint mapper's own entry
	s = epmtest.Serve(l, m, entries)
	t.Cleanup(s.Close)
	return s, netlogon, lsa, samr
}

func TestRunFakeDC(t *testing.T) {
	s, netlogon, lsa, samr := fakeDC(t, epmtest.SambaDC)
	epm := s.Addr().Port()
	got := Run(context.Background(), []Target{{Name: "dc1", Host: "DC1", Addr: localhost}}, Options{Port: epm, Timeout: time.Second})
	uuid := mustUUID
	want := []Result{{
		Target: "dc1", Host: "DC1", Address: localhost, Port: epm, EPM: StatusOK, Connected: true,
		Endpoints: []Endpoint{
			{UUID: uuid("e1af8308-5d1f-11c9-91a4-08002b14a0fa"), Version: "3.0", Name: "epmapper", Annotation: "epmapper", Protocol: "ncacn_ip_tcp", Port: epm, Address: localhost, Reachable: yes()},
			{UUID: uuid("e1af8308-5d1f-11c9-91a4-08002b14a0fa"), Version: "3.0", Name: "epmapper", Annotation: "epmapper", Protocol: "ncacn_http", Port: 593, Address: localhost},
			{UUID: uuid("12345678-1234-abcd-ef00-01234567cffb"), Version: "1.0", Name: "netlogon", Annotation: "netlogon", Protocol: "ncacn_ip_tcp", Port: netlogon, Address: localhost, Reachable: yes()},
			{UUID: uuid("12345678-1234-abcd-ef00-01234567cffb"), Version: "1.0", Name: "netlogon", Annotation: "netlogon", Protocol: "ncacn_np", Endpoint: `\pipe\netlogon`},
			{UUID: uuid("12345778-1234-abcd-ef00-0123456789ab"), Version: "0.0", Name: "lsarpc", Annotation: "lsarpc", Protocol: "ncacn_ip_tcp", Port: lsa, Address: localhost, Reachable: yes()},
			{UUID: uuid("e3514235-4b06-11d1-ab04-00c04fc2dcd2"), Version: "4.0", Name: "drsuapi", Annotation: "drsuapi", Protocol: "ncacn_ip_tcp", Port: lsa, Address: localhost, Reachable: yes()},
			{UUID: uuid("e3514235-4b06-11d1-ab04-00c04fc2dcd2"), Version: "4.0", Name: "drsuapi", Annotation: "drsuapi", Protocol: "ncalrpc", Endpoint: "DEFAULT"},
			{UUID: uuid("12345778-1234-abcd-ef00-0123456789ac"), Version: "1.0", Name: "samr", Annotation: "samr", Protocol: "ncacn_ip_tcp", Port: samr, Address: localhost, Reachable: no(), Reason: "refused"},
		},
	}}
	if diff := cmp.Diff(want, got, addrEq); diff != "" {
		t.Errorf("Run(fake DC) (-want +got):\n%s", diff)
	}
}

func TestRunStatuses(t *testing.T) {
	silent := startFake(t, epmtest.Silent, nil)
	garbage := startFake(t, epmtest.NotRPC, nil)
	closed := closedPort(t)
	tests := []struct {
		name      string
		port      uint16
		epm       Status
		err       string
		connected bool
	}{
		{"refused", closed, StatusRefused, fmt.Sprintf("TCP %d refused the connection", closed), false},
		{"silent", silent.Addr().Port(), StatusTimeout, "connected, but reading bind answer: no answer reading header within 200ms: timed out", true},
		{"not rpc", garbage.Addr().Port(), StatusError, "reading bind answer: pdu header: protocol version 72.84, want 5.0 or 5.1 (is this DCE/RPC?)", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Run(context.Background(), []Target{{Name: "x", Addr: localhost}}, Options{Port: tt.port, Timeout: 200 * time.Millisecond})
			want := []Result{{Target: "x", Address: localhost, Port: tt.port, EPM: tt.epm, Error: tt.err, Connected: tt.connected, Endpoints: []Endpoint{}}}
			if diff := cmp.Diff(want, got, addrEq); diff != "" {
				t.Errorf("Run (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRunConcurrency: against an endpoint mapper that never answers,
// no more than Concurrency connections are ever open, and N targets take
// about ceil(N / Concurrency) × Timeout.
func TestRunConcurrency(t *testing.T) {
	s := startFake(t, epmtest.Silent, nil)
	const n, conc, timeout = 40, 8, 150 * time.Millisecond
	targets := make([]Target, n)
	for i := range targets {
		targets[i] = Target{Name: fmt.Sprint(i), Addr: localhost}
	}
	var mu sync.Mutex
	var calls [][2]int
	d := &countingDialer{}
	start := time.Now()
	rs := Run(context.Background(), targets, Options{Port: s.Addr().Port(), Timeout: timeout, Concurrency: conc, Dial: d.dial,
		Progress: func(done, total int) { mu.Lock(); calls = append(calls, [2]int{done, total}); mu.Unlock() }})
	elapsed := time.Since(start)
	if d.dials != n || d.max > conc || d.open != 0 {
		t.Errorf("Run dialled %d connections, at most %d open at once, %d left open; want %d, at most %d, 0", d.dials, d.max, d.open, n, conc)
	}
	rounds := (n + conc - 1) / conc
	if lo, hi := time.Duration(rounds)*timeout, time.Duration(rounds)*timeout*2; elapsed < lo || elapsed > hi {
		t.Errorf("Run of %d silent targets with concurrency %d and timeout %v took %v, want %v-%v", n, conc, timeout, elapsed, lo, hi)
	}
	for i, r := range rs {
		if r.Target != fmt.Sprint(i) || r.EPM != StatusTimeout {
			t.Errorf("result %d = %s %s, want %d timeout", i, r.Target, r.EPM, i)
		}
	}
	if len(calls) != n || calls[n-1] != [2]int{n, n} {
		t.Errorf("Progress called %d times, last %v; want %d, last [%d %d]", len(calls), calls[len(calls)-1], n, n, n)
	}
}

func TestRunResolve(t *testing.T) {
	s, _, _, _ := fakeDC(t, epmtest.Dcerpcd)
	resolve := func(_ context.Context, host string) ([]netip.Addr, error) {
		switch host {
		case "dc.example":
			return []netip.Addr{netip.MustParseAddr("::ffff:127.0.0.1"), localhost}, nil
		case "empty.example":
			return nil, nil
		}
		return nil, errors.New("no such host")
	}
	got := Run(context.Background(), []Target{{Name: "dc.example"}, {Name: "bad.example"}, {Name: "empty.example"}},
		Options{Port: s.Addr().Port(), Resolve: resolve, Timeout: time.Second})
	type brief struct {
		Target, Address string
		EPM             Status
		N               int
		Err             string
	}
	var b []brief
	for _, r := range got {
		b = append(b, brief{r.Target, r.Address.String(), r.EPM, len(r.Endpoints), r.Error})
	}
	want := []brief{
		{"dc.example", "127.0.0.1", StatusOK, 8, ""},
		{"bad.example", "invalid IP", StatusError, 0, `resolving "bad.example": no such host`},
		{"empty.example", "invalid IP", StatusError, 0, `resolving "empty.example": no addresses`},
	}
	if diff := cmp.Diff(want, b); diff != "" {
		t.Errorf("Run with names (-want +got):\n%s", diff)
	}
}

func TestRunCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	got := Run(ctx, []Target{{Name: "a", Addr: localhost}, {Name: "b", Addr: localhost}}, Options{Port: closedPort(t)})
	for _, r := range got {
		if r.EPM != StatusError || r.Error != "context canceled" {
			t.Errorf("Run(cancelled) %s = %s %q, want error \"context canceled\"", r.Target, r.EPM, r.Error)
		}
	}
	if len(got) != 2 {
		t.Errorf("Run(cancelled) gave %d results, want 2", len(got))
	}
}

// addrEq compares netip.Addr values with ==.
var addrEq = cmpopts.EquateComparable(netip.Addr{})

// countingDialer counts the connections a Run opens and how many are open
// at once.
type countingDialer struct {
	mu               sync.Mutex
	dials, open, max int
}

type countedConn struct {
	net.Conn
	d    *countingDialer
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() {
		c.d.mu.Lock()
		c.d.open--
		c.d.mu.Unlock()
	})
	return c.Conn.Close()
}

func (d *countingDialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var nd net.Dialer
	c, err := nd.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.dials++
	d.open++
	d.max = max(d.max, d.open)
	d.mu.Unlock()
	return &countedConn{Conn: c, d: d}, nil
}
