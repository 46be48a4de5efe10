package deliverymetrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/podtrace/podtrace"
	"github.com/podtrace/podtrace/lifecycle"
	"github.com/podtrace/podtrace/slo"
)

// Config bounds the namespace label.
type Config struct {
	// Namespaces, when set, are the only namespaces with their own label
	// value; every other is "other".
	Namespaces []string `yaml:"namespaces"`
	// MaxNamespaces is, without an allow-list, how many namespaces (the
	// first seen) get their own label value. Default 50.
	MaxNamespaces int `yaml:"max_namespaces"`
}

// OtherNamespace is the label value of namespaces beyond the bound.
const OtherNamespace = "other"

// Recorder is a prometheus.Collector of delivery metrics. It is safe for
// concurrent use.
type Recorder struct {
	delivery, phase, sli *prometheus.HistogramVec
	slo, diagnosis       *prometheus.CounterVec

	mu         sync.Mutex
	allowed    map[string]bool
	namespaces map[string]bool // seen, within the bound
	max        int
}

// deliveryBuckets, in seconds: deliveries take from under a second to many minutes.
func deliveryBuckets() []float64 {
	return []float64{0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 90, 120, 180, 300, 600, 1200}
}

// New returns a Recorder registered with reg.
func New(reg prometheus.Registerer, cfg Config) (*Recorder, error) {
	if cfg.MaxNamespaces <= 0 {
		cfg.MaxNamespaces = 50
	}
	r := &Recorder{
		delivery: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "podtrace_pod_delivery_duration_seconds", Help: "Length of closed pod deliveries, from request to ready (create), gone (delete) or ready on the new images (upgrade).",
			Buckets: deliveryBuckets(),
		}, []string{"kind", "outcome", "namespace"}),
		phase: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "podtrace_pod_phase_duration_seconds", Help: "Length of the phases of closed pod deliveries, by the owner the diagnosis attributes them to.",
			Buckets: deliveryBuckets(),
		}, []string{"phase", "owner"}),
		sli: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "podtrace_pod_startup_sli_duration_seconds", Help: "Pod startup latency SLI (creation to all containers started, excluding image pulls and init containers, stateless pods), comparable with kubelet_pod_start_sli_duration_seconds.",
			Buckets: []float64{0.5, 1, 2, 3, 4, 5, 6, 8, 10, 20, 30, 45, 60, 120},
		}, nil),
		slo: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "podtrace_slo_deliveries_total", Help: "Closed deliveries with a decided SLO verdict.",
		}, []string{"kind", "result"}),
		diagnosis: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "podtrace_diagnosis_total", Help: "Findings of closed deliveries, by code.",
		}, []string{"code", "phase", "owner"}),
		namespaces: make(map[string]bool),
		max:        cfg.MaxNamespaces,
	}
	if len(cfg.Namespaces) > 0 {
		r.allowed = make(map[string]bool, len(cfg.Namespaces))
		for _, ns := range cfg.Namespaces {
			r.allowed[ns] = true
		}
	}
	if err := reg.Register(r); err != nil {
		return nil, err
	}
	return r, nil
}

// Describe implements prometheus.Collector.
func (r *Recorder) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range r.collectors() {
		c.Describe(ch)
	}
}

// Collect implements prometheus.Collector.
func (r *Recorder) Collect(ch chan<- prometheus.Metric) {
	for _, c := range r.collectors() {
		c.Collect(ch)
	}
}

func (r *Recorder) collectors() []prometheus.Collector {
	return []prometheus.Collector{r.delivery, r.phase, r.sli, r.slo, r.diagnosis}
}

// Observe records one closed delivery of pod p. rec must carry its
// Diagnosis and SLO already. Call it once per delivery (see the package doc).
func (r *Recorder) Observe(p *lifecycle.Pod, rec *podtrace.Record) {
	var ex prometheus.Labels
	if rec.TraceID != nil && *rec.TraceID != "" {
		ex = prometheus.Labels{"trace_id": *rec.TraceID}
	}
	kind := string(rec.Kind)
	observe(r.delivery.WithLabelValues(kind, string(rec.Outcome), r.namespace(rec.Namespace)), rec.Duration().Seconds(), ex)
	for _, ph := range slo.Attribute(rec) {
		observe(r.phase.WithLabelValues(ph.Name, string(ph.Owner)), ph.End.Sub(ph.Start).Seconds(), ex)
	}
	if p != nil {
		if s, ok := slo.StartupSLI(p, rec); ok {
			observe(r.sli.WithLabelValues(), s, ex)
		}
	}
	if rec.SLO != nil && rec.SLO.Met != nil {
		result := "violated"
		if *rec.SLO.Met {
			result = "met"
		}
		add(r.slo.WithLabelValues(kind, result), ex)
	}
	for _, f := range rec.Diagnosis {
		add(r.diagnosis.WithLabelValues(f.Code, f.Phase, string(f.Owner)), ex)
	}
}

func observe(o prometheus.Observer, v float64, ex prometheus.Labels) {
	if eo, ok := o.(prometheus.ExemplarObserver); ok && ex != nil {
		eo.ObserveWithExemplar(v, ex)
		return
	}
	o.Observe(v)
}

func add(c prometheus.Counter, ex prometheus.Labels) {
	if ea, ok := c.(prometheus.ExemplarAdder); ok && ex != nil {
		ea.AddWithExemplar(1, ex)
		return
	}
	c.Inc()
}

// namespace bounds the namespace label.
func (r *Recorder) namespace(ns string) string {
	if r.allowed != nil {
		if r.allowed[ns] {
			return ns
		}
		return OtherNamespace
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.namespaces[ns] {
		return ns
	}
	if len(r.namespaces) < r.max {
		r.namespaces[ns] = true
		return ns
	}
	return OtherNamespace
}
