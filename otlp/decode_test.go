package otlp

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"os"
	"sync"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

const capture = "../testdata/mixed-kwok-hollowkubelet-v1.34.10/otlp-raw.jsonl"

var capture1 struct {
	once sync.Once
	reqs [][]byte
	err  error
}

// captured returns the capture's requests in protobuf encoding (read once).
func captured(t testing.TB) [][]byte {
	t.Helper()
	capture1.once.Do(func() {
		_, capture1.err = ReadFile(context.Background(), capture, func(pb []byte) error {
			capture1.reqs = append(capture1.reqs, pb)
			return nil
		})
	})
	if capture1.err != nil {
		t.Fatal(capture1.err)
	}
	if len(capture1.reqs) == 0 {
		t.Fatal("no requests in the capture")
	}
	return capture1.reqs
}

// reference is what the official generated code decodes from pb, in the
// Decoder's terms: the oracle the Decoder is checked against.
func reference(t testing.TB, pb []byte) ([]Span, int, bool) {
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(pb, &req); err != nil {
		return nil, 0, false
	}
	var out []Span
	rejected := 0
	for _, rs := range req.ResourceSpans {
		var res resource
		if r := rs.GetResource(); r != nil {
			for _, kv := range r.Attributes {
				res.set([]byte(kv.Key), refValue(kv.Value))
			}
		}
		host := res.host
		if host == nil {
			host = res.node
		}
		for _, ss := range rs.ScopeSpans {
			for _, sp := range ss.Spans {
				s := Span{Service: res.service, Host: host, Name: []byte(sp.Name), Kind: SpanKind(sp.Kind),
					Start: sp.StartTimeUnixNano, End: sp.EndTimeUnixNano, Attrs: Attrs{RPCStatus: -1}}
				if sp.Status != nil {
					s.Status, s.StatusMessage = StatusCode(sp.Status.Code), []byte(sp.Status.Message)
				}
				for _, kv := range sp.Attributes {
					s.Attrs.set([]byte(kv.Key), refValue(kv.Value))
				}
				if len(sp.TraceId) != 16 || len(sp.SpanId) != 8 || (len(sp.ParentSpanId) != 0 && len(sp.ParentSpanId) != 8) {
					rejected++
					continue
				}
				copy(s.TraceID[:], sp.TraceId)
				copy(s.SpanID[:], sp.SpanId)
				copy(s.Parent[:], sp.ParentSpanId)
				if s.TraceID == [16]byte{} || s.SpanID == [8]byte{} {
					rejected++
					continue
				}
				out = append(out, s)
			}
		}
	}
	return out, rejected, true
}

func refValue(v *commonpb.AnyValue) value {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return value{str: []byte(x.StringValue), isStr: true}
	case *commonpb.AnyValue_IntValue:
		return value{num: x.IntValue, isNum: true}
	}
	return value{}
}

// same compares two spans field by field (nil and empty slices alike).
func same(a, b *Span) bool {
	eq := bytes.Equal
	return eq(a.Service, b.Service) && eq(a.Host, b.Host) && a.TraceID == b.TraceID && a.SpanID == b.SpanID &&
		a.Parent == b.Parent && eq(a.Name, b.Name) && a.Kind == b.Kind && a.Start == b.Start && a.End == b.End &&
		a.Status == b.Status && eq(a.StatusMessage, b.StatusMessage) &&
		eq(a.Attrs.AuditID, b.Attrs.AuditID) && eq(a.Attrs.PodUID, b.Attrs.PodUID) && eq(a.Attrs.Pod, b.Attrs.Pod) &&
		eq(a.Attrs.PodName, b.Attrs.PodName) && eq(a.Attrs.Namespace, b.Attrs.Namespace) &&
		eq(a.Attrs.UpdateType, b.Attrs.UpdateType) && eq(a.Attrs.Method, b.Attrs.Method) &&
		eq(a.Attrs.Target, b.Attrs.Target) && a.Attrs.HTTPStatus == b.Attrs.HTTPStatus &&
		a.Attrs.RPCStatus == b.Attrs.RPCStatus && eq(a.Attrs.SandboxID, b.Attrs.SandboxID) &&
		eq(a.Attrs.ContainerID, b.Attrs.ContainerID)
}

// checkDecode asserts the Decoder agrees with the generated code on pb.
func checkDecode(t testing.TB, pb []byte) {
	t.Helper()
	var d Decoder
	got, rejected, err := d.Decode(pb)
	want, wantRejected, ok := reference(t, pb)
	if !ok {
		return // the generated code refuses it; the Decoder may refuse it or not, but must not panic
	}
	if err != nil {
		t.Fatalf("Decoder refuses a request the generated code reads: %v", err)
	}
	if len(got) != len(want) || rejected != wantRejected {
		t.Fatalf("Decoder: %d spans, %d rejected; generated code: %d, %d", len(got), rejected, len(want), wantRejected)
	}
	for i := range got {
		if !same(&got[i], &want[i]) {
			t.Fatalf("span %d differs:\n got  %+v\n want %+v", i, got[i], want[i])
		}
	}
}

func TestDecodeCapture(t *testing.T) {
	total := 0
	for _, pb := range captured(t) {
		checkDecode(t, pb)
		var d Decoder
		spans, _, _ := d.Decode(pb)
		total += len(spans)
	}
	// counted with jq on the capture: 11708 apiserver, 468 kubelet, 36 kwok spans
	if total != 12212 {
		t.Fatalf("decoded %d spans, want 12212", total)
	}
}

func TestDecodeAttributes(t *testing.T) {
	var d Decoder
	var sync, request *Span
	for _, pb := range captured(t) {
		spans, _, err := d.Decode(pb)
		if err != nil {
			t.Fatal(err)
		}
		for i := range spans {
			s := spans[i]
			switch {
			case string(s.Name) == "syncPod" && sync == nil:
				sync = &s
			case string(s.Attrs.AuditID) == "c6ef006d-07f0-4b74-8511-a57162675333" && s.Kind == KindServer:
				request = &s
			}
		}
		if sync != nil && request != nil {
			break
		}
	}
	if sync == nil || request == nil {
		t.Fatal("capture lacks the syncPod or the pod create request span")
	}
	if string(sync.Service) != "kubelet" || string(sync.Host) != "hollow-node-0" || len(sync.Attrs.PodUID) != 36 ||
		string(sync.Attrs.Namespace) != "demo" || !bytes.HasPrefix(sync.Attrs.Pod, []byte("demo/web-")) || !sync.IsRoot() {
		t.Errorf("syncPod span: %+v", sync)
	}
	if string(request.Service) != "apiserver" || string(request.Attrs.Method) != "POST" ||
		string(request.Attrs.Target) != "/api/v1/namespaces/demo/pods" || request.Attrs.HTTPStatus != 201 ||
		hex.EncodeToString(request.TraceID[:]) != "13c4b2d25108d9346c40098a33778f6a" {
		t.Errorf("pod create request span: %+v (trace %x)", request, request.TraceID)
	}
}

// The generated code and the Decoder agree on hand-made edge cases: ids of
// the wrong length, repeated fields merged, unknown fields.
func TestDecodeEdges(t *testing.T) {
	str := func(s string) *commonpb.AnyValue {
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: s}}
	}
	id16 := bytes.Repeat([]byte{1}, 16)
	id8 := bytes.Repeat([]byte{2}, 8)
	req := &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{
			{TraceId: id16, SpanId: id8, Name: "ok", Attributes: []*commonpb.KeyValue{{Key: "audit-id", Value: str("a")}, {Key: "audit-id", Value: str("b")}}},
			{TraceId: id16[:15], SpanId: id8, Name: "short trace id"},
			{TraceId: id16, SpanId: make([]byte, 8), Name: "zero span id"},
			{TraceId: id16, SpanId: id8, ParentSpanId: id8[:3], Name: "bad parent"},
			{TraceId: id16, SpanId: id8, Status: &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR, Message: "boom"}},
		}}},
	}}}
	pb, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	checkDecode(t, pb)
	// a resource given after its spans, and twice: merged, as protobuf merges
	res := func(name string) []byte {
		b, _ := proto.Marshal(&tracepb.ResourceSpans{Resource: resourceWith("service.name", name)})
		return b
	}
	spans, _ := proto.Marshal(&tracepb.ResourceSpans{ScopeSpans: req.ResourceSpans[0].ScopeSpans})
	rs := append(append(append([]byte{}, spans...), res("first")...), res("second")...)
	wrapped, _ := proto.Marshal(&coltracepb.ExportTraceServiceRequest{})
	wrapped = append(wrapped, 0x0a) // field 1, bytes
	wrapped = appendVarint(wrapped, uint64(len(rs)))
	wrapped = append(wrapped, rs...)
	checkDecode(t, wrapped)
	var d Decoder
	got, rejected, err := d.Decode(wrapped)
	if err != nil || len(got) != 2 || rejected != 3 || string(got[0].Service) != "second" ||
		string(got[0].Attrs.AuditID) != "b" || got[1].Status != StatusError || string(got[1].StatusMessage) != "boom" {
		t.Fatalf("got %d spans, %d rejected, err %v: %+v", len(got), rejected, err, got)
	}
	for _, bad := range [][]byte{{0x0a, 0x05, 0x01}, {0xff}, {0x0a, 0x02, 0x12, 0x05}} {
		if _, _, err := d.Decode(bad); err == nil {
			t.Errorf("%x: no error", bad)
		}
	}
}

func resourceWith(k, v string) *resourcepb.Resource {
	return &resourcepb.Resource{Attributes: []*commonpb.KeyValue{{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}}}
}

func appendVarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// FuzzDecode: on any input the Decoder must not panic, and on every input
// the generated code reads, it must read the same spans.
func FuzzDecode(f *testing.F) {
	for i, pb := range captured(f) {
		if i < 8 {
			f.Add(pb)
		}
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, pb []byte) {
		checkDecode(t, pb)
	})
}

func BenchmarkDecode(b *testing.B) {
	reqs := captured(b)
	var n int64
	for _, pb := range reqs {
		n += int64(len(pb))
	}
	var d Decoder
	b.SetBytes(n)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, pb := range reqs {
			if _, _, err := d.Decode(pb); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkDecodeGenerated(b *testing.B) {
	reqs := captured(b)
	var n int64
	for _, pb := range reqs {
		n += int64(len(pb))
	}
	b.SetBytes(n)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, pb := range reqs {
			var req coltracepb.ExportTraceServiceRequest
			if err := proto.Unmarshal(pb, &req); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// TestCaptureLines: every line of the capture is one request.
func TestCaptureLines(t *testing.T) {
	f, err := os.Open(capture)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<20)
	lines := 0
	for sc.Scan() {
		lines++
	}
	if got := len(captured(t)); got != lines {
		t.Fatalf("%d requests from %d lines", got, lines)
	}
}

// captureLines returns the capture's lines (OTLP/JSON, base64 ids).
func captureLines(t testing.TB) [][]byte {
	t.Helper()
	b, err := os.ReadFile(capture)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Split(bytes.TrimSpace(b), []byte("\n"))
}
