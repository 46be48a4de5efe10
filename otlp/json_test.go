package otlp

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// hexIDs rewrites base64 ids to hex, as OTLP/JSON over HTTP writes them.
func hexIDs(t testing.TB, s string) string {
	t.Helper()
	for _, k := range []string{"traceId", "spanId", "parentSpanId"} {
		var out strings.Builder
		rest := s
		for {
			i := strings.Index(rest, `"`+k+`":"`)
			if i < 0 {
				out.WriteString(rest)
				break
			}
			i += len(k) + 4
			j := strings.IndexByte(rest[i:], '"')
			raw, err := base64.StdEncoding.DecodeString(rest[i : i+j])
			if err != nil {
				t.Fatalf("%s %q: %v", k, rest[i:i+j], err)
			}
			out.WriteString(rest[:i])
			out.WriteString(hex.EncodeToString(raw))
			rest = rest[i+j:]
		}
		s = out.String()
	}
	return s
}

const oneSpan = `{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"kubelet"}}]},
 "scopeSpans":[{"spans":[{"traceId":"%s","spanId":"%s","parentSpanId":"","name":"syncPod","kind":"SPAN_KIND_INTERNAL",
 "startTimeUnixNano":"1795294119134516646","endTimeUnixNano":1795294119445672763,
 "attributes":[{"key":"k8s.pod.uid","value":{"stringValue":"be9079fa-4074-4bef-a96b-56092fd24411"}},{"key":"http.status_code","value":{"intValue":"200"}}],
 "status":{"code":2,"message":"x"}, "someFutureField": 1}]}]}]}`

func TestJSONHexAndBase64(t *testing.T) {
	tid := "5b8efff798038103d269b633813fc60c"
	sid := "eee19b7ec3c1b174"
	rawT, _ := hex.DecodeString(tid)
	rawS, _ := hex.DecodeString(sid)
	hexDoc := strings.Replace(strings.Replace(oneSpan, "%s", tid, 1), "%s", sid, 1)
	b64Doc := strings.Replace(strings.Replace(oneSpan, "%s", base64.StdEncoding.EncodeToString(rawT), 1), "%s", base64.StdEncoding.EncodeToString(rawS), 1)
	var reqs []*coltracepb.ExportTraceServiceRequest
	for _, doc := range []string{hexDoc, b64Doc, strings.ReplaceAll(hexDoc, "resourceSpans", "resource_spans")} {
		pb, err := JSONToProto([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		var req coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(pb, &req); err != nil {
			t.Fatal(err)
		}
		reqs = append(reqs, &req)
		var d Decoder
		spans, rejected, err := d.Decode(pb)
		if err != nil || rejected != 0 || len(spans) != 1 {
			t.Fatalf("%d spans, %d rejected, %v", len(spans), rejected, err)
		}
		s := spans[0]
		if !bytes.Equal(s.TraceID[:], rawT) || !bytes.Equal(s.SpanID[:], rawS) || !s.IsRoot() ||
			s.Start != 1795294119134516646 || s.End != 1795294119445672763 || s.Status != StatusError ||
			s.Kind != KindInternal || s.Attrs.HTTPStatus != 200 || string(s.Attrs.PodUID) != "be9079fa-4074-4bef-a96b-56092fd24411" {
			t.Fatalf("decoded %+v", s)
		}
	}
	for _, r := range reqs[1:] {
		if !proto.Equal(r, reqs[0]) {
			t.Fatal("hex, base64 and snake_case documents decode differently")
		}
	}
}

func TestJSONCaptureHexEqualsBase64(t *testing.T) {
	lines := captureLines(t)
	for i, line := range lines[:5] {
		a, err := JSONToProto(line)
		if err != nil {
			t.Fatal(err)
		}
		b, err := JSONToProto([]byte(hexIDs(t, string(line))))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Fatalf("line %d: hex and base64 ids give different requests", i+1)
		}
	}
}

func TestJSONBad(t *testing.T) {
	for _, doc := range []string{``, `[]`, `{"resourceSpans":`, `{} {}`, `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"not base64!"}]}]}]}`} {
		if _, err := JSONToProto([]byte(doc)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%q: %v, want ErrMalformed", doc, err)
		}
	}
	// an id of the wrong length is not malformed JSON: its span is rejected
	pb, err := JSONToProto([]byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0102","spanId":"0102030405060708"}]}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	var d Decoder
	if spans, rejected, err := d.Decode(pb); err != nil || len(spans) != 0 || rejected != 1 {
		t.Fatalf("%d spans, %d rejected, %v", len(spans), rejected, err)
	}
}

// FuzzJSONToProto: any input gives protobuf the Decoder reads, or
// ErrMalformed; never a panic.
func FuzzJSONToProto(f *testing.F) {
	for _, line := range captureLines(f)[:4] {
		f.Add(line)
	}
	f.Add([]byte(strings.Replace(strings.Replace(oneSpan, "%s", "5b8efff798038103d269b633813fc60c", 1), "%s", "eee19b7ec3c1b174", 1)))
	f.Fuzz(func(t *testing.T, doc []byte) {
		pb, err := JSONToProto(doc)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error without ErrMalformed: %v", err)
			}
			return
		}
		var d Decoder
		if _, _, err := d.Decode(pb); err != nil {
			t.Fatalf("JSONToProto wrote protobuf the Decoder refuses: %v", err)
		}
	})
}
