package api

import (
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func routeByID(t testing.TB, id string) *route {
	a := New(nil, Options{})
	for i := range a.routes {
		if a.routes[i].id == id {
			return &a.routes[i]
		}
	}
	t.Fatalf("no route %s", id)
	return nil
}

func TestPercentiles(t *testing.T) {
	p := percentiles([]float64{5, 1, 4, 2, 3, 6, 7, 8, 9, 10})
	if *p.P50 != 5 || *p.P90 != 9 || *p.P99 != 10 {
		t.Fatalf("%v %v %v", *p.P50, *p.P90, *p.P99)
	}
	if p := percentiles(nil); p.P50 != nil {
		t.Fatal("percentiles of nothing")
	}
	if p := percentiles([]float64{3}); *p.P50 != 3 || *p.P99 != 3 {
		t.Fatal("one value")
	}
}

func TestNormTraceID(t *testing.T) {
	for in, want := range map[string]string{
		"ABC":                               "00000000000000000000000000000abc",
		"0123456789abcdef0123456789abcdef":  "0123456789abcdef0123456789abcdef",
		"":                                  "",
		"xyz":                               "",
		"0123456789abcdef0123456789abcdef0": "",
	} {
		got, err := normTraceID(in)
		if (err != nil) != (want == "") || got != want {
			t.Errorf("%q: %q %v, want %q", in, got, err, want)
		}
	}
}

// FuzzPodsQuery: the /api/v1/pods query parser never panics; what it
// accepts becomes a filter that holds exactly the values given.
func FuzzPodsQuery(f *testing.F) {
	for _, s := range []string{
		"", "namespace=demo&outcome=pending", "limit=3&cursor=abc", "since=2026-11-21T20:48:00Z&until=2026-11-21T20:49:00.5Z",
		"code=X&owner=user&node=n&cluster=c&kind=upgrade", "limit=-1", "outcome=bad", "a=1", "%zz", "namespace=a&namespace=b",
		"since=2026-11-21T20:49:00Z&until=2026-11-21T20:48:00Z", "limit=99999999999999999999",
	} {
		f.Add(s)
	}
	rt := routeByID(f, "listPods")
	f.Fuzz(func(t *testing.T, raw string) {
		req := httptest.NewRequest("GET", "/api/v1/pods", nil)
		req.URL.RawQuery = raw
		q, err := parseQuery(rt, req)
		if err != nil {
			if _, ok := err.(*badRequest); !ok {
				t.Fatalf("%q: error of type %T: %v", raw, err, err)
			}
			return
		}
		flt, err := podFilter(q)
		if err != nil {
			return
		}
		vals, _ := url.ParseQuery(raw)
		if flt.Namespace != vals.Get("namespace") || flt.Cursor != vals.Get("cursor") || string(flt.Outcome) != vals.Get("outcome") {
			t.Fatalf("%q: filter %+v", raw, flt)
		}
		if flt.Limit < 1 || flt.Limit > 1000 {
			t.Fatalf("%q: limit %d", raw, flt.Limit)
		}
		if !flt.Since.IsZero() && !flt.Until.IsZero() && !flt.Since.Before(flt.Until) {
			t.Fatalf("%q: empty window accepted", raw)
		}
	})
}

// FuzzTraceQuery: the Jaeger search parser never panics and never accepts
// an inverted duration range or an unbounded limit.
func FuzzTraceQuery(f *testing.F) {
	for _, s := range []string{
		"service=podtrace", `service=podtrace&tags={"k8s.namespace.name":"demo"}`, "service=x&tag=a:b:c&tag=d",
		"service=x&start=1&end=2&minDuration=1ms&maxDuration=1s&limit=5", "traceID=abc&traceID=zz", "service=x&minDuration=2s&maxDuration=1s",
		"service=x&tags={", "service=x&limit=-4", "service=x&end=-1",
	} {
		f.Add(s)
	}
	rt := routeByID(f, "jaegerFindTraces")
	f.Fuzz(func(t *testing.T, raw string) {
		req := httptest.NewRequest("GET", "/api/traces", nil)
		req.URL.RawQuery = raw
		q, err := parseQuery(rt, req)
		if err != nil {
			return
		}
		tq, err := parseTraceQuery(q)
		if err != nil {
			if _, ok := err.(*badRequest); !ok {
				t.Fatalf("%q: error of type %T: %v", raw, err, err)
			}
			return
		}
		if tq.limit < 1 || tq.limit > 1000 {
			t.Fatalf("%q: limit %d", raw, tq.limit)
		}
		if tq.minDur > 0 && tq.maxDur > 0 && tq.maxDur < tq.minDur {
			t.Fatalf("%q: inverted durations", raw)
		}
		if tq.service == "" && len(tq.traceIDs) == 0 {
			t.Fatalf("%q: no service accepted", raw)
		}
		for _, id := range tq.traceIDs {
			if len(id) != 32 || strings.ToLower(id) != id {
				t.Fatalf("%q: trace id %q", raw, id)
			}
		}
	})
}
