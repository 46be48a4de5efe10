package crashtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/podtrace/podtrace"
	"github.com/podtrace/podtrace/decode"
	"github.com/podtrace/podtrace/loadgen"
	"github.com/podtrace/podtrace/postgres"
	"github.com/podtrace/podtrace/sqlite"
	"github.com/podtrace/podtrace/storetest"
)

// binary is the podtrace binary built for this test run.
var binary string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "podtrace-crashtest")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "podtrace")
	cmd := exec.Command("go", "build", "-o", binary, "./cmd/podtrace")
	cmd.Dir = repoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build podtrace: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

func repoRoot() string {
	_, here, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(here), "..")
}

func capture(name string) string {
	return filepath.Join(repoRoot(), "testdata", "mixed-kwok-hollowkubelet-v1.34.10", name)
}

// freePort returns a loopback address nothing listens on now.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// proc is one podtrace serve process.
type proc struct {
	t    *testing.T
	args []string
	addr string
	log  *os.File
	cmd  *exec.Cmd
	done chan error
}

func newProc(t *testing.T, args ...string) *proc {
	addr := freePort(t)
	logf, err := os.Create(filepath.Join(t.TempDir(), "podtrace.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logf.Close() })
	p := &proc{t: t, addr: addr, log: logf, args: append([]string{"serve", "--http-addr", addr, "--otlp-grpc-addr", "", "--otlp-http-addr", ""}, args...)}
	t.Cleanup(func() {
		if p.cmd != nil {
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// start runs the process and waits until it is ready.
func (p *proc) start() {
	p.t.Helper()
	p.cmd = exec.Command(binary, p.args...)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	p.done = make(chan error, 1)
	go func(c *exec.Cmd, done chan error) { done <- c.Wait() }(p.cmd, p.done)
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-p.done:
			p.cmd = nil
			p.t.Fatalf("podtrace exited at start: %v\n%s", err, p.logTail())
		default:
		}
		resp, err := http.Get("http://" + p.addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.t.Fatalf("podtrace not ready after 60s\n%s", p.logTail())
}

func (p *proc) logTail() string {
	b, _ := os.ReadFile(p.log.Name())
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// kill9 kills the process with SIGKILL and waits for it.
func (p *proc) kill9() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	p.cmd = nil
}

// stop ends the process with SIGTERM and waits for a clean exit.
func (p *proc) stop() {
	p.t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.cmd = nil
		if err != nil {
			p.t.Fatalf("podtrace exit: %v\n%s", err, p.logTail())
		}
	case <-time.After(60 * time.Second):
		p.t.Fatalf("podtrace did not stop\n%s", p.logTail())
	}
}

// poster posts its batches in order, each until it is answered 200, as the
// apiserver retries.
type poster struct {
	batches [][]byte
	pause   time.Duration // between two batches, as a real apiserver's flow
	acked   []bool
	tries   int
}

func (ps *poster) run(ctx context.Context, urls func() string) error {
	client := &http.Client{Timeout: 10 * time.Second}
	for i, b := range ps.batches {
		for !ps.acked[i] {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			ps.tries++
			code, err := loadgen.Post(ctx, client, urls(), "", b)
			if err == nil && code == http.StatusOK {
				ps.acked[i] = true
				time.Sleep(ps.pause)
				break
			}
			if err == nil && code != http.StatusServiceUnavailable {
				return fmt.Errorf("batch %d: status %d", i, code)
			}
			time.Sleep(10 * time.Millisecond) // connection refused while down, or 503: retry
		}
	}
	return nil
}

// makeBatches returns n webhook batches of size events of new pods.
func makeBatches(t *testing.T, first, n, size int) [][]byte {
	g, err := loadgen.FromAuditLog(capture("audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	g.BatchEvents = size
	var out [][]byte
	for _, b := range g.Batches(first, n) {
		out = append(out, b.Body)
	}
	return out
}

// cleanReplay posts the batches, once each, to a fresh podtrace (SQLite)
// that is never hurt, and returns its records as JSON.
func cleanReplay(t *testing.T, cluster string, batches [][]byte) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "clean.db")
	p := newProc(t, "--db", path, "--cluster", cluster, "--sync", "NORMAL")
	p.start()
	client := &http.Client{Timeout: 30 * time.Second}
	for i, b := range batches {
		if code, err := loadgen.Post(context.Background(), client, "http://"+p.addr+"/audit", "", b); err != nil || code != http.StatusOK {
			t.Fatalf("clean replay, batch %d: %d %v", i, code, err)
		}
	}
	p.stop()
	return recordsJSON(t, openStore(t, path), cluster)
}

func recordsJSON(t *testing.T, st podtrace.Store, cluster string) []byte {
	t.Helper()
	recs, _, err := st.Records(context.Background(), podtrace.RecordFilter{Cluster: cluster, Limit: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) == 0 {
		t.Fatal("no records")
	}
	sort.Slice(recs, func(i, j int) bool { return fmt.Sprint(recs[i].Key()) < fmt.Sprint(recs[j].Key()) })
	b, err := json.MarshalIndent(recs, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkJournal: every relevant event of the batches is journaled exactly
// once (the journal's key makes "at most once"; this checks "at least").
func checkJournal(t *testing.T, st podtrace.Store, cluster string, batches [][]byte) {
	t.Helper()
	evs, err := st.EventsAfter(context.Background(), cluster, 0, 1<<24)
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]int{}
	for _, e := range evs {
		have[e.Key]++
	}
	var d decode.Decoder
	want := 0
	for i, b := range batches {
		d.Decode(b, func(ev *decode.Event) {
			want++
			if n := have[ev.Key()]; n != 1 {
				t.Errorf("batch %d: event %s journaled %d times", i, ev.Key(), n)
			}
		})
	}
	if len(evs) != want {
		t.Errorf("%d events journaled, want %d", len(evs), want)
	}
}

// openStore opens what a podtrace process stored in.
func openStore(t *testing.T, dsnOrPath string) podtrace.Store {
	t.Helper()
	ctx := context.Background()
	var st podtrace.Store
	var err error
	if postgres.IsDSN(dsnOrPath) {
		st, err = postgres.Open(ctx, dsnOrPath, postgres.Options{})
	} else {
		st, err = sqlite.Open(ctx, dsnOrPath, sqlite.Options{})
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// storeArgs returns the flags and the store location for a backend.
func storeArgs(t *testing.T, backend string) ([]string, string) {
	if backend == "postgres" {
		dsn := storetest.PostgresDatabase(t)
		return []string{"--postgres-dsn", dsn}, dsn
	}
	path := filepath.Join(t.TempDir(), "podtrace.db")
	return []string{"--db", path}, path
}

var backends = []string{"sqlite", "postgres"}

// TestKill9 kills podtrace with SIGKILL at random moments, at least 20
// times, while two clients post webhook batches and retry what was not
// acknowledged; then once more after the last batch. After the restart
// every batch is in the journal exactly once and the records equal a clean
// replay of the batches.
func TestKill9(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			args, where := storeArgs(t, backend)
			p := newProc(t, append(args, "--cluster", "crash")...)
			p.start()
			posters := []*poster{{batches: makeBatches(t, 0, 160, 50), pause: 15 * time.Millisecond}, {batches: makeBatches(t, 160, 160, 50), pause: 15 * time.Millisecond}}
			var mu sync.Mutex
			url := func() string { mu.Lock(); defer mu.Unlock(); return "http://" + p.addr + "/audit" }
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Second)
			defer cancel()
			errs := make(chan error, len(posters))
			var wg sync.WaitGroup
			for _, ps := range posters {
				ps.acked = make([]bool, len(ps.batches))
				wg.Add(1)
				go func() { defer wg.Done(); errs <- ps.run(ctx, url) }()
			}
			finished := make(chan struct{})
			go func() { wg.Wait(); close(finished) }()
			rng := rand.New(rand.NewPCG(1, uint64(time.Now().UnixNano())))
			kills, duringLoad := 0, 0
			for kills < 20 {
				time.Sleep(time.Duration(5+rng.IntN(120)) * time.Millisecond)
				select {
				case <-finished:
				default:
					duringLoad++
				}
				p.kill9()
				kills++
				p.start()
			}
			<-finished
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			// once more after the last acknowledgement: open pods resume
			p.kill9()
			p.start()
			p.stop()
			var all [][]byte
			tries := 0
			for _, ps := range posters {
				all = append(all, ps.batches...)
				tries += ps.tries
			}
			t.Logf("%s: %d kills (%d while batches were posted), %d batches, %d posts", backend, kills+1, duringLoad, len(all), tries)
			if duringLoad < 15 {
				t.Errorf("only %d kills landed while batches were posted", duringLoad)
			}
			st := openStore(t, where)
			checkJournal(t, st, "crash", all)
			if got, want := recordsJSON(t, st, "crash"), cleanReplay(t, "crash", all); !bytes.Equal(got, want) {
				os.WriteFile(filepath.Join(os.TempDir(), "crash-got.json"), got, 0o644)
				os.WriteFile(filepath.Join(os.TempDir(), "crash-want.json"), want, 0o644)
				t.Fatalf("records after crashes differ from a clean replay (%d vs %d bytes; see %s/crash-{got,want}.json)", len(got), len(want), os.TempDir())
			}
		})
	}
}

// TestReplicas runs two podtrace processes for one cluster on one
// PostgreSQL: batches land on either, some on both, one replica is killed
// and restarted midway. The records equal a clean replay: nothing counted
// twice, nothing lost, no record rolled back by the slower replica.
func TestReplicas(t *testing.T) {
	dsn := storetest.PostgresDatabase(t)
	a := newProc(t, "--postgres-dsn", dsn, "--cluster", "ha")
	b := newProc(t, "--postgres-dsn", dsn, "--cluster", "ha")
	a.start()
	b.start()
	batches := makeBatches(t, 0, 60, 100)
	client := &http.Client{Timeout: 10 * time.Second}
	send := func(p *proc, i int) {
		t.Helper()
		for try := 0; ; try++ {
			code, err := loadgen.Post(context.Background(), client, "http://"+p.addr+"/audit", "", batches[i])
			if err == nil && code == http.StatusOK {
				return
			}
			if try > 500 {
				t.Fatalf("batch %d to %s: %d %v", i, p.addr, code, err)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	var wg sync.WaitGroup
	for w, p := range []*proc{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(batches); i += 2 {
				send(p, i)
				if i%5 == 0 { // this batch again, to the other replica
					send([]*proc{a, b}[1-w], i)
				}
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	b.kill9() // b's sender retries until b is back
	b.start()
	wg.Wait()

	// once-per-close metrics: new pods closing while both replicas run are
	// counted by one of them only (the one that claims the record first)
	st := openStore(t, dsn)
	before, closedBefore := quiesce(t, a, b), closedCounts(t, st, "ha")
	first := len(batches)
	batches = append(batches, makeBatches(t, first, 30, 100)...)
	for i := first; i < len(batches); i++ {
		send([]*proc{a, b}[i%2], i)
		if i%4 == 0 {
			send([]*proc{a, b}[1-i%2], i)
		}
	}
	after, closedAfter := quiesce(t, a, b), closedCounts(t, st, "ha")
	for _, m := range onceMetrics {
		got, want := after[m]-before[m], closedAfter[m]-closedBefore[m]
		if want == 0 && m == onceMetrics[0] {
			t.Errorf("%s: no record closed in the second round: the check proves nothing", m)
		}
		if got != want {
			t.Errorf("%s: the replicas counted %v between them, for %v closed records", m, got, want)
		}
	}
	a.stop()
	b.stop()
	checkJournal(t, st, "ha", batches)
	if got, want := recordsJSON(t, st, "ha"), cleanReplay(t, "ha", batches); !bytes.Equal(got, want) {
		os.WriteFile(filepath.Join(os.TempDir(), "ha-got.json"), got, 0o644)
		os.WriteFile(filepath.Join(os.TempDir(), "ha-want.json"), want, 0o644)
		t.Fatalf("records of two replicas differ from a clean replay (see %s/ha-{got,want}.json)", os.TempDir())
	}
}

// onceMetrics are the metrics counted once per closed record, and what
// closedCounts counts for each: closed records, those with an SLO verdict,
// their findings.
var onceMetrics = []string{"podtrace_pod_delivery_duration_seconds_count", "podtrace_slo_deliveries_total", "podtrace_diagnosis_total"}

// closedCounts counts, for each of onceMetrics, what the store's closed
// records of a cluster call for.
func closedCounts(t *testing.T, st podtrace.Store, cluster string) map[string]float64 {
	t.Helper()
	recs, _, err := st.Records(context.Background(), podtrace.RecordFilter{Cluster: cluster, Limit: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, r := range recs {
		if r.Finished == nil {
			continue
		}
		out[onceMetrics[0]]++
		if r.SLO != nil && r.SLO.Met != nil {
			out[onceMetrics[1]]++
		}
		out[onceMetrics[2]] += float64(len(r.Diagnosis))
	}
	return out
}

// scrapeOnce reads a process's /metrics: the sum over every series of each
// of onceMetrics, and the pipeline's applied and unmatched event counts.
func scrapeOnce(t *testing.T, p *proc) (map[string]float64, string) {
	t.Helper()
	resp, err := http.Get("http://" + p.addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	sums := map[string]float64{}
	var applied []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, `podtrace_ingest_events_total{stage="applied"}`) || strings.HasPrefix(l, `podtrace_ingest_events_total{stage="unmatched"}`) {
			applied = append(applied, l)
		}
		name, _, _ := strings.Cut(l, "{")
		name, _, _ = strings.Cut(name, " ")
		for _, m := range onceMetrics {
			if name == m {
				f := strings.Fields(l)
				v, _ := strconv.ParseFloat(f[len(f)-1], 64)
				sums[m] += v
			}
		}
	}
	return sums, strings.Join(applied, " ")
}

// quiesce waits until both replicas have applied and saved all they will
// (their once-per-close metrics and applied events stay the same over three
// flushes), and returns the sum of their once-per-close metrics.
func quiesce(t *testing.T, a, b *proc) map[string]float64 {
	t.Helper()
	read := func() (map[string]float64, string) {
		sa, aa := scrapeOnce(t, a)
		sb, ab := scrapeOnce(t, b)
		for m, v := range sb {
			sa[m] += v
		}
		return sa, fmt.Sprint(sa, aa, ab)
	}
	_, last := read()
	for same, deadline := 0, time.Now().Add(60*time.Second); time.Now().Before(deadline); {
		time.Sleep(700 * time.Millisecond)
		sum, now := read()
		if now != last {
			last, same = now, 0
			continue
		}
		if same++; same == 3 {
			return sum
		}
	}
	t.Fatal("the replicas did not settle in 60 s")
	return nil
}

// peakRSS is the process's peak resident memory (VmHWM), in bytes.
func peakRSS(t *testing.T, pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) == 3 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmHWM")
	return 0
}

// TestOverload posts 3.5 MB batches from 64 clients at once, faster than podtrace
// journals them: every answer is 200 or 503 (no timeout, no other error),
// memory stays under its bound, and every acknowledged event is journaled.
func TestOverload(t *testing.T) {
	const maxRSS = 200 << 20
	path := filepath.Join(t.TempDir(), "overload.db")
	p := newProc(t, "--db", path, "--cluster", "load", "--queue-events", "8000", "--max-inflight-bytes", "16000000", "--max-body-bytes", "8000000")
	p.start()
	g, err := loadgen.FromAuditLog(capture("audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	g.BatchEvents = 2000 // 3.5 MB: 64 of them at once would take 600+ MB unbounded
	batches := g.Batches(0, 64)
	res := loadgen.Run(context.Background(), loadgen.Config{URL: "http://" + p.addr + "/audit", Concurrency: 64, Duration: 60 * time.Second,
		Client: &http.Client{Timeout: 20 * time.Second}}, batches)
	rss := peakRSS(t, p.cmd.Process.Pid)
	resp, err := http.Get("http://" + p.addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	p.stop()
	// 64 clients with 3.5 MB each exceed the 16 MB in flight at once: refused
	// before their bodies are read, or as their bytes arrive
	refused := false
	for _, want := range []string{`podtrace_http_refused_total{reason="inflight_bytes"} `, `podtrace_webhook_rejected_total{reason="inflight_bytes"} `} {
		if i := strings.Index(string(metrics), want); i >= 0 && !strings.HasPrefix(string(metrics[i+len(want):]), "0\n") {
			refused = true
		}
	}
	if !refused {
		t.Error("metrics: the in-flight bound refused nothing")
	}
	t.Logf("%v; peak RSS %d MB", res, rss>>20)
	if res.Failed > 0 {
		t.Errorf("%d requests failed or timed out; want only 200 and 503", res.Failed)
	}
	if res.Overloaded == 0 {
		t.Errorf("no 503: the test did not overload podtrace")
	}
	if res.Accepted == 0 {
		t.Fatal("nothing accepted")
	}
	if rss > maxRSS {
		t.Errorf("peak RSS %d MB over the bound %d MB", rss>>20, maxRSS>>20)
	}
	// what was acknowledged is journaled: count the relevant events of
	// accepted batches against the journal
	st := openStore(t, path)
	evs, err := st.EventsAfter(context.Background(), "load", 0, 1<<24)
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, e := range evs {
		have[e.Key] = true
	}
	var d decode.Decoder
	lost := 0
	for _, i := range res.Acked {
		d.Decode(batches[i].Body, func(ev *decode.Event) {
			if !have[ev.Key()] {
				lost++
			}
		})
	}
	if lost > 0 {
		t.Errorf("%d acknowledged events are not in the journal", lost)
	}
}
