package ui

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed all:dist
var dist embed.FS

// Handler serves the UI from the embedded build.
func Handler() http.Handler {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		// "dist" is a literal directory of the embed pattern above
		return http.NotFoundHandler()
	}
	return handler{files: sub}
}

type handler struct{ files fs.FS }

// csp allows only the UI's own files: no CDN, nothing inline but styles
// (bar widths) and the data: favicon.
const csp = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"

func (h handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
	hdr := w.Header()
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Content-Security-Policy", csp)
	hdr.Set("Referrer-Policy", "same-origin")
	if st, err := fs.Stat(h.files, name); name != "" && err == nil && !st.IsDir() {
		if strings.HasPrefix(name, "assets/") {
			// file names carry a content hash
			hdr.Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			hdr.Set("Cache-Control", "no-cache")
		}
		http.ServeFileFS(w, r, h.files, name)
		return
	}
	if path.Ext(name) != "" || strings.HasPrefix(name, "api/") {
		// a missing file: never answer a script or style with the page
		http.NotFound(w, r)
		return
	}
	// the UI's own routes
	hdr.Set("Cache-Control", "no-cache")
	http.ServeFileFS(w, r, h.files, "index.html")
}
