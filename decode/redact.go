package decode

import "bytes"

// Redacted replaces secret values in stored events.
const Redacted = "<redacted>"

// Redactor copies an audit event's JSON without what podtrace must never keep
// or show, wherever it sits (request and response objects, patches of any
// kind, nested objects):
//
//   - environment variable values (env[].value) and HTTP header values of
//     probes and hooks (httpHeaders[].value, e.g. Authorization): the names
//     stay;
//   - container args and command, and exec probe and hook commands: every
//     element of the array becomes "<redacted>", so the count stays (flags
//     such as --password=... are common there, and telling secret flags
//     from others by name would miss some);
//   - Secret data and stringData, a TokenRequest's status (the token) and a
//     TokenReview's spec (the token reviewed);
//   - the last-applied-configuration annotation (the whole spec again, env
//     values and args included);
//   - in a JSON patch, the value of an operation whose path reaches any of
//     the above inside a container (/spec/containers/0/args/1, .../env) or
//     the last-applied annotation;
//   - the query string's values of a request URI that runs or reaches
//     something in a pod or node (exec, attach, portforward and proxy:
//     "?command=...-pSECRET"), and of a probe's or hook's httpGet path
//     ("/ready?token=..."), set directly or by a JSON patch: the parameter
//     names stay, each value becomes "<redacted>";
//   - managedFields (bulk with no use to podtrace), replaced by null.
//
// Nothing podtrace reads from a pod is touched: recovery decodes the
// redacted journal and must rebuild the same records. Map keys (labels,
// annotations) named like these fields are left alone unless their value
// has the field's shape (an array of args, a list of env entries).
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
	ctxNone         redactCtx = iota
	ctxNamedValues            // an "env" or "httpHeaders" array: its elements' "value" is secret
	ctxNamedValue             // an element of such an array
	ctxMasked                 // an "args" or "command" array: every element is secret
	ctxSecret                 // a Secret: data and stringData are secret
	ctxTokenRequest           // a TokenRequest: its status holds the token
	ctxTokenReview            // a TokenReview: its spec holds the token
	ctxHTTPGet                // a probe's or hook's httpGet: its path's query may hold a token
	ctxReplaced               // inside a value replaced whole: only where it ends matters
)

// kindCtx is the context of an object of a kind holding secrets, or ctxNone.
func kindCtx(obj []byte) redactCtx {
	switch string(kindOf(obj)) {
	case "Secret":
		return ctxSecret
	case "TokenRequest":
		return ctxTokenRequest
	case "TokenReview":
		return ctxTokenReview
	}
	return ctxNone
}

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
		if ctx != ctxNamedValue && ctx != ctxReplaced {
			if k := kindCtx(doc[i:]); k != ctxNone {
				ctx = k
			}
		}
		return r.object(doc, i, ctx, depth+1)
	case '[':
		return r.array(doc, i, ctx, depth+1)
	}
	end, _ := r.scalar(doc, i)
	return end, end >= 0
}

func (r *Redactor) array(doc []byte, i int, ctx redactCtx, depth int) (int, bool) {
	i = skipWS(doc, i+1)
	if i < len(doc) && doc[i] == ']' {
		return i + 1, true
	}
	for {
		var end int
		var ok bool
		switch {
		case ctx == ctxMasked:
			end, ok = r.replace(doc, i, depth, redactedJSON)
		case ctx == ctxNamedValues:
			end, ok = r.value(doc, i, ctxNamedValue, depth)
		case ctx == ctxReplaced:
			end, ok = r.value(doc, i, ctxReplaced, depth)
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
	// a JSON patch operation (members "op", "path", "value" in any order)
	// whose path reaches a secret has its value replaced
	var patchOp, patchSecret, patchURL bool
	var patchValue span
	for {
		if i >= len(doc) || doc[i] != '"' {
			return i, false
		}
		kend, escaped := r.scalar(doc, i)
		if kend < 0 {
			return i, false
		}
		key := doc[i+1 : kend-1]
		switch {
		case ctx == ctxReplaced:
			key = nil // no name matters there
		case escaped:
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
		case ctx == ctxReplaced:
			end, ok = r.value(doc, i, ctxReplaced, depth)
		case depth == 1 && k == "requestURI",
			ctx == ctxHTTPGet && k == "path":
			end, ok = r.value(doc, i, ctxNone, depth)
			if ok && (k == "path" || reachesPod(doc[start:end])) {
				r.redactQuery(doc, start, end)
			}
		case k == "managedFields":
			end, ok = r.replace(doc, i, depth, "null")
		case k == "kubectl.kubernetes.io/last-applied-configuration",
			ctx == ctxNamedValue && k == "value",
			ctx == ctxSecret && (k == "data" || k == "stringData"),
			ctx == ctxTokenRequest && k == "status",
			ctx == ctxTokenReview && k == "spec":
			end, ok = r.replace(doc, i, depth, redactedJSON)
		case (k == "env" || k == "httpHeaders") && isArray(doc, i):
			end, ok = r.value(doc, i, ctxNamedValues, depth)
		case (k == "args" || k == "command") && isArray(doc, i):
			end, ok = r.value(doc, i, ctxMasked, depth)
		case k == "httpGet" && i < len(doc) && doc[i] == '{':
			end, ok = r.object(doc, i, ctxHTTPGet, depth+1)
		case k == "op":
			end, ok = r.value(doc, i, ctxNone, depth)
			patchOp = true
		case k == "path":
			end, ok = r.value(doc, i, ctxNone, depth)
			if ok && doc[start] == '"' {
				var sc Scanner
				sc.Reset(doc[start:end])
				p := sc.Bytes()
				patchSecret, patchURL = secretPath(p), bytes.HasSuffix(p, []byte("/httpGet/path"))
			}
		case k == "value":
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
			switch {
			case !patchOp || patchValue.end == 0:
			case patchSecret:
				r.addSpan(patchValue)
			case patchURL:
				r.redactQuery(doc, patchValue.start, patchValue.end)
			}
			return i + 1, true
		default:
			return i, false
		}
	}
}

const redactedJSON = `"` + Redacted + `"`

func isArray(doc []byte, i int) bool { return i < len(doc) && doc[i] == '[' }

// secretPath reports whether a JSON patch path (RFC 6901) reaches a secret:
// a container's env, args or command, or anything below them (probes'
// commands and HTTP headers included), or the last-applied annotation. Other paths are kept even when a label or
// annotation is called "env": podtrace reads those.
func secretPath(path []byte) bool {
	inContainer := false
	for seg := range bytes.SplitSeq(path, []byte("/")) {
		switch string(seg) {
		case "containers", "initContainers", "ephemeralContainers":
			inContainer = true
		case "env", "args", "command", "httpHeaders":
			if inContainer {
				return true
			}
		case "kubectl.kubernetes.io~1last-applied-configuration":
			return true
		}
	}
	return false
}

// reachesPod reports whether a request URI (a JSON string) runs or reaches
// something inside a pod or node: exec, attach, portforward or proxy, whose
// query strings carry commands and the proxied service's parameters.
func reachesPod(uri []byte) bool {
	path, _, _ := bytes.Cut(uri, []byte("?"))
	for seg := range bytes.SplitSeq(path, []byte("/")) {
		switch string(seg) {
		case "exec", "attach", "portforward", "proxy":
			return true
		}
	}
	return false
}

// redactQuery records that the URL in the JSON string doc[start:end], if it
// has a query, is to be replaced by one whose values are "<redacted>"; the
// parameter names stay. The string's position, not its content, says it is
// a URL: anything else there (a number, null) is left alone.
func (r *Redactor) redactQuery(doc []byte, start, end int) {
	if doc[start] != '"' {
		return
	}
	var sc Scanner
	sc.Reset(doc[start:end])
	path, query, found := bytes.Cut(sc.Bytes(), []byte("?"))
	if !found {
		return
	}
	out := append(appendJSONString([]byte{'"'}, path), '?')
	for j, param := range bytes.Split(query, []byte("&")) {
		if j > 0 {
			out = append(out, '&')
		}
		if name, _, ok := bytes.Cut(param, []byte("=")); ok {
			out = append(appendJSONString(out, name), '=')
		}
		out = append(out, Redacted...)
	}
	r.addSpan(span{start, end, string(append(out, '"'))})
}

// appendJSONString appends s escaped as the inside of a JSON string.
func appendJSONString(dst, s []byte) []byte {
	const hex = "0123456789abcdef"
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// replace records that the value at i is to be replaced by with.
func (r *Redactor) replace(doc []byte, i, depth int, with string) (int, bool) {
	end, ok := r.value(doc, i, ctxReplaced, depth) // the whole value goes: no spans inside it
	if ok {
		// after every span kept, in document order: append, no search
		r.spans = append(r.spans, span{i, end, with})
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

// scalar returns the end of the string, number or literal at i, or -1, and
// whether it is a string holding escapes.
func (r *Redactor) scalar(doc []byte, i int) (end int, escaped bool) {
	sc := &r.sc
	sc.pos, sc.err = i, nil
	switch doc[i] {
	case '"':
		escaped = sc.skipStr()
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
		return -1, false
	}
	return sc.pos, escaped
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
