package slo

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestGoodFiles(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.good.yaml")
	if len(files) == 0 {
		t.Fatal("no fixtures")
	}
	for _, f := range files {
		b, _ := os.ReadFile(f)
		c, err := ParseBytes(b)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if _, err := New(c); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// TestDefaultsFile: the documented defaults file is DefaultConfig.
func TestDefaultsFile(t *testing.T) {
	b, _ := os.ReadFile("testdata/defaults.good.yaml")
	c, err := ParseBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	if want := DefaultConfig(); !reflect.DeepEqual(c, want) {
		t.Fatalf("defaults.good.yaml and DefaultConfig differ:\n%+v\n%+v", c, want)
	}
}

func TestBadFiles(t *testing.T) {
	want := map[string][]string{
		"unknown-key.bad.yaml":  {"field matches not found"},
		"bad-duration.bad.yaml": {"cannot unmarshal"},
		"invalid.bad.yaml": {
			"default.create: must be positive",
			"rules[0].name: required",
			"rules[0].create: must be positive",
			`rules[1].match.namespaces[0]: bad pattern "[bad"`,
			`rules[1].match.workload: "daemon" is not job, service or standalone`,
			`rules[1].match.min_cpu: invalid quantity "4x"`,
			`rules[1].match.min_memory: invalid quantity "lots"`,
			"rules[1].match.min_volumes: must not be negative",
			`rules[2].name: "twice" used twice`,
		},
	}
	files, _ := filepath.Glob("testdata/*.bad.yaml")
	if len(files) != len(want) {
		t.Fatalf("%d bad fixtures, %d expectations", len(files), len(want))
	}
	for _, f := range files {
		b, _ := os.ReadFile(f)
		_, err := ParseBytes(b)
		if err == nil {
			t.Errorf("%s: accepted", f)
			continue
		}
		for _, w := range want[filepath.Base(f)] {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error lacks %q:\n%v", f, w, err)
			}
		}
	}
}

func TestParseQuantity(t *testing.T) {
	for _, c := range []struct {
		s     string
		milli bool
		want  int64
	}{{"4", true, 4000}, {"500m", true, 500}, {"1.5", true, 1500}, {"16Gi", false, 16 << 30}, {"1k", false, 1000}, {"", false, 0}} {
		if got, err := parseQuantity(c.s, c.milli); err != nil || got != c.want {
			t.Errorf("%q: %d %v, want %d", c.s, got, err, c.want)
		}
	}
	for _, s := range []string{"x", "4x", "-1", "1 Gi", "."} {
		if _, err := parseQuantity(s, false); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
}
