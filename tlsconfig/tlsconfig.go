// Package tlsconfig builds the TLS configuration of podtrace's listeners:
// a server certificate re-read from disk when its files change (so a
// rotated certificate is served without a restart), TLS 1.2 at least, and,
// with a client CA, mutual TLS: client certificates signed by that CA are
// verified, and RequireClientCert refuses requests without one.
package tlsconfig

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync"
	"time"
)

// Files name the PEM files of a listener's TLS setup.
type Files struct {
	Cert, Key string // server certificate chain and key
	ClientCA  string // CA bundle client certificates must chain to (mTLS); optional
}

// Enabled reports whether TLS is configured.
func (f Files) Enabled() bool { return f.Cert != "" || f.Key != "" }

// Validate reports what is wrong with the files, each with its key.
func (f Files) Validate() error {
	var errs []error
	if (f.Cert == "") != (f.Key == "") {
		errs = append(errs, errors.New("tls_cert, tls_key: set both or neither"))
	}
	if f.ClientCA != "" && !f.Enabled() {
		errs = append(errs, errors.New("client_ca: needs tls_cert and tls_key (mTLS is TLS)"))
	}
	for _, c := range []struct{ key, path string }{{"tls_cert", f.Cert}, {"tls_key", f.Key}, {"client_ca", f.ClientCA}} {
		if c.path == "" {
			continue
		}
		if _, err := os.Stat(c.path); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", c.key, err))
		}
	}
	if len(errs) == 0 && f.Enabled() {
		if _, err := tls.LoadX509KeyPair(f.Cert, f.Key); err != nil {
			errs = append(errs, fmt.Errorf("tls_cert, tls_key: %w", err))
		}
		if f.ClientCA != "" {
			if _, err := loadPool(f.ClientCA); err != nil {
				errs = append(errs, fmt.Errorf("client_ca: %w", err))
			}
		}
	}
	return errors.Join(errs...)
}

func loadPool(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s: no PEM certificates", path)
	}
	return pool, nil
}

// Server returns the server side TLS configuration. With a client CA,
// client certificates are asked for and verified when given
// (VerifyClientCertIfGiven): endpoints that must have one are wrapped in
// RequireClientCert, so a browser without a certificate still reaches the
// UI behind its own authentication.
func Server(f Files) (*tls.Config, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	kp := &keyPair{cert: f.Cert, key: f.Key, every: recheck}
	if _, err := kp.get(); err != nil {
		return nil, err
	}
	cfg := &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return kp.get() },
	}
	if f.ClientCA != "" {
		pool, err := loadPool(f.ClientCA)
		if err != nil {
			return nil, fmt.Errorf("client_ca: %w", err)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return cfg, nil
}

// keyPair serves a certificate, loading it again when its files change.
type keyPair struct {
	cert, key string
	every     time.Duration // how often the files' times are looked at
	mu        sync.Mutex
	loaded    *tls.Certificate
	mtimes    [2]time.Time
	checked   time.Time
}

// recheck is how often a served certificate's files are looked at.
const recheck = 10 * time.Second

func (k *keyPair) get() (*tls.Certificate, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	now := time.Now()
	if k.loaded != nil && now.Sub(k.checked) < k.every {
		return k.loaded, nil
	}
	k.checked = now
	var mt [2]time.Time
	for i, p := range []string{k.cert, k.key} {
		fi, err := os.Stat(p)
		if err != nil {
			if k.loaded != nil {
				return k.loaded, nil // mid-rotation: keep serving the old one
			}
			return nil, fmt.Errorf("tls: %w", err)
		}
		mt[i] = fi.ModTime()
	}
	if k.loaded != nil && mt == k.mtimes {
		return k.loaded, nil
	}
	c, err := tls.LoadX509KeyPair(k.cert, k.key)
	if err != nil {
		if k.loaded != nil {
			return k.loaded, nil // a half-written pair: the next check retries
		}
		return nil, fmt.Errorf("tls: %w", err)
	}
	k.loaded, k.mtimes = &c, mt
	return k.loaded, nil
}

// RequireClientCert wraps next: requests that did not present a client
// certificate verified against the client CA get 401, counted by reject
// (may be nil). Without TLS (r.TLS nil) nothing passes.
func RequireClientCert(next http.Handler, reject func()) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
			if reject != nil {
				reject()
			}
			http.Error(w, "a client certificate signed by the configured client CA is required", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}
