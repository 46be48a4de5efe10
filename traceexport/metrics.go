package traceexport

import "github.com/prometheus/client_golang/prometheus"

type descs struct{ deliveries, spans, queued *prometheus.Desc }

func newDescs() descs {
	return descs{
		deliveries: prometheus.NewDesc("podtrace_trace_export_deliveries_total", "Closed deliveries by export result (exported, dropped on a full queue).", []string{"result"}, nil),
		spans:      prometheus.NewDesc("podtrace_trace_export_spans_total", "Delivery trace spans by OTLP export result (sent, failed).", []string{"result"}, nil),
		queued:     prometheus.NewDesc("podtrace_trace_export_queued_deliveries", "Closed deliveries waiting to be exported.", nil, nil),
	}
}

// collector exposes an Exporter's counters, read at scrape time.
type collector struct {
	e *Exporter
	d descs
}

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.d.deliveries
	ch <- c.d.spans
	ch <- c.d.queued
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	emit := func(d *prometheus.Desc, t prometheus.ValueType, v int64, labels ...string) {
		if m, err := prometheus.NewConstMetric(d, t, float64(v), labels...); err == nil {
			ch <- m
		}
	}
	s := &c.e.Stats
	emit(c.d.deliveries, prometheus.CounterValue, s.Exported.Load(), "exported")
	emit(c.d.deliveries, prometheus.CounterValue, s.Dropped.Load(), "dropped")
	emit(c.d.spans, prometheus.CounterValue, s.SpansSent.Load(), "sent")
	emit(c.d.spans, prometheus.CounterValue, s.SpansFailed.Load(), "failed")
	emit(c.d.queued, prometheus.GaugeValue, s.Queued.Load())
}
