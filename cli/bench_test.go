package cli_test

import (
	"regexp"
	"strings"
	"testing"
)

// TestBenchInput: podtrace bench --input prints, for any audit log, each
// figure issue 17's targets are read from (no timing is checked).
func TestBenchInput(t *testing.T) {
	out, errOut, code := runCLI(t, "bench", "--input", capture, "--webhook", "0", "--dir", t.TempDir())
	if code != 0 {
		t.Fatalf("bench --input: %d %s", code, errOut)
	}
	for _, want := range []string{
		`events/s .*x the Valid pass`,
		`CPU-s per 1k events`,
		`replay peak RSS: \d+ MiB`,
		`store: [\d.]+ MB, [\d.]+ bytes per input byte`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
}

// TestBenchOpenPods: podtrace bench --open-pods N holds N pods open and
// prints what each costs.
func TestBenchOpenPods(t *testing.T) {
	out, errOut, code := runCLI(t, "bench", "--open-pods", "50", "--capture", capture, "--dir", t.TempDir())
	if code != 0 {
		t.Fatalf("bench --open-pods: %d %s", code, errOut)
	}
	if !strings.Contains(out, "open pods: 50 (150 events") || !regexp.MustCompile(`-?\d+ B per open pod`).MatchString(out) {
		t.Errorf("bench --open-pods 50:\n%s", out)
	}
}
