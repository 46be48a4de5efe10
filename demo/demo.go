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

//go:embed data/*.audit.log.gz
var data embed.FS

// Capture is one shipped capture: its cluster name and audit log file.
type Capture struct {
	Cluster string
	Path    string
}

// WriteCaptures writes the shipped captures into dir and returns them.
func WriteCaptures(dir string) ([]Capture, error) {
	entries, err := data.ReadDir("data")
	if err != nil {
		return nil, err
	}
	var out []Capture
	for _, e := range entries {
		b, err := data.ReadFile("data/" + e.Name())
		if err != nil {
			return nil, err
		}
		path := filepath.Join(dir, e.Name())
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return nil, fmt.Errorf("write demo capture: %w", err)
		}
		out = append(out, Capture{Cluster: strings.TrimSuffix(e.Name(), ".audit.log.gz"), Path: path})
	}
	return out, nil
}
