package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is podtrace serve's configuration: a YAML file (strict: unknown
// keys fail), then flags on top. Every field has a default.
type Config struct {
	Cluster string `yaml:"cluster"`
	// HTTPAddr serves the webhook, health, metrics, API and UI.
	HTTPAddr string `yaml:"http_addr"`
	// DB is the SQLite database file.
	DB string `yaml:"db"`
	// Sync is SQLite's synchronous mode: FULL (survives power loss) or NORMAL.
	Sync string `yaml:"sync"`
	// AuditFile, if set, is an --audit-log-path file to follow.
	AuditFile string `yaml:"audit_file"`
	// AuditFilePoll is how often a followed file is polled at its end.
	AuditFilePoll time.Duration `yaml:"audit_file_poll"`
	// MaxBodyBytes bounds a webhook body (and its decompressed size).
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// IngestTokenFile, if set, holds the bearer token webhook clients must send.
	IngestTokenFile string `yaml:"ingest_token_file"`
	// QueueEvents bounds events waiting to be journaled (503 beyond).
	QueueEvents int `yaml:"queue_events"`
	// FlushInterval is how often states and records are saved.
	FlushInterval time.Duration `yaml:"flush_interval"`
	// IdleAfter is how long (event time) an open pod stays in memory without news.
	IdleAfter time.Duration `yaml:"idle_after"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		Cluster:       "default",
		HTTPAddr:      "127.0.0.1:8080",
		DB:            "./podtrace.db",
		Sync:          "FULL",
		AuditFilePoll: 250 * time.Millisecond,
		MaxBodyBytes:  32 << 20,
		QueueEvents:   200_000,
		FlushInterval: 500 * time.Millisecond,
		IdleAfter:     10 * time.Minute,
	}
}

// LoadConfig reads a YAML file over the defaults.
func LoadConfig(path string) (Config, error) {
	c := DefaultConfig()
	b, err := os.ReadFile(path)
	if err != nil {
		return c, fmt.Errorf("config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	// an empty file (io.EOF) stands for "all defaults"
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return c, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// Validate checks every field and reports all problems at once, each with
// its key.
func (c Config) Validate() error {
	var errs []error
	bad := func(key string, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if c.Cluster == "" {
		bad("cluster", "must not be empty")
	}
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		bad("http_addr", "%v", err)
	}
	if c.DB == "" {
		bad("db", "must not be empty")
	}
	switch c.Sync {
	case "FULL", "NORMAL":
	default:
		bad("sync", "%q: want FULL or NORMAL", c.Sync)
	}
	if c.AuditFilePoll <= 0 {
		bad("audit_file_poll", "must be positive")
	}
	if c.MaxBodyBytes < 1024 {
		bad("max_body_bytes", "%d: must be at least 1024", c.MaxBodyBytes)
	}
	if c.QueueEvents < 1 {
		bad("queue_events", "must be positive")
	}
	if c.FlushInterval <= 0 {
		bad("flush_interval", "must be positive")
	}
	if c.IdleAfter <= 0 {
		bad("idle_after", "must be positive")
	}
	if c.IngestTokenFile != "" {
		if _, err := os.Stat(c.IngestTokenFile); err != nil {
			bad("ingest_token_file", "%v", err)
		}
	}
	return errors.Join(errs...)
}
