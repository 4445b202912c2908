package probe

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rpcspan/rpcspan/audit/probe/epmtest"
)

func TestDecodeTower(t *testing.T) {
	drs := "e3514235-4b06-11d1-ab04-00c04fc2dcd2"
	a := netip.MustParseAddr("10.1.0.10")
	tests := []struct {
		name  string
		entry epmtest.Entry
		want  Tower
	}{
		{"tcp", epmtest.Entry{UUID: drs, Major: 4, Protocol: "ncacn_ip_tcp", Port: 49668, Addr: a}, Tower{Protocol: "ncacn_ip_tcp", Port: 49668, Addr: a}},
		{"tcp 0.0.0.0", epmtest.Entry{UUID: drs, Major: 4, Protocol: "ncacn_ip_tcp", Port: 50001}, Tower{Protocol: "ncacn_ip_tcp", Port: 50001, Addr: netip.IPv4Unspecified()}},
		{"http", epmtest.Entry{UUID: drs, Major: 4, Protocol: "ncacn_http", Port: 593}, Tower{Protocol: "ncacn_http", Port: 593, Addr: netip.IPv4Unspecified()}},
		{"udp", epmtest.Entry{UUID: drs, Major: 4, Protocol: "ncadg_ip_udp", Port: 1032, Addr: a}, Tower{Protocol: "ncadg_ip_udp", Port: 1032, Addr: a}},
		{"np", epmtest.Entry{UUID: drs, Major: 4, Protocol: "ncacn_np", Pipe: `\PIPE\lsass`}, Tower{Protocol: "ncacn_np", Endpoint: `\PIPE\lsass`, Host: "FAKE"}},
		{"lrpc", epmtest.Entry{UUID: drs, Major: 4, Protocol: "ncalrpc", Pipe: "LRPC-2f5a9857375d2d3958"}, Tower{Protocol: "ncalrpc", Endpoint: "LRPC-2f5a9857375d2d3958"}},
		{"hostile pipe name", epmtest.Entry{UUID: drs, Major: 4, Protocol: "ncacn_np", Pipe: "\x1b[2J|<b>\n"}, Tower{Protocol: "ncacn_np", Endpoint: "?[2J|<b>?", Host: "FAKE"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			iface, tw, err := decodeTower(epmtest.Tower(tt.entry))
			if err != nil {
				t.Fatalf("decodeTower(%s) error %v", tt.name, err)
			}
			if want := (Interface{mustUUID(drs), 4, 0}); iface != want {
				t.Errorf("decodeTower(%s) interface %v, want %v", tt.name, iface, want)
			}
			if diff := cmp.Diff(tt.want, tw, addrEq); diff != "" {
				t.Errorf("decodeTower(%s) (-want +got):\n%s", tt.name, diff)
			}
		})
	}
}

func TestDecodeTowerErrors(t *testing.T) {
	good := epmtest.Tower(epmtest.Entry{UUID: "e3514235-4b06-11d1-ab04-00c04fc2dcd2", Major: 4, Protocol: "ncacn_ip_tcp", Port: 1})
	tests := []struct {
		name string
		in   []byte
		err  string
	}{
		{"empty", nil, "malformed tower"},
		{"two floors", []byte{2, 0}, "malformed tower: 2 floors"},
		{"too many floors", []byte{17, 0}, "malformed tower: 17 floors"},
		{"cut", good[:len(good)-3], "malformed tower"},
		{"zero lhs", []byte{3, 0, 0, 0}, "malformed tower"},
		{"first floor not uuid", append([]byte{3, 0}, append([]byte{1, 0, 0x07, 2, 0, 0, 0}, good[2:]...)...), "malformed tower: first floor is not an interface UUID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := decodeTower(tt.in)
			if err == nil || err.Error() != tt.err {
				t.Errorf("decodeTower(%s) error %v, want %q", tt.name, err, tt.err)
			}
		})
	}
}

// TestDecodeLookupErrors: every count in an ept_lookup response is checked
// against what was asked and what is left before anything is allocated.
func TestDecodeLookupErrors(t *testing.T) {
	head := func(num, maxCount, offset, actual string) string {
		return strings.Repeat("00", 20) + num + maxCount + offset + actual
	}
	tests := []struct {
		name, stub, err string
	}{
		{"short", "0000", "ept_lookup response: stub truncated at offset 0: 20 bytes needed, 2 left"},
		{"offset", head("00000000", "01000000", "01000000", "00000000"), "ept_lookup response: entries array offset 1, want 0"},
		{"actual over max", head("02000000", "01000000", "00000000", "02000000"), "ept_lookup response: 2 entries in an array of 1"},
		{"over asked", head("ffffffff", "ffffffff", "00000000", "ffffffff"), "ept_lookup response: 4294967295 entries, more than the 500 asked for"},
		{"num mismatch", head("01000000", "02000000", "00000000", "02000000"), "ept_lookup response: num_ents 1 but 2 entries in the array"},
		{"no room", head("02000000", "02000000", "00000000", "02000000"), "ept_lookup response: 2 entries cannot fit in the 0 bytes left"},
		{"annotation too long", head("01000000", "01000000", "00000000", "01000000") + strings.Repeat("00", 16) + "01000000" + "00000000" + "41000000" + strings.Repeat("00", 8),
			"ept_lookup response: entry 0: annotation offset 0 length 65 (at most 64)"},
		{"no status", head("00000000", "01000000", "00000000", "00000000"), "ept_lookup response: stub truncated at offset 36: 4 bytes needed, 0 left"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeLookup(unhex(t, tt.stub), 500)
			if err == nil || err.Error() != tt.err {
				t.Errorf("decodeLookup(%s) error %v, want %q", tt.name, err, tt.err)
			}
		})
	}
}

func TestCleanString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"drsuapi\x00", "drsuapi"},
		{"MS NT Directory DRS Interface", "MS NT Directory DRS Interface"},
		{"a\x00junk", "a"},
		{"\x1b]0;pwned\x07", "?]0;pwned?"},
		{"caf\xc3\xa9", "caf??"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := cleanString([]byte(tt.in)); got != tt.want {
			t.Errorf("cleanString(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestInterfaceName(t *testing.T) {
	tests := []struct{ uuid, want string }{
		{"e3514235-4b06-11d1-ab04-00c04fc2dcd2", "drsuapi"},
		{"12345678-1234-abcd-ef00-01234567cffb", "netlogon"},
		{"12345778-1234-abcd-ef00-0123456789ab", "lsarpc"},
		{"12345778-1234-abcd-ef00-0123456789ac", "samr"},
		{"e1af8308-5d1f-11c9-91a4-08002b14a0fa", "epmapper"},
		{"d95afe70-a6d5-4259-822e-2c84da1ddb0d", "windowsshutdown"},
		{"00000000-0000-0000-0000-000000000001", ""},
	}
	for _, tt := range tests {
		if got := InterfaceName(mustUUID(tt.uuid)); got != tt.want {
			t.Errorf("InterfaceName(%s) = %q, want %q", tt.uuid, got, tt.want)
		}
	}
}
