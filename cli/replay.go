package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/podtrace/podtrace/auditfile"
	"github.com/podtrace/podtrace/ingest"
	"github.com/podtrace/podtrace/sqlite"
)

// replaySummary is what a replay did.
type replaySummary struct {
	Events, Relevant, Malformed, Duplicates, Pods, Records int64
	Bytes                                                  int64
	Elapsed                                                time.Duration
}

func (s replaySummary) String() string {
	rate := float64(s.Events) / s.Elapsed.Seconds()
	return fmt.Sprintf("%d events (%d about pods), %d pods, %d records, %d malformed, %d duplicates, %.0f events/s, %.1f MB/s",
		s.Events, s.Relevant, s.Pods, s.Records, s.Malformed, s.Duplicates, rate, float64(s.Bytes)/1e6/s.Elapsed.Seconds())
}

func runReplay(ctx context.Context, env Env, args []string) error {
	fs := flagSet("replay", env)
	db := fs.String("db", defaultDB(), "SQLite database file")
	cluster := fs.String("cluster", "default", "name of the cluster the files come from")
	quiet := fs.Bool("q", false, "no progress bar")
	files, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		fmt.Fprintln(env.Stderr, "usage: podtrace replay [--db PATH] [--cluster NAME] FILE...")
		return errUsage
	}
	sum, err := replayFiles(ctx, env, *db, *cluster, files, env.IsTerminal && !*quiet)
	if err != nil {
		return err
	}
	fmt.Fprintln(env.Stdout, "replayed", sum)
	return nil
}

// replayFiles ingests files into the database at db through the same
// pipeline the server uses, and reports what it did.
func replayFiles(ctx context.Context, env Env, db, cluster string, files []string, bar bool) (replaySummary, error) {
	start := time.Now()
	st, err := sqlite.Open(ctx, db, sqlite.Options{Sync: "NORMAL"})
	if err != nil {
		return replaySummary{}, err
	}
	defer st.Close()
	cfg := ingest.DefaultConfig()
	cfg.Cluster = cluster
	cfg.FlushInterval = 2 * time.Second
	p := ingest.New(cfg, st, analyzers(), nil, logger(env))
	if err := p.Start(ctx); err != nil {
		return replaySummary{}, err
	}
	r := auditfile.NewReader(p)
	var sum replaySummary
	for _, f := range files {
		var progress auditfile.Progress
		if bar {
			progress = progressBar(env.Stderr, f)
		}
		if err := r.Replay(ctx, f, progress); err != nil {
			p.Close()
			return sum, err
		}
		if bar {
			fmt.Fprintln(env.Stderr)
		}
	}
	werr := r.Wait(ctx)
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
		Duplicates: p.Stats.Duplicates.Load(), Pods: p.Stats.Pods.Load(), Records: p.Stats.Records.Load(),
		Bytes: ds.Bytes, Elapsed: time.Since(start),
	}
	if r.Stats.LastError != nil && sum.Malformed > 0 {
		fmt.Fprintln(env.Stderr, "last malformed input:", r.Stats.LastError)
	}
	return sum, nil
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
