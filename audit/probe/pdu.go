package probe

import (
	"encoding/binary"
	"fmt"
)

// Connection-oriented PDU types (C706 chapter 12) the client sends or
// understands.
const (
	ptypeRequest  = 0
	ptypeResponse = 2
	ptypeFault    = 3
	ptypeBind     = 11
	ptypeBindAck  = 12
	ptypeBindNak  = 13
)

// pfc_flags bits.
const (
	pfcFirstFrag = 0x01
	pfcLastFrag  = 0x02
)

const (
	headerLen = 16
	// maxFrag is what the client offers as max_xmit_frag and
	// max_recv_frag: Windows' own value.
	maxFrag = 5840
	// drepLE is the data representation the client sends and accepts:
	// little-endian integers, ASCII characters, IEEE floats.
	drepLE = 0x10
)

// header is the 16-byte common header of every connection-oriented PDU.
type header struct {
	ptype   uint8
	flags   uint8
	fragLen uint16 // whole PDU, header included
	authLen uint16
	callID  uint32
}

// parseHeader checks the fixed fields of a PDU header: version 5.0 or 5.1,
// little-endian data representation, and a fragment length that can hold
// at least the header.
func parseHeader(b []byte) (header, error) {
	if len(b) < headerLen {
		return header{}, fmt.Errorf("pdu header: %d bytes, want %d", len(b), headerLen)
	}
	if b[0] != 5 || b[1] > 1 {
		return header{}, fmt.Errorf("pdu header: protocol version %d.%d, want 5.0 or 5.1 (is this DCE/RPC?)", b[0], b[1])
	}
	if b[4]&0xf0 != drepLE {
		return header{}, fmt.Errorf("pdu header: data representation 0x%02x: only little-endian is supported", b[4])
	}
	h := header{
		ptype:   b[2],
		flags:   b[3],
		fragLen: binary.LittleEndian.Uint16(b[8:10]),
		authLen: binary.LittleEndian.Uint16(b[10:12]),
		callID:  binary.LittleEndian.Uint32(b[12:16]),
	}
	if h.fragLen < headerLen {
		return header{}, fmt.Errorf("pdu header: fragment length %d shorter than the header", h.fragLen)
	}
	return h, nil
}

// appendHeader appends a header; the fragment length is patched in by
// finishPDU once the body is known.
func appendHeader(b []byte, ptype, flags uint8, callID uint32) []byte {
	b = append(b, 5, 0, ptype, flags, drepLE, 0, 0, 0)
	b = binary.LittleEndian.AppendUint16(b, 0) // frag_length, patched
	b = binary.LittleEndian.AppendUint16(b, 0) // auth_length
	return binary.LittleEndian.AppendUint32(b, callID)
}

func finishPDU(b []byte) []byte {
	binary.LittleEndian.PutUint16(b[8:10], uint16(len(b)))
	return b
}

// appendSyntax appends a p_syntax_id_t: the UUID and the version as one
// 32-bit number, major in the low half.
func appendSyntax(b []byte, i Interface) []byte {
	b = i.UUID.appendNDR(b)
	b = binary.LittleEndian.AppendUint16(b, i.Major)
	return binary.LittleEndian.AppendUint16(b, i.Minor)
}

// encodeBind returns a bind PDU offering one presentation context:
// abstract syntax iface, transfer syntax NDR 2.0.
func encodeBind(callID uint32, iface Interface) []byte {
	b := appendHeader(make([]byte, 0, 72), ptypeBind, pfcFirstFrag|pfcLastFrag, callID)
	b = binary.LittleEndian.AppendUint16(b, maxFrag) // max_xmit_frag
	b = binary.LittleEndian.AppendUint16(b, maxFrag) // max_recv_frag
	b = binary.LittleEndian.AppendUint32(b, 0)       // assoc_group_id: a new one
	b = append(b, 1, 0, 0, 0)                        // n_context_elem, reserved
	b = binary.LittleEndian.AppendUint16(b, 0)       // p_cont_id
	b = append(b, 1, 0)                              // n_transfer_syn, reserved
	b = appendSyntax(b, iface)
	b = appendSyntax(b, NDR20)
	return finishPDU(b)
}

// encodeRequest returns a single-fragment request PDU for opnum on
// presentation context 0.
func encodeRequest(callID uint32, opnum uint16, stub []byte) []byte {
	b := appendHeader(make([]byte, 0, 24+len(stub)), ptypeRequest, pfcFirstFrag|pfcLastFrag, callID)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(stub))) // alloc_hint
	b = binary.LittleEndian.AppendUint16(b, 0)                 // p_cont_id
	b = binary.LittleEndian.AppendUint16(b, opnum)
	b = append(b, stub...)
	return finishPDU(b)
}

// Bind rejection reasons (C706 p_provider_reason_t and
// p_reject_reason_t), for messages.
var (
	providerReasons = []string{"not specified", "abstract syntax not supported", "proposed transfer syntaxes not supported", "local limit exceeded"}
	rejectReasons   = []string{"not specified", "temporary congestion", "local limit exceeded", "called presentation address unknown", "protocol version not supported", "default context not supported", "user data not readable", "no PSAP available"}
)

func reasonText(list []string, n uint16) string {
	if int(n) < len(list) {
		return list[n]
	}
	return fmt.Sprintf("reason %d", n)
}

// parseBindAck checks a bind_ack (or bind_nak) PDU: the first
// presentation context result must be acceptance. pdu is the whole PDU,
// because the alignment of the result list counts from its start.
func parseBindAck(h header, pdu []byte) error {
	switch h.ptype {
	case ptypeBindAck:
	case ptypeBindNak:
		if len(pdu) >= headerLen+2 {
			return fmt.Errorf("bind refused: %s", reasonText(rejectReasons, binary.LittleEndian.Uint16(pdu[16:18])))
		}
		return fmt.Errorf("bind refused")
	case ptypeFault:
		return faultError(pdu)
	default:
		return fmt.Errorf("answer to bind is a PDU of type %d, want bind_ack", h.ptype)
	}
	const fixed = headerLen + 8 // max_xmit, max_recv, assoc_group_id
	if len(pdu) < fixed+2 {
		return fmt.Errorf("bind_ack: truncated (%d bytes)", len(pdu))
	}
	off := fixed + 2 + int(binary.LittleEndian.Uint16(pdu[fixed:fixed+2])) // secondary address
	off = (off + 3) &^ 3
	if off+4 > len(pdu) {
		return fmt.Errorf("bind_ack: secondary address runs past the end of the PDU")
	}
	n := int(pdu[off])
	off += 4
	if n < 1 {
		return fmt.Errorf("bind_ack: no presentation context result")
	}
	if off+24 > len(pdu) {
		return fmt.Errorf("bind_ack: result list runs past the end of the PDU")
	}
	result := binary.LittleEndian.Uint16(pdu[off : off+2])
	reason := binary.LittleEndian.Uint16(pdu[off+2 : off+4])
	switch result {
	case 0:
		return nil
	case 1:
		return fmt.Errorf("bind rejected by the user: %s", reasonText(providerReasons, reason))
	}
	return fmt.Errorf("bind rejected: %s", reasonText(providerReasons, reason))
}

// Fault and reject status codes seen from endpoint mappers (C706 appendix
// E, MS-RPCE 2.2.2.13), for messages.
var faultNames = map[uint32]string{
	0x1c010002: "nca_s_op_rng_error",
	0x1c010003: "nca_s_unk_if",
	0x1c000006: "nca_s_proto_error",
	0x1c00001d: "nca_s_fault_ndr",
	0x00000005: "access denied",
	0x000006f7: "RPC_X_BAD_STUB_DATA",
	0x000006d8: "EPT_S_CANT_PERFORM_OP",
	0x16c9a0d6: "ept_s_not_registered",
}

// faultError describes a fault PDU.
func faultError(pdu []byte) error {
	if len(pdu) < headerLen+12 {
		return fmt.Errorf("server sent a fault PDU (truncated, no status)")
	}
	st := binary.LittleEndian.Uint32(pdu[headerLen+8 : headerLen+12])
	if name, ok := faultNames[st]; ok {
		return fmt.Errorf("server sent fault 0x%08x (%s)", st, name)
	}
	return fmt.Errorf("server sent fault 0x%08x", st)
}

// responseStub returns the stub data of a response PDU.
func responseStub(h header, pdu []byte) ([]byte, error) {
	const fixed = headerLen + 8 // alloc_hint, p_cont_id, cancel_count, reserved
	if h.authLen != 0 {
		return nil, fmt.Errorf("response carries %d bytes of authentication data on an unauthenticated call", h.authLen)
	}
	if len(pdu) < fixed {
		return nil, fmt.Errorf("response PDU truncated (%d bytes)", len(pdu))
	}
	return pdu[fixed:], nil
}
