package traceexport_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/podtrace/podtrace"
	"github.com/podtrace/podtrace/jaegertest"
	"github.com/podtrace/podtrace/server"
)

type jaegerTrace struct {
	TraceID string `json:"traceID"`
	Spans   []struct {
		SpanID        string `json:"spanID"`
		OperationName string `json:"operationName"`
		References    []struct {
			RefType string `json:"refType"`
			TraceID string `json:"traceID"`
			SpanID  string `json:"spanID"`
		} `json:"references"`
		ProcessID string `json:"processID"`
		Tags      []struct {
			Key   string `json:"key"`
			Value any    `json:"value"`
		} `json:"tags"`
	} `json:"spans"`
	Processes map[string]struct {
		ServiceName string `json:"serviceName"`
	} `json:"processes"`
}

func getJSON(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("%s: %v", url, err)
		}
	}
	return resp.StatusCode
}

// postFile posts each line of the file (gzipped if it ends in .gz).
func postFile(t *testing.T, url, contentType, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		resp, err := http.Post(url, contentType, bytes.NewReader(sc.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST %s: %d", url, resp.StatusCode)
		}
	}
}

// serveToJaeger starts a real Jaeger and a podtrace serve (cluster "e2e")
// that forwards component spans to it and exports each closed delivery to
// it a second after it closed; it returns the server and Jaeger's query URL.
func serveToJaeger(t *testing.T) (*server.Server, string) {
	t.Helper()
	j := jaegertest.Start(t)
	otlpEndpoint := "grpc://" + j.OTLPGRPC
	cfg := server.DefaultConfig()
	cfg.HTTPAddr, cfg.OTLPGRPCAddr, cfg.OTLPHTTPAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.DB, cfg.Sync, cfg.Cluster = filepath.Join(t.TempDir(), "p.db"), "NORMAL", "e2e"
	cfg.OTLPExport, cfg.OTLPExportDelay = otlpEndpoint, time.Second
	cfg.OTLPForward = otlpEndpoint
	s, err := server.Start(context.Background(), cfg, quiet())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, j.Query
}

// End to end: podtrace serve receives the capture as the apiserver and the
// kubelet sent it (audit webhook batches, OTLP/HTTP JSON), forwards the
// component spans to a real Jaeger and exports each closed delivery to it;
// Jaeger's query API serves the pod's trace with its phases and the links to
// its component spans, and the component spans themselves.
func TestJaegerEndToEnd(t *testing.T) {
	s, jaeger := serveToJaeger(t)
	// spans first: they wait for their pods, so each delivery has its spans
	// when it closes, however slow this machine is (TestExportCapture covers
	// spans arriving after the delivery closed)
	postFile(t, "http://"+s.OTLPHTTPAddr()+"/v1/traces", "application/json", mixed+"otlp-raw.jsonl")
	postFile(t, "http://"+s.Addr()+"/audit", "application/json", mixed+"audit-webhook-batches.jsonl")

	const uid = "be9079fa-4074-4bef-a96b-56092fd24411" // demo/web-5f6b554666-q964m
	tid := podtrace.TraceIDHex("e2e", uid, podtrace.KindCreate, 0)
	var body struct {
		Data []jaegerTrace `json:"data"`
	}
	deadline := time.Now().Add(90 * time.Second)
	for getJSON(t, jaeger+"/api/traces/"+tid, &body) != http.StatusOK || len(body.Data) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("trace %s not in Jaeger after 90s", tid)
		}
		time.Sleep(500 * time.Millisecond)
	}
	tr := body.Data[0]
	ops := map[string]bool{}
	follows, rootID := 0, ""
	for _, sp := range tr.Spans {
		ops[sp.OperationName] = true
		if sp.OperationName == "pod create demo/web-5f6b554666-q964m" {
			rootID = sp.SpanID
		}
		for _, r := range sp.References {
			if r.RefType == "FOLLOWS_FROM" && r.TraceID != tid {
				follows++
			}
		}
		if svc := tr.Processes[sp.ProcessID].ServiceName; svc != "podtrace" {
			t.Errorf("span %s of service %q", sp.OperationName, svc)
		}
	}
	if rootID == "" {
		t.Fatalf("no root span in %v", ops)
	}
	for _, phase := range []string{"admission", "scheduling", "sandbox", "containers", "readiness"} {
		if !ops[phase] {
			t.Errorf("no %s phase span in %v", phase, ops)
		}
	}
	for _, sp := range tr.Spans {
		if sp.SpanID != rootID && (len(sp.References) == 0 || sp.References[0].RefType != "CHILD_OF" || sp.References[0].SpanID != rootID) {
			t.Errorf("phase %s is not a child of the root: %+v", sp.OperationName, sp.References)
		}
	}
	t.Logf("trace %s in Jaeger: %d spans %v, %d links to component spans", tid, len(tr.Spans), ops, follows)
	// the kubelet's syncPod and CRI calls, the apiserver's requests: linked
	if follows < 10 {
		t.Errorf("%d links to component spans, want the pod's requests, syncs and CRI calls", follows)
	}
	var services struct {
		Data []string `json:"data"`
	}
	getJSON(t, jaeger+"/api/services", &services)
	for _, svc := range []string{"podtrace", "apiserver", "kubelet"} { // exported; forwarded
		if !strings.Contains(" "+strings.Join(services.Data, " ")+" ", " "+svc+" ") {
			t.Errorf("Jaeger services %v lack %s", services.Data, svc)
		}
	}
}

// realNode is the capture of e2e's TestRealNode: a real kubelet on
// containerd 2.x, both tracing.
const realNode = "../testdata/realnode-v1.34.10/"

// On the real node's capture, through a real Jaeger: the delivery trace of
// the healthy pod "traced" links the apiserver's, the kubelet's and
// containerd's spans, and in the component traces Jaeger keeps, containerd's
// CRI server spans are the children of the kubelet's CRI client spans.
func TestJaegerRealNode(t *testing.T) {
	s, jaeger := serveToJaeger(t)
	postFile(t, "http://"+s.OTLPHTTPAddr()+"/v1/traces", "application/json", realNode+"otlp-raw.jsonl.gz")
	postFile(t, "http://"+s.Addr()+"/audit", "application/json", realNode+"audit-webhook-batches.jsonl.gz")

	var pods struct {
		Items []struct {
			Name string        `json:"name"`
			UID  string        `json:"uid"`
			Kind podtrace.Kind `json:"kind"`
		} `json:"items"`
	}
	uid := ""
	deadline := time.Now().Add(90 * time.Second)
	for uid == "" {
		getJSON(t, "http://"+s.Addr()+"/api/v1/pods?limit=1000", &pods)
		for _, p := range pods.Items {
			if p.Name == "traced" && p.Kind == podtrace.KindCreate {
				uid = p.UID
			}
		}
		if uid == "" && time.Now().After(deadline) {
			t.Fatal("pod traced not in podtrace after 90s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	tid := podtrace.TraceIDHex("e2e", uid, podtrace.KindCreate, 0)
	var body struct {
		Data []jaegerTrace `json:"data"`
	}
	for getJSON(t, jaeger+"/api/traces/"+tid, &body) != http.StatusOK || len(body.Data) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("trace %s not in Jaeger after 90s", tid)
		}
		time.Sleep(500 * time.Millisecond)
	}
	linked := map[string]bool{} // component trace ids the delivery links
	for _, sp := range body.Data[0].Spans {
		for _, r := range sp.References {
			if r.RefType == "FOLLOWS_FROM" && r.TraceID != tid {
				linked[r.TraceID] = true
			}
		}
	}
	// the component traces, as Jaeger keeps them: services, and who is whose child
	services := map[string]int{}
	nested := 0
	for ctid := range linked {
		var ct struct {
			Data []jaegerTrace `json:"data"`
		}
		if getJSON(t, jaeger+"/api/traces/"+ctid, &ct) != http.StatusOK || len(ct.Data) == 0 {
			continue
		}
		tr := ct.Data[0]
		service := map[string]string{}
		for _, sp := range tr.Spans {
			service[sp.SpanID] = tr.Processes[sp.ProcessID].ServiceName
			services[service[sp.SpanID]]++
		}
		for _, sp := range tr.Spans {
			for _, r := range sp.References {
				if r.RefType == "CHILD_OF" && service[sp.SpanID] == "containerd" && service[r.SpanID] == "kubelet" {
					nested++
				}
			}
		}
	}
	t.Logf("delivery trace %s in Jaeger links %d component traces: spans by service %v, %d containerd spans children of kubelet spans", tid, len(linked), services, nested)
	for _, svc := range []string{"apiserver", "kubelet", "containerd"} {
		if services[svc] == 0 {
			t.Errorf("no %s span in the component traces the delivery links (%v)", svc, services)
		}
	}
	if nested == 0 {
		t.Error("no containerd span is the child of a kubelet span in Jaeger")
	}
}
