package jaegercompat_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/podtrace/podtrace"
	"github.com/podtrace/podtrace/api"
	"github.com/podtrace/podtrace/jaegertest"
	"github.com/podtrace/podtrace/sqlite"
)

func ptr[T any](v T) *T { return &v }

// delivery is a record with every part a trace shows: phases of both
// owners, milestones, a finding with evidence, an SLO verdict and linked
// component spans of two services, one failed.
func delivery() podtrace.Record {
	t0 := time.Date(2026, 11, 21, 21, 0, 0, 0, time.UTC)
	ph := func(name string, from, to time.Duration, o podtrace.Owner) podtrace.Phase {
		return podtrace.Phase{Name: name, Start: t0.Add(from), End: t0.Add(to), Owner: o}
	}
	return podtrace.Record{
		Cluster: "default", Namespace: "demo", Name: "slow-pull", UID: "00000000-0000-4000-8000-00000000c001",
		Kind: podtrace.KindCreate, Outcome: podtrace.OutcomeFailed, Created: t0, Finished: ptr(t0.Add(40 * time.Second)),
		Node: "node-a", OwnerKind: "ReplicaSet", OwnerName: "slow",
		Phases: []podtrace.Phase{
			ph("admission", 0, 10*time.Millisecond, podtrace.OwnerPlatform),
			ph("scheduling", 10*time.Millisecond, time.Second, podtrace.OwnerPlatform),
			ph("sandbox", time.Second, 3*time.Second, podtrace.OwnerPlatform),
			ph("image", 3*time.Second, 38*time.Second, podtrace.OwnerUser),
			ph("containers", 38*time.Second, 40*time.Second, podtrace.OwnerUser),
		},
		Milestones: []podtrace.Milestone{
			{Name: "requested", Time: t0, AuditID: "a-1"},
			{Name: "scheduled", Time: t0.Add(time.Second), AuditID: "a-2"},
		},
		SLO: &podtrace.SLO{TargetSeconds: 30, TotalSeconds: 40, PlatformSeconds: 3, UserSeconds: 37, Met: ptr(false), Rule: "default"},
		Diagnosis: []podtrace.Finding{{
			Code: "ImagePullSlow", Phase: "image", Owner: podtrace.OwnerUser, Message: "pulling took 35s",
			Evidence: []podtrace.Evidence{{AuditID: "a-5", Time: t0.Add(38 * time.Second), Text: "Pulled in 35s"}},
			Remedy:   "use a smaller image",
		}},
		Spans: []podtrace.Span{
			// the child of an apiserver span no delivery links
			{Service: "kubelet", Name: "syncPod", Start: t0.Add(1100 * time.Millisecond), End: t0.Add(39 * time.Second), Status: "ok",
				TraceID: "0af7651916cd43dd8448eb211c80319c", SpanID: "b7ad6b7169203331", Parent: "53995c3f42cd8ad8"},
			{Service: "containerd", Name: "runtime.v1.RuntimeService/RunPodSandbox", Start: t0.Add(1200 * time.Millisecond), End: t0.Add(2 * time.Second),
				Status: "error", TraceID: "0af7651916cd43dd8448eb211c80319c", SpanID: "00f067aa0ba902b7", Parent: "b7ad6b7169203331"},
		},
	}
}

// stubs turns podtrace's Jaeger trace into OpenTelemetry spans, the way an
// OTLP exporter of delivery traces would: tags become attributes (error
// and otel.status_code become the span status), logs become events named
// by their "event" field, processes become resources, a CHILD_OF
// reference the parent and FOLLOWS_FROM ones links.
func stubs(t *testing.T, tr api.JaegerTrace) tracetest.SpanStubs {
	t.Helper()
	var out tracetest.SpanStubs
	tid := mustTraceID(t, tr.TraceID)
	for _, s := range tr.Spans {
		st := tracetest.SpanStub{
			Name:     s.OperationName,
			SpanKind: trace.SpanKindInternal,
			SpanContext: trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: mustSpanID(t, s.SpanID),
				TraceFlags: trace.FlagsSampled}),
			StartTime:            time.UnixMicro(s.StartTime),
			EndTime:              time.UnixMicro(s.StartTime + s.Duration),
			InstrumentationScope: instrumentation.Scope{Name: "podtrace"},
		}
		for _, r := range s.References {
			sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: mustTraceID(t, r.TraceID), SpanID: mustSpanID(t, r.SpanID), TraceFlags: trace.FlagsSampled})
			if r.RefType == "CHILD_OF" {
				st.Parent = sc
			} else {
				st.Links = append(st.Links, sdktrace.Link{SpanContext: sc})
			}
		}
		for _, kv := range s.Tags {
			switch kv.Key {
			case "error":
				st.Status = sdktrace.Status{Code: codes.Error}
			case "otel.status_code":
			default:
				st.Attributes = append(st.Attributes, attr(kv))
			}
		}
		for _, l := range s.Logs {
			ev := sdktrace.Event{Time: time.UnixMicro(l.Timestamp)}
			for _, f := range l.Fields {
				if f.Key == "event" {
					ev.Name = f.Value.(string)
					continue
				}
				ev.Attributes = append(ev.Attributes, attr(f))
			}
			st.Events = append(st.Events, ev)
		}
		p := tr.Processes[s.ProcessID]
		attrs := []attribute.KeyValue{attribute.String("service.name", p.ServiceName)}
		for _, kv := range p.Tags {
			attrs = append(attrs, attr(kv))
		}
		st.Resource = resource.NewSchemaless(attrs...)
		out = append(out, st)
	}
	return out
}

func attr(kv api.JaegerKeyValue) attribute.KeyValue {
	switch v := kv.Value.(type) {
	case bool:
		return attribute.Bool(kv.Key, v)
	case int64:
		return attribute.Int64(kv.Key, v)
	case float64:
		if kv.Type == "int64" {
			return attribute.Int64(kv.Key, int64(v))
		}
		return attribute.Float64(kv.Key, v)
	default:
		return attribute.String(kv.Key, fmt.Sprint(v))
	}
}

func mustTraceID(t *testing.T, s string) trace.TraceID {
	var id trace.TraceID
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 16 {
		t.Fatalf("trace id %q", s)
	}
	copy(id[:], b)
	return id
}

func mustSpanID(t *testing.T, s string) trace.SpanID {
	var id trace.SpanID
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 8 {
		t.Fatalf("span id %q", s)
	}
	copy(id[:], b)
	return id
}

func getJSON(t *testing.T, url string) map[string]any {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("GET %s: %d %v\n%s", url, res.StatusCode, err, b)
	}
	return v
}

// shape describes a JSON value's structure: object keys with the shapes of
// their values, the shape of an array's first element, a scalar's type.
func shape(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, x := range v {
			out[k] = shape(x)
		}
		return out
	case []any:
		if len(v) == 0 {
			return "array"
		}
		return []any{shape(v[0])}
	case nil:
		return "null"
	default:
		return reflect.TypeOf(v).Kind().String()
	}
}

func same(t *testing.T, what string, ours, theirs any) {
	t.Helper()
	a, _ := json.Marshal(shape(ours))
	b, _ := json.Marshal(shape(theirs))
	if string(a) != string(b) {
		t.Errorf("%s: JSON structure differs\npodtrace: %s\njaeger:   %s", what, a, b)
	}
}

func TestAgainstRealJaeger(t *testing.T) {
	j := jaegertest.Start(t)
	ctx := context.Background()

	// podtrace: the record in a real store, served by the API
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "p.db"), sqlite.Options{Sync: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rec := delivery()
	if err := st.Save(ctx, podtrace.Commit{Cluster: rec.Cluster, Records: []podtrace.Record{rec}}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api.New(st, api.Options{Log: slog.New(slog.DiscardHandler)}))
	defer srv.Close()
	tid := rec.TraceHex()

	// Jaeger: the same trace over OTLP/HTTP with the OpenTelemetry SDK
	raw, theirs := sameTraceIn(t, j, srv.URL, tid)

	t.Run("trace", func(t *testing.T) { compareTrace(t, raw, theirs) })
	t.Run("services", func(t *testing.T) {
		ours, theirs := getJSON(t, srv.URL+"/api/services"), getJSON(t, j.Query+"/api/services")
		same(t, "/api/services", ours, theirs)
		if a, b := names(ours["data"]), names(theirs["data"]); !slices.Equal(a, b) {
			t.Errorf("services: podtrace %v, jaeger %v", a, b)
		}
	})
	t.Run("operations", func(t *testing.T) {
		for _, svc := range []string{"podtrace", "kubelet"} {
			ours, theirs := getJSON(t, srv.URL+"/api/services/"+svc+"/operations"), getJSON(t, j.Query+"/api/services/"+svc+"/operations")
			same(t, "/api/services/{service}/operations", ours, theirs)
			if a, b := names(ours["data"]), names(theirs["data"]); !slices.Equal(a, b) {
				t.Errorf("%s operations: podtrace %v, jaeger %v", svc, a, b)
			}
		}
		ours, theirs := getJSON(t, srv.URL+"/api/operations?service=podtrace"), getJSON(t, j.Query+"/api/operations?service=podtrace")
		same(t, "/api/operations", ours, theirs)
		if a, b := fmt.Sprint(sortedOps(ours["data"])), fmt.Sprint(sortedOps(theirs["data"])); a != b {
			t.Errorf("operations: podtrace %s, jaeger %s", a, b)
		}
	})
	t.Run("search", func(t *testing.T) {
		start, end := rec.Created.Add(-time.Minute).UnixMicro(), rec.Created.Add(time.Minute).UnixMicro()
		for _, q := range []string{
			"service=podtrace",
			"service=podtrace&operation=image&minDuration=30s",
			`service=podtrace&tags={"k8s.namespace.name":"demo"}`,
			`service=podtrace&tags={"podtrace.outcome":"failed"}`,
			"service=kubelet&maxDuration=1m",
		} {
			q += fmt.Sprintf("&start=%d&end=%d&limit=20", start, end)
			ours, theirs := getJSON(t, srv.URL+"/api/traces?"+q), getJSON(t, j.Query+"/api/traces?"+q)
			if a, b := traceIDs(ours), traceIDs(theirs); !slices.Equal(a, b) || len(a) != 1 {
				t.Errorf("search %s: podtrace %v, jaeger %v", q, a, b)
			}
		}
		// a search that finds nothing in either
		q := fmt.Sprintf("service=podtrace&operation=image&minDuration=1h&start=%d&end=%d", start, end)
		ours, theirs := getJSON(t, srv.URL+"/api/traces?"+q), getJSON(t, j.Query+"/api/traces?"+q)
		same(t, "empty search", ours, theirs)
		if len(traceIDs(ours))+len(traceIDs(theirs)) != 0 {
			t.Errorf("empty search found traces")
		}
	})
	t.Run("errors", func(t *testing.T) {
		for _, p := range []string{"/api/traces", "/api/traces/00000000000000000000000000000abc"} {
			ours, theirs := getJSON(t, srv.URL+p), getJSON(t, j.Query+p)
			same(t, p, ours, theirs)
			if a, b := status(t, srv.URL+p), status(t, j.Query+p); a != b {
				t.Errorf("%s: status %d, jaeger %d", p, a, b)
			}
		}
	})
	t.Run("component trace", func(t *testing.T) {
		// the kubelet's and the runtime's spans under their own trace id,
		// as an exemplar of their span metrics names it (last: in Jaeger,
		// this trace answers the searches above too)
		raw, theirs := sameTraceIn(t, j, srv.URL, rec.Spans[0].TraceID)
		compareTrace(t, raw, theirs)
		var ours api.JaegerTraces
		b, _ := json.Marshal(raw)
		json.Unmarshal(b, &ours)
		if n := len(ours.Data[0].Spans); n != len(rec.Spans) {
			t.Errorf("component trace: %d spans, want %d", n, len(rec.Spans))
		}
	})
}

// sameTraceIn gets trace id from podtrace (base), sends it to Jaeger over
// OTLP/HTTP with the OpenTelemetry SDK and returns both JSON answers once
// Jaeger has every span.
func sameTraceIn(t *testing.T, j *jaegertest.Jaeger, base, id string) (ours, theirs map[string]any) {
	t.Helper()
	ctx := context.Background()
	ours = getJSON(t, base+"/api/traces/"+id)
	var tr api.JaegerTraces
	b, _ := json.Marshal(ours)
	json.Unmarshal(b, &tr)
	if len(tr.Data) != 1 {
		t.Fatalf("podtrace has no trace %s: %s", id, b)
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(j.OTLPHTTP), otlptracehttp.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	if err := exp.ExportSpans(ctx, stubs(t, tr.Data[0]).Snapshots()); err != nil {
		t.Fatal(err)
	}
	exp.Shutdown(ctx)
	deadline := time.Now().Add(30 * time.Second)
	for {
		theirs = getJSON(t, j.Query+"/api/traces/"+id)
		if d, _ := theirs["data"].([]any); len(d) == 1 && len(d[0].(map[string]any)["spans"].([]any)) == len(tr.Data[0].Spans) {
			return ours, theirs
		}
		if time.Now().After(deadline) {
			t.Fatalf("Jaeger does not have trace %s: %v", id, theirs)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func status(t *testing.T, url string) int {
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

func names(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	sort.Strings(out)
	return out
}

func sortedOps(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		m := x.(map[string]any)
		out = append(out, fmt.Sprint(m["name"], "/", m["spanKind"]))
	}
	sort.Strings(out)
	return out
}

func traceIDs(v map[string]any) []string {
	var out []string
	d, _ := v["data"].([]any)
	for _, x := range d {
		out = append(out, x.(map[string]any)["traceID"].(string))
	}
	return out
}

// compareTrace compares the trace podtrace serves with Jaeger's: the same
// envelope, spans (by id) with the same fields, operation, times,
// references and process; podtrace's tags, log fields and process tags
// present in Jaeger's with the same type and value (Jaeger adds a few of
// its own: the scope, the span kind, the SDK's resource).
func compareTrace(t *testing.T, ours, theirs map[string]any) {
	envelope := func(v map[string]any) map[string]any {
		out := map[string]any{}
		for k, x := range v {
			if k != "data" {
				out[k] = x
			}
		}
		return out
	}
	same(t, "envelope", envelope(ours), envelope(theirs))
	ot, tt := ours["data"].([]any)[0].(map[string]any), theirs["data"].([]any)[0].(map[string]any)
	if keys(ot) != keys(tt) || ot["traceID"] != tt["traceID"] {
		t.Fatalf("trace fields: podtrace %s %v, jaeger %s %v", keys(ot), ot["traceID"], keys(tt), tt["traceID"])
	}
	if fmt.Sprint(ot["warnings"]) != fmt.Sprint(tt["warnings"]) {
		t.Errorf("warnings: podtrace %v, jaeger %v", ot["warnings"], tt["warnings"])
	}
	theirSpans := map[string]map[string]any{}
	for _, s := range tt["spans"].([]any) {
		s := s.(map[string]any)
		theirSpans[s["spanID"].(string)] = s
	}
	service := func(tr map[string]any, s map[string]any) string {
		return tr["processes"].(map[string]any)[s["processID"].(string)].(map[string]any)["serviceName"].(string)
	}
	for _, s := range ot["spans"].([]any) {
		os := s.(map[string]any)
		id := os["spanID"].(string)
		ts, ok := theirSpans[id]
		if !ok {
			t.Errorf("span %s (%s) missing in Jaeger", id, os["operationName"])
			continue
		}
		if keys(os) != keys(ts) {
			t.Errorf("span %s fields: podtrace %s, jaeger %s", os["operationName"], keys(os), keys(ts))
		}
		for _, k := range []string{"traceID", "operationName", "startTime", "duration", "flags"} {
			if fmt.Sprint(os[k]) != fmt.Sprint(ts[k]) {
				t.Errorf("span %s %s: podtrace %v, jaeger %v", os["operationName"], k, os[k], ts[k])
			}
		}
		if a, b := fmt.Sprint(os["references"]), fmt.Sprint(ts["references"]); a != b {
			t.Errorf("span %s references: podtrace %s, jaeger %s", os["operationName"], a, b)
		}
		if a, b := service(ot, os), service(tt, ts); a != b {
			t.Errorf("span %s service: podtrace %s, jaeger %s", os["operationName"], a, b)
		}
		subset(t, fmt.Sprint("span ", os["operationName"], " tags"), os["tags"], ts["tags"])
		ol, tl := os["logs"].([]any), ts["logs"].([]any)
		if len(ol) != len(tl) {
			t.Errorf("span %s: %d logs, jaeger %d", os["operationName"], len(ol), len(tl))
			continue
		}
		for i := range ol {
			a, b := ol[i].(map[string]any), tl[i].(map[string]any)
			if keys(a) != keys(b) || fmt.Sprint(a["timestamp"]) != fmt.Sprint(b["timestamp"]) {
				t.Errorf("span %s log %d: podtrace %v, jaeger %v", os["operationName"], i, a, b)
			}
			subset(t, fmt.Sprint("span ", os["operationName"], " log ", i), a["fields"], b["fields"])
		}
	}
	// process tags: podtrace's are resource attributes Jaeger shows too
	byService := map[string]map[string]any{}
	for _, p := range tt["processes"].(map[string]any) {
		p := p.(map[string]any)
		byService[p["serviceName"].(string)] = p
	}
	for _, p := range ot["processes"].(map[string]any) {
		p := p.(map[string]any)
		tp, ok := byService[p["serviceName"].(string)]
		if !ok {
			t.Errorf("process %s missing in Jaeger", p["serviceName"])
			continue
		}
		if keys(p) != keys(tp) {
			t.Errorf("process fields: podtrace %s, jaeger %s", keys(p), keys(tp))
		}
		subset(t, fmt.Sprint("process ", p["serviceName"], " tags"), p["tags"], tp["tags"])
	}
}

func keys(m map[string]any) string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return strings.Join(ks, ",")
}

// subset checks that every key/value of ours is in theirs with the same
// type and value.
func subset(t *testing.T, what string, ours, theirs any) {
	t.Helper()
	have := map[string]map[string]any{}
	for _, kv := range theirs.([]any) {
		kv := kv.(map[string]any)
		have[kv["key"].(string)] = kv
	}
	for _, kv := range ours.([]any) {
		kv := kv.(map[string]any)
		th, ok := have[kv["key"].(string)]
		if !ok {
			t.Errorf("%s: %s missing in Jaeger's", what, kv["key"])
			continue
		}
		if keys(kv) != keys(th) || kv["type"] != th["type"] || fmt.Sprint(kv["value"]) != fmt.Sprint(th["value"]) {
			t.Errorf("%s: %v, jaeger %v", what, kv, th)
		}
	}
}
