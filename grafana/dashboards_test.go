package grafana_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"gopkg.in/yaml.v3"
)

// exported is every metric the dashboards may query, with its labels. It
// must match what podtrace exports: deliverymetrics (deliveries, phases,
// startup SLI, SLO, diagnoses) and correlate (span metrics of the
// apiserver, kubelet and CRI runtime). A histogram also answers to its
// _bucket, _sum and _count series.
var exported = map[string]struct {
	histogram bool
	labels    []string
}{
	"podtrace_pod_delivery_duration_seconds":      {true, []string{"kind", "outcome", "namespace"}},
	"podtrace_pod_phase_duration_seconds":         {true, []string{"phase", "owner"}},
	"podtrace_pod_startup_sli_duration_seconds":   {true, nil},
	"podtrace_slo_deliveries_total":               {false, []string{"kind", "result"}},
	"podtrace_diagnosis_total":                    {false, []string{"code", "phase", "owner"}},
	"podtrace_apiserver_requests_total":           {false, []string{"verb", "resource", "subresource", "code"}},
	"podtrace_apiserver_request_duration_seconds": {true, []string{"verb", "resource", "scope"}},
	"podtrace_kubelet_sync_pod_total":             {false, []string{"result"}},
	"podtrace_kubelet_sync_pod_duration_seconds":  {true, nil},
	"podtrace_cri_operation_duration_seconds":     {true, []string{"operation", "result"}},
}

// series resolves a series name to its metric's labels.
func series(name string) ([]string, bool) {
	if m, ok := exported[name]; ok && !m.histogram {
		return m.labels, true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if m, ok := exported[strings.TrimSuffix(name, suffix)]; ok && m.histogram && strings.HasSuffix(name, suffix) {
			if suffix == "_bucket" {
				return append(slices.Clone(m.labels), "le"), true
			}
			return m.labels, true
		}
	}
	return nil, false
}

// grafanaVars replaces Grafana's interval variables, which PromQL cannot
// parse; label values like "$namespace" sit in strings and parse as they are.
var grafanaVars = strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$__range", "1h")

// checkQuery parses a query and checks its metrics and labels.
func checkQuery(expr string) []string {
	var problems []string
	e, err := parser.NewParser(parser.Options{}).ParseExpr(grafanaVars.Replace(expr))
	if err != nil {
		return []string{"does not parse: " + err.Error()}
	}
	known := map[string]bool{}
	var used []string
	nSelectors := 0
	parser.Inspect(e, func(n parser.Node, path []parser.Node) error {
		switch n := n.(type) {
		case *parser.VectorSelector:
			nSelectors++
			name := n.Name
			for _, m := range n.LabelMatchers {
				if m.Name == labels.MetricName {
					name = m.Value
					continue
				}
				used = append(used, m.Name)
			}
			ls, ok := series(name)
			if !ok {
				problems = append(problems, "unknown metric "+name)
			}
			for _, l := range ls {
				known[l] = true
			}
		case *parser.AggregateExpr:
			used = append(used, n.Grouping...)
		case *parser.Call:
			if n.Func.Name == "histogram_quantile" {
				vs := selectors(n.Args[1])
				if len(vs) == 0 || !strings.HasSuffix(vs[0], "_bucket") {
					problems = append(problems, "histogram_quantile over "+strings.Join(vs, ",")+", not a _bucket series")
				}
			}
		}
		return nil
	})
	if nSelectors == 0 {
		problems = append(problems, "selects no metric")
	}
	for _, l := range used {
		if !known[l] {
			problems = append(problems, "label "+l+" is not a label of the metrics queried")
		}
	}
	return problems
}

func selectors(n parser.Node) []string {
	var out []string
	parser.Inspect(n, func(n parser.Node, _ []parser.Node) error {
		if v, ok := n.(*parser.VectorSelector); ok {
			out = append(out, v.Name)
		}
		return nil
	})
	return out
}

type panel struct {
	ID         int            `json:"id"`
	Type       string         `json:"type"`
	Title      string         `json:"title"`
	Datasource map[string]any `json:"datasource"`
	Targets    []struct {
		Expr     string         `json:"expr"`
		RefID    string         `json:"refId"`
		Exemplar bool           `json:"exemplar"`
		DS       map[string]any `json:"datasource"`
	} `json:"targets"`
	Panels []panel `json:"panels"`
}

type dashboard struct {
	UID           string  `json:"uid"`
	Title         string  `json:"title"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []panel `json:"panels"`
	Templating    struct {
		List []struct {
			Name, Type string
			Definition string `json:"definition"`
		} `json:"list"`
	} `json:"templating"`
}

func dashboards(t *testing.T) map[string]dashboard {
	t.Helper()
	files, err := filepath.Glob("dashboards/*.json")
	if err != nil || len(files) < 2 {
		t.Fatalf("dashboards: %v %v", files, err)
	}
	out := map[string]dashboard{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d dashboard
		dec := json.NewDecoder(strings.NewReader(string(b)))
		if err := dec.Decode(&d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[f] = d
	}
	return out
}

func TestDashboardQueries(t *testing.T) {
	labelValues := regexp.MustCompile(`^label_values\((\w+),\s*(\w+)\)$`)
	uids := map[string]bool{}
	queried := map[string]bool{}
	for file, d := range dashboards(t) {
		if d.UID == "" || d.Title == "" || d.SchemaVersion < 36 || uids[d.UID] {
			t.Errorf("%s: uid %q title %q schemaVersion %d", file, d.UID, d.Title, d.SchemaVersion)
		}
		uids[d.UID] = true
		ids := map[int]bool{}
		var walk func(ps []panel)
		exemplars := 0
		walk = func(ps []panel) {
			for _, p := range ps {
				if ids[p.ID] {
					t.Errorf("%s: panel id %d twice", file, p.ID)
				}
				ids[p.ID] = true
				walk(p.Panels)
				if p.Type == "row" {
					continue
				}
				if len(p.Targets) == 0 {
					t.Errorf("%s: panel %q has no query", file, p.Title)
				}
				if p.Datasource["uid"] != "${datasource}" {
					t.Errorf("%s: panel %q does not use the datasource variable", file, p.Title)
				}
				for _, tg := range p.Targets {
					for _, problem := range checkQuery(tg.Expr) {
						t.Errorf("%s: panel %q query %s: %s\n  %s", file, p.Title, tg.RefID, problem, tg.Expr)
					}
					if tg.Exemplar {
						exemplars++
					}
					for name := range exported {
						if strings.Contains(tg.Expr, name) {
							queried[name] = true
						}
					}
				}
			}
		}
		walk(d.Panels)
		if exemplars == 0 {
			t.Errorf("%s: no query shows exemplars", file)
		}
		for _, v := range d.Templating.List {
			if v.Type != "query" {
				continue
			}
			m := labelValues.FindStringSubmatch(v.Definition)
			if m == nil {
				t.Errorf("%s: variable %s: %q is not label_values(metric, label)", file, v.Name, v.Definition)
				continue
			}
			if ls, ok := series(m[1]); !ok || !slices.Contains(ls, m[2]) {
				t.Errorf("%s: variable %s: %s has no label %s", file, v.Name, m[1], m[2])
			}
		}
	}
	for name := range exported {
		if !queried[name] {
			t.Errorf("no dashboard shows %s", name)
		}
	}
}

// TestCheckQueryFails shows the checks above can fail.
func TestCheckQueryFails(t *testing.T) {
	for expr, want := range map[string]string{
		`rate(podtrace_pods_total[5m])`:                                                            "unknown metric",
		`sum by (namespace) (rate(podtrace_diagnosis_total[5m]))`:                                  "label namespace",
		`histogram_quantile(0.9, rate(podtrace_pod_phase_duration_seconds_sum[$__rate_interval]))`: "not a _bucket",
		`sum(rate(podtrace_diagnosis_total[5m])`:                                                   "does not parse",
		`podtrace_pod_delivery_duration_seconds`:                                                   "unknown metric",
	} {
		got := strings.Join(checkQuery(expr), "; ")
		if !strings.Contains(got, want) {
			t.Errorf("%s: %q, want %q", expr, got, want)
		}
	}
	if p := checkQuery(`histogram_quantile(0.9, sum by (le, phase) (rate(podtrace_pod_phase_duration_seconds_bucket{owner="user"}[$__rate_interval])))`); len(p) != 0 {
		t.Errorf("a good query fails: %v", p)
	}
}

// TestProvisioning: the data sources link exemplars to the podtrace Jaeger
// data source, and the provider loads a folder.
func TestProvisioning(t *testing.T) {
	var ds struct {
		Datasources []struct {
			UID, Type, URL string
			JSONData       struct {
				Exemplars []struct {
					Name          string `yaml:"name"`
					DatasourceUID string `yaml:"datasourceUid"`
				} `yaml:"exemplarTraceIdDestinations"`
			} `yaml:"jsonData"`
		} `yaml:"datasources"`
	}
	b, err := os.ReadFile("provisioning/datasources/podtrace.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &ds); err != nil {
		t.Fatal(err)
	}
	types := map[string]string{}
	for _, d := range ds.Datasources {
		types[d.UID] = d.Type
	}
	linked := false
	for _, d := range ds.Datasources {
		for _, e := range d.JSONData.Exemplars {
			linked = linked || (e.Name == "trace_id" && types[e.DatasourceUID] == "jaeger")
		}
	}
	if !linked || types["podtrace-prometheus"] != "prometheus" {
		t.Fatalf("data sources: %+v", ds)
	}
	var prov struct {
		Providers []struct {
			Type    string
			Options struct{ Path string }
		}
	}
	b, err = os.ReadFile("provisioning/dashboards/podtrace.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &prov); err != nil || len(prov.Providers) != 1 || prov.Providers[0].Type != "file" || prov.Providers[0].Options.Path == "" {
		t.Fatalf("dashboard provider: %+v %v", prov, err)
	}
}
