package e2e

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/podtrace/podtrace"
	"github.com/podtrace/podtrace/e2e/cluster"
	"github.com/podtrace/podtrace/e2e/instance"
	"github.com/podtrace/podtrace/e2e/scenario"
)

// TestWebhookAuth proves the authenticated ingest path: podtrace serves
// TLS and requires an ingest token; kube-apiserver, configured only by the
// generated webhook kubeconfig (https server, CA file, token file), has
// every batch accepted — podtrace refuses exactly the two requests this
// test sends without the right token — and the records of a pod it created
// and deleted match the audit log.
func TestWebhookAuth(t *testing.T) {
	pt := instance.Start(t, instance.Options{TLS: true, IngestToken: true})
	c := cluster.Start(t, cluster.Options{
		AuditWebhookURL: pt.URL + "/audit", AuditWebhookTokenFile: pt.TokenFile, AuditWebhookCAFile: pt.CAFile,
		KWOKNodes: 1,
	})
	s := &suite{pt: pt, c: c}
	ctx := s.context(t)

	empty := []byte(`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[]}`)
	for _, auth := range []string{"", "Bearer not-the-token"} {
		code, err := pt.Post(ctx, "/audit", auth, empty)
		if err != nil {
			t.Fatal(err)
		}
		if code != http.StatusUnauthorized {
			t.Errorf("POST /audit with Authorization %q: %d, want 401", auth, code)
		}
	}

	ns := s.namespace(t, ctx, "auth-")
	pods, err := scenario.CreatePods(ctx, c.Client, ns, scenario.KWOKPod("authenticated"))
	if err != nil {
		t.Fatal(err)
	}
	pod := pods[0]
	if err := scenario.WaitPodReady(ctx, c.Client, ns, pod.Name); err != nil {
		t.Fatal(err)
	}
	if err := scenario.DeletePod(ctx, c.Client, ns, pod.Name); err != nil {
		t.Fatal(err)
	}
	truth := readTruth(t, c.AuditLogPath, ns)[ns]
	s.records(t, ctx, ns, "the pod's create ready and delete deleted, as the audit log says", func(d deliveries) error {
		if diff := truth.diff(d); len(diff) > 0 {
			return errors.New(strings.Join(diff, "; "))
		}
		if _, err := d.expect(podtrace.KindCreate, pod, podtrace.OutcomeReady); err != nil {
			return err
		}
		_, err := d.expect(podtrace.KindDelete, pod, podtrace.OutcomeDeleted)
		return err
	})

	// Every batch kube-apiserver sent until it stopped was accepted.
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	metrics, err := pt.Metrics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const want = `podtrace_webhook_rejected_total{reason="unauthorized"} 2`
	if !strings.Contains(metrics, want+"\n") {
		var got []string
		for _, line := range strings.Split(metrics, "\n") {
			if strings.HasPrefix(line, "podtrace_webhook_rejected_total") {
				got = append(got, line)
			}
		}
		t.Errorf("metrics: %v, want %s (only this test's two requests)", got, want)
	}
}
