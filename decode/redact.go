package decode

import (
	"bytes"
	"strings"
)

// Redacted replaces secret values in stored events.
const Redacted = "<redacted>"

// Redactor copies an audit event's JSON without what podtrace must never keep
// or show: environment variable values (env[].value, also when set through a
// JSON patch), Secret data and stringData, the last-applied-configuration
// annotation (which holds the whole spec, env values included), and
// managedFields (bulk with no use to podtrace, replaced by null).
//
// It walks the document once without building values, records the byte
// spans to replace, then copies the unchanged ranges around them.
type Redactor struct {
	sc    Scanner
	spans []span
}

type span struct {
	start, end int
	with       string
}

type redactCtx uint8

const (
	ctxNone    redactCtx = iota
	ctxEnvList           // the elements of an "env" array
	ctxEnvVar            // an element of an "env" array
	ctxSecret            // an object whose kind is Secret
	ctxPatch             // an element of a JSON patch array (begins with "op")
)

// Redact returns a redacted copy of doc, or nil if doc is not valid JSON.
func (r *Redactor) Redact(doc []byte) []byte {
	r.spans = r.spans[:0]
	r.sc.Reset(doc)
	end, ok := r.value(doc, skipWS(doc, 0), ctxNone, 0)
	if !ok || skipWS(doc, end) != len(doc) {
		return nil
	}
	n := len(doc)
	for _, s := range r.spans {
		n += len(s.with) - (s.end - s.start)
	}
	out := make([]byte, 0, n)
	prev := 0
	for _, s := range r.spans {
		out = append(out, doc[prev:s.start]...)
		out = append(out, s.with...)
		prev = s.end
	}
	return append(out, doc[prev:]...)
}

// value walks the value at i and returns where it ends.
func (r *Redactor) value(doc []byte, i int, ctx redactCtx, depth int) (int, bool) {
	if i >= len(doc) || depth > maxDepth {
		return i, false
	}
	switch doc[i] {
	case '{':
		if ctx != ctxEnvVar && isKind(doc[i:], "Secret") {
			ctx = ctxSecret
		}
		return r.object(doc, i, ctx, depth+1)
	case '[':
		return r.array(doc, i, ctx, depth+1)
	}
	end := r.scalar(doc, i)
	return end, end >= 0
}

func (r *Redactor) array(doc []byte, i int, ctx redactCtx, depth int) (int, bool) {
	i = skipWS(doc, i+1)
	if i < len(doc) && doc[i] == ']' {
		return i + 1, true
	}
	for {
		elem := ctxNone
		switch {
		case ctx == ctxEnvList:
			elem = ctxEnvVar
		case i < len(doc) && bytes.HasPrefix(doc[i:], []byte(`{"op"`)):
			elem = ctxPatch
		}
		end, ok := r.value(doc, i, elem, depth)
		if !ok {
			return end, false
		}
		i = skipWS(doc, end)
		if i >= len(doc) {
			return i, false
		}
		switch doc[i] {
		case ',':
			i = skipWS(doc, i+1)
		case ']':
			return i + 1, true
		default:
			return i, false
		}
	}
}

func (r *Redactor) object(doc []byte, i int, ctx redactCtx, depth int) (int, bool) {
	i = skipWS(doc, i+1)
	if i < len(doc) && doc[i] == '}' {
		return i + 1, true
	}
	var patchEnv bool
	var patchValue span
	for {
		if i >= len(doc) || doc[i] != '"' {
			return i, false
		}
		kend := r.scalar(doc, i)
		if kend < 0 {
			return i, false
		}
		key := doc[i+1 : kend-1]
		if bytes.IndexByte(key, '\\') >= 0 {
			var sc Scanner
			sc.Reset(doc[i:kend])
			key = sc.Bytes()
		}
		i = skipWS(doc, kend)
		if i >= len(doc) || doc[i] != ':' {
			return i, false
		}
		i = skipWS(doc, i+1)
		start := i
		var end int
		var ok bool
		switch k := string(key); {
		case k == "managedFields":
			end, ok = r.replace(doc, i, depth, "null")
		case k == "kubectl.kubernetes.io/last-applied-configuration",
			ctx == ctxEnvVar && k == "value",
			ctx == ctxSecret && (k == "data" || k == "stringData"):
			end, ok = r.replace(doc, i, depth, redactedJSON)
		case k == "env":
			end, ok = r.value(doc, i, ctxEnvList, depth)
		case ctx == ctxPatch && k == "path":
			end, ok = r.value(doc, i, ctxNone, depth)
			if ok && doc[start] == '"' {
				path := string(doc[start+1 : end-1])
				patchEnv = strings.Contains(path, "/env") || strings.Contains(path, "last-applied")
			}
		case ctx == ctxPatch && k == "value":
			end, ok = r.value(doc, i, ctxNone, depth)
			patchValue = span{start, end, redactedJSON}
		default:
			end, ok = r.value(doc, i, ctxNone, depth)
		}
		if !ok {
			return end, false
		}
		i = skipWS(doc, end)
		if i >= len(doc) {
			return i, false
		}
		switch doc[i] {
		case ',':
			i = skipWS(doc, i+1)
		case '}':
			if patchEnv && patchValue.end > 0 {
				r.addSpan(patchValue)
			}
			return i + 1, true
		default:
			return i, false
		}
	}
}

const redactedJSON = `"` + Redacted + `"`

// replace records that the value at i is to be replaced by with.
func (r *Redactor) replace(doc []byte, i, depth int, with string) (int, bool) {
	spans := len(r.spans)
	end, ok := r.value(doc, i, ctxNone, depth)
	r.spans = r.spans[:spans] // the whole value goes: drop spans inside it
	if ok {
		r.addSpan(span{i, end, with})
	}
	return end, ok
}

// addSpan adds a span, keeping spans in document order and dropping those
// inside it (a JSON patch value is added after its inner spans were found).
func (r *Redactor) addSpan(s span) {
	kept := r.spans[:0]
	for _, o := range r.spans {
		if o.start < s.start || o.end > s.end {
			kept = append(kept, o)
		}
	}
	r.spans = append(kept, s)
	for j := len(r.spans) - 1; j > 0 && r.spans[j].start < r.spans[j-1].start; j-- {
		r.spans[j], r.spans[j-1] = r.spans[j-1], r.spans[j]
	}
}

// scalar returns the end of the string, number or literal at i, or -1.
func (r *Redactor) scalar(doc []byte, i int) int {
	sc := &r.sc
	sc.pos, sc.err = i, nil
	switch doc[i] {
	case '"':
		sc.skipStr()
	case 't':
		sc.literal("true")
	case 'f':
		sc.literal("false")
	case 'n':
		sc.literal("null")
	default:
		sc.number()
	}
	if sc.err != nil {
		return -1
	}
	return sc.pos
}

func skipWS(doc []byte, i int) int {
	for i < len(doc) {
		switch doc[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}
