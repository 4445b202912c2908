package probe

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
)

// UUID is a DCE UUID in its canonical byte order, the order of its string
// form. On the wire (NDR, little-endian) the first three fields are
// byte-swapped; uuidFromNDR and putNDR convert.
type UUID [16]byte

// ParseUUID reads "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" in either case.
func ParseUUID(s string) (UUID, error) {
	var u UUID
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, fmt.Errorf("uuid %q: want the form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", s)
	}
	h := s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:36]
	if _, err := hex.Decode(u[:], []byte(h)); err != nil {
		return UUID{}, fmt.Errorf("uuid %q: not hexadecimal", s)
	}
	return u, nil
}

// mustUUID is ParseUUID for constants.
func mustUUID(s string) UUID {
	u, err := ParseUUID(s)
	if err != nil {
		panic(err)
	}
	return u
}

// String returns the lower-case canonical form.
func (u UUID) String() string {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:36], u[10:16])
	return string(b[:])
}

// IsZero reports whether u is the nil UUID.
func (u UUID) IsZero() bool { return u == UUID{} }

// MarshalText implements encoding.TextMarshaler with String's form.
func (u UUID) MarshalText() ([]byte, error) { return []byte(u.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParseUUID.
func (u *UUID) UnmarshalText(b []byte) error {
	v, err := ParseUUID(string(b))
	if err != nil {
		return err
	}
	*u = v
	return nil
}

// uuidFromNDR reads a UUID as NDR little-endian puts it on the wire; b
// holds at least 16 bytes.
func uuidFromNDR(b []byte) UUID {
	var u UUID
	binary.BigEndian.PutUint32(u[0:4], binary.LittleEndian.Uint32(b[0:4]))
	binary.BigEndian.PutUint16(u[4:6], binary.LittleEndian.Uint16(b[4:6]))
	binary.BigEndian.PutUint16(u[6:8], binary.LittleEndian.Uint16(b[6:8]))
	copy(u[8:], b[8:16])
	return u
}

// appendNDR appends u in NDR little-endian order.
func (u UUID) appendNDR(b []byte) []byte {
	b = binary.LittleEndian.AppendUint32(b, binary.BigEndian.Uint32(u[0:4]))
	b = binary.LittleEndian.AppendUint16(b, binary.BigEndian.Uint16(u[4:6]))
	b = binary.LittleEndian.AppendUint16(b, binary.BigEndian.Uint16(u[6:8]))
	return append(b, u[8:]...)
}

// Interface names an RPC interface: its UUID and version.
type Interface struct {
	UUID  UUID
	Major uint16
	Minor uint16
}

// Version returns "MAJOR.MINOR", such as "3.0".
func (i Interface) Version() string {
	return strconv.Itoa(int(i.Major)) + "." + strconv.Itoa(int(i.Minor))
}

// The interfaces the client binds to.
var (
	// EPMapper is the endpoint mapper, ept (C706 appendix O).
	EPMapper = Interface{mustUUID("e1af8308-5d1f-11c9-91a4-08002b14a0fa"), 3, 0}
	// NDR20 is the NDR 2.0 transfer syntax. Samba rejects NDR64, and the
	// endpoint mapper never needs it.
	NDR20 = Interface{mustUUID("8a885d04-1ceb-11c9-9fe8-08002b104860"), 2, 0}
)
