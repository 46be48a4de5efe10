package server

import (
	"sort"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/podtrace/podtrace/ingest"
	"github.com/podtrace/podtrace/webhook"
)

// collector exposes the pipeline's and the webhook's counters. It reads
// their atomics at scrape time, so the hot paths carry no metric overhead.
type collector struct {
	p *ingest.Pipeline
	w *webhook.Handler

	events, rejected, requests, bytes, pipeline, queued, openPods, clockAhead, clock, held, heldDropped *prometheus.Desc
}

func newCollector(p *ingest.Pipeline, w *webhook.Handler) *collector {
	return &collector{
		p: p, w: w,
		events:   prometheus.NewDesc("podtrace_audit_events_total", "Audit events received, by result (relevant, skipped, malformed).", []string{"source", "result"}, nil),
		rejected: prometheus.NewDesc("podtrace_webhook_rejected_total", "Audit webhook requests rejected, by reason.", []string{"reason"}, nil),
		requests: prometheus.NewDesc("podtrace_webhook_requests_total", "Audit webhook requests received.", nil, nil),
		bytes:    prometheus.NewDesc("podtrace_webhook_received_bytes_total", "Audit webhook body bytes received.", nil, nil),
		pipeline: prometheus.NewDesc("podtrace_ingest_events_total", "Events through the ingest pipeline, by stage (journaled, duplicate, applied, unmatched, overloaded).", []string{"stage"}, nil),
		queued:   prometheus.NewDesc("podtrace_ingest_queued_events", "Events waiting to be journaled.", nil, nil),
		openPods: prometheus.NewDesc("podtrace_open_pods", "Pods held in memory.", nil, nil),
		clockAhead: prometheus.NewDesc("podtrace_event_clock_ahead_events_total",
			"Audit events stamped more than max_clock_step ahead of the event clock: applied to their pod, but moving the clock only once another event confirms their time.", nil, nil),
		clock: prometheus.NewDesc("podtrace_event_clock_seconds", "The event clock (latest confirmed audit event time) at the last save, unix seconds.", nil, nil),
		held:  prometheus.NewDesc("podtrace_held_events", "Audit events that name their pod only by name, held until a pod of that name is known, at the last save.", nil, nil),
		heldDropped: prometheus.NewDesc("podtrace_held_events_dropped_total",
			"Held audit events dropped, by reason: bound (10,000 held already) or expired (no pod of that name within idle_after of event time: one podtrace never saw created).", []string{"reason"}, nil),
	}
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.events, c.rejected, c.requests, c.bytes, c.pipeline, c.queued, c.openPods, c.clockAhead, c.clock, c.held, c.heldDropped} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	emit := func(d *prometheus.Desc, t prometheus.ValueType, v int64, labels ...string) {
		if m, err := prometheus.NewConstMetric(d, t, float64(v), labels...); err == nil {
			ch <- m
		}
	}
	counter := func(d *prometheus.Desc, v int64, labels ...string) { emit(d, prometheus.CounterValue, v, labels...) }
	ws := &c.w.Stats
	counter(c.requests, ws.Requests.Load())
	counter(c.bytes, ws.BytesReceived.Load())
	counter(c.events, ws.Relevant.Load(), "webhook", "relevant")
	counter(c.events, ws.Events.Load()-ws.Relevant.Load()-ws.Malformed.Load(), "webhook", "skipped")
	counter(c.events, ws.Malformed.Load(), "webhook", "malformed")
	rej := ws.Rejections()
	reasons := make([]string, 0, len(rej))
	for r := range rej {
		reasons = append(reasons, r)
	}
	sort.Strings(reasons)
	for _, r := range reasons {
		counter(c.rejected, rej[r], r)
	}
	ps := &c.p.Stats
	counter(c.pipeline, ps.Journaled.Load(), "journaled")
	counter(c.pipeline, ps.Duplicates.Load(), "duplicate")
	counter(c.pipeline, ps.Applied.Load(), "applied")
	counter(c.pipeline, ps.Unmatched.Load(), "unmatched")
	counter(c.pipeline, ps.Overloaded.Load(), "overloaded")
	emit(c.queued, prometheus.GaugeValue, ps.Queued.Load())
	emit(c.openPods, prometheus.GaugeValue, ps.OpenPods.Load())
	counter(c.clockAhead, ps.ClockAhead.Load())
	emit(c.held, prometheus.GaugeValue, ps.Held.Load())
	counter(c.heldDropped, ps.HeldDropped.Load(), "bound")
	counter(c.heldDropped, ps.HeldExpired.Load(), "expired")
	if n := ps.Clock.Load(); n > 0 {
		if m, err := prometheus.NewConstMetric(c.clock, prometheus.GaugeValue, float64(n)/1e9); err == nil {
			ch <- m
		}
	}
}
