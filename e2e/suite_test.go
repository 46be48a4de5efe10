package e2e

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/podtrace/podtrace"
	"github.com/podtrace/podtrace/api"
	"github.com/podtrace/podtrace/e2e/cluster"
	"github.com/podtrace/podtrace/e2e/instance"
	"github.com/podtrace/podtrace/e2e/scenario"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

const (
	// scenarioTimeout bounds one scenario; recordWait one wait for podtrace
	// to show what the cluster did. Both are generous: they end a stuck
	// test, they do not measure anything.
	scenarioTimeout = 8 * time.Minute
	recordWait      = 2 * time.Minute
)

// suite is one podtrace and one cluster shared by the scenarios, each in a
// namespace of its own.
type suite struct {
	pt *instance.Podtrace
	c  *cluster.Cluster
	// template is the pod spec of the Deployment scenarios, and updatedImage
	// the image of their rolling update; zero: pause pods on KWOK nodes.
	template     *corev1.PodSpec
	updatedImage string
	// slow is podtrace's slow_delivery; zero: the default.
	slow time.Duration

	mu         sync.Mutex
	namespaces []string
}

// context returns a context bounded by scenarioTimeout, ended with the test.
func (s *suite) context(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), scenarioTimeout)
	t.Cleanup(cancel)
	return ctx
}

// clockTick is how often the clock pod changes.
const clockTick = 2 * time.Second

// clock keeps podtrace's clock moving, as a real cluster's other pods do:
// podtrace reads time only from the audit events about pods, so a stuck
// delivery ages only while other pods change. A pod whose annotation
// changes every clockTick stands in for them when the scenarios running are
// quiet (or one runs alone). It returns the function that stops it.
func (s *suite) clock(t *testing.T) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	ns := s.namespace(t, ctx, "clock-")
	if _, err := scenario.CreatePods(ctx, s.c.Client, ns, scenario.KWOKPod("clock")); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for n := 1; ; n++ {
			select {
			case <-ctx.Done():
				return
			case <-time.After(clockTick):
			}
			patch := fmt.Appendf(nil, `{"metadata":{"annotations":{"e2e.podtrace.dev/tick":"%d"}}}`, n)
			// a failed tick only delays the clock; the scenarios say what they miss
			_, _ = s.c.Client.CoreV1().Pods(ns).Patch(ctx, "clock", types.MergePatchType, patch, metav1.PatchOptions{})
		}
	}()
	stop = func() {
		cancel()
		<-done
	}
	t.Cleanup(stop) // also when the test stops early; stopping twice is harmless
	return stop
}

// namespace creates the scenario's namespace and registers it for the
// final reconciliation.
func (s *suite) namespace(t *testing.T, ctx context.Context, prefix string) string {
	t.Helper()
	ns, err := scenario.CreateNamespace(ctx, s.c.Client, prefix)
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.namespaces = append(s.namespaces, ns)
	s.mu.Unlock()
	t.Logf("namespace %s", ns)
	return ns
}

// rollout waits for the Deployment's rollout (the pods beyond its replicas
// gone) and returns its live pods and the audit log's account of the
// namespace by then.
func (s *suite) rollout(t *testing.T, ctx context.Context, ns, name string) ([]corev1.Pod, *groundTruth) {
	t.Helper()
	if err := scenario.WaitRollout(ctx, s.c.Client, ns, name); err != nil {
		t.Fatal(err)
	}
	live, err := scenario.PodsOf(ctx, s.c.Client, ns, name)
	if err != nil {
		t.Fatal(err)
	}
	return live, readTruth(t, s.c.AuditLogPath, ns)[ns]
}

// deliveries are podtrace's records of one namespace.
type deliveries []api.PodSummary

// find returns the record of the pod uid of the given kind.
func (d deliveries) find(kind podtrace.Kind, uid string) (api.PodSummary, bool) {
	for _, r := range d {
		if r.Kind == kind && r.UID == uid {
			return r, true
		}
	}
	return api.PodSummary{}, false
}

// expect checks the record of the pod's delivery of the kind: its outcome,
// and its diagnosis codes starting with codes (none at all when codes is
// empty).
func (d deliveries) expect(kind podtrace.Kind, pod *corev1.Pod, outcome podtrace.Outcome, codes ...string) (api.PodSummary, error) {
	r, found := d.find(kind, string(pod.UID))
	switch {
	case !found:
		return r, fmt.Errorf("no %s record for pod %s (uid %s)", kind, pod.Name, pod.UID)
	case r.Outcome != outcome:
		return r, fmt.Errorf("pod %s: %s outcome %s, want %s", pod.Name, kind, r.Outcome, outcome)
	case len(codes) == 0 && len(r.Codes) > 0:
		return r, fmt.Errorf("pod %s: %s record has findings %v, want none", pod.Name, kind, r.Codes)
	case len(r.Codes) < len(codes) || !slices.Equal(r.Codes[:len(codes)], codes):
		return r, fmt.Errorf("pod %s: %s findings %v, want them to start with %v", pod.Name, kind, r.Codes, codes)
	}
	return r, nil
}

// healthy checks podtrace's promise about a delivery that ended well: no
// findings if it took at most slow_delivery (a delete: its grace period plus
// termination_slack), findings if it took longer.
func (s *suite) healthy(r api.PodSummary, grace time.Duration) error {
	limit := cmp.Or(s.slow, slowDelivery)
	if r.Kind == podtrace.KindDelete {
		limit = grace + terminationSlack
	}
	slow := r.DurationSeconds > limit.Seconds()
	switch {
	case r.Finished == nil:
		return fmt.Errorf("%s %s: still open (%s)", r.Kind, r.Name, r.Outcome)
	case !slow && len(r.Codes) > 0:
		return fmt.Errorf("%s %s took %.1fs (within %s) yet has findings %v", r.Kind, r.Name, r.DurationSeconds, limit, r.Codes)
	case slow && len(r.Codes) == 0:
		return fmt.Errorf("%s %s took %.1fs (more than %s) and has no finding", r.Kind, r.Name, r.DurationSeconds, limit)
	}
	return nil
}

// records polls podtrace's records of ns until check accepts them, and
// fails the test with check's last complaint, the records and the audit
// log's account of the namespace if it does not within recordWait.
func (s *suite) records(t *testing.T, ctx context.Context, ns, what string, check func(d deliveries) error) deliveries {
	t.Helper()
	return await(t, ctx, s.pt, "podtrace's records of "+ns+": want "+what,
		func(ctx context.Context) (deliveries, error) { return s.pt.Deliveries(ctx, ns) }, check,
		func(d deliveries) string { return formatRecords(d) + readTruth(t, s.c.AuditLogPath, ns)[ns].String() })
}

// pod polls podtrace's view of one pod (all its deliveries, full records)
// until check accepts it.
func (s *suite) pod(t *testing.T, ctx context.Context, uid, what string, check func(p api.Pod) error) api.Pod {
	t.Helper()
	return await(t, ctx, s.pt, "podtrace's pod "+uid+": want "+what,
		func(ctx context.Context) (api.Pod, error) { return s.pt.Pod(ctx, uid) }, check, formatPod)
}

// await polls fetch until check accepts what it got, and fails the test
// with check's last complaint and describe's account of the last result if
// that does not happen within recordWait.
func await[T any](t *testing.T, ctx context.Context, pt *instance.Podtrace, what string,
	fetch func(context.Context) (T, error), check func(T) error, describe func(T) string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, recordWait)
	defer cancel()
	for {
		got, err := fetch(ctx)
		if err == nil {
			if err = check(got); err == nil {
				return got
			}
		}
		if err := pt.Alive(); err != nil {
			t.Fatal(err)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: %v\n%s", what, err, describe(got))
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// delivery returns the pod's full record of the kind (seq 0).
func delivery(p api.Pod, kind podtrace.Kind) (podtrace.Record, error) {
	for _, r := range p.Deliveries {
		if r.Kind == kind && r.Seq == 0 {
			return r, nil
		}
	}
	return podtrace.Record{}, fmt.Errorf("pod %s has no %s delivery", p.Name, kind)
}

// finding polls the pod's delivery of the kind until it has the outcome
// (any, if empty) and code as its root finding, owned by owner, and
// returns it.
func (s *suite) finding(t *testing.T, ctx context.Context, uid string, kind podtrace.Kind, outcome podtrace.Outcome, code string, owner podtrace.Owner) podtrace.Record {
	t.Helper()
	p := s.pod(t, ctx, uid, fmt.Sprintf("%s delivery %s with %s owned by the %s", kind, cmp.Or(outcome, "(any outcome)"), code, owner), func(p api.Pod) error {
		r, err := delivery(p, kind)
		if err != nil {
			return err
		}
		if outcome != "" && r.Outcome != outcome {
			return fmt.Errorf("outcome %s, want %s", r.Outcome, outcome)
		}
		return firstFinding(r, code, owner)
	})
	r, _ := delivery(p, kind)
	return r
}

// firstFinding checks the record's root finding: code and owner.
func firstFinding(r podtrace.Record, code string, owner podtrace.Owner) error {
	if len(r.Diagnosis) == 0 {
		return fmt.Errorf("%s %s: no finding, want %s", r.Kind, r.Name, code)
	}
	f := r.Diagnosis[0]
	if f.Code != code || f.Owner != owner {
		return fmt.Errorf("%s %s: first finding %s (owner %s), want %s (owner %s)", r.Kind, r.Name, f.Code, f.Owner, code, owner)
	}
	if len(f.Evidence) == 0 || f.Remedy == "" {
		return fmt.Errorf("%s %s: finding %s without evidence or remedy", r.Kind, r.Name, f.Code)
	}
	return nil
}

// formatPod prints a pod's records for a failure message.
func formatPod(p api.Pod) string {
	var b strings.Builder
	fmt.Fprintf(&b, "pod %s/%s (uid %s): %d deliveries\n", p.Namespace, p.Name, p.UID, len(p.Deliveries))
	for _, r := range p.Deliveries {
		fmt.Fprintf(&b, "  %s/%d outcome=%s created=%s finished=%v node=%q trace=%v spans=%d\n", r.Kind, r.Seq, r.Outcome,
			r.Created.Format(time.RFC3339Nano), r.Finished, r.Node, deref(r.TraceID), len(r.Spans))
		for _, ph := range r.Phases {
			fmt.Fprintf(&b, "    phase %-11s %s → %s (%s) %s\n", ph.Name, ph.Start.Format("15:04:05.000"), ph.End.Format("15:04:05.000"), ph.End.Sub(ph.Start), ph.Owner)
		}
		for _, m := range r.Milestones {
			fmt.Fprintf(&b, "    milestone %-18s %s %s\n", m.Name, m.Time.Format("15:04:05.000"), m.AuditID)
		}
		for _, f := range r.Diagnosis {
			fmt.Fprintf(&b, "    finding %s (%s, %s): %s\n", f.Code, f.Phase, f.Owner, f.Message)
		}
		if r.SLO != nil {
			fmt.Fprintf(&b, "    slo total=%.3f platform=%.3f user=%.3f met=%v rule=%s\n", r.SLO.TotalSeconds, r.SLO.PlatformSeconds, r.SLO.UserSeconds, deref(r.SLO.Met), r.SLO.Rule)
		}
		for _, sp := range r.Spans {
			fmt.Fprintf(&b, "    span %s %s\n", sp.Service, sp.Name)
		}
	}
	return b.String()
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// reconcile checks every scenario namespace against the complete audit
// log, once the cluster has stopped and podtrace has received everything.
func (s *suite) reconcile(t *testing.T) {
	s.mu.Lock()
	namespaces := slices.Clone(s.namespaces)
	s.mu.Unlock()
	if len(namespaces) == 0 {
		return
	}
	truth := readTruth(t, s.c.AuditLogPath, namespaces...)
	ctx, cancel := context.WithTimeout(context.Background(), recordWait)
	defer cancel()
	for _, ns := range namespaces {
		var problems []string
		var recs []api.PodSummary
		for {
			var err error
			if recs, err = s.pt.Deliveries(ctx, ns); err != nil {
				problems = []string{err.Error()}
			} else if problems = truth[ns].diff(recs); len(problems) == 0 {
				break
			}
			select {
			case <-ctx.Done():
			case <-time.After(500 * time.Millisecond):
				continue
			}
			break
		}
		if len(problems) > 0 {
			t.Errorf("namespace %s: podtrace's records differ from the audit log:\n  %s\n%s%s", ns, strings.Join(problems, "\n  "), formatRecords(recs), truth[ns])
			continue
		}
		t.Logf("namespace %s: %d records match the audit log (%d pods created, %d creates refused, %d deleted or evicted)",
			ns, len(recs), len(truth[ns].created), len(truth[ns].refused), len(truth[ns].gone()))
	}
}
