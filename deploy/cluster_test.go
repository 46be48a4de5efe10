package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	"github.com/podtrace/podtrace/cli"
	"github.com/podtrace/podtrace/e2e/cluster"
	"github.com/podtrace/podtrace/server"
)

// TestOnAPIServer applies every rendering to the e2e suite's real
// kube-apiserver 1.34 — server-side apply, dry run, strict field
// validation, in a namespace enforcing the restricted Pod Security
// Standard — and wants no error and no warning. Then it applies the
// Kustomize base for real: its pod must be admitted, bound to a volume and
// run on a KWOK node. A podtrace receiving the cluster's audit webhook
// records that delivery, and the kubectl plugin explains it.
func TestOnAPIServer(t *testing.T) {
	rs := renderings(t)
	crd, err := os.ReadFile("testdata/crds/monitoring.coreos.com_servicemonitors.yaml")
	if err != nil {
		t.Fatal(err)
	}
	crdObjs, err := decodeObjects(crd)
	if err != nil {
		t.Fatal(err)
	}
	var base []*unstructured.Unstructured
	for _, r := range rs {
		if r.name == "kustomize/base" {
			base = r.objects
		}
	}

	// the harness finds its binaries and KWOK stages from the e2e module
	e2eDir, err := filepath.Abs("../e2e")
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(e2eDir)
	pt := startPodtrace(t)
	c := cluster.Start(t, cluster.Options{AuditWebhookURL: pt + "/audit"})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	k := newKube(t, c.RESTConfig)

	for _, o := range crdObjs {
		if err := k.apply(ctx, o, false); err != nil {
			t.Fatal(err)
		}
	}
	if err := k.waitCRD(ctx, crdObjs[0].GetName()); err != nil {
		t.Fatal(err)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace, Labels: map[string]string{
		"pod-security.kubernetes.io/enforce": "restricted",
		"pod-security.kubernetes.io/warn":    "restricted",
		"pod-security.kubernetes.io/audit":   "restricted",
	}}}
	if _, err := c.Client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// the namespace's policy bites: a root pod is refused
	root := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "root", Namespace: namespace},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
	if _, err := c.Client.CoreV1().Pods(namespace).Create(ctx, root, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); !apierrors.IsForbidden(err) {
		t.Fatalf("a pod breaking the restricted policy: error %v, want Forbidden", err)
	}

	for _, r := range rs {
		for _, o := range r.objects {
			if err := k.apply(ctx, o, true); err != nil {
				t.Errorf("%s: %v", r.name, err)
			}
		}
	}
	if t.Failed() {
		return
	}

	// the base for real: its Secret and a volume for its claim first
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "podtrace-ingest-token", Namespace: namespace},
		StringData: map[string]string{"token": "e2e-ingest-token"}}
	if _, err := c.Client.CoreV1().Secrets(namespace).Create(ctx, secret, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pv := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "podtrace-e2e"}, Spec: corev1.PersistentVolumeSpec{
		Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")},
		AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
		PersistentVolumeSource:        corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: filepath.Join(c.RunDir, "pv")}},
	}}
	if _, err := c.Client.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, o := range base {
		if err := k.apply(ctx, o, false); err != nil {
			t.Fatalf("kustomize/base: %v", err)
		}
	}
	var pod *corev1.Pod
	err = wait.PollUntilContextCancel(ctx, time.Second, true, func(ctx context.Context) (bool, error) {
		pod, err = c.Client.CoreV1().Pods(namespace).Get(ctx, "podtrace-0", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		for _, cond := range pod.Status.Conditions {
			if cond.Type == corev1.PodReady && cond.Status == corev1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("pod podtrace-0 not Ready: %v; %s", err, k.events(ctx))
	}
	pvc, err := c.Client.CoreV1().PersistentVolumeClaims(namespace).Get(ctx, "data-podtrace-0", metav1.GetOptions{})
	if err != nil || pvc.Status.Phase != corev1.ClaimBound || pvc.Spec.VolumeName != pv.Name {
		t.Fatalf("claim data-podtrace-0: %v, %+v; want Bound to %s", err, pvc.Status, pv.Name)
	}
	t.Logf("podtrace-0 Ready on %s", pod.Spec.NodeName)

	// stopping the cluster flushes the last audit batch
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	// the last batch is journaled; its record is saved within flush_interval
	want := []string{"outcome ready after", "on node " + pod.Spec.NodeName, "owned by StatefulSet podtrace"}
	var out, errOut strings.Builder
	code := -1
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		out.Reset()
		errOut.Reset()
		code = cli.RunKubectl(ctx, []string{"explain", "--server", pt, namespace + "/podtrace-0"}, cli.Env{Stdout: &out, Stderr: &errOut})
		for _, w := range want {
			if !strings.Contains(out.String(), w) {
				return false, nil
			}
		}
		return code == 0, nil
	})
	if err != nil {
		t.Fatalf("kubectl podtrace explain %s/podtrace-0: exit %d: %s\n%s\nwant %q", namespace, code, errOut.String(), out.String(), want)
	}
	t.Logf("kubectl podtrace explain %s/podtrace-0:\n%s", namespace, out.String())
}

// startPodtrace runs a podtrace serve on a loopback port and returns its URL.
func startPodtrace(t *testing.T) string {
	t.Helper()
	cfg := server.DefaultConfig()
	cfg.Cluster, cfg.DB, cfg.HTTPAddr = "e2e", filepath.Join(t.TempDir(), "podtrace.db"), "127.0.0.1:0"
	cfg.OTLPGRPCAddr, cfg.OTLPHTTPAddr = "", ""
	srv, err := server.Start(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Error(err)
		}
	})
	return "http://" + srv.Addr()
}

// kube applies objects of any kind and collects the apiserver's warnings.
type kube struct {
	dyn      dynamic.Interface
	mapper   *restmapper.DeferredDiscoveryRESTMapper
	mu       sync.Mutex
	warnings []string
}

func newKube(t *testing.T, cfg *rest.Config) *kube {
	t.Helper()
	k := &kube{}
	cfg = rest.CopyConfig(cfg)
	cfg.WarningHandler = k
	var err error
	if k.dyn, err = dynamic.NewForConfig(cfg); err != nil {
		t.Fatal(err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	k.mapper = restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
	return k
}

func (k *kube) HandleWarningHeader(code int, agent, text string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.warnings = append(k.warnings, text)
}

// apply server-side applies obj with strict field validation (dry run:
// nothing is stored); a warning is an error too.
func (k *kube) apply(ctx context.Context, obj *unstructured.Unstructured, dryRun bool) error {
	gvk := obj.GroupVersionKind()
	m, err := k.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return fmt.Errorf("%s %s: %w", gvk.Kind, obj.GetName(), err)
	}
	var ri dynamic.ResourceInterface = k.dyn.Resource(m.Resource)
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		ri = k.dyn.Resource(m.Resource).Namespace(obj.GetNamespace())
	}
	body, err := json.Marshal(obj.Object)
	if err != nil {
		return err
	}
	force := true
	opts := metav1.PatchOptions{FieldManager: "podtrace-deploy-test", Force: &force, FieldValidation: metav1.FieldValidationStrict}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	k.mu.Lock()
	k.warnings = nil
	k.mu.Unlock()
	if _, err := ri.Patch(ctx, obj.GetName(), types.ApplyPatchType, body, opts); err != nil {
		return fmt.Errorf("apply %s %s: %w", gvk.Kind, obj.GetName(), err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.warnings) > 0 {
		return fmt.Errorf("apply %s %s: warnings: %s", gvk.Kind, obj.GetName(), strings.Join(k.warnings, "; "))
	}
	return nil
}

// waitCRD waits until a CRD is established and its kinds are discoverable.
func (k *kube) waitCRD(ctx context.Context, name string) error {
	crds := k.dyn.Resource(schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"})
	return wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		crd, err := crds.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
		for _, c := range conds {
			cm := c.(map[string]any)
			if cm["type"] == "Established" && cm["status"] == "True" {
				k.mapper.Reset()
				return true, nil
			}
		}
		return false, nil
	})
}

// events lists the namespace's Events, to say why a pod did not run.
func (k *kube) events(ctx context.Context) string {
	list, err := k.dyn.Resource(corev1.SchemeGroupVersion.WithResource("events")).Namespace(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Sprintf("events: %v", err)
	}
	var b strings.Builder
	b.WriteString("events:")
	for _, e := range list.Items {
		reason, _, _ := unstructured.NestedString(e.Object, "reason")
		msg, _, _ := unstructured.NestedString(e.Object, "message")
		obj, _, _ := unstructured.NestedString(e.Object, "involvedObject", "name")
		fmt.Fprintf(&b, "\n  %s %s: %s", obj, reason, msg)
	}
	return b.String()
}
