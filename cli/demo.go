package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/podtrace/podtrace/demo"
	"github.com/podtrace/podtrace/server"
)

func runDemo(ctx context.Context, env Env, args []string) error {
	fs := flagSet("demo", env)
	addr := fs.String("http-addr", "127.0.0.1:8080", "address to serve on")
	db := fs.String("db", "", "database file (default: a new one in a temporary directory)")
	once := fs.Bool("once", false, "replay and print the summary, then exit without serving")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "podtrace-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if *db == "" {
		*db = filepath.Join(dir, "podtrace.db")
	}
	caps, err := demo.WriteCaptures(dir)
	if err != nil {
		return err
	}
	for _, c := range caps {
		sum, err := replayFiles(ctx, env, *db, c.Files(), replayOptions{Cluster: c.Cluster})
		if err != nil {
			return fmt.Errorf("replay %s: %w", c.Cluster, err)
		}
		fmt.Fprintf(env.Stdout, "cluster %-10s %s\n", c.Cluster, sum)
	}
	if *once {
		return nil
	}
	cfg := server.DefaultConfig()
	cfg.HTTPAddr, cfg.DB, cfg.Cluster = *addr, *db, "live"
	return serveUntilSignal(ctx, env, cfg, func(s *server.Server) {
		fmt.Fprintf(env.Stdout, "\npodtrace demo: real captured deliveries loaded; serving on http://%s (Ctrl-C to stop)\n", s.Addr())
		fmt.Fprintf(env.Stdout, "  in another terminal:\n    go run ./cmd/podtrace pods --db %s\n    go run ./cmd/podtrace explain --db %s demo/too-big\n", *db, *db)
		fmt.Fprintf(env.Stdout, "  send audit webhook batches to http://%s/audit; metrics at http://%s/metrics\n", s.Addr(), s.Addr())
	})
}
