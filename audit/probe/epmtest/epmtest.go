// Package epmtest is a fake DCE/RPC endpoint mapper for tests, like
// net/http/httptest is a fake web server: it answers bind and ept_lookup
// the ways real servers do (the Samba AD DC, samba-dcerpcd, Windows) and
// misbehaves the ways broken or hostile ones could (silence, a trickle,
// oversized lengths, truncated PDUs, endless pages, faults).
//
// It encodes independently of package probe, so that a mistake made the
// same way on both sides cannot hide; the probe's tests also decode real
// Samba captures.
package epmtest

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Entry is one element of the fake endpoint map.
type Entry struct {
	UUID       string // "e3514235-4b06-11d1-ab04-00c04fc2dcd2"
	Major      uint16
	Minor      uint16
	Annotation string
	// Protocol is "ncacn_ip_tcp", "ncacn_http", "ncadg_ip_udp",
	// "ncacn_np" or "ncalrpc".
	Protocol string
	Port     uint16     // ncacn_ip_tcp, ncacn_http, ncadg_ip_udp
	Addr     netip.Addr // IP floor; invalid means 0.0.0.0
	Pipe     string     // ncacn_np pipe or ncalrpc endpoint name
}

// Mode is how the fake answers.
type Mode int

// The modes.
const (
	// SambaDC answers with every entry (up to max_ents) and status 0 with
	// a live handle, then an empty page with ept_s_not_registered.
	SambaDC Mode = iota
	// Dcerpcd pages by max_ents and sends the last entries together with
	// ept_s_not_registered and a null handle.
	Dcerpcd
	// Windows pages by max_ents with status 0; the last page carries a
	// null handle.
	Windows
	// Silent accepts the connection and never sends a byte.
	Silent
	// Trickle answers ept_lookup with response fragments that never carry
	// the last-fragment flag, one every TrickleEvery: each arrives in
	// time, the whole never does.
	Trickle
	// HugeFragment sends a header claiming a 65535-byte PDU, then stops.
	HugeFragment
	// Truncated sends half a bind_ack and closes.
	Truncated
	// HugeCount answers ept_lookup with a count of 0xffffffff entries.
	HugeCount
	// HugeTower answers with a tower claiming 0x7fffffff bytes.
	HugeTower
	// Endless answers every ept_lookup with one entry and a live handle,
	// forever.
	Endless
	// EndlessFragments answers ept_lookup with fragments that never carry
	// the last-fragment flag.
	EndlessFragments
	// Fault answers ept_lookup with a fault PDU (nca_s_op_rng_error).
	Fault
	// BindNak refuses the bind.
	BindNak
	// NotRPC answers like a web server.
	NotRPC
	// CloseAfterBind closes the connection after the bind_ack, once the
	// first request has arrived.
	CloseAfterBind
)

// Server is a running fake endpoint mapper.
type Server struct {
	Entries []Entry
	Mode    Mode
	// TrickleEvery is Trickle's pace (default 200ms); set it before the
	// first connection.
	TrickleEvery time.Duration

	l        net.Listener
	mu       sync.Mutex
	conns    map[net.Conn]bool
	accepted int
	maxOpen  int
	closed   bool
	wg       sync.WaitGroup
	done     chan struct{}
}

// Serve answers connections on l in mode m until Close.
func Serve(l net.Listener, m Mode, entries []Entry) *Server {
	s := &Server{Entries: entries, Mode: m, TrickleEvery: 200 * time.Millisecond, l: l,
		conns: map[net.Conn]bool{}, done: make(chan struct{})}
	s.wg.Go(s.accept)
	return s
}

// Listen serves on a new listener at addr, such as "127.0.0.1:0".
func Listen(addr string, m Mode, entries []Entry) (*Server, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return Serve(l, m, entries), nil
}

// Addr returns the listener's address.
func (s *Server) Addr() netip.AddrPort {
	return s.l.Addr().(*net.TCPAddr).AddrPort()
}

// Stats returns how many connections were accepted and the most that
// were open at once.
func (s *Server) Stats() (accepted, maxOpen int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepted, s.maxOpen
}

// Close stops the listener, drops every connection and waits for the
// handlers to end.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	s.l.Close()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	close(s.done)
	s.wg.Wait()
}

func (s *Server) accept() {
	for {
		c, err := s.l.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = true
		s.accepted++
		s.maxOpen = max(s.maxOpen, len(s.conns))
		s.mu.Unlock()
		s.wg.Go(func() {
			defer func() {
				c.Close()
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
			}()
			s.handle(c)
		})
	}
}

// handle runs one connection: bind, then ept_lookup calls.
func (s *Server) handle(c net.Conn) {
	bind, err := readPDU(c)
	if err != nil {
		return
	}
	callID := binary.LittleEndian.Uint32(bind[12:16])
	switch s.Mode {
	case Silent:
		// Hold the connection until the client gives up (or Close).
		io.Copy(io.Discard, c)
		return
	case NotRPC:
		io.WriteString(c, "HTTP/1.0 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
		return
	case BindNak:
		c.Write(pdu(13, 3, callID, []byte{4, 0, 0, 0})) // protocol version not supported
		return
	case HugeFragment:
		h := pdu(12, 3, callID, nil)
		binary.LittleEndian.PutUint16(h[8:10], 0xffff)
		c.Write(h)
		io.Copy(io.Discard, c)
		return
	case Truncated:
		ack := bindAck(callID)
		c.Write(ack[:len(ack)/2])
		return
	}
	if _, err := c.Write(bindAck(callID)); err != nil {
		return
	}
	if s.Mode == CloseAfterBind {
		// Take the request first: closing with it unread would send a
		// reset, and the client would see that instead of the close.
		readPDU(c)
		return
	}
	next := 0 // index of the next entry to send
	for page := 0; ; page++ {
		req, err := readPDU(c)
		if err != nil || len(req) < 24+40 {
			return
		}
		callID := binary.LittleEndian.Uint32(req[12:16])
		stub := req[24:]
		maxEnts := int(binary.LittleEndian.Uint32(stub[36:40]))
		switch s.Mode {
		case Fault:
			c.Write(pdu(3, 3, callID, []byte{0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0, 0x01, 0x1c}))
			return
		case EndlessFragments:
			for {
				if _, err := c.Write(pdu(2, 1, callID, make([]byte, 8+64))); err != nil {
					return
				}
			}
		case Trickle:
			t := time.NewTicker(s.TrickleEvery)
			defer t.Stop()
			for {
				select {
				case <-s.done:
					return
				case <-t.C:
				}
				if _, err := c.Write(pdu(2, 1, callID, make([]byte, 8+64))); err != nil {
					return
				}
			}
		}
		var body []byte
		switch s.Mode {
		case HugeCount:
			body = lookupStub(liveHandle, nil, 0)
			binary.LittleEndian.PutUint32(body[20:24], 0xffffffff)
			binary.LittleEndian.PutUint32(body[24:28], 0xffffffff)
			binary.LittleEndian.PutUint32(body[32:36], 0xffffffff)
		case HugeTower:
			body = lookupStub(handleNull, s.Entries[:1], 0)
			// The tower's conformance and length follow the one inline
			// entry: handle 20, counts 16, object 16, pointer 4,
			// annotation header 8 and text, aligned.
			off := 20 + 16 + 16 + 4 + 8 + len(s.Entries[0].Annotation) + 1
			off = (off + 3) &^ 3
			binary.LittleEndian.PutUint32(body[off:], 0x7fffffff)
			binary.LittleEndian.PutUint32(body[off+4:], 0x7fffffff)
		case Endless:
			body = lookupStub(liveHandle, s.Entries[:1], 0)
		case SambaDC:
			if next >= len(s.Entries) {
				body = lookupStub(handleNull, nil, notRegistered)
			} else {
				n := min(maxEnts, len(s.Entries)-next)
				body = lookupStub(liveHandle, s.Entries[next:next+n], 0)
				next += n
			}
		case Dcerpcd, Windows:
			n := min(maxEnts, len(s.Entries)-next)
			part := s.Entries[next : next+n]
			next += n
			switch {
			case next < len(s.Entries):
				body = lookupStub(liveHandle, part, 0)
			case s.Mode == Dcerpcd:
				body = lookupStub(handleNull, part, notRegistered)
			default:
				body = lookupStub(handleNull, part, 0)
			}
		}
		if err := writeResponse(c, callID, body); err != nil {
			return
		}
	}
}

const notRegistered = 0x16c9a0d6

var (
	handleNull [20]byte
	liveHandle = [20]byte{0, 0, 0, 0, 0x11, 0x22, 0x33, 0x44, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
)

// readPDU reads one PDU, at most 64 KiB by construction.
func readPDU(c net.Conn) ([]byte, error) {
	h := make([]byte, 16)
	if _, err := io.ReadFull(c, h); err != nil {
		return nil, err
	}
	n := int(binary.LittleEndian.Uint16(h[8:10]))
	if n < 16 {
		return nil, errors.New("short fragment")
	}
	b := make([]byte, n)
	copy(b, h)
	_, err := io.ReadFull(c, b[16:])
	return b, err
}

// pdu builds a PDU of type t with flags and body.
func pdu(t, flags byte, callID uint32, body []byte) []byte {
	b := []byte{5, 0, t, flags, 0x10, 0, 0, 0, 0, 0, 0, 0}
	b = binary.LittleEndian.AppendUint32(b, callID)
	b = append(b, body...)
	binary.LittleEndian.PutUint16(b[8:10], uint16(len(b)))
	return b
}

func bindAck(callID uint32) []byte {
	var b []byte
	b = binary.LittleEndian.AppendUint16(b, 5840)
	b = binary.LittleEndian.AppendUint16(b, 5840)
	b = binary.LittleEndian.AppendUint32(b, 0x1234)
	b = binary.LittleEndian.AppendUint16(b, 4) // secondary address "135\0"
	b = append(b, "135\x00"...)
	for (16+len(b))%4 != 0 {
		b = append(b, 0)
	}
	b = append(b, 1, 0, 0, 0)
	b = append(b, 0, 0, 0, 0) // acceptance
	b = appendUUID(b, "8a885d04-1ceb-11c9-9fe8-08002b104860")
	b = binary.LittleEndian.AppendUint32(b, 2)
	return pdu(12, 3, callID, b)
}

// writeResponse splits body into response fragments of at most 4096
// bytes of stub, so that the client's reassembly is exercised.
func writeResponse(c net.Conn, callID uint32, stub []byte) error {
	const chunk = 4096
	for first := true; first || len(stub) > 0; first = false {
		n := min(chunk, len(stub))
		var flags byte
		if first {
			flags |= 1
		}
		if n == len(stub) {
			flags |= 2
		}
		var b []byte
		b = binary.LittleEndian.AppendUint32(b, uint32(len(stub)))
		b = append(b, 0, 0, 0, 0)
		b = append(b, stub[:n]...)
		if _, err := c.Write(pdu(2, flags, callID, b)); err != nil {
			return err
		}
		stub = stub[n:]
	}
	return nil
}

func appendUUID(b []byte, s string) []byte {
	raw, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
	if err != nil || len(raw) != 16 {
		panic("epmtest: bad uuid " + s)
	}
	b = binary.LittleEndian.AppendUint32(b, binary.BigEndian.Uint32(raw[0:4]))
	b = binary.LittleEndian.AppendUint16(b, binary.BigEndian.Uint16(raw[4:6]))
	b = binary.LittleEndian.AppendUint16(b, binary.BigEndian.Uint16(raw[6:8]))
	return append(b, raw[8:]...)
}

func align4(b []byte) []byte {
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// lookupStub encodes an ept_lookup response.
func lookupStub(h [20]byte, entries []Entry, status uint32) []byte {
	b := append([]byte{}, h[:]...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(entries)))
	b = binary.LittleEndian.AppendUint32(b, uint32(max(len(entries), 1))) // max_count
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(entries)))
	for i, e := range entries {
		b = align4(b)
		b = append(b, make([]byte, 16)...)                         // object: nil UUID
		b = binary.LittleEndian.AppendUint32(b, uint32(0x20000+i)) // tower referent
		b = binary.LittleEndian.AppendUint32(b, 0)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(e.Annotation)+1))
		b = append(b, e.Annotation...)
		b = append(b, 0)
	}
	for _, e := range entries {
		t := Tower(e)
		b = align4(b)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(t)))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(t)))
		b = append(b, t...)
	}
	b = align4(b)
	return binary.LittleEndian.AppendUint32(b, status)
}

// Tower encodes e's protocol tower the way Windows and Samba do.
func Tower(e Entry) []byte {
	type fl struct{ lhs, rhs []byte }
	u16 := func(v uint16) []byte { return binary.LittleEndian.AppendUint16(nil, v) }
	be16 := func(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
	ip := []byte{0, 0, 0, 0}
	if e.Addr.IsValid() {
		ip = e.Addr.AsSlice()
	}
	floors := []fl{
		{append(appendUUID([]byte{0x0d}, e.UUID), u16(e.Major)...), u16(e.Minor)},
		{append(appendUUID([]byte{0x0d}, "8a885d04-1ceb-11c9-9fe8-08002b104860"), 2, 0), u16(0)},
	}
	switch e.Protocol {
	case "ncacn_ip_tcp":
		floors = append(floors, fl{[]byte{0x0b}, u16(0)}, fl{[]byte{0x07}, be16(e.Port)}, fl{[]byte{0x09}, ip})
	case "ncacn_http":
		floors = append(floors, fl{[]byte{0x0b}, u16(0)}, fl{[]byte{0x1f}, be16(e.Port)}, fl{[]byte{0x09}, ip})
	case "ncadg_ip_udp":
		floors = append(floors, fl{[]byte{0x0a}, u16(0)}, fl{[]byte{0x08}, be16(e.Port)}, fl{[]byte{0x09}, ip})
	case "ncacn_np":
		floors = append(floors, fl{[]byte{0x0b}, u16(0)}, fl{[]byte{0x0f}, append([]byte(e.Pipe), 0)}, fl{[]byte{0x11}, []byte("FAKE\x00")})
	case "ncalrpc":
		floors = append(floors, fl{[]byte{0x0c}, u16(0)}, fl{[]byte{0x10}, append([]byte(e.Pipe), 0)})
	}
	b := u16(uint16(len(floors)))
	for _, f := range floors {
		b = binary.LittleEndian.AppendUint16(b, uint16(len(f.lhs)))
		b = append(b, f.lhs...)
		b = binary.LittleEndian.AppendUint16(b, uint16(len(f.rhs)))
		b = append(b, f.rhs...)
	}
	return b
}

// DC returns a small map like a domain controller's: the endpoint mapper
// on 135, netlogon on ncacn_ip_tcp port netlogon, lsarpc and drsuapi on
// lsa, samr on samr, some named pipes, ncalrpc and the ncacn_http endpoint
// on 593 nothing listens on. Towers carry 0.0.0.0, as the Samba AD DC's
// do.
func DC(netlogon, lsa, samr uint16) []Entry {
	return []Entry{
		{UUID: "e1af8308-5d1f-11c9-91a4-08002b14a0fa", Major: 3, Annotation: "epmapper", Protocol: "ncacn_ip_tcp", Port: 135},
		{UUID: "e1af8308-5d1f-11c9-91a4-08002b14a0fa", Major: 3, Annotation: "epmapper", Protocol: "ncacn_http", Port: 593},
		{UUID: "12345678-1234-abcd-ef00-01234567cffb", Major: 1, Annotation: "netlogon", Protocol: "ncacn_ip_tcp", Port: netlogon},
		{UUID: "12345678-1234-abcd-ef00-01234567cffb", Major: 1, Annotation: "netlogon", Protocol: "ncacn_np", Pipe: `\pipe\netlogon`},
		{UUID: "12345778-1234-abcd-ef00-0123456789ab", Annotation: "lsarpc", Protocol: "ncacn_ip_tcp", Port: lsa},
		{UUID: "e3514235-4b06-11d1-ab04-00c04fc2dcd2", Major: 4, Annotation: "drsuapi", Protocol: "ncacn_ip_tcp", Port: lsa},
		{UUID: "e3514235-4b06-11d1-ab04-00c04fc2dcd2", Major: 4, Annotation: "drsuapi", Protocol: "ncalrpc", Pipe: "DEFAULT"},
		{UUID: "12345778-1234-abcd-ef00-0123456789ac", Major: 1, Annotation: "samr", Protocol: "ncacn_ip_tcp", Port: samr},
	}
}
