//go:build linux

package sambatest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rpcspan/rpcspan/audit"
	"github.com/rpcspan/rpcspan/audit/netnstest"
	"github.com/rpcspan/rpcspan/audit/probe"
	"github.com/rpcspan/rpcspan/audit/probe/epmtest"
)

// shared is the one lab and DC of this test binary: provisioning takes
// seconds, so it is done once, on first use, and torn down by TestMain.
var shared struct {
	once sync.Once
	dir  string
	lab  *Lab
	dc   *DC
	err  error
	cur  string // the configuration samba runs with
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.lab != nil {
		names := []string{shared.lab.DC.Name, shared.lab.Client.Name}
		if shared.dc != nil {
			if err := shared.dc.Stop(); err != nil {
				fmt.Fprintf(os.Stderr, "stopping samba: %v\n", err)
				code = 1
			}
		}
		if err := shared.lab.Close(); err != nil {
			fmt.Fprintf(os.Stderr, "removing the lab: %v\n", err)
			code = 1
		}
		for _, n := range names {
			if _, err := os.Stat("/run/netns/" + n); !os.IsNotExist(err) {
				fmt.Fprintf(os.Stderr, "namespace %s left behind (stat: %v)\n", n, err)
				code = 1
			}
		}
	}
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

// fakes is how many fake endpoint-mapper addresses the lab carries.
const fakes = 24

// lab returns the shared lab, skipping (or failing in CI) when the
// harness cannot run here.
func lab(t *testing.T) *Lab {
	t.Helper()
	if reason := Available(); reason != "" {
		netnstest.Skip(t, reason)
	}
	shared.once.Do(func() {
		shared.lab, shared.err = NewLab("rpcspan-smb", fakes)
	})
	if errors.Is(shared.err, netnstest.ErrNoNamespaces) {
		netnstest.Skip(t, shared.err.Error())
	}
	if shared.err != nil {
		t.Fatalf("building the lab: %v", shared.err)
	}
	return shared.lab
}

// samba returns the shared DC running with c, provisioning it on first
// use and restarting samba when c differs from what runs.
func samba(t *testing.T, c Config) *DC {
	t.Helper()
	l := lab(t)
	if shared.dc == nil {
		dir, err := os.MkdirTemp("", "rpcspan-samba-")
		if err != nil {
			t.Fatal(err)
		}
		shared.dir = dir
		dc, err := Provision(l, dir)
		if err != nil {
			t.Fatalf("provisioning: %v", err)
		}
		t.Logf("provisioned the DC in %v", dc.Provisioned.Round(time.Millisecond))
		shared.dc = dc
	}
	key := c.Range + "|" + strings.Join(c.Extra, "|")
	if shared.cur != key {
		shared.cur = ""
		if err := shared.dc.Run(c); err != nil {
			t.Fatal(err)
		}
		shared.cur = key
		t.Logf("samba (range %s %v) ready in %v", c.Range, c.Extra, shared.dc.Started.Round(time.Millisecond))
	}
	return shared.dc
}

var (
	rangeDefault = Config{Range: "50000-50500"}
	rangeLegacy  = Config{Range: "1025-5000"}
	rangePinned  = Config{Range: "50000-50500", Extra: []string{"rpc server port:drsuapi = 5000"}}
)

func probeDC(t *testing.T, dc *DC) probe.Result {
	t.Helper()
	rs := dc.Lab.Probe(context.Background(), []probe.Target{Target("DC1", DCAddr)}, probe.Options{Timeout: 2 * time.Second})
	if rs[0].EPM != probe.StatusOK {
		t.Fatalf("probe of the DC: %s %s", rs[0].EPM, rs[0].Error)
	}
	return rs[0]
}

// TestEndpointsMatchRPCClient: the probe lists the same ncacn_ip_tcp
// endpoints and ports as Samba's own "rpcclient -c epmlookup", all of
// them reachable, the 0.0.0.0 of the towers replaced by the address
// queried, and ncacn_http:593 listed but not checked.
func TestEndpointsMatchRPCClient(t *testing.T) {
	dc := samba(t, rangeDefault)
	r := probeDC(t, dc)
	want, err := dc.RPCClientTCP()
	if err != nil {
		t.Fatal(err)
	}
	if len(want) == 0 {
		t.Fatal("rpcclient listed no ncacn_ip_tcp endpoint")
	}
	if diff := cmp.Diff(want, TCPEndpoints(r)); diff != "" {
		t.Errorf("probe vs rpcclient -c epmlookup, ncacn_ip_tcp (-rpcclient +probe):\n%s", diff)
	}
	var ports []uint16
	for _, e := range r.Endpoints {
		switch e.Protocol {
		case "ncacn_ip_tcp":
			ports = append(ports, e.Port)
			if e.Reachable == nil || !*e.Reachable || e.Address != DCAddr {
				t.Errorf("endpoint %s on %d: reachable %v at %s, want true at %s", e.Label(), e.Port, e.Reachable, e.Address, DCAddr)
			}
		case "ncacn_http":
			if e.Reachable != nil {
				t.Errorf("ncacn_http endpoint %s on %d was checked", e.Label(), e.Port)
			}
		}
	}
	slices.Sort(ports)
	if got, want := slices.Compact(ports), []uint16{135, 50000, 50001, 50002}; !slices.Equal(got, want) {
		t.Errorf("ncacn_ip_tcp ports %v, want %v", got, want)
	}
	t.Logf("%d endpoints, %d ncacn_ip_tcp, all reachable", len(r.Endpoints), len(want))
}

// declared returns an estate with DC1 at DCAddr and the tcp4 range r
// declared.
func declared(r string) *audit.Estate {
	e := audit.NewEstate()
	h := e.Host("DC1")
	h.Addresses = []audit.Addr{{Addr: DCAddr}}
	pr, err := audit.ParseRange(r)
	if err != nil {
		panic(err)
	}
	h.Ranges = []audit.RangeObs{{Key: audit.TCP4, Range: pr, Origin: audit.Declared, Src: audit.Source{File: "inventory.yaml", Line: 3}}}
	return e
}

// TestDeclaredRange compares the live endpoints with the declared range
// in the three situations the issue names. The endpoints expected to be
// flagged come from rpcclient's list, not from the probe's.
func TestDeclaredRange(t *testing.T) {
	tests := []struct {
		name     string
		cfg      Config
		declared string
		span     audit.PortRange
		// check says something about the flagged endpoints beyond "exactly
		// those rpcclient lists outside the span".
		check func(t *testing.T, all, flagged []Endpoint)
	}{
		{"served and declared 50000-50500", rangeDefault, "50000-50500", audit.PortRange{First: 50000, Last: 50500},
			func(t *testing.T, _, flagged []Endpoint) {
				if len(flagged) != 0 {
					t.Errorf("flagged %v, want none", flagged)
				}
			}},
		{"served 1025-5000, declared 49152-65535", rangeLegacy, "49152-65535", audit.PortRange{First: 49152, Last: 65535},
			func(t *testing.T, all, flagged []Endpoint) {
				dynamic := slices.DeleteFunc(slices.Clone(all), func(e Endpoint) bool { return e.Port == 135 })
				if len(dynamic) == 0 || !slices.Equal(dynamic, flagged) {
					t.Errorf("flagged %v, want every dynamic endpoint %v", flagged, dynamic)
				}
				for _, e := range dynamic {
					if e.Port < 1025 || e.Port > 5000 {
						t.Errorf("endpoint %v outside 1025-5000", e)
					}
				}
			}},
		{"drsuapi pinned to 5000, declared 50000-50500", rangePinned, "50000-50500", audit.PortRange{First: 50000, Last: 50500},
			func(t *testing.T, all, flagged []Endpoint) {
				on5000 := slices.DeleteFunc(slices.Clone(all), func(e Endpoint) bool { return e.Port != 5000 })
				if len(on5000) == 0 || !slices.Equal(on5000, flagged) {
					t.Errorf("flagged %v, want exactly the endpoints on 5000 %v", flagged, on5000)
				}
				if !slices.ContainsFunc(flagged, func(e Endpoint) bool { return e.UUID == "e3514235-4b06-11d1-ab04-00c04fc2dcd2" }) {
					t.Errorf("drsuapi not among the flagged %v", flagged)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dc := samba(t, tt.cfg)
			r := probeDC(t, dc)
			all, err := dc.RPCClientTCP()
			if err != nil {
				t.Fatal(err)
			}
			var want []Endpoint
			for _, e := range all {
				if e.Port != 135 && !tt.span.Contains(e.Port) && !slices.Contains(want, e) {
					want = append(want, e)
				}
			}
			fs := probe.Findings(declared(tt.declared), []probe.Result{r})
			var flagged []Endpoint
			for _, f := range fs {
				if f.ID != probe.IDEndpointOutsideRange {
					t.Errorf("unexpected finding %s: %s", f.ID, f.Message)
					continue
				}
				if got := f.Detail["span"]; !cmp.Equal(got, []string{tt.declared}) {
					t.Errorf("finding span %v, want [%s]", got, tt.declared)
				}
				flagged = append(flagged, Endpoint{UUID: f.Detail["uuid"].(string), Version: f.Detail["version"].(string), Port: uint16(f.Detail["port"].(int))})
			}
			SortEndpoints(flagged)
			if diff := cmp.Diff(want, flagged); diff != "" {
				t.Errorf("endpoint-outside-range findings (-rpcclient outside %s +probe):\n%s", tt.declared, diff)
			}
			tt.check(t, all, flagged)
			t.Logf("%d ncacn_ip_tcp endpoints, %d flagged", len(all), len(flagged))
		})
	}
}

// TestUnanswered: a target whose packets vanish yields epm-unreachable
// within the timeout; one that refuses, at once.
func TestUnanswered(t *testing.T) {
	l := lab(t)
	const timeout = 700 * time.Millisecond
	tests := []struct {
		name   string
		addr   netip.Addr
		status probe.Status
		err    string
		max    time.Duration
	}{
		{"silent", netip.MustParseAddr("192.0.2.1"), probe.StatusTimeout, "TCP 135 did not accept a connection within 700ms", timeout + 300*time.Millisecond},
		{"refused", FakeAddr(fakes), probe.StatusRefused, "TCP 135 refused the connection", 300 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			rs := l.Probe(context.Background(), []probe.Target{Target("X", tt.addr)}, probe.Options{Timeout: timeout})
			if d := time.Since(start); d > tt.max {
				t.Errorf("probe of %s took %v, want at most %v", tt.addr, d, tt.max)
			}
			if rs[0].EPM != tt.status || rs[0].Error != tt.err {
				t.Errorf("probe of %s = %s %q, want %s %q", tt.addr, rs[0].EPM, rs[0].Error, tt.status, tt.err)
			}
			fs := probe.Findings(nil, rs)
			want := []audit.Finding{{ID: probe.IDEPMUnreachable, Severity: audit.Error, Host: "X",
				Message: fmt.Sprintf("the endpoint mapper at %s cannot be reached (%s): no RPC to this host can start", tt.addr, tt.err),
				Detail:  map[string]any{"address": tt.addr.String(), "port": 135, "epm": string(tt.status), "error": tt.err}}}
			if diff := cmp.Diff(want, fs); diff != "" {
				t.Errorf("Findings (-want +got):\n%s", diff)
			}
		})
	}
}

// TestHostileEndpointMapper runs fake endpoint mappers in the DC namespace
// that send oversized lengths, truncated PDUs, endless pages or
// fragments, a trickle, garbage or nothing at all, and probes them all at
// once from the client namespace: each ends with a clear error within
// the exchange limit, and nothing hangs.
func TestHostileEndpointMapper(t *testing.T) {
	l := lab(t)
	entries := epmtest.DC(50000, 50001, 50002)
	tests := []struct {
		mode   epmtest.Mode
		status probe.Status
		err    string
		n      int // endpoints kept
	}{
		{epmtest.Silent, probe.StatusTimeout, "connected, but reading bind answer: no answer reading header within 500ms: timed out", 0},
		{epmtest.Trickle, probe.StatusTimeout, "connected, but ept_lookup page 1: exchange not finished within 2s: timed out", 0},
		{epmtest.HugeFragment, probe.StatusTimeout, "connected, but reading bind answer: no answer reading rest of a 65535-byte PDU within 500ms: timed out", 0},
		{epmtest.Truncated, probe.StatusError, "reading bind answer: connection closed in the middle of a PDU reading rest of a 60-byte PDU", 0},
		{epmtest.HugeCount, probe.StatusError, "page 1: ept_lookup response: 4294967295 entries, more than the 500 asked for", 0},
		{epmtest.HugeTower, probe.StatusError, "page 1: ept_lookup response: entry 0: tower of 2147483647 bytes (array of 2147483647) with 80 bytes left", 0},
		{epmtest.Endless, probe.StatusError, "endpoint mapper still had more after 64 pages (64 entries): giving up", 64},
		{epmtest.EndlessFragments, probe.StatusError, "ept_lookup page 1: response of more than 1024 fragments", 0},
		{epmtest.Fault, probe.StatusError, "ept_lookup page 1: server sent fault 0x1c010002 (nca_s_op_rng_error)", 0},
		{epmtest.BindNak, probe.StatusError, "bind refused: protocol version not supported", 0},
		{epmtest.NotRPC, probe.StatusError, "reading bind answer: pdu header: protocol version 72.84, want 5.0 or 5.1 (is this DCE/RPC?)", 0},
		{epmtest.CloseAfterBind, probe.StatusError, "ept_lookup page 1: connection closed by the server reading header", 0},
	}
	var targets []probe.Target
	for i, tt := range tests {
		a := FakeAddr(i + 1)
		ln, err := l.DC.Listen("tcp", netip.AddrPortFrom(a, 135).String())
		if err != nil {
			t.Fatal(err)
		}
		s := epmtest.Serve(ln, tt.mode, entries)
		t.Cleanup(s.Close)
		targets = append(targets, Target(fmt.Sprintf("mode-%d", tt.mode), a))
	}
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	opt := probe.Options{Timeout: 500 * time.Millisecond, Exchange: 2 * time.Second}
	rs := l.Probe(context.Background(), targets, opt)
	elapsed := time.Since(start)
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	// Port checks of the one fake that kept entries (Endless) add at
	// most one timeout.
	if max := opt.Exchange + opt.Timeout + time.Second; elapsed > max {
		t.Errorf("probing %d hostile endpoint mappers took %v, want at most %v", len(targets), elapsed, max)
	}
	for i, tt := range tests {
		r := rs[i]
		if r.EPM != tt.status || r.Error != tt.err || len(r.Endpoints) != tt.n {
			t.Errorf("mode %d: %s %q with %d endpoints, want %s %q with %d", tt.mode, r.EPM, r.Error, len(r.Endpoints), tt.status, tt.err, tt.n)
		}
	}
	t.Logf("%d hostile endpoint mappers handled in %v, %d KiB allocated in all", len(targets), elapsed.Round(time.Millisecond), (after.TotalAlloc-before.TotalAlloc)>>10)
}

// TestScale probes 1,000 targets of which 990 never answer (TEST-NET and
// benchmark addresses routed into a dummy interface) and 10 are fake
// domain controllers: the run takes about ceil(1000 / concurrency) ×
// timeout, and memory stays bounded.
func TestScale(t *testing.T) {
	l := lab(t)
	const answering = 10
	var targets []probe.Target
	for i := 1; i <= answering; i++ {
		a := FakeAddr(100 + i)
		if _, err := l.DC.IP("addr", "replace", a.String()+"/24", "dev", "veth2"); err != nil {
			t.Fatal(err)
		}
		ln, err := l.DC.Listen("tcp", netip.AddrPortFrom(a, 135).String())
		if err != nil {
			t.Fatal(err)
		}
		s := epmtest.Serve(ln, epmtest.SambaDC, epmtest.DC(50000, 50001, 50002))
		t.Cleanup(s.Close)
		targets = append(targets, Target(fmt.Sprintf("dc%02d", i), a))
	}
	for _, p := range Silent {
		for a := p.Addr().Next(); p.Contains(a) && len(targets) < 1000; a = a.Next() {
			targets = append(targets, Target("silent", a))
		}
	}
	tests := []struct {
		concurrency int
		timeout     time.Duration
	}{
		{100, time.Second},
		{250, 500 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("concurrency %d timeout %v", tt.concurrency, tt.timeout), func(t *testing.T) {
			runtime.GC()
			var base runtime.MemStats
			runtime.ReadMemStats(&base)
			stop := make(chan struct{})
			var peakHeap uint64
			var peakGoroutines int
			var wg sync.WaitGroup
			wg.Go(func() {
				tick := time.NewTicker(20 * time.Millisecond)
				defer tick.Stop()
				for {
					var m runtime.MemStats
					runtime.ReadMemStats(&m)
					peakHeap = max(peakHeap, m.HeapInuse)
					peakGoroutines = max(peakGoroutines, runtime.NumGoroutine())
					select {
					case <-stop:
						return
					case <-tick.C:
					}
				}
			})
			start := time.Now()
			rs := l.Probe(context.Background(), targets, probe.Options{Timeout: tt.timeout, Concurrency: tt.concurrency})
			elapsed := time.Since(start)
			close(stop)
			wg.Wait()
			count := map[probe.Status]int{}
			for _, r := range rs {
				count[r.EPM]++
			}
			if want := map[probe.Status]int{probe.StatusOK: answering, probe.StatusTimeout: len(targets) - answering}; !cmp.Equal(want, count) {
				t.Errorf("statuses %v, want %v", count, want)
			}
			rounds := (len(targets) + tt.concurrency - 1) / tt.concurrency
			ideal := time.Duration(rounds) * tt.timeout
			if elapsed > ideal*13/10+time.Second {
				t.Errorf("%d targets took %v, want about ceil(%d/%d) × %v = %v", len(targets), elapsed, len(targets), tt.concurrency, tt.timeout, ideal)
			}
			if peakGoroutines > 3*tt.concurrency+50 {
				t.Errorf("peak goroutines %d for concurrency %d", peakGoroutines, tt.concurrency)
			}
			t.Logf("%d targets (%d answering), concurrency %d, timeout %v: %v (ideal %v); peak heap in use %.1f MiB (%.1f MiB before), peak goroutines %d",
				len(targets), answering, tt.concurrency, tt.timeout, elapsed.Round(time.Millisecond), ideal,
				float64(peakHeap)/(1<<20), float64(base.HeapInuse)/(1<<20), peakGoroutines)
		})
	}
}

// TestCLI runs the rpcspan binary itself inside the client namespace
// against the DC with drsuapi pinned to 5000 and 50000-50500 declared:
// "rpcspan probe" and "rpcspan audit --probe" must report exactly the
// endpoints on 5000 and exit 1.
func TestCLI(t *testing.T) {
	l := lab(t)
	bin := filepath.Join(t.TempDir(), "rpcspan")
	if out, err := exec.Command("go", "build", "-o", bin, "../../../cmd/rpcspan").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dc := samba(t, rangePinned)
	rpc, err := dc.RPCClientTCP()
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, e := range rpc {
		if e.Port == 5000 {
			want = append(want, fmt.Sprintf("endpoint-outside-range DC1 5000 %s", e.UUID))
		}
	}
	declare := []string{"-q", "-o", "json", "--timeout", "2s", "--host", "DC1=" + DCAddr.String(), "--range", "DC1:tcp=50000-50500"}
	tests := []struct {
		name string
		args []string
		flag string // what "--help" must show for the command to be there
	}{
		{"probe", append([]string{"probe"}, declare...), "--concurrency"},
		{"audit --probe", append([]string{"audit", "--probe"}, declare...), "--probe"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			help, _ := exec.Command(bin, tt.args[0], "--help").CombinedOutput()
			if !strings.Contains(string(help), tt.flag) {
				netnstest.Skip(t, fmt.Sprintf("rpcspan %s has no %s yet (cmd/rpcspan/app.go and audit.go must wire cmd/rpcspan/probe.go)", tt.args[0], tt.flag))
			}
			var stdout, stderr strings.Builder
			cmd := l.Client.Command(context.Background(), bin, tt.args...)
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
				t.Fatalf("rpcspan %v: %v, want exit 1\nstderr: %s", tt.args, err, stderr.String())
			}
			var out struct {
				Findings []struct {
					ID, Host string
					Detail   map[string]any
				}
			}
			if err := json.Unmarshal([]byte(stdout.String()), &out); err != nil {
				t.Fatalf("rpcspan %v: %v\n%s", tt.args, err, stdout.String())
			}
			var got []string
			for _, f := range out.Findings {
				if strings.HasPrefix(f.ID, "endpoint-") || strings.HasPrefix(f.ID, "epm-") {
					got = append(got, fmt.Sprintf("%s %s %v %v", f.ID, f.Host, f.Detail["port"], f.Detail["uuid"]))
				}
			}
			slices.Sort(got)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("rpcspan %v probe findings (-want +got):\n%s", tt.args, diff)
			}
		})
	}
}
