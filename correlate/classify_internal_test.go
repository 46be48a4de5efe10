package correlate

import (
	"context"
	"testing"

	"github.com/podtrace/podtrace/otlp"
)

func TestParseRequest(t *testing.T) {
	for _, c := range []struct {
		method, target string
		want           request
	}{
		{"POST", "/api/v1/namespaces/demo/pods", request{"POST", "", "pods", "", "namespace"}},
		{"POST", "/api/v1/namespaces/demo/pods/web-1/binding", request{"POST", "", "pods", "binding", "resource"}},
		{"PATCH", "/api/v1/namespaces/demo/pods/web-1/status", request{"PATCH", "", "pods", "status", "resource"}},
		{"POST", "/api/v1/namespaces/demo/pods/web-1/eviction", request{"POST", "", "pods", "eviction", "resource"}},
		{"delete", "/api/v1/namespaces/demo/pods/web-1", request{"DELETE", "", "pods", "", "resource"}},
		{"DELETE", "/api/v1/namespaces/demo/pods", request{"DELETECOLLECTION", "", "pods", "", "namespace"}},
		{"GET", "/api/v1/namespaces/demo/pods?labelSelector=app%3Dweb&limit=500", request{"LIST", "", "pods", "", "namespace"}},
		{"GET", "/api/v1/pods?watch=true&resourceVersion=1", request{"WATCH", "", "pods", "", "cluster"}},
		{"GET", "/api/v1/watch/namespaces/demo/pods", request{"WATCH", "", "pods", "", "namespace"}},
		{"GET", "/api/v1/namespaces/kube-system", request{"GET", "", "namespaces", "", "resource"}},
		{"POST", "/apis/events.k8s.io/v1/namespaces/demo/events", request{"POST", "events.k8s.io", "events", "", "namespace"}},
		{"PUT", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n1", request{"PUT", "coordination.k8s.io", "leases", "", "resource"}},
		{"GET", "/readyz", request{verb: "GET"}},
		{"BREW", "/api/v1/nodes", request{"other", "", "nodes", "", "cluster"}},
	} {
		if got := parseRequest([]byte(c.method), []byte(c.target)); got != c.want {
			t.Errorf("%s %s: %+v, want %+v", c.method, c.target, got, c.want)
		}
	}
}

func testSpan(service, name string, kind otlp.SpanKind, root bool, a otlp.Attrs) *otlp.Span {
	s := &otlp.Span{Service: []byte(service), Name: []byte(name), Kind: kind, Attrs: a}
	s.TraceID[0], s.SpanID[0] = 1, 2
	if !root {
		s.Parent[0] = 3
	}
	return s
}

func TestClassify(t *testing.T) {
	req := func(method, target string) otlp.Attrs {
		return otlp.Attrs{AuditID: []byte("a"), Method: []byte(method), Target: []byte(target)}
	}
	for _, c := range []struct {
		name string
		span *otlp.Span
		want class
		rank uint8
	}{
		{"pod create", testSpan("apiserver", "POST", otlp.KindServer, true, req("POST", "/api/v1/namespaces/d/pods")), classRequest, rankKey},
		{"event write", testSpan("apiserver", "POST", otlp.KindServer, true, req("POST", "/api/v1/namespaces/d/events")), classRequest, rankRoutine},
		{"pod read", testSpan("apiserver", "GET", otlp.KindServer, true, req("GET", "/api/v1/namespaces/d/pods/x")), classNoise, 0},
		{"lease", testSpan("apiserver", "PUT", otlp.KindServer, true, req("PUT", "/apis/coordination.k8s.io/v1/namespaces/n/leases/l")), classNoise, 0},
		{"apiserver child", testSpan("apiserver", "Create", otlp.KindInternal, false, otlp.Attrs{AuditID: []byte("a")}), classNoise, 0},
		{"syncPod", testSpan("kubelet", "syncPod", otlp.KindInternal, true, otlp.Attrs{PodUID: []byte("u"), UpdateType: []byte("create")}), classPodSpan, rankKey},
		{"periodic sync", testSpan("kubelet", "syncPod", otlp.KindInternal, true, otlp.Attrs{PodUID: []byte("u"), UpdateType: []byte("sync")}), classPodSpan, rankRoutine},
		{"CRI call", testSpan("kubelet", "runtime.v1.RuntimeService/RunPodSandbox", otlp.KindClient, false, otlp.Attrs{}), classChild, rankKey},
		{"CRI poll in a sync", testSpan("kubelet", "runtime.v1.RuntimeService/PodSandboxStatus", otlp.KindClient, false, otlp.Attrs{}), classChild, rankPolling},
		{"relist", testSpan("kubelet", "runtime.v1.RuntimeService/ListContainers", otlp.KindClient, true, otlp.Attrs{}), classNoise, 0},
		{"kubelet API call", testSpan("kubelet", "HTTP PATCH", otlp.KindClient, false, otlp.Attrs{}), classNoise, 0},
		{"runtime poll", testSpan("containerd", "runtime.v1.RuntimeService/ListPodSandbox", otlp.KindServer, false, otlp.Attrs{}), classNoise, 0},
		{"runtime call", testSpan("containerd", "cri.pull_image", otlp.KindInternal, false, otlp.Attrs{}), classChild, rankKey},
		{"someone's app", testSpan("checkout", "GET /cart", otlp.KindServer, false, otlp.Attrs{}), classNoise, 0},
	} {
		got, rank, _ := classify(c.span)
		if got != c.want || rank != c.rank {
			t.Errorf("%s: class %d rank %d, want %d %d", c.name, got, rank, c.want, c.rank)
		}
	}
}

// The idle apiserver's noise (~225 spans a minute of reads, leases, other
// resources) costs a classification and nothing else.
func BenchmarkConsumeNoise(b *testing.B) {
	j, err := New(DefaultConfig(), nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	spans := []otlp.Span{
		*testSpan("apiserver", "GET /api/v1/namespaces/{:namespace}/pods", otlp.KindServer, true, otlp.Attrs{AuditID: []byte("a"), Method: []byte("GET"), Target: []byte("/api/v1/namespaces/demo/pods?limit=500")}),
		*testSpan("apiserver", "PUT /apis/coordination.k8s.io/v1/namespaces/{:namespace}/leases/{:name}", otlp.KindServer, true, otlp.Attrs{AuditID: []byte("b"), Method: []byte("PUT"), Target: []byte("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n")}),
		*testSpan("apiserver", "etcdserverpb.KV/Range", otlp.KindClient, false, otlp.Attrs{}),
		*testSpan("kubelet", "runtime.v1.RuntimeService/ListContainers", otlp.KindClient, true, otlp.Attrs{}),
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if err := j.ConsumeSpans(context.Background(), spans); err != nil {
			b.Fatal(err)
		}
	}
	if j.Stats.Taken.Load() != 0 {
		b.Fatal("noise taken in")
	}
}
