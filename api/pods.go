package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/podtrace/podtrace"
	"github.com/podtrace/podtrace/decode"
)

// Page is one page of delivery summaries.
type Page struct {
	Items []PodSummary `json:"items"`
	// Next is the cursor of the following page, null on the last page.
	Next *string `json:"next"`
}

// PodSummary is a delivery record without its phases and milestones: what
// a list shows.
type PodSummary struct {
	Cluster         string           `json:"cluster"`
	Namespace       string           `json:"namespace"`
	Name            string           `json:"name"`
	UID             string           `json:"uid"`
	Kind            podtrace.Kind    `json:"kind"`
	Seq             int              `json:"seq"`
	Outcome         podtrace.Outcome `json:"outcome"`
	Created         time.Time        `json:"created"`
	Finished        *time.Time       `json:"finished"`
	DurationSeconds float64          `json:"duration_seconds" doc:"until finished; while open, until the latest time the record shows"`
	PlatformSeconds float64          `json:"platform_seconds" doc:"time in phases owned by the platform"`
	UserSeconds     float64          `json:"user_seconds" doc:"time in phases owned by the user"`
	Node            string           `json:"node,omitempty"`
	OwnerKind       string           `json:"owner_kind,omitempty"`
	OwnerName       string           `json:"owner_name,omitempty"`
	SLOMet          *bool            `json:"slo_met" doc:"the SLO verdict; null when there is none (yet)"`
	Codes           []string         `json:"codes" doc:"diagnosis codes, in finding order"`
	TraceID         string           `json:"trace_id" doc:"the delivery trace's id (Jaeger-compatible API)"`
}

// summarize lists a delivery: a copy of its brief, sharing nothing it
// points to (Store.Briefs reuses them).
func summarize(b *podtrace.Brief) PodSummary {
	c := b.Clone()
	s := PodSummary{
		Cluster: c.Cluster, Namespace: c.Namespace, Name: c.Name, UID: c.UID,
		Kind: c.Kind, Seq: c.Seq, Outcome: c.Outcome, Created: c.Created, Finished: c.Finished,
		DurationSeconds: c.End.Sub(c.Created).Seconds(),
		PlatformSeconds: c.PlatformSeconds, UserSeconds: c.UserSeconds,
		Node: c.Node, OwnerKind: c.OwnerKind, OwnerName: c.OwnerName,
		SLOMet:  c.Met,
		Codes:   make([]string, 0, len(c.Findings)),
		TraceID: c.TraceID,
	}
	for _, f := range c.Findings {
		s.Codes = append(s.Codes, f.Code)
	}
	return s
}

func (a *API) listPods(ctx context.Context, q query) (any, error) {
	f, err := podFilter(q)
	if err != nil {
		return nil, err
	}
	recs, next, err := a.store.Records(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("list pods: %w", err)
	}
	p := Page{Items: make([]PodSummary, 0, len(recs))}
	for i := range recs {
		b := recs[i].Brief()
		p.Items = append(p.Items, summarize(&b))
	}
	if next != "" {
		p.Next = &next
	}
	return p, nil
}

// Pod is one pod: all its deliveries and the audit evidence behind them.
type Pod struct {
	Cluster    string            `json:"cluster"`
	Namespace  string            `json:"namespace"`
	Name       string            `json:"name"`
	UID        string            `json:"uid"`
	Deliveries []podtrace.Record `json:"deliveries" doc:"oldest first; trace_id is always set"`
	Evidence   []AuditEvidence   `json:"evidence" doc:"the audit events about the pod, in time order"`
}

// AuditEvidence summarizes one journaled audit event about a pod.
type AuditEvidence struct {
	AuditID  string    `json:"audit_id"`
	Stage    string    `json:"stage"`
	Time     time.Time `json:"time" doc:"stageTimestamp"`
	Verb     string    `json:"verb"`
	User     string    `json:"user"`
	Resource string    `json:"resource" doc:"resource[/subresource], e.g. pods/status or events"`
	Code     int       `json:"code" doc:"HTTP status of the request"`
	Summary  string    `json:"summary" doc:"what the event says about the pod, in one line"`
}

// deliveries returns every record of a pod, oldest first.
func (a *API) deliveries(ctx context.Context, q query) ([]podtrace.Record, error) {
	uid := q.get("uid")
	f := podtrace.RecordFilter{UID: uid, Cluster: q.get("cluster"), Limit: 1000}
	var out []podtrace.Record
	for {
		recs, next, err := a.store.Records(ctx, f)
		if err != nil {
			return nil, fmt.Errorf("records of pod %s: %w", uid, err)
		}
		out = append(out, recs...)
		if next == "" {
			break
		}
		f.Cursor = next
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("pod %s: %w", uid, podtrace.ErrNotFound)
	}
	sortDeliveries(out)
	return out, nil
}

// sortDeliveries orders a pod's records oldest first.
func sortDeliveries(rs []podtrace.Record) {
	sort.SliceStable(rs, func(i, j int) bool {
		if !rs[i].Created.Equal(rs[j].Created) {
			return rs[i].Created.Before(rs[j].Created)
		}
		if rs[i].Kind != rs[j].Kind {
			return kindOrder(rs[i].Kind) < kindOrder(rs[j].Kind)
		}
		return rs[i].Seq < rs[j].Seq
	})
}

func kindOrder(k podtrace.Kind) int {
	switch k {
	case podtrace.KindCreate:
		return 0
	case podtrace.KindUpgrade:
		return 1
	default:
		return 2
	}
}

func (a *API) getPod(ctx context.Context, q query) (any, error) {
	recs, err := a.deliveries(ctx, q)
	if err != nil {
		return nil, err
	}
	last := recs[len(recs)-1]
	p := Pod{Cluster: last.Cluster, Namespace: last.Namespace, Name: last.Name, UID: last.UID,
		Deliveries: recs, Evidence: []AuditEvidence{}}
	for i := range recs {
		Normalize(&recs[i])
	}
	evs, err := a.store.PodEvents(ctx, last.Cluster, last.UID, podtrace.EventPage{})
	if err != nil && !errors.Is(err, podtrace.ErrNotFound) {
		return nil, fmt.Errorf("events of pod %s: %w", last.UID, err)
	}
	var dec decode.Decoder
	for _, je := range evs {
		p.Evidence = append(p.Evidence, evidence(&dec, je))
	}
	return p, nil
}

// Normalize makes a stored record's JSON match the documented schema:
// slices are arrays, never null, and the trace id is set.
func Normalize(r *podtrace.Record) {
	tid := r.TraceHex()
	r.TraceID = &tid
	if r.Phases == nil {
		r.Phases = []podtrace.Phase{}
	}
	if r.Milestones == nil {
		r.Milestones = []podtrace.Milestone{}
	}
	if r.Diagnosis == nil {
		r.Diagnosis = []podtrace.Finding{}
	}
	for i := range r.Diagnosis {
		if r.Diagnosis[i].Evidence == nil {
			r.Diagnosis[i].Evidence = []podtrace.Evidence{}
		}
	}
}

// evidence summarizes a journaled event. A body the decoder cannot read
// still yields its key and time.
func evidence(dec *decode.Decoder, je podtrace.JournalEvent) AuditEvidence {
	id, stage, _ := strings.Cut(je.Key, "/")
	e := AuditEvidence{AuditID: id, Stage: stage, Time: je.Time, Summary: "(event not readable)"}
	dec.Decode(je.Body, func(ev *decode.Event) {
		e.Verb, e.User, e.Code = ev.Verb, ev.User, ev.Code
		e.Resource = ev.Ref.Resource
		if ev.Ref.Subresource != "" {
			e.Resource += "/" + ev.Ref.Subresource
		}
		e.Summary = describe(ev)
	})
	return e
}

// describe says in one line what an audit event shows about its pod.
func describe(ev *decode.Event) string {
	var b strings.Builder
	switch {
	case ev.Event != nil:
		pe := ev.Event
		fmt.Fprintf(&b, "%s %s", orDash(pe.Type), orDash(pe.Reason))
		if pe.Count > 1 {
			fmt.Fprintf(&b, " (x%d)", pe.Count)
		}
		if pe.Message != "" {
			b.WriteString(": " + pe.Message)
		}
		if pe.Component != "" {
			b.WriteString(" [" + pe.Component + "]")
		}
	case ev.Binding != "":
		fmt.Fprintf(&b, "bound to node %s", ev.Binding)
	default:
		fmt.Fprintf(&b, "%s %s", ev.Verb, ev.Ref.Resource)
		if ev.Ref.Subresource != "" {
			b.WriteString("/" + ev.Ref.Subresource)
		}
		if pod := ev.Pod; pod != nil && pod.HasStatus && ev.Ref.Subresource == "status" {
			st := &pod.Status
			if st.Phase != "" {
				b.WriteString(": phase " + st.Phase)
			}
			for _, c := range st.Conditions {
				if c.Status != "True" {
					fmt.Fprintf(&b, ", %s=%s", c.Type, c.Status)
					if c.Reason != "" {
						b.WriteString(" " + c.Reason)
					}
				}
			}
			if st.PodIP != "" {
				b.WriteString(", IP " + st.PodIP)
			}
		}
		if ev.Code >= 400 && ev.Status != "" {
			fmt.Fprintf(&b, " → %d %s", ev.Code, ev.Status)
		} else if ev.Code != 0 {
			fmt.Fprintf(&b, " → %d", ev.Code)
		}
	}
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// EventList is a page of a pod's raw (redacted) audit events.
type EventList struct {
	Items []JournalItem `json:"items"`
	// Next is the cursor of the following page, null on the last page.
	Next *string `json:"next"`
}

// JournalItem is one journaled audit event.
type JournalItem struct {
	Seq  int64     `json:"seq" doc:"position in podtrace's journal"`
	Key  string    `json:"key" doc:"auditID/stage"`
	Time time.Time `json:"time"`
	UID  string    `json:"uid,omitempty" doc:"set when the event named the pod by uid"`
	// Event is the audit.k8s.io/v1 Event, redacted: env values, Secret
	// data, last-applied-configuration and managedFields are removed.
	Event json.RawMessage `json:"event" doc:"the audit.k8s.io/v1 Event, redacted (no env values, Secret data, last-applied-configuration, managedFields)"`
}

func (a *API) getPodEvents(ctx context.Context, q query) (any, error) {
	uid := q.get("uid")
	cluster := q.get("cluster")
	limit, err := q.int("limit", 500, 1, 1000)
	if err != nil {
		return nil, err
	}
	page, err := eventPage(q.get("cursor"))
	if err != nil {
		return nil, err
	}
	page.Limit = limit + 1 // one more tells whether a page follows
	if cluster == "" {
		// the cluster of the pod's latest delivery
		recs, _, err := a.store.Records(ctx, podtrace.RecordFilter{UID: uid, Limit: 1})
		if err != nil {
			return nil, fmt.Errorf("records of pod %s: %w", uid, err)
		}
		if len(recs) == 0 {
			return nil, fmt.Errorf("pod %s: %w", uid, podtrace.ErrNotFound)
		}
		cluster = recs[0].Cluster
	}
	evs, err := a.store.PodEvents(ctx, cluster, uid, page)
	if err != nil {
		return nil, fmt.Errorf("events of pod %s: %w", uid, err)
	}
	l := EventList{Items: make([]JournalItem, 0, min(len(evs), limit))}
	if len(evs) > limit {
		evs = evs[:limit]
		last := evs[limit-1]
		next := fmt.Sprintf("%d.%d", last.Time.UnixNano(), last.Seq)
		l.Next = &next
	}
	for _, e := range evs {
		body := json.RawMessage(e.Body)
		if !json.Valid(body) {
			body = json.RawMessage("{}")
		}
		l.Items = append(l.Items, JournalItem{Seq: e.Seq, Key: e.Key, Time: e.Time, UID: e.UID, Event: body})
	}
	return l, nil
}

// eventPage reads a cursor of getPodEvents: the time (unix ns) and seq of
// the last event of the previous page.
func eventPage(cursor string) (podtrace.EventPage, error) {
	if cursor == "" {
		return podtrace.EventPage{}, nil
	}
	t, s, ok := strings.Cut(cursor, ".")
	after, terr := strconv.ParseInt(t, 10, 64)
	seq, serr := strconv.ParseInt(s, 10, 64)
	if !ok || terr != nil || serr != nil || seq <= 0 {
		return podtrace.EventPage{}, fmt.Errorf("cursor: %w", podtrace.ErrBadCursor)
	}
	return podtrace.EventPage{After: after, AfterSeq: seq}, nil
}
