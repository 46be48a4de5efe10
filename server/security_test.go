package server_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/podtrace/podtrace/server"
)

// pki is a CA with a server certificate for 127.0.0.1 and a client
// certificate, written as PEM files.
type pki struct {
	dir                       string
	caFile, certFile, keyFile string
	clientCertFile, clientKey string // the client certificate, as PEM files
	roots                     *x509.CertPool
	client                    tls.Certificate
	otherClient               tls.Certificate // signed by another CA
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	p := &pki{dir: t.TempDir()}
	ca, caKey := newCert(t, "podtrace test CA", nil, nil, true)
	srv, srvKey := newCert(t, "podtrace", ca, caKey, false)
	cli, cliKey := newCert(t, "apiserver", ca, caKey, false)
	other, otherKey := newCert(t, "other CA", nil, nil, true)
	stranger, strangerKey := newCert(t, "apiserver", other, otherKey, false)
	write := func(name string, blocks ...*pem.Block) string {
		var b bytes.Buffer
		for _, bl := range blocks {
			pem.Encode(&b, bl)
		}
		path := filepath.Join(p.dir, name)
		if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	p.caFile = write("ca.pem", certPEM(ca))
	p.certFile = write("server.pem", certPEM(srv))
	p.keyFile = write("server-key.pem", keyPEM(t, srvKey))
	p.clientCertFile = write("client.pem", certPEM(cli))
	p.clientKey = write("client-key.pem", keyPEM(t, cliKey))
	p.roots = x509.NewCertPool()
	p.roots.AddCert(ca)
	p.client = tls.Certificate{Certificate: [][]byte{cli.Raw}, PrivateKey: cliKey}
	p.otherClient = tls.Certificate{Certificate: [][]byte{stranger.Raw}, PrivateKey: strangerKey}
	return p
}

func newCert(t *testing.T, cn string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, isCA bool) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		IsCA:         isCA, BasicConstraintsValid: true,
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c, key
}

func certPEM(c *x509.Certificate) *pem.Block { return &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw} }

func keyPEM(t *testing.T, k *ecdsa.PrivateKey) *pem.Block {
	b, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return &pem.Block{Type: "EC PRIVATE KEY", Bytes: b}
}

func (p *pki) client_(cert *tls.Certificate) *http.Client {
	cfg := &tls.Config{RootCAs: p.roots}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 10 * time.Second}
}

type call struct {
	name   string
	client *http.Client
	method string
	path   string
	body   []byte
	hdr    map[string]string
	code   int
}

func do(t *testing.T, base string, c call) {
	t.Helper()
	req, err := http.NewRequest(c.method, base+c.path, bytes.NewReader(c.body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range c.hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		if c.code == 0 {
			return // a refused handshake was wanted
		}
		t.Errorf("%s: %v", c.name, err)
		return
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != c.code {
		t.Errorf("%s: %s %s got %d %q, want %d", c.name, c.method, c.path, resp.StatusCode, msg, c.code)
	}
}

// TestTLSAndAuth serves over TLS with mTLS on the receivers, a bearer token
// and basic-auth users on the API, and pprof on a separate debug listener.
func TestTLSAndAuth(t *testing.T) {
	p := newPKI(t)
	dir := t.TempDir()
	apiToken := filepath.Join(dir, "api-token")
	os.WriteFile(apiToken, []byte("api-s3cret\n"), 0o600)
	ingestToken := filepath.Join(dir, "ingest-token")
	os.WriteFile(ingestToken, []byte("ingest-s3cret\n"), 0o600)
	hash, err := bcrypt.GenerateFromPassword([]byte("pa55word"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	users := filepath.Join(dir, "users")
	os.WriteFile(users, []byte("# htpasswd -B\nalice:"+string(hash)+"\n"), 0o600)
	s, _ := start(t, func(c *server.Config) {
		c.TLSCert, c.TLSKey, c.ClientCA = p.certFile, p.keyFile, p.caFile
		c.APITokenFile, c.APIBasicAuthFile, c.IngestTokenFile = apiToken, users, ingestToken
		c.DebugAddr = "127.0.0.1:0"
	})
	defer s.Close()
	base := "https://" + s.Addr()
	good := batches(t)[13]
	withCert, noCert, strangerCert := p.client_(&p.client), p.client_(nil), p.client_(&p.otherClient)
	plain := &http.Client{Timeout: 10 * time.Second}
	ingestAuth := map[string]string{"Authorization": "Bearer ingest-s3cret"}
	apiAuth := map[string]string{"Authorization": "Bearer api-s3cret"}
	basic := func(user, pass string) map[string]string {
		r, _ := http.NewRequest("GET", "/", nil)
		r.SetBasicAuth(user, pass)
		return map[string]string{"Authorization": r.Header.Get("Authorization")}
	}
	for _, c := range []call{
		{"webhook with client cert and token", withCert, "POST", "/audit", good, ingestAuth, 200},
		{"webhook without client cert", noCert, "POST", "/audit", good, ingestAuth, 401},
		{"webhook with a certificate of another CA", strangerCert, "POST", "/audit", good, ingestAuth, 401},
		{"webhook with client cert, no token", withCert, "POST", "/audit", good, nil, 401},
		{"webhook with the API token", withCert, "POST", "/audit", good, apiAuth, 401},
		{"webhook with the scheme in lowercase", withCert, "POST", "/audit", good, map[string]string{"Authorization": "bearer ingest-s3cret"}, 200},
		{"below /audit is the UI's, behind credentials", noCert, "GET", "/audit/x", nil, nil, 401},
		{"below /healthz is the UI's, behind credentials", noCert, "GET", "/healthz/x", nil, nil, 401},
		{"below /v1/traces is the UI's, behind credentials", noCert, "GET", "/v1/traces/x", nil, nil, 401},
		{"API with the scheme in lowercase", noCert, "GET", "/metrics", nil, map[string]string{"Authorization": "bearer api-s3cret"}, 200},
		{"health needs nothing", noCert, "GET", "/healthz", nil, nil, 200},
		{"ready needs nothing", noCert, "GET", "/readyz", nil, nil, 200},
		{"metrics without credentials", noCert, "GET", "/metrics", nil, nil, 401},
		{"metrics with the ingest token", noCert, "GET", "/metrics", nil, ingestAuth, 401},
		{"metrics with the API token", noCert, "GET", "/metrics", nil, apiAuth, 200},
		{"API with basic auth", noCert, "GET", "/metrics", nil, basic("alice", "pa55word"), 200},
		{"API with basic auth again (cached)", noCert, "GET", "/metrics", nil, basic("alice", "pa55word"), 200},
		{"API with a wrong password", noCert, "GET", "/metrics", nil, basic("alice", "nope"), 401},
		{"API with an unknown user", noCert, "GET", "/metrics", nil, basic("bob", "pa55word"), 401},
		{"plain HTTP to the TLS port", plain, "GET", "/healthz", nil, nil, 400},
	} {
		if c.client == plain {
			do(t, "http://"+s.Addr(), c)
			continue
		}
		do(t, base, c)
	}
	// pprof is not on the main listener (whatever else answers there: the UI)
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/cmdline", "/debug/pprof/goroutine?debug=1"} {
		req, _ := http.NewRequest("GET", base+path, nil)
		req.Header.Set("Authorization", "Bearer api-s3cret")
		resp, err := noCert.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(body), "goroutine") || strings.Contains(string(body), "profile") || strings.Contains(string(body), os.Args[0]) {
			t.Errorf("the main listener serves pprof at %s: %.200q", path, body)
		}
	}
	debug := "https://" + s.DebugAddr()
	do(t, debug, call{"pprof without credentials", noCert, "GET", "/debug/pprof/", nil, nil, 401})
	do(t, debug, call{"pprof with the API token", noCert, "GET", "/debug/pprof/", nil, apiAuth, 200})
	do(t, debug, call{"pprof cmdline", noCert, "GET", "/debug/pprof/cmdline", nil, apiAuth, 200})
	do(t, debug, call{"pprof goroutines", noCert, "GET", "/debug/pprof/goroutine?debug=1", nil, apiAuth, 200})

	// refusals are counted (api_unauthorized: 4 above, and the 3 paths below
	// the receivers and health)
	req, _ := http.NewRequest("GET", base+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer api-s3cret")
	resp, err := noCert.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`podtrace_http_refused_total{reason="client_cert"} 2`, `podtrace_http_refused_total{reason="api_unauthorized"} 7`} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	// no secret is ever in the metrics
	for _, secret := range []string{"api-s3cret", "ingest-s3cret", "pa55word"} {
		if strings.Contains(string(metrics), secret) {
			t.Errorf("metrics show %q", secret)
		}
	}
}

// TestReadOnly: a read-only podtrace serves reads and refuses ingest and
// every write; its OTLP listeners are off.
func TestReadOnly(t *testing.T) {
	s, _ := start(t, func(c *server.Config) { c.ReadOnly = true })
	defer s.Close()
	if s.OTLPGRPCAddr() != "" || s.OTLPHTTPAddr() != "" {
		t.Errorf("read-only serves OTLP on %q and %q", s.OTLPGRPCAddr(), s.OTLPHTTPAddr())
	}
	base := "http://" + s.Addr()
	cl := &http.Client{Timeout: 10 * time.Second}
	for _, c := range []call{
		{"webhook", cl, "POST", "/audit", batches(t)[13], nil, 405},
		{"OTLP", cl, "POST", "/v1/traces", []byte(`{"resourceSpans":[]}`), nil, 405},
		{"API write", cl, "DELETE", "/api/v1/records", nil, nil, 405},
		{"API post", cl, "POST", "/api/v1/records", []byte("{}"), nil, 405},
		{"metrics", cl, "GET", "/metrics", nil, nil, 200},
		{"health", cl, "GET", "/healthz", nil, nil, 200},
	} {
		do(t, base, c)
	}
}

func TestSecurityConfigErrors(t *testing.T) {
	dir := t.TempDir()
	plainUsers := filepath.Join(dir, "users")
	os.WriteFile(plainUsers, []byte("alice:hunter2\n"), 0o600)
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, nil, 0o600)
	notPEM := filepath.Join(dir, "not.pem")
	os.WriteFile(notPEM, []byte("hello"), 0o600)
	cfg := server.DefaultConfig()
	cfg.TLSCert = notPEM
	cfg.ClientCA = notPEM
	cfg.APIBasicAuthFile = plainUsers
	cfg.APITokenFile = empty
	cfg.DebugAddr = cfg.HTTPAddr
	cfg.PostgresDSN = "mysql://x"
	cfg.Retention = -time.Hour
	cfg.MaxInflightBytes = 10
	cfg.ReadHeaderTimeout, cfg.ReadBodyTimeout, cfg.MinBodyRate, cfg.MaxClockSkew = 0, -time.Second, 0, 0
	cfg.IdleTimeout, cfg.MaxConnections = 0, 0
	err := cfg.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"tls_cert, tls_key: set both or neither", "api_basic_auth_file", "not a bcrypt hash", "api_token_file", "empty",
		"debug_addr: must differ", "postgres_dsn", "retention", "max_inflight_bytes",
		"otlp_grpc_max_message_bytes: 4194304: want from 1024 to max_inflight_bytes (10)", "read_header_timeout", "read_body_timeout", "min_body_rate", "max_clock_skew", "idle_timeout", "max_connections"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("the error shows a password:\n%v", err)
	}
}
