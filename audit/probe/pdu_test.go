package probe

import (
	"encoding/hex"
	"strings"
	"testing"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestEncode pins the bytes Samba 4.17 accepted: a bind to the endpoint
// mapper v3.0 with NDR 2.0, and ept_lookup for every element.
func TestEncode(t *testing.T) {
	tests := []struct {
		name string
		got  []byte
		want string
	}{
		{"bind", encodeBind(1, EPMapper), `
			05000b03 10000000 48000000 01000000
			d016d016 00000000 01000000 00000100
			0883afe1 1f5dc911 91a40800 2b14a0fa 03000000
			045d888a eb1cc911 9fe80800 2b104860 02000000`},
		{"ept_lookup", encodeRequest(2, opLookup, encodeLookup(handle{}, 500)), `
			05000003 10000000 40000000 02000000
			28000000 00000200
			00000000 00000000 00000000 01000000
			00000000 00000000 00000000 00000000 00000000
			f4010000`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if want := unhex(t, tt.want); string(tt.got) != string(want) {
				t.Errorf("%s =\n%x\nwant\n%x", tt.name, tt.got, want)
			}
		})
	}
}

func TestParseHeader(t *testing.T) {
	tests := []struct {
		in, err string
	}{
		{"05000c03 10000000 3c000000 01000000", ""},
		{"05000c03 10000000 3c000000", "pdu header: 12 bytes, want 16"},
		{"04000c03 10000000 3c000000 01000000", "pdu header: protocol version 4.0, want 5.0 or 5.1 (is this DCE/RPC?)"},
		{"05000c03 00000000 3c000000 01000000", "pdu header: data representation 0x00: only little-endian is supported"},
		{"05000c03 10000000 0f000000 01000000", "pdu header: fragment length 15 shorter than the header"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			h, err := parseHeader(unhex(t, tt.in))
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.err {
				t.Fatalf("parseHeader(%s) error %q, want %q", tt.in, got, tt.err)
			}
			if err == nil && (h.ptype != ptypeBindAck || h.fragLen != 60 || h.callID != 1 || h.flags != 3) {
				t.Errorf("parseHeader(%s) = %+v", tt.in, h)
			}
		})
	}
}

func TestParseBindAck(t *testing.T) {
	const ack = "05000c03 10000000 3c000000 01000000 d016d016 34120000 0400 31333500 0000 01000000 %s 045d888a eb1cc911 9fe80800 2b104860 02000000"
	tests := []struct {
		name, pdu, err string
	}{
		{"accepted", strings.Replace(ack, "%s", "0000 0000", 1), ""},
		{"provider rejection", strings.Replace(ack, "%s", "0200 0200", 1), "bind rejected: proposed transfer syntaxes not supported"},
		{"user rejection", strings.Replace(ack, "%s", "0100 0100", 1), "bind rejected by the user: abstract syntax not supported"},
		{"unknown reason", strings.Replace(ack, "%s", "0200 0900", 1), "bind rejected: reason 9"},
		{"no results", "05000c03 10000000 20000000 01000000 d016d016 34120000 0000 0000 00000000", "bind_ack: no presentation context result"},
		{"secondary address too long", "05000c03 10000000 1c000000 01000000 d016d016 34120000 ff00 0000", "bind_ack: secondary address runs past the end of the PDU"},
		{"results cut", "05000c03 10000000 24000000 01000000 d016d016 34120000 0000 0000 01000000 0000 0000", "bind_ack: result list runs past the end of the PDU"},
		{"truncated", "05000c03 10000000 14000000 01000000 d016d016", "bind_ack: truncated (20 bytes)"},
		{"nak", "05000d03 10000000 12000000 01000000 0400", "bind refused: protocol version not supported"},
		{"nak without reason", "05000d03 10000000 10000000 01000000", "bind refused"},
		{"fault", "05000303 10000000 1c000000 01000000 00000000 00000000 05000000", "server sent fault 0x00000005 (access denied)"},
		{"unknown fault", "05000303 10000000 1c000000 01000000 00000000 00000000 07000000", "server sent fault 0x00000007"},
		{"short fault", "05000303 10000000 14000000 01000000 00000000", "server sent a fault PDU (truncated, no status)"},
		{"response", "05000203 10000000 18000000 01000000 00000000 00000000", "answer to bind is a PDU of type 2, want bind_ack"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := unhex(t, tt.pdu)
			h, err := parseHeader(b)
			if err != nil {
				t.Fatal(err)
			}
			err = parseBindAck(h, b)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.err {
				t.Errorf("parseBindAck(%s) = %q, want %q", tt.name, got, tt.err)
			}
		})
	}
}

func TestUUID(t *testing.T) {
	tests := []struct {
		in, want, err string
	}{
		{"E3514235-4B06-11D1-AB04-00C04FC2DCD2", "e3514235-4b06-11d1-ab04-00c04fc2dcd2", ""},
		{"00000000-0000-0000-0000-000000000000", "00000000-0000-0000-0000-000000000000", ""},
		{"e3514235-4b06-11d1-ab04-00c04fc2dcd", "", `uuid "e3514235-4b06-11d1-ab04-00c04fc2dcd": want the form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`},
		{"e3514235+4b06-11d1-ab04-00c04fc2dcd2", "", `uuid "e3514235+4b06-11d1-ab04-00c04fc2dcd2": want the form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`},
		{"g3514235-4b06-11d1-ab04-00c04fc2dcd2", "", `uuid "g3514235-4b06-11d1-ab04-00c04fc2dcd2": not hexadecimal`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			u, err := ParseUUID(tt.in)
			got, gotErr := "", ""
			if err != nil {
				gotErr = err.Error()
			} else {
				got = u.String()
				if back := uuidFromNDR(u.appendNDR(nil)); back != u {
					t.Errorf("NDR round trip of %s = %s", u, back)
				}
			}
			if got != tt.want || gotErr != tt.err {
				t.Errorf("ParseUUID(%q) = %q, %q; want %q, %q", tt.in, got, gotErr, tt.want, tt.err)
			}
		})
	}
}
