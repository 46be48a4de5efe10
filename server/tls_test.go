package server

import (
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"testing"
)

// TestListenersOwnTLSConfig: the listeners start at once and net/http
// writes its HTTP/2 settings into the TLS configuration it serves with, so
// each must be handed its own copy, never the shared one (a data race that
// go test -race reports with Go 1.26).
func TestListenersOwnTLSConfig(t *testing.T) {
	shared := &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		return nil, errors.New("no handshake in this test")
	}}
	sec := &security{tls: shared, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	var srvs []*http.Server
	var wg sync.WaitGroup
	for range 3 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: http.NotFoundHandler()}
		srvs = append(srvs, srv)
		wg.Add(1)
		go func() {
			defer wg.Done()
			sec.serveHTTP(srv, ln)
		}()
	}
	for _, srv := range srvs {
		srv.Close() // Serve returns at once if it has not started yet
	}
	wg.Wait()
	for i, srv := range srvs {
		if srv.TLSConfig == shared {
			t.Errorf("listener %d serves with the shared TLS configuration", i)
		}
	}
	if len(shared.NextProtos) != 0 {
		t.Errorf("the shared TLS configuration was changed: NextProtos %q", shared.NextProtos)
	}
}
