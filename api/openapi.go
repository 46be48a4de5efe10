package api

import (
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/podtrace/podtrace"
)

// openAPI builds the OpenAPI 3.1 document from the route table; response
// schemas are derived from the Go types the handlers return (JSON tags,
// plus `doc`, `enum` and `null` tags), so they cannot drift from what is
// served.
func (a *API) openAPIDoc() map[string]any {
	g := &schemaGen{defs: map[string]any{}, names: map[string]reflect.Type{}}
	restErr := g.ref(reflect.TypeOf(ErrorBody{}))
	jaegerErr := g.ref(reflect.TypeOf(JaegerTraces{}))
	paths := map[string]any{}
	tags := []any{}
	seenTag := map[string]bool{}
	for i := range a.routes {
		rt := &a.routes[i]
		if !seenTag[rt.tag] {
			seenTag[rt.tag] = true
			tags = append(tags, map[string]any{"name": rt.tag, "description": tagDescription(rt.tag)})
		}
		params := []any{}
		for _, p := range rt.params {
			params = append(params, p.openAPI())
		}
		responses := map[string]any{
			"200": map[string]any{"description": "OK", "content": jsonContent(g.of(reflect.TypeOf(rt.response)))},
		}
		codes := slices.Clone(rt.errors)
		if rt.strict && !slices.Contains(codes, 400) {
			codes = append(codes, 400)
		}
		codes = append(codes, 500)
		for _, c := range codes {
			schema := restErr
			if rt.jaeger {
				schema = jaegerErr
			}
			responses[strconv.Itoa(c)] = map[string]any{"description": http.StatusText(c), "content": jsonContent(schema)}
		}
		op := map[string]any{
			"operationId": rt.id,
			"summary":     rt.summary,
			"tags":        []string{rt.tag},
			"parameters":  params,
			"responses":   responses,
		}
		if rt.description != "" {
			op["description"] = rt.description
		}
		if rt.strict {
			op["description"] = strings.TrimSpace(rt.description + " Unknown query parameters are rejected (400).")
		}
		paths[rt.path] = map[string]any{strings.ToLower(rt.method): op}
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":   "podtrace API",
			"version": "1",
			"description": "podtrace's delivery records over HTTP: the REST API under /api/v1 and a Jaeger-compatible query API " +
				"under /api that serves every delivery as a trace. All endpoints are read-only. REST errors are " +
				"{\"error\":{\"code\",\"message\"}}; Jaeger-compatible errors use Jaeger's envelope.",
		},
		"tags":       tags,
		"paths":      paths,
		"components": map[string]any{"schemas": g.defs},
	}
}

func tagDescription(tag string) string {
	switch tag {
	case "meta":
		return "The API's description."
	case "pods":
		return "Delivery records and the audit events behind them."
	case "summaries":
		return "Aggregates over the deliveries of a time window."
	case "jaeger":
		return "The subset of Jaeger's HTTP query API that Jaeger UI and Grafana use; deliveries as traces."
	}
	return ""
}

func jsonContent(schema any) map[string]any {
	return map[string]any{"application/json": map[string]any{"schema": schema}}
}

func (p *param) openAPI() map[string]any {
	in := p.in
	if in == "" {
		in = "query"
	}
	schema := map[string]any{"type": "string"}
	if p.typ != "" {
		schema["type"] = p.typ
	}
	if p.format != "" {
		schema["format"] = p.format
	}
	if p.enum != nil {
		schema["enum"] = p.enum
	}
	out := map[string]any{"name": p.name, "in": in, "description": p.desc, "required": p.required || in == "path"}
	if p.repeat {
		out["schema"] = map[string]any{"type": "array", "items": schema}
		out["explode"] = true
	} else {
		out["schema"] = schema
	}
	return out
}

// schemaGen derives JSON Schemas (2020-12, as OpenAPI 3.1 uses) from Go
// types, the way encoding/json marshals them.
type schemaGen struct {
	defs  map[string]any
	names map[string]reflect.Type
}

var (
	timeType = reflect.TypeOf(time.Time{})
	rawType  = reflect.TypeOf(json.RawMessage(nil))
)

// enums of the domain's string types.
func enumOf(t reflect.Type) []string {
	switch t {
	case reflect.TypeOf(podtrace.Kind("")):
		return kinds
	case reflect.TypeOf(podtrace.Outcome("")):
		return outcomes
	case reflect.TypeOf(podtrace.Owner("")):
		return owners
	}
	return nil
}

func (g *schemaGen) ref(t reflect.Type) map[string]any {
	name := t.Name()
	if prev, ok := g.names[name]; ok && prev != t {
		pkg := t.PkgPath()[strings.LastIndexByte(t.PkgPath(), '/')+1:]
		name = string(unicode.ToUpper(rune(pkg[0]))) + pkg[1:] + name
	}
	ref := map[string]any{"$ref": "#/components/schemas/" + name}
	if _, ok := g.names[name]; ok {
		return ref
	}
	g.names[name] = t
	g.defs[name] = nil // placeholder: recursion ends here
	g.defs[name] = g.structSchema(t)
	return ref
}

func (g *schemaGen) of(t reflect.Type) map[string]any {
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t == rawType:
		return map[string]any{"type": "object"}
	}
	switch t.Kind() {
	case reflect.Pointer:
		inner := g.of(t.Elem())
		if typ, ok := inner["type"].(string); ok {
			inner["type"] = []string{typ, "null"}
			return inner
		}
		return map[string]any{"anyOf": []any{inner, map[string]any{"type": "null"}}}
	case reflect.Struct:
		return g.ref(t)
	case reflect.Slice, reflect.Array:
		return map[string]any{"type": "array", "items": g.of(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.of(t.Elem())}
	case reflect.String:
		s := map[string]any{"type": "string"}
		if e := enumOf(t); e != nil {
			s["enum"] = e
		}
		return s
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	default: // interface: any JSON value
		return map[string]any{}
	}
}

func (g *schemaGen) structSchema(t reflect.Type) map[string]any {
	props := map[string]any{}
	required := []string{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if !f.IsExported() || tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		s := g.of(f.Type)
		if e := f.Tag.Get("enum"); e != "" {
			s["enum"] = strings.Split(e, ",")
		}
		if f.Tag.Get("null") == "true" {
			if typ, ok := s["type"].(string); ok {
				s["type"] = []string{typ, "null"}
			}
		}
		if d := f.Tag.Get("doc"); d != "" {
			if _, isRef := s["$ref"]; isRef {
				s = map[string]any{"allOf": []any{s}, "description": d}
			} else {
				s["description"] = d
			}
		}
		props[name] = s
		if !strings.Contains(opts, "omitempty") {
			required = append(required, name)
		}
	}
	return map[string]any{"type": "object", "properties": props, "required": required, "additionalProperties": false}
}
