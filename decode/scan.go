package decode

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"
	"strconv"
	"time"
	"unicode/utf8"
)

// maxDepth bounds nesting so hostile input cannot exhaust the stack.
const maxDepth = 200

// SyntaxError is malformed JSON at a byte offset of the scanned document.
type SyntaxError struct {
	Offset int
	Msg    string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("offset %d: %s", e.Offset, e.Msg) }

// Scanner is a pull parser over one JSON document held in memory. It reads
// only what its caller asks for and skips everything else without decoding
// it, which is what makes audit decoding fast: most bytes of an audit event
// (managedFields, list responses, other resources) are never looked at twice.
// Strings returned as []byte alias the document, or are freshly allocated
// when they contain escapes; either way they stay valid.
// The first error sticks: every later call returns zero values.
type Scanner struct {
	buf   []byte
	pos   int
	depth int
	err   error
}

// Reset points the scanner at a new document.
func (s *Scanner) Reset(b []byte) {
	s.buf, s.pos, s.depth, s.err = b, 0, 0, nil
}

// Mark is a position to come back to with Rewind.
type Mark struct{ pos, depth int }

// Mark returns the current position.
func (s *Scanner) Mark() Mark { return Mark{s.pos, s.depth} }

// Rewind moves back to m and forgets any error met since: a caller that
// read a value strictly and failed can skip it instead.
func (s *Scanner) Rewind(m Mark) { s.pos, s.depth, s.err = m.pos, m.depth, nil }

// Err is the first error met, if any.
func (s *Scanner) Err() error { return s.err }

// Pos is the current offset.
func (s *Scanner) Pos() int { return s.pos }

func (s *Scanner) fail(msg string) {
	if s.err == nil {
		s.err = &SyntaxError{Offset: s.pos, Msg: msg}
	}
	s.pos = len(s.buf)
}

func (s *Scanner) ws() {
	for s.pos < len(s.buf) {
		switch s.buf[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// Peek returns the first byte of the next value ('{', '[', '"', 't', 'f',
// 'n', a digit or '-'), or 0 at the end or after an error.
func (s *Scanner) Peek() byte {
	s.ws()
	if s.err != nil || s.pos >= len(s.buf) {
		return 0
	}
	return s.buf[s.pos]
}

// AtEnd reports whether only white space is left.
func (s *Scanner) AtEnd() bool {
	s.ws()
	return s.pos >= len(s.buf)
}

// Object iterates the members of the object at the cursor, calling fn with
// each key; fn must consume the member's value (read it or Skip it). A null
// is treated as an empty object.
func (s *Scanner) Object(fn func(key []byte) error) error {
	switch s.Peek() {
	case '{':
	case 'n':
		s.literal("null")
		return s.err
	default:
		s.fail("expected object")
		return s.err
	}
	if s.depth++; s.depth > maxDepth {
		s.fail("nesting too deep")
		return s.err
	}
	s.pos++
	if s.Peek() == '}' {
		s.pos++
		s.depth--
		return nil
	}
	for {
		if s.Peek() != '"' {
			s.fail("expected object key")
			return s.err
		}
		key := s.str()
		if s.Peek() != ':' {
			s.fail("expected ':' after object key")
			return s.err
		}
		s.pos++
		if err := fn(key); err != nil {
			if s.err == nil {
				s.err = err
			}
			return s.err
		}
		if s.err != nil {
			return s.err
		}
		switch s.Peek() {
		case ',':
			s.pos++
		case '}':
			s.pos++
			s.depth--
			return nil
		default:
			s.fail("expected ',' or '}' in object")
			return s.err
		}
	}
}

// Array iterates the elements of the array at the cursor; fn must consume
// each element. A null is treated as an empty array.
func (s *Scanner) Array(fn func() error) error {
	switch s.Peek() {
	case '[':
	case 'n':
		s.literal("null")
		return s.err
	default:
		s.fail("expected array")
		return s.err
	}
	if s.depth++; s.depth > maxDepth {
		s.fail("nesting too deep")
		return s.err
	}
	s.pos++
	if s.Peek() == ']' {
		s.pos++
		s.depth--
		return nil
	}
	for {
		if err := fn(); err != nil {
			if s.err == nil {
				s.err = err
			}
			return s.err
		}
		if s.err != nil {
			return s.err
		}
		switch s.Peek() {
		case ',':
			s.pos++
		case ']':
			s.pos++
			s.depth--
			return nil
		default:
			s.fail("expected ',' or ']' in array")
			return s.err
		}
	}
}

// Bytes reads a string value; null reads as nil.
func (s *Scanner) Bytes() []byte {
	switch s.Peek() {
	case '"':
		return s.str()
	case 'n':
		s.literal("null")
		return nil
	default:
		s.fail("expected string")
		return nil
	}
}

// String reads a string value into a new string; null reads as "".
func (s *Scanner) String() string { return string(s.Bytes()) }

// Int reads an integer; null reads as 0. Quoted integers (as protojson
// writes int64) are accepted.
func (s *Scanner) Int() int64 {
	c := s.Peek()
	if c == 'n' {
		s.literal("null")
		return 0
	}
	var raw []byte
	if c == '"' {
		raw = s.str()
	} else {
		raw = s.number()
	}
	if s.err != nil {
		return 0
	}
	v, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(string(raw), 64)
		if ferr != nil {
			s.fail("invalid integer")
			return 0
		}
		return int64(f)
	}
	return v
}

// Bool reads true or false; null reads as false.
func (s *Scanner) Bool() bool {
	switch s.Peek() {
	case 't':
		s.literal("true")
		return true
	case 'f':
		s.literal("false")
	case 'n':
		s.literal("null")
	default:
		s.fail("expected boolean")
	}
	return false
}

// Time reads an RFC 3339 timestamp string; null or "" read as the zero time.
// A time before 1970 or beyond unix nanoseconds is an error.
func (s *Scanner) Time() time.Time {
	b := s.Bytes()
	if len(b) == 0 || s.err != nil {
		return time.Time{}
	}
	t, ok := parseTime(b)
	if !ok {
		s.fail("invalid RFC 3339 time")
		return time.Time{}
	}
	if t.Unix() < 0 || !time.Unix(0, t.UnixNano()).Equal(t) {
		// podtrace keeps times as unix nanoseconds (to 2262) and subtracts
		// them: from 1970 on, any two differ by less than time.Duration holds
		// (1677-12-01 is a unix nanosecond, but 1677 to 2026 is no Duration)
		s.fail("time out of range")
		return time.Time{}
	}
	return t
}

// Raw skips the value at the cursor and returns its bytes (aliasing the document).
func (s *Scanner) Raw() []byte {
	s.ws()
	start := s.pos
	s.Skip()
	if s.err != nil {
		return nil
	}
	return s.buf[start:s.pos]
}

// Skip moves past the value at the cursor. Containers are skipped by
// counting brackets and jumping over strings, without checking every token:
// what podtrace keeps is validated strictly when it is redacted (Redactor),
// and what it skips it never uses.
func (s *Scanner) Skip() {
	switch c := s.Peek(); c {
	case '{', '[':
		s.skipContainer()
	case '"':
		s.skipStr()
	case 't':
		s.literal("true")
	case 'f':
		s.literal("false")
	case 'n':
		s.literal("null")
	case 0:
		s.fail("unexpected end of input")
	default:
		s.number()
	}
}

func (s *Scanner) skipContainer() {
	b := s.buf
	depth := 0
	for i := s.pos; i < len(b); i++ {
		switch b[i] {
		case '"':
			end := stringEnd(b, i+1)
			if end < 0 {
				s.pos = i
				s.fail("unterminated string")
				return
			}
			i = end
		case '{', '[':
			if depth++; depth+s.depth > maxDepth {
				s.pos = i
				s.fail("nesting too deep")
				return
			}
		case '}', ']':
			if depth--; depth == 0 {
				s.pos = i + 1
				return
			}
		}
	}
	s.fail("unexpected end of input")
}

// stringEnd returns the index of the quote closing a string whose content
// starts at i, or -1. It finds the quote with bytes.IndexByte, which tests
// 32 bytes a step, then counts the backslashes before it: to skip strings,
// that measured faster than stringSpecial, whose eight-byte steps stop at a
// place the branch predictor cannot guess (strings end anywhere).
func stringEnd(b []byte, i int) int {
	for {
		j := bytes.IndexByte(b[i:], '"')
		if j < 0 {
			return -1
		}
		q := i + j
		// count the backslashes before the quote: an odd number escapes it
		n := 0
		for k := q - 1; k >= i && b[k] == '\\'; k-- {
			n++
		}
		if n%2 == 0 {
			return q
		}
		i = q + 1
	}
}

// stringSpecial returns the index of the first byte of b from i on that is
// '"' or '\\' or less than limit, or len(b): where reading a string must
// stop and look. It reads eight bytes at a time: most strings of an audit
// event are short, and looping over them byte by byte, or calling
// bytes.IndexByte once for the quote and again for a backslash, costs more.
func stringSpecial(b []byte, i int, limit byte) int {
	for ; i+8 <= len(b); i += 8 {
		w := binary.LittleEndian.Uint64(b[i:])
		if m := (zeroBytes(w^(ones*'"')) | zeroBytes(w^(ones*'\\')) | bytesBelow(w, limit)) & highs; m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for ; i < len(b); i++ {
		if c := b[i]; c == '"' || c == '\\' || c < limit {
			return i
		}
	}
	return len(b)
}

// Word-at-a-time tests: zeroBytes(w) and bytesBelow(w, n) (n at most 0x80)
// set the high bit of the bytes of w that are zero, or less than n; mask
// them with highs. A borrow can mark bytes after a true one, never before,
// so the lowest mark, the only one used, is exact.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

func zeroBytes(w uint64) uint64 { return (w - ones) &^ w }

func bytesBelow(w uint64, n byte) uint64 { return (w - ones*uint64(n)) &^ w }

func (s *Scanner) literal(lit string) {
	if !bytes.HasPrefix(s.buf[s.pos:], []byte(lit)) {
		s.fail("invalid literal")
		return
	}
	s.pos += len(lit)
}

// number reads a JSON number (RFC 8259 grammar).
func (s *Scanner) number() []byte {
	b, start := s.buf, s.pos
	i := start
	digits := func() bool {
		j := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		return i > j
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case !digits():
		s.fail("invalid value")
		return nil
	}
	if i < len(b) && b[i] == '.' {
		i++
		if !digits() {
			s.fail("invalid number")
			return nil
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if !digits() {
			s.fail("invalid number")
			return nil
		}
	}
	s.pos = i
	return b[start:i]
}

// skipStr moves past a string without unescaping it, and reports whether
// the string holds escapes.
func (s *Scanner) skipStr() (escaped bool) {
	b := s.buf
	for i := stringSpecial(b, s.pos+1, 0x20); i < len(b); i = stringSpecial(b, i, 0x20) {
		switch c := b[i]; {
		case c == '"':
			s.pos = i + 1
			return
		case c < 0x20:
			s.pos = i
			s.fail("control character in string")
			return
		}
		// a backslash: a valid escape is \" \\ \/ \b \f \n \r \t or \u and four hex digits
		escaped = true
		if i+1 >= len(b) {
			break
		}
		switch b[i+1] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			i += 2
		case 'u':
			if _, n := s.hex4(i + 2); n < 0 {
				return
			}
			i += 6
		default:
			s.pos = i
			s.fail("invalid escape in string")
			return
		}
	}
	s.fail("unterminated string")
	return false
}

// str reads a string at the cursor (which is on the opening quote).
func (s *Scanner) str() []byte {
	start := s.pos + 1
	i := stringSpecial(s.buf, start, 0) // without escapes, a string is taken as it is
	if i < len(s.buf) && s.buf[i] == '"' {
		s.pos = i + 1
		return s.buf[start:i]
	}
	// an escape at i (or no end): the whole string must end before it is unescaped
	if stringEnd(s.buf, i) < 0 {
		s.fail("unterminated string")
		return nil
	}
	return s.unescape(start, i)
}

func (s *Scanner) unescape(start, i int) []byte {
	out := append(make([]byte, 0, i-start+16), s.buf[start:i]...)
	for i < len(s.buf) {
		c := s.buf[i]
		switch {
		case c == '"':
			s.pos = i + 1
			return out
		case c < 0x20:
			s.pos = i
			s.fail("control character in string")
			return nil
		case c != '\\':
			out = append(out, c)
			i++
			continue
		}
		if i+1 >= len(s.buf) {
			break
		}
		e := s.buf[i+1]
		i += 2
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
			r, n := s.hex4(i)
			if n < 0 {
				return nil
			}
			i = n
			if r >= 0xD800 && r < 0xDC00 && i+1 < len(s.buf) && s.buf[i] == '\\' && s.buf[i+1] == 'u' {
				if r2, n2 := s.hex4(i + 2); n2 >= 0 && r2 >= 0xDC00 && r2 < 0xE000 {
					r = (r-0xD800)<<10 + (r2 - 0xDC00) + 0x10000
					i = n2
				}
			}
			out = utf8.AppendRune(out, r)
		default:
			s.pos = i - 1
			s.fail("invalid escape in string")
			return nil
		}
	}
	s.fail("unterminated string")
	return nil
}

func (s *Scanner) hex4(i int) (rune, int) {
	if i+4 > len(s.buf) {
		s.pos = i
		s.fail("short unicode escape")
		return 0, -1
	}
	var r rune
	for _, c := range s.buf[i : i+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			s.pos = i
			s.fail("invalid unicode escape")
			return 0, -1
		}
	}
	return r, i + 4
}

// parseTime parses the RFC 3339 forms Kubernetes writes
// (2006-01-02T15:04:05Z, with optional fraction and offset) without
// allocating; anything unusual falls back to time.Parse.
func parseTime(b []byte) (time.Time, bool) {
	if len(b) >= 20 && b[4] == '-' && b[7] == '-' && b[10] == 'T' && b[13] == ':' && b[16] == ':' && b[len(b)-1] == 'Z' {
		yr, ok1 := atoi(b[0:4])
		mo, ok2 := atoi(b[5:7])
		dd, ok3 := atoi(b[8:10])
		hh, ok4 := atoi(b[11:13])
		mi, ok5 := atoi(b[14:16])
		ss, ok6 := atoi(b[17:19])
		ns := 0
		ok7 := true
		if rest := b[19 : len(b)-1]; len(rest) > 0 {
			if rest[0] != '.' || len(rest) < 2 || len(rest) > 10 {
				ok7 = false
			} else {
				var f int
				f, ok7 = atoi(rest[1:])
				for k := len(rest) - 1; k < 9; k++ {
					f *= 10
				}
				ns = f
			}
		}
		// what time.Parse accepts, no more: 2026-02-30 is not March 2
		if ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7 && mo >= 1 && mo <= 12 && dd >= 1 && dd <= daysIn(time.Month(mo), yr) && hh < 24 && mi < 60 && ss < 60 {
			return time.Date(yr, time.Month(mo), dd, hh, mi, ss, ns, time.UTC), true
		}
	}
	t, err := time.Parse(time.RFC3339Nano, string(b))
	if err != nil {
		return time.Time{}, false
	}
	return t.UTC(), true
}

// daysIn is the number of days of month m of year y.
func daysIn(m time.Month, y int) int { return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day() }

func atoi(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, len(b) > 0
}
