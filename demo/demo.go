// Package demo ships real audit logs captured from a kube-apiserver 1.34
// cluster (see testdata/README.md) inside the binary, so `podtrace demo`
// shows real deliveries with nothing else installed.
package demo

import (
	"embed"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

//go:embed data/*.gz
var data embed.FS

// Capture is one shipped capture: its cluster name, its audit log file and,
// when the capture has them, the OTLP/JSON spans its components sent.
type Capture struct {
	Cluster string
	Path    string
	Spans   string // "" when the capture holds no spans
}

// Files are the capture's files, audit log first, as replay takes them.
func (c Capture) Files() []string {
	if c.Spans == "" {
		return []string{c.Path}
	}
	return []string{c.Path, c.Spans}
}

// Suffixes of the files of a capture in data/: <cluster>.audit.log.gz and,
// optionally, <cluster>.otlp.jsonl.gz.
const (
	auditSuffix = ".audit.log.gz"
	spansSuffix = ".otlp.jsonl.gz"
)

// WriteCaptures writes the shipped captures into dir and returns them,
// sorted by cluster name.
func WriteCaptures(dir string) ([]Capture, error) {
	entries, err := data.ReadDir("data")
	if err != nil {
		return nil, err
	}
	var out []Capture
	spans := map[string]string{}
	for _, e := range entries { // sorted by name
		b, err := data.ReadFile("data/" + e.Name())
		if err != nil {
			return nil, err
		}
		path := filepath.Join(dir, e.Name())
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return nil, fmt.Errorf("write demo capture: %w", err)
		}
		switch {
		case strings.HasSuffix(e.Name(), auditSuffix):
			out = append(out, Capture{Cluster: strings.TrimSuffix(e.Name(), auditSuffix), Path: path})
		case strings.HasSuffix(e.Name(), spansSuffix):
			spans[strings.TrimSuffix(e.Name(), spansSuffix)] = path
		}
	}
	for i := range out {
		out[i].Spans = spans[out[i].Cluster]
	}
	return out, nil
}
