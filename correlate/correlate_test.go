package correlate_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"sort"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/podtrace/podtrace"
	"github.com/podtrace/podtrace/otlp"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// goldenRecord is what the golden file keeps of a record: its trace id and
// the component spans joined to it.
type goldenRecord struct {
	Pod     string   `json:"pod"`
	Kind    string   `json:"kind"`
	Seq     int      `json:"seq"`
	Node    string   `json:"node,omitempty"`
	TraceID string   `json:"trace_id"`
	Spans   []string `json:"spans"`
}

func golden(recs []podtrace.Record) []byte {
	var out []goldenRecord
	for _, r := range recs {
		g := goldenRecord{Pod: r.Namespace + "/" + r.Name, Kind: string(r.Kind), Seq: r.Seq, Node: r.Node, Spans: []string{}}
		if r.TraceID != nil {
			g.TraceID = *r.TraceID
		}
		for _, s := range r.Spans {
			g.Spans = append(g.Spans, s.Start.Format("15:04:05.000000")+" "+s.Service+" "+s.Name+" "+s.SpanID)
		}
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Pod != out[j].Pod {
			return out[i].Pod < out[j].Pod
		}
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].Seq < out[j].Seq
	})
	b, _ := json.MarshalIndent(out, "", " ")
	return append(b, '\n')
}

// auditIDs maps the capture's span ids to their audit-id attribute.
func auditIDs(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	var d otlp.Decoder
	if _, err := otlp.ReadFile(context.Background(), mixed+"otlp-raw.jsonl", func(pb []byte) error {
		spans, _, err := d.Decode(pb)
		for _, s := range spans {
			if len(s.Attrs.AuditID) > 0 {
				out[hex.EncodeToString(s.SpanID[:])] = string(s.Attrs.AuditID)
			}
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestMixedGolden(t *testing.T) {
	r := cachedReplay(t, 64, false)
	got := golden(r.records)
	const path = "testdata/mixed.golden.json"
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("records' spans differ from %s (go test ./correlate -update, then review the diff)", path)
	}

	audit := auditIDs(t)
	hollow := 0
	for _, rec := range r.records {
		if want := podtrace.TraceIDHex(rec.Cluster, rec.UID, rec.Kind, rec.Seq); rec.TraceID == nil || *rec.TraceID != want {
			t.Errorf("%s/%s %s: trace id %v, want %s", rec.Namespace, rec.Name, rec.Kind, rec.TraceID, want)
		}
		names := map[string]bool{}
		milestone := map[string]string{} // audit id → milestone
		for _, m := range rec.Milestones {
			milestone[m.AuditID] = m.Name
		}
		joinedBy := map[string]bool{} // milestones whose request span joined
		for _, s := range rec.Spans {
			names[s.Service+" "+s.Name] = true
			if id, ok := audit[s.SpanID]; ok && milestone[id] != "" {
				joinedBy[milestone[id]] = true
			}
		}
		if rec.Kind != podtrace.KindCreate {
			continue
		}
		// every pod the scheduler bound: its create and binding requests, by audit id
		if rec.Node != "" && (!joinedBy["created"] || !joinedBy["scheduled"]) {
			t.Errorf("%s: create/binding request spans not joined by audit id: %v", rec.Name, joinedBy)
		}
		if rec.Node != "hollow-node-0" {
			continue
		}
		hollow++
		for _, want := range []string{"kubelet syncPod", "kubelet runtime.v1.RuntimeService/RunPodSandbox",
			"kubelet runtime.v1.RuntimeService/CreateContainer", "kubelet runtime.v1.RuntimeService/StartContainer",
			"apiserver PATCH /api/v1/namespaces/{:namespace}/pods/{:name}/status"} {
			if !names[want] {
				t.Errorf("%s on hollow-node-0: no %q span", rec.Name, want)
			}
		}
		if !joinedBy["ready"] && !joinedBy["containers_started"] && !joinedBy["sandbox_ready"] {
			t.Errorf("%s: no status patch span joined by a milestone's audit id: %v", rec.Name, joinedBy)
		}
	}
	if hollow != 4 {
		t.Errorf("%d create deliveries on hollow-node-0, want 4", hollow)
	}
}

// Spans arriving before the audit events, or after, give the same records.
func TestOrderIndependent(t *testing.T) {
	for _, limit := range []int{64, 4} {
		a, b := cachedReplay(t, limit, false), cachedReplay(t, limit, true)
		ja, _ := json.Marshal(a.records)
		jb, _ := json.Marshal(b.records)
		if !bytes.Equal(ja, jb) {
			t.Errorf("max %d spans per pod: spans first and audit first give different records", limit)
		}
		if limit < 64 {
			for _, r := range a.records {
				if len(r.Spans) > 2*limit { // a span may serve two deliveries of the pod
					t.Errorf("%s %s: %d spans, bound %d", r.Name, r.Kind, len(r.Spans), limit)
				}
			}
			if a.joiner.Stats.NotKept.Load() == 0 {
				t.Error("nothing dropped at a bound of 4 spans per pod")
			}
		}
		if b.joiner.Stats.Unmatched.Load()+b.joiner.Stats.Dropped.Load() != 0 {
			t.Errorf("spans first: %d unmatched, %d dropped while held", b.joiner.Stats.Unmatched.Load(), b.joiner.Stats.Dropped.Load())
		}
	}
}

func TestNoiseDroppedOnArrival(t *testing.T) {
	r := cachedReplay(t, 64, false)
	s := &r.joiner.Stats
	if s.Noise.Load()+s.Taken.Load() != 12212 {
		t.Fatalf("noise %d + taken %d != 12212 spans", s.Noise.Load(), s.Taken.Load())
	}
	// what is taken: pod and Event writes, kubelet syncs and their CRI calls
	if s.Taken.Load() > 300 {
		t.Fatalf("%d spans taken in; the capture has about 220 that can join a pod", s.Taken.Load())
	}
}

// metric finds one sample of a gathered family by its labels.
func metric(t *testing.T, fams []*dto.MetricFamily, name string, labels map[string]string) *dto.Metric {
	t.Helper()
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	next:
		for _, m := range f.Metric {
			for _, lp := range m.Label {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue next
				}
			}
			return m
		}
	}
	t.Fatalf("no %s%v", name, labels)
	return nil
}

func TestSpanMetrics(t *testing.T) {
	r := cachedReplay(t, 64, false)
	fams, err := r.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	binding := metric(t, fams, "podtrace_apiserver_requests_total", map[string]string{"verb": "POST", "resource": "pods", "subresource": "binding", "code": "201"})
	if binding.Counter.GetValue() != 10 {
		t.Errorf("binding requests: %v, want 10", binding.Counter.GetValue())
	}
	if ex := binding.Counter.GetExemplar(); ex == nil || len(ex.Label) != 2 {
		t.Errorf("binding requests: exemplar %v", ex)
	}
	if m := metric(t, fams, "podtrace_apiserver_request_duration_seconds", map[string]string{"verb": "LIST", "resource": "pods", "scope": "namespace"}); m.Histogram.GetSampleCount() == 0 {
		t.Error("no LIST pods requests")
	}
	if m := metric(t, fams, "podtrace_kubelet_sync_pod_total", map[string]string{"result": "success"}); m.Counter.GetValue() != 14 {
		t.Errorf("syncPod: %v, want 14", m.Counter.GetValue())
	}
	if m := metric(t, fams, "podtrace_kubelet_sync_pod_duration_seconds", nil); m.Histogram.GetSampleCount() != 14 {
		t.Errorf("syncPod durations: %d, want 14", m.Histogram.GetSampleCount())
	}
	sandbox := metric(t, fams, "podtrace_cri_operation_duration_seconds", map[string]string{"operation": "RunPodSandbox", "result": "success"})
	if sandbox.Histogram.GetSampleCount() != 4 {
		t.Errorf("RunPodSandbox: %d, want 4", sandbox.Histogram.GetSampleCount())
	}
	hasExemplar := false
	for _, b := range sandbox.Histogram.Bucket {
		hasExemplar = hasExemplar || b.Exemplar != nil
	}
	if !hasExemplar {
		t.Error("RunPodSandbox: no exemplar")
	}
	// label values stay bounded: verbs from a fixed set
	for _, f := range fams {
		if f.GetName() != "podtrace_apiserver_requests_total" {
			continue
		}
		for _, m := range f.Metric {
			for _, lp := range m.Label {
				if lp.GetName() == "verb" && !strings.Contains(" GET LIST WATCH POST PUT PATCH DELETE DELETECOLLECTION HEAD OPTIONS CONNECT other ", " "+lp.GetValue()+" ") {
					t.Errorf("verb %q", lp.GetValue())
				}
			}
		}
	}
}
