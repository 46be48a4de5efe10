package lifecycle

import (
	"bufio"
	"encoding/json"
	"os"
	"testing"

	"github.com/podtrace/podtrace/decode"
)

func TestQuickRecords(t *testing.T) {
	fh, _ := os.Open("../testdata/" + os.Getenv("SET") + "/audit.log")
	sc := bufio.NewScanner(fh)
	sc.Buffer(nil, 64<<20)
	var d decode.Decoder
	m := New(DefaultConfig(), nil)
	for sc.Scan() {
		d.Decode(sc.Bytes(), func(ev *decode.Event) { m.Apply(ev) })
	}
	for _, p := range m.Dirty() {
		for _, r := range p.Records("c") {
			b, _ := json.Marshal(r)
			t.Logf("%s", b)
		}
	}
	t.Logf("%+v", m.Stats)
}
