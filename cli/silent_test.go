package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoSilentFailures: what used to print an empty table or exit 0 is an
// error naming what is wrong: a mistyped --db (never created), a filter
// value the API would refuse, an argument a command does not take, a file
// with no audit event in it, and a pod name that is not there (with the
// close matches).
func TestNoSilentFailures(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "cli.db")
	if _, errOut, code := runCLI(t, "replay", "-q", "--db", db, capture); code != 0 {
		t.Fatalf("replay: %d %s", code, errOut)
	}
	missing := filepath.Join(dir, "typo.db")
	garbage := filepath.Join(dir, "not-audit.log")
	if err := os.WriteFile(garbage, []byte("hello\n{\"kind\":\"Pod\"}\nnot json at all\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"pods", "--db", missing}, "no database at " + missing},
		{[]string{"explain", "--db", missing, "demo/too-big"}, "no database at " + missing},
		{[]string{"pods", "--db", db, "--outcome", "borked"}, `--outcome "borked": want one of [pending running ready succeeded failed deleted evicted]`},
		{[]string{"pods", "--db", db, "--kind", "restart"}, `--kind "restart"`},
		{[]string{"pods", "--db", db, "demo"}, `pods takes no arguments, got ["demo"]`},
		{[]string{"pods", "--db", db, "--limit", "0"}, "--limit 0"},
		// (an empty cluster, which serve refuses: were the argument ignored,
		// the test would not hang serving)
		{[]string{"serve", "--db", db, "--cluster", "", "extra"}, "serve takes no arguments"},
		{[]string{"replay", "-q", "--db", filepath.Join(dir, "r.db"), garbage}, "no valid audit event or span in " + garbage + " (3 malformed)"},
		{[]string{"explain", "--db", db, "demo/too-bg"}, `no pod "demo/too-bg" in ` + db + "; did you mean demo/too-big?"},
	} {
		out, errOut, code := runCLI(t, c.args...)
		if code == 0 || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, stderr %q, stdout %.200q; want a failure saying %q", c.args, code, errOut, out, c.want)
		}
	}
	if _, err := os.Stat(missing); err == nil {
		t.Errorf("reading %s created it", missing)
	}
}
