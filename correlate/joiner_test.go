package correlate_test

import (
	"encoding/hex"
	"testing"
	"time"

	"github.com/podtrace/podtrace/correlate"
	"github.com/podtrace/podtrace/otlp"
)

// a hollow-node pod of the capture and its create delivery's window
const (
	podUID = "be9079fa-4074-4bef-a96b-56092fd24411" // demo/web-5f6b554666-q964m
	inPod  = 1795294119300000000                    // 20:48:39.3, while it was being created
)

func runtimeSpan(trace, span, parent byte, name string, attrs otlp.Attrs) otlp.Span {
	s := otlp.Span{Service: []byte("containerd"), Name: []byte(name), Kind: otlp.KindServer,
		Start: inPod, End: inPod + 1e6, Attrs: attrs}
	s.TraceID[0], s.SpanID[0] = trace, span
	if parent != 0 {
		s.Parent[0] = parent
	}
	s.Attrs.RPCStatus = -1
	return s
}

// Container runtime spans join by the pod uid they carry, by the trace of a
// span that did, and by the sandbox or container ids learned from it.
func TestRuntimeSpansJoin(t *testing.T) {
	spans := []otlp.Span{
		// carries the pod: joins by uid, teaches sandbox id sb-1
		runtimeSpan(0xa1, 1, 0x77, "cri.create_sandbox", otlp.Attrs{PodUID: []byte(podUID), SandboxID: []byte("sb-1")}),
		// same trace, no ids: joins through the trace
		runtimeSpan(0xa1, 2, 1, "runtime.v1.RuntimeService/RunPodSandbox", otlp.Attrs{}),
		// another trace, names the sandbox only: joins by sb-1
		runtimeSpan(0xb2, 3, 0x88, "cri.create_container", otlp.Attrs{SandboxID: []byte("sb-1"), ContainerID: []byte("c-1")}),
		// names the container only, as a root span: joins by c-1
		runtimeSpan(0xc3, 4, 0, "cri.start_container", otlp.Attrs{ContainerID: []byte("c-1")}),
		// a runtime poll under some relist: noise
		runtimeSpan(0xd4, 5, 0x99, "runtime.v1.RuntimeService/ListContainers", otlp.Attrs{}),
		// an unknown trace, no ids: held, never joined
		runtimeSpan(0xe5, 6, 0x99, "cri.stop_container", otlp.Attrs{}),
	}
	r := replay(t, correlate.DefaultConfig(), false, spans...)
	joined := map[string]bool{}
	for _, rec := range r.records {
		if rec.UID != podUID || rec.Kind != "create" {
			continue
		}
		for _, s := range rec.Spans {
			if s.Service == "containerd" {
				joined[s.Name] = true
			}
		}
	}
	for _, want := range []string{"cri.create_sandbox", "runtime.v1.RuntimeService/RunPodSandbox", "cri.create_container", "cri.start_container"} {
		if !joined[want] {
			t.Errorf("%s not joined to the pod's create delivery (joined: %v)", want, joined)
		}
	}
	if joined["cri.stop_container"] || joined["runtime.v1.RuntimeService/ListContainers"] {
		t.Errorf("joined spans of no pod: %v", joined)
	}
}

// Held spans are bounded: past HeldFor (event time) they are dropped as
// unmatched, past MaxHeld the oldest go; both counted.
func TestHeldBounds(t *testing.T) {
	var stale []otlp.Span
	for i := 0; i < 5; i++ {
		s := otlp.Span{Service: []byte("apiserver"), Name: []byte("PATCH /api/v1/namespaces/{:namespace}/pods/{:name}/status"),
			Kind: otlp.KindServer, Start: 1e18, End: 1e18 + 1, Attrs: otlp.Attrs{RPCStatus: -1,
				AuditID: []byte("no-such-audit-id-" + hex.EncodeToString([]byte{byte(i)})),
				Method:  []byte("PATCH"), Target: []byte("/api/v1/namespaces/demo/pods/x/status")}}
		s.TraceID[0], s.SpanID[0] = 0xf0, byte(i+1)
		stale = append(stale, s)
	}
	cfg := correlate.DefaultConfig()
	cfg.HeldFor = time.Minute
	r := replay(t, cfg, false, stale...)
	// the capture's events are years after 1e18 ns: older than a minute
	if got := r.joiner.Stats.Unmatched.Load(); got < 5 {
		t.Errorf("%d spans expired, want at least the 5 stale ones", got)
	}

	cfg = correlate.DefaultConfig()
	cfg.MaxHeld = 10
	r = replay(t, cfg, true) // spans first: every span waits for its pod
	if r.joiner.Stats.Dropped.Load() == 0 || r.joiner.Stats.Held.Load() > 10 {
		t.Errorf("dropped %d, held %d with MaxHeld 10", r.joiner.Stats.Dropped.Load(), r.joiner.Stats.Held.Load())
	}
}

func TestConfigValidate(t *testing.T) {
	bad := correlate.Config{}
	err := bad.Validate()
	for _, key := range []string{"max_spans_per_pod", "max_held", "max_index", "held_for"} {
		if err == nil || !contains(err.Error(), key) {
			t.Errorf("error lacks %s: %v", key, err)
		}
	}
	if err := correlate.DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
