package cli_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/podtrace/podtrace"
	"github.com/podtrace/podtrace/sqlite"
)

// TestTextOutputEscapesControls: a pod name carrying an OSC sequence (which
// retitles the terminal window), ESC, CSI and BEL bytes, and a container
// termination message with a cursor movement that hides the line before it,
// are shown escaped by pods and explain, never written raw to the terminal.
// (Bytes that are not UTF-8 never reach the output: the store keeps JSON.)
func TestTextOutputEscapesControls(t *testing.T) {
	db := filepath.Join(t.TempDir(), "hostile.db")
	ctx := context.Background()
	st, err := sqlite.Open(ctx, db, sqlite.Options{Sync: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	created := time.Date(2026, 11, 21, 20, 48, 39, 0, time.UTC)
	finished := created.Add(3 * time.Second)
	rec := podtrace.Record{Cluster: "default", Namespace: "demo", Name: "web-\x1b]0;pwned\x07-1", UID: "5ec0e7a1-0000-4000-8000-0000000000e5",
		Kind: podtrace.KindCreate, Outcome: podtrace.OutcomeFailed, Created: created, Finished: &finished, Node: "node-\u009b31m",
		Phases:     []podtrace.Phase{{Name: "admission", Start: created, End: finished, Owner: podtrace.OwnerPlatform}},
		Milestones: []podtrace.Milestone{{Name: "requested", Time: created, AuditID: "a\x1b[2J"}},
		Diagnosis: []podtrace.Finding{{Code: "ContainerFailed", Phase: "running", Owner: podtrace.OwnerUser, Message: "exit 1: \x1b[1A\x1b[2Kall good\r",
			Evidence: []podtrace.Evidence{{Time: created, Text: "terminated: \x07"}}}}}
	if err := st.Save(ctx, podtrace.Commit{Cluster: "default", Records: []podtrace.Record{rec}}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	for _, args := range [][]string{{"pods", "--db", db}, {"explain", "--db", db, rec.UID}} {
		out, errOut, code := runCLI(t, args...)
		if code != 0 {
			t.Fatalf("%v: %d %s", args, code, errOut)
		}
		if i := strings.IndexFunc(out, func(r rune) bool { return r < 0x20 && r != '\n' || r == 0x7f || r >= 0x80 && r < 0xa0 }); i >= 0 {
			t.Errorf("%s writes control character %q raw: %q", args[0], out[i], out)
		}
		for _, want := range []string{`web-\x1b]0;pwned\x07-1`} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: %q not shown escaped in %q", args[0], want, out)
			}
		}
	}
	out, _, _ := runCLI(t, "explain", "--db", db, rec.UID)
	for _, want := range []string{`node-\u009b31m`, `exit 1: \x1b[1A\x1b[2Kall good\x0d`, `terminated: \x07`} {
		if !strings.Contains(out, want) {
			t.Errorf("explain: %q not shown escaped in %q", want, out)
		}
	}
}
