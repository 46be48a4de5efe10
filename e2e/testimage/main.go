package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// config is the command line.
type config struct {
	print, readyFile, checkFile, listen, termMessage, termLog string
	printEvery, exitAfter, readyAfter, unhealthyAfter         time.Duration
	exitCode, allocMiB                                        int
	neverReady, ignoreSIGTERM, exitSet, unhealthySet          bool
}

func parse(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("testimage", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.print, "print", "", "print `TEXT` to stdout at start")
	fs.DurationVar(&c.printEvery, "print-every", 0, "print again every `DUR`")
	fs.DurationVar(&c.exitAfter, "exit-after", 0, "exit after `DUR` (0 = at once; unset = never)")
	fs.IntVar(&c.exitCode, "exit-code", 0, "exit code for -exit-after")
	fs.StringVar(&c.termMessage, "termination-message", "", "write `TEXT` to -termination-log before -exit-after's exit")
	fs.StringVar(&c.termLog, "termination-log", "/dev/termination-log", "the container's terminationMessagePath")
	fs.IntVar(&c.allocMiB, "alloc-mib", 0, "allocate and write `N` MiB, then keep running")
	fs.StringVar(&c.listen, "listen", "", "serve /ready, /healthz and / on `ADDR`")
	fs.DurationVar(&c.readyAfter, "ready-after", 0, "/ready answers 200 and -ready-file exists after `DUR`")
	fs.BoolVar(&c.neverReady, "never-ready", false, "/ready always answers 503")
	fs.DurationVar(&c.unhealthyAfter, "unhealthy-after", 0, "/healthz answers 500 after `DUR` (unset = never)")
	fs.StringVar(&c.readyFile, "ready-file", "", "create `PATH` once -ready-after has passed")
	fs.StringVar(&c.checkFile, "check-file", "", "exit 0 if `PATH` exists, 1 otherwise (for exec probes)")
	fs.BoolVar(&c.ignoreSIGTERM, "ignore-sigterm", false, "ignore SIGTERM")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	// A zero duration means "at once" for -exit-after and -unhealthy-after,
	// so whether they were given at all has to come from the flag set.
	fs.Visit(func(f *flag.Flag) {
		c.exitSet = c.exitSet || f.Name == "exit-after"
		c.unhealthySet = c.unhealthySet || f.Name == "unhealthy-after"
	})
	return c, nil
}

func run(args []string, stdout, stderr io.Writer) int {
	start := time.Now()
	c, err := parse(args, stderr)
	if err != nil {
		return 2
	}
	if c.checkFile != "" {
		if _, err := os.Stat(c.checkFile); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		return 0
	}

	// Signal handling comes first: as PID 1 a container gets no default
	// action for SIGTERM, and a test must not signal before the handler is in.
	signals := make(chan os.Signal, 1)
	if c.ignoreSIGTERM {
		signal.Ignore(syscall.SIGTERM)
		signal.Notify(signals, syscall.SIGINT)
	} else {
		signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	}

	// Every page is written, not just allocated: untouched pages are not
	// charged to the memory cgroup, and the OOM kill is the point.
	memory := make([]byte, c.allocMiB<<20)
	for i := 0; i < len(memory); i += 4096 {
		memory[i] = 1
	}
	if c.allocMiB > 0 {
		fmt.Fprintf(stdout, "allocated %d MiB\n", c.allocMiB)
	}

	if c.listen != "" {
		l, err := net.Listen("tcp", c.listen)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		fmt.Fprintf(stdout, "listening on %s\n", l.Addr())
		srv := &http.Server{Handler: c.handler(start), ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
				fmt.Fprintln(stderr, err)
			}
		}()
		defer srv.Close()
	}

	if c.readyFile != "" {
		time.AfterFunc(c.readyAfter, func() {
			if err := os.WriteFile(c.readyFile, []byte("ready\n"), 0o644); err != nil {
				fmt.Fprintln(stderr, err)
			}
		})
	}

	if c.print != "" {
		fmt.Fprintln(stdout, c.print)
		if c.printEvery > 0 {
			go func() {
				for range time.Tick(c.printEvery) {
					fmt.Fprintln(stdout, c.print)
				}
			}()
		}
	}

	var exit <-chan time.Time // nil: never
	if c.exitSet {
		exit = time.After(time.Until(start.Add(c.exitAfter)))
	}
	select {
	case <-exit:
		if c.termMessage != "" {
			if err := os.WriteFile(c.termLog, []byte(c.termMessage), 0o644); err != nil {
				fmt.Fprintln(stderr, err)
			}
		}
		return c.exitCode
	case <-signals:
		fmt.Fprintln(stdout, "terminating")
		// The allocation must stay live until the end, or the collector
		// could give it back before the limit is hit.
		runtime.KeepAlive(memory)
		return 0
	}
}

// handler serves the probes' endpoints, their answers a function of the
// time since start.
func (c config) handler(start time.Time) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/ready", func(w http.ResponseWriter, r *http.Request) {
		if c.neverReady || time.Since(start) < c.readyAfter {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if c.unhealthySet && time.Since(start) >= c.unhealthyAfter {
			http.Error(w, "unhealthy", http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "testimage")
	})
	return mux
}
