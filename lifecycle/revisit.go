package lifecycle

import "time"

// Revisit marks dirty the pods in memory with an open delivery that have
// been silent for at least every of event time since their latest event or
// revisit, and returns how many it marked. Deriving their records again
// lets the analyses see an open delivery age: a pod nobody schedules, a
// delete held by a finalizer or an app that never gets Ready gets the
// finding (and SLO verdict) its age calls for even when no event about it
// arrives. Only the clock (events about other pods) moves time on; pods
// evicted from memory after IdleAfter are not revisited.
func (m *Machine) Revisit(every time.Duration) int {
	if every <= 0 {
		return 0
	}
	n := 0
	for uid, p := range m.pods {
		if m.now-max(p.LastSeen, p.revisited) < int64(every) || !p.open() {
			continue
		}
		p.revisited = m.now
		m.dirty[uid] = p
		n++
	}
	return n
}

// open reports whether one of the pod's deliveries may still end or change
// its findings as time passes.
func (p *Pod) open() bool {
	switch {
	case p.Marks[MarkGone].Seen():
		return false
	case p.Marks[MarkDeleteRequested].Seen() || p.Marks[MarkEvicted].Seen():
		return true // the delete delivery runs until the pod is gone
	case !p.Marks[MarkReady].Seen() && !p.Marks[MarkSucceeded].Seen() && !p.Marks[MarkFailed].Seen():
		return true // the create delivery runs
	}
	for _, r := range p.upgradeRecords("") {
		if r.Finished == nil {
			return true
		}
	}
	return false
}
