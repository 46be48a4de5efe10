package server

// What podtrace serve needs to run at scale and exposed: the store choice
// (SQLite or a shared PostgreSQL), retention, the in-flight bytes bound,
// TLS and mTLS, API credentials, read-only mode and the debug listener.

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"slices"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/net/netutil"

	"github.com/podtrace/podtrace"
	"github.com/podtrace/podtrace/auth"
	"github.com/podtrace/podtrace/inflight"
	"github.com/podtrace/podtrace/postgres"
	"github.com/podtrace/podtrace/retention"
	"github.com/podtrace/podtrace/sqlite"
	"github.com/podtrace/podtrace/tlsconfig"
)

func (c Config) tlsFiles() tlsconfig.Files {
	return tlsconfig.Files{Cert: c.TLSCert, Key: c.TLSKey, ClientCA: c.ClientCA}
}

// validateSecurity checks the keys of this file.
func (c Config) validateSecurity() []error {
	var errs []error
	bad := func(key string, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if c.PostgresDSN != "" && !postgres.IsDSN(c.PostgresDSN) {
		bad("postgres_dsn", "want a postgres:// or postgresql:// URL")
	}
	if c.Retention < 0 {
		bad("retention", "must not be negative")
	}
	if c.IngestTokenFile != "" {
		if _, err := auth.LoadToken(c.IngestTokenFile); err != nil {
			bad("ingest_token_file", "%v", err)
		}
	}
	if c.MaxInflightBytes < c.MaxBodyBytes {
		bad("max_inflight_bytes", "%d: must be at least max_body_bytes (%d)", c.MaxInflightBytes, c.MaxBodyBytes)
	}
	if c.OTLPGRPCMaxMessageBytes < 1024 || c.OTLPGRPCMaxMessageBytes > c.MaxInflightBytes {
		bad("otlp_grpc_max_message_bytes", "%d: want from 1024 to max_inflight_bytes (%d)", c.OTLPGRPCMaxMessageBytes, c.MaxInflightBytes)
	}
	if c.ReadHeaderTimeout <= 0 {
		bad("read_header_timeout", "must be positive")
	}
	if c.ReadBodyTimeout <= 0 {
		bad("read_body_timeout", "must be positive")
	}
	if c.MinBodyRate < 1 {
		bad("min_body_rate", "%d: must be positive (bytes per second)", c.MinBodyRate)
	}
	if c.IdleTimeout <= 0 {
		bad("idle_timeout", "must be positive")
	}
	if c.MaxConnections < 1 {
		bad("max_connections", "%d: must be positive", c.MaxConnections)
	}
	if err := c.tlsFiles().Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.APITokenFile != "" {
		if _, err := auth.LoadToken(c.APITokenFile); err != nil {
			bad("api_token_file", "%v", err)
		}
	}
	if c.APIBasicAuthFile != "" {
		if _, err := auth.LoadUsers(c.APIBasicAuthFile); err != nil {
			bad("api_basic_auth_file", "%v", err)
		}
	}
	if c.DebugAddr != "" {
		if _, port, err := net.SplitHostPort(c.DebugAddr); err != nil {
			bad("debug_addr", "%v", err)
		} else if c.DebugAddr == c.HTTPAddr && port != "0" {
			bad("debug_addr", "must differ from http_addr: pprof never shares the main listener")
		}
	}
	if c.ReadOnly && c.AuditFile != "" {
		bad("audit_file", "read_only serves no ingest")
	}
	return errs
}

// storeName names the store for logs, without secrets.
func (c Config) storeName() string {
	if c.PostgresDSN != "" {
		return postgres.Redact(c.PostgresDSN)
	}
	return c.DB
}

// openStore opens the configured store.
func openStore(ctx context.Context, c Config) (podtrace.Store, error) {
	if c.PostgresDSN != "" {
		return postgres.Open(ctx, c.PostgresDSN, postgres.Options{})
	}
	return sqlite.Open(ctx, c.DB, sqlite.Options{Sync: c.Sync})
}

// sharedJournal says whether the pipeline reads the whole journal of its
// cluster: only PostgreSQL is shared by replicas.
func (c Config) sharedJournal() bool { return c.PostgresDSN != "" && c.SharedJournal }

// startRetention sweeps old rows until ctx ends.
func (s *Server) startRetention(ctx context.Context) {
	if s.cfg.Retention <= 0 || s.cfg.ReadOnly {
		return
	}
	rc := retention.DefaultConfig()
	rc.Cluster, rc.Keep = s.cfg.Cluster, s.cfg.Retention
	sw := retention.New(rc, s.store, s.log)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		sw.Run(ctx)
	}()
}

// security is what guards the listeners.
type security struct {
	tls         *tls.Config // nil: plain HTTP
	api         *auth.Guard
	ingestToken string // the receivers' bearer token, if any
	clientCA    bool
	readOnly    bool
	inflight    *inflight.Bound
	pace        inflight.Pace
	refused     *prometheus.CounterVec // by reason
	debugAddr   string
	log         *slog.Logger
}

func newSecurity(c Config, reg prometheus.Registerer, log *slog.Logger) (*security, error) {
	sec := &security{api: &auth.Guard{Realm: "podtrace"}, clientCA: c.ClientCA != "", readOnly: c.ReadOnly, debugAddr: c.DebugAddr, log: log,
		inflight: inflight.New(c.MaxInflightBytes), pace: inflight.Pace{Timeout: c.ReadBodyTimeout, MinRate: c.MinBodyRate}}
	if c.tlsFiles().Enabled() {
		t, err := tlsconfig.Server(c.tlsFiles())
		if err != nil {
			return nil, err
		}
		sec.tls = t
	}
	for _, t := range []struct {
		file string
		dst  *string
	}{{c.APITokenFile, &sec.api.Token}, {c.IngestTokenFile, &sec.ingestToken}} {
		if t.file == "" {
			continue
		}
		tok, err := auth.LoadToken(t.file)
		if err != nil {
			return nil, err
		}
		*t.dst = tok
	}
	if c.APIBasicAuthFile != "" {
		users, err := auth.LoadUsers(c.APIBasicAuthFile)
		if err != nil {
			return nil, err
		}
		sec.api.Users = users
	}
	sec.refused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "podtrace_http_refused_total",
		Help: "HTTP requests refused before their handler, by reason (api_unauthorized, client_cert, inflight_bytes, read_only).",
	}, []string{"reason"})
	for _, r := range []string{"api_unauthorized", "client_cert", "inflight_bytes", "read_only"} {
		sec.refused.WithLabelValues(r)
	}
	held := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "podtrace_inflight_bytes",
		Help: "Request bytes the webhook and OTLP receivers hold now, of max_inflight_bytes.",
	}, func() float64 { return float64(sec.inflight.Used()) })
	for _, c := range []prometheus.Collector{sec.refused, held} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
	}
	return sec, nil
}

// ingestPaths are the receivers: guarded by their own token, mTLS and the
// in-flight bound, not by the API's credentials. The receivers count the
// bytes they read against the bound; a webhook request is refused here at
// once while the bound is full (the OTLP receiver does so itself, to answer
// as OTLP says).
var ingestPaths = []string{"/audit", "/v1/traces"}

// healthPaths answer probes without credentials.
var healthPaths = []string{"/healthz", "/readyz"}

// guard puts every route of mux behind what protects it.
func (sec *security) guard(mux http.Handler) http.Handler {
	count := func(reason string) func() { c := sec.refused.WithLabelValues(reason); return c.Inc }
	bounded := refuseWhenFull(sec.inflight, mux, count("inflight_bytes"))
	ingest := http.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/audit" { // the OTLP receiver bounds itself
			bounded.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	if sec.clientCA {
		ingest = tlsconfig.RequireClientCert(ingest, count("client_cert"))
	}
	if sec.readOnly {
		ingest = auth.ReadOnly(ingest, count("read_only"))
	}
	api := sec.api.Handler(mux, count("api_unauthorized"))
	if sec.readOnly {
		api = auth.ReadOnly(api, count("read_only"))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case hasPath(ingestPaths, r.URL.Path):
			ingest.ServeHTTP(w, r)
		case hasPath(healthPaths, r.URL.Path):
			mux.ServeHTTP(w, r)
		default:
			api.ServeHTTP(w, r)
		}
	})
}

// hasPath reports whether p is one of paths, exactly: the routes are exact,
// and anything below them (/audit/x, /healthz/x) is the UI's, behind the
// API's credentials.
func hasPath(paths []string, p string) bool { return slices.Contains(paths, p) }

// refuseWhenFull answers 503 with Retry-After at once, before reading the
// body, while the in-flight bound is full.
func refuseWhenFull(b *inflight.Bound, next http.Handler, reject func()) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && b.Full() {
			reject()
			w.Header().Set("Retry-After", "1")
			http.Error(w, "podtrace is overloaded (request bytes in flight); retry", http.StatusServiceUnavailable)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// httpServer is an HTTP server of h with the configured timeouts.
func (c Config) httpServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: c.ReadHeaderTimeout, IdleTimeout: c.IdleTimeout}
}

// listen listens on addr, holding at most max_connections at once.
func (c Config) listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return netutil.LimitListener(ln, c.MaxConnections), nil
}

// serveHTTP serves srv on ln, over TLS when configured. Connection-level
// errors (failed handshakes: a client's fault) are logged at debug level.
// Each listener gets its own copy of the TLS configuration: net/http
// configures HTTP/2 by writing into the one it is given, and the listeners
// start at once.
func (sec *security) serveHTTP(srv *http.Server, ln net.Listener) error {
	if srv.ErrorLog == nil {
		srv.ErrorLog = slog.NewLogLogger(sec.log.Handler(), slog.LevelDebug)
	}
	if sec.tls != nil {
		srv.TLSConfig = sec.tls.Clone()
		return srv.ServeTLS(ln, "", "")
	}
	return srv.Serve(ln)
}

// startDebug serves pprof on its own listener, behind the API's
// credentials and TLS; never on the main mux.
func (s *Server) startDebug(sec *security) error {
	if sec.debugAddr == "" {
		return nil
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	ln, err := s.cfg.listen(sec.debugAddr)
	if err != nil {
		return fmt.Errorf("listen %s (debug): %w", sec.debugAddr, err)
	}
	s.debugLn = ln
	s.debug = s.cfg.httpServer(sec.api.Handler(mux, nil))
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := sec.serveHTTP(s.debug, ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			sec.log.Error("debug server", "err", err)
		}
	}()
	sec.log.Info("pprof serving", "addr", ln.Addr().String())
	return nil
}

// DebugAddr is the address the debug listener listens on, or "".
func (s *Server) DebugAddr() string {
	if s.debugLn == nil {
		return ""
	}
	return s.debugLn.Addr().String()
}
