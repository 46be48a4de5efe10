package e2e

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/podtrace/podtrace"
	"github.com/podtrace/podtrace/api"
	"github.com/podtrace/podtrace/e2e/cluster"
	"github.com/podtrace/podtrace/e2e/instance"
	"github.com/podtrace/podtrace/e2e/scenario"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// podtraceConfig is the configuration of the podtrace under test: the
// defaults, with readiness and termination thresholds short enough for a
// stuck pod to be found stuck within seconds.
const podtraceConfig = `diagnosis:
  readiness_slow: 10s
  termination_slack: 5s
`

// Thresholds of podtraceConfig the checks reason with.
const (
	slowDelivery     = 90 * time.Second // the default
	terminationSlack = 5 * time.Second
)

const (
	// readyDelay is how long the "late" pod's app takes to become Ready.
	readyDelay = 20 * time.Second
	// updatedImage is the image of the rolling update.
	updatedImage = "registry.k8s.io/pause:3.9"
)

// TestScenarios runs the real podtrace binary against a real control plane
// (KWOK nodes and a hollow kubelet) and drives pod deliveries through it:
// rollouts, scaling, rolling updates, deletes, evictions, unschedulable and
// refused pods, failing and slow containers, a finalizer, traced pods. Each
// scenario checks podtrace's records — outcomes, phases, findings, SLO,
// spans — through its REST and Jaeger APIs against what the cluster did;
// at the end every namespace's records are reconciled one-to-one with the
// apiserver's own audit log.
func TestScenarios(t *testing.T) {
	pt := instance.Start(t, instance.Options{Config: podtraceConfig})
	var stages []string
	for _, d := range []string{"node", "pod-general", "pod-chaos", "podtrace"} {
		dir, err := filepath.Abs(filepath.Join("testdata", "kwok-stages", d))
		if err != nil {
			t.Fatal(err)
		}
		stages = append(stages, dir)
	}
	// Plain HTTP, no token: kube-apiserver and the kubelet export spans over
	// OTLP gRPC without TLS or credentials, and podtrace's TLS and ingest
	// token guard its OTLP receivers too (TestWebhookAuth proves that path).
	c := cluster.Start(t, cluster.Options{
		AuditWebhookURL: pt.URL + "/audit", OTLPEndpoint: pt.OTLPGRPC, HollowKubelet: true, KWOKStages: stages,
	})
	s := &suite{pt: pt, c: c}
	stopClock := s.clock(t)

	t.Run("UntoleratedTaint", s.untoleratedTaint) // taints every node: runs alone
	t.Run("Parallel", func(t *testing.T) {
		for _, sc := range []struct {
			name string
			run  func(*testing.T)
		}{
			{"Deployment", s.deployment},
			{"Eviction", s.eviction},
			{"DeleteGrace", s.deleteGrace},
			{"Unschedulable", s.unschedulable},
			{"Quota", s.quota},
			{"FailingContainers", s.failingContainers},
			{"Readiness", s.readiness},
			{"Finalizer", s.finalizer},
			{"HollowKubelet", s.hollowKubelet},
		} {
			t.Run(sc.name, func(t *testing.T) {
				t.Parallel()
				sc.run(t)
			})
		}
	})

	// Stopping the cluster flushes the last audit batch; then podtrace must
	// hold exactly what the audit log says, namespace by namespace.
	stopClock()
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	s.reconcile(t)
}

// deployment: a Deployment rolls out (pods ready), scales up (the new pods
// ready) and down (the removed pods deleted), and rolls to a new image (old
// pods deleted, new ones ready). After each step every pod has its records,
// healthy ones without findings, and the namespace matches the audit log.
func (s *suite) deployment(t *testing.T) {
	ctx := s.context(t)
	ns := s.namespace(t, ctx, "deploy-")
	const name = "web"
	template, image := corev1.PodSpec{Containers: []corev1.Container{{Name: "pause", Image: scenario.PauseImage}}}, updatedImage
	if s.template != nil {
		template, image = *s.template, s.updatedImage
	}
	if err := scenario.CreateDeploymentOf(ctx, s.c.Client, ns, name, 3, template); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		what string
		do   func() error
	}{
		{"rollout of 3", func() error { return nil }},
		{"scale up to 5", func() error { return scenario.Scale(ctx, s.c.Client, ns, name, 5) }},
		{"scale down to 2", func() error { return scenario.Scale(ctx, s.c.Client, ns, name, 2) }},
		{"rolling update to " + image, func() error { return scenario.SetImage(ctx, s.c.Client, ns, name, image) }},
	}
	for _, step := range steps {
		if err := step.do(); err != nil {
			t.Fatal(err)
		}
		live, truth := s.rollout(t, ctx, ns, name)
		recs := s.records(t, ctx, ns, "every pod of the "+step.what+" ready or deleted, as the audit log says", func(d deliveries) error {
			if diff := truth.diff(d); len(diff) > 0 {
				return errors.New(strings.Join(diff, "; "))
			}
			alive := map[string]bool{}
			for i := range live {
				p := &live[i]
				alive[string(p.UID)] = true
				r, err := d.expect(podtrace.KindCreate, p, podtrace.OutcomeReady)
				if err != nil {
					return err
				}
				if r.Node != p.Spec.NodeName || r.OwnerKind != "ReplicaSet" {
					return fmt.Errorf("pod %s: record node %q owner %s, want node %q owner ReplicaSet", p.Name, r.Node, r.OwnerKind, p.Spec.NodeName)
				}
				if r.SLOMet == nil || !*r.SLOMet {
					return fmt.Errorf("pod %s: ready, SLO met %v", p.Name, deref(r.SLOMet))
				}
				if _, found := d.find(podtrace.KindDelete, string(p.UID)); found {
					return fmt.Errorf("pod %s is alive, yet has a delete record", p.Name)
				}
			}
			for _, r := range d {
				if alive[r.UID] {
					continue
				}
				if r.Kind == podtrace.KindCreate && r.Outcome != podtrace.OutcomeReady {
					return fmt.Errorf("removed pod %s: create outcome %s, want ready (it served before removal)", r.Name, r.Outcome)
				}
				if r.Kind == podtrace.KindDelete && r.Outcome != podtrace.OutcomeDeleted {
					return fmt.Errorf("removed pod %s: delete outcome %s, want deleted", r.Name, r.Outcome)
				}
			}
			for _, r := range d {
				if err := s.healthy(r, 30*time.Second); err != nil {
					return err
				}
			}
			return nil
		})
		t.Logf("%s: %d live pods, %d records", step.what, len(live), len(recs))
	}
}

// eviction: a pod evicted through pods/eviction gets a delete delivery with
// outcome evicted and the finding Evicted; its create delivery stays ready.
func (s *suite) eviction(t *testing.T) {
	ctx := s.context(t)
	ns := s.namespace(t, ctx, "evict-")
	const name = "web"
	if err := scenario.CreateDeployment(ctx, s.c.Client, ns, name, 2); err != nil {
		t.Fatal(err)
	}
	pods, _ := s.rollout(t, ctx, ns, name)
	victim := &pods[0]
	if err := scenario.Evict(ctx, s.c.Client, ns, victim.Name); err != nil {
		t.Fatal(err)
	}
	if err := scenario.WaitPodGone(ctx, s.c.Client, ns, victim.Name); err != nil {
		t.Fatal(err)
	}
	_, truth := s.rollout(t, ctx, ns, name)
	s.records(t, ctx, ns, "the evicted pod's delete delivery evicted (Evicted), the replacement ready", func(d deliveries) error {
		if diff := truth.diff(d); len(diff) > 0 {
			return errors.New(strings.Join(diff, "; "))
		}
		if _, err := d.expect(podtrace.KindCreate, victim, podtrace.OutcomeReady); err != nil {
			return err
		}
		if _, err := d.expect(podtrace.KindDelete, victim, podtrace.OutcomeEvicted, "Evicted"); err != nil {
			return err
		}
		if r, _ := d.find(podtrace.KindDelete, string(victim.UID)); r.Finished == nil {
			return fmt.Errorf("evicted pod %s is gone, its delete delivery is open", victim.Name)
		}
		return nil
	})
	p := s.pod(t, ctx, string(victim.UID), "an Evicted finding owned by the platform", func(p api.Pod) error {
		r, err := delivery(p, podtrace.KindDelete)
		if err != nil {
			return err
		}
		return firstFinding(r, "Evicted", podtrace.OwnerPlatform)
	})
	t.Logf("evicted %s: %s", victim.Name, p.Deliveries[len(p.Deliveries)-1].Diagnosis[0].Message)
}

// deleteGrace: a pod deleted with a 3 s grace period gets a delete delivery
// with one termination phase, outcome deleted, and the grace window as the
// user's time of its SLO.
func (s *suite) deleteGrace(t *testing.T) {
	ctx := s.context(t)
	ns := s.namespace(t, ctx, "grace-")
	pods, err := scenario.CreatePods(ctx, s.c.Client, ns, scenario.KWOKPod("graceful"))
	if err != nil {
		t.Fatal(err)
	}
	pod := pods[0]
	if err := scenario.WaitPodReady(ctx, s.c.Client, ns, pod.Name); err != nil {
		t.Fatal(err)
	}
	const grace = 3
	if err := s.c.Client.CoreV1().Pods(ns).Delete(ctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: new(int64(grace))}); err != nil {
		t.Fatal(err)
	}
	if err := scenario.WaitPodGone(ctx, s.c.Client, ns, pod.Name); err != nil {
		t.Fatal(err)
	}
	s.records(t, ctx, ns, "create ready, delete deleted", func(d deliveries) error {
		if _, err := d.expect(podtrace.KindCreate, pod, podtrace.OutcomeReady); err != nil {
			return err
		}
		r, found := d.find(podtrace.KindDelete, string(pod.UID))
		if !found || r.Outcome != podtrace.OutcomeDeleted {
			return fmt.Errorf("no closed delete record (found %v, outcome %s)", found, r.Outcome)
		}
		return s.healthy(r, grace*time.Second)
	})
	s.pod(t, ctx, string(pod.UID), "a termination phase and the grace window as user time", func(p api.Pod) error {
		r, err := delivery(p, podtrace.KindDelete)
		if err != nil {
			return err
		}
		if len(r.Phases) != 1 || r.Phases[0].Name != podtrace.PhaseTermination {
			return fmt.Errorf("delete phases %v, want one termination phase", r.Phases)
		}
		ms := map[string]bool{}
		for _, m := range r.Milestones {
			ms[m.Name] = true
		}
		if !ms["delete_requested"] || !ms["gone"] {
			return fmt.Errorf("delete milestones %v, want delete_requested and gone", r.Milestones)
		}
		if r.SLO == nil || r.SLO.Met == nil || !*r.SLO.Met {
			return fmt.Errorf("delete SLO %+v, want met", r.SLO)
		}
		if want := math.Min(r.SLO.TotalSeconds, grace); math.Abs(r.SLO.UserSeconds-want) > 1e-6 {
			return fmt.Errorf("delete SLO user time %.3fs, want min(total %.3fs, grace %ds)", r.SLO.UserSeconds, r.SLO.TotalSeconds, grace)
		}
		return nil
	})
}

// unschedulable: pods no node can take stay pending with the scheduler's
// cause as their root finding, owned by whoever can fix it; a cause the
// user owns makes the waiting the user's time.
func (s *suite) unschedulable(t *testing.T) {
	ctx := s.context(t)
	ns := s.namespace(t, ctx, "unsched-")
	cpu := scenario.Pod("too-much-cpu")
	cpu.Spec.Containers[0].Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1000")}
	mem := scenario.Pod("too-much-memory")
	mem.Spec.Containers[0].Resources.Requests = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Ti")}
	sel := scenario.Pod("no-such-node")
	sel.Spec.NodeSelector = map[string]string{"disktype": "does-not-exist"}
	pvc := scenario.Pod("missing-claim")
	pvc.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
		PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "does-not-exist"}}}}
	pods, err := scenario.CreatePods(ctx, s.c.Client, ns, cpu, mem, sel, pvc)
	if err != nil {
		t.Fatal(err)
	}
	if err := scenario.WaitEvents(ctx, s.c.Client, ns, "FailedScheduling", len(pods)); err != nil {
		t.Fatal(err)
	}
	want := []struct {
		code  string
		owner podtrace.Owner
	}{
		{"InsufficientCPU", podtrace.OwnerPlatform},
		{"InsufficientMemory", podtrace.OwnerPlatform},
		{"NodeSelectorMismatch", podtrace.OwnerUser},
		{"PVCNotFound", podtrace.OwnerUser},
	}
	s.records(t, ctx, ns, "every pod pending with its scheduling cause", func(d deliveries) error {
		for i, p := range pods {
			if _, err := d.expect(podtrace.KindCreate, p, podtrace.OutcomePending, want[i].code); err != nil {
				return err
			}
		}
		return nil
	})
	for i, p := range pods {
		s.pod(t, ctx, string(p.UID), want[i].code+" owned by "+string(want[i].owner), func(ap api.Pod) error {
			r, err := delivery(ap, podtrace.KindCreate)
			if err != nil {
				return err
			}
			if err := firstFinding(r, want[i].code, want[i].owner); err != nil {
				return err
			}
			if r.Node != "" || r.Finished != nil {
				return fmt.Errorf("unscheduled pod %s: node %q, finished %v", p.Name, r.Node, r.Finished)
			}
			var user float64
			for _, ph := range r.Phases {
				if ph.Name == podtrace.PhaseScheduling && ph.Owner != want[i].owner {
					return fmt.Errorf("pod %s: scheduling phase owned by %s, want %s (the finding's owner)", p.Name, ph.Owner, want[i].owner)
				}
				if ph.Owner == podtrace.OwnerUser {
					user += ph.End.Sub(ph.Start).Seconds()
				}
			}
			if r.SLO == nil || math.Abs(r.SLO.UserSeconds-user) > 1e-6 {
				return fmt.Errorf("pod %s: SLO %+v, want user time %.3fs (its user-owned phases)", p.Name, r.SLO, user)
			}
			return nil
		})
	}
}

// untoleratedTaint: with every node tainted, a pod stays pending with
// UntoleratedTaint; deleted, its create delivery ends deleted and keeps
// the cause. The nodes are untainted before the other scenarios start.
func (s *suite) untoleratedTaint(t *testing.T) {
	ctx := s.context(t)
	ns := s.namespace(t, ctx, "taint-")
	const key = "e2e.podtrace.dev/reserved"
	if err := scenario.SetTaint(ctx, s.c.Client, key, "true", false); err != nil {
		t.Fatal(err)
	}
	untaint := func() {
		if err := scenario.SetTaint(context.Background(), s.c.Client, key, "", true); err != nil {
			t.Error(err)
		}
	}
	t.Cleanup(untaint) // also when the test stops early
	pods, err := scenario.CreatePods(ctx, s.c.Client, ns, scenario.Pod("tainted-out"))
	if err != nil {
		t.Fatal(err)
	}
	pod := pods[0]
	t.Cleanup(func() { // before the untaint, if the test stops early
		_ = s.c.Client.CoreV1().Pods(ns).Delete(context.Background(), pod.Name, metav1.DeleteOptions{GracePeriodSeconds: new(int64(0))})
	})
	if err := scenario.WaitEvents(ctx, s.c.Client, ns, "FailedScheduling", 1); err != nil {
		t.Fatal(err)
	}
	s.finding(t, ctx, string(pod.UID), podtrace.KindCreate, podtrace.OutcomePending, "UntoleratedTaint", podtrace.OwnerPlatform)
	if err := scenario.DeletePod(ctx, s.c.Client, ns, pod.Name); err != nil {
		t.Fatal(err)
	}
	s.records(t, ctx, ns, "the deleted pending pod: create deleted with its cause, delete deleted", func(d deliveries) error {
		if _, err := d.expect(podtrace.KindCreate, pod, podtrace.OutcomeDeleted, "UntoleratedTaint"); err != nil {
			return err
		}
		_, err := d.expect(podtrace.KindDelete, pod, podtrace.OutcomeDeleted)
		return err
	})
}

// quota: a ResourceQuota of one pod lets a Deployment of three create one;
// the ReplicaSet's other creates are refused (403) and each refusal is a
// failed delivery with QuotaExceeded, owned by the user, naming the owner.
func (s *suite) quota(t *testing.T) {
	ctx := s.context(t)
	ns := s.namespace(t, ctx, "quota-")
	q := &corev1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Name: "one-pod"},
		Spec:       corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("1")}},
	}
	if _, err := s.c.Client.CoreV1().ResourceQuotas(ns).Create(ctx, q, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// the quota controller must have counted the namespace before creates
	if err := scenario.WaitQuotaCounted(ctx, s.c.Client, ns, q.Name); err != nil {
		t.Fatal(err)
	}
	const name = "capped"
	if err := scenario.CreateDeployment(ctx, s.c.Client, ns, name, 3); err != nil {
		t.Fatal(err)
	}
	if err := scenario.WaitEvents(ctx, s.c.Client, ns, "FailedCreate", 1); err != nil {
		t.Fatal(err)
	}
	d := s.records(t, ctx, ns, "refused creates failed with QuotaExceeded, owned by the ReplicaSet", func(d deliveries) error {
		n := 0
		for _, r := range d {
			if !strings.HasPrefix(r.UID, "refused-") {
				continue
			}
			n++
			if r.Outcome != podtrace.OutcomeFailed || len(r.Codes) == 0 || r.Codes[0] != "QuotaExceeded" {
				return fmt.Errorf("refused create %s: outcome %s codes %v, want failed with QuotaExceeded", r.UID, r.Outcome, r.Codes)
			}
			if r.OwnerKind != "ReplicaSet" || !strings.HasPrefix(r.OwnerName, name+"-") {
				return fmt.Errorf("refused create %s: owner %s/%s, want the ReplicaSet of %s", r.UID, r.OwnerKind, r.OwnerName, name)
			}
			if r.SLOMet == nil || !*r.SLOMet {
				return fmt.Errorf("refused create %s: SLO met %v, want true (the user's quota)", r.UID, deref(r.SLOMet))
			}
		}
		if n == 0 {
			return errors.New("no record of a refused create")
		}
		return nil
	})
	var refused string
	for _, r := range d {
		if strings.HasPrefix(r.UID, "refused-") {
			refused = r.UID
		}
	}
	s.pod(t, ctx, refused, "QuotaExceeded owned by the user, quoting the quota", func(p api.Pod) error {
		r, err := delivery(p, podtrace.KindCreate)
		if err != nil {
			return err
		}
		if err := firstFinding(r, "QuotaExceeded", podtrace.OwnerUser); err != nil {
			return err
		}
		if !strings.Contains(r.Diagnosis[0].Message, "exceeded quota: one-pod") {
			return fmt.Errorf("QuotaExceeded message %q does not quote the quota", r.Diagnosis[0].Message)
		}
		return nil
	})
	// One replica fits: the ReplicaSet stops creating, the namespace is quiet.
	if err := scenario.Scale(ctx, s.c.Client, ns, name, 1); err != nil {
		t.Fatal(err)
	}
	live, truth := s.rollout(t, ctx, ns, name)
	s.records(t, ctx, ns, "the admitted pod ready and every refusal recorded", func(d deliveries) error {
		if diff := truth.diff(d); len(diff) > 0 {
			return errors.New(strings.Join(diff, "; "))
		}
		_, err := d.expect(podtrace.KindCreate, &live[0], podtrace.OutcomeReady)
		return err
	})
	t.Logf("%d pod creates refused by the quota", len(truth.refused))
}

// failingContainers: KWOK stages fail the containers the way the kubelet
// reports it — a crash loop, a non-zero exit, an OOM kill, a failed init
// container — and each pod's create delivery names the matching code.
func (s *suite) failingContainers(t *testing.T) {
	ctx := s.context(t)
	ns := s.namespace(t, ctx, "containers-")
	crash := scenario.StagedPod("crashloop", scenario.ContainerLabel, "crashloop")
	exit := scenario.StagedPod("exit-2", scenario.ContainerLabel, "exit")
	exit.Spec.RestartPolicy = corev1.RestartPolicyNever
	exit.Annotations[scenario.ExitCodeAnnotation] = "2"
	oom := scenario.StagedPod("oom-killed", scenario.ContainerLabel, "exit")
	oom.Spec.RestartPolicy = corev1.RestartPolicyNever
	oom.Annotations[scenario.ExitCodeAnnotation] = "137"
	oom.Annotations[scenario.ExitReasonAnnotation] = "OOMKilled"
	initFail := scenario.StagedPod("init-fails", scenario.InitFailedLabel, "true")
	initFail.Annotations = map[string]string{scenario.PodCreateWeightAnnotation: "0"}
	initFail.Spec.RestartPolicy = corev1.RestartPolicyNever
	initFail.Spec.InitContainers = []corev1.Container{{Name: "setup", Image: scenario.PauseImage}}
	pods, err := scenario.CreatePods(ctx, s.c.Client, ns, crash, exit, oom, initFail)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		outcome podtrace.Outcome
		code    string
	}{
		{podtrace.OutcomePending, "CrashLoopBackOff"},
		{podtrace.OutcomeFailed, "ContainerExitedNonZero"},
		{podtrace.OutcomeFailed, "OOMKilled"},
		{podtrace.OutcomeFailed, "InitContainerFailed"},
	}
	for i, p := range pods {
		if err := scenario.WaitPod(ctx, s.c.Client, ns, p.Name, "failing", func(p *corev1.Pod) bool {
			if p.Status.Phase == corev1.PodFailed {
				return true
			}
			for _, cs := range p.Status.ContainerStatuses {
				if cs.State.Waiting != nil && cs.State.Waiting.Reason == "CrashLoopBackOff" {
					return true
				}
			}
			return false
		}); err != nil {
			t.Fatal(err)
		}
		s.pod(t, ctx, string(p.UID), want[i].code+" owned by the user", func(ap api.Pod) error {
			r, err := delivery(ap, podtrace.KindCreate)
			if err != nil {
				return err
			}
			if r.Outcome != want[i].outcome {
				return fmt.Errorf("outcome %s, want %s", r.Outcome, want[i].outcome)
			}
			if err := firstFinding(r, want[i].code, podtrace.OwnerUser); err != nil {
				return err
			}
			if r.Finished != nil && (r.SLO == nil || r.SLO.Met == nil || !*r.SLO.Met) {
				return fmt.Errorf("failed for the user's reason, SLO %+v, want met", r.SLO)
			}
			return nil
		})
	}
}

// readiness: a pod whose app takes readyDelay to become Ready after its
// containers started gets a readiness phase spanning exactly the time
// between the two status writes the audit log shows, counted as the user's
// time; a pod that never becomes Ready is found ReadinessSlow.
func (s *suite) readiness(t *testing.T) {
	ctx := s.context(t)
	ns := s.namespace(t, ctx, "readiness-")
	late := scenario.StagedPod("ready-late", scenario.ReadinessLabel, "late")
	late.Annotations[scenario.ReadyDelayAnnotation] = readyDelay.String()
	never := scenario.StagedPod("never-ready", scenario.ReadinessLabel, "never")
	pods, err := scenario.CreatePods(ctx, s.c.Client, ns, late, never)
	if err != nil {
		t.Fatal(err)
	}
	late, never = pods[0], pods[1]
	s.pod(t, ctx, string(never.UID), "running, never Ready: ReadinessSlow owned by the user", func(p api.Pod) error {
		r, err := delivery(p, podtrace.KindCreate)
		if err != nil {
			return err
		}
		if r.Outcome != podtrace.OutcomeRunning {
			return fmt.Errorf("outcome %s, want running", r.Outcome)
		}
		return firstFinding(r, "ReadinessSlow", podtrace.OwnerUser)
	})
	if err := scenario.WaitPodReady(ctx, s.c.Client, ns, late.Name); err != nil {
		t.Fatal(err)
	}
	started, ready := statusWrites(t, s.c.AuditLogPath, ns, late.Name)
	if ready.Sub(started) < readyDelay {
		t.Fatalf("audit log: containers started %s, Ready %s: less than KWOK's delay %s apart", started, ready, readyDelay)
	}
	s.pod(t, ctx, string(late.UID), "ready, the readiness phase from containers started to Ready as user time", func(p api.Pod) error {
		r, err := delivery(p, podtrace.KindCreate)
		if err != nil {
			return err
		}
		if r.Outcome != podtrace.OutcomeReady || len(r.Diagnosis) > 0 {
			return fmt.Errorf("outcome %s with %d findings, want ready without (within slow_delivery)", r.Outcome, len(r.Diagnosis))
		}
		last := r.Phases[len(r.Phases)-1]
		if last.Name != podtrace.PhaseReadiness || last.Owner != podtrace.OwnerUser || !last.Start.Equal(started) || !last.End.Equal(ready) {
			return fmt.Errorf("last phase %+v, want readiness %s → %s owned by the user (the audit log's status writes)", last, started.Format(time.RFC3339Nano), ready.Format(time.RFC3339Nano))
		}
		if r.SLO == nil || math.Abs(r.SLO.UserSeconds-ready.Sub(started).Seconds()) > 1e-6 || r.SLO.Met == nil || !*r.SLO.Met {
			return fmt.Errorf("SLO %+v, want met with user time %.3fs (the readiness phase)", r.SLO, ready.Sub(started).Seconds())
		}
		return nil
	})
}

// finalizer: a deleted pod held by a finalizer nobody removes is found
// DeleteBlockedByFinalizer (owned by the user: the finalizer is theirs)
// while it hangs; once the finalizer is removed the pod goes, and the
// finding stays as the reason its delete took so long.
func (s *suite) finalizer(t *testing.T) {
	ctx := s.context(t)
	ns := s.namespace(t, ctx, "finalizer-")
	held := scenario.KWOKPod("held")
	held.Finalizers = []string{"e2e.podtrace.dev/hold"}
	held.Spec.TerminationGracePeriodSeconds = new(int64(1))
	pods, err := scenario.CreatePods(ctx, s.c.Client, ns, held)
	if err != nil {
		t.Fatal(err)
	}
	pod := pods[0]
	if err := scenario.WaitPodReady(ctx, s.c.Client, ns, pod.Name); err != nil {
		t.Fatal(err)
	}
	if err := s.c.Client.CoreV1().Pods(ns).Delete(ctx, pod.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	blocked := func(open bool) func(p api.Pod) error {
		return func(p api.Pod) error {
			r, err := delivery(p, podtrace.KindDelete)
			if err != nil {
				return err
			}
			if open != (r.Finished == nil) {
				return fmt.Errorf("delete delivery %s (finished %v), want open %v", r.Outcome, r.Finished, open)
			}
			if err := firstFinding(r, "DeleteBlockedByFinalizer", podtrace.OwnerUser); err != nil {
				return err
			}
			if !strings.Contains(r.Diagnosis[0].Message, "e2e.podtrace.dev/hold") {
				return fmt.Errorf("finding %q does not name the finalizer", r.Diagnosis[0].Message)
			}
			return nil
		}
	}
	s.pod(t, ctx, string(pod.UID), "the delete pending, DeleteBlockedByFinalizer", blocked(true))
	if err := scenario.RemoveFinalizers(ctx, s.c.Client, ns, pod.Name); err != nil {
		t.Fatal(err)
	}
	if err := scenario.WaitPodGone(ctx, s.c.Client, ns, pod.Name); err != nil {
		t.Fatal(err)
	}
	s.pod(t, ctx, string(pod.UID), "the delete done, DeleteBlockedByFinalizer kept", blocked(false))
}

// hollowKubelet: a pod on the hollow kubelet (real kubelet code) gets the
// apiserver's and the kubelet's spans linked to its deliveries, a trace id,
// and its trace served by the Jaeger-compatible API with those spans.
func (s *suite) hollowKubelet(t *testing.T) {
	ctx := s.context(t)
	ns := s.namespace(t, ctx, "hollow-")
	pod := scenario.Pod("on-hollow")
	pod.Spec.NodeSelector = map[string]string{"kubernetes.io/hostname": cluster.HollowNodeName}
	pods, err := scenario.CreatePods(ctx, s.c.Client, ns, pod)
	if err != nil {
		t.Fatal(err)
	}
	pod = pods[0]
	if err := scenario.WaitPodReady(ctx, s.c.Client, ns, pod.Name); err != nil {
		t.Fatal(err)
	}
	wantSpans := func(kind podtrace.Kind, names ...string) func(p api.Pod) error {
		return func(p api.Pod) error {
			r, err := delivery(p, kind)
			if err != nil {
				return err
			}
			if r.Finished == nil || r.TraceID == nil || *r.TraceID != podtrace.TraceIDHex(instance.Cluster, string(pod.UID), kind, 0) {
				return fmt.Errorf("%s delivery: finished %v, trace id %v", kind, r.Finished, deref(r.TraceID))
			}
			services := map[string]bool{}
			have := map[string]bool{}
			for _, sp := range r.Spans {
				services[sp.Service] = true
				have[sp.Name] = true
			}
			if !services["apiserver"] || !services["kubelet"] {
				return fmt.Errorf("%s delivery: spans of %v, want apiserver and kubelet", kind, slices.Sorted(maps.Keys(services)))
			}
			for _, n := range names {
				if !have[n] {
					return fmt.Errorf("%s delivery: no span %q", kind, n)
				}
			}
			return nil
		}
	}
	p := s.pod(t, ctx, string(pod.UID), "a ready create delivery with apiserver and kubelet spans", wantSpans(podtrace.KindCreate,
		"syncPod", "runtime.v1.RuntimeService/RunPodSandbox", "runtime.v1.RuntimeService/StartContainer"))
	r, err := delivery(p, podtrace.KindCreate)
	if err != nil {
		t.Fatal(err)
	}
	if r.Outcome != podtrace.OutcomeReady || r.Node != cluster.HollowNodeName {
		t.Errorf("create delivery: outcome %s on %q, want ready on %s", r.Outcome, r.Node, cluster.HollowNodeName)
	}
	tr, err := s.pt.Trace(ctx, *r.TraceID)
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Data) != 1 || tr.Data[0].TraceID != *r.TraceID {
		t.Fatalf("GET /api/traces/%s: %d traces", *r.TraceID, len(tr.Data))
	}
	services := map[string]bool{}
	for _, sp := range tr.Data[0].Spans {
		services[tr.Data[0].Processes[sp.ProcessID].ServiceName] = true
	}
	if !services["podtrace"] || !services["apiserver"] || !services["kubelet"] {
		t.Errorf("GET /api/traces/%s: services %v, want podtrace, apiserver and kubelet", *r.TraceID, slices.Sorted(maps.Keys(services)))
	}
	// phases and linked spans, plus the root: every span of the record is there
	if want := 1 + len(r.Phases) + len(r.Spans); len(tr.Data[0].Spans) < want {
		t.Errorf("GET /api/traces/%s: %d spans, want at least %d (root, %d phases, %d linked spans)", *r.TraceID, len(tr.Data[0].Spans), want, len(r.Phases), len(r.Spans))
	}

	if err := scenario.DeletePod(ctx, s.c.Client, ns, pod.Name); err != nil {
		t.Fatal(err)
	}
	s.pod(t, ctx, string(pod.UID), "a closed delete delivery with the kubelet's terminating sync", wantSpans(podtrace.KindDelete, "syncTerminatingPod"))
}
