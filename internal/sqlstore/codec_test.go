package sqlstore_test

import (
	"bufio"
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/s2"

	"github.com/podtrace/podtrace"
	"github.com/podtrace/podtrace/decode"
	"github.com/podtrace/podtrace/internal/sqlstore"
)

var makeDict = flag.Bool("makedict", false, "write journal.s2dict from the real captures (only for a new marker: stored bodies need the dictionary they were written with)")

// captureBodies are the redacted bodies of a real capture's events, as
// the journal keeps them.
func captureBodies(t testing.TB, capture string) [][]byte {
	f, err := os.Open(filepath.Join("..", "..", "testdata", capture, "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d := decode.Decoder{KeepRaw: true}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<20)
	var out [][]byte
	for sc.Scan() {
		d.Decode(sc.Bytes(), func(ev *decode.Event) { out = append(out, ev.Raw) })
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestMakeDict writes the dictionary, with -makedict: one redacted event
// of each verb, resource and subresource of both captures, in the order
// first seen, up to s2's 64 KiB.
func TestMakeDict(t *testing.T) {
	if !*makeDict {
		t.Skip("-makedict not set")
	}
	var data []byte
	seen := map[string]bool{}
	d := decode.Decoder{}
	for _, c := range []string{"mixed-kwok-hollowkubelet-v1.34.10", "kwok-only-v1.34.10"} {
		for _, body := range captureBodies(t, c) {
			d.Decode(body, func(ev *decode.Event) {
				k := ev.Verb + " " + ev.Ref.Resource + "/" + ev.Ref.Subresource
				if seen[k] || len(data)+len(body) > s2.MaxDictSize {
					return
				}
				seen[k] = true
				data = append(data, body...)
			})
		}
	}
	dict := s2.MakeDict(data, []byte(`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":"`))
	if dict == nil {
		t.Fatalf("no dictionary from %d bytes", len(data))
	}
	if err := os.WriteFile("journal.s2dict", dict.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestCodec round-trips the real captures' bodies, reads JSON bodies
// written before compression as they are, and refuses corrupt ones.
func TestCodec(t *testing.T) {
	c, err := sqlstore.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	for _, capture := range []string{"mixed-kwok-hollowkubelet-v1.34.10", "kwok-only-v1.34.10"} {
		bodies := captureBodies(t, capture)
		evs := make([]podtrace.JournalEvent, len(bodies))
		var in, out int
		for i, b := range bodies {
			evs[i].Body = b
			in += len(b)
		}
		for i, stored := range c.CompressBodies(evs) {
			out += len(stored)
			got, err := c.Decompress(stored)
			if err != nil || !bytes.Equal(got, bodies[i]) {
				t.Fatalf("%s body %d: round trip: %v", capture, i, err)
			}
			if got, err := c.Decompress(bodies[i]); err != nil || !bytes.Equal(got, bodies[i]) {
				t.Fatalf("%s body %d: uncompressed body not read as it is: %v", capture, i, err)
			}
		}
		t.Logf("%s: %d bodies, %d bytes stored for %d (%.3f)", capture, len(bodies), out, in, float64(out)/float64(in))
	}
	stored := c.Compress(nil, []byte(`{"kind":"Event"}`))
	if _, err := c.Decompress(stored[:len(stored)-2]); err == nil {
		t.Error("a truncated body decompressed")
	}
}

// benchBodies is a codec and the mixed capture's bodies, their total size
// set as the benchmark's bytes.
func benchBodies(b *testing.B) (*sqlstore.Codec, [][]byte) {
	c, err := sqlstore.NewCodec()
	if err != nil {
		b.Fatal(err)
	}
	bodies := captureBodies(b, "mixed-kwok-hollowkubelet-v1.34.10")
	var n int
	for _, body := range bodies {
		n += len(body)
	}
	b.SetBytes(int64(n))
	b.ReportAllocs()
	return c, bodies
}

func BenchmarkCompress(b *testing.B) {
	c, bodies := benchBodies(b)
	var buf []byte
	for b.Loop() {
		for _, body := range bodies {
			buf = c.Compress(buf[:0], body)
		}
	}
}

func BenchmarkDecompress(b *testing.B) {
	c, bodies := benchBodies(b)
	stored := make([][]byte, len(bodies))
	for i, body := range bodies {
		stored[i] = c.Compress(nil, body)
	}
	for b.Loop() {
		for _, s := range stored {
			if _, err := c.Decompress(s); err != nil {
				b.Fatal(err)
			}
		}
	}
}
