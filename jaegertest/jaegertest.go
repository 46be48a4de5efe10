package jaegertest

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Version is the Jaeger release build-jaeger.sh builds.
const Version = "v1.76.0"

// Binary returns the path of the Jaeger binary, or skips the test.
func Binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("JAEGER_BIN"); p != "" {
		return p
	}
	dir := os.Getenv("PODTRACE_PEERS")
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, ".cache", "podtrace-peers")
	}
	p := filepath.Join(dir, "jaeger-"+Version, "jaeger")
	if _, err := os.Stat(p); err != nil {
		t.Skipf("no Jaeger binary at %s (set JAEGER_BIN, or run scripts/build-jaeger.sh: ≈10 min once, then cached): skipping the test with a real Jaeger", p)
	}
	return p
}

// Jaeger is a running Jaeger v2.
type Jaeger struct {
	Query    string // base URL of the query API: http://127.0.0.1:port
	OTLPHTTP string // host:port of the OTLP/HTTP receiver
	OTLPGRPC string // host:port of the OTLP/gRPC receiver
}

// config is Jaeger's configuration: ports of the health check, the query
// API (HTTP, gRPC) and the OTLP receivers (gRPC, HTTP). Tracing of its own
// queries is off: it would send spans to localhost:4317.
const config = `service:
  extensions: [jaeger_storage, jaeger_query, healthcheckv2]
  pipelines:
    traces:
      receivers: [otlp]
      processors: []
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  healthcheckv2:
    use_v2: true
    http:
      endpoint: 127.0.0.1:%d
  jaeger_query:
    storage:
      traces: mem
    enable_tracing: false
    http:
      endpoint: 127.0.0.1:%d
    grpc:
      endpoint: 127.0.0.1:%d
  jaeger_storage:
    backends:
      mem:
        memory:
          max_traces: 100000
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:%d
      http:
        endpoint: 127.0.0.1:%d
exporters:
  jaeger_storage_exporter:
    trace_storage: mem
`

// Start runs a Jaeger for the test and waits until it is ready; it skips
// the test without the binary.
func Start(t testing.TB) *Jaeger {
	t.Helper()
	bin := Binary(t)
	dir := t.TempDir()
	health, query, queryGRPC, otlpGRPC, otlpHTTP := freePort(t), freePort(t), freePort(t), freePort(t), freePort(t)
	cfg := filepath.Join(dir, "jaeger.yaml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, config, health, query, queryGRPC, otlpGRPC, otlpHTTP), 0o644); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "jaeger.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config=file:"+cfg)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		logf.Close()
	})
	if err := ready(fmt.Sprintf("http://127.0.0.1:%d/status", health), 60*time.Second); err != nil {
		b, _ := os.ReadFile(logf.Name())
		t.Fatalf("Jaeger: %v\n%s", err, b)
	}
	return &Jaeger{
		Query:    fmt.Sprintf("http://127.0.0.1:%d", query),
		OTLPHTTP: fmt.Sprintf("127.0.0.1:%d", otlpHTTP),
		OTLPGRPC: fmt.Sprintf("127.0.0.1:%d", otlpGRPC),
	}
}

// ready waits for the health check to answer 200.
func ready(url string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		res, err := http.Get(url)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %s", within)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
