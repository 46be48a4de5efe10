package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/podtrace/podtrace"
	"github.com/podtrace/podtrace/api"
	"github.com/podtrace/podtrace/auditfile"
	"github.com/podtrace/podtrace/ingest"
	"github.com/podtrace/podtrace/sqlite"
)

var update = flag.Bool("update", false, "rewrite testdata/openapi.golden.json")

const capture = "../testdata/kwok-only-v1.34.10/audit.log"

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// loadCapture replays the real capture into a new SQLite store.
func loadCapture(t testing.TB, dir string) *sqlite.Store {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "api.db"), sqlite.Options{Sync: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	p := ingest.New(ingest.DefaultConfig(), st, nil, nil, quiet())
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	r := auditfile.NewReader(p)
	if err := r.Replay(ctx, capture, nil); err != nil {
		t.Fatal(err)
	}
	if err := r.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	return st
}

func ptr[T any](v T) *T { return &v }

var t0 = time.Date(2026, 11, 21, 21, 0, 0, 0, time.UTC)

// crafted records: what the SLO and diagnosis analyses and the OTLP
// linker add to records, saved through the real store.
func crafted() []podtrace.Record {
	ph := func(name string, from, to time.Duration, o podtrace.Owner) podtrace.Phase {
		return podtrace.Phase{Name: name, Start: t0.Add(from), End: t0.Add(to), Owner: o}
	}
	slow := podtrace.Record{
		Cluster: "default", Namespace: "crafted", Name: "slow-pull", UID: "00000000-0000-0000-0000-00000000c001",
		Kind: podtrace.KindCreate, Outcome: podtrace.OutcomeReady, Created: t0, Finished: ptr(t0.Add(40 * time.Second)),
		Node: "node-a", OwnerKind: "ReplicaSet", OwnerName: "slow",
		Phases: []podtrace.Phase{
			ph("admission", 0, 10*time.Millisecond, podtrace.OwnerPlatform),
			ph("scheduling", 10*time.Millisecond, time.Second, podtrace.OwnerPlatform),
			ph("sandbox", time.Second, 3*time.Second, podtrace.OwnerPlatform),
			ph("image", 3*time.Second, 38*time.Second, podtrace.OwnerUser),
			ph("containers", 38*time.Second, 39*time.Second, podtrace.OwnerPlatform),
			ph("readiness", 39*time.Second, 40*time.Second, podtrace.OwnerUser),
		},
		Milestones: []podtrace.Milestone{
			{Name: "requested", Time: t0, AuditID: "a-1"},
			{Name: "ready", Time: t0.Add(40 * time.Second), AuditID: "a-9"},
		},
		SLO: &podtrace.SLO{TargetSeconds: 30, TotalSeconds: 40, PlatformSeconds: 4, UserSeconds: 36, Met: ptr(false), Rule: "default"},
		Diagnosis: []podtrace.Finding{{
			Code: "ImagePullSlow", Phase: "image", Owner: podtrace.OwnerUser,
			Message:  "pulling registry.example/big:1 took 35s",
			Evidence: []podtrace.Evidence{{AuditID: "a-5", Time: t0.Add(38 * time.Second), Text: "Pulled: Successfully pulled image in 35s"}},
			Remedy:   "use a smaller image or pre-pull it",
		}},
		Spans: []podtrace.Span{
			{Service: "kubelet", Name: "syncPod", Start: t0.Add(1100 * time.Millisecond), End: t0.Add(39 * time.Second), Status: "ok",
				TraceID: "0af7651916cd43dd8448eb211c80319c", SpanID: "b7ad6b7169203331"},
			{Service: "containerd", Name: "runtime.v1.RuntimeService/RunPodSandbox", Start: t0.Add(1200 * time.Millisecond), End: t0.Add(2 * time.Second),
				Status: "error", TraceID: "0af7651916cd43dd8448eb211c80319c", SpanID: "00f067aa0ba902b7", Parent: "b7ad6b7169203331"},
		},
	}
	fast := podtrace.Record{
		Cluster: "default", Namespace: "crafted", Name: "fast", UID: "00000000-0000-0000-0000-00000000c002",
		Kind: podtrace.KindCreate, Outcome: podtrace.OutcomeReady, Created: t0.Add(time.Minute), Finished: ptr(t0.Add(time.Minute + 2*time.Second)),
		Node: "node-b", Phases: []podtrace.Phase{ph("admission", time.Minute, time.Minute+2*time.Second, podtrace.OwnerPlatform)},
		Milestones: []podtrace.Milestone{}, Diagnosis: []podtrace.Finding{},
		SLO: &podtrace.SLO{TargetSeconds: 30, TotalSeconds: 2, PlatformSeconds: 2, Met: ptr(true), Rule: "default"},
	}
	failed := podtrace.Record{
		Cluster: "other", Namespace: "crafted", Name: "crash", UID: "00000000-0000-0000-0000-00000000c003",
		Kind: podtrace.KindCreate, Outcome: podtrace.OutcomeFailed, Created: t0.Add(2 * time.Minute), Finished: ptr(t0.Add(2*time.Minute + 5*time.Second)),
		Phases: []podtrace.Phase{}, Milestones: []podtrace.Milestone{},
		Diagnosis: []podtrace.Finding{
			{Code: "CrashLoop", Phase: "containers", Owner: podtrace.OwnerUser, Message: "container app exited 1", Remedy: "read the container's logs"},
			{Code: "ImagePullSlow", Phase: "image", Owner: podtrace.OwnerUser, Message: "slow", Remedy: "smaller image"},
		},
	}
	return []podtrace.Record{slow, fast, failed}
}

// fixture is the real capture plus the crafted records, served by the API.
type fixture struct {
	store   *sqlite.Store
	api     *api.API
	crafted []podtrace.Record
}

var (
	fixOnce sync.Once
	fix     *fixture
	fixErr  error
)

// getFixture builds the shared fixture once per test binary (replaying
// the capture takes a moment); tests only read from it.
func getFixture(t testing.TB) *fixture {
	t.Helper()
	fixOnce.Do(func() {
		dir, err := os.MkdirTemp("", "podtrace-api-test")
		if err != nil {
			fixErr = err
			return
		}
		st := loadCapture(t, dir)
		recs := crafted()
		if err := st.Save(context.Background(), podtrace.Commit{Cluster: "default", Records: recs}); err != nil {
			fixErr = err
			return
		}
		fix = &fixture{store: st, api: api.New(st, api.Options{Log: quiet()}), crafted: recs}
	})
	if fixErr != nil {
		t.Fatal(fixErr)
	}
	return fix
}

// response is one served request.
type response struct {
	code int
	body []byte
}

func (f *fixture) get(t testing.TB, target string) response {
	t.Helper()
	rec := httptest.NewRecorder()
	f.api.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s: Content-Type %q", target, ct)
	}
	return response{rec.Code, rec.Body.Bytes()}
}

func decodeInto[T any](t testing.TB, r response) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("decode %T: %v\n%s", v, err, r.body)
	}
	return v
}

func TestOpenAPIGolden(t *testing.T) {
	f := getFixture(t)
	doc := f.api.OpenAPI()
	golden := filepath.Join("testdata", "openapi.golden.json")
	if *update {
		if err := os.WriteFile(golden, doc, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(doc, want) {
		t.Fatalf("the OpenAPI document differs from %s: review and rerun with -update", golden)
	}
	served := f.get(t, "/openapi.json")
	if served.code != 200 {
		t.Fatalf("GET /openapi.json: %d", served.code)
	}
	var a, b any
	json.Unmarshal(served.body, &a)
	json.Unmarshal(doc, &b)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatal("/openapi.json serves another document than OpenAPI()")
	}
}

// openAPI is the parsed document with a validator per response schema.
type openAPI struct {
	doc      map[string]any
	compiler *jsonschema.Compiler
	cache    map[string]*jsonschema.Schema
}

func loadOpenAPI(t testing.TB, raw []byte) *openAPI {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if err := c.AddResource("https://podtrace.local/openapi.json", doc); err != nil {
		t.Fatal(err)
	}
	return &openAPI{doc: doc.(map[string]any), compiler: c, cache: map[string]*jsonschema.Schema{}}
}

// pattern finds the documented path template that a request path matches.
func (o *openAPI) pattern(path string) string {
	segs := strings.Split(path, "/")
	for tmpl := range o.doc["paths"].(map[string]any) {
		ts := strings.Split(tmpl, "/")
		if len(ts) != len(segs) {
			continue
		}
		ok := true
		for i := range ts {
			if !strings.HasPrefix(ts[i], "{") && ts[i] != segs[i] {
				ok = false
				break
			}
		}
		if ok {
			return tmpl
		}
	}
	return ""
}

// validate checks a response against the schema documented for its path,
// method and status.
func (o *openAPI) validate(t testing.TB, target string, r response) {
	t.Helper()
	u, _ := url.Parse(target)
	ptr := "#/components/schemas/ErrorBody" // undocumented paths answer the REST error
	if tmpl := o.pattern(u.Path); tmpl != "" {
		op := o.doc["paths"].(map[string]any)[tmpl].(map[string]any)["get"].(map[string]any)
		if _, ok := op["responses"].(map[string]any)[fmt.Sprint(r.code)]; !ok {
			t.Errorf("%s: status %d is not documented for %s", target, r.code, tmpl)
			return
		}
		ptr = "#/paths/" + strings.ReplaceAll(strings.ReplaceAll(tmpl, "~", "~0"), "/", "~1") +
			"/get/responses/" + fmt.Sprint(r.code) + "/content/application~1json/schema"
	} else if r.code != http.StatusNotFound {
		t.Errorf("%s: undocumented path answered %d", target, r.code)
	}
	sch, ok := o.cache[ptr]
	if !ok {
		var err error
		if sch, err = o.compiler.Compile("https://podtrace.local/openapi.json" + ptr); err != nil {
			t.Fatalf("compile %s: %v", ptr, err)
		}
		o.cache[ptr] = sch
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(r.body))
	if err != nil {
		t.Errorf("%s: response is not JSON: %v", target, err)
		return
	}
	if err := sch.Validate(inst); err != nil {
		t.Errorf("%s (%d): response does not match its schema: %v\n%.2000s", target, r.code, err, r.body)
	}
}

// corpus is every kind of request the API answers, good and bad; each
// entry's status is checked and its body validated against the document.
func corpus(f *fixture) []struct {
	target string
	code   int
} {
	slow, fast := f.crafted[0], f.crafted[1]
	slowTrace := slow.TraceHex()
	enc := url.QueryEscape
	return []struct {
		target string
		code   int
	}{
		{"/openapi.json", 200},
		{"/api/v1/pods", 200},
		{"/api/v1/pods?limit=3", 200},
		{"/api/v1/pods?namespace=demo&outcome=pending", 200},
		{"/api/v1/pods?namespace=demo&name=too-big", 200},
		{"/api/v1/pods?code=ImagePullSlow&owner=user", 200},
		{"/api/v1/pods?node=kwok-node-0&kind=delete", 200},
		{"/api/v1/pods?cluster=other", 200},
		{"/api/v1/pods?since=2026-11-21T20:48:00Z&until=2026-11-21T20:49:00Z", 200},
		{"/api/v1/pods?limit=0", 400},
		{"/api/v1/pods?limit=1001", 400},
		{"/api/v1/pods?limit=x", 400},
		{"/api/v1/pods?outcome=great", 400},
		{"/api/v1/pods?since=yesterday", 400},
		{"/api/v1/pods?since=2026-11-21T20:49:00Z&until=2026-11-21T20:48:00Z", 400},
		{"/api/v1/pods?namespace=a&namespace=b", 400},
		{"/api/v1/pods?nmespace=demo", 400},
		{"/api/v1/pods?cursor=not-a-cursor", 400},
		{"/api/v1/pods?%zz", 400},
		{"/api/v1/pods/" + slow.UID, 200},
		{"/api/v1/pods/" + fast.UID + "?cluster=default", 200},
		{"/api/v1/pods/no-such-uid", 404},
		{"/api/v1/pods/" + slow.UID + "?verbose=1", 400},
		{"/api/v1/pods/" + slow.UID + "/events", 404}, // crafted: no journal
		{"/api/v1/pods/no-such-uid/events", 404},
		{"/api/v1/slo/summary", 200},
		{"/api/v1/slo/summary?group_by=node&step=1m", 200},
		{"/api/v1/slo/summary?group_by=owner_kind&kind=create&namespace=crafted", 200},
		{"/api/v1/slo/summary?step=auto&since=2026-11-21T20:00:00Z", 200},
		{"/api/v1/diagnoses/summary?step=auto", 200},
		{"/api/v1/slo/summary?group_by=pod", 400},
		{"/api/v1/slo/summary?step=1ms", 400},
		{"/api/v1/diagnoses/summary", 200},
		{"/api/v1/diagnoses/summary?step=1h&since=2026-11-21T00:00:00Z", 200},
		{"/api/v1/diagnoses/summary?code=x", 400},
		{"/api/v1/nothing", 404},
		{"/api/services", 200},
		{"/api/services/podtrace/operations", 200},
		{"/api/services/kubelet/operations", 200},
		{"/api/operations?service=podtrace&spanKind=internal", 200},
		{"/api/operations", 400},
		{"/api/traces?service=podtrace", 200},
		{"/api/traces?service=podtrace&tags=" + enc(`{"k8s.namespace.name":"crafted"}`) + "&limit=5", 200},
		{"/api/traces?service=podtrace&operation=image&minDuration=30s", 200},
		{"/api/traces?service=kubelet&tag=k8s.pod.name:slow-pull", 200},
		{"/api/traces?service=podtrace&start=0&end=99999999999999999&lookback=1h", 200},
		{"/api/traces?traceID=" + slowTrace + "&traceID=abc", 200},
		{"/api/traces", 400},
		{"/api/traces?service=podtrace&tags=%7Bbad", 400},
		{"/api/traces?service=podtrace&minDuration=fast", 400},
		{"/api/traces?service=podtrace&minDuration=2s&maxDuration=1s", 400},
		{"/api/traces/" + slowTrace, 200},
		{"/api/traces/" + strings.ToUpper(slowTrace), 200},
		{"/api/traces/" + slow.Spans[0].TraceID, 200}, // a component trace
		{"/api/traces?traceID=" + slow.Spans[0].TraceID, 200},
		{"/api/traces/0123", 404},
		{"/api/traces/xyz", 400},
	}
}

func TestCorpusMatchesOpenAPI(t *testing.T) {
	f := getFixture(t)
	o := loadOpenAPI(t, f.api.OpenAPI())
	for _, c := range corpus(f) {
		r := f.get(t, c.target)
		if r.code != c.code {
			t.Errorf("GET %s: status %d, want %d\n%.500s", c.target, r.code, c.code, r.body)
		}
		o.validate(t, c.target, r)
	}
}

// TestEveryRouteDocumented checks both directions: each documented
// operation is served (not the catch-all), and each served /api path is
// documented.
func TestEveryRouteDocumented(t *testing.T) {
	f := getFixture(t)
	o := loadOpenAPI(t, f.api.OpenAPI())
	paths := o.doc["paths"].(map[string]any)
	want := []string{"/openapi.json", "/api/v1/pods", "/api/v1/pods/{uid}", "/api/v1/pods/{uid}/events",
		"/api/v1/slo/summary", "/api/v1/diagnoses/summary",
		"/api/services", "/api/services/{service}/operations", "/api/operations", "/api/traces", "/api/traces/{traceID}"}
	var got []string
	for p := range paths {
		got = append(got, p)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("documented paths %v, want %v", got, want)
	}
	covered := map[string]bool{}
	for _, c := range corpus(f) {
		u, _ := url.Parse(c.target)
		r := f.get(t, c.target)
		var e api.ErrorBody
		json.Unmarshal(r.body, &e)
		if tmpl := o.pattern(u.Path); tmpl != "" && !strings.Contains(e.Error.Message, "no such endpoint") {
			covered[tmpl] = true
		}
	}
	for p := range paths {
		if !covered[p] {
			t.Errorf("%s is documented but no corpus request reached its handler", p)
		}
	}
}

func TestPodsPagination(t *testing.T) {
	f := getFixture(t)
	all := decodeInto[api.Page](t, f.get(t, "/api/v1/pods?limit=1000"))
	if all.Next != nil || len(all.Items) < 20 {
		t.Fatalf("one big page: %d items, next %v", len(all.Items), all.Next)
	}
	for i := 1; i < len(all.Items); i++ {
		if all.Items[i].Created.After(all.Items[i-1].Created) {
			t.Fatalf("not newest first at %d", i)
		}
	}
	var paged []api.PodSummary
	target := "/api/v1/pods?limit=4"
	for pages := 0; ; pages++ {
		if pages > 100 {
			t.Fatal("pagination does not end")
		}
		p := decodeInto[api.Page](t, f.get(t, target))
		paged = append(paged, p.Items...)
		if p.Next == nil {
			break
		}
		target = "/api/v1/pods?limit=4&cursor=" + url.QueryEscape(*p.Next)
	}
	if len(paged) != len(all.Items) {
		t.Fatalf("paged %d items, one page has %d", len(paged), len(all.Items))
	}
	for i := range paged {
		if paged[i].UID != all.Items[i].UID || paged[i].Kind != all.Items[i].Kind || paged[i].Seq != all.Items[i].Seq {
			t.Fatalf("item %d differs: %+v vs %+v", i, paged[i], all.Items[i])
		}
	}
}

func TestPodsFilters(t *testing.T) {
	f := getFixture(t)
	names := func(target string) []string {
		var out []string
		for _, it := range decodeInto[api.Page](t, f.get(t, target)).Items {
			out = append(out, it.Namespace+"/"+it.Name+"/"+string(it.Outcome))
		}
		slices.Sort(out)
		return out
	}
	for _, c := range []struct {
		target string
		want   []string
	}{
		{"/api/v1/pods?namespace=demo&outcome=pending", []string{"demo/no-node/pending", "demo/too-big/pending"}},
		{"/api/v1/pods?code=ImagePullSlow", []string{"crafted/crash/failed", "crafted/slow-pull/ready"}},
		{"/api/v1/pods?code=CrashLoop&cluster=other", []string{"crafted/crash/failed"}},
		{"/api/v1/pods?cluster=other&namespace=demo", nil},
		{"/api/v1/pods?node=node-b", []string{"crafted/fast/ready"}},
		// bounds beyond unix nanoseconds (1678 to 2262) are clamped to them
		{"/api/v1/pods?node=node-b&since=1600-01-01T00:00:00Z&until=2300-01-01T00:00:00Z", []string{"crafted/fast/ready"}},
		{"/api/v1/pods?node=node-b&since=2300-01-01T00:00:00Z", nil},
	} {
		if got := names(c.target); !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.target, got, c.want)
		}
	}
	p := decodeInto[api.Page](t, f.get(t, "/api/v1/pods?name=slow-pull"))
	if len(p.Items) != 1 {
		t.Fatalf("slow-pull: %d items", len(p.Items))
	}
	s := p.Items[0]
	if s.SLOMet == nil || *s.SLOMet || s.DurationSeconds != 40 || s.UserSeconds != 36 || s.PlatformSeconds != 4 ||
		!slices.Equal(s.Codes, []string{"ImagePullSlow"}) || s.TraceID != f.crafted[0].TraceHex() {
		t.Fatalf("slow-pull summary: %+v", s)
	}
}

func TestErrorsAreJSON(t *testing.T) {
	f := getFixture(t)
	for _, c := range []struct {
		target, code, msg string
	}{
		{"/api/v1/pods?nmespace=demo", "bad_request", `unknown parameter "nmespace"`},
		{"/api/v1/pods?cursor=zzz", "bad_cursor", "cursor"},
		{"/api/v1/pods?limit=5000", "bad_request", "limit"},
		{"/api/v1/pods/nope", "not_found", "not found"},
		{"/api/v2/pods", "not_found", "no such endpoint"},
	} {
		e := decodeInto[api.ErrorBody](t, f.get(t, c.target))
		if e.Error.Code != c.code || !strings.Contains(e.Error.Message, c.msg) {
			t.Errorf("%s: %+v, want code %s with %q", c.target, e.Error, c.code, c.msg)
		}
	}
	rec := httptest.NewRecorder()
	f.api.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/v1/pods", strings.NewReader("{}")))
	if rec.Code != http.StatusMethodNotAllowed || !strings.Contains(rec.Body.String(), "method_not_allowed") {
		t.Fatalf("POST: %d %s", rec.Code, rec.Body)
	}
	// Jaeger routes answer in Jaeger's envelope
	j := decodeInto[api.JaegerTraces](t, f.get(t, "/api/traces/0123"))
	if len(j.Errors) != 1 || j.Errors[0].Code != 404 || j.Data != nil {
		t.Fatalf("jaeger 404: %+v", j)
	}
}

func TestPodFromCapture(t *testing.T) {
	f := getFixture(t)
	p := decodeInto[api.Page](t, f.get(t, "/api/v1/pods?namespace=demo&name=too-big"))
	if len(p.Items) != 1 {
		t.Fatalf("too-big: %d records", len(p.Items))
	}
	pod := decodeInto[api.Pod](t, f.get(t, "/api/v1/pods/"+p.Items[0].UID))
	if pod.Name != "too-big" || len(pod.Deliveries) != 1 || len(pod.Evidence) == 0 {
		t.Fatalf("too-big: %+v", pod)
	}
	if d := pod.Deliveries[0]; d.TraceID == nil || *d.TraceID != p.Items[0].TraceID || len(d.Phases) == 0 {
		t.Fatalf("delivery: %+v", d)
	}
	var sawCreate, sawSched bool
	for _, e := range pod.Evidence {
		if e.AuditID == "" || e.Time.IsZero() || e.Verb == "" {
			t.Errorf("evidence without id/time/verb: %+v", e)
		}
		sawCreate = sawCreate || (e.Verb == "create" && e.Resource == "pods" && e.Code == 201)
		sawSched = sawSched || strings.Contains(e.Summary, "FailedScheduling") && strings.Contains(e.Summary, "Insufficient")
	}
	if !sawCreate || !sawSched {
		t.Fatalf("evidence lacks the create request or the FailedScheduling event: %+v", pod.Evidence)
	}
	evs := decodeInto[api.EventList](t, f.get(t, "/api/v1/pods/"+p.Items[0].UID+"/events"))
	if len(evs.Items) != len(pod.Evidence) {
		t.Fatalf("%d raw events, %d evidence entries", len(evs.Items), len(pod.Evidence))
	}
	for _, it := range evs.Items {
		var ev struct {
			Kind    string `json:"kind"`
			AuditID string `json:"auditID"`
		}
		if err := json.Unmarshal(it.Event, &ev); err != nil || ev.Kind != "Event" || !strings.HasPrefix(it.Key, ev.AuditID) {
			t.Fatalf("raw event %s: %v %+v", it.Key, err, ev)
		}
		if bytes.Contains(it.Event, []byte(`"managedFields":[`)) || bytes.Contains(it.Event, []byte(`"last-applied-configuration":"{`)) {
			t.Fatalf("raw event %s is not redacted", it.Key)
		}
	}
}

func TestSLOSummary(t *testing.T) {
	f := getFixture(t)
	s := decodeInto[api.SLOSummary](t, f.get(t, "/api/v1/slo/summary?namespace=crafted&group_by=node&step=1m"))
	if s.Window.Scanned != 3 || s.Window.Truncated || s.Overall.Deliveries != 3 || s.Overall.Judged != 2 || s.Overall.Met != 1 {
		t.Fatalf("overall: %+v %+v", s.Window, s.Overall)
	}
	if s.Overall.MetRatio == nil || *s.Overall.MetRatio != 0.5 {
		t.Fatalf("met ratio %v", s.Overall.MetRatio)
	}
	// totals: 40 (SLO), 2 (SLO), 5 (duration); nearest rank
	if p := s.Overall.Total; *p.P50 != 5 || *p.P90 != 40 || *p.P99 != 40 {
		t.Fatalf("total percentiles %v %v %v", *p.P50, *p.P90, *p.P99)
	}
	if len(s.Groups) != 3 || len(s.Worst) != 3 || s.Worst[0].Name != "slow-pull" {
		t.Fatalf("groups %+v worst %+v", s.Groups, s.Worst)
	}
	for _, g := range s.Groups {
		if len(g.Series) != 1 || g.Series[0].Deliveries != 1 {
			t.Fatalf("group %q series %+v", g.Key, g.Series)
		}
	}
	// step=auto: the crafted deliveries span 2 minutes: 5 s buckets (24 of them)
	s = decodeInto[api.SLOSummary](t, f.get(t, "/api/v1/slo/summary?namespace=crafted&group_by=namespace&step=auto"))
	if s.Window.Step != "5s" || len(s.Groups) != 1 || len(s.Groups[0].Series) != 3 {
		t.Fatalf("auto step %q, series %+v", s.Window.Step, s.Groups)
	}
}

func TestDiagnosesSummary(t *testing.T) {
	f := getFixture(t)
	s := decodeInto[api.DiagnosesSummary](t, f.get(t, "/api/v1/diagnoses/summary?namespace=crafted&step=1h"))
	if s.Diagnosed != 2 || len(s.Codes) != 2 {
		t.Fatalf("%+v", s)
	}
	top := s.Codes[0]
	if top.Code != "ImagePullSlow" || top.Count != 2 || len(top.Examples) != 2 || top.Phase != "image" || top.Owner != podtrace.OwnerUser {
		t.Fatalf("top code %+v", top)
	}
	if len(top.Series) != 1 || top.Series[0].Count != 2 || !top.Series[0].Start.Equal(t0) {
		t.Fatalf("series %+v", top.Series)
	}
	if !slices.Equal(s.Owners, []api.Count{{Key: "user", Count: 2}}) {
		t.Fatalf("owners %+v", s.Owners)
	}
}

// TestSummariesListAsPods: the deliveries a summary names (slowest,
// examples) read from the store's briefs, as the pods list shows them
// from the full records.
func TestSummariesListAsPods(t *testing.T) {
	f := getFixture(t)
	var listed []api.PodSummary
	s := decodeInto[api.SLOSummary](t, f.get(t, "/api/v1/slo/summary"))
	listed = append(listed, s.Worst...)
	for _, c := range decodeInto[api.DiagnosesSummary](t, f.get(t, "/api/v1/diagnoses/summary")).Codes {
		listed = append(listed, c.Examples...)
	}
	if len(s.Worst) != 10 || len(listed) < 12 {
		t.Fatalf("%d slowest, %d listed in all", len(s.Worst), len(listed))
	}
	for _, want := range listed {
		page := decodeInto[api.Page](t, f.get(t, "/api/v1/pods?limit=1000&cluster="+want.Cluster+"&kind="+string(want.Kind)+"&name="+url.QueryEscape(want.Name)))
		i := slices.IndexFunc(page.Items, func(p api.PodSummary) bool { return p.UID == want.UID && p.Seq == want.Seq })
		if i < 0 {
			t.Errorf("%s/%s not in the pods list", want.Namespace, want.Name)
			continue
		}
		a, _ := json.Marshal(page.Items[i])
		b, _ := json.Marshal(want)
		if string(a) != string(b) {
			t.Errorf("summary lists\n %s\nthe pods list\n %s", b, a)
		}
	}
}

func TestJaegerTrace(t *testing.T) {
	f := getFixture(t)
	slow := f.crafted[0]
	res := decodeInto[api.JaegerTraces](t, f.get(t, "/api/traces/"+slow.TraceHex()))
	if len(res.Data) != 1 {
		t.Fatalf("%+v", res)
	}
	tr := res.Data[0]
	byOp := map[string]api.JaegerSpan{}
	for _, s := range tr.Spans {
		if s.TraceID != tr.TraceID {
			t.Fatalf("span %s in trace %s", s.TraceID, tr.TraceID)
		}
		byOp[s.OperationName] = s
	}
	root := byOp["pod create crafted/slow-pull"]
	if root.SpanID == "" || len(root.References) != 0 || root.Duration != 40_000_000 || len(root.Logs) != 2 {
		t.Fatalf("root %+v", root)
	}
	image := byOp["image"]
	if len(image.References) != 1 || image.References[0].SpanID != root.SpanID || len(image.Logs) != 1 {
		t.Fatalf("image phase %+v", image)
	}
	sync := byOp["syncPod"]
	if tr.Processes[sync.ProcessID].ServiceName != "kubelet" || sync.References[0].SpanID != byOp["sandbox"].SpanID {
		t.Fatalf("syncPod %+v under %+v", sync, tr.Processes[sync.ProcessID])
	}
	sandbox := byOp["runtime.v1.RuntimeService/RunPodSandbox"]
	if sandbox.References[0].SpanID != "b7ad6b7169203331" || tr.Processes[sandbox.ProcessID].ServiceName != "containerd" {
		t.Fatalf("RunPodSandbox %+v", sandbox)
	}
	if len(tr.Spans) != 1+6+2 || len(tr.Processes) != 3 {
		t.Fatalf("%d spans, %d processes", len(tr.Spans), len(tr.Processes))
	}

	// search by an indexed tag, a span duration, a component service
	for _, c := range []struct {
		target string
		want   []string
	}{
		{"/api/traces?service=podtrace&tags=" + url.QueryEscape(`{"k8s.namespace.name":"crafted"}`), []string{"crash", "fast", "slow-pull"}},
		{"/api/traces?service=podtrace&operation=image&minDuration=30s", []string{"slow-pull"}},
		{"/api/traces?service=podtrace&tags=" + url.QueryEscape(`{"podtrace.outcome":"failed"}`), []string{"crash"}},
		{"/api/traces?service=kubelet", []string{"slow-pull"}},
		{"/api/traces?service=podtrace&tag=k8s.namespace.name:crafted&limit=1", []string{"crash"}},
		{"/api/traces?service=podtrace&tag=k8s.namespace.name:crafted&end=" + fmt.Sprint(t0.Add(30*time.Second).UnixMicro()), []string{"slow-pull"}},
	} {
		var got []string
		for _, tr := range decodeInto[api.JaegerTraces](t, f.get(t, c.target)).Data {
			for _, kv := range tr.Spans[0].Tags {
				if kv.Key == "k8s.pod.name" {
					got = append(got, kv.Value.(string))
				}
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.target, got, c.want)
		}
	}
	svcs := decodeInto[api.JaegerServices](t, f.get(t, "/api/services"))
	if !slices.Equal(svcs.Data, []string{"containerd", "kubelet", "podtrace"}) {
		t.Fatalf("services %v", svcs.Data)
	}
	ops := decodeInto[api.JaegerServices](t, f.get(t, "/api/services/podtrace/operations"))
	if !slices.Contains(ops.Data, "scheduling") || !slices.Contains(ops.Data, "pod create demo/too-big") {
		t.Fatalf("operations %v", ops.Data)
	}
}

// TestJaegerComponentTrace: a component span's own trace id (what a span
// metric's exemplar carries) is served as that trace, its spans linked to
// the delivery's.
func TestJaegerComponentTrace(t *testing.T) {
	f := getFixture(t)
	slow := f.crafted[0]
	id := slow.Spans[0].TraceID
	delivery := decodeInto[api.JaegerTraces](t, f.get(t, "/api/traces/"+slow.TraceHex())).Data[0]
	phase := map[string]string{}
	for _, s := range delivery.Spans {
		phase[s.OperationName] = s.SpanID
	}
	for _, target := range []string{"/api/traces/" + id, "/api/traces/" + strings.ToUpper(id), "/api/traces?traceID=" + id} {
		res := decodeInto[api.JaegerTraces](t, f.get(t, target))
		if len(res.Data) != 1 || len(res.Errors) != 0 {
			t.Fatalf("%s: %+v", target, res)
		}
		tr := res.Data[0]
		if tr.TraceID != id || len(tr.Spans) != 2 || len(tr.Processes) != 2 {
			t.Fatalf("%s: trace %s with %d spans, %d processes", target, tr.TraceID, len(tr.Spans), len(tr.Processes))
		}
		sync, sandbox := tr.Spans[0], tr.Spans[1]
		if sync.OperationName != "syncPod" || tr.Processes[sync.ProcessID].ServiceName != "kubelet" || sync.TraceID != id ||
			fmt.Sprint(sync.References) != fmt.Sprint([]api.JaegerReference{{RefType: "FOLLOWS_FROM", TraceID: slow.TraceHex(), SpanID: phase["sandbox"]}}) {
			t.Errorf("syncPod: %+v", sync)
		}
		if sandbox.OperationName != "runtime.v1.RuntimeService/RunPodSandbox" || tr.Processes[sandbox.ProcessID].ServiceName != "containerd" ||
			fmt.Sprint(sandbox.References) != fmt.Sprint([]api.JaegerReference{{RefType: "CHILD_OF", TraceID: id, SpanID: sync.SpanID}}) ||
			!slices.ContainsFunc(sandbox.Tags, func(kv api.JaegerKeyValue) bool { return kv.Key == "error" }) {
			t.Errorf("RunPodSandbox: %+v", sandbox)
		}
	}
}

// TestDeliveryTraceIDStable pins the trace id derivation: the OTLP
// exporter and stored trace ids rely on it never changing.
func TestDeliveryTraceIDStable(t *testing.T) {
	r := podtrace.Record{Cluster: "default", UID: "be9079fa-0000-4000-8000-000000000001", Kind: podtrace.KindCreate, Seq: 0}
	if got, want := r.TraceHex(), "94582a5e8a35f11a23744d5aa8978c46"; got != want {
		t.Fatalf("trace id %s, want %s (changing it breaks stored trace links)", got, want)
	}
	other := r
	other.Seq = 1
	if other.TraceHex() == r.TraceHex() {
		t.Fatal("two deliveries share a trace id")
	}
}

// TestSchemaRejects shows the validation above can fail: bodies that break
// the documented schemas are caught.
func TestSchemaRejects(t *testing.T) {
	f := getFixture(t)
	o := loadOpenAPI(t, f.api.OpenAPI())
	for _, c := range []struct{ target, body string }{
		{"/api/v1/pods", `{"items":null,"next":null}`},
		{"/api/v1/pods", `{"items":[],"next":null,"extra":1}`},
		{"/api/v1/pods/x", `{"cluster":"c","namespace":"n","name":"p","uid":"x","deliveries":[{}],"evidence":[]}`},
		{"/api/traces", `{"data":[{"traceID":"a","spans":[{"spanID":1}],"processes":{},"warnings":null}],"total":0,"limit":0,"offset":0,"errors":null}`},
	} {
		ft := &fakeT{TB: t}
		o.validate(ft, c.target, response{200, []byte(c.body)})
		if !ft.failed {
			t.Errorf("%s: %s validated", c.target, c.body)
		}
	}
}

// fakeT records a failure instead of failing the test.
type fakeT struct {
	testing.TB
	failed bool
}

func (f *fakeT) Errorf(string, ...any) { f.failed = true }
func (f *fakeT) Helper()               {}

// FuzzAPI sends arbitrary paths and queries to the API over the real
// capture: it must not panic, must answer JSON, and a 200 must match its
// documented schema.
func FuzzAPI(f *testing.F) {
	fx := getFixture(f)
	o := loadOpenAPI(f, fx.api.OpenAPI())
	for _, c := range corpus(fx) {
		f.Add(c.target)
	}
	f.Fuzz(func(t *testing.T, target string) {
		u, err := url.Parse(target)
		if err != nil || !strings.HasPrefix(u.Path, "/api/") || u.Host != "" || u.Scheme != "" {
			return
		}
		req, err := http.NewRequest(http.MethodGet, target, nil)
		if err != nil {
			return
		}
		rec := httptest.NewRecorder()
		fx.api.ServeHTTP(rec, req)
		if rec.Code == http.StatusTemporaryRedirect || rec.Code == http.StatusMovedPermanently {
			return // the mux cleaning a path such as /api/./x
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("%s: %d, not JSON: %.300s", target, rec.Code, rec.Body)
		}
		if rec.Code == 500 {
			t.Fatalf("%s: 500: %s", target, rec.Body)
		}
		if rec.Code == 200 && o.pattern(u.Path) != "" {
			o.validate(t, target, response{rec.Code, rec.Body.Bytes()})
		}
	})
}
