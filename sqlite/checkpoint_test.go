package sqlite_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/podtrace/podtrace"
	"github.com/podtrace/podtrace/sqlite"
)

// appendMB journals about 1 MB (400 events of 2.5 kB that do not
// compress) as batch i.
func appendMB(t *testing.T, st *sqlite.Store, i int) {
	t.Helper()
	rnd := rand.New(rand.NewPCG(uint64(i), 0))
	evs := make([]podtrace.JournalEvent, 400)
	for j := range evs {
		body := make([]byte, 2500)
		for k := range body {
			body[k] = byte(rnd.Uint32())
		}
		key := fmt.Sprintf("b%d-e%d/ResponseComplete", i, j)
		evs[j] = podtrace.JournalEvent{Cluster: "c", Key: key, UID: key, Time: time.Unix(0, int64(i*400+j)), Body: body}
	}
	if _, err := st.AppendEvents(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
}

// openCheckpointing opens a store in a new directory whose checkpointer
// runs every every, closed when the test ends.
func openCheckpointing(t *testing.T, every time.Duration) (*sqlite.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "store.db")
	st, err := sqlite.Open(context.Background(), path, sqlite.Options{CheckpointEvery: every})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st, path
}

func walSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// The writer never checkpoints (an append never waits for the log to be
// copied into the database); Checkpoint copies all of it and truncates it.
func TestWriterDoesNotCheckpoint(t *testing.T) {
	ctx := context.Background()
	st, path := openCheckpointing(t, time.Hour)
	for i := range 20 {
		appendMB(t, st, i)
	}
	// SQLite's own checkpoint after each commit past 1000 pages would keep
	// the log near 4 MB
	if n := walSize(t, path); n < 20<<20 {
		t.Fatalf("log holds %d bytes after 20 MB of appends: the writer checkpointed", n)
	}
	if err := st.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if n := walSize(t, path); n != 0 {
		t.Fatalf("log holds %d bytes after Checkpoint, want 0", n)
	}
	evs, err := st.EventsAfter(ctx, "c", 0, 100_000)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 20*400 {
		t.Fatalf("%d events read back, want %d", len(evs), 20*400)
	}
}

// The checkpointer copies the log behind the writer, so the log starts
// over instead of growing with everything written.
func TestCheckpointerKeepsLogShort(t *testing.T) {
	st, path := openCheckpointing(t, time.Millisecond)
	// 1 MB per append: once the log is smaller than what was written, it
	// started over, after the checkpointer had copied all of it
	for i := range 200 {
		appendMB(t, st, i)
		if i >= 10 && walSize(t, path) < int64(i)<<20 {
			t.Logf("log started over after %d MB written", i+1)
			return
		}
	}
	t.Fatalf("log holds %d bytes after 200 MB written: the checkpointer never caught up", walSize(t, path))
}
