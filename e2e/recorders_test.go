package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
)

// auditEvent holds the audit.k8s.io/v1 Event fields the tests look at.
type auditEvent struct {
	AuditID string    `json:"auditID"`
	Stage   string    `json:"stage"`
	Verb    string    `json:"verb"`
	Time    time.Time `json:"stageTimestamp"`
	User    struct {
		Username string `json:"username"`
	} `json:"user"`
	ObjectRef *struct {
		Resource    string `json:"resource"`
		Subresource string `json:"subresource"`
		Namespace   string `json:"namespace"`
		Name        string `json:"name"`
		UID         string `json:"uid"`
	} `json:"objectRef"`
	ResponseStatus *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"responseStatus"`
	RequestObject *struct {
		Target struct { // a Binding's node
			Name string `json:"name"`
		} `json:"target"`
	} `json:"requestObject"`
	ResponseObject *struct {
		Kind     string `json:"kind"`
		Metadata struct {
			Name string `json:"name"`
			UID  string `json:"uid"`
		} `json:"metadata"`
		Status json.RawMessage `json:"status"` // a Pod's status; a string in a Status
	} `json:"responseObject"`
}

// podStatus returns the status of a pod the response holds, or nil.
func (e auditEvent) podStatus() *podStatus {
	if e.ResponseObject == nil || e.ResponseObject.Kind != "Pod" || len(e.ResponseObject.Status) == 0 {
		return nil
	}
	var st podStatus
	if json.Unmarshal(e.ResponseObject.Status, &st) != nil {
		return nil
	}
	return &st
}

// podStatus is the part of a pod's status the readiness check reads.
type podStatus struct {
	Conditions []struct {
		Type   string `json:"type"`
		Status string `json:"status"`
	} `json:"conditions"`
	ContainerStatuses []struct {
		Started *bool `json:"started"`
	} `json:"containerStatuses"`
}

// key identifies one audit event (one request produces one per stage).
func (e auditEvent) key() string { return e.AuditID + "/" + e.Stage }

// auditRecorder is the audit webhook the cluster posts to in these tests.
type auditRecorder struct {
	URL string // ends in /audit

	mu      sync.Mutex
	batches int
	events  []auditEvent
	errs    []string
}

func newAuditRecorder(t *testing.T) *auditRecorder {
	r := &auditRecorder{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /audit", func(w http.ResponseWriter, req *http.Request) {
		var list struct {
			Kind       string       `json:"kind"`
			APIVersion string       `json:"apiVersion"`
			Items      []auditEvent `json:"items"`
		}
		body, err := io.ReadAll(req.Body)
		if err == nil {
			err = json.Unmarshal(body, &list)
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		if err != nil || list.Kind != "EventList" || list.APIVersion != "audit.k8s.io/v1" {
			r.errs = append(r.errs, "bad batch: "+string(body[:min(len(body), 200)]))
			http.Error(w, "bad EventList", http.StatusBadRequest)
			return
		}
		r.batches++
		r.events = append(r.events, list.Items...)
	})
	srv := httptest.NewServer(mux) // 127.0.0.1:0
	t.Cleanup(srv.Close)
	r.URL = srv.URL + "/audit"
	return r
}

// snapshot returns what was received so far.
func (r *auditRecorder) snapshot() (batches int, events []auditEvent, errs []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.batches, append([]auditEvent(nil), r.events...), append([]string(nil), r.errs...)
}

// readAuditLog reads a JSON-lines audit log.
func readAuditLog(t *testing.T, path string) []auditEvent {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var events []auditEvent
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 0, 1<<20), 64<<20)
	for s.Scan() {
		var e auditEvent
		if err := json.Unmarshal(s.Bytes(), &e); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		events = append(events, e)
	}
	if err := s.Err(); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return events
}

// span is what the tests keep of a received span.
type span struct {
	service, name, auditID string
}

// spanRecorder is an OTLP gRPC trace receiver on 127.0.0.1.
type spanRecorder struct {
	collectortrace.UnimplementedTraceServiceServer
	Addr string // host:port

	mu    sync.Mutex
	spans []span
}

func newSpanRecorder(t *testing.T) *spanRecorder {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &spanRecorder{Addr: l.Addr().String()}
	srv := grpc.NewServer()
	collectortrace.RegisterTraceServiceServer(srv, r)
	go srv.Serve(l) //nolint:errcheck // returns when stopped
	t.Cleanup(srv.Stop)
	return r
}

// Export implements the OTLP trace service.
func (r *spanRecorder) Export(_ context.Context, req *collectortrace.ExportTraceServiceRequest) (*collectortrace.ExportTraceServiceResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		var service string
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.GetKey() == "service.name" {
				service = kv.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				sp := span{service: service, name: s.GetName()}
				for _, kv := range s.GetAttributes() {
					if kv.GetKey() == "audit-id" {
						sp.auditID = kv.GetValue().GetStringValue()
					}
				}
				r.spans = append(r.spans, sp)
			}
		}
	}
	return &collectortrace.ExportTraceServiceResponse{}, nil
}

// snapshot returns the spans received so far.
func (r *spanRecorder) snapshot() []span {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]span(nil), r.spans...)
}
