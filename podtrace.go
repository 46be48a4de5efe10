// Package podtrace holds the domain of podtrace: the delivery record that the
// pipeline builds for every pod delivery, and the small interfaces through which
// the pipeline's stages hand data along (sources → decode → lifecycle →
// analyses → sinks → api/ui). Subpackages are named after what they hold or
// depend on (decode, lifecycle, sqlite, webhook, ...); this package depends on
// none of them.
package podtrace

import (
	"encoding/hex"
	"time"
)

// Kind says which delivery a record describes.
type Kind string

// Delivery kinds.
const (
	KindCreate  Kind = "create"  // from the create request until the pod is Ready (or ran to completion)
	KindDelete  Kind = "delete"  // from the delete (or eviction) request until the pod is gone
	KindUpgrade Kind = "upgrade" // an in-place change of a running pod's container images
)

// Outcome is where a delivery ended, or "pending"/"running" while it is open.
type Outcome string

// Outcomes.
const (
	OutcomePending   Outcome = "pending"
	OutcomeRunning   Outcome = "running"
	OutcomeReady     Outcome = "ready"
	OutcomeSucceeded Outcome = "succeeded"
	OutcomeFailed    Outcome = "failed"
	OutcomeDeleted   Outcome = "deleted"
	OutcomeEvicted   Outcome = "evicted"
)

// Kinds are the delivery kinds, in the order they are documented.
func Kinds() []Kind { return []Kind{KindCreate, KindDelete, KindUpgrade} }

// Outcomes are the outcomes, in the order they are documented.
func Outcomes() []Outcome {
	return []Outcome{OutcomePending, OutcomeRunning, OutcomeReady, OutcomeSucceeded, OutcomeFailed, OutcomeDeleted, OutcomeEvicted}
}

// Open reports whether a delivery with this outcome may still change.
func (o Outcome) Open() bool { return o == OutcomePending || o == OutcomeRunning }

// Owner says who a span of time or a finding is attributed to.
type Owner string

// Owners.
const (
	OwnerPlatform Owner = "platform"
	OwnerUser     Owner = "user"
)

// Phase names, in delivery order.
const (
	PhaseAdmission   = "admission"
	PhaseScheduling  = "scheduling"
	PhaseVolumes     = "volumes"
	PhaseSandbox     = "sandbox"
	PhaseImage       = "image"
	PhaseContainers  = "containers"
	PhaseReadiness   = "readiness"
	PhaseTermination = "termination"
)

// Record is one pod delivery: the unit podtrace stores, analyses and serves.
// Its JSON form is part of podtrace's API.
type Record struct {
	Cluster    string      `json:"cluster"`
	Namespace  string      `json:"namespace"`
	Name       string      `json:"name"`
	UID        string      `json:"uid"`
	Kind       Kind        `json:"kind"`
	Seq        int         `json:"seq"` // nth delivery of this kind for the pod, from 0
	Outcome    Outcome     `json:"outcome"`
	Created    time.Time   `json:"created"`
	Finished   *time.Time  `json:"finished"`
	Node       string      `json:"node,omitempty"`
	OwnerKind  string      `json:"owner_kind,omitempty"`
	OwnerName  string      `json:"owner_name,omitempty"`
	Phases     []Phase     `json:"phases"`
	Milestones []Milestone `json:"milestones"`
	SLO        *SLO        `json:"slo"`
	Diagnosis  []Finding   `json:"diagnosis"`
	TraceID    *string     `json:"trace_id"`
	Spans      []Span      `json:"spans,omitempty"`
}

// Key identifies a record: one pod (uid) has one create delivery, at most one
// delete delivery and any number of upgrade deliveries.
type Key struct {
	Cluster string
	UID     string
	Kind    Kind
	Seq     int
}

// Key returns the record's identity.
func (r *Record) Key() Key { return Key{r.Cluster, r.UID, r.Kind, r.Seq} }

// Duration is the delivery's length so far: until Finished, or until the last
// milestone while it is open.
func (r *Record) Duration() time.Duration {
	end := r.Created
	if r.Finished != nil {
		end = *r.Finished
	} else if n := len(r.Milestones); n > 0 {
		end = r.Milestones[n-1].Time
	}
	return end.Sub(r.Created)
}

// Phase is a span of a delivery attributed to one owner.
type Phase struct {
	Name  string    `json:"name"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	Owner Owner     `json:"owner"`
}

// Milestone is a point in a delivery proven by one audit event.
type Milestone struct {
	Name    string    `json:"name"`
	Time    time.Time `json:"time"`
	AuditID string    `json:"audit_id"`
}

// Finding explains why a delivery failed, is stuck or was slow.
type Finding struct {
	Code     string     `json:"code"`
	Phase    string     `json:"phase"`
	Owner    Owner      `json:"owner"`
	Message  string     `json:"message"`
	Evidence []Evidence `json:"evidence"`
	Remedy   string     `json:"remedy"`
}

// Evidence quotes the audit event or Event that proves a finding.
type Evidence struct {
	AuditID string    `json:"audit_id"`
	Time    time.Time `json:"time"`
	Text    string    `json:"text"`
}

// SLO is a delivery's verdict against its target.
type SLO struct {
	TargetSeconds   float64 `json:"target_seconds"`
	TotalSeconds    float64 `json:"total_seconds"`
	PlatformSeconds float64 `json:"platform_seconds"`
	UserSeconds     float64 `json:"user_seconds"`
	Met             *bool   `json:"met"`
	Rule            string  `json:"rule"`
}

// Span is a component span (apiserver, kubelet, CRI runtime) linked to a delivery.
type Span struct {
	Service string    `json:"service"`
	Name    string    `json:"name"`
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	Status  string    `json:"status"`
	TraceID string    `json:"trace_id"`
	SpanID  string    `json:"span_id"`
	Parent  string    `json:"parent_span_id,omitempty"`
}

// TraceID is the OpenTelemetry trace id of a delivery (cluster, pod uid,
// kind, seq): DeliveryTraceID of its Key, so replaying captures and
// receiving them live give the same id, and the trace exporter and the trace
// API name the same trace without storing anything.
func TraceID(cluster, uid string, kind Kind, seq int) [16]byte {
	return DeliveryTraceID(Key{Cluster: cluster, UID: uid, Kind: kind, Seq: seq})
}

// TraceIDHex is TraceID as 32 lowercase hex digits, the form OTLP/JSON,
// W3C traceparent and Jaeger use.
func TraceIDHex(cluster, uid string, kind Kind, seq int) string {
	id := TraceID(cluster, uid, kind, seq)
	return hex.EncodeToString(id[:])
}
