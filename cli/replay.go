package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/podtrace/podtrace/auditfile"
	"github.com/podtrace/podtrace/correlate"
	"github.com/podtrace/podtrace/ingest"
	"github.com/podtrace/podtrace/lifecycle"
	"github.com/podtrace/podtrace/otlp"
)

// replaySummary is what a replay did.
type replaySummary struct {
	Events, Relevant, Malformed, Duplicates, Pods, Finished int64
	Bytes                                                   int64
	Elapsed                                                 time.Duration
	// Spans from OTLP/JSON files, and how many joined a pod.
	Spans, SpansJoined int64
	// Events stamped too far ahead to move the event clock alone
	// (--max-clock-step).
	ClockAhead int64
}

func (s replaySummary) String() string {
	rate := float64(s.Events) / s.Elapsed.Seconds()
	out := fmt.Sprintf("%d events (%d about pods), %d pods, %d records finished, %d malformed, %d duplicates, %.0f events/s, %.1f MB/s",
		s.Events, s.Relevant, s.Pods, s.Finished, s.Malformed, s.Duplicates, rate, float64(s.Bytes)/1e6/s.Elapsed.Seconds())
	if s.Spans > 0 {
		out += fmt.Sprintf(", %d spans (%d joined to pods)", s.Spans, s.SpansJoined)
	}
	if s.ClockAhead > 0 {
		out += fmt.Sprintf(", %d events stamped too far ahead to move the event clock alone (--max-clock-step)", s.ClockAhead)
	}
	return out
}

func runReplay(ctx context.Context, env Env, args []string) error {
	fs := flagSet("replay", env)
	where := storeFlag(fs)
	cluster := fs.String("cluster", "default", "name of the cluster the files come from")
	quiet := fs.Bool("q", false, "no progress bar")
	clockStep := fs.Duration("max-clock-step", lifecycle.DefaultConfig().MaxClockStep, "how far one audit event alone may move the event clock ahead (further: only once another confirms it)")
	files, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		fmt.Fprintln(env.Stderr, "usage: podtrace replay [--db PATH | --postgres-dsn URL] [--cluster NAME] FILE... (audit logs; OTLP/JSON trace files too)")
		return errUsage
	}
	if *clockStep <= 0 {
		return fmt.Errorf("--max-clock-step %v: must be positive", *clockStep)
	}
	sum, err := replayFiles(ctx, env, where(), files, replayOptions{Cluster: *cluster, ClockStep: *clockStep, Bar: env.IsTerminal && !*quiet})
	if err != nil {
		return err
	}
	fmt.Fprintln(env.Stdout, "replayed", sum)
	if sum.Events == 0 && sum.Spans == 0 {
		return fmt.Errorf("no valid audit event or span in %s (%d malformed)", strings.Join(files, ", "), sum.Malformed)
	}
	return nil
}

// replayOptions say how to replay: into which cluster, with what bound on
// the event clock's steps (0: the default), with a progress bar or not.
type replayOptions struct {
	Cluster   string
	ClockStep time.Duration
	Bar       bool
	// Applied, if set, runs on the pipeline's apply goroutine once every
	// audit event is applied, with its lifecycle machine (benchmarks
	// measure what the machine holds).
	Applied func(m *lifecycle.Machine)
}

// replayFiles ingests files into the store at db (a SQLite file or a
// postgres:// URL) through the same pipeline the server uses, and reports
// what it did.
func replayFiles(ctx context.Context, env Env, db string, files []string, opt replayOptions) (replaySummary, error) {
	cluster, bar := opt.Cluster, opt.Bar
	start := time.Now()
	st, err := openStore(ctx, db, "NORMAL")
	if err != nil {
		return replaySummary{}, err
	}
	defer st.Close()
	cfg := ingest.DefaultConfig()
	cfg.Cluster = cluster
	cfg.FlushInterval = 2 * time.Second
	if opt.ClockStep > 0 {
		cfg.Lifecycle.MaxClockStep = opt.ClockStep
	}
	// events forged into the future cannot move the clock past today
	cfg.Lifecycle.Wall = time.Now
	as, err := analyzers()
	if err != nil {
		return replaySummary{}, err
	}
	// OTLP/JSON files go after the audit logs: their spans then find the
	// pods known, whatever order the files were named in
	auditFiles, spanFiles, err := splitOTLP(files)
	if err != nil {
		return replaySummary{}, err
	}
	jcfg := correlate.DefaultConfig()
	jcfg.Cluster, jcfg.Block = cluster, true
	joiner, err := correlate.New(jcfg, nil, logger(env))
	if err != nil {
		return replaySummary{}, err
	}
	p := ingest.New(cfg, st, append(as, joiner), nil, logger(env))
	if err := p.Start(ctx); err != nil {
		return replaySummary{}, err
	}
	joiner.Start(p)
	r := auditfile.NewReader(p)
	var sum replaySummary
	for _, f := range auditFiles {
		var progress auditfile.Progress
		if bar {
			progress = progressBar(env.Stderr, f)
		}
		if err := r.Replay(ctx, f, progress); err != nil {
			joiner.Close()
			p.Close()
			return sum, err
		}
		if bar {
			fmt.Fprintln(env.Stderr)
		}
	}
	werr := r.Wait(ctx)
	if werr == nil && opt.Applied != nil {
		werr = runApplied(ctx, p, opt.Applied)
	}
	var spans otlp.FileStats
	var decoded int64
	if werr == nil {
		spans, decoded, werr = replaySpans(ctx, joiner, spanFiles)
	}
	joiner.Close()
	cerr := p.Close()
	if werr != nil {
		return sum, werr
	}
	if cerr != nil {
		return sum, cerr
	}
	ds := r.Stats.Decoder
	sum = replaySummary{
		Events: ds.Events, Relevant: ds.Relevant, Malformed: ds.Malformed + r.Stats.TooLong,
		Duplicates: p.Stats.Duplicates.Load(), Pods: p.Stats.Pods.Load(), Finished: p.Stats.Finished.Load(),
		Bytes: ds.Bytes + spans.Bytes, Elapsed: time.Since(start),
		Spans: decoded, SpansJoined: joiner.Stats.Joined.Load(), ClockAhead: p.Stats.ClockAhead.Load(),
	}
	sum.Malformed += spans.Malformed
	if spans.LastError != nil {
		fmt.Fprintln(env.Stderr, "last malformed OTLP input:", spans.LastError)
	}
	if r.Stats.LastError != nil && sum.Malformed > 0 {
		fmt.Fprintln(env.Stderr, "last malformed input:", r.Stats.LastError)
	}
	return sum, nil
}

// runApplied runs fn on the pipeline's apply goroutine after what is
// queued, and waits for it.
func runApplied(ctx context.Context, p *ingest.Pipeline, fn func(m *lifecycle.Machine)) error {
	done := make(chan struct{})
	if err := p.Submit(ctx, func(m *lifecycle.Machine) { fn(m); close(done) }, true); err != nil {
		return err
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// splitOTLP tells OTLP/JSON files from audit logs.
func splitOTLP(files []string) (audit, spans []string, err error) {
	for _, f := range files {
		isOTLP, err := otlp.IsFile(f)
		if err != nil {
			return nil, nil, err
		}
		if isOTLP {
			spans = append(spans, f)
		} else {
			audit = append(audit, f)
		}
	}
	return audit, spans, nil
}

// replaySpans hands the spans of OTLP/JSON files to the joiner, waiting for
// the pipeline rather than dropping any.
func replaySpans(ctx context.Context, j *correlate.Joiner, files []string) (otlp.FileStats, int64, error) {
	var total otlp.FileStats
	var d otlp.Decoder
	var spans int64
	for _, f := range files {
		st, err := otlp.ReadFile(ctx, f, func(pb []byte) error {
			sp, _, err := d.Decode(pb)
			if err != nil {
				return err
			}
			spans += int64(len(sp))
			return j.ConsumeSpans(ctx, sp)
		})
		total.Requests += st.Requests
		total.Malformed += st.Malformed
		total.Bytes += st.Bytes
		if st.LastError != nil {
			total.LastError = st.LastError
		}
		if err != nil {
			return total, spans, fmt.Errorf("replay %s: %w", f, err)
		}
	}
	return total, spans, nil
}

// progressBar draws "file [=====>    ] 42%" on a terminal.
func progressBar(w io.Writer, name string) auditfile.Progress {
	const width = 30
	return func(read, total int64) {
		if total <= 0 {
			fmt.Fprintf(w, "\r%s %d MB", name, read>>20)
			return
		}
		frac := float64(read) / float64(total)
		if frac > 1 {
			frac = 1
		}
		n := int(frac * width)
		fmt.Fprintf(w, "\r%s [%s%s] %3.0f%%", name, strings.Repeat("=", n), strings.Repeat(" ", width-n), frac*100)
	}
}
