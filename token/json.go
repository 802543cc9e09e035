package token

import (
	"errors"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// errJSON is what the strict reader returns for any input it refuses; the
// caller turns it into a short reason without echoing token content.
var errJSON = errors.New("malformed JSON")

// maxJSONDepth bounds the nesting of values the reader skips (unknown
// claims), so that a crafted payload cannot recurse deeply.
const maxJSONDepth = 16

// jsonReader reads one JSON text (RFC 8259) strictly, for the JOSE header,
// the claims and JWKS documents. encoding/json v1 is too lenient here
// (SECURITY.md §10): it matches member names case-insensitively, keeps the
// last of duplicate members and silently replaces invalid UTF-8 with
// U+FFFD. This reader refuses invalid UTF-8 and unpaired surrogate escapes
// (RFC 8725 §3.7), hands names to the caller exactly as written (after
// unescaping) so that duplicates and case variants can be refused, and does
// not allocate for strings without escapes.
type jsonReader struct {
	b     []byte
	i     int
	depth int
}

// newJSONReader returns a reader over b, or errJSON when b is not UTF-8.
func newJSONReader(b []byte) (jsonReader, error) {
	if !utf8.Valid(b) {
		return jsonReader{}, errJSON
	}
	return jsonReader{b: b}, nil
}

func (r *jsonReader) ws() {
	for r.i < len(r.b) {
		switch r.b[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

// peek returns the next non-space byte, or 0 at the end.
func (r *jsonReader) peek() byte {
	r.ws()
	if r.i < len(r.b) {
		return r.b[r.i]
	}
	return 0
}

// end succeeds when only white space is left: a JSON text is one value.
func (r *jsonReader) end() error {
	if r.peek() != 0 || r.i != len(r.b) {
		return errJSON
	}
	return nil
}

// beginObject consumes the '{' of an object.
func (r *jsonReader) beginObject() error {
	if r.peek() != '{' {
		return errJSON
	}
	r.i++
	return nil
}

// member reads the name of the next member of the current object and the
// ':' after it; n is the number of members read before. It returns ok ==
// false after the closing '}'. The name aliases the input unless it held
// escapes; the caller must then read the value.
func (r *jsonReader) member(n int) (name []byte, ok bool, err error) {
	c := r.peek()
	if c == '}' {
		r.i++
		return nil, false, nil
	}
	if n > 0 {
		if c != ',' {
			return nil, false, errJSON
		}
		r.i++
	}
	if r.peek() != '"' {
		return nil, false, errJSON
	}
	if name, err = r.str(); err != nil {
		return nil, false, err
	}
	if r.peek() != ':' {
		return nil, false, errJSON
	}
	r.i++
	return name, true, nil
}

// beginArray consumes the '[' of an array.
func (r *jsonReader) beginArray() error {
	if r.peek() != '[' {
		return errJSON
	}
	r.i++
	return nil
}

// element prepares to read the next element of the current array; n is
// the number of elements read before. It returns false after the ']'.
func (r *jsonReader) element(n int) (bool, error) {
	c := r.peek()
	if c == ']' {
		r.i++
		return false, nil
	}
	if n > 0 {
		if c != ',' {
			return false, errJSON
		}
		r.i++
		if r.peek() == ']' { // trailing comma
			return false, errJSON
		}
	}
	return true, nil
}

// str reads a string value. The result aliases the input when the string
// holds no escape; otherwise it is a new slice.
func (r *jsonReader) str() ([]byte, error) {
	if r.peek() != '"' {
		return nil, errJSON
	}
	r.i++
	start := r.i
	for r.i < len(r.b) {
		switch c := r.b[r.i]; {
		case c == '"':
			s := r.b[start:r.i]
			r.i++
			return s, nil
		case c == '\\':
			return r.unescape(start)
		case c < 0x20: // control characters must be escaped (RFC 8259 §7)
			return nil, errJSON
		default:
			r.i++
		}
	}
	return nil, errJSON
}

// unescape finishes a string that holds an escape at r.i.
func (r *jsonReader) unescape(start int) ([]byte, error) {
	out := append([]byte(nil), r.b[start:r.i]...)
	for r.i < len(r.b) {
		c := r.b[r.i]
		switch {
		case c == '"':
			r.i++
			return out, nil
		case c < 0x20:
			return nil, errJSON
		case c != '\\':
			out = append(out, c)
			r.i++
			continue
		}
		if r.i+1 >= len(r.b) {
			return nil, errJSON
		}
		e := r.b[r.i+1]
		r.i += 2
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			ru, ok := r.hex4()
			if !ok {
				return nil, errJSON
			}
			if utf16.IsSurrogate(ru) {
				// Only a high surrogate followed by a low one names a
				// character; a lone one is not Unicode (RFC 8725 §3.7).
				if ru >= 0xdc00 || r.i+1 >= len(r.b) || r.b[r.i] != '\\' || r.b[r.i+1] != 'u' {
					return nil, errJSON
				}
				r.i += 2
				lo, ok := r.hex4()
				if !ok || lo < 0xdc00 || lo > 0xdfff {
					return nil, errJSON
				}
				ru = utf16.DecodeRune(ru, lo)
			}
			out = utf8.AppendRune(out, ru)
		default:
			return nil, errJSON
		}
	}
	return nil, errJSON
}

func (r *jsonReader) hex4() (rune, bool) {
	if r.i+4 > len(r.b) {
		return 0, false
	}
	var v rune
	for _, c := range r.b[r.i : r.i+4] {
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			v = v<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	r.i += 4
	return v, true
}

// number reads a number value (RFC 8259 §6 grammar, nothing looser).
func (r *jsonReader) number() (float64, error) {
	r.ws()
	start := r.i
	if r.i < len(r.b) && r.b[r.i] == '-' {
		r.i++
	}
	intStart := r.i
	if !r.digits() {
		return 0, errJSON
	}
	if r.b[intStart] == '0' && r.i-intStart > 1 { // no leading zeros
		return 0, errJSON
	}
	integer := true
	if r.i < len(r.b) && r.b[r.i] == '.' {
		r.i++
		if !r.digits() {
			return 0, errJSON
		}
		integer = false
	}
	if r.i < len(r.b) && (r.b[r.i] == 'e' || r.b[r.i] == 'E') {
		r.i++
		if r.i < len(r.b) && (r.b[r.i] == '+' || r.b[r.i] == '-') {
			r.i++
		}
		if !r.digits() {
			return 0, errJSON
		}
		integer = false
	}
	lit := r.b[start:r.i]
	if integer && r.i-intStart <= 15 {
		// Fast path for the usual NumericDate: exact, and no allocation.
		var v int64
		for _, c := range r.b[intStart:r.i] {
			v = v*10 + int64(c-'0')
		}
		if lit[0] == '-' {
			v = -v
		}
		return float64(v), nil
	}
	f, err := strconv.ParseFloat(string(lit), 64)
	if err != nil { // out of range
		return 0, errJSON
	}
	return f, nil
}

func (r *jsonReader) digits() bool {
	start := r.i
	for r.i < len(r.b) && r.b[r.i] >= '0' && r.b[r.i] <= '9' {
		r.i++
	}
	return r.i > start
}

// skip reads and discards any value, checking its syntax.
func (r *jsonReader) skip() error {
	r.depth++
	defer func() { r.depth-- }()
	if r.depth > maxJSONDepth {
		return errJSON
	}
	switch c := r.peek(); {
	case c == '"':
		_, err := r.str()
		return err
	case c == '{':
		r.i++
		for n := 0; ; n++ {
			_, ok, err := r.member(n)
			if err != nil || !ok {
				return err
			}
			if err := r.skip(); err != nil {
				return err
			}
		}
	case c == '[':
		r.i++
		for n := 0; ; n++ {
			ok, err := r.element(n)
			if err != nil || !ok {
				return err
			}
			if err := r.skip(); err != nil {
				return err
			}
		}
	case c == 't':
		return r.literal("true")
	case c == 'f':
		return r.literal("false")
	case c == 'n':
		return r.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		_, err := r.number()
		return err
	default:
		return errJSON
	}
}

func (r *jsonReader) literal(word string) error {
	if len(r.b)-r.i < len(word) || string(r.b[r.i:r.i+len(word)]) != word {
		return errJSON
	}
	r.i += len(word)
	return nil
}
