// Package server wires podtrace serve together: the store, the ingest
// pipeline with its analyses, the sources (audit webhook, followed audit
// file) and the HTTP endpoints (/audit, /healthz, /readyz, /metrics).
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/podtrace/podtrace"
	"github.com/podtrace/podtrace/api"
	"github.com/podtrace/podtrace/auditfile"
	"github.com/podtrace/podtrace/deliverymetrics"
	"github.com/podtrace/podtrace/ingest"
	"github.com/podtrace/podtrace/lifecycle"
	"github.com/podtrace/podtrace/ui"
	"github.com/podtrace/podtrace/webhook"
)

// checker is a store that can tell, without writing, that it cannot keep
// what it is given (SQLite: its file deleted under it).
type checker interface{ Check() error }

// Server is a running podtrace.
type Server struct {
	cfg      Config
	log      *slog.Logger
	store    podtrace.Store
	pipeline *ingest.Pipeline
	webhook  *webhook.Handler
	registry *prometheus.Registry
	ln       net.Listener
	http     *http.Server
	follower *auditfile.Reader
	wg       sync.WaitGroup
	cancel   context.CancelFunc
	sec      *security    // TLS, credentials, bounds (scale.go)
	debug    *http.Server // pprof on debug_addr, if set
	debugLn  net.Listener
	spans    *spanSide // OTLP receivers, span joiner, forwarder, trace export (otlp.go)
}

// Start validates cfg, opens the store, recovers the pipeline and starts
// listening. Nothing listens before the configuration is valid.
func Start(ctx context.Context, cfg Config, log *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid configuration:\n%w", err)
	}
	s := &Server{cfg: cfg, log: log, registry: prometheus.NewRegistry()}
	var err error
	if s.sec, err = newSecurity(cfg, s.registry, log); err != nil {
		return nil, err
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	s.store = st
	if s.spans, err = newSpanSide(cfg, s.registry, log); err != nil {
		st.Close()
		return nil, err
	}
	pcfg := ingest.DefaultConfig()
	pcfg.Cluster = cfg.Cluster
	pcfg.QueueEvents = cfg.QueueEvents
	pcfg.FlushInterval = cfg.FlushInterval
	pcfg.Lifecycle.IdleAfter = cfg.IdleAfter
	pcfg.Lifecycle.MaxClockStep = cfg.MaxClockStep
	pcfg.Lifecycle.Wall, pcfg.Lifecycle.MaxClockSkew = time.Now, cfg.MaxClockSkew
	pcfg.SharedJournal = cfg.sharedJournal()
	analysis, err := NewAnalysis(cfg.Diagnosis, cfg.SLO)
	if err != nil {
		st.Close()
		return nil, err
	}
	delivered, err := deliverymetrics.New(s.registry, deliverymetrics.Config{Namespaces: cfg.MetricsNamespaces})
	if err != nil {
		st.Close()
		return nil, err
	}
	// replicas sharing the journal all close every record: the one that
	// claims it first reports it (see claimingStore)
	var pst podtrace.Store = st
	var claims *claimingStore
	if c, ok := st.(reportClaimer); ok && pcfg.SharedJournal {
		claims = newClaimingStore(st, c, log)
		pst = claims
	}
	onClose := func(p *lifecycle.Pod, r *podtrace.Record) {
		if claims != nil && !claims.reports(r) {
			return
		}
		s.spans.onClose(p, r)
		delivered.Observe(p, r)
	}
	s.pipeline = ingest.New(pcfg, pst, []ingest.Analyzer{analysis, s.spans.joiner}, onClose, log)
	if err := s.pipeline.Start(ctx); err != nil {
		st.Close()
		return nil, err
	}
	s.webhook = webhook.New(webhook.Options{MaxBytes: cfg.MaxBodyBytes, Token: s.sec.ingestToken,
		InFlight: s.sec.inflight, Pace: s.sec.pace, Now: time.Now}, s.pipeline, log)
	if err := s.registry.Register(newCollector(s.pipeline, s.webhook)); err != nil {
		s.pipeline.Close()
		st.Close()
		return nil, fmt.Errorf("metrics: %w", err)
	}

	if err := s.spans.start(ctx, s.pipeline, st, s.sec); err != nil {
		s.spans.stop(ctx)
		s.pipeline.Close()
		s.spans.flush(ctx)
		st.Close()
		return nil, err
	}
	ln, err := cfg.listen(cfg.HTTPAddr)
	if err != nil {
		s.spans.stop(ctx)
		s.pipeline.Close()
		s.spans.flush(ctx)
		st.Close()
		return nil, fmt.Errorf("listen %s: %w", cfg.HTTPAddr, err)
	}
	s.ln = ln
	s.http = cfg.httpServer(s.sec.guard(s.routes()))
	runCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.sec.serveHTTP(s.http, ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server", "err", err)
		}
	}()
	if cfg.AuditFile != "" {
		if err := s.follow(runCtx, cfg.AuditFile); err != nil {
			s.Close()
			return nil, err
		}
	}
	if err := s.startDebug(s.sec); err != nil {
		s.Close()
		return nil, err
	}
	s.startRetention(runCtx)
	log.Info("podtrace serving", "addr", ln.Addr().String(), "tls", s.sec.tls != nil, "store", cfg.storeName(), "cluster", cfg.Cluster, "read_only", cfg.ReadOnly)
	return s, nil
}

func (s *Server) follow(ctx context.Context, path string) error {
	name := auditfile.SourceName(path)
	off, err := s.store.Offset(ctx, name)
	if err != nil {
		return err
	}
	ino, err := s.store.Offset(ctx, name+"#inode")
	if err != nil {
		return err
	}
	s.follower = auditfile.NewReader(s.pipeline)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.follower.Follow(ctx, path, off, ino, s.cfg.AuditFilePoll); err != nil && !errors.Is(err, context.Canceled) {
			s.log.Error("follow audit file", "path", path, "err", err)
		}
	}()
	return nil
}

// Addr is the address the HTTP server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/audit", s.webhook)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		err := s.pipeline.Healthy()
		if c, ok := s.store.(checker); ok && err == nil {
			err = c.Check() // with nothing to write, the pipeline would not see it
		}
		if err != nil {
			http.Error(w, "store failing: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok\n"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{EnableOpenMetrics: true}))
	mux.Handle("/v1/traces", s.spans.receiver) // OTLP/HTTP, also on otlp_http_addr
	// the REST API, its OpenAPI document, the Jaeger-compatible query API
	apiHandler := api.New(s.store, api.Options{Log: s.log})
	mux.Handle("/api/", apiHandler)
	mux.Handle("GET /openapi.json", apiHandler)
	// the web UI, with its own routes answered by index.html
	mux.Handle("/", ui.Handler())
	return mux
}

// Close stops listening, lets in-flight requests finish, drains the
// pipeline (saving everything) and closes the store.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	herr := s.http.Shutdown(ctx)
	if s.debug != nil {
		herr = errors.Join(herr, s.debug.Shutdown(ctx))
	}
	s.cancel()
	s.wg.Wait()
	serr := s.spans.stop(ctx)
	perr := s.pipeline.Close()
	serr = errors.Join(serr, s.spans.flush(ctx))
	return errors.Join(herr, perr, serr, s.store.Close())
}
