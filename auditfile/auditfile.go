// Package auditfile reads kube-apiserver audit log files: JSON lines of
// audit Events (--audit-log-path, --audit-log-format=json) or of EventLists
// (as the webhook backend sends them), plain or gzip-compressed. Replay reads
// files once; Follow tails a live file across rotation and truncation,
// resuming from the offset saved with the pipeline's state.
package auditfile

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"github.com/podtrace/podtrace/decode"
	"github.com/podtrace/podtrace/ingest"
)

// Queue is where batches go; *ingest.Pipeline is one.
type Queue interface {
	Enqueue(ctx context.Context, b ingest.Batch, block bool) (<-chan error, error)
}

// MaxLine bounds one line; longer lines are counted malformed and skipped.
const MaxLine = 64 << 20

// batchEvents is how many relevant events go to the pipeline at once.
const batchEvents = 2048

// Progress reports bytes read so far of a file of size total (0 if unknown).
type Progress func(read, total int64)

// Stats count what was read.
type Stats struct {
	Lines     int64
	TooLong   int64
	Decoder   decode.Stats
	LastError error
}

// Reader decodes lines and hands batches to a queue.
type Reader struct {
	q     Queue
	d     decode.Decoder
	batch []*decode.Event
	waits []<-chan error
	Stats Stats
}

// NewReader returns a reader feeding q.
func NewReader(q Queue) *Reader {
	return &Reader{q: q, d: decode.Decoder{KeepRaw: true}}
}

// line decodes one line and sends a batch when full.
func (r *Reader) line(ctx context.Context, b []byte, offsets map[string]int64) error {
	r.Stats.Lines++
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	if err := r.d.Decode(b, func(ev *decode.Event) { r.batch = append(r.batch, ev) }); err != nil {
		r.Stats.LastError = fmt.Errorf("line %d: %w", r.Stats.Lines, err)
	}
	r.Stats.Decoder = r.d.Stats
	if len(r.batch) >= batchEvents {
		return r.flush(ctx, offsets)
	}
	return nil
}

func (r *Reader) flush(ctx context.Context, offsets map[string]int64) error {
	if len(r.batch) == 0 && len(offsets) == 0 {
		return nil
	}
	done, err := r.q.Enqueue(ctx, ingest.Batch{Events: r.batch, Offsets: offsets}, true)
	if err != nil {
		return err
	}
	r.batch = nil
	r.waits = append(r.waits, done)
	// keep the number of batches in flight bounded, and surface errors early
	for len(r.waits) > 8 {
		if err := <-r.waits[0]; err != nil {
			return err
		}
		r.waits = r.waits[1:]
	}
	return nil
}

// Wait sends what is batched and waits until everything sent is durable.
func (r *Reader) Wait(ctx context.Context) error {
	if err := r.flush(ctx, nil); err != nil {
		return err
	}
	for _, w := range r.waits {
		select {
		case err := <-w:
			if err != nil {
				return err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	r.waits = nil
	return nil
}

// Replay reads a whole file (".gz" or gzip magic: decompressed). Lines are
// decoded on every core: a reader cuts the file into blocks of whole lines,
// workers decode blocks, and the events go to the queue in file order.
func (r *Reader) Replay(ctx context.Context, path string, progress Progress) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	defer f.Close()
	var total int64
	if st, err := f.Stat(); err == nil {
		total = st.Size()
	}
	cr := &countingReader{r: f}
	br := bufio.NewReaderSize(cr, 1<<20)
	var src io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("replay %s: %w", path, err)
		}
		defer zr.Close()
		src = zr
	}
	lines := bufio.NewReaderSize(src, 1<<20)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	workers := max(1, runtime.GOMAXPROCS(0))
	work := make(chan *block, workers)
	order := make(chan *block, 2*workers) // blocks in file order, decoded or not
	var readErr error
	go func() { // the reader: cuts blocks, hands them to workers and to the consumer
		defer close(work)
		defer close(order)
		var last time.Time
		b := newBlock()
		send := func() bool {
			select {
			case order <- b:
			case <-ctx.Done():
				return false
			}
			select {
			case work <- b:
			case <-ctx.Done():
				return false
			}
			b = newBlock()
			return true
		}
		readErr = readLines(lines, func(line []byte) error {
			if progress != nil && time.Since(last) > 100*time.Millisecond {
				progress(cr.n, total)
				last = time.Now()
			}
			b.lines = append(b.lines, len(line))
			b.data = append(b.data, line...)
			if len(b.data) >= blockBytes && !send() {
				return ctx.Err()
			}
			return nil
		}, &r.Stats.TooLong)
		if len(b.lines) > 0 {
			send()
		}
		if progress != nil {
			progress(cr.n, total)
		}
	}()
	for range workers {
		go func() {
			d := decode.Decoder{KeepRaw: true}
			for b := range work {
				b.decode(&d)
			}
		}()
	}
	var qerr error
	for b := range order {
		<-b.done
		if qerr != nil {
			continue // drain: the reader stops at the cancel
		}
		r.Stats.Lines += int64(len(b.lines))
		r.Stats.Decoder.Add(b.stats)
		if b.err != nil {
			r.Stats.LastError = fmt.Errorf("line %d: %w", r.Stats.Lines-int64(len(b.lines))+int64(b.errLine)+1, b.err)
		}
		r.batch = append(r.batch, b.events...)
		if len(r.batch) >= batchEvents {
			if qerr = r.flush(ctx, nil); qerr != nil {
				cancel()
			}
		}
	}
	if qerr != nil {
		return qerr
	}
	if readErr != nil && !errors.Is(readErr, io.EOF) {
		return fmt.Errorf("replay %s: %w", path, readErr)
	}
	return r.flush(ctx, nil)
}

// blockBytes is the size of the blocks of lines Replay decodes in parallel.
const blockBytes = 1 << 20

// block is a run of whole lines, then what decoding them gave.
type block struct {
	data    []byte
	lines   []int // line lengths
	events  []*decode.Event
	stats   decode.Stats
	err     error // the last line-level error
	errLine int   // its line within the block
	done    chan struct{}
}

func newBlock() *block {
	return &block{data: make([]byte, 0, blockBytes+64<<10), lines: make([]int, 0, 1024), done: make(chan struct{})}
}

func (b *block) decode(d *decode.Decoder) {
	defer close(b.done)
	d.Stats = decode.Stats{}
	off := 0
	for i, n := range b.lines {
		line := b.data[off : off+n]
		off += n
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if err := d.Decode(line, func(ev *decode.Event) { b.events = append(b.events, ev) }); err != nil {
			b.err, b.errLine = err, i
		}
	}
	b.stats = d.Stats
	b.data = nil
}

// readLines calls fn for each line (without its newline), including a last
// line without one. Lines over MaxLine are skipped and counted.
func readLines(br *bufio.Reader, fn func([]byte) error, tooLong *int64) error {
	var long []byte
	skipping := false
	for {
		chunk, err := br.ReadSlice('\n')
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			if !skipping {
				long = append(long, chunk...)
				if len(long) > MaxLine {
					long, skipping = nil, true
					*tooLong++
				}
			}
			continue
		case err != nil && !errors.Is(err, io.EOF):
			return err
		}
		line := chunk
		if long != nil {
			line = append(long, chunk...)
			long = nil
		}
		if skipping {
			skipping = false
		} else if len(line) > 0 {
			if ferr := fn(bytes.TrimRight(line, "\r\n")); ferr != nil {
				return ferr
			}
		}
		if err != nil {
			return err
		}
	}
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// Follow tails path: it resumes at the offset last saved for it (store's
// Offset under SourceName(path)), reads complete lines as they are written,
// and starts again at the top when the file is rotated (a new inode) or
// truncated. It returns when ctx ends.
func (r *Reader) Follow(ctx context.Context, path string, offset, inode int64, poll time.Duration) error {
	name := SourceName(path)
	var f *os.File
	var pos int64
	var pending []byte
	open := func() error {
		nf, err := os.Open(path)
		if err != nil {
			return err
		}
		st, err := nf.Stat()
		if err != nil {
			nf.Close()
			return err
		}
		ino := inodeOf(st)
		if inode != 0 && ino == inode && offset <= st.Size() {
			pos = offset
		} else {
			pos = 0
		}
		inode = ino
		if _, err := nf.Seek(pos, io.SeekStart); err != nil {
			nf.Close()
			return err
		}
		if f != nil {
			f.Close()
		}
		f, pending = nf, nil
		return nil
	}
	defer func() {
		if f != nil {
			f.Close()
		}
	}()
	buf := make([]byte, 1<<20)
	for {
		if f == nil {
			if err := open(); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("follow %s: %w", path, err)
			}
		}
		progressed := false
		if f != nil {
			n, err := f.Read(buf)
			if n > 0 {
				progressed = true
				pending = append(pending, buf[:n]...)
				for {
					i := bytes.IndexByte(pending, '\n')
					if i < 0 {
						break
					}
					pos += int64(i + 1)
					if err := r.line(ctx, pending[:i], map[string]int64{name: pos, name + "#inode": inode}); err != nil {
						return err
					}
					pending = pending[i+1:]
				}
				if len(pending) > MaxLine {
					r.Stats.TooLong++
					pos += int64(len(pending))
					pending = nil
				}
			}
			if err != nil && !errors.Is(err, io.EOF) {
				return fmt.Errorf("follow %s: %w", path, err)
			}
		}
		if progressed {
			continue
		}
		if err := r.flush(ctx, map[string]int64{name: pos, name + "#inode": inode}); err != nil {
			return err
		}
		// at the end: rotated or truncated?
		if st, err := os.Stat(path); err == nil && f != nil {
			if inodeOf(st) != inode || st.Size() < pos {
				offset = 0
				if err := open(); err != nil {
					return fmt.Errorf("follow %s: %w", path, err)
				}
				continue
			}
		} else if err == nil && f == nil {
			continue
		}
		select {
		case <-ctx.Done():
			return r.Wait(context.Background())
		case <-time.After(poll):
		}
	}
}

// SourceName is the key a followed file's offset is saved under.
func SourceName(path string) string { return "file:" + path }

func inodeOf(st os.FileInfo) int64 {
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return int64(s.Ino)
	}
	return 0
}

// FormatRate renders n per second for summaries.
func FormatRate(n int64, d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return strconv.FormatFloat(float64(n)/d.Seconds(), 'f', 0, 64)
}
