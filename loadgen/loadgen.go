// Package loadgen drives podtrace like a busy kube-apiserver does: it posts
// audit webhook batches (EventLists of up to 400 events, about 1 MB, as
// the batch backend sends them) built from a real capture, copied as many
// times as needed with every UUID (pod uids, auditIDs) rewritten per copy
// and the namespace renamed, so each copy is a new set of pods and no event
// is a duplicate. It measures what the client sees: events per second
// acknowledged and the latency of each acknowledgement.
package loadgen

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"sort"
	"sync"
	"time"
)

// Generator makes batches from one capture.
type Generator struct {
	events []template // the capture's audit events
	// BatchEvents is the events per batch (the apiserver's
	// --audit-webhook-batch-max-size, 400 by default).
	BatchEvents int
	// Interleave is how many copies of the capture run at once, their
	// events taken in turn (1 if 0): in a busy cluster a batch holds
	// events of many pods, each at its own step, not one pod's story after
	// another's.
	Interleave int
}

// template is an event with the places a copy number goes: the first 8
// hex digits of every UUID, and the suffix of the renamed namespace.
type template struct {
	body  []byte
	marks []int // offsets of 8-byte stamps
}

// FromAuditLog reads a capture's audit.log (JSON lines, one Event each;
// gzip-compressed too).
func FromAuditLog(path string) (*Generator, error) { return FromAuditLogHead(path, 0) }

// FromAuditLogHead reads the first n events of an audit log (all if n is
// 0): enough of a large log to copy from.
func FromAuditLogHead(path string, n int) (*Generator, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("loadgen: %w", err)
	}
	defer f.Close()
	br := bufio.NewReader(f)
	var src io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("loadgen %s: %w", path, err)
		}
		defer zr.Close()
		src = zr
	}
	g := &Generator{BatchEvents: 400}
	sc := bufio.NewScanner(src)
	sc.Buffer(nil, 64<<20)
	for (n <= 0 || len(g.events) < n) && sc.Scan() {
		if l := bytes.TrimSpace(sc.Bytes()); len(l) > 0 && l[0] == '{' {
			g.events = append(g.events, newTemplate(l))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("loadgen %s: %w", path, err)
	}
	if len(g.events) == 0 {
		return nil, fmt.Errorf("loadgen %s: no events", path)
	}
	return g, nil
}

// EventsPerCopy is the number of events in one copy of the capture.
func (g *Generator) EventsPerCopy() int { return len(g.events) }

var (
	uuidRE = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	nsRE   = regexp.MustCompile(`"demo"|/namespaces/demo/`)
)

const stampHole = "########"

// newTemplate rewrites namespace demo to demo-######## and marks where
// the copy number goes.
func newTemplate(e []byte) template {
	e = nsRE.ReplaceAllFunc(e, func(m []byte) []byte {
		if m[0] == '"' {
			return []byte(`"demo-` + stampHole + `"`)
		}
		return []byte(`/namespaces/demo-` + stampHole + `/`)
	})
	t := template{body: e}
	for _, loc := range uuidRE.FindAllIndex(e, -1) {
		t.marks = append(t.marks, loc[0])
	}
	for i := 0; ; {
		j := bytes.Index(e[i:], []byte(stampHole))
		if j < 0 {
			break
		}
		t.marks = append(t.marks, i+j)
		i += j + len(stampHole)
	}
	return t
}

// Batch is one webhook request body. Its events belong to copies of the
// capture; Stamp renumbers them.
type Batch struct {
	Body   []byte
	Events int
	marks  []int
	copies []uint32 // the copy number of each mark
}

// Stamp renumbers the batch's copies by adding shift (for a fresh batch of
// new pods from one already sent: shift by the copies a round holds).
//
// A copy's number is written scrambled (a bijection on 32 bits, so copies
// stay distinct): the apiserver's auditIDs and pod uids are random UUIDs,
// and a store indexes them in random order. Plain copy numbers would make
// every new key land at the end of its index, which no real cluster does.
func (b *Batch) Stamp(shift uint32) {
	for i, m := range b.marks {
		c := (b.copies[i] + shift) * 0x9e3779b1 // odd: invertible mod 2^32
		const hex = "0123456789abcdef"
		for k := 7; k >= 0; k-- {
			b.Body[m+k] = hex[c&0xf]
			c >>= 4
		}
	}
}

// Batches returns n batches: the capture's events, copy after copy, cut
// into EventLists of BatchEvents, starting with batch number first (so
// several callers can make disjoint streams).
func (g *Generator) Batches(first, n int) []Batch {
	size := g.batchEvents()
	out := make([]Batch, 0, n)
	for b := first; b < first+n; b++ {
		var buf bytes.Buffer
		buf.WriteString(`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[`)
		bt := Batch{Events: size}
		for i := 0; i < size; i++ {
			c, pos := g.place(b*size + i)
			if i > 0 {
				buf.WriteByte(',')
			}
			t := g.events[pos]
			for _, m := range t.marks {
				bt.marks = append(bt.marks, buf.Len()+m)
				bt.copies = append(bt.copies, uint32(c))
			}
			buf.Write(t.body)
		}
		buf.WriteString("]}")
		bt.Body = buf.Bytes()
		bt.Stamp(0)
		out = append(out, bt)
	}
	return out
}

// GroupBatches is how many batches one group of Interleave copies spans:
// fewer send only the start of each copy's story.
func (g *Generator) GroupBatches() int {
	size := g.batchEvents()
	return (max(g.Interleave, 1)*len(g.events) + size - 1) / size
}

// batchEvents is BatchEvents, or the apiserver's default if unset.
func (g *Generator) batchEvents() int {
	if g.BatchEvents <= 0 {
		return 400
	}
	return g.BatchEvents
}

// place returns the copy and the capture's event the k-th event sent is:
// Interleave copies at a time, one event of each in turn.
func (g *Generator) place(k int) (c, pos int) {
	n, e := max(g.Interleave, 1), len(g.events)
	group, r := k/(n*e), k%(n*e)
	return group*n + r%n, r / n
}

// Config says how to post.
type Config struct {
	URL         string
	Token       string // bearer token, if the webhook wants one
	Concurrency int    // requests in flight
	// Duration bounds the run. With Loop, batches are sent again and again,
	// each time renumbered as new pods, until Duration.
	Duration time.Duration
	Loop     bool
	// Rate, if set, paces the run open-loop at this many events per
	// second: batch k is due at start + k×(its events ÷ Rate), sent on time
	// whatever the answers to earlier ones, and its latency counts from
	// when it was due, so a server that falls behind sees its latency grow
	// instead of the client slowing down (no coordinated omission).
	// Concurrency is then unused: as many requests are in flight as the
	// server's answers keep open, up to one per batch.
	Rate   float64
	Client *http.Client
}

// Result is what a run measured.
type Result struct {
	Rate               float64 // the paced rate asked for, events/s (0: closed loop)
	Duration           time.Duration
	Requests, Accepted int64 // all answered requests; 200s
	Overloaded         int64 // 503s
	Failed             int64 // other statuses and transport errors (timeouts)
	Events             int64 // events in accepted batches
	Bytes              int64 // body bytes of accepted batches
	Latencies          []time.Duration
	Acked              []int // indexes of the batches acknowledged in the first pass
}

// EventsPerSecond is the acknowledged events per second.
func (r *Result) EventsPerSecond() float64 { return float64(r.Events) / r.Duration.Seconds() }

// Percentile returns the p-th percentile (0..100) of the accepted
// requests' latencies.
func (r *Result) Percentile(p float64) time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	l := append([]time.Duration(nil), r.Latencies...)
	sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
	i := int(p / 100 * float64(len(l)-1))
	return l[i]
}

func (r *Result) String() string {
	paced := ""
	if r.Rate > 0 {
		paced = fmt.Sprintf("paced at %.0f events/s: ", r.Rate)
	}
	return paced + fmt.Sprintf("%.0f events/s (%.1f MB/s): %d events acknowledged in %v; %d requests, %d accepted, %d overloaded (503), %d failed; ack latency p50 %v p99 %v max %v",
		r.EventsPerSecond(), float64(r.Bytes)/r.Duration.Seconds()/1e6, r.Events, r.Duration.Round(time.Millisecond), r.Requests, r.Accepted, r.Overloaded, r.Failed,
		r.Percentile(50).Round(time.Microsecond), r.Percentile(99).Round(time.Microsecond), r.Percentile(100).Round(time.Microsecond))
}

// Run posts the batches with Concurrency requests in flight, each worker
// its own share in order, until they are all sent (or, with Loop, until
// Duration), or ctx ends. A 503 is counted and its batch not retried.
func Run(ctx context.Context, cfg Config, batches []Batch) *Result {
	if cfg.Client == nil {
		// keep a connection per request in flight, as the apiserver does
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = max(cfg.Concurrency, len(batches))
		cfg.Client = &http.Client{Timeout: 30 * time.Second, Transport: tr}
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 1
	}
	if cfg.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.Duration)
		defer cancel()
	}
	var copies uint32 // copies of the capture one pass over the batches holds
	for _, b := range batches {
		for _, c := range b.copies {
			copies = max(copies, c+1)
		}
	}
	res := &Result{Rate: cfg.Rate}
	var mu sync.Mutex
	record := func(b *Batch, i int, round uint32, code int, err error, lat time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		res.Requests++
		switch {
		case err == nil && code == http.StatusOK:
			res.Accepted++
			res.Events += int64(b.Events)
			res.Bytes += int64(len(b.Body))
			res.Latencies = append(res.Latencies, lat)
			if round == 0 {
				res.Acked = append(res.Acked, i)
			}
		case err == nil && code == http.StatusServiceUnavailable:
			res.Overloaded++
		default:
			res.Failed++
		}
	}
	start := time.Now()
	if cfg.Rate > 0 {
		runPaced(ctx, cfg, batches, copies, record)
		res.Duration = time.Since(start)
		sort.Ints(res.Acked)
		return res
	}
	var wg sync.WaitGroup
	for w := range cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := uint32(0); ctx.Err() == nil; round++ {
				if round > 0 && !cfg.Loop {
					return
				}
				for i := w; i < len(batches) && ctx.Err() == nil; i += cfg.Concurrency {
					b := &batches[i]
					if round > 0 {
						b.Stamp(round * copies)
					}
					t0 := time.Now()
					code, err := Post(ctx, cfg.Client, cfg.URL, cfg.Token, b.Body)
					lat := time.Since(t0)
					if ctx.Err() != nil && err != nil {
						return // the run ended mid-request: not the server's answer
					}
					record(b, i, round, code, err, lat)
				}
			}
		}()
	}
	wg.Wait()
	res.Duration = time.Since(start)
	sort.Ints(res.Acked)
	return res
}

// runPaced sends batch after batch on schedule, each from its own
// goroutine. A batch is sent again (renumbered) only once its previous
// send is answered; if the server is so slow that none is free, the
// schedule waits, and the wait counts in the latency of what was due.
func runPaced(ctx context.Context, cfg Config, batches []Batch, copies uint32, record func(*Batch, int, uint32, int, error, time.Duration)) {
	if len(batches) == 0 {
		return
	}
	busy := make([]sync.Mutex, len(batches))
	var wg sync.WaitGroup
	defer wg.Wait()
	due := time.Now()
	for k := 0; ctx.Err() == nil; k++ {
		i, round := k%len(batches), uint32(k/len(batches))
		if round > 0 && !cfg.Loop {
			return
		}
		if d := time.Until(due); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return
			}
		}
		busy[i].Lock()
		if ctx.Err() != nil {
			busy[i].Unlock()
			return
		}
		b := &batches[i]
		if round > 0 {
			b.Stamp(round * copies)
		}
		wg.Add(1)
		go func(sent time.Time) {
			defer wg.Done()
			defer busy[i].Unlock()
			code, err := Post(ctx, cfg.Client, cfg.URL, cfg.Token, b.Body)
			if ctx.Err() != nil && err != nil {
				return // the run ended mid-request: not the server's answer
			}
			record(b, i, round, code, err, time.Since(sent))
		}(due)
		due = due.Add(time.Duration(float64(b.Events) / cfg.Rate * float64(time.Second)))
	}
}

// Post sends one batch and returns the status.
func Post(ctx context.Context, c *http.Client, url, token string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}
