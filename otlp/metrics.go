package otlp

import "github.com/prometheus/client_golang/prometheus"

// collector exposes a Receiver's and a Forwarder's counters, read at scrape
// time so the request path carries no metric work.
type collector struct {
	r *Receiver
	f *Forwarder

	requests, bytes, spans, refused, forwarded, sampledOut *prometheus.Desc
}

// NewCollector returns a Prometheus collector of r's and f's counters (f may
// be nil).
func NewCollector(r *Receiver, f *Forwarder) prometheus.Collector {
	return &collector{
		r: r, f: f,
		requests:   prometheus.NewDesc("podtrace_otlp_requests_total", "OTLP trace export requests received, by transport.", []string{"transport"}, nil),
		bytes:      prometheus.NewDesc("podtrace_otlp_received_bytes_total", "OTLP request bytes decoded (after decompression).", nil, nil),
		spans:      prometheus.NewDesc("podtrace_otlp_spans_total", "Spans received over OTLP, by result (accepted, rejected for invalid ids).", []string{"result"}, nil),
		refused:    prometheus.NewDesc("podtrace_otlp_refused_requests_total", "OTLP requests refused, by reason.", []string{"reason"}, nil),
		forwarded:  prometheus.NewDesc("podtrace_otlp_forward_requests_total", "OTLP requests forwarded downstream, by result (sent, dropped on a full queue, failed).", []string{"result"}, nil),
		sampledOut: prometheus.NewDesc("podtrace_otlp_forward_sampled_out_spans_total", "Spans not forwarded because their trace was not sampled.", nil, nil),
	}
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.requests, c.bytes, c.spans, c.refused, c.forwarded, c.sampledOut} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		if m, err := prometheus.NewConstMetric(d, prometheus.CounterValue, float64(v), labels...); err == nil {
			ch <- m
		}
	}
	s := &c.r.Stats
	counter(c.requests, s.Requests[TransportHTTP].Load(), "http")
	counter(c.requests, s.Requests[TransportGRPC].Load(), "grpc")
	counter(c.bytes, s.Bytes.Load())
	counter(c.spans, s.Spans.Load(), "accepted")
	counter(c.spans, s.Rejected.Load(), "rejected")
	for i := range s.Failures {
		counter(c.refused, s.Failures[i].Load(), failures[i].name)
	}
	if c.f == nil {
		return
	}
	fs := &c.f.Stats
	counter(c.forwarded, fs.Sent.Load(), "sent")
	counter(c.forwarded, fs.Dropped.Load(), "dropped")
	counter(c.forwarded, fs.Failed.Load(), "failed")
	counter(c.sampledOut, fs.SampledOut.Load())
}
