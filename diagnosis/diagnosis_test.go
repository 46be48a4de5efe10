package diagnosis

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/podtrace/podtrace"
	"github.com/podtrace/podtrace/lifecycle"
)

var update = flag.Bool("update", false, "rewrite golden files")

var captures = []string{"kwok-only-v1.34.10", "mixed-kwok-hollowkubelet-v1.34.10"}

func engine(t testing.TB, now time.Duration) *Engine {
	t.Helper()
	cfg := DefaultConfig()
	if now != 0 {
		cfg.Now = func() time.Time { return base.Add(now) }
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func codes(fs []podtrace.Finding) []string {
	out := []string{}
	for _, f := range fs {
		out = append(out, f.Code)
	}
	return out
}

// checkFindings holds every finding to the contract: a message, evidence
// quoting an audit event, a remedy, an owner.
func checkFindings(t *testing.T, fs []podtrace.Finding) {
	t.Helper()
	for _, f := range fs {
		if f.Message == "" || f.Remedy == "" || f.Phase == "" || (f.Owner != podtrace.OwnerPlatform && f.Owner != podtrace.OwnerUser) {
			t.Errorf("%s: incomplete finding %+v", f.Code, f)
		}
		if len(f.Evidence) == 0 {
			t.Errorf("%s: no evidence", f.Code)
		}
		for _, e := range f.Evidence {
			if e.AuditID == "" || e.Time.IsZero() || e.Text == "" {
				t.Errorf("%s: evidence without audit id, time or text: %+v", f.Code, e)
			}
		}
	}
}

func record(t *testing.T, p *lifecycle.Pod, kind string) *podtrace.Record {
	t.Helper()
	for _, r := range p.Records("test") {
		if string(r.Kind) == kind {
			return &r
		}
	}
	t.Fatalf("pod %s has no %s record", p.Name, kind)
	return nil
}

// TestRuleCases runs every testdata/rules case: the scenario's audit
// events go through decode and lifecycle, and the record's findings must
// be exactly the expected codes, in order. Every code has a case.
func TestRuleCases(t *testing.T) {
	files, _ := filepath.Glob("testdata/rules/*.yaml")
	have := map[string]bool{}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		have[name] = true
		t.Run(name, func(t *testing.T) {
			s := loadScenario(t, file)
			m := replay(t, s.audit(t, name))
			pods := m.Dirty()
			if len(pods) != 1 {
				t.Fatalf("%d pods, want 1", len(pods))
			}
			p := pods[0]
			r := record(t, p, s.Kind)
			fs := engine(t, s.Now).Diagnose(p, r)
			if got := codes(fs); !reflect.DeepEqual(got, append([]string{}, s.Expect...)) {
				b, _ := json.MarshalIndent(fs, "", "  ")
				t.Fatalf("codes %v, want %v\n%s", got, s.Expect, b)
			}
			checkFindings(t, fs)
			if len(s.Expect) > 0 && fs[0].Code != s.Expect[0] {
				t.Fatalf("root cause %s, want %s", fs[0].Code, s.Expect[0])
			}
		})
	}
	for _, c := range engine(t, 0).Codes() {
		if !have[c.Code] {
			t.Errorf("code %s has no testdata/rules/%s.yaml", c.Code, c.Code)
		}
	}
}

// TestCaptures diagnoses every record of the real captures against a
// golden file, and checks the scenario's known problems.
func TestCaptures(t *testing.T) {
	for _, set := range captures {
		t.Run(set, func(t *testing.T) {
			m := replayFile(t, filepath.Join("..", "testdata", set, "audit.log"))
			e := engine(t, 0)
			var rows []row
			byName := map[string][]row{}
			for _, p := range m.Dirty() {
				for _, r := range p.Records("test") {
					fs := e.Diagnose(p, &r)
					checkFindings(t, fs)
					rw := row{p.Name, r.Kind, r.Outcome, fs}
					byName[p.Name] = append(byName[p.Name], rw)
					if len(fs) > 0 {
						rows = append(rows, rw)
					}
					evicted := p.Marks[lifecycle.MarkEvicted].Seen()
					if p.Name != "too-big" && p.Name != "no-node" && !evicted && len(fs) > 0 {
						t.Errorf("healthy pod %s (%s %s) got findings %v", p.Name, r.Kind, r.Outcome, codes(fs))
					}
					if evicted && r.Kind == podtrace.KindDelete && !reflect.DeepEqual(codes(fs), []string{"Evicted"}) {
						t.Errorf("evicted pod %s: %v, want [Evicted]", p.Name, codes(fs))
					}
				}
			}
			nodes := "1 of 1 nodes"
			if strings.HasPrefix(set, "mixed") {
				nodes = "2 of 2 nodes"
			}
			tooBig := byName["too-big"][0].Findings
			if got := codes(tooBig); !reflect.DeepEqual(got, []string{"InsufficientCPU", "InsufficientMemory"}) {
				t.Errorf("too-big: %v", got)
			} else if !strings.Contains(tooBig[0].Message, nodes) || !strings.Contains(tooBig[1].Message, nodes) {
				t.Errorf("too-big: node counts missing: %q / %q", tooBig[0].Message, tooBig[1].Message)
			}
			if got := codes(byName["no-node"][0].Findings); !reflect.DeepEqual(got, []string{"NodeSelectorMismatch"}) {
				t.Errorf("no-node: %v", got)
			}
			golden(t, filepath.Join("testdata", "golden", set+".json"), rows)
		})
	}
}

// row is one delivery's findings in a capture's golden file.
type row struct {
	Pod      string             `json:"pod"`
	Kind     podtrace.Kind      `json:"kind"`
	Outcome  podtrace.Outcome   `json:"outcome"`
	Findings []podtrace.Finding `json:"findings"`
}

func golden(t *testing.T, path string, v any) {
	t.Helper()
	got, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	goldenBytes(t, path, append(got, '\n'))
}

func goldenBytes(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the findings (run go test -update and review the diff):\n%s", path, got)
	}
}

// TestWriteText renders what podtrace explain shows for a real capture's
// too-big pod, a crash-looping pod and a healthy one.
func TestWriteText(t *testing.T) {
	var buf bytes.Buffer
	m := replayFile(t, filepath.Join("..", "testdata", captures[0], "audit.log"))
	for _, p := range m.Dirty() {
		if p.Name == "too-big" {
			if err := WriteText(&buf, engine(t, 0).Diagnose(p, record(t, p, "create"))); err != nil {
				t.Fatal(err)
			}
		}
	}
	s := loadScenario(t, "testdata/rules/OOMKilled.yaml")
	p := replay(t, s.audit(t, "OOMKilled")).Dirty()[0]
	buf.WriteString("\n")
	if err := WriteText(&buf, engine(t, s.Now).Diagnose(p, record(t, p, "create"))); err != nil {
		t.Fatal(err)
	}
	buf.WriteString("\n")
	if err := WriteText(&buf, nil); err != nil {
		t.Fatal(err)
	}
	goldenBytes(t, "testdata/golden/explain.txt", buf.Bytes())
}

func TestConfigValidate(t *testing.T) {
	c := DefaultConfig()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	c.ImagePullSlow = 0
	c.PendingTooLong = time.Second
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "diagnosis.image_pull_slow") || !strings.Contains(err.Error(), "diagnosis.pending_too_long") {
		t.Fatalf("want both errors with key paths, got %v", err)
	}
	if _, err := New(c); err == nil {
		t.Fatal("New accepted an invalid config")
	}
}
