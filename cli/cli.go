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
	rd := podtraceReader()
	return []command{
		{"serve", "run the server: audit webhook, audit file follower, metrics", runServe},
		{"replay", "ingest audit log files (JSON lines; .gz too) into the database", runReplay},
		{"pods", "list delivery records (from the database, or a podtrace's API with --server)", rd.runPods},
		{"explain", "show one pod's deliveries with a timeline of phases", rd.runExplain},
		{"demo", "replay the real captures shipped with podtrace and serve them", runDemo},
		{"config", "generate the audit policy, webhook kubeconfig and tracing configs for a cluster", runConfig},
		{"bench", "replay a large synthetic audit log and print throughput and peak memory", runBench},
	}
}

// kubectlCommands are the kubectl plugin's: pods and explain over a
// podtrace's REST API.
func kubectlCommands() []command {
	rd := kubectlReader()
	return []command{
		{"pods", "list delivery records", rd.runPods},
		{"explain", "show one pod's deliveries with a timeline of phases", rd.runExplain},
	}
}

// errUsage marks an error already explained by a usage message.
var errUsage = errors.New("usage")

// Run runs the command named by args[0] and returns the process exit code.
func Run(ctx context.Context, args []string, env Env) int {
	return dispatch(ctx, "podtrace", "why is this pod slow or not starting, and are we keeping our delivery promise?", commands(), args, env)
}

// RunKubectl runs kubectl-podtrace, the kubectl plugin (`kubectl podtrace
// pods`, `kubectl podtrace explain NAMESPACE/NAME`): the same commands as
// podtrace's, reading a podtrace's REST API at --server, by default
// $PODTRACE_SERVER or http://127.0.0.1:8080.
func RunKubectl(ctx context.Context, args []string, env Env) int {
	return dispatch(ctx, "kubectl podtrace", "podtrace's delivery records, from its REST API ($PODTRACE_SERVER, default http://127.0.0.1:8080)", kubectlCommands(), args, env)
}

func dispatch(ctx context.Context, prog, title string, cmds []command, args []string, env Env) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(env.Stdout, prog, title, cmds)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range cmds {
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
			fmt.Fprintf(env.Stderr, "%s %s: %v\n", prog, c.name, err)
			return 1
		}
	}
	fmt.Fprintf(env.Stderr, "%s: unknown command %q\n\n", prog, args[0])
	usage(env.Stderr, prog, title, cmds)
	return 2
}

func usage(w io.Writer, prog, title string, cmds []command) {
	fmt.Fprintf(w, "%s — %s\n", prog, title)
	fmt.Fprintf(w, "\nUsage: %s <command> [flags]\n\nCommands:\n", prog)
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun '%s <command> -h' for a command's flags.\n", prog)
}

// flagSet returns a flag set of a podtrace command that reports errors to
// env.Stderr.
func flagSet(name string, env Env) *flag.FlagSet { return progFlagSet("podtrace", name, env) }

// progFlagSet returns a flag set of command name of program prog.
func progFlagSet(prog, name string, env Env) *flag.FlagSet {
	fs := flag.NewFlagSet(prog+" "+name, flag.ContinueOnError)
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

// parseNoArgs parses the flags of a command that takes no arguments:
// anything else left on its command line is an error, never ignored.
func parseNoArgs(fs *flag.FlagSet, args []string) error {
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("%s takes no arguments, got %q", fs.Name(), pos)
	}
	return nil
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
