package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/podtrace/podtrace"
	"github.com/podtrace/podtrace/cli"
	"github.com/podtrace/podtrace/storetest"
)

const capture = "../testdata/kwok-only-v1.34.10/audit.log"

// runCLI runs the podtrace command line and returns its output and exit code.
func runCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := cli.Run(context.Background(), args, cli.Env{Stdout: &out, Stderr: &errOut})
	return out.String(), errOut.String(), code
}

// TestStores: replay, pods and explain work the same on SQLite (--db) and
// PostgreSQL (--postgres-dsn, or PODTRACE_POSTGRES_DSN): the same records,
// the same explanation.
func TestStores(t *testing.T) {
	type result struct{ pods, explain string }
	results := map[string]result{}
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			var where []string
			if backend == "postgres" {
				where = []string{"--postgres-dsn", storetest.PostgresDatabase(t)}
			} else {
				where = []string{"--db", filepath.Join(t.TempDir(), "cli.db")}
			}
			summary, errOut, code := runCLI(t, append([]string{"replay", "-q", "--cluster", "kwok", capture}, where...)...)
			if code != 0 || !strings.Contains(summary, "replayed") {
				t.Fatalf("replay: %d %s %s", code, summary, errOut)
			}
			pods, errOut, code := runCLI(t, append([]string{"pods", "--cluster", "kwok", "-o", "json"}, where...)...)
			if code != 0 {
				t.Fatalf("pods: %d %s", code, errOut)
			}
			var recs []podtrace.Record
			if err := json.Unmarshal([]byte(pods), &recs); err != nil || len(recs) == 0 {
				t.Fatalf("pods -o json: %d records, %v", len(recs), err)
			}
			// the summary's count of finished records is the store's
			// (exactly once across saves: ingest.TestFinishedOnceAcrossFailedSaves)
			finished := 0
			for _, r := range recs {
				if r.Finished != nil {
					finished++
				}
			}
			if want := fmt.Sprintf(" %d records finished,", finished); finished == 0 || !strings.Contains(summary, want) {
				t.Errorf("replay summary %q: want %q", summary, want)
			}
			explain, errOut, code := runCLI(t, append([]string{"explain", "demo/too-big"}, where...)...)
			if code != 0 || !strings.Contains(explain, "CREATE demo/too-big") || !strings.Contains(explain, "InsufficientCPU") {
				t.Fatalf("explain: %d %s %s", code, explain, errOut)
			}
			if _, errOut, code := runCLI(t, append([]string{"explain", "demo/nope"}, where...)...); code != 1 || !strings.Contains(errOut, `no pod "demo/nope"`) {
				t.Fatalf("explain of an unknown pod: %d %s", code, errOut)
			}
			results[backend] = result{pods, explain}
		})
	}
	if pg, ok := results["postgres"]; ok && pg != results["sqlite"] {
		t.Fatal("PostgreSQL and SQLite show different records")
	}
}

// TestStoreFlagErrors: a bad DSN is reported without its password.
func TestStoreFlagErrors(t *testing.T) {
	_, errOut, code := runCLI(t, "pods", "--postgres-dsn", "postgres://u:hunter2@[bad")
	if code != 1 || strings.Contains(errOut, "hunter2") || !strings.Contains(errOut, "invalid DSN") {
		t.Fatalf("%d %s", code, errOut)
	}
	t.Setenv("PODTRACE_POSTGRES_DSN", "postgres://u:hunter2@127.0.0.1:1/db?connect_timeout=1")
	_, errOut, code = runCLI(t, "explain", "demo/x")
	if code != 1 || strings.Contains(errOut, "hunter2") {
		t.Fatalf("PODTRACE_POSTGRES_DSN unreachable: %d %s", code, errOut)
	}
}

// TestReplayClockStep: replay's --max-clock-step bounds how far one event
// alone moves the event clock: a pod event stamped a day after the rest is
// counted as ahead under the default bound, and is not under a bound of
// two days; a bound that is not positive is refused.
func TestReplayClockStep(t *testing.T) {
	b, err := os.ReadFile(capture)
	if err != nil {
		t.Fatal(err)
	}
	var late []byte
	for _, l := range bytes.Split(b, []byte("\n")) {
		if bytes.Contains(l, []byte(`"resource":"pods"`)) && bytes.Contains(l, []byte(`"subresource":"status"`)) && bytes.Contains(l, []byte(`"stageTimestamp":"2026-11-21T`)) {
			late = bytes.ReplaceAll(l, []byte(`"2026-11-21T`), []byte(`"2026-11-22T`))
			late = bytes.Replace(late, []byte(`"auditID":"`), []byte(`"auditID":"late-`), 1)
			break
		}
	}
	if late == nil {
		t.Fatal("no pod status event in the capture")
	}
	path := filepath.Join(t.TempDir(), "audit.log")
	if err := os.WriteFile(path, append(append(bytes.TrimRight(b, "\n"), '\n'), late...), 0o600); err != nil {
		t.Fatal(err)
	}
	const ahead = ", 1 events stamped too far ahead"
	for _, c := range []struct {
		flags []string
		ahead bool
	}{{nil, true}, {[]string{"--max-clock-step", "48h"}, false}} {
		args := append([]string{"replay", "-q", "--db", filepath.Join(t.TempDir(), "r.db")}, c.flags...)
		out, errOut, code := runCLI(t, append(args, path)...)
		if code != 0 || strings.Contains(out, ahead) != c.ahead {
			t.Errorf("replay %v: %d %q %s; want ahead counted: %v", c.flags, code, out, errOut, c.ahead)
		}
	}
	if _, errOut, code := runCLI(t, "replay", "-q", "--max-clock-step", "0s", "--db", filepath.Join(t.TempDir(), "r.db"), path); code == 0 || !strings.Contains(errOut, "must be positive") {
		t.Errorf("--max-clock-step 0s: %d %s", code, errOut)
	}
}
