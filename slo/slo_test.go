package slo

import (
	"bufio"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/podtrace/podtrace"
	"github.com/podtrace/podtrace/decode"
	"github.com/podtrace/podtrace/lifecycle"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func at(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

func evaluator(t testing.TB) *Evaluator {
	e, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-6 }

func metString(m *bool) string {
	if m == nil {
		return "null"
	}
	if *m {
		return "true"
	}
	return "false"
}

func phases(owner podtrace.Owner, names ...any) []podtrace.Phase {
	var out []podtrace.Phase
	for i := 0; i+2 < len(names)+1; i += 3 {
		ow := podtrace.OwnerPlatform
		if names[i].(string) == podtrace.PhaseReadiness {
			ow = podtrace.OwnerUser
		}
		out = append(out, podtrace.Phase{Name: names[i].(string), Start: at(names[i+1].(float64)), End: at(names[i+2].(float64)), Owner: ow})
	}
	return out
}

// TestEvaluate checks the definitions on hand-made records.
func TestEvaluate(t *testing.T) {
	pod := &lifecycle.Pod{Namespace: "demo", Name: "app"}
	fin := func(s float64) *time.Time { x := at(s); return &x }
	user := func(code, phase string) []podtrace.Finding {
		return []podtrace.Finding{{Code: code, Phase: phase, Owner: podtrace.OwnerUser, Evidence: []podtrace.Evidence{{Time: at(0)}}}}
	}
	platform := func(code, phase string) []podtrace.Finding {
		return []podtrace.Finding{{Code: code, Phase: phase, Owner: podtrace.OwnerPlatform, Evidence: []podtrace.Evidence{{Time: at(0)}}}}
	}
	for _, c := range []struct {
		name               string
		r                  podtrace.Record
		total, plat, usert float64
		met                string
	}{
		{"ready on time", podtrace.Record{Kind: podtrace.KindCreate, Outcome: podtrace.OutcomeReady, Created: at(0), Finished: fin(10),
			Phases: phases("", "scheduling", 0.0, 1.0, "sandbox", 1.0, 4.0, "readiness", 4.0, 10.0)}, 10, 4, 6, "true"},
		{"slow scheduling", podtrace.Record{Kind: podtrace.KindCreate, Outcome: podtrace.OutcomeReady, Created: at(0), Finished: fin(100),
			Phases: phases("", "scheduling", 0.0, 95.0, "sandbox", 95.0, 100.0), Diagnosis: platform("SchedulingSlow", "scheduling")}, 100, 100, 0, "false"},
		{"bad image is the user's time", podtrace.Record{Kind: podtrace.KindCreate, Outcome: podtrace.OutcomePending, Created: at(0),
			Phases: phases("", "scheduling", 0.0, 1.0, "sandbox", 1.0, 2.0, "image", 2.0, 300.0), Diagnosis: user("ImageNotFound", "image")}, 300, 2, 298, "null"},
		{"open and already late", podtrace.Record{Kind: podtrace.KindCreate, Outcome: podtrace.OutcomePending, Created: at(0),
			Phases: phases("", "scheduling", 0.0, 120.0), Diagnosis: platform("InsufficientCPU", "scheduling")}, 120, 120, 0, "false"},
		{"failed for the user's reason", podtrace.Record{Kind: podtrace.KindCreate, Outcome: podtrace.OutcomeFailed, Created: at(0), Finished: fin(0.01),
			Phases: phases("", "admission", 0.0, 0.01), Diagnosis: user("QuotaExceeded", "admission")}, 0.01, 0, 0.01, "true"},
		{"failed for the platform's reason", podtrace.Record{Kind: podtrace.KindCreate, Outcome: podtrace.OutcomeFailed, Created: at(0), Finished: fin(20),
			Phases: phases("", "scheduling", 0.0, 1.0, "sandbox", 1.0, 20.0), Diagnosis: platform("UnexpectedAdmissionError", "sandbox")}, 20, 20, 0, "false"},
		{"deleted before ready", podtrace.Record{Kind: podtrace.KindCreate, Outcome: podtrace.OutcomeDeleted, Created: at(0), Finished: fin(5),
			Phases: phases("", "scheduling", 0.0, 5.0)}, 5, 5, 0, "null"},
		{"delete within grace", podtrace.Record{Kind: podtrace.KindDelete, Outcome: podtrace.OutcomeDeleted, Created: at(0), Finished: fin(29),
			Phases: phases("", "termination", 0.0, 29.0)}, 29, 0, 29, "true"},
		{"delete far past grace", podtrace.Record{Kind: podtrace.KindDelete, Outcome: podtrace.OutcomeDeleted, Created: at(0), Finished: fin(100),
			Phases: phases("", "termination", 0.0, 100.0), Diagnosis: platform("TerminationSlow", "termination")}, 100, 70, 30, "false"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := evaluator(t).Evaluate(pod, &c.r)
			if !near(s.TotalSeconds, c.total) || !near(s.PlatformSeconds, c.plat) || !near(s.UserSeconds, c.usert) || metString(s.Met) != c.met {
				t.Fatalf("got total %v platform %v user %v met %s, want %v %v %v %s", s.TotalSeconds, s.PlatformSeconds, s.UserSeconds, metString(s.Met), c.total, c.plat, c.usert, c.met)
			}
			if s.Rule != "default" || (s.TargetSeconds != 90 && s.TargetSeconds != 30) {
				t.Fatalf("rule %s target %v", s.Rule, s.TargetSeconds)
			}
		})
	}
}

func TestTargets(t *testing.T) {
	cfg, err := ParseBytes([]byte(`
rules:
  - {name: batch, match: {namespaces: [batch-*], workload: job}, create: 3m}
  - {name: web, match: {labels: {app: web}, owner_kinds: [ReplicaSet]}, create: 45s, delete: 20s}
`))
	if err != nil {
		t.Fatal(err)
	}
	e, _ := New(cfg)
	defaults := evaluator(t)
	create := &podtrace.Record{Kind: podtrace.KindCreate}
	del := &podtrace.Record{Kind: podtrace.KindDelete}
	for _, c := range []struct {
		e    *Evaluator
		p    lifecycle.Pod
		r    *podtrace.Record
		rule string
		want time.Duration
	}{
		{e, lifecycle.Pod{Namespace: "batch-nightly", OwnerKind: "Job"}, create, "batch", 3 * time.Minute},
		{e, lifecycle.Pod{Namespace: "batch-nightly", OwnerKind: "ReplicaSet"}, create, "default", 90 * time.Second},
		{e, lifecycle.Pod{Namespace: "x", OwnerKind: "ReplicaSet", Spec: lifecycle.Spec{Labels: map[string]string{"app": "web"}}}, del, "web", 20 * time.Second},
		{e, lifecycle.Pod{Namespace: "batch-x", OwnerKind: "Job"}, del, "default", 30 * time.Second},
		{defaults, lifecycle.Pod{Spec: lifecycle.Spec{GPU: 1}}, create, "gpu", 5 * time.Minute},
		{defaults, lifecycle.Pod{Spec: lifecycle.Spec{Volumes: []decode.Volume{{Name: "d", Kind: "persistentVolumeClaim"}}}}, del, "stateful", 2 * time.Minute},
		{defaults, lifecycle.Pod{Spec: lifecycle.Spec{MilliCPU: 32000}}, create, "large-cpu", 3 * time.Minute},
		{defaults, lifecycle.Pod{Spec: lifecycle.Spec{MilliCPU: 32000}}, del, "default", 30 * time.Second},
		{defaults, lifecycle.Pod{Spec: lifecycle.Spec{Memory: 128 << 30}}, create, "large-memory", 3 * time.Minute},
		{defaults, lifecycle.Pod{Spec: lifecycle.Spec{Containers: make([]decode.Container, 3), InitContainers: make([]decode.Container, 2)}}, create, "many-containers", 2 * time.Minute},
		{defaults, lifecycle.Pod{Spec: lifecycle.Spec{Volumes: make([]decode.Volume, 12)}}, create, "many-volumes", 2 * time.Minute},
	} {
		got, rule := c.e.Target(&c.p, c.r)
		if got != c.want || rule != c.rule {
			t.Errorf("%+v %s: %v %s, want %v %s", c.p, c.r.Kind, got, rule, c.want, c.rule)
		}
	}
}

func TestStartupSLI(t *testing.T) {
	p := &lifecycle.Pod{UID: "u", Name: "app", Namespace: "demo"}
	stamp := func(s float64) lifecycle.Stamp { return lifecycle.Stamp{T: at(s).UnixNano(), AuditID: "a"} }
	p.Marks[lifecycle.MarkRequested] = stamp(0)
	p.Marks[lifecycle.MarkCreated] = stamp(0.01)
	p.Marks[lifecycle.MarkScheduled] = stamp(0.5)
	p.Marks[lifecycle.MarkSandboxReady] = stamp(1)
	p.Marks[lifecycle.MarkInitialized] = stamp(3) // init containers ran 2 s
	p.Marks[lifecycle.MarkImagePulling] = stamp(3)
	p.Marks[lifecycle.MarkImagePulled] = stamp(8)
	p.Marks[lifecycle.MarkContainersStarted] = stamp(12)
	p.Marks[lifecycle.MarkReady] = stamp(15)
	p.Facts = []lifecycle.Fact{{Source: "event", Reason: "Pulled", First: stamp(8), Last: stamp(8)}, {Source: "event", Reason: "Pulled", First: stamp(10), Last: stamp(10)}}
	p.Spec.InitContainers = []decode.Container{{Name: "init"}}
	r := p.Records("c")[0]
	got, ok := StartupSLI(p, &r)
	// 12 s − pull (3 → 10) − init (1 → 3) = 3 s
	if !ok || !near(got, 3) {
		t.Fatalf("SLI %v %v, want 3", got, ok)
	}
	if s := evaluator(t).Evaluate(p, &r); !near(s.UserSeconds, 5) || !near(s.PlatformSeconds, 10) {
		t.Fatalf("user %v platform %v, want 5 (init 2 + readiness 3) and 10", s.UserSeconds, s.PlatformSeconds)
	}
	p.Spec.Volumes = []decode.Volume{{Name: "data", Kind: "persistentVolumeClaim"}}
	if _, ok := StartupSLI(p, &r); ok {
		t.Fatal("SLI for a stateful pod")
	}
}

func replayCapture(t testing.TB, set string) []*lifecycle.Pod {
	fh, err := os.Open(filepath.Join("..", "testdata", set, "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	sc.Buffer(nil, 64<<20)
	var d decode.Decoder
	m := lifecycle.New(lifecycle.DefaultConfig(), nil)
	for sc.Scan() {
		d.Decode(sc.Bytes(), func(ev *decode.Event) { m.Apply(ev) })
	}
	return m.Dirty()
}

// TestCaptures: in the real captures every Ready pod met the default
// target, the unschedulable ones are undecided, and platform + user = total.
func TestCaptures(t *testing.T) {
	e := evaluator(t)
	for _, set := range []string{"kwok-only-v1.34.10", "mixed-kwok-hollowkubelet-v1.34.10"} {
		slis := 0
		for _, p := range replayCapture(t, set) {
			for _, r := range p.Records("c") {
				s := e.Evaluate(p, &r)
				if !near(s.PlatformSeconds+s.UserSeconds, s.TotalSeconds) || s.UserSeconds < 0 || s.PlatformSeconds < 0 {
					t.Errorf("%s %s: %+v", p.Name, r.Kind, s)
				}
				switch {
				case r.Outcome == podtrace.OutcomeReady && metString(s.Met) != "true":
					t.Errorf("%s: ready pod not met: %+v", p.Name, s)
				case r.Outcome == podtrace.OutcomePending && r.Kind == podtrace.KindCreate && s.Met != nil:
					t.Errorf("%s: pending pod decided: %+v", p.Name, s)
				}
				if v, ok := StartupSLI(p, &r); ok {
					slis++
					if v <= 0 || v > s.TotalSeconds {
						t.Errorf("%s: SLI %v of %v", p.Name, v, s.TotalSeconds)
					}
				}
			}
		}
		if slis == 0 {
			t.Errorf("%s: no startup SLI", set)
		}
	}
}

func BenchmarkEvaluate(b *testing.B) {
	pods := replayCapture(b, "mixed-kwok-hollowkubelet-v1.34.10")
	e := evaluator(b)
	type pr struct {
		p *lifecycle.Pod
		r podtrace.Record
	}
	var all []pr
	for _, p := range pods {
		for _, r := range p.Records("c") {
			all = append(all, pr{p, r})
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for i := range all {
			e.Evaluate(all[i].p, &all[i].r)
			StartupSLI(all[i].p, &all[i].r)
		}
	}
}
