package otlp

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// maxLine bounds one line of an OTLP/JSON file.
const maxLine = 256 << 20

// FileStats is what reading an OTLP/JSON file found.
type FileStats struct {
	Requests  int64 // lines decoded
	Malformed int64 // lines that are not a valid request, skipped
	Bytes     int64
	LastError error // the last malformed line's error
}

// ReadFile reads an OTLP/JSON file — one ExportTraceServiceRequest per line,
// as OTLP file exporters write them (gzip-compressed too) — and calls fn with
// each request in its protobuf encoding. Malformed lines are counted and
// skipped; an error from fn stops the reading.
func ReadFile(ctx context.Context, path string, fn func(pb []byte) error) (FileStats, error) {
	var st FileStats
	f, err := os.Open(path)
	if err != nil {
		return st, err
	}
	defer f.Close()
	r, err := maybeGzip(bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		return st, fmt.Errorf("%s: %w", path, err)
	}
	br := bufio.NewReaderSize(r, 1<<20)
	for lineNo := 1; ; lineNo++ {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		line, err := readLine(br)
		if len(bytes.TrimSpace(line)) > 0 {
			st.Bytes += int64(len(line))
			pb, derr := JSONToProto(line)
			if derr != nil {
				st.Malformed++
				st.LastError = fmt.Errorf("%s:%d: %w", path, lineNo, derr)
			} else {
				st.Requests++
				if ferr := fn(pb); ferr != nil {
					return st, ferr
				}
			}
		}
		if errors.Is(err, io.EOF) {
			return st, nil
		}
		if err != nil {
			return st, fmt.Errorf("%s:%d: %w", path, lineNo, err)
		}
	}
}

// readLine reads one line of at most maxLine bytes, without its newline.
func readLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > maxLine {
			return nil, fmt.Errorf("line longer than %d bytes", maxLine)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return bytes.TrimSuffix(line, []byte("\n")), err
	}
}

func maybeGzip(br *bufio.Reader) (io.Reader, error) {
	magic, _ := br.Peek(2)
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		return gzip.NewReader(br)
	}
	return br, nil
}

// IsFile reports whether the file at path holds OTLP/JSON trace requests:
// its first JSON object's first key is resourceSpans (or resource_spans).
// Audit log files start with an Event's or EventList's keys instead.
func IsFile(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	r, err := maybeGzip(bufio.NewReader(f))
	if err != nil {
		return false, fmt.Errorf("%s: %w", path, err)
	}
	dec := json.NewDecoder(io.LimitReader(r, 1<<20))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return false, nil
	}
	key, err := dec.Token()
	if err != nil {
		return false, nil
	}
	return key == "resourceSpans" || key == "resource_spans", nil
}
