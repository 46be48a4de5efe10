package deploy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

const (
	chartDir  = "helm/podtrace"
	namespace = "podtrace"
	// kubeVersion is the e2e suite's kube-apiserver.
	kubeVersion = "v1.34.10"
)

// A rendering is one way of deploying podtrace, rendered to objects.
type rendering struct {
	name    string
	objects []*unstructured.Unstructured
	// kinds are the kinds it must hold, once each.
	kinds []string
}

var (
	baseKinds    = []string{"ConfigMap", "NetworkPolicy", "Service", "ServiceAccount", "StatefulSet"}
	monitorKinds = append([]string{"ServiceMonitor"}, baseKinds...)
)

// helmValues are the value files (helm install -f) the tests render the
// chart with.
func helmValues() map[string]string {
	return map[string]string{
		"helm/default": ``,
		"helm/postgres": `
replicas: 2
postgres: {enabled: true, secretName: podtrace-postgres}
`,
		"helm/everything": `
replicas: 3
postgres: {enabled: true, secretName: podtrace-postgres, passwordKey: pw}
tls: {enabled: true}
apiToken: {secretName: podtrace-api-token}
serviceMonitor:
  enabled: true
  interval: 15s
  labels: {release: kube-prometheus-stack}
service: {clusterIP: 10.0.0.200}
config:
  cluster: prod
  sync: NORMAL
  retention: 168h
  max_body_bytes: 67108864
  max_inflight_bytes: 134217728
  metrics_namespaces: [shop, payments]
  diagnosis: {slow_delivery: 2m, image_pull_slow: 90s}
  slo: {default: {create: 2m, delete: 45s}}
  otlp_export: grpc://otel-collector.monitoring:4317
  otlp_forward: http://otel-collector.monitoring:4318
  shared_journal: true
podAnnotations: {example.com/team: platform}
`,
		"helm/minimal": `
persistence: {enabled: false}
ingestToken: {secretName: ""}
networkPolicy: {enabled: false}
serviceAccount: {create: false, name: default}
fullnameOverride: pt
`,
		"helm/storage-class": `
persistence: {storageClassName: "", size: 2Gi, accessModes: [ReadWriteOncePod]}
`,
	}
}

// renderings renders the Kustomize base, overlays and components (the
// combinations in testdata/kustomize) and the chart with helmValues.
func renderings(t *testing.T) []rendering {
	t.Helper()
	rs := []rendering{
		{name: "kustomize/base", objects: kustomize(t, "kustomize/base"), kinds: baseKinds},
		{name: "kustomize/overlays/postgres", objects: kustomize(t, "kustomize/overlays/postgres"),
			kinds: append([]string{"PodDisruptionBudget"}, baseKinds...)},
		{name: "kustomize/base+tls", objects: kustomize(t, "testdata/kustomize/base-tls"), kinds: baseKinds},
		{name: "kustomize/base+tls+servicemonitor", objects: kustomize(t, "testdata/kustomize/base-tls-servicemonitor"), kinds: monitorKinds},
		{name: "kustomize/postgres+tls+servicemonitor", objects: kustomize(t, "testdata/kustomize/postgres-tls-servicemonitor"),
			kinds: append([]string{"PodDisruptionBudget"}, monitorKinds...)},
	}
	kinds := map[string][]string{
		"helm/postgres":   append([]string{"PodDisruptionBudget"}, baseKinds...),
		"helm/everything": append([]string{"PodDisruptionBudget"}, monitorKinds...),
		"helm/minimal":    {"ConfigMap", "Service", "StatefulSet"},
	}
	values := helmValues()
	for _, name := range slices.Sorted(maps.Keys(values)) {
		objs, err := helmTemplate(values[name])
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		k, ok := kinds[name]
		if !ok {
			k = baseKinds
		}
		rs = append(rs, rendering{name: name, objects: objs, kinds: k})
	}
	return rs
}

// kustomize renders a kustomization directory as `kustomize build` does.
func kustomize(t *testing.T, dir string) []*unstructured.Unstructured {
	t.Helper()
	resources, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	out, err := resources.AsYaml()
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	objs, err := decodeObjects(out)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	return objs
}

// helmTemplate renders the chart as `helm template podtrace
// deploy/helm/podtrace -n podtrace -f values.yaml` does, checking the
// values against values.schema.json.
func helmTemplate(valuesYAML string) ([]*unstructured.Unstructured, error) {
	chart, err := loader.Load(chartDir)
	if err != nil {
		return nil, err
	}
	values, err := chartutil.ReadValues([]byte(valuesYAML))
	if err != nil {
		return nil, err
	}
	install := action.NewInstall(&action.Configuration{Log: func(string, ...any) {}})
	install.DryRun, install.ClientOnly, install.Replace = true, true, true
	install.ReleaseName, install.Namespace = "podtrace", namespace
	kv, err := chartutil.ParseKubeVersion(kubeVersion)
	if err != nil {
		return nil, err
	}
	install.KubeVersion = kv
	rel, err := install.Run(chart, values)
	if err != nil {
		return nil, err
	}
	return decodeObjects([]byte(rel.Manifest))
}

// decodeObjects splits a YAML stream into objects.
func decodeObjects(stream []byte) ([]*unstructured.Unstructured, error) {
	dec := yaml.NewYAMLOrJSONDecoder(bytes.NewReader(stream), 4096)
	var objs []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			return objs, nil
		} else if err != nil {
			return nil, err
		}
		if m == nil {
			continue
		}
		u := &unstructured.Unstructured{Object: m}
		if u.GetKind() == "" || u.GetName() == "" {
			return nil, fmt.Errorf("object without kind or name: %v", m)
		}
		objs = append(objs, u)
	}
}

// writeFile writes a test file and returns its path.
func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
