package otlp

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// JSONToProto transcodes an OTLP/JSON ExportTraceServiceRequest to its
// protobuf encoding. Trace and span ids may be hex (the OTLP/JSON rule) or
// base64 (what protojson writes, as in the captures podtrace ships); field
// names may be lowerCamelCase or the protobuf names; unknown fields are
// ignored, as the OTLP specification asks of receivers. Anything else that is
// not a valid request is an error wrapping ErrMalformed.
func JSONToProto(b []byte) ([]byte, error) {
	req, err := parseJSON(b)
	if err != nil {
		return nil, err
	}
	out, err := proto.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return out, nil
}

func parseJSON(b []byte) (*coltracepb.ExportTraceServiceRequest, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber() // keep 64-bit integers (times, intValue) exact
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: data after the JSON object", ErrMalformed)
	}
	if _, ok := doc.(map[string]any); !ok {
		return nil, fmt.Errorf("%w: not a JSON object", ErrMalformed)
	}
	idsToBase64(doc)
	norm, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	req := &coltracepb.ExportTraceServiceRequest{}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(norm, req); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return req, nil
}

// idLen is the byte length of the id fields, under both spellings.
var idLen = map[string]int{
	"traceId": 16, "trace_id": 16,
	"spanId": 8, "span_id": 8,
	"parentSpanId": 8, "parent_span_id": 8,
}

// idsToBase64 rewrites hex trace and span ids to base64, which protojson
// reads. The length tells the forms apart: a valid hex id is twice its byte
// length, a valid base64 one never is.
func idsToBase64(v any) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if n, ok := idLen[k]; ok {
				if s, ok := x.(string); ok && len(s) == 2*n {
					// not hex: base64 of the wrong length, rejected with its span
					if raw, err := hex.DecodeString(s); err == nil {
						v[k] = base64.StdEncoding.EncodeToString(raw)
					}
				}
				continue
			}
			idsToBase64(x)
		}
	case []any:
		for _, x := range v {
			idsToBase64(x)
		}
	}
}

// responseJSON encodes a response message as OTLP/JSON.
func responseJSON(m proto.Message) ([]byte, error) {
	return protojson.MarshalOptions{}.Marshal(m)
}
