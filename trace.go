package podtrace

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
)

// DeliveryTraceID is the trace id of a delivery's trace: the first 16 bytes
// of sha256 over (cluster, uid, kind, seq). Every part of podtrace that
// emits or serves a delivery trace (the Jaeger-compatible query API, the
// OTLP exporter) derives it here, so the same delivery has the same trace id
// everywhere, across restarts and replays.
func DeliveryTraceID(k Key) [16]byte {
	var id [16]byte
	sum := deliveryHash(k, "trace")
	copy(id[:], sum[:16])
	return id
}

// DeliverySpanID is the id of one span of a delivery's trace: part "" is
// the root span ("pod <kind> <namespace>/<name>"), "phase/<name>" a phase's
// span.
func DeliverySpanID(k Key, part string) [8]byte {
	var id [8]byte
	sum := deliveryHash(k, "span/"+part)
	copy(id[:], sum[:8])
	return id
}

func deliveryHash(k Key, what string) [32]byte {
	h := sha256.New()
	// NUL-separated so no two keys hash the same input
	for _, s := range []string{"podtrace/v1", what, k.Cluster, k.UID, string(k.Kind), strconv.Itoa(k.Seq)} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}

// TraceHex is the delivery's trace id as 32 lowercase hex digits: the
// record's TraceID when the pipeline set one, else DeliveryTraceID.
func (r *Record) TraceHex() string {
	if r.TraceID != nil && *r.TraceID != "" {
		return *r.TraceID
	}
	id := DeliveryTraceID(r.Key())
	return hex.EncodeToString(id[:])
}
