package auditfile_test

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/podtrace/podtrace/auditfile"
	"github.com/podtrace/podtrace/ingest"
)

// queue is a real in-process receiver of batches that records what it got
// (audit ids and offsets), acknowledging at once.
type queue struct {
	mu      sync.Mutex
	ids     map[string]int
	offsets map[string]int64
}

func (q *queue) Enqueue(ctx context.Context, b ingest.Batch, block bool) (<-chan error, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, ev := range b.Events {
		q.ids[ev.Key()]++
	}
	for k, v := range b.Offsets {
		q.offsets[k] = v
	}
	done := make(chan error, 1)
	done <- nil
	return done, nil
}

func (q *queue) count() (int, map[string]int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	off := map[string]int64{}
	for k, v := range q.offsets {
		off[k] = v
	}
	return len(q.ids), off
}

func captureLines(t *testing.T) []string {
	f, err := os.Open("../testdata/kwok-only-v1.34.10/audit.log")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<20)
	var out []string
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestFollow writes a live audit log the way the apiserver does — lines
// appended over time, a partial line, rotation to a new file, truncation —
// and checks every event arrives once, and a restart at the saved offset
// reads nothing twice.
func TestFollow(t *testing.T) {
	lines := captureLines(t)
	a, b := splits(lines)
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	// how many relevant events each part holds, by replaying it
	want := relevantIn(t, dir, lines)

	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	q := &queue{ids: map[string]int{}, offsets: map[string]int64{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- auditfile.NewReader(q).Follow(ctx, path, 0, 0, 10*time.Millisecond) }()

	// part 1, with the last line written in two halves
	for _, l := range lines[:a-1] {
		f.WriteString(l + "\n")
	}
	last := lines[a-1]
	f.WriteString(last[:len(last)/2])
	time.Sleep(50 * time.Millisecond)
	f.WriteString(last[len(last)/2:] + "\n")
	f.Close()
	waitFor(t, "part 1", func() bool { n, _ := q.count(); return n == want[0] })

	// rotation: the file is renamed and a new one created
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	f, _ = os.Create(path)
	for _, l := range lines[a:b] {
		f.WriteString(l + "\n")
	}
	f.Close()
	waitFor(t, "part 2 after rotation", func() bool { n, _ := q.count(); return n == want[0]+want[1] })

	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	_, off := q.count()
	name := auditfile.SourceName(path)
	if off[name] == 0 || off[name+"#inode"] == 0 {
		t.Fatalf("no offset saved: %v", off)
	}

	// restart at the saved offset, append part 3: only part 3 is new
	f, _ = os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	for _, l := range lines[b:] {
		f.WriteString(l + "\n")
	}
	f.Close()
	q2 := &queue{ids: map[string]int{}, offsets: map[string]int64{}}
	ctx2, cancel2 := context.WithCancel(context.Background())
	go func() {
		done <- auditfile.NewReader(q2).Follow(ctx2, path, off[name], off[name+"#inode"], 10*time.Millisecond)
	}()
	waitFor(t, "part 3 after restart", func() bool { n, _ := q2.count(); return n == want[2] })
	time.Sleep(100 * time.Millisecond)
	if n, _ := q2.count(); n != want[2] {
		t.Fatalf("restart read %d events, want %d (part 3 only)", n, want[2])
	}

	// truncation: the file starts over
	os.WriteFile(path, []byte(lines[0]+"\n"+lines[1]+"\n"), 0o644)
	time.Sleep(200 * time.Millisecond)
	cancel2()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for k, n := range q2.ids {
		if n != 1 {
			t.Errorf("event %s read %d times", k, n)
		}
	}
}

// splits cuts the capture in three parts that each hold pod events (the
// scenario starts after the control plane's own start-up).
func splits(lines []string) (int, int) { return len(lines) * 70 / 100, len(lines) * 80 / 100 }

// relevantIn counts the relevant events of each part of the capture.
func relevantIn(t *testing.T, dir string, lines []string) [3]int {
	a, b := splits(lines)
	parts := [3][]string{lines[:a], lines[a:b], lines[b:]}
	var out [3]int
	for i, part := range parts {
		p := filepath.Join(dir, "part")
		f, _ := os.Create(p)
		for _, l := range part {
			f.WriteString(l + "\n")
		}
		f.Close()
		q := &queue{ids: map[string]int{}, offsets: map[string]int64{}}
		r := auditfile.NewReader(q)
		if err := r.Replay(context.Background(), p, nil); err != nil {
			t.Fatal(err)
		}
		out[i], _ = q.count()
		if out[i] == 0 {
			t.Fatalf("part %d has no pod events: the test proves nothing", i)
		}
	}
	return out
}
