package lifecycle_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/podtrace/podtrace/decode"
	"github.com/podtrace/podtrace/lifecycle"
)

// shifted copies ev as another event (its own auditID) stamped d later.
func shifted(ev *decode.Event, id string, d time.Duration) *decode.Event {
	cp := *ev
	cp.AuditID = id
	cp.Time = ev.Time.Add(d)
	return &cp
}

// outliers are n events a day apart, from a day after ev.
func outliers(ev *decode.Event, n int) []*decode.Event {
	var out []*decode.Event
	for i := range n {
		out = append(out, shifted(ev, fmt.Sprintf("outlier-%d", i), time.Duration(i+1)*24*time.Hour))
	}
	return out
}

func latest(evs []*decode.Event) time.Time {
	var t time.Time
	for _, ev := range evs {
		if ev.Time.After(t) {
			t = ev.Time
		}
	}
	return t
}

// clockAfter applies evs to a new machine and returns its clock and stats.
func clockAfter(t *testing.T, evs []*decode.Event) (time.Time, lifecycle.Stats) {
	t.Helper()
	return clockAt(t, lifecycle.DefaultConfig(), evs)
}

func clockAt(t *testing.T, cfg lifecycle.Config, evs []*decode.Event) (time.Time, lifecycle.Stats) {
	t.Helper()
	m := lifecycle.New(cfg, nil)
	apply(t, m, evs)
	return m.Now(), m.Stats
}

// TestClockBound: an event stamped far ahead of the others is applied to its
// pod but does not move the event clock alone; a second event confirming
// its time (a quiet spell ending) does; the clock is the same whatever the
// order of the events.
func TestClockBound(t *testing.T) {
	evs := readEvents(t, "../testdata/"+captures[0]+"/audit.log")
	end := latest(evs)
	step := lifecycle.DefaultConfig().MaxClockStep

	if now, st := clockAfter(t, evs); !now.Equal(end) || st.ClockAhead != 0 {
		t.Fatalf("capture: clock %v (%d ahead), want its latest event %v", now, st.ClockAhead, end)
	}

	last := evs[len(evs)-1]
	for _, c := range []struct {
		name  string
		extra []*decode.Event
		want  time.Time
		ahead int64
	}{
		{"an event a day ahead", []*decode.Event{shifted(last, "future-1", 24*time.Hour)}, end, 1},
		{"an event just within the step", []*decode.Event{shifted(last, "near-1", step)}, last.Time.Add(step), 0},
		{"a hundred years ahead, then the capture goes on", []*decode.Event{shifted(last, "future-1", 100*365*24*time.Hour), shifted(last, "next-1", time.Second)}, last.Time.Add(time.Second), 1},
		{"a quiet spell of two hours, then two events", []*decode.Event{shifted(last, "later-1", 2*time.Hour), shifted(last, "later-2", 2*time.Hour+time.Second)}, last.Time.Add(2*time.Hour + time.Second), 1},
		{"two lone outliers far apart", []*decode.Event{shifted(last, "future-1", 24*time.Hour), shifted(last, "future-2", 48*time.Hour)}, end, 2},
		{"an event from the far past", []*decode.Event{shifted(last, "past-1", -100*365*24*time.Hour)}, end, 0},
		{"a hundred lone outliers, then a quiet spell of two hours", append(outliers(last, 100),
			shifted(last, "later-1", 2*time.Hour), shifted(last, "later-2", 2*time.Hour+time.Second)), last.Time.Add(2*time.Hour + time.Second), 101},
	} {
		t.Run(c.name, func(t *testing.T) {
			all := append(append([]*decode.Event(nil), evs...), c.extra...)
			now, st := clockAfter(t, all)
			if !now.Equal(c.want) || st.ClockAhead != c.ahead {
				t.Errorf("in order: clock %v with %d ahead, want %v with %d", now, st.ClockAhead, c.want, c.ahead)
			}
			if st.Applied != int64(len(all)) {
				t.Errorf("%d of %d events applied: none may be lost", st.Applied, len(all))
			}
			r := rand.New(rand.NewPCG(7, uint64(len(c.name))))
			for range 20 {
				r.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
				if now, _ := clockAfter(t, all); !now.Equal(c.want) {
					t.Fatalf("shuffled: clock %v, want %v", now, c.want)
				}
			}
		})
	}

	// the outlier's own pod keeps its time: the event is not lost
	m := lifecycle.New(lifecycle.DefaultConfig(), nil)
	apply(t, m, evs)
	uid, _, _ := lifecycle.Identify(last)
	far := shifted(last, "future-1", 24*time.Hour)
	apply(t, m, []*decode.Event{far})
	if p := m.Pod(uid); p == nil || p.LastSeen != far.Time.UnixNano() {
		t.Errorf("the far event did not reach its pod %s", uid)
	}
	if !m.Now().Equal(end) {
		t.Errorf("clock %v, want %v", m.Now(), end)
	}
}

// TestClockWallBound: events stamped past the wall clock's bound
// (MaxClockSkew) never move the event clock, even confirming each other
// (two forged events a century ahead, a minute apart, used to move it
// there for good), whatever their order; events within it do. A clock
// found past the bound starts over from the events that follow.
func TestClockWallBound(t *testing.T) {
	evs := readEvents(t, "../testdata/"+captures[0]+"/audit.log")
	end := latest(evs)
	last := evs[len(evs)-1]
	wall := end.Add(time.Minute) // the capture is received live
	cfg := lifecycle.DefaultConfig()
	cfg.Wall = func() time.Time { return wall }
	century := 100 * 365 * 24 * time.Hour
	for _, c := range []struct {
		name  string
		extra []*decode.Event
		want  time.Time
	}{
		{"two forged events a century ahead, a minute apart", []*decode.Event{shifted(last, "forged-1", century), shifted(last, "forged-2", century+time.Minute)}, end},
		{"sixty forged events a minute apart", forged(last, century, 60), end},
		{"two events within the skew", []*decode.Event{shifted(last, "near-1", 6*time.Minute), shifted(last, "near-2", 7*time.Minute)}, last.Time.Add(7 * time.Minute)},
	} {
		t.Run(c.name, func(t *testing.T) {
			all := append(append([]*decode.Event(nil), evs...), c.extra...)
			r := rand.New(rand.NewPCG(9, uint64(len(c.name))))
			for i := range 10 {
				if now, st := clockAt(t, cfg, all); !now.Equal(c.want) || st.Applied != int64(len(all)) {
					t.Fatalf("order %d: clock %v with %d of %d applied, want %v", i, now, st.Applied, len(all), c.want)
				}
				r.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
			}
		})
	}
	// a clock that got past the bound (the host's clock was a century
	// ahead, then set right) starts over with the events that follow
	wall = end.Add(century + time.Hour)
	m := lifecycle.New(cfg, nil)
	apply(t, m, append(append([]*decode.Event(nil), evs...), forged(last, century, 2)...))
	if m.Now().Before(end.Add(century)) {
		t.Fatalf("the forged events within the bound did not move the clock (%v): the test proves nothing", m.Now())
	}
	wall = end.Add(time.Minute)
	apply(t, m, []*decode.Event{shifted(last, "after-1", time.Second), shifted(last, "after-2", 2*time.Second)})
	if want := last.Time.Add(2 * time.Second); !m.Now().Equal(want) {
		t.Errorf("clock %v after the bound, want %v", m.Now(), want)
	}
}

// forged are n events a minute apart from d after ev.
func forged(ev *decode.Event, d time.Duration, n int) []*decode.Event {
	var out []*decode.Event
	for i := range n {
		out = append(out, shifted(ev, fmt.Sprintf("forged-%d", i), d+time.Duration(i)*time.Minute))
	}
	return out
}
