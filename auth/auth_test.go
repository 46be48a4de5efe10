package auth_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/podtrace/podtrace/auth"
)

func write(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadToken(t *testing.T) {
	if tok, err := auth.LoadToken(write(t, "  s3cret\n")); err != nil || tok != "s3cret" {
		t.Errorf("got %q %v", tok, err)
	}
	for _, bad := range []string{"", " \n", "two words"} {
		if _, err := auth.LoadToken(write(t, bad)); err == nil {
			t.Errorf("%q: no error", bad)
		} else if bad == "two words" && strings.Contains(err.Error(), "words") && strings.Contains(err.Error(), "two") {
			t.Errorf("the error quotes the token: %v", err)
		}
	}
}

func TestLoadUsers(t *testing.T) {
	hash, _ := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	users, err := auth.LoadUsers(write(t, "# comment\n\nalice:"+string(hash)+"\n"))
	if err != nil || len(users) != 1 {
		t.Fatalf("got %v %v", users, err)
	}
	for _, bad := range []string{"alice:hunter2\n", "nocolon\n", ":" + string(hash) + "\n", "# only a comment\n"} {
		_, err := auth.LoadUsers(write(t, bad))
		if err == nil {
			t.Errorf("%q: no error", bad)
		} else if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("the error quotes a password: %v", err)
		}
	}
}

func TestGuard(t *testing.T) {
	hash, _ := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	g := &auth.Guard{Token: "tok", Users: map[string][]byte{"alice": hash}}
	rejected := 0
	h := g.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), func() { rejected++ })
	for _, c := range []struct {
		name string
		set  func(r *http.Request)
		code int
	}{
		{"nothing", func(r *http.Request) {}, 401},
		{"token", func(r *http.Request) { r.Header.Set("Authorization", "Bearer tok") }, 200},
		{"wrong token", func(r *http.Request) { r.Header.Set("Authorization", "Bearer tok2") }, 401},
		{"token prefix", func(r *http.Request) { r.Header.Set("Authorization", "Bearer to") }, 401},
		{"basic", func(r *http.Request) { r.SetBasicAuth("alice", "pw") }, 200},
		{"basic again", func(r *http.Request) { r.SetBasicAuth("alice", "pw") }, 200},
		{"basic wrong", func(r *http.Request) { r.SetBasicAuth("alice", "pw2") }, 401},
		{"basic unknown", func(r *http.Request) { r.SetBasicAuth("bob", "pw") }, 401},
		{"token as basic password", func(r *http.Request) { r.SetBasicAuth("alice", "tok") }, 401},
	} {
		rec := httptest.NewRecorder()
		r := httptest.NewRequest("GET", "/api/v1/records", nil)
		c.set(r)
		h.ServeHTTP(rec, r)
		if rec.Code != c.code {
			t.Errorf("%s: got %d, want %d", c.name, rec.Code, c.code)
		}
		if rec.Code == 401 && len(rec.Header().Values("WWW-Authenticate")) != 2 {
			t.Errorf("%s: challenges %v", c.name, rec.Header().Values("WWW-Authenticate"))
		}
	}
	if rejected != 6 {
		t.Errorf("%d rejections counted, want 6", rejected)
	}
	if (&auth.Guard{}).Handler(http.NotFoundHandler(), nil) == nil || (&auth.Guard{}).Enabled() {
		t.Error("the zero guard asks for credentials")
	}
}

func TestReadOnly(t *testing.T) {
	h := auth.ReadOnly(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), nil)
	for method, want := range map[string]int{"GET": 200, "HEAD": 200, "OPTIONS": 200, "POST": 405, "PUT": 405, "DELETE": 405, "PATCH": 405} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, "/api/v1/x", nil))
		if rec.Code != want {
			t.Errorf("%s: got %d, want %d", method, rec.Code, want)
		}
	}
}

// TestBearerScheme: the scheme is case-insensitive; the token is not.
func TestBearerScheme(t *testing.T) {
	for header, want := range map[string]bool{
		"Bearer s3cret": true, "bearer s3cret": true, "BEARER s3cret": true,
		"Bearer S3CRET": false, "Basic s3cret": false, "Bearers3cret": false, "s3cret": false, "Bearer  s3cret": false,
	} {
		if got := auth.Bearer(header, "s3cret"); got != want {
			t.Errorf("Bearer(%q) = %v, want %v", header, got, want)
		}
	}
}
