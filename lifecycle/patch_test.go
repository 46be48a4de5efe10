package lifecycle_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/podtrace/podtrace/decode"
	"github.com/podtrace/podtrace/lifecycle"
)

// statusDocFromCapture returns a real pod status document from the
// captures: the response body of a pods/status patch.
func statusDocsFromCapture(t testing.TB) [][]byte {
	t.Helper()
	var out [][]byte
	for _, l := range bytes.Split(readFile(t, "../testdata/kwok-only-v1.34.10/audit.log"), []byte("\n")) {
		if !bytes.Contains(l, []byte(`"subresource":"status"`)) || !bytes.Contains(l, []byte(`"responseObject"`)) {
			continue
		}
		var ev struct {
			ResponseObject json.RawMessage `json:"responseObject"`
		}
		if json.Unmarshal(l, &ev) == nil && len(ev.ResponseObject) > 0 {
			out = append(out, ev.ResponseObject)
		}
		if len(out) == 8 {
			break
		}
	}
	if len(out) == 0 {
		t.Fatal("no pods/status responses in the capture")
	}
	return out
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// patchSeeds are JSON patches shaped like those kubectl and client-go send
// for pods/status, and some that must fail.
var patchSeeds = []string{
	`[{"op":"replace","path":"/status/phase","value":"Running"}]`,
	`[{"op":"add","path":"/status/conditions/-","value":{"type":"Ready","status":"True"}}]`,
	`[{"op":"test","path":"/status/phase","value":"Pending"},{"op":"replace","path":"/status/phase","value":"Failed"}]`,
	`[{"op":"remove","path":"/status/conditions/0"}]`,
	`[{"op":"move","from":"/status/podIP","path":"/status/hostIP"}]`,
	`[{"op":"copy","from":"/status/conditions","path":"/status/x"}]`,
	`[{"op":"add","path":"/status/containerStatuses/0/state","value":{"running":{"startedAt":"2026-01-01T00:00:00Z"}}}]`,
	`[{"op":"replace","path":"","value":{}}]`,
	`[{"op":"add","path":"/a~1b/~0c","value":1}]`,
	`[{"op":"bogus","path":"/x"}]`,
	`[{"op":"remove","path":"/status/conditions/99"}]`,
	`[{"op":"add","path":"/status/conditions/-1","value":1}]`,
	`{"op":"add"}`,
	`[`,
}

func FuzzApplyJSONPatch(f *testing.F) {
	docs := statusDocsFromCapture(f)
	for i, p := range patchSeeds {
		f.Add(docs[i%len(docs)], []byte(p))
	}
	f.Add([]byte(`{"a":[1]}`), []byte("["+strings.Repeat(`{"op":"copy","from":"/a","path":"/a/-"},`, 8)+`{"op":"test","path":"/a/0","value":1}]`))
	f.Fuzz(func(t *testing.T, docJSON, patch []byte) {
		var doc any
		if json.Unmarshal(docJSON, &doc) != nil {
			return
		}
		out, err := lifecycle.ApplyJSONPatch(doc, patch)
		if err != nil {
			return
		}
		// a patched document is a JSON document again, of bounded size
		b, err := json.Marshal(out)
		if err != nil {
			t.Fatalf("patched document does not encode: %v", err)
		}
		// (values copied are bounded; numbers may print longer than parsed)
		if len(b) > 64*(len(docJSON)+len(patch))+32<<20 {
			t.Fatalf("patch of %d bytes grew a %d-byte document to %d bytes", len(patch), len(docJSON), len(b))
		}
	})
}

// TestJSONPatchCopyBomb: each copy of a value into itself doubles the
// document; a patch of a few kB must not make an exabyte document.
func TestJSONPatchCopyBomb(t *testing.T) {
	ops := make([]string, 64)
	for i := range ops {
		ops[i] = `{"op":"copy","from":"/a","path":"/a/-"}`
	}
	patch := "[" + strings.Join(ops, ",") + "]"
	var doc any = map[string]any{"a": []any{1.0}}
	_, err := lifecycle.ApplyJSONPatch(doc, []byte(patch))
	if !errors.Is(err, lifecycle.ErrPatchTooLarge) {
		t.Fatalf("got %v, want ErrPatchTooLarge", err)
	}
}

// statusPatchEvent renders a Request-level pods/status patch audit event
// with body as its requestObject.
func statusPatchEvent(id string, body []byte) []byte {
	return fmt.Appendf(nil, `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Request","auditID":%q,"stage":"ResponseComplete",`+
		`"requestURI":"/api/v1/namespaces/demo/pods/p/status","verb":"patch","user":{"username":"system:node:n1"},`+
		`"objectRef":{"resource":"pods","namespace":"demo","name":"p","uid":"u-1","apiVersion":"v1","subresource":"status"},`+
		`"responseStatus":{"code":200},"requestObject":%s,`+
		`"requestReceivedTimestamp":"2026-11-21T20:48:40.000000Z","stageTimestamp":"2026-11-21T20:48:40.100000Z"}`, id, body)
}

// FuzzStatusPatch feeds Request-level pods/status patches (strategic merge
// bodies and JSON patches) through the decoder into a machine that knows
// the pod: whatever the body, nothing panics and the pod's records derive.
func FuzzStatusPatch(f *testing.F) {
	for _, d := range statusDocsFromCapture(f) {
		f.Add(d)
	}
	for _, p := range patchSeeds {
		f.Add([]byte(p))
	}
	f.Add([]byte(`{"status":{"conditions":[{"type":"Ready","status":"True"}],"containerStatuses":[{"name":"c","ready":true,"state":{"running":{}}}]}}`))
	f.Add([]byte(`{"status":{"$setElementOrder/conditions":[{"type":"Ready"}],"phase":null}}`))
	create := []byte(`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":"a-0","stage":"ResponseComplete",` +
		`"verb":"create","user":{"username":"u"},"objectRef":{"resource":"pods","namespace":"demo","name":"p","apiVersion":"v1"},` +
		`"responseStatus":{"code":201},"responseObject":{"kind":"Pod","apiVersion":"v1","metadata":{"name":"p","namespace":"demo","uid":"u-1","creationTimestamp":"2026-11-21T20:48:39Z"},` +
		`"spec":{"containers":[{"name":"c","image":"pause"}]},"status":{"phase":"Pending"}},` +
		`"requestReceivedTimestamp":"2026-11-21T20:48:39.000000Z","stageTimestamp":"2026-11-21T20:48:39.100000Z"}`)
	f.Fuzz(func(t *testing.T, body []byte) {
		m := lifecycle.New(lifecycle.DefaultConfig(), nil)
		var d decode.Decoder
		apply := func(ev *decode.Event) {
			if err := m.Apply(ev); err != nil && !errors.Is(err, lifecycle.ErrNoRule) {
				t.Logf("apply: %v", err)
			}
		}
		if err := d.Decode(create, apply); err != nil {
			t.Fatal(err)
		}
		d.Decode(statusPatchEvent("a-1", body), apply)
		for _, p := range m.Dirty() {
			for _, r := range p.Records("c") {
				if r.UID != "u-1" {
					t.Fatalf("record of pod %q, want u-1", r.UID)
				}
			}
		}
	})
}
