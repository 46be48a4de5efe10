package correlate

import "container/heap"

// by says what a held span waits for.
type by uint8

const (
	byAudit   by = iota // an audit event's pod
	byPod               // the pod itself
	byTrace             // a span naming its pod in the same trace
	byRuntime           // a sandbox or container id's pod
)

type key struct {
	by by
	id string
}

// held keeps spans waiting to be joined, under the key they wait for, and
// in a min-heap by span end time for expiry and the bound. Heap entries of
// spans taken since are skipped when they surface, and swept out when they
// outnumber the spans held.
type held struct {
	byKey map[key][]heldItem
	times timeHeap
	n     int
	seq   uint64
}

type heldItem struct {
	seq uint64
	it  item
}

type heldRef struct {
	k   key
	seq uint64
	t   int64 // span end, unix ns
}

type timeHeap []heldRef

func (h timeHeap) Len() int { return len(h) }
func (h timeHeap) Less(i, j int) bool {
	return h[i].t < h[j].t || (h[i].t == h[j].t && h[i].seq < h[j].seq)
}
func (h timeHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *timeHeap) Push(x any)   { *h = append(*h, x.(heldRef)) }
func (h *timeHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func newHeld() held { return held{byKey: map[key][]heldItem{}} }

func (h *held) put(k key, it item, t int64) {
	h.seq++
	h.byKey[k] = append(h.byKey[k], heldItem{h.seq, it})
	heap.Push(&h.times, heldRef{k, h.seq, t})
	h.n++
}

// take removes and returns the spans held under k.
func (h *held) take(k key) []item {
	hs := h.byKey[k]
	if len(hs) == 0 {
		return nil
	}
	delete(h.byKey, k)
	h.n -= len(hs)
	out := make([]item, len(hs))
	for i := range hs {
		out[i] = hs[i].it
	}
	h.sweep()
	return out
}

// remove drops the span r names, if still held.
func (h *held) remove(r heldRef) bool {
	hs := h.byKey[r.k]
	for i := range hs {
		if hs[i].seq == r.seq {
			hs = append(hs[:i], hs[i+1:]...)
			if len(hs) == 0 {
				delete(h.byKey, r.k)
			} else {
				h.byKey[r.k] = hs
			}
			h.n--
			return true
		}
	}
	return false
}

// dropOldest drops the held span that ended first; false if there is none.
func (h *held) dropOldest() bool {
	for h.times.Len() > 0 {
		if h.remove(heap.Pop(&h.times).(heldRef)) {
			return true
		}
	}
	return false
}

// expire drops the spans that ended before cutoff and returns how many.
func (h *held) expire(cutoff int64) int {
	n := 0
	for h.times.Len() > 0 && h.times[0].t < cutoff {
		if h.remove(heap.Pop(&h.times).(heldRef)) {
			n++
		}
	}
	return n
}

// sweep rebuilds the heap from the spans still held once entries of spans
// taken outnumber them.
func (h *held) sweep() {
	if h.times.Len() <= 2*h.n+1024 {
		return
	}
	live := make(map[uint64]bool, h.n)
	for _, hs := range h.byKey {
		for _, x := range hs {
			live[x.seq] = true
		}
	}
	kept := h.times[:0]
	for _, r := range h.times {
		if live[r.seq] {
			kept = append(kept, r)
		}
	}
	h.times = kept
	heap.Init(&h.times)
}
