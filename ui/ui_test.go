package ui_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/podtrace/podtrace/ui"
)

func get(t *testing.T, method, target string) *http.Response {
	t.Helper()
	rec := httptest.NewRecorder()
	ui.Handler().ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	return rec.Result()
}

func body(t *testing.T, r *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// assets lists the files index.html loads.
func assets(t *testing.T, index string) []string {
	t.Helper()
	var out []string
	for _, m := range regexp.MustCompile(`(?:<script[^>]*src|<link[^>]*href)="(/[^"]+)"`).FindAllStringSubmatch(index, -1) {
		out = append(out, m[1])
	}
	if len(out) < 3 {
		t.Fatalf("index.html loads %v: is ui/dist built?", out)
	}
	return out
}

func TestIndexAndSPAFallback(t *testing.T) {
	for _, p := range []string{"/", "/pods", "/pods/ef5d17d9-459a-4d43-867b-a2a73421535d?delivery=create-0", "/slo?group_by=node", "/diagnoses"} {
		r := get(t, "GET", p)
		b := body(t, r)
		if r.StatusCode != 200 || !strings.Contains(b, `<div id="app">`) || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("GET %s: %d %s %.100s", p, r.StatusCode, r.Header.Get("Content-Type"), b)
		}
		if r.Header.Get("Cache-Control") != "no-cache" || !strings.Contains(r.Header.Get("Content-Security-Policy"), "default-src 'self'") {
			t.Fatalf("GET %s: headers %v", p, r.Header)
		}
	}
}

// TestAssetsServedOffline: every file index.html loads is embedded and
// local (no CDN), hashed assets are cached for good.
func TestAssetsServedOffline(t *testing.T) {
	index := body(t, get(t, "GET", "/"))
	if regexp.MustCompile(`(?:src|href)="(?:https?:)?//`).MatchString(index) {
		t.Fatal("index.html loads something from another host")
	}
	for _, a := range assets(t, index) {
		r := get(t, "GET", a)
		b := body(t, r)
		if r.StatusCode != 200 || len(b) == 0 {
			t.Fatalf("GET %s: %d", a, r.StatusCode)
		}
		if strings.HasPrefix(a, "/assets/") && !strings.Contains(r.Header.Get("Cache-Control"), "immutable") {
			t.Fatalf("GET %s: Cache-Control %q", a, r.Header.Get("Cache-Control"))
		}
		switch {
		case strings.HasSuffix(a, ".js") && !strings.Contains(r.Header.Get("Content-Type"), "javascript"),
			strings.HasSuffix(a, ".css") && !strings.HasPrefix(r.Header.Get("Content-Type"), "text/css"):
			t.Fatalf("GET %s: Content-Type %q", a, r.Header.Get("Content-Type"))
		}
	}
}

func TestMissingFilesAre404(t *testing.T) {
	for _, p := range []string{"/assets/index-missing.js", "/favicon.ico", "/api/v1/pods", "/x/../assets/nope.css"} {
		if r := get(t, "GET", p); r.StatusCode != 404 {
			t.Errorf("GET %s: %d, want 404", p, r.StatusCode)
		}
	}
	if r := get(t, "POST", "/pods"); r.StatusCode != 405 {
		t.Errorf("POST /pods: %d", r.StatusCode)
	}
	if r := get(t, "HEAD", "/pods"); r.StatusCode != 200 {
		t.Errorf("HEAD /pods: %d", r.StatusCode)
	}
}
