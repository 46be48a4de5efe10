package otlp

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	statuspb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	_ "google.golang.org/grpc/encoding/gzip" // gzip-compressed gRPC requests, as OTLP exporters send them
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/tap"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/podtrace/podtrace/auth"
	"github.com/podtrace/podtrace/inflight"
)

// Options tune a Receiver.
type Options struct {
	// MaxBytes bounds an HTTP request body and, for compressed bodies, its
	// decompressed size (HTTP 413 beyond).
	MaxBytes int64
	// MaxMessageBytes bounds a gRPC Export message (ResourceExhausted
	// beyond). gRPC reads a whole message before its handler runs, so each
	// call holds this much of the in-flight bound from its headers until
	// its message is read: it is kept small (gRPC's default is 4 MiB).
	MaxMessageBytes int64
	// RetryAfter is how long an overloaded receiver asks clients to wait.
	RetryAfter time.Duration
	// Token, if set, is the bearer token clients must send: the HTTP
	// Authorization header, or the gRPC "authorization" metadata, "Bearer
	// TOKEN" (what an exporter's headers option sends). Without it: HTTP
	// 401, gRPC Unauthenticated; not retryable.
	Token string
	// InFlight, if set, bounds the request bytes held at once (it may be
	// shared with other receivers): HTTP bodies as they are read (after
	// decompression), gRPC calls by MaxMessageBytes from their headers on.
	// A request that does not fit is refused as overloaded, at once when
	// the bound is full: HTTP 503 with Retry-After, gRPC Unavailable with
	// RetryInfo.
	InFlight *inflight.Bound
	// Pace, if its MinRate is set, is the slowest an HTTP body may arrive
	// (408 behind it); a gRPC call must have sent its message within the
	// pace of MaxMessageBytes (DeadlineExceeded).
	Pace inflight.Pace
	// Now is the clock of the pace (time.Now if nil).
	Now func() time.Time
	// ClientCert makes gRPC calls without a client certificate verified by
	// the server's TLS configuration fail with Unauthenticated. (Over HTTP
	// the listener's handler checks it before the receiver.)
	ClientCert bool
}

// DefaultOptions returns the defaults.
func DefaultOptions() Options {
	return Options{MaxBytes: 32 << 20, MaxMessageBytes: 4 << 20, RetryAfter: time.Second}
}

// Transports, for Stats.
const (
	TransportHTTP = iota
	TransportGRPC
	numTransports
)

// failure is why a request was refused; failures holds what each one means.
type failure int

const (
	failMalformed failure = iota
	failTooLarge
	failUnsupportedMedia
	failMethod
	failOverloaded
	failUnavailable
	failUnauthorized
	failClientCert
	failSlowBody
	numFailures
)

var failures = [numFailures]struct {
	name  string
	http  int
	grpc  codes.Code
	retry bool
}{
	failMalformed:        {"malformed", http.StatusBadRequest, codes.InvalidArgument, false},
	failTooLarge:         {"too_large", http.StatusRequestEntityTooLarge, codes.ResourceExhausted, false},
	failUnsupportedMedia: {"unsupported_media", http.StatusUnsupportedMediaType, codes.InvalidArgument, false},
	failMethod:           {"method", http.StatusMethodNotAllowed, codes.Unimplemented, false},
	failOverloaded:       {"overloaded", http.StatusServiceUnavailable, codes.Unavailable, true},
	failUnavailable:      {"unavailable", http.StatusServiceUnavailable, codes.Unavailable, true},
	failUnauthorized:     {"unauthorized", http.StatusUnauthorized, codes.Unauthenticated, false},
	failClientCert:       {"client_cert", http.StatusUnauthorized, codes.Unauthenticated, false},
	failSlowBody:         {"slow_body", http.StatusRequestTimeout, codes.DeadlineExceeded, false},
}

// failureOf maps an error to its failure: the one place where errors become
// OTLP responses.
func failureOf(err error) failure {
	switch {
	case errors.Is(err, ErrMalformed):
		return failMalformed
	case errors.Is(err, ErrTooLarge):
		return failTooLarge
	case errors.Is(err, ErrUnsupportedMedia):
		return failUnsupportedMedia
	case errors.Is(err, ErrOverloaded), errors.Is(err, inflight.ErrFull):
		return failOverloaded
	case errors.Is(err, os.ErrDeadlineExceeded):
		return failSlowBody
	case errors.Is(err, errUnauthorized):
		return failUnauthorized
	case errors.Is(err, errClientCert):
		return failClientCert
	}
	return failUnavailable
}

var (
	errUnauthorized = errors.New("missing or invalid bearer token")
	errClientCert   = errors.New("a client certificate signed by the configured client CA is required")
	errFull         = fmt.Errorf("%w: too many request bytes in flight", ErrOverloaded)
	errSlowBody     = fmt.Errorf("the body arrived slower than the minimum rate: %w", os.ErrDeadlineExceeded)
)

// message is what a client is told: its own data's faults in full, ours in
// general terms (the details are logged).
func (f failure) message(err error) string {
	if f == failUnavailable {
		return "temporarily unavailable, retry later"
	}
	return err.Error()
}

// Stats are a Receiver's counters.
type Stats struct {
	Requests [numTransports]atomic.Int64
	Bytes    atomic.Int64 // request bytes decoded (decompressed)
	Spans    atomic.Int64 // spans accepted
	Rejected atomic.Int64 // spans left out for invalid ids (partial success)
	Failures [numFailures]atomic.Int64
}

// FailureCounts returns the refused requests by reason.
func (s *Stats) FailureCounts() map[string]int64 {
	out := make(map[string]int64, numFailures)
	for i := range s.Failures {
		out[failures[i].name] = s.Failures[i].Load()
	}
	return out
}

// Receiver receives OTLP trace requests over HTTP (it is the handler of
// POST /v1/traces) and gRPC (GRPCServer) and hands their spans to a Consumer.
type Receiver struct {
	opts     Options
	next     Consumer
	forward  *Forwarder
	log      *slog.Logger
	decoders sync.Pool
	Stats    Stats
}

// NewReceiver returns a receiver handing spans to next and, if forward is
// not nil, every accepted request to forward.
func NewReceiver(opts Options, next Consumer, forward *Forwarder, log *slog.Logger) *Receiver {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	r := &Receiver{opts: opts, next: next, forward: forward, log: log}
	r.decoders.New = func() any { return new(Decoder) }
	return r
}

// export decodes a protobuf request, hands its spans on and forwards it.
func (r *Receiver) export(ctx context.Context, pb []byte) (rejected int, err error) {
	r.Stats.Bytes.Add(int64(len(pb)))
	d := r.decoders.Get().(*Decoder)
	defer r.decoders.Put(d)
	spans, rejected, err := d.Decode(pb)
	if err != nil {
		return 0, err
	}
	if err := r.next.ConsumeSpans(ctx, spans); err != nil {
		return 0, err
	}
	r.Stats.Spans.Add(int64(len(spans)))
	r.Stats.Rejected.Add(int64(rejected))
	if r.forward != nil {
		r.forward.Forward(pb)
	}
	return rejected, nil
}

func (r *Receiver) refuse(err error) failure {
	f := failureOf(err)
	r.Stats.Failures[f].Add(1)
	if f == failUnavailable {
		r.log.Warn("otlp: consumer failed", "err", err)
	}
	return f
}

func response(rejected int) *coltracepb.ExportTraceServiceResponse {
	resp := &coltracepb.ExportTraceServiceResponse{}
	if rejected > 0 {
		resp.PartialSuccess = &coltracepb.ExportTracePartialSuccess{
			RejectedSpans: int64(rejected),
			ErrorMessage:  "spans with invalid trace or span ids were dropped",
		}
	}
	return resp
}

// retryAfterSeconds rounds RetryAfter up to whole seconds, at least 1.
func (r *Receiver) retryAfterSeconds() int {
	return max(1, int(math.Ceil(r.opts.RetryAfter.Seconds())))
}

const (
	mediaProtobuf = "application/x-protobuf"
	mediaJSON     = "application/json"
)

// ServeHTTP serves POST /v1/traces as OTLP/HTTP specifies.
func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.Stats.Requests[TransportHTTP].Add(1)
	media, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type"))
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		r.Stats.Failures[failMethod].Add(1)
		r.writeStatus(w, media, failMethod, "method "+req.Method+" not allowed, use POST")
		return
	}
	if r.opts.Token != "" && !auth.Bearer(req.Header.Get("Authorization"), r.opts.Token) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="podtrace"`)
		r.writeStatus(w, media, r.refuse(errUnauthorized), errUnauthorized.Error())
		return
	}
	if media != mediaProtobuf && media != mediaJSON {
		err := fmt.Errorf("%w: Content-Type %q, want %s or %s", ErrUnsupportedMedia, req.Header.Get("Content-Type"), mediaProtobuf, mediaJSON)
		r.writeStatus(w, "", r.refuse(err), err.Error())
		return
	}
	if r.opts.InFlight != nil && r.opts.InFlight.Full() {
		r.writeStatus(w, media, r.refuse(errFull), errFull.Error())
		return
	}
	body, held, err := r.readBody(w, req)
	defer held.Release()
	if err == nil && media == mediaJSON {
		body, err = JSONToProto(body)
	}
	var rejected int
	if err == nil {
		rejected, err = r.export(req.Context(), body)
	}
	if err != nil {
		f := r.refuse(err)
		r.writeStatus(w, media, f, f.message(err))
		return
	}
	r.write(w, media, http.StatusOK, response(rejected))
}

// readBody reads the body, decompressing gzip, within MaxBytes, its pace and
// the in-flight bound; the caller releases what it holds once the spans
// are handed on.
func (r *Receiver) readBody(w http.ResponseWriter, req *http.Request) ([]byte, *inflight.Reader, error) {
	rc := http.NewResponseController(w)
	wire := inflight.NewReader(http.MaxBytesReader(w, req.Body, r.opts.MaxBytes), nil, r.opts.Pace, r.opts.Now(), rc.SetReadDeadline)
	defer wire.Release()
	var src io.Reader = wire
	switch enc := req.Header.Get("Content-Encoding"); enc {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(src)
		if err != nil {
			return nil, nil, readError(err, fmt.Errorf("%w: gzip: %w", ErrMalformed, err))
		}
		defer zr.Close()
		src = zr
	default:
		return nil, nil, fmt.Errorf("%w: Content-Encoding %q, want gzip or none", ErrUnsupportedMedia, enc)
	}
	held := inflight.NewReader(src, r.opts.InFlight, inflight.Pace{}, time.Time{}, nil)
	// the buffer grows with what arrived, never ahead to the declared
	// length; one byte more than allowed tells a decompressed body that is
	// too large
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(held, r.opts.MaxBytes+1))
	if err != nil {
		return nil, held, readError(err, fmt.Errorf("%w: reading body: %w", ErrMalformed, err))
	}
	if n > r.opts.MaxBytes {
		return nil, held, fmt.Errorf("%w: more than %d bytes decompressed", ErrTooLarge, r.opts.MaxBytes)
	}
	return buf.Bytes(), held, nil
}

// readError tells a body too large, over the in-flight bound or behind its
// pace from other read errors.
func readError(err, other error) error {
	var mb *http.MaxBytesError
	switch {
	case errors.As(err, &mb):
		return fmt.Errorf("%w: body over %d bytes", ErrTooLarge, mb.Limit)
	case errors.Is(err, inflight.ErrFull):
		return errFull
	case errors.Is(err, os.ErrDeadlineExceeded):
		return errSlowBody
	}
	return other
}

// writeStatus answers a refused request with a google.rpc.Status body, in the
// request's encoding.
func (r *Receiver) writeStatus(w http.ResponseWriter, media string, f failure, msg string) {
	if failures[f].retry {
		w.Header().Set("Retry-After", strconv.Itoa(r.retryAfterSeconds()))
	}
	r.write(w, media, failures[f].http, &statuspb.Status{Code: int32(failures[f].grpc), Message: msg})
}

func (r *Receiver) write(w http.ResponseWriter, media string, code int, m proto.Message) {
	var body []byte
	var err error
	if media == mediaJSON {
		body, err = responseJSON(m)
	} else {
		media = mediaProtobuf
		body, err = proto.Marshal(m)
	}
	if err != nil { // cannot happen with these messages; answer without a body
		r.log.Error("otlp: encode response", "err", err)
		w.WriteHeader(code)
		return
	}
	w.Header().Set("Content-Type", media)
	w.WriteHeader(code)
	w.Write(body)
}

// gRPC: the TraceService is registered by hand so its request reaches the
// decoder as raw bytes (rawMessage through codec) instead of being decoded
// into generated structs first.

const exportMethod = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"

var traceServiceDesc = grpc.ServiceDesc{
	ServiceName: "opentelemetry.proto.collector.trace.v1.TraceService",
	HandlerType: (*any)(nil),
	Methods:     []grpc.MethodDesc{{MethodName: "Export", Handler: grpcExport}},
	Metadata:    "opentelemetry/proto/collector/trace/v1/trace_service.proto",
}

// GRPCServer returns a gRPC server serving the OTLP TraceService with this
// receiver, with opts added. Calls are authenticated and admitted to the
// in-flight bound from their headers (tap), before gRPC reads a byte of
// their message.
func (r *Receiver) GRPCServer(opts ...grpc.ServerOption) *grpc.Server {
	base := []grpc.ServerOption{grpc.ForceServerCodecV2(codec{}), grpc.MaxRecvMsgSize(int(min(r.opts.MaxMessageBytes, math.MaxInt32))),
		grpc.InTapHandle(r.tap)}
	s := grpc.NewServer(append(base, opts...)...)
	s.RegisterService(&traceServiceDesc, r)
	return s
}

// callHold is what an Export call holds of the in-flight bound.
type callHold struct {
	b    *inflight.Bound
	mu   sync.Mutex
	held int64
}

// keep shrinks the hold to n bytes (the message read).
func (h *callHold) keep(n int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if n < h.held {
		h.b.Release(h.held - n)
		h.held = n
	}
}

type callHoldKey struct{}

// tap runs on an Export call's headers, before its message is read: it
// checks the client certificate and token, reserves MaxMessageBytes of the
// in-flight bound until the call ends (gRPC allocates the message's
// declared length as soon as it reads its prefix) and sets the deadline by
// which the message must have arrived. A refusal costs the server nothing
// of the message.
func (r *Receiver) tap(ctx context.Context, info *tap.Info) (context.Context, error) {
	if info.FullMethodName != exportMethod {
		return ctx, nil // gRPC answers Unimplemented
	}
	r.Stats.Requests[TransportGRPC].Add(1)
	if err := r.grpcAllowed(ctx); err != nil {
		return nil, r.grpcError(r.refuse(err), err)
	}
	var cancel context.CancelFunc = func() {}
	if r.opts.Pace.MinRate > 0 {
		ctx, cancel = context.WithDeadline(ctx, r.opts.Pace.Deadline(r.opts.Now(), r.opts.MaxMessageBytes))
	}
	if r.opts.InFlight == nil {
		context.AfterFunc(ctx, cancel)
		return ctx, nil
	}
	if !r.opts.InFlight.Acquire(r.opts.MaxMessageBytes) {
		cancel()
		return nil, r.grpcError(r.refuse(errFull), errFull)
	}
	h := &callHold{b: r.opts.InFlight, held: r.opts.MaxMessageBytes}
	// the call's context ends with the call, however it ends
	context.AfterFunc(ctx, func() { h.keep(0); cancel() })
	return context.WithValue(ctx, callHoldKey{}, h), nil
}

func grpcExport(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
	r := srv.(*Receiver)
	var m rawMessage
	if err := dec(&m); err != nil {
		return nil, err
	}
	// the message is read: the call holds its size until it returns
	if h, ok := ctx.Value(callHoldKey{}).(*callHold); ok {
		h.keep(int64(len(m)))
		defer h.keep(0)
	}
	handle := func(ctx context.Context, req any) (any, error) {
		rejected, err := r.export(ctx, *req.(*rawMessage))
		if err != nil {
			return nil, r.grpcError(r.refuse(err), err)
		}
		return response(rejected), nil
	}
	if interceptor == nil {
		return handle(ctx, &m)
	}
	return interceptor(ctx, &m, &grpc.UnaryServerInfo{Server: srv, FullMethod: exportMethod}, handle)
}

// grpcAllowed checks a call's client certificate and bearer token.
func (r *Receiver) grpcAllowed(ctx context.Context) error {
	if r.opts.ClientCert {
		p, ok := peer.FromContext(ctx)
		if !ok {
			return errClientCert
		}
		if ti, ok := p.AuthInfo.(credentials.TLSInfo); !ok || len(ti.State.VerifiedChains) == 0 {
			return errClientCert
		}
	}
	if r.opts.Token != "" {
		md, _ := metadata.FromIncomingContext(ctx)
		for _, v := range md.Get("authorization") {
			if auth.Bearer(v, r.opts.Token) {
				return nil
			}
		}
		return errUnauthorized
	}
	return nil
}

func (r *Receiver) grpcError(f failure, err error) error {
	st := status.New(failures[f].grpc, f.message(err))
	if failures[f].retry {
		if d, derr := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(r.opts.RetryAfter)}); derr == nil {
			st = d
		}
	}
	return st.Err()
}
