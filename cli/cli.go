// Package cli is podtrace's command line: serve, replay, pods, explain,
// demo. main parses nothing itself; it calls Run with the process's
// arguments and streams and exits with the code Run returns.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
)

// Env is what a command gets from the process.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// IsTerminal reports whether Stderr is a terminal (for progress bars).
	IsTerminal bool
}

type command struct {
	name, summary string
	run           func(ctx context.Context, env Env, args []string) error
}

func commands() []command {
	return []command{
		{"serve", "run the server: audit webhook, audit file follower, metrics", runServe},
		{"replay", "ingest audit log files (JSON lines; .gz too) into the database", runReplay},
		{"pods", "list delivery records", runPods},
		{"explain", "show one pod's deliveries with a timeline of phases", runExplain},
		{"demo", "replay the real captures shipped with podtrace and serve them", runDemo},
		{"config", "generate the audit policy, webhook kubeconfig and tracing configs for a cluster", runConfig},
		{"bench", "replay a large synthetic audit log and print throughput and peak memory", runBench},
	}
}

// errUsage marks an error already explained by a usage message.
var errUsage = errors.New("usage")

// Run runs the command named by args[0] and returns the process exit code.
func Run(ctx context.Context, args []string, env Env) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(env.Stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, env, args[1:])
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			return 2
		default:
			fmt.Fprintf(env.Stderr, "podtrace %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(env.Stderr, "podtrace: unknown command %q\n\n", args[0])
	usage(env.Stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "podtrace — why is this pod slow or not starting, and are we keeping our delivery promise?")
	fmt.Fprintln(w, "\nUsage: podtrace <command> [flags]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'podtrace <command> -h' for a command's flags.")
}

// flagSet returns a flag set that reports errors to env.Stderr.
func flagSet(name string, env Env) *flag.FlagSet {
	fs := flag.NewFlagSet("podtrace "+name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	return fs
}

// parse parses args, allowing flags after positional arguments.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, errUsage
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func logger(env Env) *slog.Logger {
	return slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// defaultDB is the database path unless --db says otherwise.
func defaultDB() string {
	if v := os.Getenv("PODTRACE_DB"); v != "" {
		return v
	}
	return "./podtrace.db"
}
