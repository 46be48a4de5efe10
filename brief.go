package podtrace

import (
	"slices"
	"strings"
	"time"
)

// Brief is a delivery record in brief: its identity and the figures that
// lists and summaries aggregate, without phases, milestones, the findings'
// text and spans. Stores keep it beside the record, written when the record
// is saved, so that reading the briefs of many records never decodes them.
type Brief struct {
	Cluster   string
	Namespace string
	Name      string
	UID       string
	Kind      Kind
	Seq       int
	Outcome   Outcome
	Created   time.Time
	Finished  *time.Time
	End       time.Time // Record.End
	Node      string
	OwnerKind string
	OwnerName string
	// TotalSeconds, PlatformSeconds and UserSeconds are the SLO's figures
	// when the record has an SLO; else its Duration and the time of its
	// phases per owner.
	TotalSeconds    float64
	PlatformSeconds float64
	UserSeconds     float64
	Met             *bool          // the SLO verdict; nil without one
	Findings        []FindingBrief // in the record's order
	TraceID         string         // Record.TraceHex
}

// Key identifies the record of the brief.
func (b *Brief) Key() Key { return Key{b.Cluster, b.UID, b.Kind, b.Seq} }

// Clone returns a copy of b that shares nothing but strings with it.
func (b *Brief) Clone() *Brief {
	c := *b
	if b.Finished != nil {
		t := *b.Finished
		c.Finished = &t
	}
	if b.Met != nil {
		m := *b.Met
		c.Met = &m
	}
	c.Findings = slices.Clone(b.Findings)
	return &c
}

// FindingBrief is a finding without its message, evidence and remedy.
type FindingBrief struct {
	Code  string
	Phase string
	Owner Owner
}

// Brief returns the record in brief.
func (r *Record) Brief() Brief {
	b := Brief{
		Cluster: r.Cluster, Namespace: r.Namespace, Name: r.Name, UID: r.UID, Kind: r.Kind, Seq: r.Seq,
		Outcome: r.Outcome, Created: r.Created, Finished: r.Finished, End: r.End(),
		Node: r.Node, OwnerKind: r.OwnerKind, OwnerName: r.OwnerName,
		TotalSeconds: r.Duration().Seconds(), TraceID: r.TraceHex(),
	}
	b.PlatformSeconds, b.UserSeconds = r.OwnerSeconds()
	if r.SLO != nil {
		b.TotalSeconds, b.Met = r.SLO.TotalSeconds, r.SLO.Met
	}
	if len(r.Diagnosis) > 0 {
		b.Findings = make([]FindingBrief, len(r.Diagnosis))
		for i, f := range r.Diagnosis {
			b.Findings[i] = FindingBrief{Code: f.Code, Phase: f.Phase, Owner: f.Owner}
		}
	}
	return b
}

// End is when the delivery ended: Finished, or while it is open the latest
// time the record shows (a milestone or the end of a phase).
func (r *Record) End() time.Time {
	if r.Finished != nil {
		return *r.Finished
	}
	end := r.Created
	for _, m := range r.Milestones {
		if m.Time.After(end) {
			end = m.Time
		}
	}
	for _, p := range r.Phases {
		if p.End.After(end) {
			end = p.End
		}
	}
	return end
}

// OwnerSeconds is the record's time per owner: the SLO's figures when it
// has them, else the sum of its phases.
func (r *Record) OwnerSeconds() (platform, user float64) {
	if r.SLO != nil {
		return r.SLO.PlatformSeconds, r.SLO.UserSeconds
	}
	for _, p := range r.Phases {
		d := p.End.Sub(p.Start).Seconds()
		if p.Owner == OwnerUser {
			user += d
		} else {
			platform += d
		}
	}
	return platform, user
}

// SpanTraceIDs are the trace ids of the record's component spans (the
// apiserver's, kubelet's and runtime's own traces, not the delivery's),
// lower case, sorted, each once. Stores index them so that a component
// trace id leads to the deliveries that link its spans.
func (r *Record) SpanTraceIDs() []string {
	var ids []string
	for _, s := range r.Spans {
		if s.TraceID != "" {
			ids = append(ids, strings.ToLower(s.TraceID))
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}
