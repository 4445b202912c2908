package ingest

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// This file holds a small JSON parser that keeps line numbers, for
// ReadCollector. encoding/json gives none for values inside a document, and
// YAML parsers reject several documents one after another without "---";
// this one reads RFC 8259 JSON, any number of top-level values separated by
// white space, at a few hundred MB/s. It builds a tree of jsonValue and
// leaves every judgement about the values to its caller.

// jsonKind is the type of a jsonValue; the zero value is null.
type jsonKind uint8

const (
	jsonNull jsonKind = iota
	jsonBool
	jsonNumber
	jsonString
	jsonArray
	jsonObject
)

// jsonValue is one parsed value. text holds a string's value, a number's
// literal text, or "true"/"false".
type jsonValue struct {
	kind    jsonKind
	line    int // 1-based line where the value starts
	text    string
	elems   []*jsonValue
	members []jsonMember
}

// jsonMember is one "key": value pair of an object, in the order written;
// repeated keys are kept, for the caller to report.
type jsonMember struct {
	key  string
	line int // line of the key
	val  *jsonValue
}

// get returns the value of the first member called key, or nil.
func (v *jsonValue) get(key string) *jsonValue {
	for _, m := range v.members {
		if m.key == key {
			return m.val
		}
	}
	return nil
}

// maxJSONDepth bounds nesting, so that "[[[[..." cannot exhaust the stack.
const maxJSONDepth = 64

// jsonError is why a text is not JSON, on the line where reading stopped.
type jsonError struct {
	line int
	msg  string
}

// jsonParser reads s from byte i on, counting line ends as it passes them.
// The first error stops it: err is set and every later step returns at once.
type jsonParser struct {
	s     string
	i     int // next byte to read
	line  int // 1-based line of s[i]
	depth int // arrays and objects open around s[i]
	err   *jsonError
}

// parseJSONStream parses every top-level value of s. A byte order mark
// between values (left by appending to a file) is skipped. On an error it
// returns nil and the error.
func parseJSONStream(s string) ([]*jsonValue, *jsonError) {
	p := &jsonParser{s: s, line: 1}
	var out []*jsonValue
	for {
		p.space()
		if p.i < len(p.s) && strings.HasPrefix(p.s[p.i:], "\uFEFF") {
			p.i += len("\uFEFF")
			continue
		}
		if p.i >= len(p.s) {
			return out, nil
		}
		v := p.value()
		if p.err != nil {
			return nil, p.err
		}
		out = append(out, v)
	}
}

// fail records the first error, on the current line.
func (p *jsonParser) fail(format string, args ...any) {
	if p.err == nil {
		p.err = &jsonError{line: p.line, msg: fmt.Sprintf(format, args...)}
	}
}

// unexpected reports the character at the current position.
func (p *jsonParser) unexpected(want string) {
	if p.i >= len(p.s) {
		p.fail("unexpected end of file, want %s", want)
		return
	}
	r, _ := utf8.DecodeRuneInString(p.s[p.i:])
	p.fail("unexpected %q, want %s", r, want)
}

// space skips JSON white space, counting lines.
func (p *jsonParser) space() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case '\n':
			p.line++
		case ' ', '\t', '\r':
		default:
			return
		}
		p.i++
	}
}

// value reads one value of any kind starting at p.i, which is not white
// space.
func (p *jsonParser) value() *jsonValue {
	if p.i >= len(p.s) {
		p.unexpected("a value")
		return nil
	}
	v := &jsonValue{line: p.line}
	switch c := p.s[p.i]; {
	case c == '{':
		v.kind = jsonObject
		p.object(v)
	case c == '[':
		v.kind = jsonArray
		p.array(v)
	case c == '"':
		v.kind = jsonString
		v.text = p.str()
	case c == '-' || c >= '0' && c <= '9':
		v.kind = jsonNumber
		v.text = p.number()
	case strings.HasPrefix(p.s[p.i:], "true"):
		v.kind, v.text = jsonBool, "true"
		p.i += 4
	case strings.HasPrefix(p.s[p.i:], "false"):
		v.kind, v.text = jsonBool, "false"
		p.i += 5
	case strings.HasPrefix(p.s[p.i:], "null"):
		v.kind = jsonNull
		p.i += 4
	default:
		p.unexpected("a value")
	}
	return v
}

// enter counts one more level of nesting and reports false, with an
// error, past maxJSONDepth.
func (p *jsonParser) enter() bool {
	p.depth++
	if p.depth > maxJSONDepth {
		p.fail("nested deeper than %d levels", maxJSONDepth)
		return false
	}
	return true
}

// object reads the members of an object starting at its "{" into v.
func (p *jsonParser) object(v *jsonValue) {
	if !p.enter() {
		return
	}
	defer func() { p.depth-- }()
	p.i++ // {
	p.space()
	if p.i < len(p.s) && p.s[p.i] == '}' {
		p.i++
		return
	}
	for p.err == nil {
		p.space()
		if p.i >= len(p.s) || p.s[p.i] != '"' {
			p.unexpected("a key in double quotes")
			return
		}
		m := jsonMember{line: p.line}
		m.key = p.str()
		p.space()
		if p.i >= len(p.s) || p.s[p.i] != ':' {
			p.unexpected("':' after the key")
			return
		}
		p.i++
		p.space()
		m.val = p.value()
		if p.err != nil {
			return
		}
		v.members = append(v.members, m)
		p.space()
		if p.i < len(p.s) && p.s[p.i] == ',' {
			p.i++
			continue
		}
		if p.i < len(p.s) && p.s[p.i] == '}' {
			p.i++
			return
		}
		p.unexpected("',' or '}'")
	}
}

// array reads the elements of an array starting at its "[" into v.
func (p *jsonParser) array(v *jsonValue) {
	if !p.enter() {
		return
	}
	defer func() { p.depth-- }()
	p.i++ // [
	p.space()
	if p.i < len(p.s) && p.s[p.i] == ']' {
		p.i++
		return
	}
	for p.err == nil {
		p.space()
		e := p.value()
		if p.err != nil {
			return
		}
		v.elems = append(v.elems, e)
		p.space()
		if p.i < len(p.s) && p.s[p.i] == ',' {
			p.i++
			continue
		}
		if p.i < len(p.s) && p.s[p.i] == ']' {
			p.i++
			return
		}
		p.unexpected("',' or ']'")
	}
}

// str reads a string starting at the opening quote. Strings without
// escapes are returned as slices of the input.
func (p *jsonParser) str() string {
	p.i++ // "
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c == '"' {
			p.i++
			return p.s[start : p.i-1]
		}
		if c == '\\' {
			return p.escaped(start)
		}
		if c < 0x20 {
			p.fail("control character %q in a string", c)
			return ""
		}
		p.i++
	}
	p.fail("string not closed before the end of the file")
	return ""
}

// escaped finishes a string whose first backslash is at p.i (the text
// since start has none), decoding escapes into a new string.
func (p *jsonParser) escaped(start int) string {
	var b strings.Builder
	b.WriteString(p.s[start:p.i])
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			return b.String()
		case c < 0x20:
			p.fail("control character %q in a string", c)
			return ""
		case c != '\\':
			b.WriteByte(c)
			p.i++
			continue
		}
		if p.i+1 >= len(p.s) {
			break
		}
		e := p.s[p.i+1]
		p.i += 2
		switch e {
		case '"', '\\', '/':
			b.WriteByte(e)
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return ""
			}
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if strings.HasPrefix(p.s[p.i:], `\u`) {
					p.i += 2
					if r2, ok = p.hex4(); !ok {
						return ""
					}
				}
				r = utf16.DecodeRune(r, r2) // U+FFFD for a lone surrogate
			}
			b.WriteRune(r)
		default:
			p.fail("invalid escape %q in a string", `\`+string(rune(e)))
			return ""
		}
	}
	p.fail("string not closed before the end of the file")
	return ""
}

// hex4 reads the four hex digits of a \u escape.
func (p *jsonParser) hex4() (rune, bool) {
	if p.i+4 > len(p.s) {
		p.fail("incomplete \\u escape in a string")
		return 0, false
	}
	n, err := strconv.ParseUint(p.s[p.i:p.i+4], 16, 16)
	if err != nil {
		p.fail("invalid escape %q in a string", `\u`+p.s[p.i:p.i+4])
		return 0, false
	}
	p.i += 4
	return rune(n), true
}

// number reads a number as JSON writes it: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func (p *jsonParser) number() string {
	start := p.i
	digits := func() int {
		n := 0
		for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	if p.s[p.i] == '-' {
		p.i++
	}
	intStart := p.i
	if digits() == 0 {
		p.unexpected("a digit")
		return ""
	}
	if p.s[intStart] == '0' && p.i-intStart > 1 {
		p.fail("number %q has a leading zero", p.s[start:p.i])
		return ""
	}
	if p.i < len(p.s) && p.s[p.i] == '.' {
		p.i++
		if digits() == 0 {
			p.unexpected("a digit")
			return ""
		}
	}
	if p.i < len(p.s) && (p.s[p.i] == 'e' || p.s[p.i] == 'E') {
		p.i++
		if p.i < len(p.s) && (p.s[p.i] == '+' || p.s[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			p.unexpected("a digit")
			return ""
		}
	}
	return p.s[start:p.i]
}
