package scenario

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Names used by KWOKOnly.
const (
	Deployment      = "web"
	TooBigPod       = "too-big"
	NoNodePod       = "no-node"
	PauseImage      = "registry.k8s.io/pause:3.10"
	appLabel        = "app"
	pollInterval    = 250 * time.Millisecond
	DefaultStepWait = 2 * time.Minute
)

// Logf reports progress; testing.T.Logf fits.
type Logf func(format string, args ...any)

// KWOKOnly runs the captured kwok-only scenario in namespace ns, which must
// exist: Deployment web of 5 pause pods → ready → scale to 8 → 3 → delete one
// pod → evict one pod (pods/eviction) → pod too-big (cpu 1000, memory 1Ti,
// unschedulable) → pod no-node (nodeSelector matching no node) → both
// FailedScheduling. It returns the names of the deleted and evicted pods.
func KWOKOnly(ctx context.Context, client kubernetes.Interface, ns string, logf Logf) (deleted, evicted string, err error) {
	logf("deployment %s x5", Deployment)
	if err := CreateDeployment(ctx, client, ns, Deployment, 5); err != nil {
		return "", "", err
	}
	if err := WaitRollout(ctx, client, ns, Deployment); err != nil {
		return "", "", err
	}
	for _, n := range []int32{8, 3} {
		logf("scale to %d", n)
		if err := Scale(ctx, client, ns, Deployment, n); err != nil {
			return "", "", err
		}
		if err := WaitRollout(ctx, client, ns, Deployment); err != nil {
			return "", "", err
		}
	}

	if deleted, err = firstPod(ctx, client, ns, Deployment); err != nil {
		return "", "", err
	}
	logf("delete pod %s", deleted)
	if err := client.CoreV1().Pods(ns).Delete(ctx, deleted, metav1.DeleteOptions{}); err != nil {
		return "", "", fmt.Errorf("delete pod %s: %w", deleted, err)
	}
	if err := WaitPodGone(ctx, client, ns, deleted); err != nil {
		return "", "", err
	}
	if err := WaitRollout(ctx, client, ns, Deployment); err != nil {
		return "", "", err
	}

	if evicted, err = firstPod(ctx, client, ns, Deployment); err != nil {
		return "", "", err
	}
	logf("evict pod %s (pods/eviction)", evicted)
	eviction := &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: evicted, Namespace: ns}}
	if err := client.PolicyV1().Evictions(ns).Evict(ctx, eviction); err != nil {
		return "", "", fmt.Errorf("evict pod %s: %w", evicted, err)
	}
	if err := WaitRollout(ctx, client, ns, Deployment); err != nil {
		return "", "", err
	}

	logf("unschedulable pods %s and %s", TooBigPod, NoNodePod)
	tooBig := Pod(TooBigPod)
	tooBig.Spec.Containers[0].Resources.Requests = corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("1000"),
		corev1.ResourceMemory: resource.MustParse("1Ti"),
	}
	noNode := Pod(NoNodePod)
	noNode.Spec.NodeSelector = map[string]string{"disktype": "does-not-exist"}
	for _, p := range []*corev1.Pod{tooBig, noNode} {
		if _, err := client.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			return "", "", fmt.Errorf("create pod %s: %w", p.Name, err)
		}
	}
	if err := WaitEvents(ctx, client, ns, "FailedScheduling", 2); err != nil {
		return "", "", err
	}
	return deleted, evicted, nil
}

// CreateNamespace creates a namespace named prefix plus a random suffix and
// waits for its default ServiceAccount, without which pods are refused.
func CreateNamespace(ctx context.Context, client kubernetes.Interface, prefix string) (string, error) {
	ns, err := client.CoreV1().Namespaces().Create(ctx,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix}}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("create namespace %s*: %w", prefix, err)
	}
	return ns.Name, poll(ctx, "default ServiceAccount in "+ns.Name, func() (bool, error) {
		_, err := client.CoreV1().ServiceAccounts(ns.Name).Get(ctx, "default", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return err == nil, err
	})
}

// Pod is a one-container pause pod.
func Pod(name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "c", Image: PauseImage}},
		},
	}
}

// CreateDeployment creates a Deployment of pause pods labelled app=name.
func CreateDeployment(ctx context.Context, client kubernetes.Interface, ns, name string, replicas int32) error {
	return CreateDeploymentOf(ctx, client, ns, name, replicas, corev1.PodSpec{Containers: []corev1.Container{{Name: "pause", Image: PauseImage}}})
}

// CreateDeploymentOf creates a Deployment of pods of the spec labelled app=name.
func CreateDeploymentOf(ctx context.Context, client kubernetes.Interface, ns, name string, replicas int32, spec corev1.PodSpec) error {
	labels := map[string]string{appLabel: name}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       spec,
			},
		},
	}
	if _, err := client.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create deployment %s/%s: %w", ns, name, err)
	}
	return nil
}

// Scale sets a Deployment's replicas through the scale subresource.
func Scale(ctx context.Context, client kubernetes.Interface, ns, name string, replicas int32) error {
	s, err := client.AppsV1().Deployments(ns).GetScale(ctx, name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("get scale of %s/%s: %w", ns, name, err)
	}
	s.Spec.Replicas = replicas
	if _, err := client.AppsV1().Deployments(ns).UpdateScale(ctx, name, s, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("scale %s/%s to %d: %w", ns, name, replicas, err)
	}
	return nil
}

// poll calls cond until it returns true or an error, or DefaultStepWait passes.
func poll(ctx context.Context, what string, cond func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, DefaultStepWait)
	defer cancel()
	for {
		ok, err := cond()
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", what, ctx.Err())
		case <-time.After(pollInterval):
		}
	}
}

// WaitRollout waits like `kubectl rollout status` and, in addition, until no
// pod of the Deployment beyond its replicas remains (terminating pods gone).
func WaitRollout(ctx context.Context, client kubernetes.Interface, ns, name string) error {
	return poll(ctx, "rollout of "+ns+"/"+name, func() (bool, error) {
		d, err := client.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		want := *d.Spec.Replicas
		st := d.Status
		if st.ObservedGeneration < d.Generation || st.UpdatedReplicas != want || st.Replicas != want || st.AvailableReplicas != want {
			return false, nil
		}
		pods, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: appLabel + "=" + name})
		if err != nil {
			return false, err
		}
		return int32(len(pods.Items)) == want, nil
	})
}

// WaitPodReady waits until the pod's containers run and its Ready condition
// is True. (The hollow kubelet's fake prober reports containers ready before
// they start.)
func WaitPodReady(ctx context.Context, client kubernetes.Interface, ns, name string) error {
	return poll(ctx, "pod "+ns+"/"+name+" Ready", func() (bool, error) {
		pod, err := client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if len(pod.Status.ContainerStatuses) < len(pod.Spec.Containers) {
			return false, nil
		}
		for _, cs := range pod.Status.ContainerStatuses {
			if cs.State.Running == nil {
				return false, nil
			}
		}
		for _, c := range pod.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	})
}

// DeletePod deletes the pod and waits until it is gone.
func DeletePod(ctx context.Context, client kubernetes.Interface, ns, name string) error {
	if err := client.CoreV1().Pods(ns).Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		return err
	}
	return WaitPodGone(ctx, client, ns, name)
}

// WaitPodGone waits until the pod no longer exists.
func WaitPodGone(ctx context.Context, client kubernetes.Interface, ns, name string) error {
	return poll(ctx, "pod "+ns+"/"+name+" gone", func() (bool, error) {
		_, err := client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	})
}

// WaitEvents waits until namespace ns holds at least n Events with reason.
func WaitEvents(ctx context.Context, client kubernetes.Interface, ns, reason string, n int) error {
	return poll(ctx, fmt.Sprintf("%d %s events in %s", n, reason, ns), func() (bool, error) {
		events, err := client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "reason=" + reason})
		if err != nil {
			return false, err
		}
		return len(events.Items) >= n, nil
	})
}

// firstPod returns the name of the first (by name) live pod of a Deployment.
func firstPod(ctx context.Context, client kubernetes.Interface, ns, name string) (string, error) {
	pods, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: appLabel + "=" + name})
	if err != nil {
		return "", fmt.Errorf("list pods of %s/%s: %w", ns, name, err)
	}
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil {
			return p.Name, nil
		}
	}
	return "", fmt.Errorf("no live pod of %s/%s", ns, name)
}
