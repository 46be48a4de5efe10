package diagnosis

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/podtrace/podtrace"
)

// TestFinalizerRemoved replays a real delete from the end-to-end suite
// (e2e TestScenarios/Parallel/Finalizer, kept in testdata/e2e): pod "held"
// with the finalizer e2e.podtrace.dev/hold and a 1 s grace period is
// deleted, hangs for 11 s, then the finalizer is removed and KWOK deletes
// it. With termination_slack 5s (the suite's), the delete's root finding is
// DeleteBlockedByFinalizer, owned by the user, both while it hangs and
// once the pod is gone — although the finalizer is no longer in the pod's
// latest spec by then (it used to turn into TerminationSlow).
func TestFinalizerRemoved(t *testing.T) {
	data, err := os.ReadFile("testdata/e2e/finalizer-removed.audit.log")
	if err != nil {
		t.Fatal(err)
	}
	var lines [][]byte
	removal := -1 // the patch that removes the finalizer
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e struct {
			Verb      string `json:"verb"`
			ObjectRef struct {
				Resource, Subresource string
			} `json:"objectRef"`
		}
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatal(err)
		}
		if removal < 0 && e.Verb == "patch" && e.ObjectRef.Resource == "pods" && e.ObjectRef.Subresource == "" {
			removal = len(lines)
		}
		lines = append(lines, append([]byte(nil), sc.Bytes()...))
	}
	if removal < 0 {
		t.Fatal("no finalizer removal in the capture")
	}

	for _, tt := range []struct {
		name  string
		lines [][]byte
		open  bool
		says  string
	}{
		{"while held", lines[:removal], true, "have kept the deleted pod for"},
		{"once gone", lines, false, "kept the deleted pod for"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := replay(t, tt.lines)
			pods := m.Dirty()
			if len(pods) != 1 {
				t.Fatalf("%d pods, want 1", len(pods))
			}
			p := pods[0]
			r := record(t, p, "delete")
			if open := r.Finished == nil; open != tt.open {
				t.Fatalf("delete delivery open %v, want %v", open, tt.open)
			}
			cfg := DefaultConfig()
			cfg.TerminationSlack = 5 * time.Second
			held := r.Created.Add(10 * time.Second) // the suite's podtrace had seen this much
			cfg.Now = func() time.Time { return held }
			e, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			fs := e.Diagnose(p, r)
			checkFindings(t, fs)
			if len(fs) == 0 || fs[0].Code != "DeleteBlockedByFinalizer" || fs[0].Owner != podtrace.OwnerUser {
				b, _ := json.MarshalIndent(fs, "", "  ")
				t.Fatalf("findings %v, want DeleteBlockedByFinalizer owned by the user first\n%s", codes(fs), b)
			}
			if msg := fs[0].Message; !strings.Contains(msg, "e2e.podtrace.dev/hold") || !strings.Contains(msg, tt.says) {
				t.Errorf("message %q, want it to name the finalizer and say %q", msg, tt.says)
			}
		})
	}
}
