package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
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
			if out, errOut, code := runCLI(t, append([]string{"replay", "-q", "--cluster", "kwok", capture}, where...)...); code != 0 || !strings.Contains(out, "replayed") {
				t.Fatalf("replay: %d %s %s", code, out, errOut)
			}
			pods, errOut, code := runCLI(t, append([]string{"pods", "--cluster", "kwok", "-o", "json"}, where...)...)
			if code != 0 {
				t.Fatalf("pods: %d %s", code, errOut)
			}
			var recs []podtrace.Record
			if err := json.Unmarshal([]byte(pods), &recs); err != nil || len(recs) == 0 {
				t.Fatalf("pods -o json: %d records, %v", len(recs), err)
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
