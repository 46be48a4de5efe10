package diagnosis

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/podtrace/podtrace"
)

// realNode is the capture of e2e's TestRealNode: a real kubelet, containerd
// and runc, each pod with one problem (see its README).
const realNode = "realnode-v1.34.10"

// TestRealNodeCapture diagnoses every delivery of the real-node capture
// with the thresholds the test ran podtrace with: each pod with a problem
// gets the finding that names it first, with its owner, and the healthy
// pods get none. The findings are kept in a golden file.
func TestRealNodeCapture(t *testing.T) {
	m := replayFile(t, filepath.Join("..", "testdata", realNode, "audit.log"))
	cfg := DefaultConfig()
	// as e2e's realNodeConfig
	cfg.ReadinessSlow, cfg.TerminationSlack = 10*time.Second, 5*time.Second
	cfg.SlowDelivery, cfg.ImagePullSlow = 40*time.Second, 20*time.Second
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		kind    podtrace.Kind
		outcome podtrace.Outcome
		code    string
		owner   podtrace.Owner
	}
	wants := map[string]want{
		"image-not-found":    {podtrace.KindCreate, podtrace.OutcomePending, "ImageNotFound", podtrace.OwnerUser},
		"pull-access-denied": {podtrace.KindCreate, podtrace.OutcomePending, "ImagePullAccessDenied", podtrace.OwnerUser},
		"registry-down":      {podtrace.KindCreate, podtrace.OutcomePending, "RegistryUnavailable", podtrace.OwnerPlatform},
		"invalid-image-name": {podtrace.KindCreate, podtrace.OutcomePending, "InvalidImageName", podtrace.OwnerUser},
		"never-pull":         {podtrace.KindCreate, podtrace.OutcomePending, "ImageNeverPull", podtrace.OwnerUser},
		"configmap-volume":   {podtrace.KindCreate, podtrace.OutcomePending, "ConfigMapNotFound", podtrace.OwnerUser},
		"secret-volume":      {podtrace.KindCreate, podtrace.OutcomePending, "SecretNotFound", podtrace.OwnerUser},
		"configmap-env":      {podtrace.KindCreate, podtrace.OutcomePending, "ConfigMapNotFound", podtrace.OwnerUser},
		"secret-env":         {podtrace.KindCreate, podtrace.OutcomePending, "SecretNotFound", podtrace.OwnerUser},
		"exit-nonzero":       {podtrace.KindCreate, podtrace.OutcomeFailed, "ContainerExitedNonZero", podtrace.OwnerUser},
		"crashloop":          {podtrace.KindCreate, podtrace.OutcomeRunning, "CrashLoopBackOff", podtrace.OwnerUser},
		"oom-killed":         {podtrace.KindCreate, podtrace.OutcomeFailed, "OOMKilled", podtrace.OwnerUser},
		"never-ready":        {podtrace.KindCreate, podtrace.OutcomeRunning, "ReadinessProbeFailed", podtrace.OwnerUser},
		"startup-probe":      {podtrace.KindCreate, podtrace.OutcomeRunning, "StartupProbeFailed", podtrace.OwnerUser},
		"liveness":           {podtrace.KindCreate, podtrace.OutcomeRunning, "LivenessProbeFailed", podtrace.OwnerUser},
		"poststart-fails":    {podtrace.KindCreate, podtrace.OutcomeRunning, "PostStartHookFailed", podtrace.OwnerUser},
		"init-fails":         {podtrace.KindCreate, podtrace.OutcomeFailed, "InitContainerFailed", podtrace.OwnerUser},
		"sandbox-fails":      {podtrace.KindCreate, podtrace.OutcomePending, "SandboxCreateFailed", podtrace.OwnerPlatform},
		"hostpath-missing":   {podtrace.KindCreate, podtrace.OutcomePending, "VolumeMountFailed", podtrace.OwnerPlatform},
		"runs-as-root":       {podtrace.KindCreate, podtrace.OutcomePending, "CreateContainerConfigError", podtrace.OwnerUser},
		"command-missing":    {podtrace.KindCreate, podtrace.OutcomeRunning, "RunContainerError", podtrace.OwnerUser},
		"readiness-gate":     {podtrace.KindCreate, podtrace.OutcomeRunning, "ReadinessGateNotReady", podtrace.OwnerPlatform},
		"slow-pull":          {podtrace.KindCreate, podtrace.OutcomeReady, "ImagePullSlow", podtrace.OwnerPlatform},
		"on-lost-node":       {podtrace.KindDelete, podtrace.OutcomeEvicted, "Evicted", podtrace.OwnerPlatform},
	}
	var rows []row
	found := map[string]bool{}
	kubeletCodes := map[string]bool{}
	for _, p := range m.Dirty() {
		if strings.HasPrefix(p.Namespace, "clock-") {
			continue
		}
		for _, r := range p.Records("test") {
			fs := e.Diagnose(p, &r)
			checkFindings(t, fs)
			w, problem := wants[p.Name]
			if !problem || w.kind != r.Kind {
				if len(fs) > 0 {
					t.Errorf("healthy %s delivery of %s/%s (%s) got findings %v", r.Kind, p.Namespace, p.Name, r.Outcome, codes(fs))
				}
				continue
			}
			found[p.Name] = true
			rows = append(rows, row{p.Name, r.Kind, r.Outcome, fs})
			switch {
			case r.Outcome != w.outcome:
				t.Errorf("%s: %s outcome %s, want %s", p.Name, r.Kind, r.Outcome, w.outcome)
			case len(fs) == 0 || fs[0].Code != w.code || fs[0].Owner != w.owner:
				t.Errorf("%s: findings %v, want %s (%s) first", p.Name, codes(fs), w.code, w.owner)
			default:
				kubeletCodes[w.code] = true
			}
		}
	}
	for name := range wants {
		if !found[name] {
			t.Errorf("pod %s: not in the capture", name)
		}
	}
	if len(kubeletCodes) < 10 {
		t.Errorf("%d distinct kubelet-side codes proven, want at least 10", len(kubeletCodes))
	}
	sortRows := func(a, b row) int { return strings.Compare(a.Pod+string(a.Kind), b.Pod+string(b.Kind)) }
	slices.SortFunc(rows, sortRows)
	golden(t, filepath.Join("testdata", "golden", realNode+".json"), rows)
}
