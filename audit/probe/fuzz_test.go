package probe

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rpcspan/rpcspan/audit/probe/epmtest"
)

// captures returns the real Samba byte streams in testdata.
func captures(f *testing.F) [][]byte {
	paths, err := filepath.Glob("testdata/*.bin")
	if err != nil || len(paths) == 0 {
		f.Fatalf("no captures in testdata: %v", err)
	}
	var out [][]byte
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// FuzzLookup feeds arbitrary server bytes to the whole client. It must
// return (the replay ends with EOF), never panic, and never hold more
// entries than its limit.
func FuzzLookup(f *testing.F) {
	for _, b := range captures(f) {
		f.Add(b)
	}
	lim := Limits{MaxEntries: 200, MaxPages: 8, MaxResponse: 1 << 16, MaxFragments: 16}
	f.Fuzz(func(t *testing.T, data []byte) {
		es, _ := Lookup(context.Background(), replay(data), time.Second, time.Second, lim)
		if len(es) > lim.MaxEntries {
			t.Fatalf("Lookup returned %d entries, limit %d", len(es), lim.MaxEntries)
		}
		_ = endpoints(es, localhost)
	})
}

// FuzzDecodeLookup feeds arbitrary stubs to the ept_lookup decoder; the
// seeds are the stubs of the real captures.
func FuzzDecodeLookup(f *testing.F) {
	for _, b := range captures(f) {
		for len(b) >= headerLen {
			h, err := parseHeader(b)
			if err != nil || int(h.fragLen) > len(b) {
				break
			}
			if h.ptype == ptypeResponse {
				if stub, err := responseStub(h, b[:h.fragLen]); err == nil {
					f.Add(stub)
				}
			}
			b = b[h.fragLen:]
		}
	}
	f.Fuzz(func(t *testing.T, stub []byte) {
		p, err := decodeLookup(stub, 500)
		if err == nil && len(p.entries) > 500 {
			t.Fatalf("decodeLookup returned %d entries, asked for 500", len(p.entries))
		}
		if err == nil && len(p.entries)*minEntryBytes > len(stub) {
			t.Fatalf("decodeLookup returned %d entries from %d bytes", len(p.entries), len(stub))
		}
	})
}

// FuzzDecodeTower feeds arbitrary towers to the tower decoder.
func FuzzDecodeTower(f *testing.F) {
	for _, e := range epmtest.DC(49664, 49665, 49666) {
		f.Add(epmtest.Tower(e))
	}
	f.Add(epmtest.Tower(epmtest.Entry{UUID: "e3514235-4b06-11d1-ab04-00c04fc2dcd2", Protocol: "ncadg_ip_udp", Port: 1032}))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, tw, err := decodeTower(b)
		if err == nil && tw.Protocol == "" {
			t.Fatalf("decodeTower(%x) gave no protocol and no error", b)
		}
		for _, c := range tw.Endpoint + tw.Host {
			if c < 0x20 || c > 0x7e {
				t.Fatalf("decodeTower(%x) let %q through", b, c)
			}
		}
	})
}

// FuzzParseBindAck feeds arbitrary PDUs to the bind_ack parser.
func FuzzParseBindAck(f *testing.F) {
	for _, b := range captures(f) {
		if h, err := parseHeader(b); err == nil && int(h.fragLen) <= len(b) {
			f.Add(b[:h.fragLen])
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := parseHeader(b)
		if err != nil {
			return
		}
		_ = parseBindAck(h, b)
	})
}
