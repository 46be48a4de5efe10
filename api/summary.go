package api

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/podtrace/podtrace"
)

// scan calls fn for each record f selects, newest first, reading pages of
// the store, until fn returns false or after max records. It returns how
// many it read and whether it stopped at the bound.
func (a *API) scan(ctx context.Context, f podtrace.RecordFilter, max int, fn func(*podtrace.Record) bool) (int, bool, error) {
	f.Limit = min(1000, max)
	n := 0
	for {
		recs, next, err := a.store.Records(ctx, f)
		if err != nil {
			return n, false, fmt.Errorf("scan records: %w", err)
		}
		for i := range recs {
			if n == max {
				return n, true, nil
			}
			n++
			if !fn(&recs[i]) {
				return n, false, nil
			}
		}
		if next == "" {
			return n, false, nil
		}
		f.Cursor = next
	}
}

// briefs calls fn with the brief of each record f selects, newest first,
// up to max of them. It returns how many it read and whether it stopped at
// the bound.
func (a *API) briefs(ctx context.Context, f podtrace.RecordFilter, max int, fn func(*podtrace.Brief)) (int, bool, error) {
	f.Limit = max + 1 // one more, to know whether the bound stopped the reading
	n, truncated := 0, false
	err := a.store.Briefs(ctx, f, func(b *podtrace.Brief) bool {
		if n == max {
			truncated = true
			return false
		}
		n++
		fn(b)
		return true
	})
	if err != nil {
		return n, false, fmt.Errorf("read briefs: %w", err)
	}
	return n, truncated, nil
}

// Window says which deliveries a summary covers.
type Window struct {
	Since     *time.Time `json:"since" doc:"null: from the oldest"`
	Until     *time.Time `json:"until" doc:"null: to the newest"`
	Step      string     `json:"step,omitempty" doc:"bucket width of the series, when asked for"`
	Scanned   int        `json:"scanned" doc:"deliveries read"`
	Truncated bool       `json:"truncated" doc:"true when the server's scan bound stopped the reading: narrow the window"`
}

func (w window) describe(scanned int, truncated bool) Window {
	out := Window{Scanned: scanned, Truncated: truncated}
	if !w.filter.Since.IsZero() {
		out.Since = &w.filter.Since
	}
	if !w.filter.Until.IsZero() {
		out.Until = &w.filter.Until
	}
	if w.step > 0 {
		out.Step = w.step.String()
	}
	return out
}

// Percentiles of a set of durations, in seconds; null without data.
type Percentiles struct {
	P50 *float64 `json:"p50"`
	P90 *float64 `json:"p90"`
	P99 *float64 `json:"p99"`
}

// percentiles uses the nearest-rank method; xs is sorted in place.
func percentiles(xs []float64) Percentiles {
	if len(xs) == 0 {
		return Percentiles{}
	}
	slices.Sort(xs)
	at := func(p float64) *float64 {
		i := int(math.Ceil(p*float64(len(xs)))) - 1
		v := xs[max(i, 0)]
		return &v
	}
	return Percentiles{P50: at(0.50), P90: at(0.90), P99: at(0.99)}
}

func ratio(n, d int) *float64 {
	if d == 0 {
		return nil
	}
	v := float64(n) / float64(d)
	return &v
}

// SLOSummary is SLO compliance and latency per group.
type SLOSummary struct {
	Window  Window     `json:"window"`
	GroupBy string     `json:"group_by" enum:"namespace,owner_kind,node"`
	Overall SLOGroup   `json:"overall" doc:"all deliveries of the window"`
	Groups  []SLOGroup `json:"groups" doc:"by most deliveries"`
	// Worst are the slowest finished deliveries.
	Worst []PodSummary `json:"worst" doc:"the 10 slowest finished deliveries"`
}

// SLOGroup is one group's figures.
type SLOGroup struct {
	Key        string      `json:"key" doc:"the group's namespace, owner kind or node; empty for none"`
	Deliveries int         `json:"deliveries"`
	Finished   int         `json:"finished"`
	Judged     int         `json:"judged" doc:"deliveries with an SLO verdict"`
	Met        int         `json:"met"`
	MetRatio   *float64    `json:"met_ratio" doc:"met / judged; null when none was judged"`
	Total      Percentiles `json:"total" doc:"of finished deliveries"`
	Platform   Percentiles `json:"platform"`
	User       Percentiles `json:"user"`
	Series     []SLOBucket `json:"series,omitempty" doc:"with step: the buckets that hold deliveries, oldest first"`
}

// SLOBucket is a group's figures over one time bucket.
type SLOBucket struct {
	Start      time.Time   `json:"start"`
	Deliveries int         `json:"deliveries"`
	Judged     int         `json:"judged"`
	Met        int         `json:"met"`
	MetRatio   *float64    `json:"met_ratio"`
	Total      Percentiles `json:"total"`
}

// sloObs is what the SLO summary keeps of one record.
type sloObs struct {
	created               time.Time
	key                   string
	judged, met, finished bool
	total, platform, user float64
}

func observe(b *podtrace.Brief, key string) sloObs {
	o := sloObs{created: b.Created, key: key, finished: b.Finished != nil,
		total: b.TotalSeconds, platform: b.PlatformSeconds, user: b.UserSeconds}
	if b.Met != nil {
		o.judged, o.met = true, *b.Met
	}
	return o
}

// sloAcc accumulates a group or a bucket.
type sloAcc struct {
	deliveries, finished, judged, met int
	total, platform, user             []float64
	buckets                           map[time.Time]*sloAcc
}

func (s *sloAcc) add(o *sloObs) {
	s.deliveries++
	if o.judged {
		s.judged++
		if o.met {
			s.met++
		}
	}
	if !o.finished {
		return
	}
	s.finished++
	s.total = append(s.total, o.total)
	s.platform = append(s.platform, o.platform)
	s.user = append(s.user, o.user)
}

func (s *sloAcc) bucket(start time.Time) *sloAcc {
	if s.buckets == nil {
		s.buckets = map[time.Time]*sloAcc{}
	}
	b := s.buckets[start]
	if b == nil {
		b = &sloAcc{}
		s.buckets[start] = b
	}
	return b
}

func (s *sloAcc) group(key string) SLOGroup {
	g := SLOGroup{Key: key, Deliveries: s.deliveries, Finished: s.finished, Judged: s.judged, Met: s.met,
		MetRatio: ratio(s.met, s.judged), Total: percentiles(s.total), Platform: percentiles(s.platform), User: percentiles(s.user)}
	for _, start := range sortedKeys(s.buckets) {
		b := s.buckets[start]
		g.Series = append(g.Series, SLOBucket{Start: start, Deliveries: b.deliveries, Judged: b.judged, Met: b.met,
			MetRatio: ratio(b.met, b.judged), Total: percentiles(b.total)})
	}
	return g
}

func sortedKeys[V any](m map[time.Time]V) []time.Time {
	ks := make([]time.Time, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.SortFunc(ks, func(a, b time.Time) int { return a.Compare(b) })
	return ks
}

func (a *API) sloSummary(ctx context.Context, q query) (any, error) {
	w, err := parseWindow(q)
	if err != nil {
		return nil, err
	}
	groupBy := cmp.Or(q.get("group_by"), "namespace")
	keyOf := func(b *podtrace.Brief) string {
		switch groupBy {
		case "owner_kind":
			return b.OwnerKind
		case "node":
			return b.Node
		default:
			return b.Namespace
		}
	}
	var obs []sloObs
	var worst []*podtrace.Brief
	n, truncated, err := a.briefs(ctx, w.filter, a.opt.MaxScan, func(b *podtrace.Brief) {
		obs = append(obs, observe(b, keyOf(b)))
		if b.Finished != nil {
			worst = keepSlowest(worst, b, 10)
		}
	})
	if err != nil {
		return nil, err
	}
	step := w.stepFor(func(yield func(time.Time) bool) {
		for i := range obs {
			if !yield(obs[i].created) {
				return
			}
		}
	})
	var overall sloAcc
	groups := map[string]*sloAcc{}
	for i := range obs {
		o := &obs[i]
		g := groups[o.key]
		if g == nil {
			g = &sloAcc{}
			groups[o.key] = g
		}
		overall.add(o)
		g.add(o)
		if step > 0 {
			g.bucket(o.created.Truncate(step).UTC()).add(o)
		}
	}
	w.step = step
	s := SLOSummary{Window: w.describe(n, truncated), GroupBy: groupBy, Overall: overall.group(""),
		Groups: make([]SLOGroup, 0, len(groups)), Worst: make([]PodSummary, 0, len(worst))}
	for k, g := range groups {
		s.Groups = append(s.Groups, g.group(k))
	}
	slices.SortFunc(s.Groups, func(a, b SLOGroup) int {
		return cmp.Or(cmp.Compare(b.Deliveries, a.Deliveries), cmp.Compare(a.Key, b.Key))
	})
	for i := range worst {
		s.Worst = append(s.Worst, summarize(worst[i]))
	}
	return s, nil
}

// keepSlowest keeps (clones of) the n slowest deliveries, slowest first;
// of equally slow ones, the one read last first.
func keepSlowest(bs []*podtrace.Brief, b *podtrace.Brief, n int) []*podtrace.Brief {
	d := b.End.Sub(b.Created)
	i, _ := slices.BinarySearchFunc(bs, d, func(x *podtrace.Brief, d time.Duration) int { return cmp.Compare(d, x.End.Sub(x.Created)) })
	if i >= n {
		return bs
	}
	bs = slices.Insert(bs, i, b.Clone())
	if len(bs) > n {
		bs = bs[:n]
	}
	return bs
}

// DiagnosesSummary counts findings per code, phase and owner.
type DiagnosesSummary struct {
	Window    Window        `json:"window"`
	Diagnosed int           `json:"diagnosed" doc:"deliveries with at least one finding"`
	Codes     []CodeSummary `json:"codes" doc:"by most deliveries"`
	Phases    []Count       `json:"phases" doc:"deliveries per phase of their findings"`
	Owners    []Count       `json:"owners" doc:"deliveries per owner of their findings"`
}

// CodeSummary is one diagnosis code's count, with examples.
type CodeSummary struct {
	Code     string         `json:"code"`
	Phase    string         `json:"phase"`
	Owner    podtrace.Owner `json:"owner"`
	Count    int            `json:"count" doc:"deliveries carrying the code"`
	Examples []PodSummary   `json:"examples" doc:"up to 5 of the newest such deliveries"`
	Series   []CountBucket  `json:"series,omitempty" doc:"with step: deliveries per bucket, oldest first"`
}

// Count is a number of deliveries for a key.
type Count struct {
	Key   string `json:"key"`
	Count int    `json:"count"`
}

// CountBucket is a count over one time bucket.
type CountBucket struct {
	Start time.Time `json:"start"`
	Count int       `json:"count"`
}

func (a *API) diagnosesSummary(ctx context.Context, q query) (any, error) {
	w, err := parseWindow(q)
	if err != nil {
		return nil, err
	}
	type acc struct {
		CodeSummary
		times   []time.Time // created, of each delivery with the code
		buckets map[time.Time]int
	}
	codes := map[string]*acc{}
	phases, owners := map[string]int{}, map[string]int{}
	diagnosed := 0
	n, truncated, err := a.briefs(ctx, w.filter, a.opt.MaxScan, func(b *podtrace.Brief) {
		if len(b.Findings) == 0 {
			return
		}
		diagnosed++
		seen := map[string]bool{}
		once := func(k string) bool {
			if seen[k] {
				return false
			}
			seen[k] = true
			return true
		}
		for _, f := range b.Findings {
			if once("p/" + f.Phase) {
				phases[f.Phase]++
			}
			if once("o/" + string(f.Owner)) {
				owners[string(f.Owner)]++
			}
			if !once("c/" + f.Code) {
				continue
			}
			c := codes[f.Code]
			if c == nil {
				c = &acc{CodeSummary: CodeSummary{Code: f.Code, Phase: f.Phase, Owner: f.Owner, Examples: []PodSummary{}}}
				codes[f.Code] = c
			}
			c.Count++
			if len(c.Examples) < 5 {
				c.Examples = append(c.Examples, summarize(b))
			}
			c.times = append(c.times, b.Created)
		}
	})
	if err != nil {
		return nil, err
	}
	w.step = w.stepFor(func(yield func(time.Time) bool) {
		for _, c := range codes {
			for _, t := range c.times {
				if !yield(t) {
					return
				}
			}
		}
	})
	for _, c := range codes {
		if w.step > 0 {
			c.buckets = map[time.Time]int{}
			for _, t := range c.times {
				c.buckets[t.Truncate(w.step).UTC()]++
			}
		}
	}
	s := DiagnosesSummary{Window: w.describe(n, truncated), Diagnosed: diagnosed,
		Codes: make([]CodeSummary, 0, len(codes)), Phases: counts(phases), Owners: counts(owners)}
	for _, c := range codes {
		for _, start := range sortedKeys(c.buckets) {
			c.Series = append(c.Series, CountBucket{Start: start, Count: c.buckets[start]})
		}
		s.Codes = append(s.Codes, c.CodeSummary)
	}
	slices.SortFunc(s.Codes, func(a, b CodeSummary) int { return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Code, b.Code)) })
	return s, nil
}

// counts lists a map's counts, largest first.
func counts(m map[string]int) []Count {
	out := make([]Count, 0, len(m))
	for k, v := range m {
		out = append(out, Count{k, v})
	}
	slices.SortFunc(out, func(a, b Count) int { return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Key, b.Key)) })
	return out
}
