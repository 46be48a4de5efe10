package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/podtrace/podtrace/diagnosis"
	"github.com/podtrace/podtrace/lifecycle"
	"github.com/podtrace/podtrace/slo"
)

// Config is podtrace serve's configuration: a YAML file (strict: unknown
// keys fail), then flags on top. Every field has a default.
type Config struct {
	Cluster string `yaml:"cluster"`
	// Diagnosis holds the thresholds that make a delivery or phase slow.
	Diagnosis diagnosis.Config `yaml:"diagnosis"`
	// SLO holds the delivery targets: rules, first match wins.
	SLO slo.Config `yaml:"slo"`
	// MetricsNamespaces, if set, is the allow-list of namespaces given
	// their own label value in delivery metrics; others are "other".
	MetricsNamespaces []string `yaml:"metrics_namespaces"`
	// HTTPAddr serves the webhook, health, metrics, API and UI.
	HTTPAddr string `yaml:"http_addr"`
	// DB is the SQLite database file.
	DB string `yaml:"db"`
	// Sync is SQLite's synchronous mode for the journal: FULL (an
	// acknowledged event survives power loss) or NORMAL (a crash of the
	// process). Saves, which the journal rebuilds, are synced NORMAL.
	Sync string `yaml:"sync"`
	// AuditFile, if set, is an --audit-log-path file to follow.
	AuditFile string `yaml:"audit_file"`
	// AuditFilePoll is how often a followed file is polled at its end.
	AuditFilePoll time.Duration `yaml:"audit_file_poll"`
	// MaxBodyBytes bounds a webhook body (and its decompressed size).
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// IngestTokenFile, if set, holds the bearer token webhook clients must send.
	IngestTokenFile string `yaml:"ingest_token_file"`
	// QueueEvents bounds events waiting to be journaled (503 beyond).
	QueueEvents int `yaml:"queue_events"`
	// FlushInterval is how often states and records are saved. Short
	// saves keep the webhook's ack latency low: a save shares SQLite's one
	// writer with the journal and the cores with decoding; at 100 ms each
	// save is small (measured on 2 cores with 400-event batches: p99 ack
	// 53 ms, against 113 ms at 500 ms).
	FlushInterval time.Duration `yaml:"flush_interval"`
	// IdleAfter is how long (event time) an open pod stays in memory without news.
	IdleAfter time.Duration `yaml:"idle_after"`
	// MaxClockStep is how far one audit event alone may move the event
	// clock ahead (the clock of idle eviction and of open deliveries'
	// findings); an event stamped further ahead moves it only once another
	// confirms its time (see lifecycle.Config).
	MaxClockStep time.Duration `yaml:"max_clock_step"`
	// MaxClockSkew is how far past this host's clock an audit event may be
	// stamped and still move the event clock: forged events dated in the
	// future, even confirming each other, cannot flag every later pod as
	// slow (see lifecycle.Config).
	MaxClockSkew time.Duration `yaml:"max_clock_skew"`

	// PostgresDSN, if set, stores in PostgreSQL (postgres://host/db) instead
	// of the SQLite file db: many clusters' podtraces may share one database.
	// Give the password by PGPASSWORD or ~/.pgpass rather than in the DSN.
	PostgresDSN string `yaml:"postgres_dsn"`
	// SharedJournal lets replicas of this cluster share the PostgreSQL
	// journal (see package postgres). On by default; turn it off only when
	// exactly one podtrace serves the cluster (it then skips re-reading
	// the journal).
	SharedJournal bool `yaml:"shared_journal"`
	// Retention is how long records, pod states and journal events are
	// kept; 0 keeps everything. Deleted in small batches every minute.
	Retention time.Duration `yaml:"retention"`
	// MaxInflightBytes bounds the webhook and OTLP request bytes being
	// read, decoded or waiting for the journal at once, counted as they
	// arrive (decompressed), never by the length a request declares; an
	// OTLP gRPC call holds otlp_grpc_max_message_bytes from its headers
	// until its message is read. Beyond it requests get 503 with
	// Retry-After (gRPC Unavailable), at once while it is full.
	MaxInflightBytes int64 `yaml:"max_inflight_bytes"`
	// OTLPGRPCMaxMessageBytes bounds an OTLP gRPC Export message (gRPC's
	// default, 4 MiB; exporters' batches are far smaller).
	OTLPGRPCMaxMessageBytes int64 `yaml:"otlp_grpc_max_message_bytes"`
	// ReadHeaderTimeout is how long a client may take to send a request's
	// headers, on every HTTP listener.
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	// ReadBodyTimeout and MinBodyRate (bytes per second) are the slowest a
	// webhook or OTLP body may arrive: n bytes within read_body_timeout +
	// n/min_body_rate of the request's start (HTTP 408 behind; an OTLP
	// gRPC call must have sent its whole message within the pace of
	// otlp_grpc_max_message_bytes). A client trickling a large body is
	// dropped instead of holding a connection and its bytes.
	ReadBodyTimeout time.Duration `yaml:"read_body_timeout"`
	MinBodyRate     int64         `yaml:"min_body_rate"`
	// IdleTimeout closes keep-alive connections (HTTP) and connections
	// without calls (gRPC) idle this long; MaxConnections bounds the
	// connections each listener holds at once (more wait to be accepted),
	// so idle or slow clients cannot take every file descriptor.
	IdleTimeout    time.Duration `yaml:"idle_timeout"`
	MaxConnections int           `yaml:"max_connections"`
	// TLSCert and TLSKey (PEM files) serve every listener over TLS.
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
	// ClientCA (PEM) makes the ingest endpoints require client
	// certificates signed by it (mTLS).
	ClientCA string `yaml:"client_ca"`
	// APITokenFile and APIBasicAuthFile (htpasswd -B: user:bcrypt-hash
	// lines) protect the API, UI and metrics; either credential is enough.
	APITokenFile     string `yaml:"api_token_file"`
	APIBasicAuthFile string `yaml:"api_basic_auth_file"`
	// ReadOnly serves the API and UI only: no ingest, no retention, and
	// every request that is not GET, HEAD or OPTIONS is refused.
	ReadOnly bool `yaml:"read_only"`
	// DebugAddr, if set, serves pprof on this separate address (never on
	// http_addr), behind the API's credentials.
	DebugAddr string `yaml:"debug_addr"`

	// OTLPGRPCAddr and OTLPHTTPAddr receive component spans over OTLP
	// (gRPC; HTTP POST /v1/traces, also served on http_addr); empty turns a
	// listener off.
	OTLPGRPCAddr string `yaml:"otlp_grpc_addr"`
	OTLPHTTPAddr string `yaml:"otlp_http_addr"`
	// OTLPForward, if set, forwards every OTLP request received to this
	// endpoint (grpc://host:port, http://host:port[/path], host:port for
	// gRPC), so podtrace can stand in front of a collector or backend.
	OTLPForward string `yaml:"otlp_forward"`
	// OTLPForwardSampling is the fraction of traces forwarded, by trace id.
	OTLPForwardSampling float64 `yaml:"otlp_forward_sampling"`
	// OTLPExport, if set, exports one trace per closed delivery to this OTLP
	// endpoint (same forms as otlp_forward).
	OTLPExport string `yaml:"otlp_export"`
	// OTLPExportDelay is how long a closed delivery waits before its trace
	// is exported, so component spans arriving after it closed are linked.
	OTLPExportDelay time.Duration `yaml:"otlp_export_delay"`
	// MaxSpansPerPod bounds the component spans kept with a pod.
	MaxSpansPerPod int `yaml:"max_spans_per_pod"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		Cluster:       "default",
		Diagnosis:     diagnosis.DefaultConfig(),
		SLO:           slo.DefaultConfig(),
		HTTPAddr:      "127.0.0.1:8080",
		DB:            "./podtrace.db",
		Sync:          "FULL",
		AuditFilePoll: 250 * time.Millisecond,
		MaxBodyBytes:  32 << 20,
		QueueEvents:   200_000,
		FlushInterval: 100 * time.Millisecond,
		IdleAfter:     10 * time.Minute,
		MaxClockStep:  lifecycle.DefaultConfig().MaxClockStep,
		MaxClockSkew:  lifecycle.DefaultConfig().MaxClockSkew,

		SharedJournal:           true,
		MaxInflightBytes:        64 << 20,
		OTLPGRPCMaxMessageBytes: 4 << 20,
		ReadHeaderTimeout:       10 * time.Second,
		ReadBodyTimeout:         30 * time.Second,
		MinBodyRate:             64 << 10,
		IdleTimeout:             2 * time.Minute,
		MaxConnections:          4096,

		OTLPGRPCAddr:        "127.0.0.1:4317",
		OTLPHTTPAddr:        "127.0.0.1:4318",
		OTLPForwardSampling: 1,
		OTLPExportDelay:     10 * time.Second,
		MaxSpansPerPod:      64,
	}
}

// LoadConfig reads a YAML file over the defaults.
func LoadConfig(path string) (Config, error) {
	c := DefaultConfig()
	b, err := os.ReadFile(path)
	if err != nil {
		return c, fmt.Errorf("config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	// an empty file (io.EOF) stands for "all defaults"
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return c, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// Validate checks every field and reports all problems at once, each with
// its key.
func (c Config) Validate() error {
	var errs []error
	bad := func(key string, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if c.Cluster == "" {
		bad("cluster", "must not be empty")
	}
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		bad("http_addr", "%v", err)
	}
	if c.DB == "" {
		bad("db", "must not be empty")
	}
	switch c.Sync {
	case "FULL", "NORMAL":
	default:
		bad("sync", "%q: want FULL or NORMAL", c.Sync)
	}
	if c.AuditFilePoll <= 0 {
		bad("audit_file_poll", "must be positive")
	}
	if c.MaxBodyBytes < 1024 {
		bad("max_body_bytes", "%d: must be at least 1024", c.MaxBodyBytes)
	}
	if c.QueueEvents < 1 {
		bad("queue_events", "must be positive")
	}
	if c.FlushInterval <= 0 {
		bad("flush_interval", "must be positive")
	}
	if c.IdleAfter <= 0 {
		bad("idle_after", "must be positive")
	}
	if c.MaxClockStep <= 0 {
		bad("max_clock_step", "must be positive")
	}
	if c.MaxClockSkew <= 0 {
		bad("max_clock_skew", "must be positive")
	}
	errs = append(errs, c.validateSecurity()...)
	errs = append(errs, c.validateOTLP()...)
	if err := c.Diagnosis.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.SLO.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
