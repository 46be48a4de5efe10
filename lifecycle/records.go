package lifecycle

import (
	"sort"
	"time"

	"github.com/podtrace/podtrace"
)

// createPhases is the create delivery's phase order: each phase ends at its
// milestone; a phase whose milestone was never proven merges into the next.
var createPhases = [...]struct {
	name  string
	end   Mark
	owner podtrace.Owner
}{
	{podtrace.PhaseAdmission, MarkCreated, podtrace.OwnerPlatform},
	{podtrace.PhaseScheduling, MarkScheduled, podtrace.OwnerPlatform},
	{podtrace.PhaseVolumes, MarkVolumesMounted, podtrace.OwnerPlatform},
	{podtrace.PhaseSandbox, MarkSandboxReady, podtrace.OwnerPlatform},
	{podtrace.PhaseImage, MarkImagePulled, podtrace.OwnerPlatform},
	{podtrace.PhaseContainers, MarkContainersStarted, podtrace.OwnerPlatform},
	{podtrace.PhaseReadiness, MarkReady, podtrace.OwnerUser},
}

// Records derives the pod's delivery records. It is a pure function of the
// pod's state: the same state always gives the same records.
func (p *Pod) Records(cluster string) []podtrace.Record {
	out := []podtrace.Record{p.createRecord(cluster)}
	out = append(out, p.upgradeRecords(cluster)...)
	if r, ok := p.deleteRecord(cluster); ok {
		out = append(out, r)
	}
	return out
}

func (p *Pod) base(cluster string, kind podtrace.Kind, seq int) podtrace.Record {
	return podtrace.Record{
		Cluster: cluster, Namespace: p.Namespace, Name: p.Name, UID: p.UID,
		Kind: kind, Seq: seq, Node: p.Node, OwnerKind: p.OwnerKind, OwnerName: p.OwnerName,
		Phases: []podtrace.Phase{}, Milestones: []podtrace.Milestone{}, Diagnosis: []podtrace.Finding{},
	}
}

func (p *Pod) createRecord(cluster string) podtrace.Record {
	r := p.base(cluster, podtrace.KindCreate, 0)
	start := p.created()
	r.Created = start.Time()

	// the end: ready, succeeded or failed, whichever came first
	var end Stamp
	outcome := podtrace.OutcomePending
	for _, c := range []struct {
		m Mark
		o podtrace.Outcome
	}{{MarkReady, podtrace.OutcomeReady}, {MarkSucceeded, podtrace.OutcomeSucceeded}, {MarkFailed, podtrace.OutcomeFailed}} {
		if s := p.Marks[c.m]; s.Seen() && s.earlier(end) {
			end, outcome = s, c.o
		}
	}
	// cut short by deletion or eviction before the end
	cut := p.Marks[MarkDeleteRequested]
	if e := p.Marks[MarkEvicted]; e.Seen() && e.earlier(cut) {
		cut = e
	}
	if !cut.Seen() {
		cut = p.Marks[MarkGone]
	}
	if cut.Seen() && (!end.Seen() || cut.T < end.T) {
		end = cut
		outcome = podtrace.OutcomeDeleted
		if p.Marks[MarkEvicted].Seen() {
			outcome = podtrace.OutcomeEvicted
		}
	}
	if !end.Seen() && p.Marks[MarkContainersStarted].Seen() {
		outcome = podtrace.OutcomeRunning
	}
	r.Outcome = outcome
	if end.Seen() {
		t := end.Time()
		if t.Before(r.Created) {
			t = r.Created
		}
		r.Finished = &t
	}

	limit := end.T
	if !end.Seen() {
		limit = p.LastSeen
	}
	for m := MarkRequested; m <= MarkFailed; m++ {
		if s := p.Marks[m]; s.Seen() && s.T <= limit {
			r.Milestones = append(r.Milestones, podtrace.Milestone{Name: m.String(), Time: s.Time(), AuditID: s.AuditID})
		}
	}
	if end.Seen() && (outcome == podtrace.OutcomeDeleted || outcome == podtrace.OutcomeEvicted) {
		name := MarkDeleteRequested.String()
		if outcome == podtrace.OutcomeEvicted {
			name = MarkEvicted.String()
		}
		r.Milestones = append(r.Milestones, podtrace.Milestone{Name: name, Time: end.Time(), AuditID: end.AuditID})
	}
	sortMilestones(r.Milestones)
	r.Phases = p.createPhaseList(start, end, limit)
	return r
}

// createPhaseList lays the create phases end to end from start. A boundary
// is the earliest proof that its milestone or any later one was reached
// (an image pull proves the sandbox was ready, whenever the status said so),
// and boundaries never run backwards.
func (p *Pod) createPhaseList(start, end Stamp, limit int64) []podtrace.Phase {
	var bound [len(createPhases)]int64
	next := int64(0) // the earliest proof of a later milestone
	prove := func(t int64) {
		if t != 0 && t <= limit && (next == 0 || t < next) {
			next = t
		}
	}
	for i := len(createPhases) - 1; i >= 0; i-- {
		m := createPhases[i].end
		t := p.Marks[m].T
		if m == MarkImagePulled {
			t = p.lastPull(limit)
		}
		if t > limit {
			t = 0
		}
		if t != 0 && next != 0 && next < t {
			t = next
		}
		bound[i] = t
		prove(t)
		switch m {
		case MarkContainersStarted:
			prove(p.Marks[MarkContainersCreated].T) // created containers: images were there
		case MarkImagePulled:
			prove(p.Marks[MarkImagePulling].T) // pulling starts in a ready sandbox
		}
	}
	phases := []podtrace.Phase{}
	prev := start.T
	from := 0
	if !p.Marks[MarkRequested].Seen() {
		// no create request seen: admission is unknown, start at creation
		from = 1
		if c := p.Marks[MarkCreated]; c.Seen() {
			prev = c.T
		}
	}
	nextPhase := from
	for i := from; i < len(createPhases); i++ {
		t := bound[i]
		if t == 0 {
			continue
		}
		if t < prev {
			t = prev
		}
		ph := createPhases[i]
		phases = append(phases, podtrace.Phase{Name: ph.name, Start: unix(prev), End: unix(t), Owner: ph.owner})
		prev, nextPhase = t, i+1
	}
	// the phase in progress (open delivery) or cut short (deleted, evicted, failed)
	stop := limit
	if end.Seen() {
		stop = end.T
	}
	if nextPhase < len(createPhases) && stop > prev {
		ph := createPhases[nextPhase]
		phases = append(phases, podtrace.Phase{Name: ph.name, Start: unix(prev), End: unix(stop), Owner: ph.owner})
	}
	return phases
}

// lastPull is the last "Pulled" Event before limit, or the Pulled milestone.
func (p *Pod) lastPull(limit int64) int64 {
	t := p.Marks[MarkImagePulled].T
	for _, f := range p.Facts {
		if f.Source == "event" && f.Reason == "Pulled" && f.First.T <= limit && f.First.T > t {
			t = f.First.T
		}
	}
	return t
}

func (p *Pod) deleteRecord(cluster string) (podtrace.Record, bool) {
	start := p.Marks[MarkDeleteRequested]
	if e := p.Marks[MarkEvicted]; e.Seen() && e.earlier(start) {
		start = e
	}
	gone := p.Marks[MarkGone]
	if !start.Seen() {
		start = gone
	}
	if !start.Seen() {
		return podtrace.Record{}, false
	}
	r := p.base(cluster, podtrace.KindDelete, 0)
	r.Created = start.Time()
	// an accepted eviction decides the pod's fate at once; a plain delete
	// is pending until the pod is gone
	r.Outcome = podtrace.OutcomePending
	if p.Marks[MarkEvicted].Seen() {
		r.Outcome = podtrace.OutcomeEvicted
	}
	stop := p.LastSeen
	if gone.Seen() {
		t := gone.Time()
		if t.Before(r.Created) {
			t = r.Created
		}
		r.Finished = &t
		stop = t.UnixNano()
		r.Outcome = podtrace.OutcomeDeleted
		if p.Marks[MarkEvicted].Seen() {
			r.Outcome = podtrace.OutcomeEvicted
		}
	}
	for _, m := range []Mark{MarkDeleteRequested, MarkEvicted, MarkKilling, MarkGone} {
		if s := p.Marks[m]; s.Seen() {
			r.Milestones = append(r.Milestones, podtrace.Milestone{Name: m.String(), Time: s.Time(), AuditID: s.AuditID})
		}
	}
	sortMilestones(r.Milestones)
	if stop >= start.T {
		r.Phases = append(r.Phases, podtrace.Phase{Name: podtrace.PhaseTermination, Start: start.Time(), End: unix(stop), Owner: podtrace.OwnerPlatform})
	}
	return r, true
}

// upgradeRecords: one per spec generation whose container images differ
// from the generation before, ending when the pod is Ready on them.
func (p *Pod) upgradeRecords(cluster string) []podtrace.Record {
	var out []podtrace.Record
	for i := 1; i < len(p.Generations); i++ {
		prev, g := p.Generations[i-1], p.Generations[i]
		if g.Images == "" || prev.Images == "" || g.Images == prev.Images {
			continue
		}
		r := p.base(cluster, podtrace.KindUpgrade, len(out))
		r.Created = g.At.Time()
		r.Outcome = podtrace.OutcomePending
		r.Milestones = append(r.Milestones, podtrace.Milestone{Name: "spec_updated", Time: g.At.Time(), AuditID: g.At.AuditID})
		stop := p.LastSeen
		if ready, ok := p.ReadyImages[g.Images]; ok && ready.T >= g.At.T {
			t := ready.Time()
			r.Finished = &t
			r.Outcome = podtrace.OutcomeReady
			r.Milestones = append(r.Milestones, podtrace.Milestone{Name: MarkReady.String(), Time: t, AuditID: ready.AuditID})
			stop = ready.T
		} else if d := p.Marks[MarkDeleteRequested]; d.Seen() && d.T >= g.At.T {
			t := d.Time()
			r.Finished = &t
			r.Outcome = podtrace.OutcomeDeleted
			stop = d.T
		}
		if stop >= g.At.T {
			r.Phases = append(r.Phases, podtrace.Phase{Name: podtrace.PhaseContainers, Start: g.At.Time(), End: unix(stop), Owner: podtrace.OwnerPlatform})
		}
		out = append(out, r)
	}
	return out
}

func sortMilestones(ms []podtrace.Milestone) {
	sort.SliceStable(ms, func(i, j int) bool { return ms[i].Time.Before(ms[j].Time) })
}

func unix(ns int64) time.Time { return time.Unix(0, ns).UTC() }
