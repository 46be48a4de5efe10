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
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/podtrace/podtrace/decode"
	"github.com/podtrace/podtrace/demo"
	"github.com/podtrace/podtrace/loadgen"
	"github.com/podtrace/podtrace/server"
	"github.com/podtrace/podtrace/synth"
)

// runBench replays a large synthetic audit log (the real capture replicated
// with rewritten namespaces and uids) through the whole pipeline into
// SQLite, and prints throughput next to a bare encoding/json Valid pass.
func runBench(ctx context.Context, env Env, args []string) error {
	fs := flagSet("bench", env)
	copies := fs.Int("copies", 200, "copies of the capture in the synthetic log")
	capture := fs.String("capture", "", "audit log to replicate (default: the shipped kwok-only capture)")
	keep := fs.String("dir", "", "work directory to keep (default: a temporary one, removed)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the whole-pipeline replay to this file")
	webhookFor := fs.Duration("webhook", 20*time.Second, "then post apiserver-shaped webhook batches to a real podtrace serve for this long (0: skip)")
	interleave := fs.Int("interleave", 16, "copies of the capture whose events each webhook batch interleaves, as a busy cluster's pods do")
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
	}
	if *capture == "" {
		caps, err := demo.WriteCaptures(dir)
		if err != nil {
			return err
		}
		*capture = caps[0].Path
	}
	c, err := synth.Load(*capture, "demo")
	if err != nil {
		return err
	}
	logPath := filepath.Join(dir, "synthetic-audit.log")
	f, err := os.Create(logPath)
	if err != nil {
		return err
	}
	size, err := c.Write(f, *copies)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write synthetic log: %w", err)
	}
	fmt.Fprintf(env.Stdout, "synthetic log: %d copies of %s, %d events, %.1f MB\n", *copies, filepath.Base(*capture), len(c.Lines)**copies, float64(size)/1e6)

	valid, err := timedPass(logPath, func(b []byte) { json.Valid(b) })
	if err != nil {
		return err
	}
	d := decode.Decoder{KeepRaw: true}
	dec, err := timedPass(logPath, func(b []byte) { d.Decode(b, func(*decode.Event) {}) })
	if err != nil {
		return err
	}
	if *cpuprofile != "" {
		pf, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
	}
	cpu0 := cpuTime()
	sum, err := replayFiles(ctx, env, filepath.Join(dir, "bench.db"), []string{logPath}, replayOptions{Cluster: "bench"})
	cpu := cpuTime() - cpu0
	if *cpuprofile != "" {
		pprof.StopCPUProfile()
	}
	if err != nil {
		return err
	}
	mbps := func(d time.Duration) float64 { return float64(size) / 1e6 / d.Seconds() }
	fmt.Fprintf(env.Stdout, "encoding/json Valid pass:        %8.1f MB/s\n", mbps(valid))
	fmt.Fprintf(env.Stdout, "decode (podtrace scanner):       %8.1f MB/s  %10.0f events/s\n", mbps(dec), float64(sum.Events)/dec.Seconds())
	fmt.Fprintf(env.Stdout, "whole pipeline into SQLite:      %8.1f MB/s  %10.0f events/s  (%.2fx the Valid pass)\n",
		mbps(sum.Elapsed), float64(sum.Events)/sum.Elapsed.Seconds(), valid.Seconds()/sum.Elapsed.Seconds())
	fmt.Fprintf(env.Stdout, "replay: %s\n", sum)
	fmt.Fprintf(env.Stdout, "replay CPU time: %.2f s on %d cores (%.0f events, %.1f MB per CPU-second: on a busy machine, what a free core does)\n",
		cpu.Seconds(), runtime.GOMAXPROCS(0), float64(sum.Events)/cpu.Seconds(), float64(size)/1e6/cpu.Seconds())
	fmt.Fprintf(env.Stdout, "peak RSS: %s\n", peakRSS())
	if *webhookFor <= 0 {
		return nil
	}
	return benchWebhook(ctx, env, dir, *webhookFor, *interleave, *webhookProfile)
}

// benchWebhook serves a fresh SQLite database (synchronous FULL, as
// podtrace serve runs by default) on a loopback port and posts
// apiserver-shaped batches to it: 400 events each, copied from the real
// mixed capture with new pods on every pass. It runs twice, each time on a
// fresh database: closed-loop with 4 requests in flight, which finds the
// most podtrace sustains, then open-loop paced at the target rate, which
// measures the ack latency at that rate from when each batch was due.
func benchWebhook(ctx context.Context, env Env, dir string, d time.Duration, interleave int, cpuprofile string) error {
	caps, err := demo.WriteCaptures(dir)
	if err != nil {
		return err
	}
	capture := caps[len(caps)-1].Path
	for _, c := range caps {
		if c.Cluster == "mixed" {
			capture = c.Path
		}
	}
	g, err := loadgen.FromAuditLog(capture)
	if err != nil {
		return err
	}
	g.Interleave = interleave
	const target = 50_000
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
	paced, err := webhookLoad(ctx, env, filepath.Join(dir, "webhook-paced.db"), g, loadgen.Config{Rate: target, Duration: d, Loop: true})
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "webhook into SQLite, open loop (400-event batches, %v): %s; %s%s\n", d, paced, cpuPerEvent(cpu0, paced), steal.since())
	verdict := "met"
	keptUp := paced.Overloaded == 0 && paced.Failed == 0 && paced.EventsPerSecond() >= 0.98*target
	if closed.EventsPerSecond() < target || !keptUp || paced.Percentile(99) >= 100*time.Millisecond {
		verdict = "NOT met"
	}
	fmt.Fprintf(env.Stdout, "webhook target (sustains >= %d events/s; at that rate p99 ack < 100ms): %s\n", target, verdict)
	return nil
}

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

// peakRSS reads the process's peak resident set size (Linux).
func peakRSS() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return fmt.Sprintf("%.0f MB", float64(kb)/1024)
		}
	}
	return "unknown"
}
