package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/podtrace/podtrace"
)

// Options tune the API. Zero values take the defaults.
type Options struct {
	// MaxScan bounds the records one summary or trace search reads
	// (default 100000); a summary that hit it says so ("truncated").
	MaxScan int
	// Now is the clock, for "last N" defaults. Default time.Now.
	Now func() time.Time
	// Log receives internal errors, which clients never see.
	Log *slog.Logger
}

// API is the HTTP API over a store. It is safe for concurrent use.
type API struct {
	store  podtrace.Store
	opt    Options
	routes []route
	mux    *http.ServeMux
	doc    []byte // the OpenAPI document, rendered once
}

// New returns the API over st.
func New(st podtrace.Store, opt Options) *API {
	if opt.MaxScan <= 0 {
		opt.MaxScan = 100_000
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	a := &API{store: st, opt: opt}
	a.routes = a.table()
	a.mux = http.NewServeMux()
	for i := range a.routes {
		rt := &a.routes[i]
		a.mux.HandleFunc(rt.method+" "+rt.path, func(w http.ResponseWriter, r *http.Request) { a.serve(rt, w, r) })
	}
	a.mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			a.writeError(w, r, errMethod, false)
			return
		}
		a.writeError(w, r, errNoRoute, false)
	})
	doc, err := json.MarshalIndent(a.openAPIDoc(), "", "  ")
	if err != nil {
		// the document is built from Go values of fixed types
		opt.Log.Error("render openapi document", "err", err)
	}
	a.doc = append(doc, '\n')
	return a
}

// ServeHTTP serves /openapi.json, /api/v1/... and the Jaeger-compatible
// /api/... routes; other /api/ paths answer a JSON 404.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }

// OpenAPI returns the OpenAPI 3.1 document served at /openapi.json.
func (a *API) OpenAPI() []byte { return a.doc }

// route is one endpoint: it is mounted, its query checked and its
// documentation generated from this one entry.
type route struct {
	method, path string
	id           string // operationId
	tag          string
	summary      string
	description  string
	params       []param
	// strict: unknown query parameters are an error (REST API); the
	// Jaeger-compatible routes ignore them, as Jaeger does.
	strict bool
	jaeger bool // errors in Jaeger's envelope
	// response is a value of the 200 response's type, for the schema.
	response any
	errors   []int // documented error statuses besides 500
	handle   func(ctx context.Context, q query) (any, error)
}

func (a *API) table() []route {
	podParams := []param{
		{name: "namespace", desc: "namespace of the pod"},
		{name: "name", desc: "name of the pod"},
		{name: "kind", desc: "delivery kind", enum: kinds},
		{name: "outcome", desc: "outcome of the delivery", enum: outcomes},
		{name: "code", desc: "a diagnosis code the delivery carries"},
		{name: "owner", desc: "owner of a diagnosis finding the delivery carries", enum: owners},
		{name: "node", desc: "node the pod ran on"},
		{name: "cluster", desc: "cluster the delivery happened in"},
		{name: "since", desc: "deliveries created at or after this time (RFC 3339)", format: "date-time"},
		{name: "until", desc: "deliveries created before this time (RFC 3339)", format: "date-time"},
		{name: "limit", desc: "page size, 1 to 1000 (default 50)", typ: "integer"},
		{name: "cursor", desc: "the `next` of the previous page"},
	}
	window := []param{
		{name: "cluster", desc: "cluster the deliveries happened in"},
		{name: "namespace", desc: "namespace of the pods"},
		{name: "kind", desc: "delivery kind", enum: kinds},
		{name: "since", desc: "deliveries created at or after this time (RFC 3339)", format: "date-time"},
		{name: "until", desc: "deliveries created before this time (RFC 3339)", format: "date-time"},
		{name: "step", desc: "if set, also a time series with buckets of this width: a Go duration of at least 1s (5m, 1h), or auto (about 40 buckets over the window or the data)"},
	}
	uid := param{name: "uid", in: "path", required: true, desc: "the pod's metadata.uid"}
	podCluster := param{name: "cluster", desc: "cluster of the pod, if uids may repeat across clusters"}
	return []route{
		{
			method: "GET", path: "/openapi.json", id: "getOpenAPI", tag: "meta", strict: true,
			summary:  "This OpenAPI 3.1 document",
			response: map[string]any{},
			handle:   func(context.Context, query) (any, error) { return json.RawMessage(a.doc), nil },
		},
		{
			method: "GET", path: "/api/v1/pods", id: "listPods", tag: "pods", strict: true,
			summary:     "List deliveries, newest first",
			description: "Summaries of delivery records matching every given filter, newest first, one page at a time: pass `next` as `cursor` for the following page (`next` is null on the last page).",
			params:      podParams, response: Page{}, errors: []int{400},
			handle: a.listPods,
		},
		{
			method: "GET", path: "/api/v1/pods/{uid}", id: "getPod", tag: "pods", strict: true,
			summary:     "A pod's deliveries and their audit evidence",
			description: "Every delivery of the pod (create, delete, upgrades) as full records — phases, milestones, SLO verdict, diagnosis, linked spans, trace id — oldest first, and a summary of each audit event that proves something about the pod.",
			params:      []param{uid, podCluster}, response: Pod{}, errors: []int{400, 404},
			handle: a.getPod,
		},
		{
			method: "GET", path: "/api/v1/pods/{uid}/events", id: "getPodEvents", tag: "pods", strict: true,
			summary:     "The raw audit events of a pod",
			description: "The redacted audit events (about the pod, and about Events whose subject is the pod) that podtrace used for the pod, in time order, one page at a time: pass `next` as `cursor` for the following page (`next` is null on the last page).",
			params: []param{uid, podCluster,
				{name: "limit", desc: "page size, 1 to 1000 (default 500)", typ: "integer"},
				{name: "cursor", desc: "the `next` of the previous page"}},
			response: EventList{}, errors: []int{400, 404},
			handle: a.getPodEvents,
		},
		{
			method: "GET", path: "/api/v1/slo/summary", id: "getSLOSummary", tag: "summaries", strict: true,
			summary:     "SLO compliance and latency percentiles per group",
			description: "Counts, ratio of deliveries that met their SLO, and p50/p90/p99 of total, platform and user time, per group; with `step`, also per time bucket; and the slowest deliveries.",
			params:      append([]param{{name: "group_by", desc: "grouping (default namespace)", enum: []string{"namespace", "owner_kind", "node"}}}, window...),
			response:    SLOSummary{}, errors: []int{400},
			handle: a.sloSummary,
		},
		{
			method: "GET", path: "/api/v1/diagnoses/summary", id: "getDiagnosesSummary", tag: "summaries", strict: true,
			summary:     "Findings per code, phase and owner",
			description: "How many deliveries carry each diagnosis code, with example pods, and counts per phase and owner; with `step`, also per time bucket.",
			params:      window, response: DiagnosesSummary{}, errors: []int{400},
			handle: a.diagnosesSummary,
		},
		{
			method: "GET", path: "/api/services", id: "jaegerServices", tag: "jaeger", jaeger: true,
			summary:     "Jaeger: services",
			description: "The services of the delivery traces: `podtrace` (the deliveries) and the components whose spans are linked to them.",
			response:    JaegerServices{}, handle: a.jaegerServices,
		},
		{
			method: "GET", path: "/api/services/{service}/operations", id: "jaegerServiceOperations", tag: "jaeger", jaeger: true,
			summary:  "Jaeger: operation names of a service",
			params:   []param{{name: "service", in: "path", required: true, desc: "service name"}},
			response: JaegerServices{}, handle: a.jaegerServiceOperations,
		},
		{
			method: "GET", path: "/api/operations", id: "jaegerOperations", tag: "jaeger", jaeger: true,
			summary: "Jaeger: operations of a service, with span kinds",
			params: []param{
				{name: "service", required: true, desc: "service name"},
				{name: "spanKind", desc: "span kind (podtrace's spans are all internal)"},
			},
			response: JaegerOperations{}, errors: []int{400}, handle: a.jaegerOperations,
		},
		{
			method: "GET", path: "/api/traces", id: "jaegerFindTraces", tag: "jaeger", jaeger: true,
			summary:     "Jaeger: search traces",
			description: "Delivery traces with a span of `service` (and `operation`) carrying all `tags` and lasting between `minDuration` and `maxDuration`. The tags k8s.namespace.name, k8s.pod.name, k8s.pod.uid and k8s.node.name are answered from the store's index. With `traceID`, those traces, as /api/traces/{traceID} serves them.",
			params: []param{
				{name: "service", desc: "service name; required unless traceID is given"},
				{name: "operation", desc: "operation name"},
				{name: "tags", repeat: true, desc: `tags as a JSON object of strings ({"k8s.namespace.name":"demo"}) or key:value`},
				{name: "tag", repeat: true, desc: "a tag as key:value"},
				{name: "traceID", repeat: true, desc: "return these traces (hex ids) instead of searching"},
				{name: "start", desc: "earliest trace start, microseconds since the epoch (default: no bound)", typ: "integer"},
				{name: "end", desc: "latest trace start, microseconds since the epoch", typ: "integer"},
				{name: "lookback", desc: "ignored (Jaeger UI sends start and end with it)"},
				{name: "minDuration", desc: "shortest span duration (Go duration: 100ms, 1.5s)"},
				{name: "maxDuration", desc: "longest span duration (Go duration)"},
				{name: "limit", desc: "most traces to return (default 100, as Jaeger; at most 1000)", typ: "integer"},
			},
			response: JaegerTraces{}, errors: []int{400}, handle: a.jaegerFindTraces,
		},
		{
			method: "GET", path: "/api/traces/{traceID}", id: "jaegerGetTrace", tag: "jaeger", jaeger: true,
			summary:     "Jaeger: one trace by id",
			description: "A delivery's trace; or, for the trace id of a component span a delivery links (apiserver, kubelet, CRI: what the span metrics' exemplars carry), that component trace as Jaeger would serve it: the linked spans with that id, each a child of its own parent, with a FOLLOWS_FROM reference to the delivery span it hangs under in the delivery's trace.",
			params:      []param{{name: "traceID", in: "path", required: true, desc: "trace id, hex (up to 32 digits)"}},
			response:    JaegerTraces{}, errors: []int{400, 404}, handle: a.jaegerGetTrace,
		},
	}
}

// serve runs one route: parse and check the query, call the handler,
// write its value or its error.
func (a *API) serve(rt *route, w http.ResponseWriter, r *http.Request) {
	q, err := parseQuery(rt, r)
	if err == nil {
		var v any
		if v, err = rt.handle(r.Context(), q); err == nil {
			writeJSON(w, http.StatusOK, v)
			return
		}
	}
	a.writeError(w, r, err, rt.jaeger)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v) // a failed write means the client left
}

// Error codes of the REST API's error body.
const (
	CodeBadRequest       = "bad_request"
	CodeBadCursor        = "bad_cursor"
	CodeNotFound         = "not_found"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeUnavailable      = "unavailable"
	CodeInternal         = "internal"
)

var (
	errNoRoute = errors.New("no such endpoint")
	errMethod  = errors.New("method not allowed: the API is read-only (GET)")
)

// badRequest is an invalid parameter: its message is shown to the client.
type badRequest struct{ msg string }

func (e *badRequest) Error() string { return e.msg }

func badParam(name, format string, args ...any) error {
	return &badRequest{msg: "parameter " + name + ": " + fmt.Sprintf(format, args...)}
}

// status maps an error to its HTTP status, its code and the message a
// client may see. It is the only place errors become statuses.
func status(err error) (int, string, string) {
	var br *badRequest
	switch {
	case errors.As(err, &br):
		return http.StatusBadRequest, CodeBadRequest, br.msg
	case errors.Is(err, podtrace.ErrBadCursor):
		return http.StatusBadRequest, CodeBadCursor, "invalid cursor: pass the `next` of a previous page unchanged"
	case errors.Is(err, podtrace.ErrNotFound):
		return http.StatusNotFound, CodeNotFound, err.Error()
	case errors.Is(err, errNoRoute):
		return http.StatusNotFound, CodeNotFound, err.Error()
	case errors.Is(err, errMethod):
		return http.StatusMethodNotAllowed, CodeMethodNotAllowed, err.Error()
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, CodeUnavailable, "request cancelled or timed out"
	default:
		return http.StatusInternalServerError, CodeInternal, "internal error"
	}
}

// ErrorBody is the REST API's error response.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail says what went wrong: a stable code and a message for people.
type ErrorDetail struct {
	Code    string `json:"code" enum:"bad_request,bad_cursor,not_found,method_not_allowed,unavailable,internal"`
	Message string `json:"message"`
}

func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error, jaeger bool) {
	code, name, msg := status(err)
	if code == http.StatusInternalServerError {
		a.opt.Log.Error("api", "path", r.URL.Path, "err", err)
	}
	if jaeger || isJaegerPath(r.URL.Path) {
		writeJSON(w, code, JaegerTraces{Errors: []JaegerError{{Code: code, Msg: msg}}})
		return
	}
	writeJSON(w, code, ErrorBody{ErrorDetail{Code: name, Message: msg}})
}

func isJaegerPath(p string) bool {
	return strings.HasPrefix(p, "/api/traces") || strings.HasPrefix(p, "/api/services") || p == "/api/operations"
}
