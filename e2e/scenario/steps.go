package scenario

import (
	"context"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// Labels and annotations the KWOK stages read (e2e/testdata/kwok-stages).
const (
	// KWOKNodeLabel selects the KWOK nodes (the cluster harness labels them
	// type=kwok), for pods that need KWOK's stages rather than the hollow
	// kubelet.
	KWOKNodeLabel = "type"
	// ContainerLabel makes the podtrace stages fail the pod's containers:
	// "crashloop" (CrashLoopBackOff) or "exit" (terminated, with
	// ExitCodeAnnotation and ExitReasonAnnotation).
	ContainerLabel       = "e2e.podtrace.dev/container"
	ExitCodeAnnotation   = "e2e.podtrace.dev/exit-code"
	ExitReasonAnnotation = "e2e.podtrace.dev/exit-reason"
	// ReadinessLabel makes the podtrace stages start the containers unready:
	// "late" (Ready after ReadyDelayAnnotation) or "never".
	ReadinessLabel       = "e2e.podtrace.dev/readiness"
	ReadyDelayAnnotation = "e2e.podtrace.dev/ready-delay"
	// InitFailedLabel is KWOK's chaos label that fails the init containers.
	InitFailedLabel = "pod-init-container-running-failed.stage.kwok.x-k8s.io"
	// KWOK's general stages pick among matching stages by weight; a weight
	// of "0" keeps its pod-create or pod-ready stage out of the way of a
	// chaos or podtrace stage.
	PodCreateWeightAnnotation = "pod-create.stage.kwok.x-k8s.io/weight"
	PodReadyWeightAnnotation  = "pod-ready.stage.kwok.x-k8s.io/weight"
)

// KWOKPod is a one-container pause pod for the KWOK nodes, whose stages
// play its lifecycle.
func KWOKPod(name string) *corev1.Pod {
	p := Pod(name)
	p.Spec.NodeSelector = map[string]string{KWOKNodeLabel: "kwok"}
	return p
}

// StagedPod is a KWOK pod handed to the stage that the label names (see
// the constants): KWOK's own pod-ready stage is weighted out.
func StagedPod(name, label, value string) *corev1.Pod {
	p := KWOKPod(name)
	p.Labels = map[string]string{label: value}
	p.Annotations = map[string]string{PodReadyWeightAnnotation: "0"}
	return p
}

// CreatePods creates the pods in ns and returns them as created (with uids).
func CreatePods(ctx context.Context, client kubernetes.Interface, ns string, pods ...*corev1.Pod) ([]*corev1.Pod, error) {
	var out []*corev1.Pod
	for _, p := range pods {
		created, err := client.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{})
		if err != nil {
			return nil, fmt.Errorf("create pod %s/%s: %w", ns, p.Name, err)
		}
		out = append(out, created)
	}
	return out, nil
}

// WaitPod waits until the pod satisfies cond (described by what).
func WaitPod(ctx context.Context, client kubernetes.Interface, ns, name, what string, cond func(*corev1.Pod) bool) error {
	return poll(ctx, "pod "+ns+"/"+name+" "+what, func() (bool, error) {
		pod, err := client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return cond(pod), nil
	})
}

// PhaseIs is a WaitPod condition: the pod's phase.
func PhaseIs(phase corev1.PodPhase) func(*corev1.Pod) bool {
	return func(p *corev1.Pod) bool { return p.Status.Phase == phase }
}

// Evict evicts a pod through the pods/eviction subresource.
func Evict(ctx context.Context, client kubernetes.Interface, ns, name string) error {
	eviction := &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
	if err := client.PolicyV1().Evictions(ns).Evict(ctx, eviction); err != nil {
		return fmt.Errorf("evict pod %s/%s: %w", ns, name, err)
	}
	return nil
}

// SetImage changes the image of every container of a Deployment's pod
// template (a rolling update).
func SetImage(ctx context.Context, client kubernetes.Interface, ns, name, image string) error {
	d, err := client.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("get deployment %s/%s: %w", ns, name, err)
	}
	for i := range d.Spec.Template.Spec.Containers {
		d.Spec.Template.Spec.Containers[i].Image = image
	}
	if _, err := client.AppsV1().Deployments(ns).Update(ctx, d, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("set image of %s/%s: %w", ns, name, err)
	}
	return nil
}

// PodsOf lists the pods of a Deployment (label app=name), terminating ones
// included.
func PodsOf(ctx context.Context, client kubernetes.Interface, ns, name string) ([]corev1.Pod, error) {
	pods, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: appLabel + "=" + name})
	if err != nil {
		return nil, fmt.Errorf("list pods of %s/%s: %w", ns, name, err)
	}
	return pods.Items, nil
}

// RemoveFinalizers clears a pod's finalizers with a JSON merge patch.
func RemoveFinalizers(ctx context.Context, client kubernetes.Interface, ns, name string) error {
	patch := []byte(`{"metadata":{"finalizers":null}}`)
	if _, err := client.CoreV1().Pods(ns).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("remove finalizers of %s/%s: %w", ns, name, err)
	}
	return nil
}

// SetTaint adds (or, with remove, removes) a NoSchedule taint key=value on
// every node.
func SetTaint(ctx context.Context, client kubernetes.Interface, key, value string, remove bool) error {
	nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("list nodes: %w", err)
	}
	for _, n := range nodes.Items {
		taints := []corev1.Taint{}
		for _, tt := range n.Spec.Taints {
			if tt.Key != key {
				taints = append(taints, tt)
			}
		}
		if !remove {
			taints = append(taints, corev1.Taint{Key: key, Value: value, Effect: corev1.TaintEffectNoSchedule})
		}
		patch, err := json.Marshal(map[string]any{"spec": map[string]any{"taints": taints}})
		if err != nil {
			return err
		}
		// a merge patch replaces the whole list, without a resourceVersion
		if _, err := client.CoreV1().Nodes().Patch(ctx, n.Name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
			return fmt.Errorf("taint node %s: %w", n.Name, err)
		}
	}
	return nil
}

// WaitQuotaCounted waits until the quota controller has counted the
// ResourceQuota's usage, so that it is enforced.
func WaitQuotaCounted(ctx context.Context, client kubernetes.Interface, ns, name string) error {
	return poll(ctx, "ResourceQuota "+ns+"/"+name+" counted", func() (bool, error) {
		q, err := client.CoreV1().ResourceQuotas(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return len(q.Status.Used) > 0, nil
	})
}
