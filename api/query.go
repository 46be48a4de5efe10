package api

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/podtrace/podtrace"
)

// param is one documented parameter of a route.
type param struct {
	name     string
	in       string // "query" (default) or "path"
	desc     string
	required bool
	typ      string // "string" (default) or "integer"
	format   string // "date-time": RFC 3339
	enum     []string
	repeat   bool // may be given more than once
}

var (
	kinds    = names(podtrace.Kinds())
	outcomes = names(podtrace.Outcomes())
	owners   = []string{string(podtrace.OwnerPlatform), string(podtrace.OwnerUser)}
)

// names are the values of a string enum as strings.
func names[T ~string](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}

// query is a request's parameters, checked against its route's table.
type query struct {
	r    *http.Request
	vals url.Values
}

func (q query) get(name string) string {
	if v := q.r.PathValue(name); v != "" {
		return v
	}
	return q.vals.Get(name)
}

// parseQuery checks the query string against the route's parameters:
// unknown names (on strict routes), repeats, enums, integers, times and
// required values.
func parseQuery(rt *route, r *http.Request) (query, error) {
	vals, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return query{}, &badRequest{msg: "malformed query string: " + err.Error()}
	}
	q := query{r: r, vals: vals}
	known := make(map[string]*param, len(rt.params))
	for i := range rt.params {
		p := &rt.params[i]
		if p.in == "path" {
			continue
		}
		known[p.name] = p
	}
	names := make([]string, 0, len(vals))
	for name := range vals {
		names = append(names, name)
	}
	slices.Sort(names) // report the same error for the same query
	for _, name := range names {
		p, ok := known[name]
		if !ok {
			if !rt.strict {
				continue
			}
			return q, &badRequest{msg: "unknown parameter " + strconv.Quote(name) + knownList(rt.params)}
		}
		vs := vals[name]
		if len(vs) > 1 && !p.repeat {
			return q, badParam(name, "given %d times, at most once allowed", len(vs))
		}
		for _, v := range vs {
			if err := p.check(v); err != nil {
				return q, err
			}
		}
	}
	for i := range rt.params {
		p := &rt.params[i]
		if p.required && q.get(p.name) == "" {
			return q, badParam(p.name, "required")
		}
		if p.in == "path" {
			if err := p.check(r.PathValue(p.name)); err != nil {
				return q, err
			}
		}
	}
	return q, nil
}

func knownList(ps []param) string {
	var names []string
	for _, p := range ps {
		if p.in != "path" {
			names = append(names, p.name)
		}
	}
	if len(names) == 0 {
		return " (this endpoint takes none)"
	}
	return " (known: " + strings.Join(names, ", ") + ")"
}

// check validates one value of the parameter. Empty values mean "not given".
func (p *param) check(v string) error {
	if v == "" {
		return nil
	}
	if len(v) > 4096 {
		return badParam(p.name, "longer than 4096 bytes")
	}
	if p.enum != nil && !slices.Contains(p.enum, v) {
		return badParam(p.name, "%q: want one of %s", v, strings.Join(p.enum, ", "))
	}
	if p.typ == "integer" {
		if _, err := strconv.ParseInt(v, 10, 64); err != nil {
			return badParam(p.name, "%q: want an integer", v)
		}
	}
	if p.format == "date-time" {
		if _, err := time.Parse(time.RFC3339Nano, v); err != nil {
			return badParam(p.name, "%q: want an RFC 3339 time such as 2026-01-02T15:04:05Z", v)
		}
	}
	return nil
}

// timeParam returns a date-time parameter, zero when absent (checked by
// parseQuery).
func (q query) time(name string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, q.get(name))
	return t
}

// intParam returns an integer parameter within [lo, hi], def when absent.
func (q query) int(name string, def, lo, hi int) (int, error) {
	v := q.get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, badParam(name, "%q: want an integer from %d to %d", v, lo, hi)
	}
	return n, nil
}

// podFilter is the store filter that /api/v1/pods's query asks for.
func podFilter(q query) (podtrace.RecordFilter, error) {
	f := podtrace.RecordFilter{
		Cluster:   q.get("cluster"),
		Namespace: q.get("namespace"),
		Name:      q.get("name"),
		Kind:      podtrace.Kind(q.get("kind")),
		Outcome:   podtrace.Outcome(q.get("outcome")),
		Code:      q.get("code"),
		Owner:     podtrace.Owner(q.get("owner")),
		Node:      q.get("node"),
		Since:     q.time("since"),
		Until:     q.time("until"),
		Cursor:    q.get("cursor"),
	}
	var err error
	if f.Limit, err = q.int("limit", 50, 1, 1000); err != nil {
		return f, err
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return f, badParam("until", "must be after since")
	}
	return f, nil
}

// window is the record selection and bucketing of a summary.
type window struct {
	filter podtrace.RecordFilter
	step   time.Duration // 0: no series
	auto   bool          // step from the data: about 40 buckets over its extent
}

// niceSteps are the bucket widths step=auto chooses from.
var niceSteps = []time.Duration{time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second,
	time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour, 7 * 24 * time.Hour}

// stepFor is the window's bucket width: the step asked for, or with
// step=auto the smallest nice width giving at most 40 buckets over the
// times given (the window's bounds where set, else the data's extent).
func (w *window) stepFor(times func(yield func(time.Time) bool)) time.Duration {
	if !w.auto {
		return w.step
	}
	lo, hi := w.filter.Since, w.filter.Until
	if lo.IsZero() || hi.IsZero() {
		var first, last time.Time
		for t := range times {
			if first.IsZero() || t.Before(first) {
				first = t
			}
			if t.After(last) {
				last = t
			}
		}
		if lo.IsZero() {
			lo = first
		}
		if hi.IsZero() {
			hi = last
		}
	}
	extent := hi.Sub(lo)
	for _, s := range niceSteps {
		if extent/s < 40 {
			return s
		}
	}
	return niceSteps[len(niceSteps)-1]
}

func parseWindow(q query) (window, error) {
	w := window{filter: podtrace.RecordFilter{
		Cluster:   q.get("cluster"),
		Namespace: q.get("namespace"),
		Kind:      podtrace.Kind(q.get("kind")),
		Since:     q.time("since"),
		Until:     q.time("until"),
	}}
	if !w.filter.Since.IsZero() && !w.filter.Until.IsZero() && !w.filter.Since.Before(w.filter.Until) {
		return w, badParam("until", "must be after since")
	}
	if s := q.get("step"); s == "auto" {
		w.auto = true
	} else if s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < time.Second {
			return w, badParam("step", "%q: want a duration of at least 1s, such as 5m or 1h", s)
		}
		w.step = d
	}
	return w, nil
}
