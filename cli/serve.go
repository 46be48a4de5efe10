package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/podtrace/podtrace/retention"
	"github.com/podtrace/podtrace/server"
)

// serveFlags binds the server configuration to flags. Values come from, in
// rising precedence: defaults, the --config file, PODTRACE_* environment
// variables, flags.
func serveFlags(fs *flag.FlagSet) (configPath *string, apply func(*server.Config) error) {
	configPath = fs.String("config", "", "YAML configuration file (unknown keys are errors)")
	def := server.DefaultConfig()
	httpAddr := fs.String("http-addr", def.HTTPAddr, "address for the webhook, API, UI and metrics")
	db := fs.String("db", def.DB, "SQLite database file")
	cluster := fs.String("cluster", def.Cluster, "name of the Kubernetes cluster the events come from")
	auditFile := fs.String("audit-file", "", "follow this --audit-log-path file (resumes after restart, survives rotation)")
	token := fs.String("ingest-token-file", "", "file holding the bearer token webhook clients must send")
	maxBody := fs.Int64("max-body-bytes", def.MaxBodyBytes, "largest webhook body accepted (and decompressed)")
	queue := fs.Int("queue-events", def.QueueEvents, "events that may wait to be journaled before the webhook answers 503")
	idle := fs.Duration("idle-after", def.IdleAfter, "event time an open pod stays in memory without news")
	clockStep := fs.Duration("max-clock-step", def.MaxClockStep, "how far one audit event alone may move the event clock ahead (further: only once another confirms it)")
	sync := fs.String("sync", def.Sync, "SQLite synchronous mode of the journal: FULL (survives power loss) or NORMAL (a crash)")
	pgDSN := fs.String("postgres-dsn", "", "store in PostgreSQL (postgres://host/db; password from PGPASSWORD or ~/.pgpass) instead of --db")
	shared := fs.Bool("shared-journal", def.SharedJournal, "replicas of this cluster share the PostgreSQL journal (false: exactly one podtrace serves it)")
	keep := fs.String("retention", "", "delete records, pod states and journal events older than this (30d, 720h; default: keep)")
	maxInflight := fs.Int64("max-inflight-bytes", def.MaxInflightBytes, "webhook body bytes handled at once before answering 503")
	tlsCert := fs.String("tls-cert", "", "serve every listener over TLS with this PEM certificate chain")
	tlsKey := fs.String("tls-key", "", "the PEM key of --tls-cert")
	clientCA := fs.String("client-ca", "", "require ingest clients to present certificates signed by this PEM CA (mTLS)")
	apiToken := fs.String("api-token-file", "", "file holding the bearer token API, UI and metrics clients must send")
	apiUsers := fs.String("api-basic-auth-file", "", "htpasswd -B file (user:bcrypt-hash lines) for API, UI and metrics basic auth")
	readOnly := fs.Bool("read-only", false, "serve the API and UI only: no ingest, no retention, no writes")
	debugAddr := fs.String("debug-addr", "", "serve pprof on this separate address (behind the API credentials)")
	otlpGRPC := fs.String("otlp-grpc-addr", def.OTLPGRPCAddr, "receive OTLP traces (component spans) over gRPC here; empty: off")
	otlpHTTP := fs.String("otlp-http-addr", def.OTLPHTTPAddr, "receive OTLP traces over HTTP (POST /v1/traces) here; empty: off")
	otlpForward := fs.String("otlp-forward", "", "forward every OTLP request received to this endpoint (grpc://host:4317, http://host:4318)")
	otlpSampling := fs.Float64("otlp-forward-sampling", def.OTLPForwardSampling, "fraction of traces forwarded, by trace id")
	otlpExport := fs.String("otlp-export", "", "export one trace per closed delivery to this OTLP endpoint (grpc://host:4317, http://host:4318)")
	otlpDelay := fs.Duration("otlp-export-delay", def.OTLPExportDelay, "wait this long after a delivery closes before exporting it, for late component spans")
	maxSpans := fs.Int("max-spans-per-pod", def.MaxSpansPerPod, "component spans kept with a pod")
	apply = func(c *server.Config) error {
		for env, dst := range map[string]*string{"PODTRACE_HTTP_ADDR": &c.HTTPAddr, "PODTRACE_DB": &c.DB, "PODTRACE_CLUSTER": &c.Cluster, "PODTRACE_POSTGRES_DSN": &c.PostgresDSN} {
			if v := os.Getenv(env); v != "" {
				*dst = v
			}
		}
		var err error
		fs.Visit(func(f *flag.Flag) {
			switch f.Name {
			case "http-addr":
				c.HTTPAddr = *httpAddr
			case "db":
				c.DB = *db
			case "cluster":
				c.Cluster = *cluster
			case "audit-file":
				c.AuditFile = *auditFile
			case "ingest-token-file":
				c.IngestTokenFile = *token
			case "max-body-bytes":
				c.MaxBodyBytes = *maxBody
			case "queue-events":
				c.QueueEvents = *queue
			case "idle-after":
				c.IdleAfter = *idle
			case "max-clock-step":
				c.MaxClockStep = *clockStep
			case "sync":
				c.Sync = *sync
			case "postgres-dsn":
				c.PostgresDSN = *pgDSN
			case "shared-journal":
				c.SharedJournal = *shared
			case "retention":
				d, perr := retention.ParseDuration(*keep)
				if perr != nil {
					err = errors.Join(err, fmt.Errorf("--retention: %w", perr))
				}
				c.Retention = d
			case "max-inflight-bytes":
				c.MaxInflightBytes = *maxInflight
			case "tls-cert":
				c.TLSCert = *tlsCert
			case "tls-key":
				c.TLSKey = *tlsKey
			case "client-ca":
				c.ClientCA = *clientCA
			case "api-token-file":
				c.APITokenFile = *apiToken
			case "api-basic-auth-file":
				c.APIBasicAuthFile = *apiUsers
			case "read-only":
				c.ReadOnly = *readOnly
			case "debug-addr":
				c.DebugAddr = *debugAddr
			case "otlp-grpc-addr":
				c.OTLPGRPCAddr = *otlpGRPC
			case "otlp-http-addr":
				c.OTLPHTTPAddr = *otlpHTTP
			case "otlp-forward":
				c.OTLPForward = *otlpForward
			case "otlp-forward-sampling":
				c.OTLPForwardSampling = *otlpSampling
			case "otlp-export":
				c.OTLPExport = *otlpExport
			case "otlp-export-delay":
				c.OTLPExportDelay = *otlpDelay
			case "max-spans-per-pod":
				c.MaxSpansPerPod = *maxSpans
			}
		})
		return err
	}
	return configPath, apply
}

// ServeConfig returns the configuration `podtrace serve args...` runs
// with — defaults, the --config file (strict), PODTRACE_* environment
// variables, then flags — not yet validated. Flag errors go to stderr.
// The deployment tests check manifests' args and config files with it.
func ServeConfig(args []string, stderr io.Writer) (server.Config, error) {
	fs := flagSet("serve", Env{Stderr: stderr})
	configPath, apply := serveFlags(fs)
	if err := parseNoArgs(fs, args); err != nil {
		return server.Config{}, err
	}
	cfg := server.DefaultConfig()
	if *configPath != "" {
		var err error
		if cfg, err = server.LoadConfig(*configPath); err != nil {
			return cfg, err
		}
	}
	return cfg, apply(&cfg)
}

func runServe(ctx context.Context, env Env, args []string) error {
	cfg, err := ServeConfig(args, env.Stderr)
	if errors.Is(err, flag.ErrHelp) || errors.Is(err, errUsage) {
		return err
	}
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	return serveUntilSignal(ctx, env, cfg, nil)
}

// serveUntilSignal runs the server until ctx ends or SIGINT/SIGTERM.
// ready, if not nil, is called once the server listens.
func serveUntilSignal(ctx context.Context, env Env, cfg server.Config, ready func(*server.Server)) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := server.Start(ctx, cfg, logger(env))
	if err != nil {
		return err
	}
	if ready != nil {
		ready(srv)
	}
	<-ctx.Done()
	done := make(chan error, 1)
	go func() { done <- srv.Close() }()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		return fmt.Errorf("shutdown timed out")
	}
}
