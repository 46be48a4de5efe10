package registry

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestTestImage runs the built testimage binary as a container would.
func TestTestImage(t *testing.T) {
	bin, err := buildTestImage()
	if err != nil {
		t.Fatal(err)
	}

	t.Run("ExitCode", func(t *testing.T) {
		dir := t.TempDir()
		msg := filepath.Join(dir, "termination-log")
		err := exec.Command(bin, "-exit-after", "0", "-exit-code", "3",
			"-termination-message", "bye", "-termination-log", msg).Run()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 3 {
			t.Errorf("exit: %v, want exit status 3", err)
		}
		if got, err := os.ReadFile(msg); err != nil || string(got) != "bye" {
			t.Errorf("termination log %q, %v; want %q", got, err, "bye")
		}
	})

	t.Run("Probes", func(t *testing.T) {
		const readyAfter = time.Second
		readyFile := filepath.Join(t.TempDir(), "ready")
		start := time.Now()
		p := startTestImage(t, bin, "-listen", "127.0.0.1:0", "-ready-after", readyAfter.String(),
			"-ready-file", readyFile, "-unhealthy-after", "1h")
		addr := strings.TrimPrefix(p.waitLine(t, "listening on "), "listening on ")
		url := "http://" + addr
		if got := get(t, url+"/ready"); got != http.StatusServiceUnavailable && time.Since(start) < readyAfter {
			t.Errorf("/ready before -ready-after: %d, want 503", got)
		}
		if code := checkFile(t, bin, readyFile); code != 1 && time.Since(start) < readyAfter {
			t.Errorf("-check-file before -ready-after: exit %d, want 1", code)
		}
		for get(t, url+"/ready") != http.StatusOK {
			time.Sleep(100 * time.Millisecond)
		}
		if took := time.Since(start); took < readyAfter {
			t.Errorf("/ready 200 after %v, before -ready-after %v", took, readyAfter)
		}
		for checkFile(t, bin, readyFile) != 0 {
			time.Sleep(100 * time.Millisecond)
		}
		if got := get(t, url+"/healthz"); got != http.StatusOK {
			t.Errorf("/healthz: %d, want 200", got)
		}
		if got := get(t, url+"/"); got != http.StatusOK {
			t.Errorf("/: %d, want 200", got)
		}
	})

	t.Run("NeverReadyUnhealthy", func(t *testing.T) {
		p := startTestImage(t, bin, "-listen", "127.0.0.1:0", "-never-ready", "-unhealthy-after", "0")
		url := "http://" + strings.TrimPrefix(p.waitLine(t, "listening on "), "listening on ")
		if got := get(t, url+"/ready"); got != http.StatusServiceUnavailable {
			t.Errorf("/ready with -never-ready: %d, want 503", got)
		}
		if got := get(t, url+"/healthz"); got != http.StatusInternalServerError {
			t.Errorf("/healthz after -unhealthy-after: %d, want 500", got)
		}
	})

	t.Run("SIGTERM", func(t *testing.T) {
		// -print only tells the test that the signal handler is in.
		p := startTestImage(t, bin, "-print", "started")
		p.waitLine(t, "started")
		p.cmd.Process.Signal(syscall.SIGTERM)
		if err := p.wait(); err != nil {
			t.Errorf("after SIGTERM: %v, want exit 0", err)
		}
		p.waitLine(t, "terminating")
	})

	t.Run("IgnoreSIGTERM", func(t *testing.T) {
		p := startTestImage(t, bin, "-ignore-sigterm", "-print", "started")
		p.waitLine(t, "started")
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
			t.Fatalf("exited on SIGTERM: %v", p.err)
		case <-time.After(time.Second):
		}
		p.cmd.Process.Kill()
		var exit *exec.ExitError
		if err := p.wait(); !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Errorf("after SIGKILL: %v, want killed", err)
		}
	})

	t.Run("Alloc", func(t *testing.T) {
		const mib = 64
		p := startTestImage(t, bin, "-alloc-mib", strconv.Itoa(mib))
		p.waitLine(t, "allocated")
		// Resident, not just reserved: the pages were written.
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
		if err != nil {
			t.Fatal(err)
		}
		var rssKiB int
		for line := range strings.Lines(string(status)) {
			if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				rssKiB, _ = strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			}
		}
		if rssKiB < mib<<10 {
			t.Errorf("VmRSS %d KiB, want at least %d MiB", rssKiB, mib)
		}
	})
}

// process is a running testimage whose stdout lines arrive on lines.
type process struct {
	cmd   *exec.Cmd
	lines chan string
	done  chan struct{}
	err   error // Wait's result, valid once done is closed
}

func startTestImage(t *testing.T, bin string, args ...string) *process {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, lines: make(chan string, 100), done: make(chan struct{})}
	go func() {
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			p.lines <- s.Text()
		}
		io.Copy(io.Discard, stdout)
		close(p.lines)
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
	})
	return p
}

// waitLine returns the first line of output starting with prefix.
func (p *process) waitLine(t *testing.T, prefix string) string {
	t.Helper()
	timeout := time.After(time.Minute)
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				t.Fatalf("testimage ended without printing %q", prefix)
			}
			if strings.HasPrefix(line, prefix) {
				return line
			}
		case <-timeout:
			t.Fatalf("testimage did not print %q within a minute", prefix)
		}
	}
}

func (p *process) wait() error {
	<-p.done
	return p.err
}

func get(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// checkFile runs the exec probe mode and returns its exit code.
func checkFile(t *testing.T, bin, path string) int {
	t.Helper()
	err := exec.Command(bin, "-check-file", path).Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0
}
