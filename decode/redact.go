package decode

// Redacted replaces secret values in stored events.
const Redacted = "<redacted>"

// Redactor copies an audit event's JSON without what podtrace must never keep
// or show: environment variable values (env[].value), Secret data
// (data, stringData of a Secret), the last-applied-configuration annotation
// (which holds the whole spec, env values included), and managedFields
// (bulk with no use to podtrace). The output is compact JSON.
type Redactor struct {
	sc  Scanner
	out []byte
}

// Redact returns a redacted copy of doc, or nil if doc is not valid JSON.
func (r *Redactor) Redact(doc []byte) []byte {
	r.sc.Reset(doc)
	r.out = r.out[:0]
	r.value(ctxNone)
	if r.sc.Err() != nil {
		return nil
	}
	return append([]byte(nil), r.out...)
}

type redactCtx int

const (
	ctxNone     redactCtx = iota
	ctxEnvList            // inside an "env" array
	ctxEnvVar             // an element of an "env" array
	ctxSecretOf           // an object whose kind is Secret
)

func (r *Redactor) value(ctx redactCtx) {
	sc := &r.sc
	switch sc.Peek() {
	case '{':
		r.object(ctx)
	case '[':
		r.out = append(r.out, '[')
		first := true
		sc.Array(func() error {
			if !first {
				r.out = append(r.out, ',')
			}
			first = false
			if ctx == ctxEnvList {
				r.value(ctxEnvVar)
			} else {
				r.value(ctxNone)
			}
			return nil
		})
		r.out = append(r.out, ']')
	default:
		r.out = append(r.out, sc.Raw()...)
	}
}

func (r *Redactor) object(ctx redactCtx) {
	sc := &r.sc
	if isKind(sc.buf[sc.pos:], "Secret") {
		ctx = ctxSecretOf
	}
	r.out = append(r.out, '{')
	first := true
	sc.Object(func(k []byte) error {
		key := string(k)
		switch {
		case key == "managedFields", key == "kubectl.kubernetes.io/last-applied-configuration":
			sc.Skip()
			return nil
		}
		if !first {
			r.out = append(r.out, ',')
		}
		first = false
		r.out = appendJSONString(r.out, k)
		r.out = append(r.out, ':')
		switch {
		case ctx == ctxEnvVar && key == "value",
			ctx == ctxSecretOf && (key == "data" || key == "stringData"):
			sc.Skip()
			r.out = appendJSONString(r.out, []byte(Redacted))
		case key == "env":
			r.value(ctxEnvList)
		default:
			r.value(ctxNone)
		}
		return nil
	})
	r.out = append(r.out, '}')
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string.
func appendJSONString(dst, s []byte) []byte {
	dst = append(dst, '"')
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}
