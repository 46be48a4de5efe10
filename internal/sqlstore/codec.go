package sqlstore

import (
	_ "embed"
	"fmt"
	"slices"

	"github.com/klauspost/compress/s2"

	"github.com/podtrace/podtrace"
)

// Codec compresses the journal's bodies, the pods' saved states and the
// records' bodies. A body is stored as one S2 block
// (klauspost/compress/s2: pure Go, a few µs for a 3 kB event) behind a
// marker byte, encoded against a dictionary of real audit events
// (journal.s2dict: redacted events of the shipped captures, one of each
// kind), so that even a small event finds its field names, its managed
// fields' shapes and its repeated values in it: pod-heavy streams store
// about a seventh of their JSON, where an S2 block without the dictionary
// keeps almost half. A body without the marker is read as it is: the JSON
// bodies written before bodies were compressed (JSON never starts with
// the marker). The dictionary is frozen: a new one needs a new marker,
// and Decompress must keep reading the old. A Codec is safe for
// concurrent use.
type Codec struct {
	dict *s2.Dict
}

// markerDict1 starts a body compressed against journal.s2dict.
const markerDict1 = 0xd1

// maxBody bounds what one body may decompress to (auditfile.MaxLine, the
// largest event podtrace keeps, is 64 MiB).
const maxBody = 64 << 20

//go:embed journal.s2dict
var dict1 []byte

// NewCodec returns a codec.
func NewCodec() (*Codec, error) {
	d := s2.NewDict(dict1)
	if d == nil {
		return nil, fmt.Errorf("body codec: invalid dictionary")
	}
	return &Codec{dict: d}, nil
}

// Compress appends body's stored form to dst.
func (c *Codec) Compress(dst, body []byte) []byte {
	dst = append(dst, markerDict1)
	n := len(dst)
	dst = slices.Grow(dst, s2.MaxEncodedLen(len(body)))
	return dst[:n+len(c.dict.Encode(dst[n:cap(dst)], body))]
}

// CompressBodies returns the events' bodies compressed (sharing one
// buffer).
func (c *Codec) CompressBodies(evs []podtrace.JournalEvent) [][]byte {
	var n int
	for i := range evs {
		n += 1 + s2.MaxEncodedLen(len(evs[i].Body))
	}
	buf := make([]byte, 0, n)
	ends := make([]int, len(evs))
	for i := range evs {
		buf = c.Compress(buf, evs[i].Body)
		ends[i] = len(buf)
	}
	out := make([][]byte, len(evs))
	from := 0
	for i, end := range ends {
		out[i] = buf[from:end:end]
		from = end
	}
	return out
}

// Decompress returns the body a stored one holds: decompressed, or itself
// if it is not compressed.
func (c *Codec) Decompress(stored []byte) ([]byte, error) {
	if len(stored) == 0 || stored[0] != markerDict1 {
		return stored, nil
	}
	block := stored[1:]
	if n, err := s2.DecodedLen(block); err != nil || n > maxBody {
		return nil, fmt.Errorf("decompress body: %d bytes, %v", n, err)
	}
	body, err := c.dict.Decode(nil, block)
	if err != nil {
		return nil, fmt.Errorf("decompress body: %w", err)
	}
	return body, nil
}
