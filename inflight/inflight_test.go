package inflight_test

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/podtrace/podtrace/inflight"
)

// TestReaderChargesAsRead: a body holds what was read of it, not more; a
// read that does not fit fails with ErrFull; Release gives it all back.
func TestReaderChargesAsRead(t *testing.T) {
	b := inflight.New(100)
	r := inflight.NewReader(strings.NewReader(strings.Repeat("x", 60)), b, inflight.Pace{}, time.Time{}, nil)
	if b.Used() != 0 {
		t.Fatalf("%d held before reading", b.Used())
	}
	buf := make([]byte, 10)
	if n, err := r.Read(buf); n != 10 || err != nil || b.Used() != 10 {
		t.Fatalf("read %d, %v: %d held, want 10", n, err, b.Used())
	}
	other := inflight.NewReader(strings.NewReader(strings.Repeat("y", 100)), b, inflight.Pace{}, time.Time{}, nil)
	if _, err := io.ReadAll(other); !errors.Is(err, inflight.ErrFull) {
		t.Fatalf("a body over the bound: %v, want ErrFull", err)
	}
	other.Release()
	if _, err := io.ReadAll(r); err != nil || b.Used() != 60 {
		t.Fatalf("%v: %d held, want 60", err, b.Used())
	}
	if inflight.New(64<<10).Full() || !b.Full() {
		t.Errorf("Full: %v with less than a read's worth free", b.Full())
	}
	r.Release()
	if b.Used() != 0 || b.Full() {
		t.Errorf("%d held after Release", b.Used())
	}
}

// TestPace: the read deadline moves on with the bytes received (set at
// most a second of MinRate ahead) and is lifted by Release.
func TestPace(t *testing.T) {
	start := time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)
	var deadlines []time.Time
	set := func(d time.Time) error { deadlines = append(deadlines, d); return nil }
	pace := inflight.Pace{Timeout: 10 * time.Second, MinRate: 100}
	r := inflight.NewReader(strings.NewReader(strings.Repeat("x", 250)), nil, pace, start, set)
	if _, err := io.ReadAll(r); err != nil {
		t.Fatal(err)
	}
	r.Release()
	// 100 bytes by 11 s; the first read brought all 250: 350 by 13.5 s; none
	want := []time.Time{start.Add(11 * time.Second), start.Add(13500 * time.Millisecond), {}}
	if len(deadlines) != len(want) {
		t.Fatalf("deadlines %v, want %v", deadlines, want)
	}
	for i := range want {
		if !deadlines[i].Equal(want[i]) {
			t.Fatalf("deadlines %v, want %v", deadlines, want)
		}
	}
}
