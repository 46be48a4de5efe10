package api

import (
	"cmp"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/podtrace/podtrace"
)

// The Jaeger-compatible query API: the subset of Jaeger's HTTP query API
// (/api/services, /api/operations, /api/traces) that Jaeger UI and Grafana's
// Jaeger data source use, in Jaeger's JSON format. Every delivery record is
// one trace: a root span "pod <kind> <namespace>/<name>" of service
// podtrace, one child span per phase, milestones and findings as logs, and
// the component spans (apiserver, kubelet, CRI) linked to the record.
//
// A component span's own trace id (the one an exemplar of the span metrics
// carries) is served too, as Jaeger fed those spans would serve it: the
// linked spans of that trace, each a child of its own parent, with a
// FOLLOWS_FROM reference to the delivery span it hangs under in the
// delivery's trace, to go from the request to the delivery.

// ServicePodtrace is the service of podtrace's own spans.
const ServicePodtrace = "podtrace"

// recentTraces is how many of the newest deliveries the service and
// operation lists are drawn from.
const recentTraces = 1000

// JaegerTraces is Jaeger's response envelope with traces.
type JaegerTraces struct {
	Data   []JaegerTrace `json:"data" null:"true"`
	Total  int           `json:"total"`
	Limit  int           `json:"limit"`
	Offset int           `json:"offset"`
	Errors []JaegerError `json:"errors" null:"true"`
}

// JaegerServices is Jaeger's response envelope with names.
type JaegerServices struct {
	Data   []string      `json:"data" null:"true"`
	Total  int           `json:"total"`
	Limit  int           `json:"limit"`
	Offset int           `json:"offset"`
	Errors []JaegerError `json:"errors" null:"true"`
}

// JaegerOperations is Jaeger's response envelope with operations.
type JaegerOperations struct {
	Data   []JaegerOperation `json:"data" null:"true"`
	Total  int               `json:"total"`
	Limit  int               `json:"limit"`
	Offset int               `json:"offset"`
	Errors []JaegerError     `json:"errors" null:"true"`
}

// JaegerError is one error of a Jaeger response.
type JaegerError struct {
	Code    int    `json:"code,omitempty"`
	Msg     string `json:"msg"`
	TraceID string `json:"traceID,omitempty"`
}

// JaegerOperation is an operation name with its span kind.
type JaegerOperation struct {
	Name     string `json:"name"`
	SpanKind string `json:"spanKind"`
}

// JaegerTrace is a trace in Jaeger's UI format.
type JaegerTrace struct {
	TraceID   string                   `json:"traceID"`
	Spans     []JaegerSpan             `json:"spans"`
	Processes map[string]JaegerProcess `json:"processes"`
	Warnings  []string                 `json:"warnings" null:"true"`
}

// JaegerSpan is a span in Jaeger's UI format; times in microseconds.
type JaegerSpan struct {
	TraceID       string            `json:"traceID"`
	SpanID        string            `json:"spanID"`
	Flags         uint32            `json:"flags,omitempty" doc:"absent, as Jaeger v2 serves OTLP spans"`
	OperationName string            `json:"operationName"`
	References    []JaegerReference `json:"references"`
	StartTime     int64             `json:"startTime" doc:"microseconds since the epoch"`
	Duration      int64             `json:"duration" doc:"microseconds"`
	Tags          []JaegerKeyValue  `json:"tags"`
	Logs          []JaegerLog       `json:"logs"`
	ProcessID     string            `json:"processID"`
	Warnings      []string          `json:"warnings" null:"true"`
}

// JaegerReference links a span to its parent.
type JaegerReference struct {
	RefType string `json:"refType" enum:"CHILD_OF,FOLLOWS_FROM"`
	TraceID string `json:"traceID"`
	SpanID  string `json:"spanID"`
}

// JaegerKeyValue is a tag or log field.
type JaegerKeyValue struct {
	Key   string `json:"key"`
	Type  string `json:"type" enum:"string,bool,int64,float64,binary"`
	Value any    `json:"value"`
}

// JaegerLog is a timestamped set of fields on a span.
type JaegerLog struct {
	Timestamp int64            `json:"timestamp" doc:"microseconds since the epoch"`
	Fields    []JaegerKeyValue `json:"fields"`
}

// JaegerProcess is the service (and its resource attributes) of spans.
type JaegerProcess struct {
	ServiceName string           `json:"serviceName"`
	Tags        []JaegerKeyValue `json:"tags"`
}

func kvString(k, v string) JaegerKeyValue { return JaegerKeyValue{k, "string", v} }
func kvBool(k string, v bool) JaegerKeyValue {
	return JaegerKeyValue{k, "bool", v}
}
func kvInt(k string, v int64) JaegerKeyValue     { return JaegerKeyValue{k, "int64", v} }
func kvFloat(k string, v float64) JaegerKeyValue { return JaegerKeyValue{k, "float64", v} }

func hexID(b []byte) string { return hex.EncodeToString(b) }

// micros is t in microseconds since the epoch.
func micros(t time.Time) int64 { return t.UnixMicro() }

// Trace renders a delivery record as a Jaeger trace.
func Trace(r *podtrace.Record) JaegerTrace {
	key := r.Key()
	tid := r.TraceHex()
	rootID := podtrace.DeliverySpanID(key, "")
	root := hexID(rootID[:])
	k8s := []JaegerKeyValue{
		kvString("k8s.namespace.name", r.Namespace),
		kvString("k8s.pod.name", r.Name),
		kvString("k8s.pod.uid", r.UID),
	}
	if r.Node != "" {
		k8s = append(k8s, kvString("k8s.node.name", r.Node))
	}
	t := JaegerTrace{TraceID: tid, Processes: map[string]JaegerProcess{
		"p1": {ServiceName: ServicePodtrace, Tags: []JaegerKeyValue{kvString("k8s.cluster.name", r.Cluster)}},
	}}
	span := func(id, parent, op string, start, end time.Time, tags []JaegerKeyValue) JaegerSpan {
		s := JaegerSpan{TraceID: tid, SpanID: id, OperationName: op, References: []JaegerReference{},
			StartTime: micros(start), Duration: max(0, end.Sub(start).Microseconds()), Tags: tags, Logs: []JaegerLog{}, ProcessID: "p1"}
		if parent != "" {
			s.References = append(s.References, JaegerReference{RefType: "CHILD_OF", TraceID: tid, SpanID: parent})
		}
		return s
	}

	tags := append(slices.Clone(k8s),
		kvString("podtrace.kind", string(r.Kind)),
		kvInt("podtrace.seq", int64(r.Seq)),
		kvString("podtrace.outcome", string(r.Outcome)))
	if r.OwnerKind != "" {
		tags = append(tags, kvString("podtrace.owner_kind", r.OwnerKind), kvString("podtrace.owner_name", r.OwnerName))
	}
	if r.SLO != nil {
		tags = append(tags, kvFloat("podtrace.slo.target_seconds", r.SLO.TargetSeconds), kvString("podtrace.slo.rule", r.SLO.Rule))
		if r.SLO.Met != nil {
			tags = append(tags, kvBool("podtrace.slo.met", *r.SLO.Met))
		}
	}
	if r.Outcome == podtrace.OutcomeFailed {
		tags = append(tags, kvBool("error", true), kvString("otel.status_code", "ERROR"))
	}
	rs := span(root, "", "pod "+string(r.Kind)+" "+r.Namespace+"/"+r.Name, r.Created, r.End(), tags)
	for _, m := range r.Milestones {
		rs.Logs = append(rs.Logs, JaegerLog{Timestamp: micros(m.Time), Fields: []JaegerKeyValue{
			kvString("event", m.Name), kvString("podtrace.audit_id", m.AuditID)}})
	}
	t.Spans = append(t.Spans, rs)

	phaseIdx := map[string]int{} // phase name → index in t.Spans
	for _, p := range r.Phases {
		id := podtrace.DeliverySpanID(key, "phase/"+p.Name)
		phaseIdx[p.Name] = len(t.Spans)
		t.Spans = append(t.Spans, span(hexID(id[:]), root, p.Name, p.Start, p.End,
			append(slices.Clone(k8s), kvString("podtrace.owner", string(p.Owner)))))
	}
	for _, f := range r.Diagnosis {
		at := r.Created
		if len(f.Evidence) > 0 {
			at = f.Evidence[0].Time
		}
		l := JaegerLog{Timestamp: micros(at), Fields: []JaegerKeyValue{
			kvString("event", "finding"),
			kvString("podtrace.finding.code", f.Code),
			kvString("podtrace.finding.phase", f.Phase),
			kvString("podtrace.finding.owner", string(f.Owner)),
			kvString("message", f.Message),
			kvString("podtrace.finding.remedy", f.Remedy),
		}}
		for _, e := range f.Evidence {
			l.Fields = append(l.Fields, kvString("podtrace.evidence", e.AuditID+" "+e.Text))
		}
		i, ok := phaseIdx[f.Phase]
		if !ok {
			i = 0
		}
		t.Spans[i].Logs = append(t.Spans[i].Logs, l)
		if !slices.ContainsFunc(t.Spans[i].Tags, func(kv JaegerKeyValue) bool { return kv.Key == "error" }) {
			t.Spans[i].Tags = append(t.Spans[i].Tags, kvBool("error", true))
		}
	}

	// the linked component spans, each under its own parent when that is
	// linked too, else under the phase it started in, else the root
	procs := map[string]string{ServicePodtrace: "p1"}
	have := map[string]bool{root: true}
	for _, s := range t.Spans {
		have[s.SpanID] = true
	}
	comps := slices.Clone(r.Spans)
	slices.SortStableFunc(comps, func(a, b podtrace.Span) int { return a.Start.Compare(b.Start) })
	linked := map[string]bool{}
	for _, s := range comps {
		linked[strings.ToLower(s.SpanID)] = true
	}
	for _, s := range comps {
		id := strings.ToLower(s.SpanID)
		if id == "" || have[id] {
			continue
		}
		have[id] = true
		pid := processID(&t, procs, s.Service)
		parent := strings.ToLower(s.Parent)
		if !linked[parent] {
			parent = anchor(r, s.Start)
		}
		tags := statusTags(&s)
		if src := strings.ToLower(s.TraceID); src != "" && src != tid {
			tags = append(tags, kvString("podtrace.source_trace_id", src))
		}
		js := span(id, parent, s.Name, s.Start, s.End, tags)
		js.ProcessID = pid
		t.Spans = append(t.Spans, js)
	}
	return t
}

// anchor is the span of a delivery's trace that a linked component span
// starting at t hangs under: the phase it started in, else the root.
func anchor(r *podtrace.Record, t time.Time) string {
	for _, p := range r.Phases {
		if !t.Before(p.Start) && t.Before(p.End) {
			id := podtrace.DeliverySpanID(r.Key(), "phase/"+p.Name)
			return hexID(id[:])
		}
	}
	id := podtrace.DeliverySpanID(r.Key(), "")
	return hexID(id[:])
}

// processID is the id of service's process in t, added as p<n> (ids
// holds the ids given so far) when t has none yet.
func processID(t *JaegerTrace, ids map[string]string, service string) string {
	svc := cmp.Or(service, "unknown")
	pid, ok := ids[svc]
	if !ok {
		pid = "p" + strconv.Itoa(len(ids)+1)
		ids[svc] = pid
		t.Processes[pid] = JaegerProcess{ServiceName: svc, Tags: []JaegerKeyValue{}}
	}
	return pid
}

// statusTags are the tags of a component span's status: error ones when
// it failed.
func statusTags(s *podtrace.Span) []JaegerKeyValue {
	if st := strings.ToLower(s.Status); st == "error" || st == "status_code_error" {
		return []JaegerKeyValue{kvBool("error", true), kvString("otel.status_code", "ERROR")}
	}
	return []JaegerKeyValue{}
}

// componentTrace renders the linked spans of one component trace (id) as
// that trace, from the records that link them, newest first: each span
// once, a child of its own parent (linked or not, as Jaeger has it), and,
// where the delivery's trace hangs it under one of its own spans, with a
// FOLLOWS_FROM reference to that span (a link, in OpenTelemetry's terms).
func componentTrace(id string, recs []podtrace.Record) JaegerTrace {
	t := JaegerTrace{TraceID: id, Processes: map[string]JaegerProcess{}}
	procs := map[string]string{}
	at := map[string]int{} // span id → index in t.Spans
	var spans []podtrace.Span
	for i := range recs {
		r := &recs[i]
		linked := map[string]bool{}
		for _, s := range r.Spans {
			linked[strings.ToLower(s.SpanID)] = true
		}
		for _, s := range r.Spans {
			sid := strings.ToLower(s.SpanID)
			if strings.ToLower(s.TraceID) != id || sid == "" {
				continue
			}
			j, seen := at[sid]
			if !seen {
				j = len(t.Spans)
				at[sid] = j
				spans = append(spans, s)
				js := JaegerSpan{TraceID: id, SpanID: sid, OperationName: s.Name, References: []JaegerReference{},
					StartTime: micros(s.Start), Duration: max(0, s.End.Sub(s.Start).Microseconds()),
					Tags: statusTags(&s), Logs: []JaegerLog{}, ProcessID: processID(&t, procs, s.Service)}
				if p := strings.ToLower(s.Parent); p != "" {
					js.References = append(js.References, JaegerReference{RefType: "CHILD_OF", TraceID: id, SpanID: p})
				}
				t.Spans = append(t.Spans, js)
			}
			if !linked[strings.ToLower(s.Parent)] {
				ref := JaegerReference{RefType: "FOLLOWS_FROM", TraceID: r.TraceHex(), SpanID: anchor(r, s.Start)}
				if !slices.Contains(t.Spans[j].References, ref) {
					t.Spans[j].References = append(t.Spans[j].References, ref)
				}
			}
		}
	}
	// in start order, as the delivery's trace lists them
	order := make([]int, len(t.Spans))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return spans[a].Start.Compare(spans[b].Start) })
	sorted := make([]JaegerSpan, len(order))
	for i, j := range order {
		sorted[i] = t.Spans[j]
	}
	t.Spans = sorted
	return t
}

// componentRecords bounds the records read for one component trace.
const componentRecords = 100

// normTraceID turns a trace id as clients write it (upper case, leading
// zeros dropped) into 32 lowercase hex digits.
func normTraceID(s string) (string, error) {
	s = strings.ToLower(s)
	if s == "" || len(s) > 32 {
		return "", &badRequest{msg: "trace id " + strconv.Quote(s) + ": want 1 to 32 hex digits"}
	}
	if _, err := hex.DecodeString(strings.Repeat("0", len(s)%2) + s); err != nil {
		return "", &badRequest{msg: "trace id " + strconv.Quote(s) + ": want 1 to 32 hex digits"}
	}
	return strings.Repeat("0", 32-len(s)) + s, nil
}

// traceByID renders the trace with that id: a delivery's, else a
// component trace whose spans records link.
func (a *API) traceByID(ctx context.Context, id string) (JaegerTrace, error) {
	recs, _, err := a.store.Records(ctx, podtrace.RecordFilter{TraceID: id, Limit: 1})
	if err != nil {
		return JaegerTrace{}, fmt.Errorf("trace %s: %w", id, err)
	}
	if len(recs) > 0 {
		return Trace(&recs[0]), nil
	}
	recs, _, err = a.store.Records(ctx, podtrace.RecordFilter{SpanTraceID: id, Limit: componentRecords})
	if err != nil {
		return JaegerTrace{}, fmt.Errorf("trace %s: %w", id, err)
	}
	if len(recs) == 0 {
		return JaegerTrace{}, fmt.Errorf("trace %s: %w", id, podtrace.ErrNotFound)
	}
	return componentTrace(id, recs), nil
}

func (a *API) jaegerGetTrace(ctx context.Context, q query) (any, error) {
	id, err := normTraceID(q.get("traceID"))
	if err != nil {
		return nil, err
	}
	t, err := a.traceByID(ctx, id)
	if err != nil {
		return nil, err
	}
	return JaegerTraces{Data: []JaegerTrace{t}}, nil
}

// recent renders the traces of the newest n records, for the service and
// operation lists.
func (a *API) recent(ctx context.Context, n int, fn func(*JaegerTrace)) error {
	_, _, err := a.scan(ctx, podtrace.RecordFilter{}, n, func(r *podtrace.Record) bool {
		t := Trace(r)
		fn(&t)
		return true
	})
	return err
}

func (a *API) jaegerServices(ctx context.Context, _ query) (any, error) {
	set := map[string]bool{ServicePodtrace: true}
	err := a.recent(ctx, recentTraces, func(t *JaegerTrace) {
		for _, p := range t.Processes {
			set[p.ServiceName] = true
		}
	})
	if err != nil {
		return nil, err
	}
	names := sortedSet(set)
	return JaegerServices{Data: names, Total: len(names)}, nil
}

func sortedSet(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// operations lists the operations of a service seen in recent traces.
func (a *API) operations(ctx context.Context, service, kind string) ([]JaegerOperation, error) {
	set := map[JaegerOperation]bool{}
	err := a.recent(ctx, recentTraces, func(t *JaegerTrace) {
		for _, s := range t.Spans {
			if t.Processes[s.ProcessID].ServiceName != service {
				continue
			}
			op := JaegerOperation{Name: s.OperationName, SpanKind: spanKind(t, &s)}
			if kind == "" || op.SpanKind == kind {
				set[op] = true
			}
		}
	})
	out := make([]JaegerOperation, 0, len(set))
	for op := range set {
		out = append(out, op)
	}
	slices.SortFunc(out, func(a, b JaegerOperation) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.SpanKind, b.SpanKind))
	})
	return out, err
}

// spanKind: podtrace's own spans are internal; the kind of a linked
// component span is not kept.
func spanKind(t *JaegerTrace, s *JaegerSpan) string {
	if t.Processes[s.ProcessID].ServiceName == ServicePodtrace {
		return "internal"
	}
	return ""
}

func (a *API) jaegerServiceOperations(ctx context.Context, q query) (any, error) {
	ops, err := a.operations(ctx, q.get("service"), "")
	if err != nil {
		return nil, err
	}
	set := map[string]bool{}
	for _, op := range ops {
		set[op.Name] = true
	}
	names := sortedSet(set)
	return JaegerServices{Data: names, Total: len(names)}, nil
}

func (a *API) jaegerOperations(ctx context.Context, q query) (any, error) {
	ops, err := a.operations(ctx, q.get("service"), q.get("spanKind"))
	if err != nil {
		return nil, err
	}
	return JaegerOperations{Data: ops, Total: len(ops)}, nil
}

// traceQuery is a parsed /api/traces search.
type traceQuery struct {
	service, operation string
	tags               map[string]string
	filter             podtrace.RecordFilter
	minDur, maxDur     time.Duration
	limit              int
	traceIDs           []string
}

// indexedTags are the tags the store's filter answers.
func indexedTags(f *podtrace.RecordFilter) map[string]*string {
	return map[string]*string{
		"k8s.namespace.name": &f.Namespace,
		"k8s.pod.name":       &f.Name,
		"k8s.pod.uid":        &f.UID,
		"k8s.node.name":      &f.Node,
	}
}

func parseTraceQuery(q query) (traceQuery, error) {
	tq := traceQuery{service: q.get("service"), operation: q.get("operation"), tags: map[string]string{}}
	for _, id := range q.vals["traceID"] {
		n, err := normTraceID(id)
		if err != nil {
			return tq, err
		}
		tq.traceIDs = append(tq.traceIDs, n)
	}
	if tq.service == "" && len(tq.traceIDs) == 0 {
		return tq, badParam("service", "required")
	}
	for _, t := range q.vals["tag"] {
		k, v, ok := strings.Cut(t, ":")
		if !ok {
			return tq, badParam("tag", "%q: want key:value", t)
		}
		tq.tags[k] = v
	}
	for _, t := range q.vals["tags"] {
		if !strings.HasPrefix(strings.TrimSpace(t), "{") {
			// key:value, as with tag
			k, v, ok := strings.Cut(t, ":")
			if !ok {
				return tq, badParam("tags", "%q: want a JSON object or key:value", t)
			}
			tq.tags[k] = v
			continue
		}
		var m map[string]string
		if err := json.Unmarshal([]byte(t), &m); err != nil {
			return tq, badParam("tags", "want a JSON object of strings: %v", err)
		}
		for k, v := range m {
			tq.tags[k] = v
		}
	}
	idx := indexedTags(&tq.filter)
	for k, v := range tq.tags {
		if dst, ok := idx[k]; ok {
			*dst = v
		}
	}
	for _, b := range []struct {
		name string
		dst  *time.Time
	}{{"start", &tq.filter.Since}, {"end", &tq.filter.Until}} {
		if v := q.get(b.name); v != "" {
			us, err := strconv.ParseInt(v, 10, 64)
			if err != nil || us < 0 {
				return tq, badParam(b.name, "%q: want microseconds since the epoch", v)
			}
			*b.dst = time.UnixMicro(us).UTC()
		}
	}
	if !tq.filter.Until.IsZero() {
		tq.filter.Until = tq.filter.Until.Add(time.Microsecond) // end is inclusive
	}
	for _, d := range []struct {
		name string
		dst  *time.Duration
	}{{"minDuration", &tq.minDur}, {"maxDuration", &tq.maxDur}} {
		if v := q.get(d.name); v != "" {
			dur, err := time.ParseDuration(v)
			if err != nil || dur < 0 {
				return tq, badParam(d.name, "%q: want a duration such as 100ms or 1.5s", v)
			}
			*d.dst = dur
		}
	}
	if tq.minDur > 0 && tq.maxDur > 0 && tq.maxDur < tq.minDur {
		return tq, badParam("maxDuration", "must be at least minDuration")
	}
	var err error
	tq.limit, err = q.int("limit", 100, 0, 1000)
	if tq.limit == 0 {
		tq.limit = 100
	}
	return tq, err
}

// matches reports whether a span of the trace answers the search: of the
// service (and operation), within the durations, carrying every tag (on
// the span or its process).
func (tq *traceQuery) matches(t *JaegerTrace) bool {
	for i := range t.Spans {
		s := &t.Spans[i]
		proc := t.Processes[s.ProcessID]
		if proc.ServiceName != tq.service || (tq.operation != "" && s.OperationName != tq.operation) {
			continue
		}
		d := time.Duration(s.Duration) * time.Microsecond
		if (tq.minDur > 0 && d < tq.minDur) || (tq.maxDur > 0 && d > tq.maxDur) {
			continue
		}
		ok := true
		for k, v := range tq.tags {
			if !hasTag(s.Tags, k, v) && !hasTag(proc.Tags, k, v) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func hasTag(kvs []JaegerKeyValue, k, v string) bool {
	for _, kv := range kvs {
		if kv.Key == k && fmt.Sprint(kv.Value) == v {
			return true
		}
	}
	return false
}

func (a *API) jaegerFindTraces(ctx context.Context, q query) (any, error) {
	tq, err := parseTraceQuery(q)
	if err != nil {
		return nil, err
	}
	out := JaegerTraces{Data: []JaegerTrace{}}
	if len(tq.traceIDs) > 0 {
		for _, id := range tq.traceIDs {
			t, err := a.traceByID(ctx, id)
			if err != nil {
				if errors.Is(err, podtrace.ErrNotFound) {
					out.Errors = append(out.Errors, JaegerError{Msg: "trace not found", TraceID: id})
					continue
				}
				return nil, err
			}
			out.Data = append(out.Data, t)
		}
		return out, nil
	}
	_, _, err = a.scan(ctx, tq.filter, a.opt.MaxScan, func(r *podtrace.Record) bool {
		t := Trace(r)
		if tq.matches(&t) {
			out.Data = append(out.Data, t)
		}
		return len(out.Data) < tq.limit
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
