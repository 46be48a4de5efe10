// Package ui serves podtrace's web UI: the built front-end (ui/dist,
// embedded in the binary with go:embed) at /, with every path that is not
// a file answered by index.html so the UI's own routes (/pods/{uid}, /slo,
// /diagnoses) work as links.
//
// The front-end's source is ui/web (TypeScript, Preact, built by Vite);
// `make ui` rebuilds ui/dist with npm. The Go build never needs node:
// ui/dist is committed.
package ui
