package e2e

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/podtrace/podtrace/e2e/cluster"
	"github.com/podtrace/podtrace/e2e/scenario"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestHollowKubeletNode proves the hollow kubelet: real kubelet code on node
// hollow-node-0 runs a pod through the fake runtime, reports its status and
// Events through the audited API, and exports kubelet and CRI spans.
func TestHollowKubeletNode(t *testing.T) {
	webhook := newAuditRecorder(t)
	otlp := newSpanRecorder(t)
	c := cluster.Start(t, cluster.Options{
		AuditWebhookURL: webhook.URL, OTLPEndpoint: otlp.Addr, HollowKubelet: true, KWOKNodes: 1,
	})
	node := cluster.HollowNodeName

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ns, err := scenario.CreateNamespace(ctx, c.Client, "hollow-")
	if err != nil {
		t.Fatal(err)
	}
	pod := scenario.Pod("on-hollow")
	pod.Spec.NodeSelector = map[string]string{"kubernetes.io/hostname": node}
	if _, err := c.Client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := scenario.WaitPodReady(ctx, c.Client, ns, pod.Name); err != nil {
		t.Fatal(err)
	}
	if err := scenario.DeletePod(ctx, c.Client, ns, pod.Name); err != nil {
		t.Fatal(err)
	}
	time.Sleep(spanFlushWait)
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}

	kubeletUser := "system:node:" + node
	var statusPatches, events int
	_, received, _ := webhook.snapshot()
	for _, e := range received {
		if e.ObjectRef == nil || e.ObjectRef.Namespace != ns || e.User.Username != kubeletUser || e.Stage != "ResponseComplete" {
			continue
		}
		switch {
		case e.ObjectRef.Resource == "pods" && e.ObjectRef.Subresource == "status" && e.Verb == "patch":
			statusPatches++
		case e.ObjectRef.Resource == "events" && e.Verb == "create":
			events++
		}
	}
	t.Logf("webhook: %d pod status patches and %d events from %s", statusPatches, events, kubeletUser)
	if statusPatches == 0 || events == 0 {
		t.Errorf("webhook: %d pods/status patches and %d events created by %s, want some of each", statusPatches, events, kubeletUser)
	}

	var names []string
	for _, s := range otlp.snapshot() {
		if s.service == "kubelet" {
			names = append(names, s.name)
		}
	}
	t.Logf("OTLP: %d kubelet spans", len(names))
	for _, want := range []string{"syncPod", "syncTerminatingPod",
		"runtime.v1.RuntimeService/RunPodSandbox", "runtime.v1.RuntimeService/CreateContainer",
		"runtime.v1.RuntimeService/StartContainer"} {
		if !slices.Contains(names, want) {
			t.Errorf("no kubelet span %q", want)
		}
	}
}
