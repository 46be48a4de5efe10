// Package synth makes large realistic audit logs from a real capture by
// replicating it: copy k of the capture moves every namespace "ns" to
// "ns-k" and rewrites every UUID (audit ids, object uids) to one of its own,
// so each copy's pods are distinct pods with the same real event shapes,
// sizes and mix. Used by benchmarks and load generators.
package synth

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strconv"
)

// Capture is a real audit log read into memory, one line per element.
type Capture struct {
	Lines      [][]byte
	Namespaces []string // namespaces to move per copy
}

// Load reads an audit log (JSON lines, plain or gzip) and the namespaces to rewrite.
func Load(path string, namespaces ...string) (*Capture, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("synth: %w", err)
	}
	defer f.Close()
	var r io.Reader = f
	br := bufio.NewReader(f)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("synth: %w", err)
		}
		r = zr
	} else {
		r = br
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 64<<20)
	c := &Capture{Namespaces: namespaces}
	for sc.Scan() {
		c.Lines = append(c.Lines, append([]byte(nil), sc.Bytes()...))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("synth: %w", err)
	}
	return c, nil
}

// Copy appends line i of copy k to dst.
func (c *Capture) Copy(dst []byte, i, k int) []byte {
	line := c.Lines[i]
	suffix := "-" + strconv.Itoa(k)
	start := len(dst)
	dst = append(dst, line...)
	out := dst[start:]
	// namespaces: "ns" as a JSON value and in paths/messages ("/namespaces/ns/", "ns/name")
	for _, ns := range c.Namespaces {
		out = replaceAll(out, []byte(`"`+ns+`"`), []byte(`"`+ns+suffix+`"`))
		out = replaceAll(out, []byte(`/namespaces/`+ns+`/`), []byte(`/namespaces/`+ns+suffix+`/`))
		out = replaceAll(out, []byte(` `+ns+`/`), []byte(` `+ns+suffix+`/`))
		out = replaceAll(out, []byte(`"`+ns+`/`), []byte(`"`+ns+suffix+`/`))
		out = replaceAll(out, []byte(`_`+ns+`(`), []byte(`_`+ns+suffix+`(`))
	}
	rewriteUUIDs(out, k)
	return append(dst[:start], out...)
}

// Write writes copies of the whole capture to w, copy by copy.
func (c *Capture) Write(w io.Writer, copies int) (int64, error) {
	bw := bufio.NewWriterSize(w, 1<<20)
	var n int64
	var buf []byte
	for k := range copies {
		for i := range c.Lines {
			buf = c.Copy(buf[:0], i, k)
			buf = append(buf, '\n')
			m, err := bw.Write(buf)
			n += int64(m)
			if err != nil {
				return n, err
			}
		}
	}
	return n, bw.Flush()
}

func replaceAll(b, old, new []byte) []byte {
	if !bytes.Contains(b, old) {
		return b
	}
	return bytes.ReplaceAll(b, old, new)
}

// rewriteUUIDs replaces, in place, the last 12 hex digits of every UUID with
// a hash of the UUID and k: same UUID, same copy → same result.
func rewriteUUIDs(b []byte, k int) {
	for i := 0; i+36 <= len(b); i++ {
		if !isUUID(b[i : i+36]) {
			continue
		}
		h := sha256.New()
		h.Write(b[i : i+36])
		h.Write([]byte(strconv.Itoa(k)))
		sum := h.Sum(nil)
		hex.Encode(b[i+24:i+36], sum[:6])
		i += 35
	}
}

func isUUID(b []byte) bool {
	for j, c := range b {
		switch j {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				return false
			}
		}
	}
	return true
}
