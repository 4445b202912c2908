package ingest

import (
	"testing"
)

func TestDecode(t *testing.T) {
	utf16le := func(s string, bom bool) []byte {
		var b []byte
		if bom {
			b = append(b, 0xFF, 0xFE)
		}
		for _, r := range s {
			if r >= 0x10000 {
				r -= 0x10000
				hi, lo := 0xD800+(r>>10), 0xDC00+(r&0x3FF)
				b = append(b, byte(hi), byte(hi>>8), byte(lo), byte(lo>>8))
				continue
			}
			b = append(b, byte(r), byte(r>>8))
		}
		return b
	}
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"utf8", []byte("a\r\nb\n"), "a\nb\n"},
		{"utf8 bom", []byte("\xEF\xBB\xBFPort de démarrage\r\n"), "Port de démarrage\n"},
		{"utf16le bom", utf16le("Start Port : 49152\r\n", true), "Start Port : 49152\n"},
		{"utf16le no bom", utf16le("Start Port : 49152\r\n", false), "Start Port : 49152\n"},
		{"utf16le non-ascii and surrogates", utf16le("Port de démarrage “x” 😀\r\n", true), "Port de démarrage “x” 😀\n"},
		{"utf16le lone surrogate", append([]byte{0xFF, 0xFE}, 0x00, 0xD8, 'a', 0), "\uFFFDa"},
		{"utf16be bom", []byte{0xFE, 0xFF, 0, 'O', 0, 'k'}, "Ok"},
		{"cp850", []byte("Port de d\x82marrage\r\n"), "Port de démarrage\n"},
		{"lone cr", []byte("a\rb\r\r\nc"), "a\nb\n\nc"},
		{"odd utf16 byte", []byte{0xFF, 0xFE, 'a', 0, 'b'}, "a"},
		{"empty", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Decode(tt.in); got != tt.want {
				t.Errorf("Decode(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte("\xFF\xFEa\x00\r\x00\n\x00"))
	f.Add([]byte("Port de d\x82marrage\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s := Decode(b)
		for i := 0; i < len(s); i++ {
			if s[i] == '\r' {
				t.Fatalf("Decode(%q) = %q keeps a CR", b, s)
			}
		}
	})
}
