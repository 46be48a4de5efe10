package otlp

import (
	"context"
	"errors"
	"strconv"
)

// Span is one span of an OTLP request, reduced to what podtrace reads. Its
// byte slices alias the request: they are valid only until the Consumer the
// span was handed to returns.
type Span struct {
	Service []byte // resource attribute service.name
	Host    []byte // resource attribute host.name, else k8s.node.name
	TraceID [16]byte
	SpanID  [8]byte
	Parent  [8]byte // zero for a root span
	Name    []byte
	Kind    SpanKind
	Start   uint64 // unix nanoseconds
	End     uint64
	Status  StatusCode
	// StatusMessage is the status description (set with an error status).
	StatusMessage []byte
	Attrs         Attrs
}

// IsRoot reports whether the span has no parent.
func (s *Span) IsRoot() bool { return s.Parent == [8]byte{} }

// SpanKind is OTLP's Span.SpanKind.
type SpanKind int32

// Span kinds.
const (
	KindUnspecified SpanKind = 0
	KindInternal    SpanKind = 1
	KindServer      SpanKind = 2
	KindClient      SpanKind = 3
	KindProducer    SpanKind = 4
	KindConsumer    SpanKind = 5
)

// StatusCode is OTLP's Status.StatusCode.
type StatusCode int32

// Status codes.
const (
	StatusUnset StatusCode = 0
	StatusOK    StatusCode = 1
	StatusError StatusCode = 2
)

func (c StatusCode) String() string {
	switch c {
	case StatusOK:
		return "ok"
	case StatusError:
		return "error"
	}
	return "unset"
}

// Attrs are the span attributes podtrace reads; every other attribute is
// skipped without decoding. Where semantic conventions renamed a key, both
// spellings are read.
type Attrs struct {
	AuditID     []byte // audit-id (kube-apiserver request spans)
	PodUID      []byte // k8s.pod.uid (kubelet), pod.uid (containerd)
	Pod         []byte // k8s.pod: namespace/name (kubelet)
	PodName     []byte // k8s.pod.name, pod.name
	Namespace   []byte // k8s.namespace.name, pod.namespace
	UpdateType  []byte // k8s.pod.update_type (kubelet sync spans)
	Method      []byte // http.method, http.request.method
	Target      []byte // http.target (path and query), url.path
	HTTPStatus  int64  // http.status_code, http.response.status_code; 0 if absent
	RPCStatus   int64  // rpc.grpc.status_code; -1 if absent
	SandboxID   []byte // sandbox.id (containerd)
	ContainerID []byte // container.id (containerd)
}

// value is a decoded AnyValue: a string, an int, or neither.
type value struct {
	str   []byte
	num   int64
	isStr bool
	isNum bool
}

func (v value) int() (int64, bool) {
	switch {
	case v.isNum:
		return v.num, true
	case v.isStr:
		n, err := strconv.ParseInt(string(v.str), 10, 64)
		return n, err == nil
	}
	return 0, false
}

// set stores the attribute key=v if podtrace reads it. The switch on
// string(key) does not allocate.
func (a *Attrs) set(key []byte, v value) {
	switch string(key) {
	case "http.status_code", "http.response.status_code":
		if n, ok := v.int(); ok {
			a.HTTPStatus = n
		}
		return
	case "rpc.grpc.status_code":
		if n, ok := v.int(); ok {
			a.RPCStatus = n
		}
		return
	}
	if !v.isStr {
		return
	}
	switch string(key) {
	case "audit-id":
		a.AuditID = v.str
	case "k8s.pod.uid", "pod.uid":
		a.PodUID = v.str
	case "k8s.pod":
		a.Pod = v.str
	case "k8s.pod.name", "pod.name":
		a.PodName = v.str
	case "k8s.namespace.name", "pod.namespace":
		a.Namespace = v.str
	case "k8s.pod.update_type":
		a.UpdateType = v.str
	case "http.method", "http.request.method":
		a.Method = v.str
	case "http.target", "url.path":
		a.Target = v.str
	case "sandbox.id":
		a.SandboxID = v.str
	case "container.id":
		a.ContainerID = v.str
	}
}

// resource holds the resource attributes podtrace reads.
type resource struct {
	service, host, node []byte
}

func (r *resource) set(key []byte, v value) {
	if !v.isStr {
		return
	}
	switch string(key) {
	case "service.name":
		r.service = v.str
	case "host.name":
		r.host = v.str
	case "k8s.node.name":
		r.node = v.str
	}
}

// Consumer takes the spans of one request. The spans, and the byte slices in
// them, belong to the caller and are valid only during the call: a consumer
// copies what it keeps. An error wrapping ErrOverloaded asks the client to
// retry later; any other error is reported to the client as retryable too,
// since the data itself was fine.
type Consumer interface {
	ConsumeSpans(ctx context.Context, spans []Span) error
}

// ConsumerFunc adapts a function to Consumer.
type ConsumerFunc func(ctx context.Context, spans []Span) error

// ConsumeSpans calls f.
func (f ConsumerFunc) ConsumeSpans(ctx context.Context, spans []Span) error { return f(ctx, spans) }

// Errors at the package boundary; the receiver maps them to OTLP responses in
// one place (failureOf).
var (
	// ErrMalformed: the request is not a valid ExportTraceServiceRequest.
	ErrMalformed = errors.New("malformed OTLP request")
	// ErrOverloaded: a consumer or queue is full; the client should retry.
	ErrOverloaded = errors.New("overloaded")
	// ErrTooLarge: the body, or its decompressed form, exceeds the limit.
	ErrTooLarge = errors.New("request too large")
	// ErrUnsupportedMedia: a content type or encoding OTLP does not define.
	ErrUnsupportedMedia = errors.New("unsupported media type")
)
