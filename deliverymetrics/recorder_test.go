package deliverymetrics

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/podtrace/podtrace"
)

func family(t *testing.T, reg *prometheus.Registry, name string) *dto.MetricFamily {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf
		}
	}
	t.Fatalf("no %s", name)
	return nil
}

func labels(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

func TestObserve(t *testing.T) {
	reg := prometheus.NewRegistry()
	r, err := New(reg, Config{MaxNamespaces: 1})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	fin := t0.Add(100 * time.Second)
	trace := "4bf92f3577b34da6a3ce929d0e0e4736"
	met := false
	rec := podtrace.Record{
		Namespace: "demo", Name: "app-1", Kind: podtrace.KindCreate, Outcome: podtrace.OutcomeReady,
		Created: t0, Finished: &fin, TraceID: &trace,
		Phases: []podtrace.Phase{{Name: "scheduling", Start: t0, End: t0.Add(95 * time.Second), Owner: podtrace.OwnerPlatform},
			{Name: "readiness", Start: t0.Add(95 * time.Second), End: fin, Owner: podtrace.OwnerUser}},
		SLO:       &podtrace.SLO{Met: &met},
		Diagnosis: []podtrace.Finding{{Code: "SchedulingSlow", Phase: "scheduling", Owner: podtrace.OwnerPlatform}},
	}
	r.Observe(nil, &rec)
	other := rec
	other.Namespace, other.TraceID = "team-b", nil
	r.Observe(nil, &other)

	d := family(t, reg, "podtrace_pod_delivery_duration_seconds")
	seen := map[string]bool{}
	for _, m := range d.GetMetric() {
		seen[labels(m)["namespace"]] = true
		if labels(m)["namespace"] == "demo" {
			ex := false
			for _, b := range m.GetHistogram().GetBucket() {
				if e := b.GetExemplar(); e != nil && e.GetLabel()[0].GetValue() == trace {
					ex = true
				}
			}
			if !ex {
				t.Error("no trace_id exemplar on the delivery histogram")
			}
		}
	}
	if !seen["demo"] || !seen[OtherNamespace] || len(seen) != 2 {
		t.Errorf("namespaces %v, want demo and other", seen)
	}
	s := family(t, reg, "podtrace_slo_deliveries_total")
	if m := s.GetMetric()[0]; labels(m)["result"] != "violated" || m.GetCounter().GetValue() != 2 {
		t.Errorf("slo counter %v", m)
	}
	dg := family(t, reg, "podtrace_diagnosis_total").GetMetric()[0]
	if l := labels(dg); l["code"] != "SchedulingSlow" || l["phase"] != "scheduling" || l["owner"] != "platform" || dg.GetCounter().GetExemplar() == nil {
		t.Errorf("diagnosis counter %v", dg)
	}
	if n := len(family(t, reg, "podtrace_pod_phase_duration_seconds").GetMetric()); n != 2 {
		t.Errorf("%d phase series, want 2", n)
	}
}

func TestAllowList(t *testing.T) {
	r, err := New(prometheus.NewRegistry(), Config{Namespaces: []string{"prod"}})
	if err != nil {
		t.Fatal(err)
	}
	if r.namespace("prod") != "prod" || r.namespace("dev") != OtherNamespace {
		t.Fatal("allow-list not applied")
	}
}
