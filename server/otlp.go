package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"

	"github.com/podtrace/podtrace"
	"github.com/podtrace/podtrace/correlate"
	"github.com/podtrace/podtrace/ingest"
	"github.com/podtrace/podtrace/lifecycle"
	"github.com/podtrace/podtrace/otlp"
	"github.com/podtrace/podtrace/traceexport"
)

// validateOTLP checks the OTLP keys.
func (c Config) validateOTLP() []error {
	var errs []error
	bad := func(key string, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	for key, addr := range map[string]string{"otlp_grpc_addr": c.OTLPGRPCAddr, "otlp_http_addr": c.OTLPHTTPAddr} {
		if addr == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			bad(key, "%v", err)
		}
	}
	for key, ep := range map[string]string{"otlp_forward": c.OTLPForward, "otlp_export": c.OTLPExport} {
		if ep == "" {
			continue
		}
		if _, _, _, err := otlp.ParseEndpoint(ep); err != nil {
			bad(key, "%v", err)
		}
	}
	if c.OTLPForwardSampling <= 0 || c.OTLPForwardSampling > 1 {
		bad("otlp_forward_sampling", "%v: want a fraction in (0, 1]", c.OTLPForwardSampling)
	}
	if c.OTLPExportDelay < 0 {
		bad("otlp_export_delay", "must not be negative")
	}
	if c.MaxSpansPerPod < 1 {
		bad("max_spans_per_pod", "%d: must be positive", c.MaxSpansPerPod)
	}
	return errs
}

// spanSide is podtrace serve's OpenTelemetry side: the OTLP receivers, the
// joiner of component spans (an analyzer of the pipeline), the forwarder
// and the delivery trace exporter.
type spanSide struct {
	cfg      Config
	log      *slog.Logger
	reg      prometheus.Registerer
	joiner   *correlate.Joiner
	receiver *otlp.Receiver
	forward  *otlp.Forwarder
	export   atomic.Pointer[traceexport.Exporter]
	grpc     *grpc.Server
	grpcLn   net.Listener
	http     *http.Server
	httpLn   net.Listener
	wg       sync.WaitGroup
}

// newSpanSide builds the joiner; nothing runs yet.
func newSpanSide(cfg Config, reg prometheus.Registerer, log *slog.Logger) (*spanSide, error) {
	jc := correlate.DefaultConfig()
	jc.Cluster = cfg.Cluster
	jc.MaxSpansPerPod = cfg.MaxSpansPerPod
	j, err := correlate.New(jc, reg, log)
	if err != nil {
		return nil, err
	}
	return &spanSide{cfg: cfg, log: log, reg: reg, joiner: j}, nil
}

// onClose exports a closed delivery once the exporter runs. Deliveries
// closing while the journal is replayed at start (before it runs) are not
// exported again.
func (o *spanSide) onClose(_ *lifecycle.Pod, r *podtrace.Record) {
	if e := o.export.Load(); e != nil {
		e.OnClose(r)
	}
}

// start starts joining spans on p, the forwarder, the exporter and the OTLP
// listeners (none when read-only). The receiver it builds also serves
// POST /v1/traces on http_addr.
func (o *spanSide) start(ctx context.Context, p *ingest.Pipeline, st podtrace.Store, sec *security) error {
	o.joiner.Start(p)
	if o.cfg.OTLPForward != "" {
		fc := otlp.DefaultForwardConfig()
		fc.URL, fc.Sampling = o.cfg.OTLPForward, o.cfg.OTLPForwardSampling
		f, err := otlp.NewForwarder(fc, o.log)
		if err != nil {
			return err
		}
		o.forward = f
	}
	if o.cfg.OTLPExport != "" {
		ec := traceexport.DefaultConfig()
		ec.Endpoint, ec.Delay = o.cfg.OTLPExport, o.cfg.OTLPExportDelay
		e, err := traceexport.New(ctx, ec, refresher(st), o.reg, o.log)
		if err != nil {
			return err
		}
		o.export.Store(e)
	}
	ro := otlp.DefaultOptions()
	ro.MaxBytes, ro.MaxMessageBytes = o.cfg.MaxBodyBytes, o.cfg.OTLPGRPCMaxMessageBytes
	ro.Token, ro.InFlight, ro.ClientCert = sec.ingestToken, sec.inflight, sec.clientCA
	ro.Pace, ro.Now = sec.pace, time.Now
	o.receiver = otlp.NewReceiver(ro, o.joiner, o.forward, o.log)
	if err := o.reg.Register(otlp.NewCollector(o.receiver, o.forward)); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	if o.cfg.ReadOnly {
		return nil
	}
	if addr := o.cfg.OTLPGRPCAddr; addr != "" {
		ln, err := o.cfg.listen(addr)
		if err != nil {
			return fmt.Errorf("listen otlp_grpc_addr %s: %w", addr, err)
		}
		o.grpcLn = ln
		opts := []grpc.ServerOption{grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionIdle: o.cfg.IdleTimeout})}
		if sec.tls != nil {
			opts = append(opts, grpc.Creds(credentials.NewTLS(sec.tls)))
		}
		o.grpc = o.receiver.GRPCServer(opts...)
		o.wg.Add(1)
		go func() {
			defer o.wg.Done()
			if err := o.grpc.Serve(ln); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
				o.log.Error("otlp grpc server", "err", err)
			}
		}()
	}
	if addr := o.cfg.OTLPHTTPAddr; addr != "" {
		ln, err := o.cfg.listen(addr)
		if err != nil {
			return fmt.Errorf("listen otlp_http_addr %s: %w", addr, err)
		}
		o.httpLn = ln
		mux := http.NewServeMux()
		mux.Handle("/v1/traces", o.receiver)
		o.http = o.cfg.httpServer(sec.guard(mux))
		o.wg.Add(1)
		go func() {
			defer o.wg.Done()
			if err := sec.serveHTTP(o.http, ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				o.log.Error("otlp http server", "err", err)
			}
		}()
	}
	o.log.Info("receiving OTLP traces", "grpc", addrOf(o.grpcLn), "http", addrOf(o.httpLn),
		"forward", o.cfg.OTLPForward, "export", o.cfg.OTLPExport)
	return nil
}

func addrOf(ln net.Listener) string {
	if ln == nil {
		return ""
	}
	return ln.Addr().String()
}

// refresher reads a closed delivery's record again for the exporter.
func refresher(st podtrace.Store) traceexport.Refresher {
	return func(ctx context.Context, k podtrace.Key) (*podtrace.Record, error) {
		recs, _, err := st.Records(ctx, podtrace.RecordFilter{Cluster: k.Cluster, UID: k.UID, Kind: k.Kind, Limit: 1000})
		if err != nil {
			return nil, err
		}
		for i := range recs {
			if recs[i].Seq == k.Seq {
				return &recs[i], nil
			}
		}
		return nil, nil
	}
}

// stop stops receiving and joins what was received; before the pipeline
// closes.
func (o *spanSide) stop(ctx context.Context) error {
	var err error
	if o.http != nil {
		err = o.http.Shutdown(ctx)
	}
	if o.grpc != nil {
		done := make(chan struct{})
		go func() { o.grpc.GracefulStop(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			o.grpc.Stop()
		}
	}
	o.wg.Wait()
	o.joiner.Close()
	return err
}

// flush exports and forwards what is queued; after the pipeline closed.
func (o *spanSide) flush(ctx context.Context) error {
	var err error
	if e := o.export.Load(); e != nil {
		err = e.Close(ctx)
	}
	if o.forward != nil {
		err = errors.Join(err, o.forward.Close(ctx))
	}
	return err
}

// OTLPGRPCAddr is the address the OTLP gRPC receiver listens on, or "".
func (s *Server) OTLPGRPCAddr() string { return addrOf(s.spans.grpcLn) }

// OTLPHTTPAddr is the address the OTLP HTTP receiver listens on, or "".
func (s *Server) OTLPHTTPAddr() string { return addrOf(s.spans.httpLn) }
