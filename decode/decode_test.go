package decode_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/podtrace/podtrace/decode"
)

func lines(t testing.TB, path string) [][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<20)
	var out [][]byte
	for sc.Scan() {
		out = append(out, append([]byte(nil), sc.Bytes()...))
	}
	return out
}

// TestRealCaptures: every line of the captures decodes, and the pod events
// found agree with a plain encoding/json reading of the same lines.
func TestRealCaptures(t *testing.T) {
	for _, path := range []string{
		"../testdata/kwok-only-v1.34.10/audit.log",
		"../testdata/kwok-only-v1.34.10/audit-webhook-batches.jsonl",
		"../testdata/mixed-kwok-hollowkubelet-v1.34.10/audit.log",
	} {
		d := decode.Decoder{KeepRaw: true}
		got := map[string]string{}
		for _, l := range lines(t, path) {
			err := d.Decode(l, func(ev *decode.Event) {
				who := ev.Ref.Namespace + "/" + ev.Ref.Name
				if ev.Pod != nil {
					who = ev.Pod.Namespace + "/" + ev.Pod.Name
				}
				if ev.Event != nil {
					who = ev.Event.Namespace + "/" + ev.Event.PodName
				}
				got[ev.Key()] = ev.Verb + " " + who
				if !json.Valid(ev.Raw) {
					t.Errorf("%s: redacted body is not JSON", ev.Key())
				}
			})
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
		}
		// the same selection with encoding/json
		want := map[string]string{}
		for _, l := range lines(t, path) {
			var doc struct {
				Items []json.RawMessage `json:"items"`
			}
			json.Unmarshal(l, &doc)
			items := doc.Items
			if items == nil {
				items = []json.RawMessage{l}
			}
			for _, it := range items {
				var e struct {
					AuditID, Stage, Verb string
					ObjectRef            struct{ Resource, Namespace, Name string }
					ResponseObject       struct {
						Kind                      string
						Metadata                  struct{ Name, Namespace string }
						InvolvedObject, Regarding struct{ Kind, Name, Namespace string }
					}
					ResponseStatus struct{ Code int }
				}
				if err := json.Unmarshal(it, &e); err != nil {
					t.Fatal(err)
				}
				if e.Stage != "ResponseComplete" {
					continue
				}
				switch e.ObjectRef.Resource {
				case "pods":
					if !strings.Contains("create update patch delete", e.Verb) {
						continue
					}
					who := e.ObjectRef.Namespace + "/" + e.ObjectRef.Name
					if e.ResponseObject.Kind == "Pod" {
						who = e.ResponseObject.Metadata.Namespace + "/" + e.ResponseObject.Metadata.Name
					}
					want[e.AuditID+"/"+e.Stage] = e.Verb + " " + who
				case "events":
					io := e.ResponseObject.InvolvedObject
					if io.Kind == "" {
						io = e.ResponseObject.Regarding
					}
					if io.Kind == "Pod" && strings.Contains("create update patch", e.Verb) {
						want[e.AuditID+"/"+e.Stage] = e.Verb + " " + e.ResponseObject.Metadata.Namespace + "/" + io.Name
					}
				}
			}
		}
		if len(got) == 0 || len(got) != len(want) {
			t.Fatalf("%s: decoded %d pod events, encoding/json finds %d", path, len(got), len(want))
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: %s: got %q want %q", path, k, got[k], v)
			}
		}
	}
}

func TestRedact(t *testing.T) {
	in := `{"kind":"Event","auditID":"a","stage":"ResponseComplete","verb":"create","objectRef":{"resource":"pods","namespace":"n"},"responseStatus":{"code":201},
	"requestObject":{"kind":"Pod","metadata":{"name":"p","annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{\"env\":\"SECRET1\"}"},"managedFields":[{"manager":"x"}]},
	"spec":{"containers":[{"name":"c","image":"i","env":[{"name":"PASSWORD","value":"SECRET2"},{"name":"FROM","valueFrom":{"secretKeyRef":{"name":"s","key":"k"}}}]}]}},
	"responseObject":{"kind":"Pod","metadata":{"name":"p","namespace":"n","uid":"u"},"spec":{"initContainers":[{"name":"i","env":[{"name":"TOKEN","value":"SECRET3"}]}]}},
	"stageTimestamp":"2026-01-01T00:00:00.000001Z"}`
	d := decode.Decoder{KeepRaw: true}
	var raw []byte
	if err := d.Decode([]byte(in), func(ev *decode.Event) { raw = ev.Raw }); err != nil {
		t.Fatal(err)
	}
	if raw == nil {
		t.Fatal("event not relevant")
	}
	for _, secret := range []string{"SECRET1", "SECRET2", "SECRET3", `"manager"`} {
		if bytes.Contains(raw, []byte(secret)) {
			t.Errorf("redacted body still holds %s: %s", secret, raw)
		}
	}
	for _, kept := range []string{`"PASSWORD"`, `"secretKeyRef"`, `"<redacted>"`, `"uid":"u"`} {
		if !bytes.Contains(raw, []byte(kept)) {
			t.Errorf("redacted body lost %s: %s", kept, raw)
		}
	}
	var r decode.Redactor
	if out := r.Redact([]byte(`{"kind":"Secret","data":{"k":"c2VjcmV0"},"stringData":{"a":"b"},"metadata":{"name":"s"}}`)); bytes.Contains(out, []byte("c2VjcmV0")) || bytes.Contains(out, []byte(`"b"`)) {
		t.Errorf("secret data kept: %s", out)
	}
}

func TestBadInput(t *testing.T) {
	cases := map[string]string{
		"truncated":      `{"kind":"EventList","items":[{"auditID":"a","stage":"ResponseComplete","verb":"create","objectRef":{"resource":"pods"`,
		"not an object":  `[1,2,3]`,
		"wrong version":  `{"kind":"Event","apiVersion":"v1","auditID":"a"}`,
		"bad stage":      `{"auditID":"a","stage":"Later","verb":"create","objectRef":{"resource":"pods"}}`,
		"no auditID":     `{"stage":"ResponseComplete","verb":"create","objectRef":{"resource":"pods"}}`,
		"trailing bytes": `{"auditID":"a","stage":"ResponseComplete"} x`,
		"deep nesting":   `{"requestObject":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}`,
		"bad utf8 time":  `{"auditID":"a","stage":"ResponseComplete","stageTimestamp":"\xff"}`,
		"control char":   "{\"auditID\":\"a\x01\"}",
		"February 30":    `{"auditID":"a","stage":"ResponseComplete","verb":"create","objectRef":{"resource":"pods","namespace":"d","name":"p"},"stageTimestamp":"2026-02-30T10:00:00.000000Z"}`,
		"April 31":       `{"auditID":"a","stage":"ResponseComplete","verb":"create","objectRef":{"resource":"pods","namespace":"d","name":"p"},"stageTimestamp":"2026-04-31T10:00:00Z"}`,
		"second 60":      `{"auditID":"a","stage":"ResponseComplete","verb":"create","objectRef":{"resource":"pods","namespace":"d","name":"p"},"stageTimestamp":"2026-04-30T10:00:60Z"}`,
	}
	for name, in := range cases {
		var d decode.Decoder
		n := 0
		err := d.Decode([]byte(in), func(*decode.Event) { n++ })
		if err == nil && d.Stats.Malformed == 0 {
			t.Errorf("%s: accepted", name)
		}
		if n != 0 {
			t.Errorf("%s: handed on %d events", name, n)
		}
	}
}

func TestEscapes(t *testing.T) {
	var sc decode.Scanner
	sc.Reset([]byte(`{"a\u0026b":"x\n\"y\" \u00e9 \ud83d\ude00","n":-1.5e3,"t":true}`))
	got := map[string]any{}
	err := sc.Object(func(k []byte) error {
		key := string(k)
		switch key {
		case "n":
			got[key] = string(sc.Raw())
		case "t":
			got[key] = sc.Bool()
		default:
			got[key] = sc.String()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got["a&b"] != "x\n\"y\" é 😀" || got["n"] != "-1.5e3" || got["t"] != true {
		t.Errorf("got %#v", got)
	}
}

func FuzzDecode(f *testing.F) {
	for _, path := range []string{"../testdata/kwok-only-v1.34.10/audit.log", "../testdata/kwok-only-v1.34.10/audit-webhook-batches.jsonl"} {
		for i, l := range lines(f, path) {
			if i%40 == 0 || bytes.Contains(l, []byte(`"subresource":"status"`)) && i%5 == 0 {
				f.Add(l)
			}
		}
	}
	// a pod event the decoder keeps, to put beside the fuzzed input
	var good []byte
	var goodEvent string
	for _, l := range lines(f, "../testdata/kwok-only-v1.34.10/audit.log") {
		d := decode.Decoder{KeepRaw: true}
		d.Decode(l, func(ev *decode.Event) {
			if good == nil {
				good, goodEvent = l, ev.Key()+" "+string(ev.Raw)
			}
		})
	}
	if good == nil {
		f.Fatal("no event the decoder keeps in the capture")
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d := decode.Decoder{KeepRaw: true}
		var single []string
		d.Decode(b, func(ev *decode.Event) {
			if ev.AuditID == "" {
				t.Fatal("event without auditID handed on")
			}
			if !json.Valid(ev.Raw) {
				t.Fatalf("redacted body is not valid JSON: %q", ev.Raw)
			}
			single = append(single, ev.Key()+" "+strings.TrimSpace(string(ev.Raw)))
		})
		if !json.Valid(b) {
			return
		}
		// in a well-formed EventList, a bad item never costs its
		// neighbours, and an item decodes as it does alone
		list := []byte(`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[`)
		list = append(append(append(append(append(list, b...), ','), good...), ','), b...)
		list = append(list, "]}"...)
		var got []string
		err := d.Decode(list, func(ev *decode.Event) { got = append(got, ev.Key()+" "+string(ev.Raw)) })
		if err != nil && strings.Contains(err.Error(), "nesting too deep") {
			return // a list nested beyond the bound is refused whole, by design
		}
		if err != nil {
			t.Fatalf("well-formed list: %v", err)
		}
		if !slices.Contains(got, goodEvent) {
			t.Fatalf("the good item beside %q was lost: got %q", b, got)
		}
		// an item decodes as it does alone (unless alone it is a list)
		var obj map[string]json.RawMessage
		if json.Unmarshal(b, &obj) == nil && obj["items"] == nil && len(single) <= 1 {
			want := append(append(single[:len(single):len(single)], goodEvent), single...)
			if !slices.Equal(got, want) {
				t.Fatalf("items of a list decode as they do alone: got %q, want %q", got, want)
			}
		}
	})
}

// An event whose time podtrace cannot subtract from another (before 1970,
// or beyond unix nanoseconds) is malformed; the good events beside it in the
// same list are kept.
func TestTimeOutOfRange(t *testing.T) {
	ev := func(id, ts string) string {
		return `{"auditID":"` + id + `","stage":"ResponseComplete","verb":"create","objectRef":{"resource":"pods","namespace":"d","name":"p"},"stageTimestamp":"` + ts + `"}`
	}
	for _, ts := range []string{
		"1677-12-01T00:00:00Z",           // unix nanoseconds hold it, durations to today do not
		"1677-09-21T00:12:43.145224191Z", // one nanosecond before unix nanoseconds begin
		"1677-01-01T00:00:00.5+01:00",    // the time.Parse path
		"1969-12-31T23:59:59.999999999Z",
		"2262-04-11T23:47:16.854775808Z", // one nanosecond after they end
		"9999-12-31T23:59:59Z",
	} {
		in := `{"kind":"EventList","items":[` + ev("bad", ts) + `,` + ev("good", "2026-04-30T10:00:00Z") + `]}`
		var d decode.Decoder
		var got []string
		if err := d.Decode([]byte(in), func(e *decode.Event) { got = append(got, e.AuditID) }); err != nil {
			t.Errorf("%s: %v", ts, err)
		}
		if d.Stats.Malformed != 1 || len(got) != 1 || got[0] != "good" {
			t.Errorf("%s: malformed %d, handed on %q; want 1 and [good]", ts, d.Stats.Malformed, got)
		}
	}
	for _, ts := range []string{"1970-01-01T00:00:00Z", "2262-04-11T23:47:16.854775807Z"} {
		var d decode.Decoder
		n := 0
		if err := d.Decode([]byte(ev("a", ts)), func(*decode.Event) { n++ }); err != nil || n != 1 {
			t.Errorf("%s: rejected (%v)", ts, err)
		}
	}
}
