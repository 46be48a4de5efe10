package registry

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

const (
	// PrivatePrefix starts the names of repositories that need basic auth.
	PrivatePrefix = "private/"
	// SlowPrefix starts the names of repositories whose blobs are sent
	// over Options.SlowPull.
	SlowPrefix = "slow/"
	// Realm is the realm of the basic auth challenge.
	Realm = "podtrace-e2e"

	// slowTick is how often a slow blob sends its next chunk: far below any
	// puller's progress timeout.
	slowTick = 100 * time.Millisecond
)

// Options configure a registry. The zero value serves every repository
// anonymously and at full speed.
type Options struct {
	// User and Password are the basic auth credentials that repositories
	// under PrivatePrefix require.
	User, Password string
	// SlowPull is how long each blob of a repository under SlowPrefix takes
	// to send, its bytes spread evenly over it.
	SlowPull time.Duration
}

// Registry is a running registry. Its fields are read-only.
type Registry struct {
	// Host is "127.0.0.1:PORT", the registry part of its image references.
	Host string

	opts      Options
	srv       *http.Server
	closeOnce sync.Once
}

// Start serves a registry, in memory, on a free 127.0.0.1 port until Close
// or the end of the test.
func Start(t testing.TB, opts Options) *Registry {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("registry: listen: %v", err)
	}
	r := &Registry{Host: l.Addr().String(), opts: opts}
	// The handler logs every request; pulls are many and a failing test
	// shows the puller's side, which says more.
	inner := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	r.srv = &http.Server{Handler: r.wrap(inner), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := r.srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("registry: serve: %v", err)
		}
	}()
	t.Cleanup(r.Close)
	return r
}

// Close stops the registry, cutting off pulls in progress. It may be called
// more than once.
func (r *Registry) Close() {
	r.closeOnce.Do(func() { r.srv.Close() })
}

// wrap adds the private and slow repositories' behaviour to the registry
// handler. Repository names come first in every /v2/ path, so a prefix of
// the path names them.
func (r *Registry) wrap(inner http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		path := strings.TrimPrefix(req.URL.Path, "/v2/")
		if strings.HasPrefix(path, PrivatePrefix) && !r.authorized(req) {
			w.Header().Set("WWW-Authenticate", fmt.Sprintf("Basic realm=%q", Realm))
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
			return
		}
		if strings.HasPrefix(path, SlowPrefix) && strings.Contains(path, "/blobs/sha256:") && req.Method == http.MethodGet {
			r.serveSlowly(inner, w, req)
			return
		}
		inner.ServeHTTP(w, req)
	})
}

func (r *Registry) authorized(req *http.Request) bool {
	user, password, ok := req.BasicAuth()
	// An unset User must not let an empty Authorization header in.
	return ok && r.opts.User != "" &&
		subtle.ConstantTimeCompare([]byte(user), []byte(r.opts.User)) == 1 &&
		subtle.ConstantTimeCompare([]byte(password), []byte(r.opts.Password)) == 1
}

// serveSlowly answers from a recording of the inner handler's response: the
// headers at once, then the body in chunks due at even steps of SlowPull, the
// last one at SlowPull. Blobs are small, so holding one in memory is fine.
func (r *Registry) serveSlowly(inner http.Handler, w http.ResponseWriter, req *http.Request) {
	rec := httptest.NewRecorder()
	inner.ServeHTTP(rec, req)
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	body := rec.Body.Bytes()
	rc := http.NewResponseController(w)
	rc.Flush()
	steps := int(r.opts.SlowPull / slowTick)
	steps = max(1, min(steps, len(body)))
	start := time.Now()
	sent := 0
	for i := 1; i <= steps; i++ {
		due := start.Add(r.opts.SlowPull * time.Duration(i) / time.Duration(steps))
		timer := time.NewTimer(time.Until(due))
		select {
		case <-req.Context().Done():
			timer.Stop()
			return
		case <-timer.C:
		}
		end := len(body) * i / steps
		if _, err := w.Write(body[sent:end]); err != nil {
			return
		}
		rc.Flush()
		sent = end
	}
}

// Push pushes img as r.Host/repo:tag, with the credentials when repo is
// private, and returns that reference.
func (r *Registry) Push(ctx context.Context, repo, tag string, img v1.Image) (string, error) {
	ref, err := name.NewTag(r.Host+"/"+repo+":"+tag, name.Insecure)
	if err != nil {
		return "", fmt.Errorf("push %s:%s: %w", repo, tag, err)
	}
	auth := authn.Anonymous
	if strings.HasPrefix(repo, PrivatePrefix) {
		auth = &authn.Basic{Username: r.opts.User, Password: r.opts.Password}
	}
	if err := remote.Write(ref, img, remote.WithContext(ctx), remote.WithAuth(auth)); err != nil {
		return "", fmt.Errorf("push %s: %w", ref, err)
	}
	return ref.String(), nil
}

// ClosedHost returns "127.0.0.1:PORT" of a port where nothing listens, for a
// registry that is down. The port stays bound (but not listening) until the
// end of the test, so connecting is refused and nothing else can take it.
func ClosedHost(t testing.TB) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("closed host: socket: %v", err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatalf("closed host: bind: %v", err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatalf("closed host: getsockname: %v", err)
	}
	addr, ok := sa.(*syscall.SockaddrInet4)
	if !ok {
		t.Fatalf("closed host: bound to %T", sa)
	}
	return fmt.Sprintf("127.0.0.1:%d", addr.Port)
}
