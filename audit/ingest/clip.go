package ingest

import "unicode/utf8"

// clip cuts text that a problem message quotes to at most max bytes and
// "...", on a character boundary: a bad value can be a whole line of a
// megabyte, and the message must stay readable.
func clip(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}
