package correlate

import (
	"encoding/hex"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/podtrace/podtrace/otlp"
)

// Label bounds: a cluster's API surface is finite but CRDs make it open, so
// distinct resources and subresources are capped and the rest are "other".
const (
	maxResources    = 256
	maxSubresources = 64
)

// Metrics are the golden signals derived from component spans, each with
// the span as exemplar (trace_id, span_id), and the Joiner's counters.
type Metrics struct {
	requests     *prometheus.CounterVec
	requestTime  *prometheus.HistogramVec
	syncs        *prometheus.CounterVec
	syncTime     prometheus.Histogram
	criTime      *prometheus.HistogramVec
	mu           sync.Mutex
	resources    map[string]bool
	subresources map[string]bool
}

// NewMetrics creates the span metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "podtrace_apiserver_requests_total",
			Help: "kube-apiserver requests seen as spans, by verb, resource, subresource and HTTP code.",
		}, []string{"verb", "resource", "subresource", "code"}),
		requestTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "podtrace_apiserver_request_duration_seconds",
			Help:    "kube-apiserver request latency seen as spans, by verb, resource and scope.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"verb", "resource", "scope"}),
		syncs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "podtrace_kubelet_sync_pod_total",
			Help: "kubelet syncPod spans, by result (success, error).",
		}, []string{"result"}),
		syncTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "podtrace_kubelet_sync_pod_duration_seconds",
			Help:    "kubelet syncPod duration.",
			Buckets: []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120},
		}),
		criTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "podtrace_cri_operation_duration_seconds",
			Help:    "CRI calls made by the kubelet, by operation and result (success, error).",
			Buckets: []float64{.001, .005, .01, .05, .1, .5, 1, 5, 10, 30, 60, 120, 300},
		}, []string{"operation", "result"}),
		resources:    map[string]bool{},
		subresources: map[string]bool{},
	}
	for _, c := range []prometheus.Collector{m.requests, m.requestTime, m.syncs, m.syncTime, m.criTime} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// observe feeds one span to the metrics it belongs to.
func (m *Metrics) observe(sp *otlp.Span, req *request) {
	secs := float64(int64(sp.End-sp.Start)) / 1e9
	if sp.End < sp.Start {
		secs = 0
	}
	switch {
	case len(sp.Attrs.AuditID) > 0 && len(sp.Attrs.Method) > 0 && sp.Kind == otlp.KindServer:
		resource, sub := m.bound(req.resource, req.subresource)
		code := "other"
		if c := sp.Attrs.HTTPStatus; c >= 100 && c < 600 {
			code = strconv.FormatInt(c, 10)
		}
		ex := exemplar(sp)
		addWithExemplar(m.requests.WithLabelValues(req.verb, resource, sub, code), ex)
		observeWithExemplar(m.requestTime.WithLabelValues(req.verb, resource, req.scope), secs, ex)
	case string(sp.Name) == "syncPod":
		result := "success"
		if sp.Status == otlp.StatusError {
			result = "error"
		}
		ex := exemplar(sp)
		addWithExemplar(m.syncs.WithLabelValues(result), ex)
		observeWithExemplar(m.syncTime, secs, ex)
	case string(sp.Service) == "kubelet" && sp.Kind == otlp.KindClient:
		op := criOperation(sp.Name)
		if len(op) == len(sp.Name) { // not a gRPC method name: not a CRI call
			return
		}
		operation, _, ok := criOp(op)
		if !ok {
			operation = "other"
		}
		result := "success"
		if sp.Status == otlp.StatusError || sp.Attrs.RPCStatus > 0 {
			result = "error"
		}
		observeWithExemplar(m.criTime.WithLabelValues(operation, result), secs, exemplar(sp))
	}
}

// bound caps the distinct resource and subresource label values.
func (m *Metrics) bound(resource, sub string) (string, string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return boundLabel(m.resources, resource, maxResources), boundLabel(m.subresources, sub, maxSubresources)
}

func boundLabel(seen map[string]bool, v string, limit int) string {
	if v == "" || seen[v] {
		return v
	}
	if len(seen) >= limit || len(v) > 63 {
		return "other"
	}
	seen[v] = true
	return v
}

func exemplar(sp *otlp.Span) prometheus.Labels {
	return prometheus.Labels{"trace_id": hex.EncodeToString(sp.TraceID[:]), "span_id": hex.EncodeToString(sp.SpanID[:])}
}

func addWithExemplar(c prometheus.Counter, ex prometheus.Labels) {
	if ea, ok := c.(prometheus.ExemplarAdder); ok {
		ea.AddWithExemplar(1, ex)
		return
	}
	c.Inc()
}

func observeWithExemplar(o prometheus.Observer, v float64, ex prometheus.Labels) {
	if eo, ok := o.(prometheus.ExemplarObserver); ok {
		eo.ObserveWithExemplar(v, ex)
		return
	}
	o.Observe(v)
}

// statsCollector exposes a Joiner's counters, read at scrape time.
type statsCollector struct {
	j           *Joiner
	spans, held *prometheus.Desc
}

func newStatsCollector(j *Joiner) statsCollector {
	return statsCollector{j: j,
		spans: prometheus.NewDesc("podtrace_component_spans_total",
			"Component spans by what became of them: noise (joins no delivery), joined, not_kept (duplicate or over the per-pod bound), unmatched (held too long), dropped (held over the bound), overloaded (refused).",
			[]string{"result"}, nil),
		held: prometheus.NewDesc("podtrace_component_spans_held", "Component spans held for a pod, audit event or trace not seen yet.", nil, nil),
	}
}

func (c statsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.spans; ch <- c.held }

func (c statsCollector) Collect(ch chan<- prometheus.Metric) {
	s := &c.j.Stats
	for _, v := range []struct {
		result string
		n      int64
	}{{"noise", s.Noise.Load()}, {"joined", s.Joined.Load()}, {"not_kept", s.NotKept.Load()},
		{"unmatched", s.Unmatched.Load()}, {"dropped", s.Dropped.Load()}, {"overloaded", s.Overloaded.Load()}} {
		if m, err := prometheus.NewConstMetric(c.spans, prometheus.CounterValue, float64(v.n), v.result); err == nil {
			ch <- m
		}
	}
	if m, err := prometheus.NewConstMetric(c.held, prometheus.GaugeValue, float64(s.Held.Load())); err == nil {
		ch <- m
	}
}
