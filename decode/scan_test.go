package decode

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// TestStringScans: the string scans at the places where reading eight bytes
// at a time can go wrong (word boundaries, runs of backslashes, the
// bytes left after the last whole word, the end of the input, bytes with
// the high bit set), through stringEnd (skipping containers), str (reading
// a string) and skipStr (the strict pass). Every input starts with the
// opening quote, so the first word is in[1:9].
func TestStringScans(t *testing.T) {
	cases := []struct {
		name, in string
		end      int    // stringEnd from in[1:], -1 for none
		str      string // what str reads: the value, or the error
		skip     string // the strict pass's error, "" if it accepts the string
	}{
		{"empty", `""`, 1, "", ""},
		{"end of input", `"abc"`, 4, "abc", ""},
		{"quote at a word's last byte", `"abcdefg"x`, 8, "abcdefg", ""},
		{"quote at a word's first byte", `"abcdefgh"x`, 9, "abcdefgh", ""},
		{"escaped quote at a word boundary", `"abcdef\"gh"`, 11, `abcdef"gh`, ""},
		{"escaped quote after a word boundary", `"abcdefg\"h"`, 11, `abcdefg"h`, ""},
		{"odd run of backslashes across a word boundary", `"abcde\\\"xyz"`, 13, `abcde\"xyz`, ""},
		{"even run of backslashes across a word boundary", `"abcde\\\\"xyz"`, 10, `abcde\\`, ""},
		{"run of backslashes over a whole word", `"a` + strings.Repeat(`\\`, 6) + `"b"`, 14, "a" + strings.Repeat(`\`, 6), ""},
		{"odd run of backslashes over a whole word", `"a` + strings.Repeat(`\\`, 6) + `\""b"`, 16, "a" + strings.Repeat(`\`, 6) + `"`, ""},
		{"only escaped quotes", `"\"\"\"\"\"\""`, 13, `""""""`, ""},
		{"unicode escape across a word boundary", `"abcdef\u00e9gh"`, 15, "abcdefégh", ""},
		{"surrogate pair", `"\ud83d\ude00"`, 13, "😀", ""},
		{"multi-byte UTF-8", `"héllo wörld 😀 ¢ ܐ"`, 25, "héllo wörld 😀 ¢ ܐ", ""},
		{"bytes with the high bit set", "\"\xa2\xdc\xa0\x80\xff\xa2\xdc\xa0\x9f\"", 10, "\xa2\xdc\xa0\x80\xff\xa2\xdc\xa0\x9f", ""},
		{"space and DEL are not control characters", "\" \x7f \x7f \x7f \x7f \x7f\"", 11, " \x7f \x7f \x7f \x7f \x7f", ""},
		{"control character in a whole word", "\"abc\x1fdefgh\"", 10, "abc\x1fdefgh", "offset 4: control character in string"},
		{"control character in the tail", "\"abcdefghij\x01\"", 12, "abcdefghij\x01", "offset 11: control character in string"},
		{"control character in a short input", "\"\x00\"", 2, "\x00", "offset 1: control character in string"},
		{"control character after an escape", "\"a\\n\x01\"", 5, "offset 4: control character in string", "offset 4: control character in string"},
		{"unterminated", `"abcdefghijk`, -1, "offset 0: unterminated string", "offset 0: unterminated string"},
		{"unterminated, ending in a backslash", `"abc\`, -1, "offset 0: unterminated string", "offset 0: unterminated string"},
		{"unterminated, ending in a backslash after a word", `"abcdefghijk\`, -1, "offset 0: unterminated string", "offset 0: unterminated string"},
		{"unterminated, ending in an escaped quote", `"abcdefghijk\"`, -1, "offset 0: unterminated string", "offset 0: unterminated string"},
		{"unterminated, ending in a control character", "\"abcdefghijk\x01", -1, "offset 0: unterminated string", "offset 12: control character in string"},
		{"unterminated with an invalid escape", `"abcdefgh\x`, -1, "offset 0: unterminated string", "offset 9: invalid escape in string"},
		{"invalid escape", `"abcdefgh\x"`, 11, "offset 10: invalid escape in string", "offset 9: invalid escape in string"},
		{"invalid unicode escape", `"abcdefgh\u12x4"`, 15, "offset 11: invalid unicode escape", "offset 11: invalid unicode escape"},
		{"short unicode escape at the end", `"abcdefgh\u12`, -1, "offset 0: unterminated string", "offset 11: short unicode escape"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := []byte(c.in)
			if end := stringEnd(b, 1); end != c.end {
				t.Errorf("stringEnd = %d, want %d", end, c.end)
			}
			// a scan's outcome: the error it met, or else what it read,
			// and then it must have stopped past the closing quote
			var s Scanner
			outcome := func(scan string, read []byte) string {
				if s.err != nil {
					return s.err.Error()
				}
				if s.pos != c.end+1 {
					t.Errorf("%s ends at %d, want %d", scan, s.pos, c.end+1)
				}
				return string(read)
			}
			s.Reset(b)
			if got := outcome("str", s.str()); got != c.str {
				t.Errorf("str: %q, want %q", got, c.str)
			}
			s.Reset(b)
			s.skipStr()
			if got := outcome("skipStr", nil); got != c.skip {
				t.Errorf("skipStr: %q, want %q", got, c.skip)
			}
		})
	}
}

// FuzzStringScans: on any input, stringSpecial finds what a byte-by-byte
// loop finds from every offset, and str and skipStr, for a string starting
// at each quote, end where the plain scans end (the ones podtrace had before
// reading eight bytes at a time), with the same value or the same error.
func FuzzStringScans(f *testing.F) {
	f.Add([]byte(`"abcdef\"gh" "abcde\\\\"xyz" "\ud83d\ude00"`))
	f.Add([]byte("\"héllo\x01 wörld\\"))
	f.Add([]byte(`{"kubectl.kubernetes.io/last-applied-configuration":"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"web\"}}\n"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		for i := 0; i <= len(b); i++ {
			for _, limit := range []byte{0, 0x20} {
				want := i
				for want < len(b) && b[want] != '"' && b[want] != '\\' && b[want] >= limit {
					want++
				}
				if got := stringSpecial(b, i, limit); got != want {
					t.Fatalf("stringSpecial(%q, %d, %#x) = %d, want %d", b, i, limit, got, want)
				}
			}
		}
		for q := range b {
			if b[q] != '"' {
				continue
			}
			var s, ref Scanner
			s.Reset(b)
			ref.Reset(b)
			s.pos, ref.pos = q, q
			v, want := s.str(), ref.plainStr()
			if !bytes.Equal(v, want) || s.pos != ref.pos || fmt.Sprint(s.err) != fmt.Sprint(ref.err) {
				t.Fatalf("str of %q at %d: %q, %d, %v; want %q, %d, %v", b, q, v, s.pos, s.err, want, ref.pos, ref.err)
			}
			s.Reset(b)
			ref.Reset(b)
			s.pos, ref.pos = q, q
			s.skipStr()
			ref.plainSkipStr()
			if s.pos != ref.pos || fmt.Sprint(s.err) != fmt.Sprint(ref.err) {
				t.Fatalf("skipStr of %q at %d: %d, %v; want %d, %v", b, q, s.pos, s.err, ref.pos, ref.err)
			}
		}
	})
}

// plainStr finds the end of the string, then looks for a backslash in it.
func (s *Scanner) plainStr() []byte {
	start := s.pos + 1
	end := stringEnd(s.buf, start)
	if end < 0 {
		s.fail("unterminated string")
		return nil
	}
	if i := bytes.IndexByte(s.buf[start:end], '\\'); i >= 0 {
		return s.unescape(start, start+i)
	}
	s.pos = end + 1
	return s.buf[start:end]
}

// plainSkipStr checks the string byte by byte.
func (s *Scanner) plainSkipStr() {
	b := s.buf
	for i := s.pos + 1; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			s.pos = i + 1
			return
		case c == '\\':
			if i+1 >= len(b) {
				break
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				if _, n := s.hex4(i + 2); n < 0 {
					return
				}
				i += 5
			default:
				s.pos = i
				s.fail("invalid escape in string")
				return
			}
		case c < 0x20:
			s.pos = i
			s.fail("control character in string")
			return
		}
	}
	s.fail("unterminated string")
}
