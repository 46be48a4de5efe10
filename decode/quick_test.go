package decode

import (
	"bufio"
	"os"
	"testing"
	"time"
)

func TestQuick(t *testing.T) {
	for _, f := range []string{"../testdata/kwok-only-v1.34.10/audit.log", "../testdata/kwok-only-v1.34.10/audit-webhook-batches.jsonl"} {
		fh, _ := os.Open(f)
		sc := bufio.NewScanner(fh)
		sc.Buffer(nil, 64<<20)
		d := Decoder{KeepRaw: true}
		n := 0
		var raw int
		start := time.Now()
		for sc.Scan() {
			if err := d.Decode(sc.Bytes(), func(ev *Event) { n++; raw += len(ev.Raw) }); err != nil {
				t.Log(err)
			}
		}
		t.Logf("%s %+v n=%d raw=%d %v", f, d.Stats, n, raw, time.Since(start))
	}
}
