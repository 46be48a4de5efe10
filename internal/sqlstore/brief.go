package sqlstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/podtrace/podtrace"
)

// BriefColumn is the records column that holds a record's brief, encoded
// by AppendBrief: one column for Briefs to read per record, not twenty
// (reading columns one by one costs SQLite more than decoding them here).
const BriefColumn = "brief"

// Briefs calls fn with each brief read from rows of BriefColumn until fn
// returns false, reusing one Brief (see podtrace.Store.Briefs). Raw is the
// driver's type for bytes it lends until the next row, which decoding
// copies from (database/sql's sql.RawBytes, pgx's pgtype.DriverBytes).
func Briefs[Raw ~[]byte](rows Rows, fn func(*podtrace.Brief) bool) error {
	d := briefDecoder{interned: map[string]string{}}
	var raw Raw
	var b podtrace.Brief
	for rows.Next() {
		if err := rows.Scan(&raw); err != nil {
			return fmt.Errorf("list briefs: %w", err)
		}
		if err := d.decode(raw, &b); err != nil {
			return fmt.Errorf("list briefs: %w", err)
		}
		if !fn(&b) {
			return nil
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list briefs: %w", err)
	}
	return nil
}

// briefVersion is the first byte of an encoded brief. A new encoding
// takes a new version and a migration that rewrites every brief.
const briefVersion = 1

// flags of an encoded brief
const (
	briefFinished = 1 << iota
	briefJudged
	briefMet
)

// AppendBrief appends the encoding of b to dst: a version byte; the
// strings (cluster, namespace, name, uid, kind, outcome, node, owner kind
// and name, trace id) each as a uvarint length and bytes; seq as a varint;
// created and end (unix ns) as 8 little-endian bytes; a flags byte;
// finished (unix ns, 8 bytes) when set; the three figures as little-endian
// float64 bits; the findings as a uvarint count and the code, phase and
// owner of each.
func AppendBrief(dst []byte, b *podtrace.Brief) []byte {
	dst = append(dst, briefVersion)
	for _, s := range []string{b.Cluster, b.Namespace, b.Name, b.UID, string(b.Kind), string(b.Outcome), b.Node, b.OwnerKind, b.OwnerName, b.TraceID} {
		dst = appendString(dst, s)
	}
	dst = binary.AppendVarint(dst, int64(b.Seq))
	dst = binary.LittleEndian.AppendUint64(dst, uint64(b.Created.UnixNano()))
	dst = binary.LittleEndian.AppendUint64(dst, uint64(b.End.UnixNano()))
	var flags byte
	if b.Finished != nil {
		flags |= briefFinished
	}
	if b.Met != nil {
		flags |= briefJudged
		if *b.Met {
			flags |= briefMet
		}
	}
	dst = append(dst, flags)
	if b.Finished != nil {
		dst = binary.LittleEndian.AppendUint64(dst, uint64(b.Finished.UnixNano()))
	}
	for _, f := range []float64{b.TotalSeconds, b.PlatformSeconds, b.UserSeconds} {
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(f))
	}
	dst = binary.AppendUvarint(dst, uint64(len(b.Findings)))
	for _, f := range b.Findings {
		dst = appendString(appendString(appendString(dst, f.Code), f.Phase), string(f.Owner))
	}
	return dst
}

func appendString(dst []byte, s string) []byte {
	return append(binary.AppendUvarint(dst, uint64(len(s))), s...)
}

// errBrief: a brief this version of podtrace cannot read.
var errBrief = errors.New("malformed brief")

// briefDecoder decodes briefs into one Brief, sharing one string for each
// value of the fields that repeat across records (cluster, namespace,
// node, ...): a summary reads 100k briefs, and allocating is most of the
// time decoding takes.
type briefDecoder struct {
	interned map[string]string
	last     [slots]string
	finished time.Time
	met      bool
	findings []podtrace.FindingBrief
}

func (d *briefDecoder) decode(data []byte, b *podtrace.Brief) error {
	if len(data) == 0 || data[0] != briefVersion {
		return errBrief
	}
	r := briefBytes{data: data[1:]}
	b.Cluster = d.intern(slotCluster, r.bytes())
	b.Namespace = d.intern(slotNamespace, r.bytes())
	b.Name = string(r.bytes())
	b.UID = string(r.bytes())
	b.Kind = podtrace.Kind(d.intern(slotKind, r.bytes()))
	b.Outcome = podtrace.Outcome(d.intern(slotOutcome, r.bytes()))
	b.Node = d.intern(slotNode, r.bytes())
	b.OwnerKind = d.intern(slotOwnerKind, r.bytes())
	b.OwnerName = d.intern(slotOwnerName, r.bytes())
	b.TraceID = string(r.bytes())
	b.Seq = int(r.varint())
	b.Created = time.Unix(0, int64(r.uint64())).UTC()
	b.End = time.Unix(0, int64(r.uint64())).UTC()
	flags := r.byte()
	b.Finished, b.Met = nil, nil
	if flags&briefFinished != 0 {
		d.finished = time.Unix(0, int64(r.uint64())).UTC()
		b.Finished = &d.finished
	}
	if flags&briefJudged != 0 {
		d.met = flags&briefMet != 0
		b.Met = &d.met
	}
	b.TotalSeconds, b.PlatformSeconds, b.UserSeconds = r.float(), r.float(), r.float()
	b.Findings = nil
	if n := r.uvarint(); n > uint64(len(r.data)) {
		r.bad = true
	} else if n > 0 {
		d.findings = d.findings[:0]
		for range n {
			d.findings = append(d.findings, podtrace.FindingBrief{
				Code: d.intern(slotCode, r.bytes()), Phase: d.intern(slotPhase, r.bytes()), Owner: podtrace.Owner(d.intern(slotOwner, r.bytes()))})
		}
		b.Findings = d.findings
	}
	if r.bad || len(r.data) != 0 {
		return errBrief
	}
	return nil
}

// The fields a briefDecoder interns, each with the last value it had.
const (
	slotCluster = iota
	slotNamespace
	slotKind
	slotOutcome
	slotNode
	slotOwnerKind
	slotOwnerName
	slotCode
	slotPhase
	slotOwner
	slots
)

// intern returns s as a string shared with earlier equal ones (up to a
// bound on how many it keeps): the field's last value when it is that
// again, as it mostly is, else from the map.
func (d *briefDecoder) intern(slot int, s []byte) string {
	if last := d.last[slot]; last == string(s) {
		return last
	}
	v, ok := d.interned[string(s)]
	if !ok {
		v = string(s)
		if len(d.interned) < 10_000 {
			d.interned[v] = v
		}
	}
	d.last[slot] = v
	return v
}

// briefBytes reads an encoded brief; past its end it reads zeros and
// remembers it was bad.
type briefBytes struct {
	data []byte
	bad  bool
}

func (r *briefBytes) uvarint() uint64 {
	if len(r.data) > 0 && r.data[0] < 0x80 { // one byte: most lengths
		v := uint64(r.data[0])
		r.data = r.data[1:]
		return v
	}
	v, n := binary.Uvarint(r.data)
	if n <= 0 {
		r.bad, r.data = true, nil
		return 0
	}
	r.data = r.data[n:]
	return v
}

func (r *briefBytes) varint() int64 {
	u := r.uvarint() // zig-zag, as binary.AppendVarint writes it
	return int64(u>>1) ^ -int64(u&1)
}

func (r *briefBytes) bytes() []byte {
	n := r.uvarint()
	if n > uint64(len(r.data)) {
		r.bad, r.data = true, nil
		return nil
	}
	s := r.data[:n]
	r.data = r.data[n:]
	return s
}

func (r *briefBytes) byte() byte {
	if len(r.data) == 0 {
		r.bad = true
		return 0
	}
	c := r.data[0]
	r.data = r.data[1:]
	return c
}

func (r *briefBytes) uint64() uint64 {
	if len(r.data) < 8 {
		r.bad, r.data = true, nil
		return 0
	}
	v := binary.LittleEndian.Uint64(r.data)
	r.data = r.data[8:]
	return v
}

func (r *briefBytes) float() float64 { return math.Float64frombits(r.uint64()) }
