package probe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rpcspan/rpcspan/audit/probe/epmtest"
)

// replayConn plays back what a server sent and swallows what the client
// writes: the captures in testdata were recorded from the real Samba
// servers with this client, so the call ids and page sizes line up.
type replayConn struct {
	net.Conn // nil: only the methods below are used
	r        *bytes.Reader
}

func (c *replayConn) Read(b []byte) (int, error)       { return c.r.Read(b) }
func (c *replayConn) Write(b []byte) (int, error)      { return len(b), nil }
func (c *replayConn) Close() error                     { return nil }
func (c *replayConn) SetDeadline(time.Time) error      { return nil }
func (c *replayConn) SetReadDeadline(time.Time) error  { return nil }
func (c *replayConn) SetWriteDeadline(time.Time) error { return nil }

func replay(b []byte) net.Conn { return &replayConn{r: bytes.NewReader(b)} }

// tcpLines lists the ncacn_ip_tcp entries as "PORT NAME vVERSION".
func tcpLines(es []Entry) []string {
	var out []string
	for _, e := range es {
		if e.Tower.Protocol == "ncacn_ip_tcp" {
			out = append(out, fmt.Sprintf("%d %s v%s %s", e.Tower.Port, InterfaceName(e.Interface.UUID), e.Interface.Version(), e.Tower.Addr))
		}
	}
	return out
}

func protoCounts(es []Entry) map[string]int {
	out := map[string]int{}
	for _, e := range es {
		out[e.Tower.Protocol]++
	}
	return out
}

// TestLookupSambaCaptures decodes what Samba 4.17 really sent: the AD DC
// (every entry with status 0, then an empty page with
// ept_s_not_registered) and samba-dcerpcd (the last entries together with
// ept_s_not_registered and a null handle), each read in one page of 500
// and in pages of 4.
func TestLookupSambaCaptures(t *testing.T) {
	dcTCP := []string{
		"50001 dnsserver v5.0 0.0.0.0", "50001 backupkey v1.0 0.0.0.0", "50001 eventlog6 v1.0 0.0.0.0",
		"50001 browser v0.0 0.0.0.0", "50001 unixinfo v0.0 0.0.0.0", "50001 dssetup v0.0 0.0.0.0",
		"50001 drsuapi v4.0 0.0.0.0", "50001 lsarpc v0.0 0.0.0.0", "50001 mgmt v1.0 0.0.0.0",
		"50000 netlogon v1.0 0.0.0.0", "50000 mgmt v1.0 0.0.0.0",
		"50002 samr v1.0 0.0.0.0", "50002 wkssvc v1.0 0.0.0.0", "50002 mgmt v1.0 0.0.0.0",
		"135 epmapper v3.0 0.0.0.0", "135 mgmt v1.0 0.0.0.0",
	}
	dcCounts := map[string]int{"ncacn_ip_tcp": 16, "ncacn_np": 24, "ncalrpc": 11, "ncacn_http": 2}
	fsTCP := []string{
		"50001 winreg v1.0 127.0.0.1", "50000 srvsvc v3.0 127.0.0.1", "50002 lsarpc v0.0 127.0.0.1",
		"135 epmapper v3.0 127.0.0.1", "50000 wkssvc v1.0 127.0.0.1", "50002 samr v1.0 127.0.0.1",
		"50002 dssetup v0.0 127.0.0.1", "50000 netdfs v3.0 127.0.0.1",
	}
	// rpcclient -c epmlookup prints 17 ncacn_np: it drops \pipe\netdfs,
	// the entry that comes with ept_s_not_registered.
	fsCounts := map[string]int{"ncacn_ip_tcp": 8, "ncacn_np": 18, "ncalrpc": 11, "ncacn_http": 1}
	tests := []struct {
		file   string
		page   int
		tcp    []string
		counts map[string]int
		last   string // protocol and endpoint of the last entry
	}{
		{"samba-ad-dc.bin", 500, dcTCP, dcCounts, `ncacn_np \pipe\epmapper`},
		{"samba-ad-dc-page4.bin", 4, dcTCP, dcCounts, `ncacn_np \pipe\epmapper`},
		{"samba-dcerpcd.bin", 500, fsTCP, fsCounts, `ncacn_np \pipe\netdfs`},
		{"samba-dcerpcd-page4.bin", 4, fsTCP, fsCounts, `ncacn_np \pipe\netdfs`},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b, err := os.ReadFile("testdata/" + tt.file)
			if err != nil {
				t.Fatal(err)
			}
			es, err := Lookup(context.Background(), replay(b), time.Second, time.Second, Limits{PageSize: tt.page})
			if err != nil {
				t.Fatalf("Lookup(%s) error %v", tt.file, err)
			}
			if diff := cmp.Diff(tt.tcp, tcpLines(es)); diff != "" {
				t.Errorf("Lookup(%s) ncacn_ip_tcp entries (-want +got):\n%s", tt.file, diff)
			}
			if diff := cmp.Diff(tt.counts, protoCounts(es)); diff != "" {
				t.Errorf("Lookup(%s) protocols (-want +got):\n%s", tt.file, diff)
			}
			if last := es[len(es)-1].Tower; last.Protocol+" "+last.Endpoint != tt.last {
				t.Errorf("Lookup(%s) last entry %s %s, want %s", tt.file, last.Protocol, last.Endpoint, tt.last)
			}
		})
	}
}

// TestLookupTruncatedCaptures cuts a real capture at every PDU boundary
// and in the middle of each PDU: the client must fail with a clear error
// (never hang, never panic) and keep the entries of complete pages.
func TestLookupTruncatedCaptures(t *testing.T) {
	b, err := os.ReadFile("testdata/samba-dcerpcd-page4.bin")
	if err != nil {
		t.Fatal(err)
	}
	for cut := 0; cut < len(b); cut += 97 {
		es, err := Lookup(context.Background(), replay(b[:cut]), time.Second, time.Second, Limits{PageSize: 4})
		if err == nil {
			t.Fatalf("Lookup(capture cut at %d) = %d entries, nil error; want an error", cut, len(es))
		}
		if !strings.Contains(err.Error(), "connection closed") {
			t.Errorf("Lookup(capture cut at %d) error %q, want it to say the connection closed", cut, err)
		}
	}
}

// startFake runs a fake endpoint mapper on 127.0.0.1.
func startFake(t *testing.T, m epmtest.Mode, entries []epmtest.Entry) *epmtest.Server {
	t.Helper()
	s, err := epmtest.Listen("127.0.0.1:0", m, entries)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func dialFake(t *testing.T, s *epmtest.Server) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestLookupFake runs the client against well-behaved fakes of the three
// paging styles, and against hostile ones: each must end within the
// exchange limit with the error given.
func TestLookupFake(t *testing.T) {
	entries := epmtest.DC(50000, 50001, 50002)
	many := make([]epmtest.Entry, 0, 1200)
	for len(many) < 1200 {
		many = append(many, entries...)
	}
	const timeout, exchange = 300 * time.Millisecond, time.Second
	tests := []struct {
		name    string
		mode    epmtest.Mode
		entries []epmtest.Entry
		lim     Limits
		want    int // entries
		err     string
		timeout bool // the error wraps ErrTimeout
	}{
		{name: "samba dc", mode: epmtest.SambaDC, entries: entries, want: 8},
		{name: "samba dc paged", mode: epmtest.SambaDC, entries: entries, lim: Limits{PageSize: 3}, want: 8},
		{name: "dcerpcd paged", mode: epmtest.Dcerpcd, entries: entries, lim: Limits{PageSize: 3}, want: 8},
		{name: "dcerpcd one page", mode: epmtest.Dcerpcd, entries: entries, want: 8},
		{name: "windows paged", mode: epmtest.Windows, entries: entries, lim: Limits{PageSize: 5}, want: 8},
		{name: "windows multi-fragment", mode: epmtest.Windows, entries: many, want: 1200},
		{name: "too many entries", mode: epmtest.Windows, entries: many, lim: Limits{MaxEntries: 1000}, want: 1000,
			err: "endpoint mapper sent more than 1000 entries: giving up"},
		{name: "response too large", mode: epmtest.Windows, entries: many, lim: Limits{MaxResponse: 10000},
			err: "ept_lookup page 1: response larger than 10000 bytes"},
		{name: "silent", mode: epmtest.Silent, entries: entries,
			err: "reading bind answer: no answer reading header within 300ms: timed out", timeout: true},
		{name: "trickle", mode: epmtest.Trickle, entries: entries,
			err: "ept_lookup page 1: exchange not finished within 1s: timed out", timeout: true},
		{name: "huge fragment", mode: epmtest.HugeFragment, entries: entries,
			err: "reading bind answer: no answer reading rest of a 65535-byte PDU within 300ms: timed out", timeout: true},
		{name: "truncated", mode: epmtest.Truncated, entries: entries,
			err: "reading bind answer: connection closed in the middle of a PDU reading rest of a 60-byte PDU"},
		{name: "huge count", mode: epmtest.HugeCount, entries: entries,
			err: "page 1: ept_lookup response: 4294967295 entries, more than the 500 asked for"},
		{name: "huge tower", mode: epmtest.HugeTower, entries: entries,
			err: "page 1: ept_lookup response: entry 0: tower of 2147483647 bytes (array of 2147483647) with 80 bytes left"},
		{name: "endless pages", mode: epmtest.Endless, entries: entries, want: 64,
			err: "endpoint mapper still had more after 64 pages (64 entries): giving up"},
		{name: "endless fragments", mode: epmtest.EndlessFragments, entries: entries,
			err: "ept_lookup page 1: response of more than 1024 fragments"},
		{name: "fault", mode: epmtest.Fault, entries: entries,
			err: "ept_lookup page 1: server sent fault 0x1c010002 (nca_s_op_rng_error)"},
		{name: "bind nak", mode: epmtest.BindNak, entries: entries, err: "bind refused: protocol version not supported"},
		{name: "not rpc", mode: epmtest.NotRPC, entries: entries,
			err: "reading bind answer: pdu header: protocol version 72.84, want 5.0 or 5.1 (is this DCE/RPC?)"},
		{name: "closed after bind", mode: epmtest.CloseAfterBind, entries: entries,
			err: "ept_lookup page 1: connection closed by the server reading header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startFake(t, tt.mode, tt.entries)
			start := time.Now()
			es, err := Lookup(context.Background(), dialFake(t, s), timeout, exchange, tt.lim)
			if d := time.Since(start); d > exchange+200*time.Millisecond {
				t.Errorf("Lookup took %v, want at most the exchange limit %v", d, exchange)
			}
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.err {
				t.Errorf("Lookup error = %q, want %q", got, tt.err)
			}
			if errors.Is(err, ErrTimeout) != tt.timeout {
				t.Errorf("errors.Is(%v, ErrTimeout) = %v, want %v", err, !tt.timeout, tt.timeout)
			}
			if len(es) != tt.want {
				t.Errorf("Lookup returned %d entries, want %d", len(es), tt.want)
			}
		})
	}
}

// TestLookupCancel: a cancelled context ends a lookup at once, even
// against a server that never answers.
func TestLookupCancel(t *testing.T) {
	s := startFake(t, epmtest.Silent, nil)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, err := Lookup(ctx, dialFake(t, s), time.Minute, time.Minute, Limits{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Lookup after cancel: error %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Lookup after cancel took %v", d)
	}
}
