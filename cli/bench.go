package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/podtrace/podtrace/decode"
	"github.com/podtrace/podtrace/demo"
	"github.com/podtrace/podtrace/lifecycle"
	"github.com/podtrace/podtrace/loadgen"
	"github.com/podtrace/podtrace/server"
	"github.com/podtrace/podtrace/synth"
)

// runBench replays an audit log through the whole pipeline into SQLite and
// prints throughput next to a bare encoding/json Valid pass over the same
// file, CPU seconds, peak RSS and the store's size; then posts webhook
// batches to a real podtrace serve. The log is --input, or a large
// synthetic one (the real capture replicated with rewritten namespaces and
// uids). With --open-pods N it measures instead what N pods kept open cost.
func runBench(ctx context.Context, env Env, args []string) error {
	fs := flagSet("bench", env)
	input := fs.String("input", "", "audit log to replay (default: a synthetic one, --copies of --capture)")
	copies := fs.Int("copies", 200, "copies of the capture in the synthetic log")
	capture := fs.String("capture", "", "audit log to replicate (default: the shipped kwok-only capture)")
	openPods := fs.Int("open-pods", 0, "measure instead the live heap and peak RSS of this many pods open at once (created, bound, status patched, never ready)")
	keep := fs.String("dir", "", "work directory to keep (default: a temporary one, removed)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the whole-pipeline replay to this file")
	memprofile := fs.String("memprofile", "", "write a heap profile of the whole-pipeline replay, taken when its live heap was largest, to this file")
	webhookFor := fs.Duration("webhook", 20*time.Second, "then post apiserver-shaped webhook batches to a real podtrace serve for this long (0: skip)")
	interleave := fs.Int("interleave", 16, "copies of the capture whose events each webhook batch interleaves, as a busy cluster's pods do (1 with --input)")
	webhookRate := fs.Int("webhook-rate", 0, "events/s the open-loop webhook phase is paced at (default: 50,000; 20,000 with --input, the pod-heavy target)")
	webhookClosed := fs.Int("webhook-sustain", 0, "events/s the closed-loop webhook phase must sustain (default: 50,000; 30,000 with --input)")
	webhookProfile := fs.String("webhook-cpuprofile", "", "write a CPU profile of the closed-loop webhook run (server and load generator) to this file")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	dir := *keep
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "podtrace-bench-"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if *capture == "" && (*input == "" || *openPods > 0) {
		caps, err := demo.WriteCaptures(dir)
		if err != nil {
			return err
		}
		*capture = caps[0].Path
	}
	if *openPods > 0 {
		return benchOpenPods(ctx, env, dir, *capture, *openPods)
	}
	logPath := *input
	if logPath == "" {
		var err error
		if logPath, err = writeSynthetic(env, dir, *capture, *copies); err != nil {
			return err
		}
	}
	prof := profiles{cpu: *cpuprofile, mem: *memprofile}
	if err := benchReplay(ctx, env, dir, logPath, prof); err != nil {
		return err
	}
	if *webhookFor <= 0 {
		return nil
	}
	g, err := webhookGenerator(dir, *input, *interleave)
	if err != nil {
		return err
	}
	t := webhookTarget{Paced: 50_000, Sustain: 50_000}
	if *input != "" {
		t = webhookTarget{Paced: 20_000, Sustain: 30_000}
	}
	if *webhookRate > 0 {
		t.Paced = *webhookRate
	}
	if *webhookClosed > 0 {
		t.Sustain = *webhookClosed
	}
	return benchWebhook(ctx, env, dir, g, *webhookFor, t, *webhookProfile)
}

// writeSynthetic writes copies of the capture to a log in dir.
func writeSynthetic(env Env, dir, capture string, copies int) (string, error) {
	c, err := synth.Load(capture, "demo")
	if err != nil {
		return "", err
	}
	logPath := filepath.Join(dir, "synthetic-audit.log")
	f, err := os.Create(logPath)
	if err != nil {
		return "", err
	}
	size, err := c.Write(f, copies)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("write synthetic log: %w", err)
	}
	fmt.Fprintf(env.Stdout, "synthetic log: %d copies of %s, %d events, %.1f MB\n", copies, filepath.Base(capture), len(c.Lines)*copies, float64(size)/1e6)
	return logPath, nil
}

// profiles name the files the replay's CPU and heap profiles go to ("":
// none).
type profiles struct{ cpu, mem string }

// benchReplay times a Valid pass and a decode pass over the log, then
// replays it through the whole pipeline into a fresh SQLite database in
// dir, and prints what each cost.
func benchReplay(ctx context.Context, env Env, dir, logPath string, prof profiles) error {
	st, err := os.Stat(logPath)
	if err != nil {
		return err
	}
	size := st.Size()
	valid, err := timedPass(logPath, func(b []byte) { json.Valid(b) })
	if err != nil {
		return err
	}
	d := decode.Decoder{KeepRaw: true}
	dec, err := timedPass(logPath, func(b []byte) { d.Decode(b, func(*decode.Event) {}) })
	if err != nil {
		return err
	}
	if prof.cpu != "" {
		pf, err := os.Create(prof.cpu)
		if err != nil {
			return err
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
	}
	var heap *heapWatch
	if prof.mem != "" {
		heap = watchHeap()
	}
	db := filepath.Join(dir, "bench.db")
	resetPeakRSS()
	steal, cpu0 := readSteal(), cpuTime()
	sum, err := replayFiles(ctx, env, db, []string{logPath}, replayOptions{Cluster: "bench"})
	cpu := cpuTime() - cpu0
	peak := peakRSS()
	if prof.cpu != "" {
		pprof.StopCPUProfile()
	}
	if heap != nil {
		if herr := heap.write(prof.mem); err == nil {
			err = herr
		}
	}
	if err != nil {
		return err
	}
	stored := fileSizes(db, db+"-wal")
	mbps := func(d time.Duration) float64 { return float64(size) / 1e6 / d.Seconds() }
	events := float64(sum.Events)
	fmt.Fprintf(env.Stdout, "input: %s, %.1f MB, %d events (%d about pods), %.0f B an event\n", logPath, float64(size)/1e6, sum.Events, sum.Relevant, float64(size)/max(events, 1))
	fmt.Fprintf(env.Stdout, "encoding/json Valid pass:        %8.1f MB/s\n", mbps(valid))
	fmt.Fprintf(env.Stdout, "decode (podtrace scanner):       %8.1f MB/s  %10.0f events/s\n", mbps(dec), events/dec.Seconds())
	fmt.Fprintf(env.Stdout, "whole pipeline into SQLite:      %8.1f MB/s  %10.0f events/s  (%.2fx the Valid pass)\n",
		mbps(sum.Elapsed), events/sum.Elapsed.Seconds(), valid.Seconds()/sum.Elapsed.Seconds())
	fmt.Fprintf(env.Stdout, "replay: %s\n", sum)
	fmt.Fprintf(env.Stdout, "replay CPU time: %.2f s on %d cores, %.4f CPU-s per 1k events (%.0f events, %.1f MB per CPU-second: on a busy machine, what a free core does)%s\n",
		cpu.Seconds(), runtime.GOMAXPROCS(0), cpu.Seconds()*1000/max(events, 1), events/cpu.Seconds(), float64(size)/1e6/cpu.Seconds(), steal.since())
	fmt.Fprintf(env.Stdout, "replay peak RSS: %s\n", formatMiB(peak))
	fmt.Fprintf(env.Stdout, "store: %.1f MB, %.3f bytes per input byte\n", float64(stored)/1e6, float64(stored)/float64(size))
	return nil
}

// fileSizes is the total size of the files that exist among paths.
func fileSizes(paths ...string) int64 {
	var n int64
	for _, p := range paths {
		if st, err := os.Stat(p); err == nil {
			n += st.Size()
		}
	}
	return n
}

// heapWatch keeps the heap profile of the moment the live heap was
// largest, checked four times a second.
type heapWatch struct {
	stop chan struct{}
	done chan struct{}
	prof bytes.Buffer
	err  error
}

func watchHeap() *heapWatch {
	h := &heapWatch{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(h.done)
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		var most uint64
		sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		for {
			select {
			case <-h.stop:
				return
			case <-t.C:
			}
			metrics.Read(sample)
			if v := sample[0].Value.Uint64(); v > most {
				most = v
				h.prof.Reset()
				h.err = pprof.Lookup("heap").WriteTo(&h.prof, 0)
			}
		}
	}()
	return h
}

// write stops watching and writes the profile kept to path.
func (h *heapWatch) write(path string) error {
	close(h.stop)
	<-h.done
	if h.err != nil {
		return h.err
	}
	return os.WriteFile(path, h.prof.Bytes(), 0o644)
}

// webhookGenerator makes the webhook phases' batches: from the input log
// (its first webhookEvents events, copied with new uids), or from the
// shipped mixed capture, interleave copies at a time.
func webhookGenerator(dir, input string, interleave int) (*loadgen.Generator, error) {
	if input != "" {
		g, err := loadgen.FromAuditLogHead(input, webhookEvents)
		if err != nil {
			return nil, err
		}
		g.Interleave = 1 // a real log mixes its pods already
		return g, nil
	}
	caps, err := demo.WriteCaptures(dir)
	if err != nil {
		return nil, err
	}
	capture := caps[len(caps)-1].Path
	for _, c := range caps {
		if c.Cluster == "mixed" {
			capture = c.Path
		}
	}
	g, err := loadgen.FromAuditLog(capture)
	if err != nil {
		return nil, err
	}
	g.Interleave = interleave
	return g, nil
}

// webhookEvents bounds the events of an input log the webhook phases copy
// (the batches of one pass are held in memory).
const webhookEvents = 25_600

// benchWebhook serves a fresh SQLite database (synchronous FULL, as
// podtrace serve runs by default) on a loopback port and posts
// apiserver-shaped batches of g's events to it: 400 events each, with new
// pods on every pass. It runs twice, each time on a fresh database:
// closed-loop with 4 requests in flight, which finds the most podtrace
// sustains, then open-loop paced at t.Paced events/s, which measures the
// ack latency at that rate from when each batch was due.
func benchWebhook(ctx context.Context, env Env, dir string, g *loadgen.Generator, d time.Duration, t webhookTarget, cpuprofile string) error {
	if cpuprofile != "" {
		pf, err := os.Create(cpuprofile)
		if err != nil {
			return err
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
	}
	steal, cpu0 := readSteal(), cpuTime()
	closed, err := webhookLoad(ctx, env, filepath.Join(dir, "webhook-closed.db"), g, loadgen.Config{Concurrency: 4, Duration: d, Loop: true})
	if cpuprofile != "" {
		pprof.StopCPUProfile()
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "webhook into SQLite, closed loop (400-event batches, 4 in flight, %v): %s; %s%s\n", d, closed, cpuPerEvent(cpu0, closed), steal.since())
	steal, cpu0 = readSteal(), cpuTime()
	paced, err := webhookLoad(ctx, env, filepath.Join(dir, "webhook-paced.db"), g, loadgen.Config{Rate: float64(t.Paced), Duration: d, Loop: true})
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "webhook into SQLite, open loop (400-event batches, %v): %s; %s%s\n", d, paced, cpuPerEvent(cpu0, paced), steal.since())
	verdict := "met"
	keptUp := paced.Overloaded == 0 && paced.Failed == 0 && paced.EventsPerSecond() >= 0.98*float64(t.Paced)
	if closed.EventsPerSecond() < float64(t.Sustain) || !keptUp || paced.Percentile(99) >= 100*time.Millisecond {
		verdict = "NOT met"
	}
	fmt.Fprintf(env.Stdout, "webhook target (closed loop sustains >= %d events/s; paced at %d events/s, p99 ack < 100ms): %s\n", t.Sustain, t.Paced, verdict)
	return nil
}

// webhookTarget is what the webhook phases must reach: the closed loop
// sustain Sustain events/s, and at Paced events/s the p99 ack stay under
// 100 ms.
type webhookTarget struct{ Paced, Sustain int }

// webhookLoad serves a fresh database at db and runs the load lcfg
// against its webhook.
func webhookLoad(ctx context.Context, env Env, db string, g *loadgen.Generator, lcfg loadgen.Config) (*loadgen.Result, error) {
	cfg := server.DefaultConfig()
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.DB = db
	cfg.OTLPGRPCAddr, cfg.OTLPHTTPAddr = "", ""
	srv, err := server.Start(ctx, cfg, logger(env))
	if err != nil {
		return nil, err
	}
	lcfg.URL = "http://" + srv.Addr() + "/audit"
	res := loadgen.Run(ctx, lcfg, g.Batches(0, max(64, g.GroupBatches())))
	if err := srv.Close(); err != nil {
		return nil, err
	}
	return res, nil
}

// timedPass reads the file line by line and times fn over every line
// (reading included, as a replay must read too).
func timedPass(path string, fn func([]byte)) (time.Duration, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	start := time.Now()
	br := bufio.NewReaderSize(f, 1<<20)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			fn(bytes.TrimRight(line, "\n"))
		}
		if err != nil {
			break
		}
	}
	return time.Since(start), nil
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuPerEvent is the CPU time this process (podtrace and the load
// generator) spent since cpu0 per event acknowledged: unlike throughput,
// it hardly moves when the host takes CPU away.
func cpuPerEvent(cpu0 time.Duration, res *loadgen.Result) string {
	if res.Events == 0 {
		return "no events"
	}
	return fmt.Sprintf("CPU %.1f µs/event", float64((cpuTime()-cpu0).Nanoseconds())/1e3/float64(res.Events))
}

// cpuStat is the machine's CPU time counters from /proc/stat (Linux):
// steal is the time the hypervisor gave this VM's CPUs to others, which
// a benchmark on a shared host must report beside its figures.
type cpuStat struct{ total, steal uint64 }

func readSteal() cpuStat {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuStat{}
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return cpuStat{}
	}
	var s cpuStat
	for i, v := range f[1:] {
		n, _ := strconv.ParseUint(v, 10, 64)
		if i < 8 { // user nice system idle iowait irq softirq steal; guest time is inside user
			s.total += n
		}
		if i == 7 {
			s.steal = n
		}
	}
	return s
}

// since formats the share of CPU time stolen since s, or nothing where
// /proc/stat is not there.
func (s cpuStat) since() string {
	now := readSteal()
	if s.total == 0 || now.total <= s.total {
		return ""
	}
	return fmt.Sprintf(" (host CPU steal %.0f%%)", 100*float64(now.steal-s.steal)/float64(now.total-s.total))
}

// peakRSS is the process's peak resident set size (VmHWM, Linux; 0
// elsewhere), since it started or since resetPeakRSS.
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// resetPeakRSS starts peakRSS over from the resident set size now (Linux:
// writing 5 to clear_refs), so a phase's peak is its own; where it cannot,
// the peak is the process's.
func resetPeakRSS() {
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

func formatMiB(n int64) string {
	if n <= 0 {
		return "unknown"
	}
	return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
}

// benchOpenPods replays a log of n pods that are created, bound and given
// a first status, all at once and never ready, so all n are open at the
// end; it prints the live heap they hold (after a GC, on the pipeline's own
// goroutine once it has applied them all) per pod, and the replay's peak
// RSS. The pods are copies of the capture's first pod.
func benchOpenPods(ctx context.Context, env Env, dir, capture string, n int) error {
	logPath := filepath.Join(dir, "open-pods.log")
	size, err := writeOpenPods(capture, logPath, n)
	if err != nil {
		return err
	}
	var before, after runtime.MemStats
	var open int
	runtime.GC()
	runtime.ReadMemStats(&before)
	resetPeakRSS()
	sum, err := replayFiles(ctx, env, filepath.Join(dir, "open-pods.db"), []string{logPath}, replayOptions{
		Cluster: "bench",
		Applied: func(m *lifecycle.Machine) {
			runtime.GC()
			runtime.ReadMemStats(&after)
			open = m.Len()
		},
	})
	if err != nil {
		return err
	}
	peak := peakRSS()
	fmt.Fprintf(env.Stdout, "open pods: %d (%d events, %.1f MB), replayed at %.0f events/s\n", open, sum.Events, float64(size)/1e6, float64(sum.Events)/sum.Elapsed.Seconds())
	fmt.Fprintf(env.Stdout, "live heap: %.1f MiB more with them open, %.0f B per open pod\n",
		float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/(1<<20), float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/float64(max(open, 1)))
	fmt.Fprintf(env.Stdout, "replay peak RSS: %s\n", formatMiB(peak))
	return nil
}

// writeOpenPods writes n copies of the capture's first pod's create,
// binding and first status patch to path (each copy in a namespace of its
// own and with uids of its own, all at the template's times).
func writeOpenPods(capture, path string, n int) (int64, error) {
	c, err := synth.Load(capture)
	if err != nil {
		return 0, err
	}
	var d decode.Decoder
	var name, ns string
	var lines [][]byte
	for _, l := range c.Lines {
		d.Decode(l, func(ev *decode.Event) {
			r := ev.Ref
			switch {
			case r.Resource != "pods" || !ev.Succeeded() || len(lines) == 3:
			case name == "" && ev.Verb == "create" && r.Subresource == "":
				name, ns = r.Name, r.Namespace
				if name == "" && ev.Pod != nil {
					name = ev.Pod.Name
				}
				lines = append(lines, l)
			case name != "" && r.Name == name && len(lines) == 1 && ev.Verb == "create" && r.Subresource == "binding",
				name != "" && r.Name == name && len(lines) == 2 && ev.Verb == "patch" && r.Subresource == "status":
				lines = append(lines, l)
			}
		})
	}
	if len(lines) < 3 {
		return 0, fmt.Errorf("open pods: %s has no pod created, bound and status patched", capture)
	}
	tmpl := &synth.Capture{Lines: lines, Namespaces: []string{ns}}
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	size, err := tmpl.Write(f, n)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, fmt.Errorf("write open pods: %w", err)
	}
	return size, nil
}
