package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/podtrace/podtrace"
	"github.com/podtrace/podtrace/cli"
	"github.com/podtrace/podtrace/demo"
	"github.com/podtrace/podtrace/server"
)

// run runs a command line of podtrace (cli.Run) or of the kubectl plugin
// (cli.RunKubectl) and returns its exit code, stdout and stderr.
func run(t *testing.T, main func(context.Context, []string, cli.Env) int, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := main(context.Background(), args, cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut})
	return code, out.String(), errOut.String()
}

// apiFixture is the real captures replayed into a database, and a real
// podtrace serve (read-only, behind an API token) over that database.
type apiFixture struct {
	db, url, token string
}

func newAPIFixture(t *testing.T) apiFixture {
	t.Helper()
	dir := t.TempDir()
	caps, err := demo.WriteCaptures(dir)
	if err != nil {
		t.Fatal(err)
	}
	f := apiFixture{db: filepath.Join(dir, "podtrace.db"), token: filepath.Join(dir, "api-token")}
	for _, c := range caps {
		if code, _, stderr := run(t, cli.Run, "replay", "-q", "--db", f.db, "--cluster", c.Cluster, c.Path); code != 0 {
			t.Fatalf("replay %s: exit %d: %s", c.Path, code, stderr)
		}
	}
	if err := os.WriteFile(f.token, []byte("s3cret-api-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := server.DefaultConfig()
	cfg.DB, cfg.HTTPAddr, cfg.ReadOnly, cfg.APITokenFile = f.db, "127.0.0.1:0", true, f.token
	cfg.OTLPGRPCAddr, cfg.OTLPHTTPAddr = "", ""
	srv, err := server.Start(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Error(err)
		}
	})
	f.url = "http://" + srv.Addr()
	return f
}

// TestAPISource: pods and explain print the same from a podtrace's REST API
// (--server) as from its database (--db), for every pod of the real
// captures, and so does the kubectl plugin.
func TestAPISource(t *testing.T) {
	f := newAPIFixture(t)
	same := func(t *testing.T, args ...string) string {
		t.Helper()
		code, want, stderr := run(t, cli.Run, append([]string{args[0], "--db", f.db}, args[1:]...)...)
		if code != 0 {
			t.Fatalf("podtrace %v --db: exit %d: %s", args, code, stderr)
		}
		code, got, stderr := run(t, cli.Run, append([]string{args[0], "--server", f.url, "--token-file", f.token}, args[1:]...)...)
		if code != 0 {
			t.Fatalf("podtrace %v --server: exit %d: %s", args, code, stderr)
		}
		if got != want {
			t.Errorf("podtrace %v: --server prints\n%s\n--db prints\n%s", args, got, want)
		}
		return want
	}

	var recs []podtrace.Record
	if err := json.Unmarshal([]byte(same(t, "pods", "-o", "json")), &recs); err != nil {
		t.Fatal(err)
	}
	if len(recs) < 30 {
		t.Fatalf("%d records from the captures, want at least 30", len(recs))
	}
	var failed string
	for _, r := range recs {
		if len(r.Diagnosis) > 0 && failed == "" {
			failed = r.Diagnosis[0].Code
		}
	}
	for _, args := range [][]string{
		{"pods"}, {"pods", "-n", "demo"}, {"pods", "--cluster", "mixed"}, {"pods", "--outcome", "failed"},
		{"pods", "--kind", "delete"}, {"pods", "--code", failed}, {"pods", "--limit", "3"}, {"pods", "-n", "nowhere"},
	} {
		same(t, args...)
	}
	pods := map[string]bool{}
	for _, r := range recs {
		for _, ref := range []string{r.Namespace + "/" + r.Name, r.UID} {
			if !pods[ref] {
				pods[ref] = true
				same(t, "explain", ref)
				same(t, "explain", ref, "-o", "json")
			}
		}
		same(t, "explain", "--cluster", r.Cluster, r.Namespace+"/"+r.Name)
	}

	// the kubectl plugin: the server from $PODTRACE_SERVER, the token from
	// $PODTRACE_TOKEN_FILE; the URL may carry a path, as kubectl proxy's
	// service proxy does
	target, err := url.Parse(f.url)
	if err != nil {
		t.Fatal(err)
	}
	const proxyPath = "/api/v1/namespaces/podtrace/services/podtrace:http/proxy"
	proxy := httptest.NewServer(http.StripPrefix(proxyPath, httputil.NewSingleHostReverseProxy(target)))
	defer proxy.Close()
	t.Setenv("PODTRACE_SERVER", proxy.URL+proxyPath)
	t.Setenv("PODTRACE_TOKEN_FILE", f.token)
	for _, args := range [][]string{{"pods", "-n", "demo"}, {"explain", recs[0].Namespace + "/" + recs[0].Name}} {
		_, want, _ := run(t, cli.Run, append(args, "--db", f.db)...)
		code, got, stderr := run(t, cli.RunKubectl, args...)
		if code != 0 || got != want {
			t.Errorf("kubectl podtrace %v: exit %d (%s), prints\n%s\nwant\n%s", args, code, stderr, got, want)
		}
	}
}

// TestAPISourceErrors: what goes wrong reading the API is said plainly.
func TestAPISourceErrors(t *testing.T) {
	f := newAPIFixture(t)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"pods", "--server", f.url}, 1, "401 Unauthorized: missing or invalid credentials"},
		{[]string{"explain", "--server", f.url, "--token-file", f.token, "demo/no-such-pod"}, 1, `no pod "demo/no-such-pod" in ` + f.url},
		{[]string{"explain", "--server", f.url, "--token-file", f.token, "no-such-uid"}, 1, `no pod "no-such-uid" in ` + f.url},
		{[]string{"pods", "--server", f.url, "--db", f.db}, 1, "--db or --postgres-dsn, and --server: give one"},
		{[]string{"pods", "--server", "127.0.0.1:8080"}, 1, `--server "127.0.0.1:8080": want an http:// or https:// URL`},
		{[]string{"pods", "--server", f.url, "--token-file", filepath.Join(t.TempDir(), "missing")}, 1, "token file"},
		{[]string{"pods", "--server", f.url, "--token-file", f.token, "--outcome", "sideways"}, 1, `--outcome "sideways": want one of`}, // checked as the API checks it, before asking
	} {
		code, _, stderr := run(t, cli.Run, tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("podtrace %v: exit %d, stderr %q; want exit %d and %q", tc.args, code, stderr, tc.code, tc.want)
		}
	}
	code, stdout, _ := run(t, cli.RunKubectl, "help")
	if code != 0 || !strings.Contains(stdout, "Usage: kubectl podtrace <command>") || strings.Contains(stdout, "serve") {
		t.Errorf("kubectl podtrace help: exit %d:\n%s", code, stdout)
	}
	code, _, stderr := run(t, cli.RunKubectl, "serve")
	if code != 2 || !strings.Contains(stderr, `kubectl podtrace: unknown command "serve"`) {
		t.Errorf("kubectl podtrace serve: exit %d: %s", code, stderr)
	}
	if !slices.Contains(strings.Fields(stderr), "explain") {
		t.Errorf("kubectl podtrace serve: usage lists no explain: %s", stderr)
	}
}
