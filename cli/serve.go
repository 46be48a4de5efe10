package cli

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/podtrace/podtrace/server"
)

// serveFlags binds the server configuration to flags. Values come from, in
// rising precedence: defaults, the --config file, PODTRACE_* environment
// variables, flags.
func serveFlags(fs *flag.FlagSet) (configPath *string, apply func(*server.Config) error) {
	configPath = fs.String("config", "", "YAML configuration file (unknown keys are errors)")
	def := server.DefaultConfig()
	httpAddr := fs.String("http-addr", def.HTTPAddr, "address for the webhook, API, UI and metrics")
	db := fs.String("db", def.DB, "SQLite database file")
	cluster := fs.String("cluster", def.Cluster, "name of the Kubernetes cluster the events come from")
	auditFile := fs.String("audit-file", "", "follow this --audit-log-path file (resumes after restart, survives rotation)")
	token := fs.String("ingest-token-file", "", "file holding the bearer token webhook clients must send")
	maxBody := fs.Int64("max-body-bytes", def.MaxBodyBytes, "largest webhook body accepted (and decompressed)")
	queue := fs.Int("queue-events", def.QueueEvents, "events that may wait to be journaled before the webhook answers 503")
	idle := fs.Duration("idle-after", def.IdleAfter, "event time an open pod stays in memory without news")
	sync := fs.String("sync", def.Sync, "SQLite synchronous mode: FULL or NORMAL")
	apply = func(c *server.Config) error {
		for env, dst := range map[string]*string{"PODTRACE_HTTP_ADDR": &c.HTTPAddr, "PODTRACE_DB": &c.DB, "PODTRACE_CLUSTER": &c.Cluster} {
			if v := os.Getenv(env); v != "" {
				*dst = v
			}
		}
		var err error
		fs.Visit(func(f *flag.Flag) {
			switch f.Name {
			case "http-addr":
				c.HTTPAddr = *httpAddr
			case "db":
				c.DB = *db
			case "cluster":
				c.Cluster = *cluster
			case "audit-file":
				c.AuditFile = *auditFile
			case "ingest-token-file":
				c.IngestTokenFile = *token
			case "max-body-bytes":
				c.MaxBodyBytes = *maxBody
			case "queue-events":
				c.QueueEvents = *queue
			case "idle-after":
				c.IdleAfter = *idle
			case "sync":
				c.Sync = *sync
			}
		})
		return err
	}
	return configPath, apply
}

func loadServeConfig(fs *flag.FlagSet, configPath string, apply func(*server.Config) error) (server.Config, error) {
	cfg := server.DefaultConfig()
	if configPath != "" {
		var err error
		if cfg, err = server.LoadConfig(configPath); err != nil {
			return cfg, err
		}
	}
	if err := apply(&cfg); err != nil {
		return cfg, err
	}
	return cfg, cfg.Validate()
}

func runServe(ctx context.Context, env Env, args []string) error {
	fs := flagSet("serve", env)
	configPath, apply := serveFlags(fs)
	if _, err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := loadServeConfig(fs, *configPath, apply)
	if err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	return serveUntilSignal(ctx, env, cfg, nil)
}

// serveUntilSignal runs the server until ctx ends or SIGINT/SIGTERM.
// ready, if not nil, is called once the server listens.
func serveUntilSignal(ctx context.Context, env Env, cfg server.Config, ready func(*server.Server)) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := server.Start(ctx, cfg, logger(env))
	if err != nil {
		return err
	}
	if ready != nil {
		ready(srv)
	}
	<-ctx.Done()
	done := make(chan error, 1)
	go func() { done <- srv.Close() }()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		return fmt.Errorf("shutdown timed out")
	}
}
