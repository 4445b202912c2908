package ingest

import (
	"bytes"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

// Decode turns the bytes of a captured file into text with "\n" line ends.
// It recognises UTF-16LE and UTF-16BE with a BOM (Windows PowerShell 5.1's
// ">" and regedit), UTF-16LE without BOM (detected by its NUL bytes), UTF-8
// with or without BOM, and falls back to code page 850 (cmd.exe redirection
// on Western European Windows; it agrees with 437 on letters and digits).
func Decode(b []byte) string {
	var s string
	switch {
	case len(b) >= 2 && b[0] == 0xFF && b[1] == 0xFE:
		s = decodeUTF16(b[2:], false)
	case len(b) >= 2 && b[0] == 0xFE && b[1] == 0xFF:
		s = decodeUTF16(b[2:], true)
	case len(b) >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF:
		s = string(b[3:])
	case looksUTF16LE(b):
		s = decodeUTF16(b, false)
	case utf8.Valid(b):
		s = string(b)
	default:
		out, err := charmap.CodePage850.NewDecoder().Bytes(b)
		if err != nil {
			s = strings.ToValidUTF8(string(b), "\uFFFD")
		} else {
			s = string(out)
		}
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if strings.IndexByte(s, '\r') >= 0 {
		s = strings.ReplaceAll(s, "\r\n", "\n")
		s = strings.ReplaceAll(s, "\r", "\n")
	}
	return s
}

// looksUTF16LE reports whether b reads as UTF-16LE text without a BOM: mostly
// ASCII characters, so most odd bytes are NUL and few even bytes are.
func looksUTF16LE(b []byte) bool {
	n := len(b)
	if n < 4 {
		return false
	}
	if n > 512 {
		n = 512
	}
	oddNUL, evenNUL := 0, 0
	for i := 0; i+1 < n; i += 2 {
		if b[i] == 0 {
			evenNUL++
		}
		if b[i+1] == 0 {
			oddNUL++
		}
	}
	pairs := n / 2
	return oddNUL*4 >= pairs*3 && evenNUL*4 < pairs
}

func decodeUTF16(b []byte, bigEndian bool) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		if bigEndian {
			u[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
		} else {
			u[i] = uint16(b[2*i]) | uint16(b[2*i+1])<<8
		}
	}
	var buf bytes.Buffer
	buf.Grow(len(u))
	for _, r := range utf16.Decode(u) {
		buf.WriteRune(r)
	}
	return buf.String()
}
