package lifecycle

import (
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/podtrace/podtrace/decode"
)

// ErrNoRule means no extraction rule matches the event; it proves nothing
// about a pod delivery (a refused create has no pod yet, for example).
var ErrNoRule = errors.New("no extraction rule for this event")

// Loader restores pods that have left memory. A nil *Pod with a nil error
// means the pod is unknown. EventUID is the uid of the pod a journaled
// audit event (key auditID/stage) named, "" if none or unknown.
type Loader interface {
	LoadPod(uid string) (*Pod, error)
	PodsNamed(namespace, name string) ([]Incarnation, error)
	EventUID(key string) (string, error)
}

// Incarnation is one pod (uid) that bore a namespace/name, from its creation.
type Incarnation struct {
	UID     string
	Created int64 // unix ns
}

// Config tunes a Machine.
type Config struct {
	// IdleAfter is how long (in event time) an open pod stays in memory
	// without news before Evict drops it; it is restored on its next event.
	IdleAfter time.Duration
	// MaxWaiting bounds events held for a namespace/name not yet known.
	// A held event whose pod does not appear within IdleAfter (in event
	// time: a pod podtrace never saw created) is dropped by Evict.
	MaxWaiting int
	// MaxClockStep bounds how far one event alone may move the clock (Now)
	// ahead. An event stamped further ahead is applied to its pod all the
	// same, but moves the clock only once another event confirms its time
	// (is stamped within MaxClockStep of it): a cluster quiet for an hour
	// moves the clock on its second event; one event stamped in the far
	// future (a broken clock, a hostile client) does not make every open
	// delivery look stuck.
	MaxClockStep time.Duration
	// ReadyBlip is how soon after a pod's first Ready a status showing it not
	// Ready (while no delete was asked) takes that Ready back: a real kubelet
	// reports a container that dies at once Ready for about a second, and a
	// restarted kubelet reports running containers Ready until their probes
	// say otherwise. A delivery ends at a Ready that holds.
	ReadyBlip time.Duration
	// Wall, if set, is the wall clock of the host receiving the events,
	// and MaxClockSkew how far past it an event may be stamped and still
	// move the event clock: events confirming each other's forged future
	// time (two events dated a century ahead, a minute apart) cannot move
	// it there. Such events are applied to their pods all the same. A clock
	// found past the bound (restored so, or the wall clock stepped back)
	// starts over from the events that follow.
	Wall         func() time.Time
	MaxClockSkew time.Duration
}

// DefaultConfig returns the defaults (no wall clock: see Config.Wall).
func DefaultConfig() Config {
	return Config{IdleAfter: 10 * time.Minute, MaxWaiting: 10000, MaxClockStep: 5 * time.Minute, ReadyBlip: 10 * time.Second, MaxClockSkew: 10 * time.Minute}
}

// maxAhead bounds the unconfirmed times a Machine remembers (the nearest).
const maxAhead = 64

// Stats counts what a Machine did.
type Stats struct {
	Pods           int64 // pods first seen by this machine
	Applied        int64 // events applied to a pod
	NoRule         int64 // events no rule matches
	Waiting        int64 // events held for a pod not yet known (now)
	DroppedWaiting int64 // held events dropped at the bound
	ExpiredWaiting int64 // held events dropped after IdleAfter without their pod
	Restored       int64 // pods loaded back from the store
	Evicted        int64 // pods dropped from memory
	Reapplied      int64 // events skipped: already in the pod's saved state
	ClockAhead     int64 // events stamped too far ahead to move the clock alone, or past the wall clock's bound
}

// Machine applies audit events to pods. It is not safe for concurrent use:
// one goroutine owns it.
type Machine struct {
	cfg     Config
	tables  *tables
	rules   map[string]*rule
	load    Loader
	pods    map[string]*Pod
	names   map[string][]Incarnation
	waiting map[string][]held
	dirty   map[string]*Pod
	now     int64   // the event clock: the machine's only one (see tick)
	ahead   []int64 // times more than MaxClockStep past now, not yet confirmed
	Stats   Stats
}

// New returns a Machine that restores evicted pods through load (may be nil).
func New(cfg Config, load Loader) *Machine {
	t := newTables()
	m := &Machine{
		cfg: cfg, tables: t, load: load, rules: make(map[string]*rule),
		pods: make(map[string]*Pod), names: make(map[string][]Incarnation),
		waiting: make(map[string][]held), dirty: make(map[string]*Pod),
	}
	for i := range t.extract {
		r := &t.extract[i]
		for _, verb := range splitWords(r.verbs) {
			m.rules[ruleKey(verb, r.resource, r.subresource, r.failed)] = r
		}
	}
	return m
}

func ruleKey(verb, resource, sub string, failed bool) string {
	k := verb + " " + resource + "/" + sub
	if failed {
		k += " failed"
	}
	return k
}

func splitWords(s string) []string {
	var out []string
	start := -1
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ' ' {
			if start >= 0 {
				out = append(out, s[start:i])
			}
			start = -1
		} else if start < 0 {
			start = i
		}
	}
	return out
}

// Now is the event clock: the latest time of an event confirmed by another
// one stamped within MaxClockStep of it (see Config).
func (m *Machine) Now() time.Time { return unix(m.now) }

// tick moves the clock for an event at t. The clock is the latest confirmed
// event time, whatever order the events came in (as long as no more than
// maxAhead unconfirmed ones wait at once), so replaying the journal or the
// audit log gives the same clock as receiving the events live.
func (m *Machine) tick(t int64) {
	if m.cfg.Wall != nil {
		bound := m.cfg.Wall().Add(m.cfg.MaxClockSkew).UnixNano()
		if m.now > bound {
			m.now, m.ahead = 0, m.ahead[:0]
		}
		if t > bound {
			m.Stats.ClockAhead++
			return
		}
	}
	step := int64(m.cfg.MaxClockStep)
	if t <= m.now {
		return
	}
	if m.now != 0 && t-m.now <= step { // confirmed by the event at now
		m.advance(t)
		return
	}
	for _, a := range m.ahead {
		if max(t, a)-min(t, a) <= step { // confirmed by an earlier outlier
			m.advance(max(t, a))
			return
		}
	}
	if m.now != 0 { // the first event has nothing to be ahead of
		m.Stats.ClockAhead++
	}
	if len(m.ahead) < maxAhead {
		m.ahead = append(m.ahead, t)
		return
	}
	// full: keep the nearest, so far-future outliers cannot crowd out the
	// times that end a quiet spell
	far := 0
	for i, a := range m.ahead {
		if a > m.ahead[far] {
			far = i
		}
	}
	if t < m.ahead[far] {
		m.ahead[far] = t
	}
}

// advance sets the clock to t, a confirmed time, and on to the unconfirmed
// times it now confirms (within MaxClockStep); it forgets those behind it.
func (m *Machine) advance(t int64) {
	m.now = t
	for moved := true; moved; {
		moved = false
		kept := m.ahead[:0]
		for _, a := range m.ahead {
			switch {
			case a <= m.now:
			case a-m.now <= int64(m.cfg.MaxClockStep):
				m.now, moved = a, true
			default:
				kept = append(kept, a)
			}
		}
		m.ahead = kept
	}
}

// Apply applies one event. Events the machine cannot attribute yet are held
// and applied when their pod appears.
func (m *Machine) Apply(ev *decode.Event) error {
	return m.ApplySeq(ev, 0)
}

// ApplySeq is Apply for an event at journal position seq (> 0): an event
// at or below the pod's Seq is already in its state (the pod was saved
// after it, and the journal's tail is being applied again after a crash)
// and is skipped, counted in Stats.Reapplied.
func (m *Machine) ApplySeq(ev *decode.Event, seq int64) error {
	r := m.rule(ev)
	if r == nil {
		m.Stats.NoRule++
		return ErrNoRule
	}
	m.tick(ev.Time.UnixNano())
	return m.apply(r, ev, seq)
}

func (m *Machine) rule(ev *decode.Event) *rule {
	return m.rules[ruleKey(ev.Verb, ev.Ref.Resource, ev.Ref.Subresource, ev.Code >= 400)]
}

// apply applies an event whose time the clock has seen.
func (m *Machine) apply(r *rule, ev *decode.Event, seq int64) error {
	uid, ns, name := Identify(ev)
	if uid == "" {
		var err error
		if uid, err = m.attribute(ns, name, ev.Time.UnixNano()); err != nil {
			return err
		}
		if uid == "" {
			m.hold(ns+"/"+name, ev, seq)
			return nil
		}
	}
	p, err := m.pod(uid)
	if err != nil {
		return err
	}
	if seq > 0 {
		if seq <= p.Seq {
			m.Stats.Reapplied++
			return nil
		}
		p.Seq = seq
	}
	known := p.Name != ""
	if p.Namespace == "" {
		p.Namespace = ns
	}
	if p.Name == "" {
		p.Name = name
	}
	r.apply(m.tables, p, ev, Stamp{T: ev.Time.UnixNano(), AuditID: ev.AuditID})
	p.settleReady(int64(m.cfg.ReadyBlip))
	p.touch(ev.Time.UnixNano())
	m.Stats.Applied++
	m.dirty[uid] = p
	m.index(p)
	if !known && p.Name != "" {
		m.release(p.Namespace + "/" + p.Name)
	}
	return nil
}

// Identify reads the pod's uid (if the event carries it), namespace and
// name from an event.
func Identify(ev *decode.Event) (uid, ns, name string) {
	if uid, ns, name, ok := refusedCreate(ev); ok {
		return uid, ns, name
	}
	ns, name, uid = ev.Ref.Namespace, ev.Ref.Name, ev.Ref.UID
	if ev.Ref.Resource == "events" {
		name, uid = "", ""
		if e := ev.Event; e != nil {
			ns, name, uid = e.Namespace, e.PodName, e.PodUID
		}
	}
	if p := ev.Pod; p != nil {
		if p.UID != "" {
			uid = p.UID
		}
		if p.Name != "" {
			name = p.Name
		}
		if p.Namespace != "" {
			ns = p.Namespace
		}
	}
	return uid, ns, name
}

// attribute finds the incarnation of ns/name alive at time t.
func (m *Machine) attribute(ns, name string, t int64) (string, error) {
	if name == "" {
		return "", nil
	}
	key := ns + "/" + name
	incs := m.names[key]
	if len(incs) == 0 && m.load != nil {
		var err error
		if incs, err = m.load.PodsNamed(ns, name); err != nil {
			return "", fmt.Errorf("look up pod %s: %w", key, err)
		}
	}
	best := ""
	var bestT int64
	for _, inc := range incs {
		if inc.Created <= t && (best == "" || inc.Created > bestT) {
			best, bestT = inc.UID, inc.Created
		}
	}
	if best == "" && len(incs) > 0 {
		// event stamped before every known creation (clock skew): the first
		best = incs[0].UID
		for _, inc := range incs {
			if inc.Created < bestT || bestT == 0 {
				best, bestT = inc.UID, inc.Created
			}
		}
	}
	return best, nil
}

// held is an event waiting for its pod, with its journal seq (0 if none).
type held struct {
	ev  *decode.Event
	seq int64
}

func (m *Machine) hold(key string, ev *decode.Event, seq int64) {
	if m.Stats.Waiting >= int64(m.cfg.MaxWaiting) {
		m.Stats.DroppedWaiting++
		return
	}
	cp := *ev
	cp.Patch = append([]byte(nil), ev.Patch...)
	m.waiting[key] = append(m.waiting[key], held{&cp, seq})
	m.Stats.Waiting++
}

// Rehold holds again, after a restart, an event journaled at seq that
// names its pod only by name, if no pod of that name is known: one known
// got its name after the event was held, and the event was applied to it
// then (release). It reports whether the event is held.
func (m *Machine) Rehold(ev *decode.Event, seq int64) (bool, error) {
	if m.rule(ev) == nil {
		return false, nil
	}
	uid, ns, name := Identify(ev)
	if uid != "" || name == "" {
		return false, nil
	}
	found, err := m.attribute(ns, name, ev.Time.UnixNano())
	if err != nil || found != "" {
		return false, err
	}
	m.hold(ns+"/"+name, ev, seq)
	return true, nil
}

// OldestHeld is the journal seq of the oldest event held for a pod not
// known yet, 0 if none: the events are only in memory, so after a restart
// the pipeline holds them again from the journal (Rehold).
func (m *Machine) OldestHeld() int64 {
	var oldest int64
	for _, hs := range m.waiting {
		for _, h := range hs {
			if h.seq > 0 && (oldest == 0 || h.seq < oldest) {
				oldest = h.seq
			}
		}
	}
	return oldest
}

func (m *Machine) release(key string) {
	held := m.waiting[key]
	if len(held) == 0 {
		return
	}
	delete(m.waiting, key)
	m.Stats.Waiting -= int64(len(held))
	for _, h := range held {
		m.apply(m.rule(h.ev), h.ev, 0) // cannot be held again: the name is now known
	}
}

// pod returns the pod with the uid: in memory, restored, or new.
func (m *Machine) pod(uid string) (*Pod, error) {
	if p := m.pods[uid]; p != nil {
		return p, nil
	}
	if m.load != nil {
		p, err := m.load.LoadPod(uid)
		if err != nil {
			return nil, fmt.Errorf("restore pod %s: %w", uid, err)
		}
		if p != nil {
			m.Stats.Restored++
			m.pods[uid] = p
			return p, nil
		}
	}
	p := &Pod{UID: uid}
	m.pods[uid] = p
	m.Stats.Pods++
	return p, nil
}

// index records the pod under its name, with its creation time.
func (m *Machine) index(p *Pod) {
	if p.Name == "" {
		return
	}
	key := p.Namespace + "/" + p.Name
	c := p.created().T
	incs := m.names[key]
	for i := range incs {
		if incs[i].UID == p.UID {
			incs[i].Created = c
			return
		}
	}
	m.names[key] = append(incs, Incarnation{UID: p.UID, Created: c})
}

// Dirty returns the pods changed since the last call, sorted by uid, and
// forgets that they changed.
func (m *Machine) Dirty() []*Pod {
	out := make([]*Pod, 0, len(m.dirty))
	for _, p := range m.dirty {
		out = append(out, p)
	}
	clear(m.dirty)
	sort.Slice(out, func(i, j int) bool { return out[i].UID < out[j].UID })
	return out
}

// Evict drops from memory the pods that are finished (gone) or idle longer
// than IdleAfter in event time. The caller must have stored them (every
// pod returned by Dirty) first; evicted pods are restored through the Loader.
// It also drops the events held longer than IdleAfter for a pod that never
// appeared (Stats.ExpiredWaiting).
func (m *Machine) Evict() int {
	n := 0
	idle := m.now - int64(m.cfg.IdleAfter)
	for uid, p := range m.pods {
		if _, dirty := m.dirty[uid]; dirty {
			continue
		}
		if p.Marks[MarkGone].Seen() || p.LastSeen < idle {
			delete(m.pods, uid)
			m.unindex(p)
			n++
		}
	}
	m.Stats.Evicted += int64(n)
	for key, hs := range m.waiting {
		kept := hs[:0]
		for _, h := range hs {
			if h.ev.Time.UnixNano() >= idle {
				kept = append(kept, h)
			}
		}
		if expired := len(hs) - len(kept); expired > 0 {
			m.Stats.ExpiredWaiting += int64(expired)
			m.Stats.Waiting -= int64(expired)
			clear(hs[len(kept):])
		}
		if len(kept) == 0 {
			delete(m.waiting, key)
		} else {
			m.waiting[key] = kept
		}
	}
	return n
}

func (m *Machine) unindex(p *Pod) {
	key := p.Namespace + "/" + p.Name
	incs := m.names[key]
	for i := range incs {
		if incs[i].UID == p.UID {
			incs = append(incs[:i], incs[i+1:]...)
			break
		}
	}
	if len(incs) == 0 {
		delete(m.names, key)
	} else {
		m.names[key] = incs
	}
}

// MarkDirty marks pods changed again (their save failed).
func (m *Machine) MarkDirty(pods []*Pod) {
	for _, p := range pods {
		m.dirty[p.UID] = p
	}
}

// Len is the number of pods in memory.
func (m *Machine) Len() int { return len(m.pods) }

// Pod returns the in-memory pod with the uid, or nil.
func (m *Machine) Pod(uid string) *Pod { return m.pods[uid] }
