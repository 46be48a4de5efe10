package correlate

import (
	"time"

	"github.com/podtrace/podtrace"
	"github.com/podtrace/podtrace/lifecycle"
)

// fill sets each record's trace id and the pod's spans that belong to it:
// an apiserver request to every delivery with a milestone its audit event
// proved; any other span to the delivery whose time window holds the start
// of its trace's pod span (a CRI call goes where its syncPod goes), or its
// own start. A span outside every window stays with the pod only.
func fill(p *lifecycle.Pod, recs []podtrace.Record) {
	for i := range recs {
		r := &recs[i]
		id := podtrace.TraceIDHex(r.Cluster, r.UID, r.Kind, r.Seq)
		r.TraceID = &id
		r.Spans = nil
	}
	if len(p.Spans) == 0 {
		return
	}
	// the start of the first span naming the pod in each trace
	anchor := map[string]int64{}
	for i := range p.Spans {
		s := &p.Spans[i]
		if s.AuditID == "" && s.Parent == "" {
			if t, ok := anchor[s.TraceID]; !ok || s.Start < t {
				anchor[s.TraceID] = s.Start
			}
		}
	}
	for i := range p.Spans {
		s := &p.Spans[i]
		if s.AuditID != "" && byMilestone(recs, s) {
			continue
		}
		t, ok := anchor[s.TraceID]
		if !ok || s.AuditID != "" {
			t = s.Start
		}
		if r := window(recs, time.Unix(0, t)); r != nil {
			r.Spans = append(r.Spans, span(s))
		}
	}
}

// byMilestone adds s to the records with a milestone proven by its audit
// event and reports whether there was one.
func byMilestone(recs []podtrace.Record, s *lifecycle.SpanRef) bool {
	found := false
	for i := range recs {
		for _, m := range recs[i].Milestones {
			if m.AuditID == s.AuditID {
				recs[i].Spans = append(recs[i].Spans, span(s))
				found = true
				break
			}
		}
	}
	return found
}

// window is the latest-created record whose delivery was under way at t.
func window(recs []podtrace.Record, t time.Time) *podtrace.Record {
	var best *podtrace.Record
	for i := range recs {
		r := &recs[i]
		if t.Before(r.Created) || (r.Finished != nil && t.After(*r.Finished)) {
			continue
		}
		if best == nil || r.Created.After(best.Created) {
			best = r
		}
	}
	return best
}

func span(s *lifecycle.SpanRef) podtrace.Span {
	status := s.Status
	if status == "" {
		status = "unset"
	}
	return podtrace.Span{
		Service: s.Service, Name: s.Name,
		Start: time.Unix(0, s.Start).UTC(), End: time.Unix(0, s.End).UTC(),
		Status: status, TraceID: s.TraceID, SpanID: s.SpanID, Parent: s.Parent,
	}
}
