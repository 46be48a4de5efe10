package diagnosis

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/podtrace/podtrace"
	"github.com/podtrace/podtrace/lifecycle"
)

// Engine diagnoses deliveries with one table of rules. It holds no state
// between calls and is safe for concurrent use.
type Engine struct {
	cfg   Config
	rules []rule
}

// New validates cfg and returns an Engine.
func New(cfg Config) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	rs := rules()
	if err := checkRules(rs); err != nil {
		return nil, err
	}
	return &Engine{cfg: cfg, rules: rs}, nil
}

// Code describes one diagnosis code: what the rule table knows of it.
type Code struct {
	Code   string
	Phase  string
	Owner  podtrace.Owner // the usual owner; a finding may name another
	Remedy string
}

// Codes lists every code the engine can return, in evaluation order,
// Unknown last.
func (e *Engine) Codes() []Code {
	out := make([]Code, 0, len(e.rules)+1)
	for _, r := range e.rules {
		out = append(out, Code{r.code, r.phase, r.owner, r.remedy})
	}
	return append(out, Code{CodeUnknown, "", "", unknownRemedy})
}

// phaseIndex is the delivery order of phase names; unknown names sort last.
func phaseIndex(name string) int {
	switch name {
	case podtrace.PhaseAdmission:
		return 0
	case podtrace.PhaseScheduling:
		return 1
	case podtrace.PhaseVolumes:
		return 2
	case podtrace.PhaseSandbox:
		return 3
	case podtrace.PhaseImage:
		return 4
	case podtrace.PhaseContainers:
		return 5
	case podtrace.PhaseReadiness:
		return 6
	case podtrace.PhaseTermination:
		return 7
	}
	return 8
}

// checkRules keeps the table honest: known phases in delivery order, one
// row per code, an owner and a remedy on every row.
func checkRules(rs []rule) error {
	var errs []error
	seen := make(map[string]bool, len(rs))
	for i, r := range rs {
		switch {
		case phaseIndex(r.phase) > 7:
			errs = append(errs, fmt.Errorf("rule %d (%s): unknown phase %q", i, r.code, r.phase))
		case i > 0 && phaseIndex(r.phase) < phaseIndex(rs[i-1].phase):
			errs = append(errs, fmt.Errorf("rule %d (%s): phase %s after %s", i, r.code, r.phase, rs[i-1].phase))
		}
		if seen[r.code] || r.code == CodeUnknown {
			errs = append(errs, fmt.Errorf("rule %d: code %q twice", i, r.code))
		}
		seen[r.code] = true
		if r.owner != podtrace.OwnerPlatform && r.owner != podtrace.OwnerUser {
			errs = append(errs, fmt.Errorf("rule %d (%s): owner %q", i, r.code, r.owner))
		}
		if r.remedy == "" || r.match == nil || r.kinds == 0 {
			errs = append(errs, fmt.Errorf("rule %d (%s): remedy, matcher and kinds are required", i, r.code))
		}
	}
	return errors.Join(errs...)
}

// Diagnose explains a delivery of pod p: why it failed, is stuck, or was
// slow. Findings come root cause first: rules run in phase order
// (admission → scheduling → volumes → sandbox → image → containers →
// readiness → termination), so the earliest blocking phase wins, and
// within a phase in table order. A healthy delivery (finished on time)
// gets none, a bad one at least one (Unknown when no rule matches). The
// result is never nil, so it marshals as [].
//
// r must be one of p.Records(...). Diagnose reads only event time.
func (e *Engine) Diagnose(p *lifecycle.Pod, r *podtrace.Record) []podtrace.Finding {
	v := e.newView(p, r)
	if v.healthy() {
		return []podtrace.Finding{}
	}
	for i := range e.rules {
		ru := &e.rules[i]
		if ru.kinds&v.kind == 0 || (!ru.anyTime && v.passedQuickly(ru.phase)) {
			continue
		}
		if ru.fallback && v.foundIn(ru.phase) {
			continue
		}
		h, ok := ru.match(v)
		if !ok {
			continue
		}
		owner := ru.owner
		if h.owner != "" {
			owner = h.owner
		}
		v.found = append(v.found, podtrace.Finding{Code: ru.code, Phase: ru.phase, Owner: owner, Message: h.msg, Evidence: h.ev, Remedy: ru.remedy})
	}
	if len(v.found) == 0 {
		if f, ok := v.unknown(); ok {
			v.found = append(v.found, f)
		}
	}
	if v.found == nil {
		return []podtrace.Finding{}
	}
	return v.found
}

// kinds says which delivery kinds a rule applies to.
type kinds uint8

const (
	onCreate kinds = 1 << iota
	onUpgrade
	onDelete

	onStart = onCreate | onUpgrade
	anyKind = onCreate | onUpgrade | onDelete
)

func kindOf(k podtrace.Kind) kinds {
	switch k {
	case podtrace.KindDelete:
		return onDelete
	case podtrace.KindUpgrade:
		return onUpgrade
	}
	return onCreate
}

// view is one delivery as the rules see it: the pod, the record, its
// window in event time and the facts inside it.
type view struct {
	cfg        *Config
	p          *lifecycle.Pod
	r          *podtrace.Record
	kind       kinds
	start, end int64 // the record's window, unix ns
	open       bool
	facts      []*lifecycle.Fact
	found      []podtrace.Finding

	sched     SchedulerMessage
	schedFact [2]*lifecycle.Fact // the FailedScheduling Event and PodScheduled condition parsed
	schedDone bool
}

func (e *Engine) newView(p *lifecycle.Pod, r *podtrace.Record) *view {
	v := &view{cfg: &e.cfg, p: p, r: r, kind: kindOf(r.Kind), start: r.Created.UnixNano(), open: r.Outcome.Open()}
	if r.Finished != nil {
		v.end = r.Finished.UnixNano()
		v.open = false
	} else {
		v.end = p.LastSeen
		if e.cfg.Now != nil {
			if n := e.cfg.Now().UnixNano(); n > v.end {
				v.end = n
			}
		}
	}
	from := v.start
	if v.kind == onDelete {
		from = 0 // what happened before the delete explains it too (an eviction, a preemption)
	}
	for i := range p.Facts {
		f := &p.Facts[i]
		if f.Last.T >= from && f.First.T <= v.end {
			v.facts = append(v.facts, f)
		}
	}
	return v
}

// elapsed is the delivery's length so far.
func (v *view) elapsed() time.Duration { return time.Duration(v.end - v.start) }

// mark is the milestone's time if it was proven within the window, else 0.
func (v *view) mark(m lifecycle.Mark) int64 {
	if t := v.p.Marks[m].T; t != 0 && t <= v.end {
		return t
	}
	return 0
}

// earliest is the earliest of the milestones proven within the window.
func (v *view) earliest(ms ...lifecycle.Mark) int64 {
	var best int64
	for _, m := range ms {
		if t := v.mark(m); t != 0 && (best == 0 || t < best) {
			best = t
		}
	}
	return best
}

// grace is the time the pod was given to stop.
func (v *view) grace() time.Duration {
	switch {
	case v.p.Grace > 0:
		return time.Duration(v.p.Grace) * time.Second
	case v.p.Spec.Grace >= 0 && v.p.Spec.At.Seen():
		return time.Duration(v.p.Spec.Grace) * time.Second
	}
	return 30 * time.Second
}

// healthy: a delivery that ended well and on time needs no explanation,
// whatever hiccups it went through.
func (v *view) healthy() bool {
	if v.open {
		return false
	}
	d := v.elapsed()
	switch v.r.Outcome {
	case podtrace.OutcomeReady, podtrace.OutcomeSucceeded:
		return v.kind != onDelete && d <= v.cfg.SlowDelivery
	case podtrace.OutcomeDeleted:
		return v.kind == onDelete && d <= v.grace()+v.cfg.TerminationSlack
	}
	return false
}

// bad says whether the delivery must be explained even if no rule matches.
func (v *view) bad() (string, bool) {
	d := v.elapsed()
	switch {
	case v.r.Outcome == podtrace.OutcomeFailed:
		return "failed", true
	case v.r.Outcome == podtrace.OutcomeEvicted:
		return "was evicted", true
	case v.open && d > v.cfg.PendingTooLong:
		return "has not finished after " + seconds(d), true
	case v.open && v.kind == onDelete && d > v.grace()+v.cfg.TerminationSlack:
		return "has not finished after " + seconds(d), true
	case !v.open && v.kind != onDelete && d > v.cfg.SlowDelivery:
		return "took " + seconds(d), true
	case !v.open && v.kind == onDelete && d > v.grace()+v.cfg.TerminationSlack:
		return "took " + seconds(d), true
	case !v.open && v.r.Outcome == podtrace.OutcomeDeleted && d > v.cfg.PendingTooLong:
		return "waited " + seconds(d) + " before it was deleted", true
	}
	return "", false
}

// passedQuickly: a create delivery that got past the phase within the
// phase's threshold was not held up there, so hiccups seen in it (a
// FailedScheduling before a node freed up a second later) are not causes.
func (v *view) passedQuickly(phase string) bool {
	if v.kind != onCreate {
		return false
	}
	sched := v.mark(lifecycle.MarkScheduled)
	within := func(from, to int64, limit time.Duration) bool {
		return from != 0 && to != 0 && time.Duration(to-from) <= limit
	}
	switch phase {
	case podtrace.PhaseAdmission:
		return v.mark(lifecycle.MarkCreated) != 0
	case podtrace.PhaseScheduling:
		return within(v.start, sched, v.cfg.SchedulingSlow)
	case podtrace.PhaseVolumes:
		return within(sched, v.nodeStarted(), v.cfg.VolumeMountSlow)
	case podtrace.PhaseSandbox:
		return within(sched, v.sandboxReady(), v.kubeletDelay())
	case podtrace.PhaseImage:
		from := v.sandboxReady()
		if from == 0 {
			from = sched
		}
		return within(from, v.earliest(lifecycle.MarkContainersStarted), v.cfg.ImagePullSlow)
	}
	return false
}

// sandboxReady is the earliest proof that the pod's sandbox was up.
func (v *view) sandboxReady() int64 {
	return v.earliest(lifecycle.MarkSandboxReady, lifecycle.MarkImagePulling, lifecycle.MarkImagePulled,
		lifecycle.MarkContainersCreated, lifecycle.MarkContainersStarted, lifecycle.MarkReady)
}

// nodeStarted is the earliest proof that volumes were mounted (the kubelet
// mounts them before it creates the sandbox).
func (v *view) nodeStarted() int64 {
	if t := v.mark(lifecycle.MarkVolumesMounted); t != 0 {
		return t
	}
	return v.sandboxReady()
}

// kubeletDelay is the node's allowance; attachable volumes may take longer.
func (v *view) kubeletDelay() time.Duration {
	if v.attachable() != "" && v.cfg.VolumeMountSlow > v.cfg.KubeletDelay {
		return v.cfg.VolumeMountSlow
	}
	return v.cfg.KubeletDelay
}

// attachable names the first volume that needs attaching or mounting from
// outside the node (PVC, CSI, ephemeral, NFS, ...), or "".
func (v *view) attachable() string {
	for _, vol := range v.p.Spec.Volumes {
		switch vol.Kind {
		case "persistentVolumeClaim", "csi", "ephemeral", "nfs", "other":
			return vol.Name
		}
	}
	return ""
}

func (v *view) foundIn(phase string) bool {
	for i := range v.found {
		if v.found[i].Phase == phase {
			return true
		}
	}
	return false
}

// scheduler parses the latest scheduler message about the pod once.
func (v *view) scheduler() (SchedulerMessage, bool) {
	if !v.schedDone {
		v.schedDone = true
		var latest *lifecycle.Fact
		for _, f := range v.facts {
			var slot int
			switch {
			case f.Source == "event" && f.Reason == "FailedScheduling":
				slot = 0
			case f.Source == "condition" && f.Container == "PodScheduled" && f.Reason == "Unschedulable":
				slot = 1
			default:
				continue
			}
			if g := v.schedFact[slot]; g == nil || f.Last.T >= g.Last.T {
				v.schedFact[slot] = f
			}
			if latest == nil || f.Last.T > latest.Last.T {
				latest = f
			}
		}
		if latest != nil {
			v.sched, _ = ParseSchedulerMessage(latest.Message)
		}
	}
	return v.sched, len(v.sched.Causes) > 0
}

// hit is what a matcher found: the finding's message and evidence, and an
// owner when it differs from the rule's.
type hit struct {
	msg   string
	ev    []podtrace.Evidence
	owner podtrace.Owner
}

// maxEvidence bounds the quotes per finding: the first and the latest.
const maxEvidence = 3

// collect gathers evidence from the facts that satisfy pred: the first and
// the latest ones. It returns the latest matching fact, or nil.
func (v *view) collect(pred func(*lifecycle.Fact) bool) (*lifecycle.Fact, []podtrace.Evidence) {
	var idx [maxEvidence]int
	n := 0
	var latest *lifecycle.Fact
	for i, f := range v.facts {
		if !pred(f) {
			continue
		}
		if latest == nil || f.Last.T >= latest.Last.T {
			latest = f
		}
		if n < maxEvidence {
			idx[n] = i
			n++
		} else {
			copy(idx[1:], idx[2:]) // keep the first, slide the rest
			idx[maxEvidence-1] = i
		}
	}
	if n == 0 {
		return nil, nil
	}
	ev := make([]podtrace.Evidence, n)
	for k := 0; k < n; k++ {
		ev[k] = factEvidence(v.facts[idx[k]])
	}
	return latest, ev
}

// factEvidence quotes a fact as "Reason: message".
func factEvidence(f *lifecycle.Fact) podtrace.Evidence {
	var b strings.Builder
	if f.Source == "condition" {
		b.WriteString(f.Container) // the condition type
		b.WriteString("=False ")
	}
	b.WriteString(f.Reason)
	if f.Message != "" {
		b.WriteString(": ")
		b.WriteString(f.Message)
	}
	if f.Source == "container" && f.Container != "" {
		b.WriteString(" (container ")
		b.WriteString(f.Container)
		if f.Code != 0 {
			fmt.Fprintf(&b, ", exit code %d", f.Code)
		}
		b.WriteByte(')')
	}
	if f.Count > 1 {
		fmt.Fprintf(&b, " (%d times)", f.Count)
	}
	return podtrace.Evidence{AuditID: f.First.AuditID, Time: f.First.Time(), Text: b.String()}
}

// markEvidence quotes a milestone.
func (v *view) markEvidence(m lifecycle.Mark, text string) podtrace.Evidence {
	s := v.p.Marks[m]
	return podtrace.Evidence{AuditID: s.AuditID, Time: s.Time(), Text: text}
}

// CodeUnknown is the fallback finding: the delivery is bad and no rule
// recognises why.
const CodeUnknown = "Unknown"

const unknownRemedy = "Look at the pod's events and logs around the time of the named phase (kubectl describe pod and kubectl logs); if they show nothing wrong, send this delivery's trace to the platform team."

// unknown names the longest phase of a bad delivery no rule explained.
func (v *view) unknown() (podtrace.Finding, bool) {
	why, ok := v.bad()
	if !ok {
		return podtrace.Finding{}, false
	}
	phase, owner, longest := "", podtrace.OwnerPlatform, time.Duration(-1)
	for _, ph := range v.r.Phases {
		if d := ph.End.Sub(ph.Start); d > longest {
			phase, owner, longest = ph.Name, ph.Owner, d
		}
	}
	if phase == "" {
		phase = podtrace.PhaseAdmission
		if v.kind == onDelete {
			phase = podtrace.PhaseTermination
		}
		longest = 0
	}
	_, ev := v.collect(func(f *lifecycle.Fact) bool { return f.Warning })
	if len(ev) == 0 {
		ev = []podtrace.Evidence{{Time: v.r.Created, AuditID: firstAudit(v.r), Text: fmt.Sprintf("%s delivery created", v.r.Kind)}}
	}
	msg := fmt.Sprintf("The %s delivery %s and no known cause was recognised; most of its time (%s) went to the %s phase.", v.r.Kind, why, seconds(longest), phase)
	return podtrace.Finding{Code: CodeUnknown, Phase: phase, Owner: owner, Message: msg, Evidence: ev, Remedy: unknownRemedy}, true
}

func firstAudit(r *podtrace.Record) string {
	if len(r.Milestones) > 0 {
		return r.Milestones[0].AuditID
	}
	return ""
}

// seconds prints a duration the way people read it: 850ms, 4.2s, 3m5s.
func seconds(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

// nanos turns a difference of unix nanoseconds into a duration.
func nanos(ns int64) time.Duration { return time.Duration(ns) }

// cpuString prints a CPU request: "500m CPU", "2 CPUs".
func cpuString(milli int64) string {
	switch {
	case milli == 0:
		return "no CPU"
	case milli%1000 != 0:
		return fmt.Sprintf("%dm CPU", milli)
	case milli == 1000:
		return "1 CPU"
	}
	return fmt.Sprintf("%d CPUs", milli/1000)
}

// bytesString prints a memory request in binary units: "512 MiB", "1 TiB".
func bytesString(b int64) string {
	if b == 0 {
		return "no memory"
	}
	units := [...]string{"bytes", "KiB", "MiB", "GiB", "TiB", "PiB"}
	f, u := float64(b), 0
	for f >= 1024 && u < len(units)-1 {
		f /= 1024
		u++
	}
	if f == float64(int64(f)) {
		return fmt.Sprintf("%d %s", int64(f), units[u])
	}
	return fmt.Sprintf("%.1f %s", f, units[u])
}
