package sqlstore

import (
	"bytes"
	"reflect"
	"testing"
	"time"

	"github.com/podtrace/podtrace"
)

func briefs() []podtrace.Brief {
	t0 := time.Date(2026, 11, 21, 21, 0, 0, 109489000, time.UTC)
	fin := t0.Add(40 * time.Second)
	yes, no := true, false
	return []podtrace.Brief{
		{},
		{Cluster: "c", Namespace: "ns", Name: "web", UID: "u1", Kind: podtrace.KindCreate, Seq: 0, Outcome: podtrace.OutcomeReady,
			Created: t0, Finished: &fin, End: fin, Node: "n1", OwnerKind: "ReplicaSet", OwnerName: "web-1",
			TotalSeconds: 40, PlatformSeconds: 3.25, UserSeconds: 36.75, Met: &no, TraceID: "0af7651916cd43dd8448eb211c80319c",
			Findings: []podtrace.FindingBrief{{Code: "ImagePullSlow", Phase: "image", Owner: podtrace.OwnerUser}, {Code: "Unknown", Owner: podtrace.OwnerPlatform}}},
		{Cluster: "a\x00b\xff", Name: "\x1e\x1f", UID: "u2", Kind: podtrace.KindUpgrade, Seq: 7, Outcome: podtrace.OutcomeRunning,
			Created: time.Unix(0, -1).UTC(), End: time.Unix(0, 1<<62).UTC(), Met: &yes, TotalSeconds: -1e-300},
	}
}

func TestBriefRoundTrip(t *testing.T) {
	d := briefDecoder{interned: map[string]string{}}
	for _, want := range briefs() {
		var got podtrace.Brief
		if err := d.decode(AppendBrief(nil, &want), &got); err != nil {
			t.Fatalf("%+v: %v", want, err)
		}
		if want.Created.IsZero() { // the zero time is not representable in unix ns
			want.Created, want.End = got.Created, got.End
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, want)
		}
	}
}

func TestBriefMalformed(t *testing.T) {
	d := briefDecoder{interned: map[string]string{}}
	b := briefs()[1]
	enc := AppendBrief(nil, &b)
	for _, bad := range [][]byte{nil, {}, {2}, enc[:len(enc)-1], append(enc[:len(enc):len(enc)], 0)} {
		if err := d.decode(bad, new(podtrace.Brief)); err == nil {
			t.Errorf("%q decoded", bad)
		}
	}
}

// FuzzBrief: any bytes decode to a brief or an error, never a panic, and a
// brief decoded encodes to bytes that decode to it again (compared encoded:
// a NaN is not equal to itself).
func FuzzBrief(f *testing.F) {
	for _, b := range briefs() {
		f.Add(AppendBrief(nil, &b))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d := briefDecoder{interned: map[string]string{}}
		var b podtrace.Brief
		if d.decode(data, &b) != nil {
			return
		}
		enc := AppendBrief(nil, &b)
		var again podtrace.Brief
		if err := d.decode(enc, &again); err != nil || !bytes.Equal(AppendBrief(nil, &again), enc) {
			t.Fatalf("re-encoded %+v decodes to %+v, %v", b, again, err)
		}
	})
}
