package e2e

import (
	"context"
	"maps"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/podtrace/podtrace/e2e/cluster"
	"github.com/podtrace/podtrace/e2e/scenario"
)

// spanFlushWait covers the apiserver's span batch interval (5 s) before the
// cluster stops; stopping flushes the audit webhook's last batch.
const spanFlushWait = 6 * time.Second

// TestKWOKOnlyScenario proves the harness and the generated cluster config: a
// real kube-apiserver, configured only by clusterconfig's files, delivers to
// the audit webhook every pod event its audit log has, and exports a span for
// every pod request to the OTLP endpoint.
func TestKWOKOnlyScenario(t *testing.T) {
	webhook := newAuditRecorder(t)
	otlp := newSpanRecorder(t)
	c := cluster.Start(t, cluster.Options{AuditWebhookURL: webhook.URL, OTLPEndpoint: otlp.Addr})

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	ns, err := scenario.CreateNamespace(ctx, c.Client, "kwok-only-")
	if err != nil {
		t.Fatal(err)
	}
	deleted, evicted, err := scenario.KWOKOnly(ctx, c.Client, ns, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(spanFlushWait)
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}

	batches, received, errs := webhook.snapshot()
	if len(errs) > 0 {
		t.Errorf("webhook got %d malformed batches: %v", len(errs), errs[0])
	}
	got := map[string]bool{}
	for _, e := range received {
		got[e.key()] = true
	}

	// Every audit-log event about pods in the namespace reached the webhook
	// (watches may end at shutdown after the webhook stopped sending).
	logged := readAuditLog(t, c.AuditLogPath)
	kinds := map[string]map[string]bool{} // pod → {create, binding, status, ...}
	var missing []string
	podCreates := map[string]string{} // auditID → pod
	for _, e := range logged {
		ref := e.ObjectRef
		if ref == nil || ref.Namespace != ns || ref.Resource != "pods" || e.Verb == "watch" {
			continue
		}
		if !got[e.key()] {
			missing = append(missing, e.Verb+" pods/"+ref.Subresource+" "+ref.Name+" "+e.key())
		}
		if e.Stage != "ResponseComplete" || e.ResponseStatus == nil || e.ResponseStatus.Code >= 300 ||
			e.Verb == "get" || e.Verb == "list" {
			continue
		}
		name, kind := ref.Name, ref.Subresource
		if e.Verb == "create" && kind == "" {
			kind = "create"
			if e.ResponseObject != nil {
				name = e.ResponseObject.Metadata.Name // generateName: objectRef has no name
			}
			podCreates[e.AuditID] = name
		}
		if kind == "" {
			kind = e.Verb
		}
		if kinds[name] == nil {
			kinds[name] = map[string]bool{}
		}
		kinds[name][kind] = true
	}
	t.Logf("audit log: %d events, %d pods in %s; webhook: %d events in %d batches", len(logged), len(kinds), ns, len(received), batches)
	for _, pod := range slices.Sorted(maps.Keys(kinds)) {
		t.Logf("  pod %q: %v", pod, keys(kinds[pod]))
	}
	if len(missing) > 0 {
		t.Errorf("%d audit-log pod events never reached the webhook, e.g. %v", len(missing), missing[:min(len(missing), 10)])
	}

	// The scenario's deliveries are all there: 5 + 3 (scale up) + 1 (replaces
	// the deleted pod) + 1 (replaces the evicted one) web pods and the two
	// unschedulable ones.
	var web []string
	for pod, k := range kinds {
		switch {
		case pod == scenario.TooBigPod || pod == scenario.NoNodePod:
			if !k["create"] || !k["status"] || k["binding"] {
				t.Errorf("unschedulable pod %s: events %v, want create and status, no binding", pod, keys(k))
			}
		case strings.HasPrefix(pod, scenario.Deployment+"-"):
			web = append(web, pod)
			if !k["create"] || !k["binding"] || !k["status"] {
				t.Errorf("pod %s: events %v, want create, binding and status", pod, keys(k))
			}
		}
	}
	if len(web) < 10 {
		t.Errorf("%d web pods in the audit log, want at least 10: %v", len(web), web)
	}
	if !kinds[deleted]["delete"] || !kinds[evicted]["eviction"] {
		t.Errorf("deleted pod %s: %v; evicted pod %s: %v", deleted, keys(kinds[deleted]), evicted, keys(kinds[evicted]))
	}

	// The generated tracing configuration works: kube-apiserver exported a span
	// carrying the audit ID of every pod creation.
	spans := otlp.snapshot()
	traced := map[string]bool{}
	for _, s := range spans {
		if s.auditID != "" {
			traced[s.auditID] = true
		}
	}
	var untraced []string
	for id, pod := range podCreates {
		if !traced[id] {
			untraced = append(untraced, pod)
		}
	}
	sort.Strings(untraced)
	t.Logf("OTLP: %d spans, %d with audit-id; %d pod creations", len(spans), len(traced), len(podCreates))
	if len(untraced) > 0 {
		t.Errorf("no apiserver span for the creation of %v", untraced)
	}
}

func keys(m map[string]bool) []string { return slices.Sorted(maps.Keys(m)) }
