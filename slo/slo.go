package slo

import (
	"path"
	"sort"
	"strings"
	"time"

	"github.com/podtrace/podtrace"
	"github.com/podtrace/podtrace/lifecycle"
)

// Evaluator gives deliveries their SLO verdict. It is safe for concurrent use.
type Evaluator struct {
	cfg   Config
	rules []compiled
}

type compiled struct {
	Rule
	milliCPU, memory int64
}

// New validates cfg and returns an Evaluator.
func New(cfg Config) (*Evaluator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	e := &Evaluator{cfg: cfg}
	for _, r := range cfg.Rules {
		c := compiled{Rule: r}
		c.milliCPU, _ = parseQuantity(r.Match.MinCPU, true)
		c.memory, _ = parseQuantity(r.Match.MinMemory, false)
		e.rules = append(e.rules, c)
	}
	return e, nil
}

// Target returns the delivery's target and the name of the rule that set
// it ("default" when none matched).
func (e *Evaluator) Target(p *lifecycle.Pod, r *podtrace.Record) (time.Duration, string) {
	for i := range e.rules {
		c := &e.rules[i]
		t := c.Create
		if r.Kind == podtrace.KindDelete {
			t = c.Delete
		}
		if t > 0 && c.matches(p) {
			return t, c.Name
		}
	}
	if r.Kind == podtrace.KindDelete {
		return e.cfg.Default.Delete, "default"
	}
	return e.cfg.Default.Create, "default"
}

func (c *compiled) matches(p *lifecycle.Pod) bool {
	m := &c.Match
	if len(m.Namespaces) > 0 {
		ok := false
		for _, ns := range m.Namespaces {
			if match, _ := path.Match(ns, p.Namespace); match {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	for k, v := range m.Labels {
		if got, ok := p.Spec.Labels[k]; !ok || got != v {
			return false
		}
	}
	if m.Workload != "" && workload(p.OwnerKind) != m.Workload {
		return false
	}
	if len(m.OwnerKinds) > 0 {
		ok := false
		for _, k := range m.OwnerKinds {
			ok = ok || strings.EqualFold(k, p.OwnerKind)
		}
		if !ok {
			return false
		}
	}
	s := &p.Spec
	switch {
	case c.milliCPU > 0 && s.MilliCPU < c.milliCPU,
		c.memory > 0 && s.Memory < c.memory,
		m.GPU != nil && *m.GPU != (s.GPU > 0),
		m.MinContainers > 0 && len(s.Containers)+len(s.InitContainers) < m.MinContainers,
		m.MinVolumes > 0 && len(s.Volumes) < m.MinVolumes,
		m.PVC != nil && *m.PVC != hasClaim(p):
		return false
	}
	return true
}

// workload names what kind of controller owns the pod.
func workload(ownerKind string) string {
	switch ownerKind {
	case "":
		return WorkloadStandalone
	case "Job", "CronJob":
		return WorkloadJob
	}
	return WorkloadService
}

// hasClaim: the pod uses a PersistentVolumeClaim (an ephemeral volume is one).
func hasClaim(p *lifecycle.Pod) bool {
	for _, v := range p.Spec.Volumes {
		if v.Kind == "persistentVolumeClaim" || v.Kind == "ephemeral" {
			return true
		}
	}
	return false
}

// Evaluate returns the delivery's SLO verdict. r.Diagnosis must be set
// first: the owners of its findings decide whose time a failure was.
// See the package doc for the exact definitions.
func (e *Evaluator) Evaluate(p *lifecycle.Pod, r *podtrace.Record) *podtrace.SLO {
	target, rule := e.Target(p, r)
	start, end := r.Created, recordEnd(r)
	total := end.Sub(start)
	var user time.Duration
	if r.Kind == podtrace.KindDelete {
		user = min(total, grace(p))
		if len(r.Diagnosis) > 0 && r.Diagnosis[0].Owner == podtrace.OwnerUser {
			user = total
		}
	} else {
		user = union(userSpans(p, r), start, end)
	}
	platform := total - user
	out := &podtrace.SLO{
		TargetSeconds: target.Seconds(), TotalSeconds: total.Seconds(),
		PlatformSeconds: platform.Seconds(), UserSeconds: user.Seconds(), Rule: rule,
	}
	late := platform > target
	switch {
	case late:
		out.Met = ptr(false)
	case r.Finished == nil:
		// open: undecided until it ends or the platform runs out of time
	case r.Kind == podtrace.KindDelete:
		out.Met = ptr(true)
	case r.Outcome == podtrace.OutcomeReady || r.Outcome == podtrace.OutcomeSucceeded:
		out.Met = ptr(true)
	case r.Outcome == podtrace.OutcomeFailed || r.Outcome == podtrace.OutcomeEvicted:
		// a failure is the platform's unless its root cause is the user's
		out.Met = ptr(len(r.Diagnosis) > 0 && r.Diagnosis[0].Owner == podtrace.OwnerUser)
	}
	// deleted before it was ready and on time so far: never decided
	return out
}

// recordEnd is when the delivery ended, or how far it is known while open.
func recordEnd(r *podtrace.Record) time.Time {
	if r.Finished != nil {
		return *r.Finished
	}
	end := r.Created
	if n := len(r.Phases); n > 0 && r.Phases[n-1].End.After(end) {
		end = r.Phases[n-1].End
	}
	if n := len(r.Milestones); n > 0 && r.Milestones[n-1].Time.After(end) {
		end = r.Milestones[n-1].Time
	}
	return end
}

func grace(p *lifecycle.Pod) time.Duration {
	switch {
	case p.Grace > 0:
		return time.Duration(p.Grace) * time.Second
	case p.Spec.Grace >= 0 && p.Spec.At.Seen():
		return time.Duration(p.Spec.Grace) * time.Second
	}
	return 30 * time.Second
}

// Attribute returns the record's phases with the owner the diagnosis gives
// them: a phase takes the owner of the first finding about it (the finding's
// phase, or the phase its first evidence falls in); others keep theirs.
func Attribute(r *podtrace.Record) []podtrace.Phase {
	out := append([]podtrace.Phase(nil), r.Phases...)
	claimed := make([]bool, len(out))
	for _, f := range r.Diagnosis {
		i := phaseOf(out, f)
		if i >= 0 && !claimed[i] {
			claimed[i] = true
			out[i].Owner = f.Owner
		}
	}
	return out
}

func phaseOf(phases []podtrace.Phase, f podtrace.Finding) int {
	for i, ph := range phases {
		if ph.Name == f.Phase {
			return i
		}
	}
	if len(f.Evidence) == 0 {
		return -1
	}
	t := f.Evidence[0].Time
	for i, ph := range phases {
		if !t.Before(ph.Start) && (t.Before(ph.End) || i == len(phases)-1) {
			return i
		}
	}
	return -1
}

type span struct{ from, to time.Time }

// userSpans are the stretches of a create or upgrade delivery owned by the
// user: its user-owned phases, and the init containers' run.
func userSpans(p *lifecycle.Pod, r *podtrace.Record) []span {
	var out []span
	for _, ph := range Attribute(r) {
		if ph.Owner == podtrace.OwnerUser {
			out = append(out, span{ph.Start, ph.End})
		}
	}
	if r.Kind == podtrace.KindCreate && hasInit(p) {
		from, to := p.Marks[lifecycle.MarkSandboxReady], p.Marks[lifecycle.MarkInitialized]
		if from.Seen() && to.Seen() && to.T > from.T {
			out = append(out, span{from.Time(), to.Time()})
		}
	}
	return out
}

// hasInit: the pod has init containers that run to completion (sidecars,
// restartPolicy Always, do not hold the pod back).
func hasInit(p *lifecycle.Pod) bool {
	for _, c := range p.Spec.InitContainers {
		if !c.RestartAlways {
			return true
		}
	}
	return false
}

// union is the length of the spans' union inside [from, to].
func union(spans []span, from, to time.Time) time.Duration {
	sort.Slice(spans, func(i, j int) bool { return spans[i].from.Before(spans[j].from) })
	var total time.Duration
	var cur span
	open := false
	for _, s := range spans {
		if s.from.Before(from) {
			s.from = from
		}
		if s.to.After(to) {
			s.to = to
		}
		if !s.to.After(s.from) {
			continue
		}
		switch {
		case !open:
			cur, open = s, true
		case !s.from.After(cur.to):
			if s.to.After(cur.to) {
				cur.to = s.to
			}
		default:
			total += cur.to.Sub(cur.from)
			cur = s
		}
	}
	if open {
		total += cur.to.Sub(cur.from)
	}
	return total
}

// StartupSLI is the Kubernetes community's pod startup latency SLI, as
// kubelet_pod_start_sli_duration_seconds measures it: from the pod's
// creation to all its containers started, minus the time spent pulling
// images and running init containers, for stateless pods (no
// PersistentVolumeClaim or ephemeral volume). ok is false for other pods,
// other kinds of delivery, and pods whose containers have not started.
func StartupSLI(p *lifecycle.Pod, r *podtrace.Record) (seconds float64, ok bool) {
	started := p.Marks[lifecycle.MarkContainersStarted]
	if r.Kind != podtrace.KindCreate || hasClaim(p) || !started.Seen() || p.IsRefused() {
		return 0, false
	}
	if r.Finished != nil && started.T > r.Finished.UnixNano() {
		return 0, false // started only after the delivery was cut short
	}
	d := started.T - r.Created.UnixNano()
	if pulling := p.Marks[lifecycle.MarkImagePulling]; pulling.Seen() {
		last := int64(0)
		for _, f := range p.Facts {
			if f.Source == "event" && f.Reason == "Pulled" && f.First.T <= started.T && f.First.T > last {
				last = f.First.T
			}
		}
		if last > pulling.T {
			d -= last - pulling.T
		}
	}
	if hasInit(p) {
		from, to := p.Marks[lifecycle.MarkSandboxReady], p.Marks[lifecycle.MarkInitialized]
		if from.Seen() && to.Seen() && to.T > from.T && to.T <= started.T {
			d -= to.T - from.T
		}
	}
	if d < 0 {
		d = 0
	}
	return time.Duration(d).Seconds(), true
}
