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
// Invalid sequences become U+FFFD.
func Decode(b []byte) string { return decodeOwned(bytes.Clone(b)) }

// decodeOwned is Decode for a buffer the caller no longer needs: it may
// overwrite b, which saves a copy of every file read.
func decodeOwned(b []byte) string {
	var out []byte
	switch {
	case len(b) >= 2 && b[0] == 0xFF && b[1] == 0xFE:
		out = decodeUTF16(b[2:], false)
	case len(b) >= 2 && b[0] == 0xFE && b[1] == 0xFF:
		out = decodeUTF16(b[2:], true)
	case len(b) >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF:
		out = b[3:]
	case looksUTF16LE(b):
		out = decodeUTF16(b, false)
	case utf8.Valid(b):
		out = b
	default:
		dec, err := charmap.CodePage850.NewDecoder().Bytes(b)
		if err != nil {
			dec = []byte(strings.ToValidUTF8(string(b), "\uFFFD"))
		}
		out = dec
	}
	if !utf8.Valid(out) {
		out = []byte(strings.ToValidUTF8(string(out), "\uFFFD"))
	}
	return string(foldLineEnds(out))
}

// foldLineEnds turns CRLF and lone CR line ends into LF, in place.
func foldLineEnds(b []byte) []byte {
	i := bytes.IndexByte(b, '\r')
	if i < 0 {
		return b
	}
	w := i
	for ; i < len(b); i++ {
		c := b[i]
		if c == '\r' {
			if i+1 < len(b) && b[i+1] == '\n' {
				continue
			}
			c = '\n'
		}
		b[w] = c
		w++
	}
	return b[:w]
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

// decodeUTF16 converts UTF-16 to UTF-8. Unpaired surrogates become U+FFFD;
// an odd last byte is dropped.
func decodeUTF16(b []byte, bigEndian bool) []byte {
	unit := func(i int) uint16 {
		if bigEndian {
			return uint16(b[i])<<8 | uint16(b[i+1])
		}
		return uint16(b[i]) | uint16(b[i+1])<<8
	}
	out := make([]byte, 0, len(b)/2+16)
	for i := 0; i+1 < len(b); i += 2 {
		u := unit(i)
		switch {
		case u < utf8.RuneSelf:
			// Captures are almost all ASCII: no rune conversion.
			out = append(out, byte(u))
		case utf16.IsSurrogate(rune(u)):
			r := utf8.RuneError
			if i+3 < len(b) {
				if d := utf16.DecodeRune(rune(u), rune(unit(i+2))); d != utf8.RuneError {
					r = d
					i += 2
				}
			}
			out = utf8.AppendRune(out, r)
		default:
			out = utf8.AppendRune(out, rune(u))
		}
	}
	return out
}
