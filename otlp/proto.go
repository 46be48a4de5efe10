package otlp

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// Field numbers of the OTLP trace protobufs (opentelemetry/proto/trace/v1,
// collector/trace/v1, common/v1, resource/v1) that podtrace reads.
const (
	fRequestResourceSpans = 1 // ExportTraceServiceRequest.resource_spans

	fResourceSpansResource   = 1 // ResourceSpans.resource
	fResourceSpansScopeSpans = 2 // ResourceSpans.scope_spans
	fResourceAttributes      = 1 // Resource.attributes
	fScopeSpansSpans         = 2 // ScopeSpans.spans

	fSpanTraceID    = 1
	fSpanSpanID     = 2
	fSpanParent     = 4
	fSpanName       = 5
	fSpanKind       = 6
	fSpanStart      = 7 // fixed64
	fSpanEnd        = 8 // fixed64
	fSpanAttributes = 9
	fSpanStatus     = 15

	fStatusMessage = 2
	fStatusCode    = 3

	fKeyValueKey   = 1
	fKeyValueValue = 2

	fAnyString = 1
	fAnyBool   = 2
	fAnyInt    = 3
	fAnyDouble = 4
	fAnyArray  = 5
	fAnyKvlist = 6
	fAnyBytes  = 7
)

// field is one protobuf field as fields hands it out.
type field struct {
	num protowire.Number
	typ protowire.Type
	b   []byte // the value of a length-delimited field
	x   uint64 // the value of a varint or fixed field
}

// fields walks the fields of one protobuf message, one at a time, without
// allocating. Unknown fields, and known fields of an unexpected wire type,
// are skipped as protobuf parsers do.
type fields struct {
	b   []byte
	err error
	f   field
}

func (it *fields) next() bool {
	if it.err != nil || len(it.b) == 0 {
		return false
	}
	num, typ, n := protowire.ConsumeTag(it.b)
	if n < 0 {
		it.err = protowire.ParseError(n)
		return false
	}
	it.b = it.b[n:]
	it.f = field{num: num, typ: typ}
	switch typ {
	case protowire.VarintType:
		it.f.x, n = protowire.ConsumeVarint(it.b)
	case protowire.Fixed64Type:
		it.f.x, n = protowire.ConsumeFixed64(it.b)
	case protowire.Fixed32Type:
		var v uint32
		v, n = protowire.ConsumeFixed32(it.b)
		it.f.x = uint64(v)
	case protowire.BytesType:
		it.f.b, n = protowire.ConsumeBytes(it.b)
	default: // groups (never used by OTLP) and invalid types
		n = protowire.ConsumeFieldValue(num, typ, it.b)
	}
	if n < 0 {
		it.err = protowire.ParseError(n)
		return false
	}
	it.b = it.b[n:]
	return true
}

func (it *fields) is(num protowire.Number, typ protowire.Type) bool {
	return it.f.num == num && it.f.typ == typ
}

// Decoder decodes protobuf ExportTraceServiceRequests. It reuses its span
// buffer: the spans Decode returns are valid until the next call, and their
// byte slices as long as the request bytes. Not safe for concurrent use.
type Decoder struct {
	spans []Span
}

// Decode decodes a protobuf-encoded ExportTraceServiceRequest. Spans whose
// trace id is not 16 bytes, whose span id is not 8 bytes, whose ids are all
// zero or whose parent id is neither empty nor 8 bytes are left out and
// counted in rejected (an OTLP partial success). A request that is not valid
// protobuf is an error wrapping ErrMalformed, and none of its spans are
// returned.
func (d *Decoder) Decode(b []byte) (spans []Span, rejected int, err error) {
	d.spans = d.spans[:0]
	it := fields{b: b}
	for i := 0; it.next(); {
		if it.is(fRequestResourceSpans, protowire.BytesType) {
			n, err := d.resourceSpans(it.f.b)
			if err != nil {
				d.spans = d.spans[:0]
				return nil, 0, fmt.Errorf("%w: resource_spans[%d]: %w", ErrMalformed, i, err)
			}
			rejected += n
			i++
		}
	}
	if it.err != nil {
		d.spans = d.spans[:0]
		return nil, 0, fmt.Errorf("%w: %w", ErrMalformed, it.err)
	}
	return d.spans, rejected, nil
}

func (d *Decoder) resourceSpans(b []byte) (rejected int, err error) {
	// the resource first, wherever it is encoded: its spans need it
	var res resource
	it := fields{b: b}
	for it.next() {
		if it.is(fResourceSpansResource, protowire.BytesType) {
			if err := attributes(it.f.b, fResourceAttributes, res.set); err != nil {
				return 0, fmt.Errorf("resource: %w", err)
			}
		}
	}
	if it.err != nil {
		return 0, it.err
	}
	host := res.host
	if host == nil {
		host = res.node
	}
	it = fields{b: b}
	for i := 0; it.next(); {
		if !it.is(fResourceSpansScopeSpans, protowire.BytesType) {
			continue
		}
		ss := fields{b: it.f.b}
		for j := 0; ss.next(); {
			if !ss.is(fScopeSpansSpans, protowire.BytesType) {
				continue
			}
			d.spans = append(d.spans, Span{Service: res.service, Host: host, Attrs: Attrs{RPCStatus: -1}})
			sp := &d.spans[len(d.spans)-1]
			ok, err := decodeSpan(ss.f.b, sp)
			if err != nil {
				return 0, fmt.Errorf("scope_spans[%d].spans[%d]: %w", i, j, err)
			}
			if !ok {
				d.spans = d.spans[:len(d.spans)-1]
				rejected++
			}
			j++
		}
		if ss.err != nil {
			return 0, fmt.Errorf("scope_spans[%d]: %w", i, ss.err)
		}
		i++
	}
	return rejected, it.err
}

// decodeSpan fills sp from a Span message and reports whether its ids are
// valid.
func decodeSpan(b []byte, sp *Span) (valid bool, err error) {
	var traceID, spanID, parent []byte
	it := fields{b: b}
	for it.next() {
		f := it.f
		switch {
		case it.is(fSpanTraceID, protowire.BytesType):
			traceID = f.b
		case it.is(fSpanSpanID, protowire.BytesType):
			spanID = f.b
		case it.is(fSpanParent, protowire.BytesType):
			parent = f.b
		case it.is(fSpanName, protowire.BytesType):
			sp.Name = f.b
		case it.is(fSpanKind, protowire.VarintType):
			sp.Kind = SpanKind(int32(f.x))
		case it.is(fSpanStart, protowire.Fixed64Type):
			sp.Start = f.x
		case it.is(fSpanEnd, protowire.Fixed64Type):
			sp.End = f.x
		case it.is(fSpanAttributes, protowire.BytesType):
			if err := keyValue(f.b, sp.Attrs.set); err != nil {
				return false, fmt.Errorf("attributes: %w", err)
			}
		case it.is(fSpanStatus, protowire.BytesType):
			st := fields{b: f.b}
			for st.next() {
				switch {
				case st.is(fStatusMessage, protowire.BytesType):
					sp.StatusMessage = st.f.b
				case st.is(fStatusCode, protowire.VarintType):
					sp.Status = StatusCode(int32(st.f.x))
				}
			}
			if st.err != nil {
				return false, fmt.Errorf("status: %w", st.err)
			}
		}
	}
	if it.err != nil {
		return false, it.err
	}
	if len(traceID) != 16 || len(spanID) != 8 || (len(parent) != 0 && len(parent) != 8) {
		return false, nil
	}
	copy(sp.TraceID[:], traceID)
	copy(sp.SpanID[:], spanID)
	copy(sp.Parent[:], parent)
	return sp.TraceID != [16]byte{} && sp.SpanID != [8]byte{}, nil
}

// attributes calls set for each KeyValue in field num of message b.
func attributes(b []byte, num protowire.Number, set func(key []byte, v value)) error {
	it := fields{b: b}
	for it.next() {
		if it.is(num, protowire.BytesType) {
			if err := keyValue(it.f.b, set); err != nil {
				return err
			}
		}
	}
	return it.err
}

// keyValue decodes one KeyValue and calls set with it. Repeated fields merge
// as protobuf merges them: the last key, and an AnyValue merged field by
// field.
func keyValue(b []byte, set func(key []byte, v value)) error {
	var key []byte
	var v value
	it := fields{b: b}
	for it.next() {
		switch {
		case it.is(fKeyValueKey, protowire.BytesType):
			key = it.f.b
		case it.is(fKeyValueValue, protowire.BytesType):
			if err := anyValue(it.f.b, &v); err != nil {
				return err
			}
		}
	}
	if it.err != nil {
		return it.err
	}
	set(key, v)
	return nil
}

// anyValue merges an AnyValue into v. Of its oneof, the last member wins;
// only strings and ints are kept.
func anyValue(b []byte, v *value) error {
	it := fields{b: b}
	for it.next() {
		f := it.f
		switch {
		case it.is(fAnyString, protowire.BytesType):
			*v = value{str: f.b, isStr: true}
		case it.is(fAnyInt, protowire.VarintType):
			*v = value{num: int64(f.x), isNum: true}
		case it.is(fAnyBool, protowire.VarintType), it.is(fAnyDouble, protowire.Fixed64Type),
			it.is(fAnyArray, protowire.BytesType), it.is(fAnyKvlist, protowire.BytesType),
			it.is(fAnyBytes, protowire.BytesType):
			*v = value{}
		}
	}
	return it.err
}
