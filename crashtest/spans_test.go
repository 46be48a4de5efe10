package crashtest

import (
	"bufio"
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// lines reads a capture file's non-empty lines: webhook batches, or
// OTLP/JSON export requests as the components sent them.
func lines(t *testing.T, name string) [][]byte {
	t.Helper()
	f, err := os.Open(capture(name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<20)
	var out [][]byte
	for sc.Scan() {
		if l := bytes.TrimSpace(sc.Bytes()); len(l) > 0 {
			out = append(out, append([]byte(nil), l...))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// postAll posts every body once, each until it is answered 200.
func postAll(t *testing.T, url string, bodies [][]byte) {
	t.Helper()
	ps := &poster{batches: bodies, acked: make([]bool, len(bodies))}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := ps.run(ctx, func() string { return url }); err != nil {
		t.Fatal(err)
	}
}

// TestKill9Spans kills podtrace with SIGKILL at random moments while a
// client sends the real capture's component spans over OTLP/HTTP, retrying
// what was not acknowledged: after the capture's audit events (spans join
// pods known before the crash), and before them (spans wait in memory for
// their pods across the crashes). After the restarts the records, with the
// spans joined to them, equal those of a podtrace that was never hurt:
// every acknowledged span is kept, exactly once.
func TestKill9Spans(t *testing.T) {
	audit, spans := lines(t, "audit-webhook-batches.jsonl"), lines(t, "otlp-raw.jsonl")
	for _, backend := range backends {
		for _, spansFirst := range []bool{false, true} {
			name := backend + "/audit-first"
			if spansFirst {
				name = backend + "/spans-first"
			}
			t.Run(name, func(t *testing.T) {
				args, where := storeArgs(t, backend)
				p := newProc(t, append(args, "--cluster", "spans")...)
				p.start()
				if !spansFirst {
					postAll(t, "http://"+p.addr+"/audit", audit)
				}
				ps := &poster{batches: spans, acked: make([]bool, len(spans)), pause: 20 * time.Millisecond}
				var mu sync.Mutex
				url := func() string { mu.Lock(); defer mu.Unlock(); return "http://" + p.addr + "/v1/traces" }
				ctx, cancel := context.WithTimeout(context.Background(), 100*time.Second)
				defer cancel()
				errc := make(chan error, 1)
				go func() { errc <- ps.run(ctx, url) }()
				rng := rand.New(rand.NewPCG(2, uint64(time.Now().UnixNano())))
				kills, duringLoad := 0, 0
			loop:
				for kills < 8 {
					// a pause past the flush interval now and then: a save
					// moves the applied position past spans still waiting
					time.Sleep(time.Duration(20+rng.IntN(700)) * time.Millisecond)
					select {
					case err := <-errc:
						errc <- err
						break loop
					default:
						duringLoad++
					}
					p.kill9()
					kills++
					mu.Lock()
					p.start()
					mu.Unlock()
				}
				if err := <-errc; err != nil {
					t.Fatal(err)
				}
				p.kill9() // once more after the last acknowledgement
				p.start()
				if spansFirst {
					postAll(t, "http://"+p.addr+"/audit", audit)
				}
				p.stop()
				t.Logf("%s: %d kills (%d while spans were sent), %d OTLP requests, %d posts", name, kills+1, duringLoad, len(spans), ps.tries)
				if duringLoad < 2 {
					t.Errorf("only %d kills landed while spans were sent", duringLoad)
				}
				got := recordsJSON(t, openStore(t, where), "spans")

				cleanDB := filepath.Join(t.TempDir(), "clean.db")
				clean := newProc(t, "--db", cleanDB, "--cluster", "spans", "--sync", "NORMAL")
				clean.start()
				first, then := audit, spans
				if spansFirst {
					first, then = spans, audit
				}
				postAll(t, "http://"+clean.addr+map[bool]string{false: "/audit", true: "/v1/traces"}[spansFirst], first)
				postAll(t, "http://"+clean.addr+map[bool]string{false: "/v1/traces", true: "/audit"}[spansFirst], then)
				clean.stop()
				want := recordsJSON(t, openStore(t, cleanDB), "spans")
				if !bytes.Contains(want, []byte(`"spans"`)) {
					t.Fatal("the clean run joined no spans: the test proves nothing")
				}
				if !bytes.Equal(got, want) {
					os.WriteFile(filepath.Join(os.TempDir(), "spans-got.json"), got, 0o644)
					os.WriteFile(filepath.Join(os.TempDir(), "spans-want.json"), want, 0o644)
					t.Fatalf("records after crashes differ from a clean run (%d vs %d bytes; see %s/spans-{got,want}.json)", len(got), len(want), os.TempDir())
				}
			})
		}
	}
}
