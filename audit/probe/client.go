package probe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"
)

// Limits bound what one endpoint-mapper exchange may cost. The zero value
// of a field means its default.
type Limits struct {
	// PageSize is max_ents, the entries asked for per ept_lookup call
	// (default 500, what impacket asks; a Windows DC lists 300-500).
	PageSize int
	// MaxEntries is the most entries read over all pages (default 8192).
	MaxEntries int
	// MaxPages is the most ept_lookup calls (default 64): a server that
	// keeps handing out a live entry handle is cut off here.
	MaxPages int
	// MaxResponse is the most stub bytes one response may reassemble to
	// across fragments (default 4 MiB).
	MaxResponse int
	// MaxFragments is the most fragments of one response (default 1024),
	// against a server sending endless empty fragments.
	MaxFragments int
}

func (l Limits) withDefaults() Limits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.PageSize, 500)
	def(&l.MaxEntries, 8192)
	def(&l.MaxPages, 64)
	def(&l.MaxResponse, 4<<20)
	def(&l.MaxFragments, 1024)
	return l
}

// ErrTimeout is wrapped by errors from an exchange that ran past a
// deadline: the server accepted the connection but did not answer in time.
var ErrTimeout = errors.New("timed out")

// session is one endpoint-mapper connection.
type session struct {
	conn     net.Conn
	timeout  time.Duration // for each read and write
	total    time.Duration // for the whole exchange
	deadline time.Time     // start + total
	lim      Limits
	callID   uint32
	hdr      [headerLen]byte
}

// Lookup lists the endpoint map of the server at the other end of conn:
// bind, then ept_lookup page after page. Each read and write must finish
// within timeout and the whole exchange within total; lim bounds the rest.
// Entries decoded before an error are returned with it.
func Lookup(ctx context.Context, conn net.Conn, timeout, total time.Duration, lim Limits) ([]Entry, error) {
	s := &session{conn: conn, timeout: timeout, total: total, deadline: time.Now().Add(total), lim: lim.withDefaults()}
	if d, ok := ctx.Deadline(); ok && d.Before(s.deadline) {
		s.deadline = d
	}
	// A cancelled context closes the connection, which ends any read.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	entries, err := s.lookup()
	if err != nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	return entries, err
}

func (s *session) lookup() ([]Entry, error) {
	s.callID = 1
	if err := s.write(encodeBind(s.callID, EPMapper)); err != nil {
		return nil, fmt.Errorf("sending bind: %w", err)
	}
	h, pdu, err := s.readPDU()
	if err != nil {
		return nil, fmt.Errorf("reading bind answer: %w", err)
	}
	if err := parseBindAck(h, pdu); err != nil {
		return nil, err
	}
	var all []Entry
	var cur handle
	for page := 1; ; page++ {
		if page > s.lim.MaxPages {
			return all, fmt.Errorf("endpoint mapper still had more after %d pages (%d entries): giving up", s.lim.MaxPages, len(all))
		}
		s.callID++
		if err := s.write(encodeRequest(s.callID, opLookup, encodeLookup(cur, uint32(s.lim.PageSize)))); err != nil {
			return all, fmt.Errorf("sending ept_lookup: %w", err)
		}
		stub, err := s.response()
		if err != nil {
			return all, fmt.Errorf("ept_lookup page %d: %w", page, err)
		}
		p, err := decodeLookup(stub, uint32(s.lim.PageSize))
		if err != nil {
			return all, fmt.Errorf("page %d: %w", page, err)
		}
		if len(all)+len(p.entries) > s.lim.MaxEntries {
			return all, fmt.Errorf("endpoint mapper sent more than %d entries: giving up", s.lim.MaxEntries)
		}
		// samba-dcerpcd sends its last entries together with
		// ept_s_not_registered: keep them before looking at the status.
		all = append(all, p.entries...)
		switch {
		case p.status == statusNotRegistered:
			return all, nil
		case p.status != 0:
			return all, fmt.Errorf("ept_lookup page %d: status 0x%08x", page, p.status)
		case p.next.isNull():
			return all, nil
		}
		cur = p.next
	}
}

// response reads the fragments of one response and returns its stub.
func (s *session) response() ([]byte, error) {
	var stub []byte
	for frag := 1; ; frag++ {
		if frag > s.lim.MaxFragments {
			return nil, fmt.Errorf("response of more than %d fragments", s.lim.MaxFragments)
		}
		h, pdu, err := s.readPDU()
		if err != nil {
			return nil, err
		}
		switch h.ptype {
		case ptypeResponse:
		case ptypeFault:
			return nil, faultError(pdu)
		default:
			return nil, fmt.Errorf("answer is a PDU of type %d, want a response", h.ptype)
		}
		if h.callID != s.callID {
			return nil, fmt.Errorf("response to call %d while waiting for call %d", h.callID, s.callID)
		}
		part, err := responseStub(h, pdu)
		if err != nil {
			return nil, err
		}
		if len(stub)+len(part) > s.lim.MaxResponse {
			return nil, fmt.Errorf("response larger than %d bytes", s.lim.MaxResponse)
		}
		stub = append(stub, part...)
		if h.flags&pfcLastFrag != 0 {
			return stub, nil
		}
	}
}

// readPDU reads one PDU. The fragment length is a 16-bit field, so one
// PDU never needs more than 64 KiB.
func (s *session) readPDU() (header, []byte, error) {
	if err := s.setDeadline(); err != nil {
		return header{}, nil, err
	}
	if _, err := io.ReadFull(s.conn, s.hdr[:]); err != nil {
		return header{}, nil, s.netErr(err, "header")
	}
	h, err := parseHeader(s.hdr[:])
	if err != nil {
		return header{}, nil, err
	}
	pdu := make([]byte, h.fragLen)
	copy(pdu, s.hdr[:])
	if err := s.setDeadline(); err != nil {
		return header{}, nil, err
	}
	if _, err := io.ReadFull(s.conn, pdu[headerLen:]); err != nil {
		return header{}, nil, s.netErr(err, fmt.Sprintf("rest of a %d-byte PDU", h.fragLen))
	}
	return h, pdu, nil
}

func (s *session) write(b []byte) error {
	if err := s.setDeadline(); err != nil {
		return err
	}
	_, err := s.conn.Write(b)
	if err != nil {
		return s.netErr(err, "")
	}
	return nil
}

// setDeadline gives the next read or write the per-read timeout, cut
// short by the exchange's deadline.
func (s *session) setDeadline() error {
	now := time.Now()
	if !now.Before(s.deadline) {
		return s.overrun()
	}
	d := now.Add(s.timeout)
	if s.deadline.Before(d) {
		d = s.deadline
	}
	return s.conn.SetDeadline(d)
}

// overrun is the error of an exchange that ran out of time as a whole.
func (s *session) overrun() error {
	return fmt.Errorf("exchange not finished within %v: %w", s.total, ErrTimeout)
}

// netErr words a read or write error: a deadline becomes ErrTimeout, a
// connection closed in the middle of a PDU says so.
func (s *session) netErr(err error, what string) error {
	if what != "" {
		what = " reading " + what
	}
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded) && !time.Now().Before(s.deadline):
		return s.overrun()
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("no answer%s within %v: %w", what, s.timeout, ErrTimeout)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("connection closed in the middle of a PDU%s", what)
	case errors.Is(err, io.EOF):
		return fmt.Errorf("connection closed by the server%s", what)
	}
	return err
}
