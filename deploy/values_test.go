package deploy

import (
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/podtrace/podtrace/server"
)

// TestSchemaConfigKeys: values.schema.json lists exactly podtrace's config
// keys (server.Config), each with the JSON type its Go type decodes from,
// so a key added to or removed from podtrace fails here until the chart's
// schema follows.
func TestSchemaConfigKeys(t *testing.T) {
	b, err := os.ReadFile(chartDir + "/values.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Properties struct {
			Config struct {
				Properties map[string]struct {
					Type string `json:"type"`
				} `json:"properties"`
			} `json:"config"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(b, &schema); err != nil {
		t.Fatal(err)
	}
	props := schema.Properties.Config.Properties
	durationType := reflect.TypeFor[time.Duration]()
	ct := reflect.TypeFor[server.Config]()
	var keys []string
	for i := range ct.NumField() {
		f := ct.Field(i)
		key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if key == "" || key == "-" {
			continue
		}
		keys = append(keys, key)
		var want string
		switch {
		case f.Type == durationType:
			want = "string"
		case f.Type.Kind() == reflect.String:
			want = "string"
		case f.Type.Kind() == reflect.Bool:
			want = "boolean"
		case f.Type.Kind() >= reflect.Int && f.Type.Kind() <= reflect.Int64:
			want = "integer"
		case f.Type.Kind() == reflect.Float64:
			want = "number"
		case f.Type.Kind() == reflect.Slice:
			want = "array"
		case f.Type.Kind() == reflect.Struct:
			want = "object"
		default:
			t.Fatalf("server.Config.%s: no JSON type for %s", f.Name, f.Type)
		}
		p, ok := props[key]
		if !ok {
			t.Errorf("config key %s (server.Config.%s) is missing from values.schema.json: add it under properties.config.properties", key, f.Name)
		} else if p.Type != want {
			t.Errorf("values.schema.json config.%s: type %q, want %q (server.Config.%s is %s)", key, p.Type, want, f.Name, f.Type)
		}
	}
	for key := range props {
		if !slices.Contains(keys, key) {
			t.Errorf("values.schema.json config.%s: podtrace has no such key (server/config.go)", key)
		}
	}
}

// TestHelmRejects: values podtrace could not run with fail at `helm
// install`, with a message naming the value.
func TestHelmRejects(t *testing.T) {
	for _, tc := range []struct {
		name, values, want string
	}{
		{"replicas on SQLite", `replicas: 2`, "replicas"},
		{"unknown config key", `config: {retention_days: 30}`, "retention_days"},
		{"config key of the wrong type", `config: {queue_events: many}`, "queue_events"},
		{"not a Go duration", `config: {retention: 30d}`, "retention"},
		{"a key the chart owns", `config: {http_addr: ":9090"}`, "config.http_addr: set by the chart"},
		{"a DSN in values", `config: {postgres_dsn: "postgres://u:pw@db/pt"}`, "config.postgres_dsn: set by the chart"},
		{"postgres without its Secret", `postgres: {enabled: true}`, "secretName"},
		{"unknown value", `persistance: {enabled: false}`, "persistance"},
		{"pull policy", `image: {pullPolicy: Sometimes}`, "pullPolicy"},
		{"volume size", `persistence: {size: ten gigs}`, "size"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := helmTemplate(tc.values)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("helm install with %v: error %v, want one naming %q", tc.values, err, tc.want)
			}
		})
	}
}
