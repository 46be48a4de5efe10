package decode_test

import (
	"encoding/json"
	"testing"

	"github.com/podtrace/podtrace/decode"
)

func benchLines(b *testing.B) ([][]byte, int64) {
	ls := lines(b, "../testdata/kwok-only-v1.34.10/audit.log")
	var n int64
	for _, l := range ls {
		n += int64(len(l))
	}
	return ls, n
}

// each runs fn on every document, b.N times: n bytes an op.
func each(b *testing.B, docs [][]byte, n int64, fn func([]byte)) {
	b.SetBytes(n)
	b.ReportAllocs()
	for b.Loop() {
		for _, d := range docs {
			fn(d)
		}
	}
}

// BenchmarkDecode: the real capture through the decoder, with redaction of
// the events kept (as ingest runs it).
func BenchmarkDecode(b *testing.B) {
	ls, n := benchLines(b)
	d := decode.Decoder{KeepRaw: true}
	each(b, ls, n, func(l []byte) { d.Decode(l, func(*decode.Event) {}) })
	b.ReportMetric(float64(len(ls))*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkJSONValid is the yardstick: a bare encoding/json Valid pass.
func BenchmarkJSONValid(b *testing.B) {
	ls, n := benchLines(b)
	each(b, ls, n, func(l []byte) { json.Valid(l) })
}

func BenchmarkRedact(b *testing.B) {
	ls, _ := benchLines(b)
	var pods [][]byte
	var n int64
	d := decode.Decoder{}
	for _, l := range ls {
		d.Decode(l, func(*decode.Event) { pods = append(pods, l); n += int64(len(l)) })
	}
	var r decode.Redactor
	each(b, pods, n, func(p []byte) { r.Redact(p) })
}

// BenchmarkDecodeEventList: the real webhook batches (EventLists, as the
// apiserver's webhook backend posts them) through the decoder, with
// redaction of the events kept, as the webhook handler runs it.
func BenchmarkDecodeEventList(b *testing.B) {
	ls := lines(b, "../testdata/mixed-kwok-hollowkubelet-v1.34.10/audit-webhook-batches.jsonl")
	var n int64
	for _, l := range ls {
		n += int64(len(l))
	}
	d := decode.Decoder{KeepRaw: true}
	b.SetBytes(n)
	b.ReportAllocs()
	for b.Loop() {
		for _, l := range ls {
			if err := d.Decode(l, func(*decode.Event) {}); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(d.Stats.Events)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkSkip: skipping whole audit events of the real capture, the way
// the decoder skips what it has no use for (request and response objects
// of other resources, managedFields, ...).
func BenchmarkSkip(b *testing.B) {
	ls, n := benchLines(b)
	var sc decode.Scanner
	each(b, ls, n, func(l []byte) {
		sc.Reset(l)
		if sc.Skip(); sc.Err() != nil {
			b.Fatal(sc.Err())
		}
	})
}
