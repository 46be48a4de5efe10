package sqlstore

import (
	"fmt"
	"testing"

	"github.com/podtrace/podtrace"
)

// sliceRows are rows of one bytes column, from memory.
type sliceRows struct {
	rows [][]byte
	i    int
}

func (r *sliceRows) Next() bool { r.i++; return r.i <= len(r.rows) }
func (r *sliceRows) Err() error { return nil }
func (r *sliceRows) Scan(dest ...any) error {
	*dest[0].(*[]byte) = r.rows[r.i-1]
	return nil
}

// BenchmarkBriefs decodes the briefs of 100k records (what a summary
// reads), without a database.
func BenchmarkBriefs(b *testing.B) {
	base := briefs()[1]
	rows := make([][]byte, 100_000)
	size := 0
	for i := range rows {
		br := base
		br.Namespace = fmt.Sprintf("ns-%d", i%20)
		br.UID = fmt.Sprintf("uid-%07d", i)
		br.Name = fmt.Sprintf("web-%07d", i)
		rows[i] = AppendBrief(nil, &br)
		size += len(rows[i])
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		if err := Briefs[[]byte](&sliceRows{rows: rows}, func(*podtrace.Brief) bool { n++; return true }); err != nil || n != len(rows) {
			b.Fatal(n, err)
		}
	}
}
