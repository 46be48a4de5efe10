package e2e

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/podtrace/podtrace"
	"github.com/podtrace/podtrace/api"
	"github.com/podtrace/podtrace/e2e/cluster"
	"github.com/podtrace/podtrace/e2e/instance"
	"github.com/podtrace/podtrace/e2e/registry"
	"github.com/podtrace/podtrace/e2e/scenario"
	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// realNodeConfig is the podtrace under test on the real node: the KWOK
// suite's thresholds, with slow_delivery and image_pull_slow short enough
// for a throttled registry to make a slow pull within a minute.
const realNodeConfig = podtraceConfig + `  slow_delivery: 40s
  image_pull_slow: 20s
`

const (
	realSlowDelivery = 40 * time.Second // realNodeConfig's slow_delivery
	// slowPull is how long the throttled registry takes to serve an image:
	// past image_pull_slow, and enough for the delivery to pass slow_delivery.
	slowPull = 45 * time.Second
	// appPort is where the test image's app listens (-listen).
	appPort = 8080
	// realGrace is the real pods' termination grace period.
	realGrace = 5
	// the test registry's credentials for its private/ repositories
	registryUser, registryPassword = "e2e", "s3cret-pull"
)

// realImages are the references of the images pushed to the test registry.
type realImages struct {
	registry, closedHost      string
	app, appV2, tool, private string
	slow                      string
}

// TestRealNode runs the real podtrace binary against a real control plane
// whose node is a real kubelet on containerd 2.x, runc and a bridge CNI
// network, pulling from a real OCI registry on 127.0.0.1: every kubelet-side
// problem a user meets — missing, private, unreachable, slow and invalid
// images; missing ConfigMaps and Secrets; crashing, OOM-killed, unready and
// probe-killed containers; failing hooks, init containers and sandboxes —
// happens for real, and podtrace must name it on the pod that had it, with
// the owner, from the kubelet's real Events and status writes. The healthy
// Deployment's delivery traces hold kube-apiserver, kubelet and containerd
// spans. At the end every namespace's records are reconciled with the
// apiserver's audit log.
func TestRealNode(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	reg := registry.Start(t, registry.Options{User: registryUser, Password: registryPassword, SlowPull: slowPull})
	pt := instance.Start(t, instance.Options{Config: realNodeConfig})
	images := pushImages(t, reg)
	// the tee keeps a copy of what the cluster sends, for $PODTRACE_E2E_CAPTURE
	capture := newTee(t, pt.URL+"/audit", pt.OTLPGRPC)
	c := cluster.Start(t, cluster.Options{
		AuditWebhookURL: capture.AuditURL, OTLPEndpoint: capture.OTLPAddr, KWOKNodes: 1,
		RealNode: &cluster.RealNode{
			SandboxImage:        images.registry + "/pause:3.10",
			PlainHTTPRegistries: []string{images.registry, images.closedHost},
		},
	})
	template := realPod("app", images.app).Spec
	s := &suite{pt: pt, c: c, template: &template, updatedImage: images.appV2, slow: realSlowDelivery}
	stopClock := s.clock(t)

	t.Run("Parallel", func(t *testing.T) {
		for _, sc := range []struct {
			name string
			run  func(*testing.T)
		}{
			{"Deployment", s.deployment},
			{"Traces", func(t *testing.T) { s.realTraces(t, images) }},
			{"Failures", func(t *testing.T) { s.realFailures(t, images) }},
			{"SlowPull", func(t *testing.T) { s.realSlowPull(t, images) }},
			{"Delete", func(t *testing.T) { s.realDelete(t, images) }},
		} {
			t.Run(sc.name, func(t *testing.T) {
				t.Parallel()
				sc.run(t)
			})
		}
	})

	// stops the kubelet, so every pod on the node: runs alone, last
	t.Run("NodeLost", func(t *testing.T) { s.realNodeLost(t, images) })

	stopClock()
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	capture.write(t, c.AuditLogPath, c.ConfigDir)
	s.reconcile(t)
}

// pushImages builds the test image and pushes what the scenarios pull.
func pushImages(t *testing.T, reg *registry.Registry) realImages {
	t.Helper()
	bin := registry.BuildTestImage(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	push := func(repo, tag string, args ...string) string {
		img, err := registry.Image(bin, args...)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := reg.Push(ctx, repo, tag, img)
		if err != nil {
			t.Fatal(err)
		}
		return ref
	}
	listen := fmt.Sprintf(":%d", appPort)
	push("pause", "3.10") // no args: waits for SIGTERM, as pause does
	return realImages{
		registry:   reg.Host,
		closedHost: registry.ClosedHost(t),
		app:        push("app", "v1", "-listen", listen, "-print", "v1"),
		appV2:      push("app", "v2", "-listen", listen, "-print", "v2"),
		tool:       push("tool", "v1"),
		private:    push(registry.PrivatePrefix+"app", "v1", "-print", "private"),
		slow:       push(registry.SlowPrefix+"app", "v1", "-listen", listen, "-print", "slow"),
	}
}

// appArgs are the test image's flags for an app serving /ready and
// /healthz on appPort, plus extra (a pod's args replace the image's).
func appArgs(extra ...string) []string {
	return append([]string{"-listen", fmt.Sprintf(":%d", appPort)}, extra...)
}

// realPod is a pod of one container for the real node, with a readiness
// probe on the app's /ready.
func realPod(name, image string, args ...string) *corev1.Pod {
	grace := int64(realGrace)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{
			NodeSelector:                  map[string]string{"kubernetes.io/hostname": cluster.RealNodeName},
			TerminationGracePeriodSeconds: &grace,
			Containers: []corev1.Container{{
				Name: "app", Image: image, Args: args,
				ReadinessProbe: httpProbe("/ready", 1, 3),
			}},
		},
	}
}

// httpProbe probes the app's path every period seconds.
func httpProbe(path string, period, failures int32) *corev1.Probe {
	return &corev1.Probe{
		ProbeHandler:     corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromInt32(appPort)}},
		PeriodSeconds:    period,
		FailureThreshold: failures,
		TimeoutSeconds:   1,
	}
}

// realCase is a pod with a problem and what podtrace must say of it.
type realCase struct {
	pod     *corev1.Pod
	outcome podtrace.Outcome // of its create delivery; "" any
	code    string           // the first finding
	owner   podtrace.Owner
}

// realFailures runs every failing pod at once, each in the same namespace,
// and checks each one's create delivery gets the finding that names its
// problem, with the right owner, evidence and remedy.
func (s *suite) realFailures(t *testing.T, im realImages) {
	ctx := s.context(t)
	ns := s.namespace(t, ctx, "realfail-")
	if _, err := s.c.Client.NodeV1().RuntimeClasses().Create(ctx, &nodev1.RuntimeClass{
		ObjectMeta: metav1.ObjectMeta{Name: ns + "-broken"}, Handler: "no-such-handler",
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	never := corev1.RestartPolicyNever
	withPod := func(p *corev1.Pod, change func(*corev1.Pod)) *corev1.Pod { change(p); return p }
	noProbe := func(p *corev1.Pod) { p.Spec.Containers[0].ReadinessProbe = nil }
	cases := []realCase{
		{realPod("image-not-found", im.registry+"/missing:v1"), podtrace.OutcomePending, "ImageNotFound", podtrace.OwnerUser},
		{realPod("pull-access-denied", im.private), podtrace.OutcomePending, "ImagePullAccessDenied", podtrace.OwnerUser},
		{realPod("registry-down", im.closedHost+"/app:v1"), podtrace.OutcomePending, "RegistryUnavailable", podtrace.OwnerPlatform},
		{realPod("invalid-image-name", im.registry+"/Bad_Name:v1"), podtrace.OutcomePending, "InvalidImageName", podtrace.OwnerUser},
		{withPod(realPod("never-pull", im.registry+"/absent:v1"), func(p *corev1.Pod) {
			p.Spec.Containers[0].ImagePullPolicy = corev1.PullNever
		}), podtrace.OutcomePending, "ImageNeverPull", podtrace.OwnerUser},
		{withPod(realPod("configmap-volume", im.app), func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "cfg", VolumeSource: corev1.VolumeSource{
				ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "absent"}}}}}
			p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "cfg", MountPath: "/cfg"}}
		}), podtrace.OutcomePending, "ConfigMapNotFound", podtrace.OwnerUser},
		{withPod(realPod("secret-volume", im.app), func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "sec", VolumeSource: corev1.VolumeSource{
				Secret: &corev1.SecretVolumeSource{SecretName: "absent"}}}}
			p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "sec", MountPath: "/sec"}}
		}), podtrace.OutcomePending, "SecretNotFound", podtrace.OwnerUser},
		{withPod(realPod("configmap-env", im.app), func(p *corev1.Pod) {
			p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "X", ValueFrom: &corev1.EnvVarSource{
				ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "absent"}, Key: "k"}}}}
		}), podtrace.OutcomePending, "ConfigMapNotFound", podtrace.OwnerUser},
		{withPod(realPod("secret-env", im.app), func(p *corev1.Pod) {
			p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "X", ValueFrom: &corev1.EnvVarSource{
				SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "absent"}, Key: "k"}}}}
		}), podtrace.OutcomePending, "SecretNotFound", podtrace.OwnerUser},
		{withPod(realPod("exit-nonzero", im.tool, "-exit-after", "1s", "-exit-code", "3"), func(p *corev1.Pod) {
			noProbe(p)
			p.Spec.RestartPolicy = never
		}), podtrace.OutcomeFailed, "ContainerExitedNonZero", podtrace.OwnerUser},
		// running: a real crash loop's containers start, again and again
		{withPod(realPod("crashloop", im.tool, "-exit-after", "0s", "-exit-code", "1"), noProbe),
			podtrace.OutcomeRunning, "CrashLoopBackOff", podtrace.OwnerUser},
		{withPod(realPod("oom-killed", im.tool, "-alloc-mib", "256"), func(p *corev1.Pod) {
			noProbe(p)
			p.Spec.RestartPolicy = never
			p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("48Mi")}
		}), podtrace.OutcomeFailed, "OOMKilled", podtrace.OwnerUser},
		{realPod("never-ready", im.app, appArgs("-never-ready")...), podtrace.OutcomeRunning, "ReadinessProbeFailed", podtrace.OwnerUser},
		{withPod(realPod("startup-probe", im.app, appArgs("-never-ready")...), func(p *corev1.Pod) {
			p.Spec.Containers[0].StartupProbe = httpProbe("/ready", 1, 2)
		}), "", "StartupProbeFailed", podtrace.OwnerUser},
		{withPod(realPod("liveness", im.app, appArgs("-ready-after", "10m", "-unhealthy-after", "1s")...), func(p *corev1.Pod) {
			p.Spec.Containers[0].LivenessProbe = httpProbe("/healthz", 1, 2)
		}), "", "LivenessProbeFailed", podtrace.OwnerUser},
		{withPod(realPod("poststart-fails", im.app), func(p *corev1.Pod) {
			p.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PostStart: &corev1.LifecycleHandler{
				Exec: &corev1.ExecAction{Command: []string{"/testimage", "-check-file", "/no-such-file"}}}}
		}), "", "PostStartHookFailed", podtrace.OwnerUser},
		{withPod(realPod("init-fails", im.app), func(p *corev1.Pod) {
			p.Spec.RestartPolicy = never
			p.Spec.InitContainers = []corev1.Container{{Name: "setup", Image: im.tool, Args: []string{"-exit-after", "0s", "-exit-code", "2"}}}
		}), podtrace.OutcomeFailed, "InitContainerFailed", podtrace.OwnerUser},
		{withPod(realPod("command-missing", im.app), func(p *corev1.Pod) {
			p.Spec.Containers[0].Command = []string{"/no-such-binary"}
		}), "", "RunContainerError", podtrace.OwnerUser},
		{withPod(realPod("runs-as-root", im.app), func(p *corev1.Pod) {
			nonRoot := true
			p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{RunAsNonRoot: &nonRoot}
		}), podtrace.OutcomePending, "CreateContainerConfigError", podtrace.OwnerUser},
		{withPod(realPod("hostpath-missing", im.app), func(p *corev1.Pod) {
			dir := corev1.HostPathDirectory
			p.Spec.Volumes = []corev1.Volume{{Name: "host", VolumeSource: corev1.VolumeSource{
				HostPath: &corev1.HostPathVolumeSource{Path: "/no-such-dir-" + ns, Type: &dir}}}}
			p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "host", MountPath: "/host"}}
		}), podtrace.OutcomePending, "VolumeMountFailed", podtrace.OwnerPlatform},
		{withPod(realPod("readiness-gate", im.app), func(p *corev1.Pod) {
			p.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: "podtrace.dev/never-set"}}
		}), podtrace.OutcomeRunning, "ReadinessGateNotReady", podtrace.OwnerPlatform},
		{withPod(realPod("sandbox-fails", im.app), func(p *corev1.Pod) {
			rc := ns + "-broken"
			p.Spec.RuntimeClassName = &rc
		}), podtrace.OutcomePending, "SandboxCreateFailed", podtrace.OwnerPlatform},
	}
	pods := make([]*corev1.Pod, len(cases))
	for i, c := range cases {
		pods[i] = c.pod
	}
	created, err := scenario.CreatePods(ctx, s.c.Client, ns, pods...)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range cases {
		p := created[i]
		t.Run(p.Name, func(t *testing.T) {
			t.Parallel()
			r := s.finding(t, ctx, string(p.UID), podtrace.KindCreate, c.outcome, c.code, c.owner)
			t.Logf("%s: %s: %s", p.Name, r.Diagnosis[0].Code, r.Diagnosis[0].Message)
		})
	}
}

// realSlowPull: an image the throttled registry serves in slowPull makes a
// delivery that ends Ready but late, with ImagePullSlow on the platform.
func (s *suite) realSlowPull(t *testing.T, im realImages) {
	ctx := s.context(t)
	ns := s.namespace(t, ctx, "realslow-")
	created, err := scenario.CreatePods(ctx, s.c.Client, ns, realPod("slow-pull", im.slow))
	if err != nil {
		t.Fatal(err)
	}
	p := created[0]
	if err := scenario.WaitPodReady(ctx, s.c.Client, ns, p.Name); err != nil {
		t.Fatal(err)
	}
	s.finding(t, ctx, string(p.UID), podtrace.KindCreate, podtrace.OutcomeReady, "ImagePullSlow", podtrace.OwnerPlatform)
}

// realDelete: a pod that honours SIGTERM and one that ignores it are
// deleted; both get delete deliveries ending deleted, the second only after
// its grace period, without a finding either way.
func (s *suite) realDelete(t *testing.T, im realImages) {
	ctx := s.context(t)
	ns := s.namespace(t, ctx, "realdel-")
	created, err := scenario.CreatePods(ctx, s.c.Client, ns,
		realPod("honours-sigterm", im.app), realPod("ignores-sigterm", im.app, appArgs("-ignore-sigterm")...))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range created {
		if err := scenario.WaitPodReady(ctx, s.c.Client, ns, p.Name); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range created {
		if err := scenario.DeletePod(ctx, s.c.Client, ns, p.Name); err != nil {
			t.Fatal(err)
		}
	}
	s.records(t, ctx, ns, "both pods ready, then deleted without findings", func(d deliveries) error {
		for _, p := range created {
			if _, err := d.expect(podtrace.KindCreate, p, podtrace.OutcomeReady); err != nil {
				return err
			}
			r, err := d.expect(podtrace.KindDelete, p, podtrace.OutcomeDeleted)
			if err != nil {
				return err
			}
			if err := s.healthy(r, realGrace*time.Second); err != nil {
				return err
			}
			if p.Name == "ignores-sigterm" && r.DurationSeconds < realGrace {
				return fmt.Errorf("%s ignores SIGTERM, yet its delete took %.1fs (grace %ds)", p.Name, r.DurationSeconds, realGrace)
			}
		}
		return nil
	})
}

// realTraces: a healthy pod's delivery trace holds the spans of every
// component that served it — kube-apiserver, the kubelet and containerd —
// and containerd's CRI server spans are children of the kubelet's CRI
// client spans.
func (s *suite) realTraces(t *testing.T, im realImages) {
	ctx := s.context(t)
	ns := s.namespace(t, ctx, "realtrace-")
	created, err := scenario.CreatePods(ctx, s.c.Client, ns, realPod("traced", im.app))
	if err != nil {
		t.Fatal(err)
	}
	p := created[0]
	if err := scenario.WaitPodReady(ctx, s.c.Client, ns, p.Name); err != nil {
		t.Fatal(err)
	}
	got := s.pod(t, ctx, string(p.UID), "a ready delivery with apiserver, kubelet and containerd spans", func(ap api.Pod) error {
		r, err := delivery(ap, podtrace.KindCreate)
		if err != nil {
			return err
		}
		bySpanID := map[string]podtrace.Span{}
		services := map[string]int{}
		for _, sp := range r.Spans {
			bySpanID[sp.SpanID] = sp
			services[sp.Service]++
		}
		for _, want := range []string{"apiserver", "kubelet", "containerd"} {
			if services[want] == 0 {
				return fmt.Errorf("no %s span among %v", want, services)
			}
		}
		var nested int
		for _, sp := range r.Spans {
			if parent, ok := bySpanID[sp.Parent]; ok && sp.Service == "containerd" && parent.Service == "kubelet" {
				nested++
			}
		}
		if nested == 0 {
			return fmt.Errorf("no containerd span is the child of a kubelet span (services %v)", services)
		}
		return nil
	})
	r, _ := delivery(got, podtrace.KindCreate)
	var names []string
	for _, sp := range r.Spans {
		if !slices.Contains(names, sp.Service+" "+sp.Name) {
			names = append(names, sp.Service+" "+sp.Name)
		}
	}
	t.Logf("trace %v of %s: %d spans: %v", deref(r.TraceID), p.Name, len(r.Spans), names)
}

// realNodeLost: the kubelet stops, so its node goes NotReady and is tainted
// unreachable; a pod that tolerates that for 5 s is deleted by the taint
// eviction controller, and once the kubelet is back it finishes the
// deletion. The pod's delete delivery ends evicted (the taint eviction
// controller's plain delete is an eviction), with Evicted on the platform.
func (s *suite) realNodeLost(t *testing.T, im realImages) {
	ctx := s.context(t)
	ns := s.namespace(t, ctx, "reallost-")
	pod := realPod("on-lost-node", im.app)
	five := int64(5)
	for _, key := range []string{corev1.TaintNodeUnreachable, corev1.TaintNodeNotReady} {
		pod.Spec.Tolerations = append(pod.Spec.Tolerations, corev1.Toleration{
			Key: key, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: &five})
	}
	created, err := scenario.CreatePods(ctx, s.c.Client, ns, pod)
	if err != nil {
		t.Fatal(err)
	}
	p := created[0]
	if err := scenario.WaitPodReady(ctx, s.c.Client, ns, p.Name); err != nil {
		t.Fatal(err)
	}
	if err := s.c.StopKubelet(); err != nil {
		t.Fatal(err)
	}
	if err := scenario.WaitPod(ctx, s.c.Client, ns, p.Name, "deleted by the taint eviction controller", func(p *corev1.Pod) bool {
		return p.DeletionTimestamp != nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.c.StartKubelet(); err != nil {
		t.Fatal(err)
	}
	if err := scenario.WaitPodGone(ctx, s.c.Client, ns, p.Name); err != nil {
		t.Fatal(err)
	}
	got := s.pod(t, ctx, string(p.UID), "a finished delete delivery, evicted, Evicted on the platform; the create ready", func(ap api.Pod) error {
		if r, err := delivery(ap, podtrace.KindCreate); err != nil || r.Outcome != podtrace.OutcomeReady || len(r.Diagnosis) > 0 {
			return fmt.Errorf("create delivery %v %v (%v), want ready without findings", r.Outcome, r.Diagnosis, err)
		}
		r, err := delivery(ap, podtrace.KindDelete)
		if err != nil {
			return err
		}
		if r.Finished == nil || r.Outcome != podtrace.OutcomeEvicted {
			return fmt.Errorf("delete delivery %s, finished %v, want evicted and finished", r.Outcome, r.Finished)
		}
		return firstFinding(r, "Evicted", podtrace.OwnerPlatform)
	})
	r, _ := delivery(got, podtrace.KindDelete)
	t.Logf("%s: delete %s after %s: %s: %s", p.Name, r.Outcome, r.Finished.Sub(r.Created), r.Diagnosis[0].Code, r.Diagnosis[0].Message)
}

// oneAddressCNI is a bridge network whose range holds one pod address (a
// /30: the network, the bridge's gateway, one pod, broadcast).
const oneAddressCNI = `{"cniVersion": "1.0.0", "name": "podtrace-e2e-one", "plugins": [
  {"type": "bridge", "bridge": "%BRIDGE%", "isGateway": true, "ipMasq": false,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.249.0.0/30"}]], "dataDir": "%IPAM%"}}]}`

// TestRealNodeIPExhausted: on a real node whose pod network has one
// address, the first pod takes it and becomes Ready; the second cannot get
// an address (containerd's CNI call fails in host-local), and podtrace says
// IPAllocationFailed, the platform's, on it and nothing on the first.
func TestRealNodeIPExhausted(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	reg := registry.Start(t, registry.Options{User: registryUser, Password: registryPassword})
	pt := instance.Start(t, instance.Options{Config: realNodeConfig})
	images := pushImages(t, reg)
	c := cluster.Start(t, cluster.Options{
		AuditWebhookURL: pt.URL + "/audit", KWOKNodes: -1,
		RealNode: &cluster.RealNode{SandboxImage: images.registry + "/pause:3.10",
			PlainHTTPRegistries: []string{images.registry}, CNIConfig: oneAddressCNI},
	})
	s := &suite{pt: pt, c: c, slow: realSlowDelivery}
	ctx := s.context(t)
	ns := s.namespace(t, ctx, "realip-")
	first, err := scenario.CreatePods(ctx, c.Client, ns, realPod("first", images.app))
	if err != nil {
		t.Fatal(err)
	}
	if err := scenario.WaitPodReady(ctx, c.Client, ns, first[0].Name); err != nil {
		t.Fatal(err)
	}
	second, err := scenario.CreatePods(ctx, c.Client, ns, realPod("second", images.app))
	if err != nil {
		t.Fatal(err)
	}
	r := s.finding(t, ctx, string(second[0].UID), podtrace.KindCreate, podtrace.OutcomePending, "IPAllocationFailed", podtrace.OwnerPlatform)
	t.Logf("second: %s", r.Diagnosis[0].Message)
	s.records(t, ctx, ns, "the first pod ready without findings", func(d deliveries) error {
		_, err := d.expect(podtrace.KindCreate, first[0], podtrace.OutcomeReady)
		return err
	})
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	s.reconcile(t)
}
