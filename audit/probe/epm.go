package probe

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// ept_lookup (C706 appendix O) arguments and results.
const (
	opLookup = 2
	// inquiryAll is RPC_C_EP_ALL_ELTS: every element, whatever the
	// interface or object.
	inquiryAll = 0
	// versAll is RPC_C_VERS_ALL.
	versAll = 1
	// statusNotRegistered (ept_s_not_registered) ends the list.
	statusNotRegistered = 0x16c9a0d6
	// maxAnnotation is ept_max_annotation_size.
	maxAnnotation = 64
	// minEntryBytes is the least an entry takes inline: object UUID,
	// tower pointer, annotation offset and count.
	minEntryBytes = 16 + 4 + 4 + 4
	// maxFloors bounds the floors of one tower; real towers have 4 or 5.
	maxFloors = 16
)

// handle is an ept_lookup_handle_t context handle as it travels.
type handle [20]byte

func (h handle) isNull() bool { return h == handle{} }

// encodeLookup returns the stub of an ept_lookup request for every element
// of the map, continuing from h, at most maxEnts entries.
func encodeLookup(h handle, maxEnts uint32) []byte {
	b := make([]byte, 0, 40)
	b = binary.LittleEndian.AppendUint32(b, inquiryAll)
	b = binary.LittleEndian.AppendUint32(b, 0) // object: null unique pointer
	b = binary.LittleEndian.AppendUint32(b, 0) // interface_id: null unique pointer
	b = binary.LittleEndian.AppendUint32(b, versAll)
	b = append(b, h[:]...)
	return binary.LittleEndian.AppendUint32(b, maxEnts)
}

// Entry is one element of a server's endpoint map.
type Entry struct {
	Object     UUID      // usually nil
	Interface  Interface // from the tower's first floor
	Annotation string    // printable ASCII; anything else is replaced by '?'
	Tower      Tower
}

// Tower is a decoded protocol tower: where and how to reach an interface.
type Tower struct {
	// Protocol is the protocol sequence, such as "ncacn_ip_tcp",
	// "ncacn_np", "ncalrpc", "ncacn_http" or "ncadg_ip_udp"; "unknown"
	// when the floors match none.
	Protocol string
	// Port is the TCP or UDP port of ncacn_ip_tcp, ncacn_http and
	// ncadg_ip_udp; 0 for the others.
	Port uint16
	// Addr is the tower's IP address floor; invalid when there is none.
	// Servers often put 0.0.0.0 here.
	Addr netip.Addr
	// Endpoint is the named pipe of ncacn_np or the endpoint name of
	// ncalrpc.
	Endpoint string
	// Host is the NetBIOS name floor of ncacn_np.
	Host string
}

// lookupPage is one ept_lookup answer.
type lookupPage struct {
	next    handle
	entries []Entry
	status  uint32
}

// ndrReader reads NDR little-endian data with alignment counted from the
// start of the stub. Every read is bounds-checked; the first failure
// sticks, so that callers check once.
type ndrReader struct {
	b   []byte
	off int
	err error
}

func (r *ndrReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(format, args...)
	}
}

func (r *ndrReader) align(n int) {
	if r.err != nil {
		return
	}
	a := (r.off + n - 1) &^ (n - 1)
	if a > len(r.b) {
		r.fail("stub truncated at offset %d", r.off)
		return
	}
	r.off = a
}

func (r *ndrReader) bytes(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b)-r.off {
		r.fail("stub truncated at offset %d: %d bytes needed, %d left", r.off, n, len(r.b)-r.off)
		return nil
	}
	p := r.b[r.off : r.off+n]
	r.off += n
	return p
}

func (r *ndrReader) u32() uint32 {
	r.align(4)
	p := r.bytes(4)
	if p == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(p)
}

func (r *ndrReader) left() int { return len(r.b) - r.off }

// decodeLookup decodes an ept_lookup response stub. maxEnts is what the
// request asked for: a server claiming more is broken. A tower that cannot
// be decoded makes its entry's protocol "unknown" rather than failing the
// page; an NDR structure that does not add up fails it.
func decodeLookup(stub []byte, maxEnts uint32) (lookupPage, error) {
	var p lookupPage
	r := &ndrReader{b: stub}
	copy(p.next[:], r.bytes(20))
	num := r.u32()
	maxCount := r.u32()
	offset := r.u32()
	actual := r.u32()
	if r.err != nil {
		return p, fmt.Errorf("ept_lookup response: %w", r.err)
	}
	switch {
	case offset != 0:
		return p, fmt.Errorf("ept_lookup response: entries array offset %d, want 0", offset)
	case actual > maxCount:
		return p, fmt.Errorf("ept_lookup response: %d entries in an array of %d", actual, maxCount)
	case actual > maxEnts:
		return p, fmt.Errorf("ept_lookup response: %d entries, more than the %d asked for", actual, maxEnts)
	case actual != num:
		return p, fmt.Errorf("ept_lookup response: num_ents %d but %d entries in the array", num, actual)
	case int64(actual)*minEntryBytes > int64(r.left()):
		return p, fmt.Errorf("ept_lookup response: %d entries cannot fit in the %d bytes left", actual, r.left())
	}
	p.entries = make([]Entry, actual)
	towerPtr := make([]bool, actual)
	for i := range p.entries {
		e := &p.entries[i]
		r.align(4)
		if b := r.bytes(16); b != nil {
			e.Object = uuidFromNDR(b)
		}
		towerPtr[i] = r.u32() != 0
		aOff, aLen := r.u32(), r.u32()
		if r.err == nil && (aOff != 0 || aLen > maxAnnotation) {
			return p, fmt.Errorf("ept_lookup response: entry %d: annotation offset %d length %d (at most %d)", i, aOff, aLen, maxAnnotation)
		}
		e.Annotation = cleanString(r.bytes(int(aLen)))
	}
	for i := range p.entries {
		if !towerPtr[i] {
			p.entries[i].Tower.Protocol = "unknown"
			continue
		}
		size := r.u32()
		length := r.u32()
		if r.err == nil && (length != size || int64(length) > int64(r.left())) {
			return p, fmt.Errorf("ept_lookup response: entry %d: tower of %d bytes (array of %d) with %d bytes left", i, length, size, r.left())
		}
		raw := r.bytes(int(length))
		if r.err != nil {
			break
		}
		iface, t, err := decodeTower(raw)
		if err != nil {
			t.Protocol = "unknown"
		}
		p.entries[i].Interface, p.entries[i].Tower = iface, t
	}
	p.status = r.u32()
	if r.err != nil {
		return lookupPage{}, fmt.Errorf("ept_lookup response: %w", r.err)
	}
	return p, nil
}

// Protocol identifiers of tower floors (C706 appendix I, MS-RPCE 2.2.1.1).
const (
	floorNCADG     = 0x0a
	floorNCACN     = 0x0b
	floorNCALRPC   = 0x0c
	floorUUID      = 0x0d
	floorTCP       = 0x07
	floorUDP       = 0x08
	floorIP        = 0x09
	floorSMB       = 0x0f // named pipe of ncacn_np
	floorNamedPipe = 0x10 // endpoint of ncalrpc
	floorNetBIOS   = 0x11
	floorHTTP      = 0x1f
)

type floor struct {
	id  byte
	lhs []byte // after the protocol identifier
	rhs []byte
}

var errTower = errors.New("malformed tower")

// decodeTower reads a tower octet string: the interface (floor 1), the
// transfer syntax (floor 2), the RPC protocol (floor 3) and the transport
// floors after it.
func decodeTower(b []byte) (Interface, Tower, error) {
	var t Tower
	if len(b) < 2 {
		return Interface{}, t, errTower
	}
	n := int(binary.LittleEndian.Uint16(b))
	if n < 3 || n > maxFloors {
		return Interface{}, t, fmt.Errorf("%w: %d floors", errTower, n)
	}
	b = b[2:]
	floors := make([]floor, 0, n)
	for range n {
		if len(b) < 2 {
			return Interface{}, t, errTower
		}
		ll := int(binary.LittleEndian.Uint16(b))
		if ll < 1 || len(b) < 2+ll+2 {
			return Interface{}, t, errTower
		}
		lhs := b[2 : 2+ll]
		b = b[2+ll:]
		rl := int(binary.LittleEndian.Uint16(b))
		if len(b) < 2+rl {
			return Interface{}, t, errTower
		}
		floors = append(floors, floor{id: lhs[0], lhs: lhs[1:], rhs: b[2 : 2+rl]})
		b = b[2+rl:]
	}
	f := floors[0]
	if f.id != floorUUID || len(f.lhs) != 18 || len(f.rhs) != 2 {
		return Interface{}, t, fmt.Errorf("%w: first floor is not an interface UUID", errTower)
	}
	iface := Interface{
		UUID:  uuidFromNDR(f.lhs),
		Major: binary.LittleEndian.Uint16(f.lhs[16:18]),
		Minor: binary.LittleEndian.Uint16(f.rhs),
	}
	var ids []byte
	for _, f := range floors[2:] {
		ids = append(ids, f.id)
		switch f.id {
		case floorTCP, floorUDP, floorHTTP:
			if len(f.rhs) == 2 {
				t.Port = binary.BigEndian.Uint16(f.rhs)
			}
		case floorIP:
			if a, ok := netip.AddrFromSlice(f.rhs); ok {
				t.Addr = a.Unmap()
			}
		case floorSMB, floorNamedPipe:
			t.Endpoint = cleanString(f.rhs)
		case floorNetBIOS:
			t.Host = cleanString(f.rhs)
		}
	}
	t.Protocol = protseq(ids)
	return iface, t, nil
}

// protseq names the protocol sequence of the floors from the third on.
func protseq(ids []byte) string {
	has := func(id byte) bool { return len(ids) > 1 && strings.IndexByte(string(ids[1:]), id) >= 0 }
	switch ids[0] {
	case floorNCACN:
		switch {
		case has(floorTCP):
			return "ncacn_ip_tcp"
		case has(floorHTTP):
			return "ncacn_http"
		case has(floorSMB):
			return "ncacn_np"
		}
	case floorNCADG:
		if has(floorUDP) {
			return "ncadg_ip_udp"
		}
	case floorNCALRPC:
		return "ncalrpc"
	}
	return "unknown"
}

// cleanString turns a NUL-terminated string from the network into
// printable ASCII: it ends at the first NUL, and every other byte outside
// space..tilde becomes '?', so that nothing read from a server can move a
// terminal's cursor, break a Markdown table or forge a line of output.
func cleanString(b []byte) string {
	if i := strings.IndexByte(string(b), 0); i >= 0 {
		b = b[:i]
	}
	out := make([]byte, len(b))
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			c = '?'
		}
		out[i] = c
	}
	return string(out)
}
