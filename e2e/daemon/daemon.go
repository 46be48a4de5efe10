package daemon

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Daemon is a started program, in a process group of its own.
type Daemon struct {
	// Name names the daemon in errors and its log file.
	Name string
	// LogPath holds its stdout and stderr, after a first line with the
	// command line.
	LogPath string

	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // Wait's result, valid once done is closed
}

// Start starts bin with args and env (added to this process's environment),
// stdout and stderr going to logDir/<name>.log. The child gets SIGKILL if the
// test process dies first.
func Start(name, logDir string, env []string, bin string, args ...string) (*Daemon, error) {
	logPath := filepath.Join(logDir, name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("create log for %s: %w", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	fmt.Fprintf(logFile, "# %s %s\n", bin, strings.Join(args, " "))
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Daemon{Name: name, cmd: cmd, LogPath: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	return p, nil
}

// Pid is the daemon's process id.
func (p *Daemon) Pid() int { return p.cmd.Process.Pid }

// Exited reports whether the process has ended, and how.
func (p *Daemon) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// Stop sends SIGTERM to the process group, waits up to grace for the process
// to exit, then kills the group. How a process ends after SIGTERM is its own
// business (kube-scheduler exits 1); Stop reports only a process that had died
// before or did not stop in time.
func (p *Daemon) Stop(grace time.Duration) error {
	if exited, err := p.Exited(); exited {
		return fmt.Errorf("%s had already exited: %v", p.Name, err)
	}
	pgid := -p.cmd.Process.Pid
	_ = syscall.Kill(pgid, syscall.SIGTERM) // the group may already be gone
	var err error
	select {
	case <-p.done:
	case <-time.After(grace):
		err = fmt.Errorf("%s did not stop within %s; killed", p.Name, grace)
	}
	_ = syscall.Kill(pgid, syscall.SIGKILL) // stragglers of the group
	<-p.done
	return err
}

// Tail returns the last n lines of the file at path.
func Tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	lines := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// Poll calls cond every interval until it returns true, alive reports a
// problem (a daemon died), or ctx ends; the last problem cond reported is
// in the timeout error.
func Poll(ctx context.Context, what string, interval time.Duration, alive func() error, cond func() (bool, error)) error {
	var last error
	for {
		done, err := cond()
		if done {
			return nil
		}
		if err != nil {
			last = err
		}
		if err := alive(); err != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w (last: %v)", what, ctx.Err(), last)
		case <-time.After(interval):
		}
	}
}

// Tidy ends a test's run directory: if the test failed it prints the last
// tailLines lines of each log and keeps the directory, with
// PODTRACE_E2E_KEEP set it keeps it, else it removes it. what names the
// directory's owner in the messages.
func Tidy(t testing.TB, what, dir string, logs []string, tailLines int) {
	if t.Failed() {
		for _, path := range logs {
			t.Logf("--- last %d lines of %s:\n%s", tailLines, path, Tail(path, tailLines))
		}
		t.Logf("%s run directory kept: %s", what, dir)
		return
	}
	if os.Getenv("PODTRACE_E2E_KEEP") != "" {
		t.Logf("%s run directory kept (PODTRACE_E2E_KEEP): %s", what, dir)
		return
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Logf("remove %s: %v", dir, err)
	}
}
