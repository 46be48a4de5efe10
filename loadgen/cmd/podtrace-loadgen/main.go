// Command podtrace-loadgen posts apiserver-shaped audit webhook batches to a
// running podtrace and prints the acknowledged events per second and the
// ack latency percentiles:
//
//	podtrace serve --db /tmp/load.db --http-addr 127.0.0.1:8080 &
//	podtrace-loadgen -url http://127.0.0.1:8080/audit \
//	  -capture testdata/mixed-kwok-hollowkubelet-v1.34.10/audit.log -duration 30s
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/podtrace/podtrace/auth"
	"github.com/podtrace/podtrace/loadgen"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "podtrace-loadgen:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("podtrace-loadgen", flag.ContinueOnError)
	url := fs.String("url", "http://127.0.0.1:8080/audit", "the webhook URL")
	capture := fs.String("capture", "testdata/mixed-kwok-hollowkubelet-v1.34.10/audit.log", "audit.log of a real capture to copy")
	pool := fs.Int("batches", 64, "distinct batches kept in memory (renumbered as new pods on every pass)")
	size := fs.Int("batch-events", 400, "events per batch (the apiserver's --audit-webhook-batch-max-size)")
	conc := fs.Int("concurrency", 4, "requests in flight (closed loop)")
	rate := fs.Float64("rate", 0, "pace open-loop at this many events/s, latency counted from when each batch was due (0: closed loop)")
	dur := fs.Duration("duration", 30*time.Second, "how long to post")
	interleave := fs.Int("interleave", 16, "copies of the capture whose events each batch interleaves, as a busy cluster's pods do")
	tokenFile := fs.String("token-file", "", "file holding the webhook's bearer token")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if !strings.HasPrefix(*url, "http://") && !strings.HasPrefix(*url, "https://") {
		return errors.New("-url: want http:// or https://")
	}
	token := ""
	if *tokenFile != "" {
		var err error
		if token, err = auth.LoadToken(*tokenFile); err != nil {
			return err
		}
	}
	g, err := loadgen.FromAuditLog(*capture)
	if err != nil {
		return err
	}
	g.BatchEvents, g.Interleave = *size, *interleave
	batches := g.Batches(0, max(*pool, g.GroupBatches()))
	var bytes int
	for _, b := range batches {
		bytes += len(b.Body)
	}
	how := fmt.Sprintf("%d in flight", *conc)
	if *rate > 0 {
		how = fmt.Sprintf("paced at %.0f events/s", *rate)
	}
	fmt.Fprintf(out, "posting %d-event batches (%.2f MB each on average) from %s, %s, for %v\n",
		*size, float64(bytes)/float64(len(batches))/1e6, *capture, how, *dur)
	res := loadgen.Run(ctx, loadgen.Config{URL: *url, Token: token, Concurrency: *conc, Rate: *rate, Duration: *dur, Loop: true}, batches)
	fmt.Fprintln(out, res)
	if res.Accepted == 0 {
		return errors.New("no batch was accepted")
	}
	return nil
}
