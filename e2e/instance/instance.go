package instance

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/podtrace/podtrace/api"
	"github.com/podtrace/podtrace/e2e/daemon"
)

const (
	// Cluster is the cluster name podtrace files the records under.
	Cluster = "e2e"

	buildTimeout = 5 * time.Minute
	startTimeout = time.Minute
	stopGrace    = 40 * time.Second // podtrace gives its own shutdown 30 s
	logTailLines = 60
	pageSize     = 1000
)

// Options configure a podtrace.
type Options struct {
	// Config is the content of the YAML configuration file `podtrace serve
	// --config` reads (server.Config); empty means the defaults. The
	// database, listeners, cluster name, TLS files and ingest token are set
	// by flags, which take precedence.
	Config string
	// TLS serves every listener over TLS with a certificate for 127.0.0.1
	// from a CA of the test's own (CAFile).
	TLS bool
	// IngestToken makes the audit webhook require a bearer token (TokenFile).
	IngestToken bool
}

// Podtrace is a running `podtrace serve`. Its fields are read-only.
type Podtrace struct {
	// URL is the HTTP listener: the audit webhook at /audit, the API, the UI
	// and /metrics, e.g. "http://127.0.0.1:41233" ("https://…" with TLS).
	URL string
	// OTLPGRPC and OTLPHTTP are host:port of the OTLP trace receivers.
	OTLPGRPC, OTLPHTTP string
	// CAFile verifies podtrace's serving certificate (with Options.TLS).
	CAFile string
	// TokenFile holds the bearer token the audit webhook must send (with
	// Options.IngestToken).
	TokenFile string
	// Dir holds the binary, configuration, database and log; kept when the
	// test fails.
	Dir string
	// LogPath is podtrace's log.
	LogPath string

	t    testing.TB
	d    *daemon.Daemon
	http *http.Client
}

// Start builds podtrace from this repository, starts `podtrace serve` and
// waits until it is ready. It registers the teardown with t.Cleanup. Like
// cluster.Start it skips the test unless PODTRACE_E2E=1.
func Start(t testing.TB, opts Options) *Podtrace {
	t.Helper()
	if os.Getenv("PODTRACE_E2E") != "1" {
		t.Skip("end-to-end test: set PODTRACE_E2E=1 (e2e/run.sh does) to run it")
	}
	dir, err := os.MkdirTemp("", "podtrace-e2e-serve-")
	if err != nil {
		t.Fatal(err)
	}
	p := &Podtrace{t: t, Dir: dir, http: &http.Client{Timeout: 30 * time.Second}}
	t.Cleanup(p.cleanup)
	if err := p.start(opts); err != nil {
		t.Fatalf("start podtrace: %v", err) // cleanup prints the log's tail
	}
	t.Logf("podtrace serving on %s (OTLP gRPC %s, HTTP %s), run dir %s", p.URL, p.OTLPGRPC, p.OTLPHTTP, dir)
	return p
}

func (p *Podtrace) start(opts Options) error {
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	root, err := mainModuleRoot(ctx)
	if err != nil {
		return err
	}
	bin := filepath.Join(p.Dir, "podtrace")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/podtrace")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/podtrace in %s: %w\n%s", root, err, out)
	}

	config := filepath.Join(p.Dir, "podtrace.yaml")
	if err := os.WriteFile(config, []byte(opts.Config), 0o644); err != nil {
		return err
	}
	args := []string{"serve", "--config=" + config, "--db=" + filepath.Join(p.Dir, "podtrace.db"), "--cluster=" + Cluster,
		"--http-addr=127.0.0.1:0", "--otlp-grpc-addr=127.0.0.1:0", "--otlp-http-addr=127.0.0.1:0"}
	if opts.IngestToken {
		token := make([]byte, 24)
		if _, err := rand.Read(token); err != nil {
			return fmt.Errorf("ingest token: %w", err)
		}
		p.TokenFile = filepath.Join(p.Dir, "ingest-token")
		if err := os.WriteFile(p.TokenFile, []byte(hex.EncodeToString(token)+"\n"), 0o600); err != nil {
			return err
		}
		args = append(args, "--ingest-token-file="+p.TokenFile)
	}
	scheme := "http://"
	if opts.TLS {
		cert, key, pool, err := writeServingCert(p.Dir, time.Now())
		if err != nil {
			return err
		}
		p.CAFile = cert // self-signed: the certificate is its own CA
		p.http.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
		args = append(args, "--tls-cert="+cert, "--tls-key="+key)
		scheme = "https://"
	}
	if p.d, err = daemon.Start("podtrace", p.Dir, nil, bin, args...); err != nil {
		return err
	}
	p.LogPath = p.d.LogPath

	ctx, cancel = context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if err := p.readAddrs(ctx, scheme); err != nil {
		return err
	}
	return p.poll(ctx, "podtrace /readyz", func() (bool, error) {
		_, err := p.get(ctx, "/readyz")
		return err == nil, err
	})
}

// readAddrs waits for the log lines that name the bound addresses:
//
//	msg="receiving OTLP traces" grpc=127.0.0.1:36617 http=127.0.0.1:40211 …
//	msg="podtrace serving" addr=127.0.0.1:39451 …
func (p *Podtrace) readAddrs(ctx context.Context, scheme string) error {
	return p.poll(ctx, "podtrace's listen addresses in "+p.LogPath, func() (bool, error) {
		data, err := os.ReadFile(p.LogPath)
		if err != nil {
			return false, err
		}
		s := bufio.NewScanner(bytes.NewReader(data))
		for s.Scan() {
			line := s.Text()
			switch {
			case strings.Contains(line, `msg="receiving OTLP traces"`):
				p.OTLPGRPC, p.OTLPHTTP = logValue(line, "grpc"), logValue(line, "http")
			case strings.Contains(line, `msg="podtrace serving"`):
				if addr := logValue(line, "addr"); addr != "" {
					p.URL = scheme + addr
				}
			}
		}
		if p.URL == "" || p.OTLPGRPC == "" || p.OTLPHTTP == "" {
			return false, errors.New("not logged yet")
		}
		return true, nil
	})
}

// logValue returns the value of key=value in a log/slog text line.
func logValue(line, key string) string {
	for _, f := range strings.Fields(line) {
		if v, ok := strings.CutPrefix(f, key+"="); ok {
			return v
		}
	}
	return ""
}

// mainModuleRoot is the directory of the podtrace module the e2e module
// uses: its replacement, this repository.
func mainModuleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}", "github.com/podtrace/podtrace").Output()
	if err != nil {
		return "", fmt.Errorf("go list -m github.com/podtrace/podtrace: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// poll calls cond every 100ms until it returns true, podtrace exits, or ctx
// ends (see daemon.Poll).
func (p *Podtrace) poll(ctx context.Context, what string, cond func() (bool, error)) error {
	return daemon.Poll(ctx, what, 100*time.Millisecond, p.Alive, cond)
}

// Alive reports an error if podtrace has exited or was stopped.
func (p *Podtrace) Alive() error {
	if p.d == nil {
		return errors.New("podtrace was stopped")
	}
	if exited, err := p.d.Exited(); exited {
		return fmt.Errorf("podtrace exited: %v (log %s)", err, p.LogPath)
	}
	return nil
}

// Stop stops podtrace: SIGTERM, then SIGKILL after a grace period. It
// reports a podtrace that had died, did not stop in time, or did not exit
// cleanly (it drains and saves on SIGTERM, then exits 0). Calling it again
// does nothing.
func (p *Podtrace) Stop() error {
	if p.d == nil {
		return nil
	}
	d := p.d
	p.d = nil
	if err := d.Stop(stopGrace); err != nil {
		return err
	}
	if _, err := d.Exited(); err != nil {
		return fmt.Errorf("podtrace did not exit cleanly on SIGTERM: %w (log %s)", err, p.LogPath)
	}
	return nil
}

// cleanup stops podtrace, prints its log's tail if the test failed, and
// removes the run directory if it passed.
func (p *Podtrace) cleanup() {
	if err := p.Stop(); err != nil {
		p.t.Errorf("stop podtrace: %v", err)
	}
	var logs []string
	if p.LogPath != "" {
		logs = []string{p.LogPath}
	}
	daemon.Tidy(p.t, "podtrace", p.Dir, logs, logTailLines)
}

// get fetches path (with its query) and returns the body of a 200 answer.
func (p *Podtrace) get(ctx context.Context, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := p.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", path, resp.Status, bytes.TrimSpace(body))
	}
	return body, nil
}

// GetJSON decodes the JSON answer of GET path into v.
func (p *Podtrace) GetJSON(ctx context.Context, path string, v any) error {
	body, err := p.get(ctx, path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	return nil
}

// Deliveries lists every delivery record of a namespace (GET
// /api/v1/pods?namespace=…, all pages), newest first.
func (p *Podtrace) Deliveries(ctx context.Context, namespace string) ([]api.PodSummary, error) {
	var all []api.PodSummary
	q := url.Values{"namespace": {namespace}, "limit": {fmt.Sprint(pageSize)}}
	for {
		var page api.Page
		if err := p.GetJSON(ctx, "/api/v1/pods?"+q.Encode(), &page); err != nil {
			return nil, err
		}
		all = append(all, page.Items...)
		if page.Next == nil {
			return all, nil
		}
		q.Set("cursor", *page.Next)
	}
}

// Pod returns one pod's deliveries and evidence (GET /api/v1/pods/{uid}).
func (p *Podtrace) Pod(ctx context.Context, uid string) (api.Pod, error) {
	var pod api.Pod
	err := p.GetJSON(ctx, "/api/v1/pods/"+url.PathEscape(uid), &pod)
	return pod, err
}

// Trace returns a delivery's trace from the Jaeger-compatible API (GET
// /api/traces/{id}).
func (p *Podtrace) Trace(ctx context.Context, traceID string) (api.JaegerTraces, error) {
	var tr api.JaegerTraces
	err := p.GetJSON(ctx, "/api/traces/"+url.PathEscape(traceID), &tr)
	return tr, err
}

// Post sends body to path (with its query) as JSON, with an Authorization
// header when auth is not empty, and returns the response status code.
func (p *Podtrace) Post(ctx context.Context, path, auth string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL+path, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := p.http.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// Metrics returns the /metrics exposition.
func (p *Podtrace) Metrics(ctx context.Context) (string, error) {
	body, err := p.get(ctx, "/metrics")
	return string(body), err
}
