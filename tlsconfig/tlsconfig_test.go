package tlsconfig

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writePair writes a self-signed certificate and key named cn.
func writePair(t *testing.T, dir, cn string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return certFile, keyFile
}

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	cert, key := writePair(t, dir, "a")
	junk := filepath.Join(dir, "junk")
	os.WriteFile(junk, []byte("junk"), 0o600)
	for _, c := range []struct {
		f    Files
		want string // "" for valid
	}{
		{Files{}, ""},
		{Files{Cert: cert, Key: key}, ""},
		{Files{Cert: cert, Key: key, ClientCA: cert}, ""},
		{Files{Cert: cert}, "set both or neither"},
		{Files{ClientCA: cert}, "client_ca: needs tls_cert"},
		{Files{Cert: cert, Key: filepath.Join(dir, "missing")}, "tls_key"},
		{Files{Cert: junk, Key: key}, "tls_cert, tls_key"},
		{Files{Cert: cert, Key: key, ClientCA: junk}, "no PEM certificates"},
	} {
		err := c.f.Validate()
		if (c.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%+v: got %v, want %q", c.f, err, c.want)
		}
	}
}

// TestRotation: a certificate replaced on disk is served without a restart.
func TestRotation(t *testing.T) {
	dir := t.TempDir()
	cert, key := writePair(t, dir, "first")
	kp := &keyPair{cert: cert, key: key}
	c1, err := kp.get()
	if err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Minute) // a new mtime, whatever the clock's resolution
	writePair(t, dir, "second")
	os.Chtimes(cert, later, later)
	c2, err := kp.get()
	if err != nil {
		t.Fatal(err)
	}
	if c2 == c1 || c2.Leaf != nil && c2.Leaf.Subject.CommonName != "second" {
		t.Fatal("the rotated certificate is not served")
	}
	x, _ := x509.ParseCertificate(c2.Certificate[0])
	if x.Subject.CommonName != "second" {
		t.Fatalf("serving %q, want second", x.Subject.CommonName)
	}
	os.WriteFile(key, []byte("half-written"), 0o600) // mid-rotation: keep the last good pair
	os.Chtimes(key, later.Add(time.Minute), later.Add(time.Minute))
	if c3, err := kp.get(); err != nil || c3 != c2 {
		t.Fatalf("a broken pair replaced the good one: %v", err)
	}
}

func TestRequireClientCert(t *testing.T) {
	rejected := 0
	h := RequireClientCert(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), func() { rejected++ })
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/audit", nil)) // no TLS at all
	if rec.Code != http.StatusUnauthorized || rejected != 1 {
		t.Fatalf("got %d, %d rejections", rec.Code, rejected)
	}
}
