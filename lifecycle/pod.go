package lifecycle

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/podtrace/podtrace/decode"
)

// Mark names a milestone. The order of the constants is the delivery order.
type Mark uint8

// Milestones.
const (
	MarkRequested Mark = iota
	MarkCreated
	MarkScheduled
	MarkVolumesMounted
	MarkInitialized
	MarkSandboxReady
	MarkImagePulling
	MarkImagePulled
	MarkContainersCreated
	MarkContainersStarted
	MarkReady
	MarkSucceeded
	MarkFailed
	MarkDeleteRequested
	MarkEvicted
	MarkKilling
	MarkGone
	numMarks
)

var markNames = [numMarks]string{
	"requested", "created", "scheduled", "volumes_mounted", "initialized",
	"sandbox_ready", "image_pulling", "image_pulled", "containers_created",
	"containers_started", "ready", "succeeded", "failed", "delete_requested",
	"evicted", "killing", "gone",
}

func (m Mark) String() string { return markNames[m] }

// Stamp is when something was first proven, and by which audit event.
type Stamp struct {
	T       int64  `json:"t"` // unix nanoseconds; 0 = not seen
	AuditID string `json:"a,omitempty"`
}

// Time returns the stamp as a time.
func (s Stamp) Time() time.Time { return time.Unix(0, s.T).UTC() }

// Seen reports whether the stamp is set.
func (s Stamp) Seen() bool { return s.T != 0 }

// earlier reports whether s should replace o as the first proof.
func (s Stamp) earlier(o Stamp) bool {
	return o.T == 0 || s.T < o.T || (s.T == o.T && s.AuditID < o.AuditID)
}

// Fact is something notable the pod went through: a Kubernetes Event, a
// waiting or terminated container reason, a failed condition, a rejected
// request, the finalizers holding it once deleted. Facts are evidence for
// diagnosis.
type Fact struct {
	Source    string `json:"s"`           // event, container, condition, status, request, finalizer
	Reason    string `json:"r"`           // Event reason, container reason, condition reason, HTTP status
	Message   string `json:"m,omitempty"` // truncated to maxMessage
	Warning   bool   `json:"w,omitempty"`
	Container string `json:"c,omitempty"`
	Component string `json:"o,omitempty"` // who reported it
	Code      int64  `json:"x,omitempty"` // exit code, HTTP code, or count of a condition
	Count     int64  `json:"n,omitempty"`
	First     Stamp  `json:"f"`
	Last      Stamp  `json:"l"`
}

func (f *Fact) key() string {
	return f.Source + "\x00" + f.Reason + "\x00" + f.Container + "\x00" + f.Message
}

// Status is the latest observed pod status, reduced to what podtrace reads.
type Status struct {
	At         Stamp              `json:"at"`
	Phase      string             `json:"phase,omitempty"`
	Reason     string             `json:"reason,omitempty"`
	Message    string             `json:"message,omitempty"`
	PodIP      string             `json:"ip,omitempty"`
	Conditions []decode.Condition `json:"conds,omitempty"`
	Containers []ContainerState   `json:"ctrs,omitempty"`
	Init       []ContainerState   `json:"init,omitempty"`
}

// ContainerState is a container's latest status.
type ContainerState struct {
	Name     string `json:"n"`
	Image    string `json:"i,omitempty"`
	Ready    bool   `json:"r,omitempty"`
	State    string `json:"s,omitempty"` // waiting, running, terminated
	Reason   string `json:"why,omitempty"`
	ExitCode int64  `json:"x,omitempty"`
	Restarts int64  `json:"rc,omitempty"`
}

// Spec is the pod spec, reduced to what analyses read.
type Spec struct {
	At             Stamp              `json:"at"`
	Generation     int64              `json:"gen,omitempty"`
	Containers     []decode.Container `json:"ctrs,omitempty"`
	InitContainers []decode.Container `json:"init,omitempty"`
	Volumes        []decode.Volume    `json:"vols,omitempty"`
	Labels         map[string]string  `json:"labels,omitempty"`
	Selector       int                `json:"sel,omitempty"`
	Affinity       bool               `json:"aff,omitempty"`
	Gates          []string           `json:"gates,omitempty"`
	ReadinessGates []string           `json:"rgates,omitempty"`
	MilliCPU       int64              `json:"cpu,omitempty"`
	Memory         int64              `json:"mem,omitempty"`
	GPU            int64              `json:"gpu,omitempty"`
	Extended       bool               `json:"ext,omitempty"`
	Grace          int64              `json:"grace"`
	RestartPolicy  string             `json:"restart,omitempty"`
	Priority       string             `json:"prio,omitempty"`
	Finalizers     []string           `json:"fin,omitempty"`
}

// Generation is one generation of the spec's container images, used to
// find in-place upgrades.
type Generation struct {
	Gen    int64  `json:"g"`
	Images string `json:"i"`
	At     Stamp  `json:"at"`
}

// Pod is everything podtrace knows of one pod incarnation (one uid).
type Pod struct {
	UID       string `json:"uid"`
	Namespace string `json:"ns"`
	Name      string `json:"name"`
	Node      string `json:"node,omitempty"`
	OwnerKind string `json:"ok,omitempty"`
	OwnerName string `json:"on,omitempty"`
	// CreatedAt is metadata.creationTimestamp (second precision), for pods
	// whose create request podtrace never saw.
	CreatedAt   int64            `json:"cts,omitempty"`
	Marks       [numMarks]Stamp  `json:"marks"`
	Facts       []Fact           `json:"facts,omitempty"`
	Status      Status           `json:"status"`
	Spec        Spec             `json:"spec"`
	Generations []Generation     `json:"gens,omitempty"`
	ReadyImages map[string]Stamp `json:"rimg,omitempty"`
	Grace       int64            `json:"dgrace,omitempty"` // grace period of the delete request
	// ReadyAt and UnreadyAt are the statuses seen showing the pod Ready,
	// and not Ready, the earliest maxReadyObs of each: MarkReady is the
	// first Ready no not-Ready follows within Config.ReadyBlip (settleReady).
	ReadyAt   []Stamp   `json:"rdy,omitempty"`
	UnreadyAt []int64   `json:"unrdy,omitempty"`
	Spans     []SpanRef `json:"spans,omitempty"`
	LastSeen  int64     `json:"seen"` // latest event time, unix ns
	// Seq is the journal seq of the last event applied (ApplySeq): an
	// event at or below it is already in this state and is skipped.
	Seq int64 `json:"jseq,omitempty"`
	// Reported lists the records already reported closed (kind/seq), so
	// each closure is reported once, across restarts too.
	Reported []string `json:"rep,omitempty"`

	revisited int64 // event time Machine.Revisit last marked the pod, unix ns
}

// SpanRef is a component span (an apiserver request, a kubelet sync, a CRI
// call) joined to the pod by the correlate package, kept with the pod's state.
type SpanRef struct {
	Service string `json:"svc"`
	Name    string `json:"n"`
	Start   int64  `json:"s"`            // unix ns
	End     int64  `json:"e"`            // unix ns
	Status  string `json:"st,omitempty"` // ok, error; empty: unset
	TraceID string `json:"t"`            // hex
	SpanID  string `json:"i"`            // hex
	Parent  string `json:"p,omitempty"`  // hex
	// AuditID is the audit event an apiserver request span served.
	AuditID string `json:"a,omitempty"`
	// Rank orders spans for the bound: higher ranks are dropped first.
	Rank uint8 `json:"r,omitempty"`
}

func (s *SpanRef) before(o *SpanRef) bool {
	if s.Start != o.Start {
		return s.Start < o.Start
	}
	return s.SpanID < o.SpanID
}

// AddSpan adds s to the pod's spans once (by span id), sorted by start, and
// keeps at most limit: beyond it the latest span of the highest rank goes,
// so the set kept does not depend on arrival order. It reports whether the
// pod's spans changed.
func (p *Pod) AddSpan(s SpanRef, limit int) bool {
	for i := range p.Spans {
		if p.Spans[i].SpanID == s.SpanID && p.Spans[i].TraceID == s.TraceID {
			return false
		}
	}
	i := sort.Search(len(p.Spans), func(i int) bool { return s.before(&p.Spans[i]) })
	p.Spans = append(p.Spans, SpanRef{})
	copy(p.Spans[i+1:], p.Spans[i:])
	p.Spans[i] = s
	if len(p.Spans) <= limit {
		return true
	}
	drop := 0
	for j := range p.Spans {
		if d := &p.Spans[drop]; p.Spans[j].Rank > d.Rank || (p.Spans[j].Rank == d.Rank && d.before(&p.Spans[j])) {
			drop = j
		}
	}
	dropped := p.Spans[drop].SpanID == s.SpanID && p.Spans[drop].TraceID == s.TraceID
	p.Spans = append(p.Spans[:drop], p.Spans[drop+1:]...)
	return !dropped
}

// JournaledPod returns the uid of the pod the journaled audit event with the
// key (auditID/stage) named, through the machine's Loader; "" if unknown.
func (m *Machine) JournaledPod(key string) (string, error) {
	if m.load == nil {
		return "", nil
	}
	return m.load.EventUID(key)
}

// Lookup returns the pod with the uid if the machine knows it, in memory or
// restored through its Loader, or nil; unlike Apply it never creates one.
// Callers that change the pod mark it dirty (MarkDirty) to have it saved.
func (m *Machine) Lookup(uid string) (*Pod, error) {
	if p := m.pods[uid]; p != nil {
		return p, nil
	}
	if m.load == nil {
		return nil, nil
	}
	p, err := m.load.LoadPod(uid)
	if err != nil {
		return nil, fmt.Errorf("restore pod %s: %w", uid, err)
	}
	if p == nil {
		return nil, nil
	}
	m.Stats.Restored++
	m.pods[uid] = p
	m.index(p)
	return p, nil
}

// Limits bound what one pod may hold.
const (
	maxFacts       = 32
	maxMessage     = 512
	maxGenerations = 8
	maxReadyImages = 8
)

// mark records stamp s for milestone m if it is the earliest proof.
func (p *Pod) mark(m Mark, s Stamp) bool {
	if s.T == 0 || !s.earlier(p.Marks[m]) {
		return false
	}
	p.Marks[m] = s
	return true
}

// addFact merges f into the pod's facts: same key → counts and times merge.
// When over the limit, the latest normal facts go first, then the latest
// warnings, so the set kept does not depend on arrival order.
func (p *Pod) addFact(f Fact) {
	if len(f.Message) > maxMessage {
		f.Message = truncate(f.Message, maxMessage)
	}
	if f.Count == 0 {
		f.Count = 1
	}
	k := f.key()
	for i := range p.Facts {
		g := &p.Facts[i]
		if g.key() != k {
			continue
		}
		if f.First.earlier(g.First) {
			g.First = f.First
		}
		if g.Last.T == 0 || f.Last.T > g.Last.T || (f.Last.T == g.Last.T && f.Last.AuditID > g.Last.AuditID) {
			g.Last = f.Last
		}
		if f.Count > g.Count {
			g.Count = f.Count
		}
		if f.Code != 0 && g.Code == 0 {
			g.Code = f.Code
		}
		if f.Component != "" && (g.Component == "" || f.Component < g.Component) {
			g.Component = f.Component
		}
		return
	}
	p.Facts = append(p.Facts, f)
	sortFacts(p.Facts)
	if len(p.Facts) > maxFacts {
		// drop the last normal fact if any, else the last warning
		drop := len(p.Facts) - 1
		for i := len(p.Facts) - 1; i >= 0; i-- {
			if !p.Facts[i].Warning {
				drop = i
				break
			}
		}
		p.Facts = append(p.Facts[:drop], p.Facts[drop+1:]...)
	}
}

func sortFacts(fs []Fact) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.First.T != b.First.T {
			return a.First.T < b.First.T
		}
		return a.key() < b.key()
	})
}

// setStatus replaces the status snapshot if s is newer.
func (p *Pod) setStatus(s Status) {
	if p.Status.At.T != 0 && !newer(s.At, p.Status.At) {
		return
	}
	p.Status = s
}

// setSpec replaces the spec snapshot if s is of a later generation, or the
// same generation observed later.
func (p *Pod) setSpec(s Spec) {
	if p.Spec.At.T != 0 {
		if s.Generation < p.Spec.Generation || (s.Generation == p.Spec.Generation && !newer(s.At, p.Spec.At)) {
			return
		}
	}
	p.Spec = s
}

func newer(a, b Stamp) bool { return a.T > b.T || (a.T == b.T && a.AuditID > b.AuditID) }

// addGeneration remembers the images of a spec generation, first proof wins.
func (p *Pod) addGeneration(g Generation) {
	for i := range p.Generations {
		if p.Generations[i].Gen == g.Gen {
			if g.At.earlier(p.Generations[i].At) {
				p.Generations[i].At = g.At
			}
			if g.Images != "" && p.Generations[i].Images == "" {
				p.Generations[i].Images = g.Images
			}
			return
		}
	}
	p.Generations = append(p.Generations, g)
	sort.Slice(p.Generations, func(i, j int) bool { return p.Generations[i].Gen < p.Generations[j].Gen })
	if len(p.Generations) > maxGenerations {
		p.Generations = p.Generations[len(p.Generations)-maxGenerations:]
	}
}

// addReadyImages remembers the first time the pod was Ready on an image set.
func (p *Pod) addReadyImages(images string, s Stamp) {
	if p.ReadyImages == nil {
		p.ReadyImages = make(map[string]Stamp, 1)
	}
	if old, ok := p.ReadyImages[images]; ok && !s.earlier(old) {
		return
	}
	if _, ok := p.ReadyImages[images]; !ok && len(p.ReadyImages) >= maxReadyImages {
		return
	}
	p.ReadyImages[images] = s
}

// MarkReported records that the record with key was reported closed and
// says whether this is the first time.
func (p *Pod) MarkReported(key string) bool {
	for _, k := range p.Reported {
		if k == key {
			return false
		}
	}
	p.Reported = append(p.Reported, key)
	return true
}

// UnmarkReported takes MarkReported(key) back: the report did not happen
// (the save that was to carry it failed).
func (p *Pod) UnmarkReported(key string) {
	for i, k := range p.Reported {
		if k == key {
			p.Reported = append(p.Reported[:i], p.Reported[i+1:]...)
			return
		}
	}
}

// CreatedNano is the pod's best known creation time, unix ns.
func (p *Pod) CreatedNano() int64 { return p.created().T }

func (p *Pod) touch(t int64) {
	if t > p.LastSeen {
		p.LastSeen = t
	}
}

// created is the best known start of the pod's life.
func (p *Pod) created() Stamp {
	switch {
	case p.Marks[MarkRequested].Seen():
		return p.Marks[MarkRequested]
	case p.Marks[MarkCreated].Seen():
		return p.Marks[MarkCreated]
	case p.CreatedAt != 0:
		return Stamp{T: p.CreatedAt}
	}
	// first seen: the earliest milestone or fact
	var first Stamp
	for _, m := range p.Marks {
		if m.Seen() && m.earlier(first) {
			first = m
		}
	}
	for _, f := range p.Facts {
		if f.First.Seen() && f.First.earlier(first) {
			first = f.First
		}
	}
	return first
}

// normImage strips the default registry so spec and status images compare.
func normImage(s string) string {
	s = strings.TrimPrefix(s, "docker.io/")
	return strings.TrimPrefix(s, "library/")
}

func imagesOf(cs []decode.Container) string {
	var b strings.Builder
	for i, c := range cs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(c.Name)
		b.WriteByte('=')
		b.WriteString(normImage(c.Image))
	}
	return b.String()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// cut on a rune boundary
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}

// maxReadyObs bounds ReadyAt and UnreadyAt: a crash loop blips Ready once a
// restart, and its first restarts are the ones that explain it.
const maxReadyObs = 32

// observeReady records a status's readiness: ready (a Ready that counts,
// see statusRules), else the Ready condition c (nil: the status says
// nothing of it).
func (p *Pod) observeReady(ready bool, c *decode.Condition, at Stamp) {
	switch {
	case ready:
		p.ReadyAt = insertSorted(p.ReadyAt, at, func(a, b Stamp) bool { return a != b && a.earlier(b) })
	case c != nil && c.Status == "False":
		p.UnreadyAt = insertSorted(p.UnreadyAt, at.T, func(a, b int64) bool { return a < b })
	}
}

// insertSorted inserts v into the sorted set s, keeping its maxReadyObs
// smallest elements.
func insertSorted[T comparable](s []T, v T, less func(a, b T) bool) []T {
	i := 0
	for i < len(s) && less(s[i], v) {
		i++
	}
	if (i < len(s) && s[i] == v) || i >= maxReadyObs {
		return s
	}
	s = slices.Insert(s, i, v)
	if len(s) > maxReadyObs {
		s = s[:maxReadyObs]
	}
	return s
}

// settleReady sets MarkReady to the first Ready that held: no status showed
// the pod not Ready within blip after it, before a delete or eviction was
// asked. A function of the statuses seen, whatever their order.
func (p *Pod) settleReady(blip int64) {
	if len(p.ReadyAt) == 0 {
		return // a state saved before ReadyAt existed keeps its mark
	}
	stop := int64(math.MaxInt64)
	for _, m := range []Mark{MarkDeleteRequested, MarkEvicted} {
		if s := p.Marks[m]; s.Seen() && s.T < stop {
			stop = s.T
		}
	}
	p.Marks[MarkReady] = Stamp{}
	for _, r := range p.ReadyAt {
		held := true
		for _, u := range p.UnreadyAt {
			if u > r.T && u-r.T <= blip && u < stop {
				held = false
				break
			}
		}
		if held {
			p.Marks[MarkReady] = r
			return
		}
	}
}
