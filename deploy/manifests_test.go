package deploy

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"maps"
	"math/big"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"helm.sh/helm/v3/pkg/chart/loader"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes/scheme"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/podtrace/podtrace/cli"
	"github.com/podtrace/podtrace/server"
)

// podtracePorts are the container ports every rendering exposes, by name,
// and the config keys that make podtrace listen on them.
var podtracePorts = map[string]string{"http": "http_addr", "otlp-grpc": "otlp_grpc_addr", "otlp-http": "otlp_http_addr"}

// TestRenderings checks every rendering offline: the objects it holds,
// their fields against the Kubernetes Go types (unknown fields fail), the
// podtrace configuration against podtrace's own loader, and the
// deployment's invariants.
func TestRenderings(t *testing.T) {
	for _, r := range renderings(t) {
		t.Run(r.name, func(t *testing.T) { checkRendering(t, r) })
	}
}

// manifest is a rendering's objects by kind (each kind once), the
// StatefulSet typed.
type manifest struct {
	objs map[string]*unstructured.Unstructured
	sts  appsv1.StatefulSet
}

func (m *manifest) container(t *testing.T) *corev1.Container {
	t.Helper()
	cs := m.sts.Spec.Template.Spec.Containers
	if len(cs) != 1 || cs[0].Name != "podtrace" {
		t.Fatalf("StatefulSet containers: want one named podtrace, got %d", len(cs))
	}
	return &cs[0]
}

// newManifest indexes objects by kind and decodes the StatefulSet.
func newManifest(t *testing.T, objs []*unstructured.Unstructured) *manifest {
	t.Helper()
	m := &manifest{objs: map[string]*unstructured.Unstructured{}}
	for _, o := range objs {
		m.objs[o.GetKind()] = o
	}
	sts := m.objs["StatefulSet"]
	if sts == nil {
		t.Fatal("no StatefulSet")
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(sts.Object, &m.sts); err != nil {
		t.Fatal(err)
	}
	return m
}

func checkRendering(t *testing.T, r rendering) {
	var kinds []string
	for _, o := range r.objects {
		kinds = append(kinds, o.GetKind())
		if o.GetNamespace() != namespace {
			t.Errorf("%s %s: namespace %q, want %q", o.GetKind(), o.GetName(), o.GetNamespace(), namespace)
		}
		if o.GetLabels()["app.kubernetes.io/name"] != "podtrace" {
			t.Errorf("%s %s: no label app.kubernetes.io/name=podtrace", o.GetKind(), o.GetName())
		}
		// built-in kinds must convert to their Go type with no field
		// left over (the ServiceMonitor is checked against its CRD on the
		// e2e apiserver)
		if typed, err := scheme.Scheme.New(o.GroupVersionKind()); err == nil {
			if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(o.Object, typed, true); err != nil {
				t.Errorf("%s %s: %v", o.GetKind(), o.GetName(), err)
			}
		}
	}
	slices.Sort(kinds)
	if want := slices.Sorted(slices.Values(r.kinds)); !slices.Equal(kinds, want) {
		t.Fatalf("kinds %v, want %v", kinds, want)
	}
	m := newManifest(t, r.objects)
	checkPodSecurity(t, m)
	cfg := checkConfig(t, m)
	checkNetwork(t, m, cfg)
}

// checkPodSecurity: non-root, read-only, no capabilities, RuntimeDefault
// seccomp, no Kubernetes API token, bounded resources, probes.
func checkPodSecurity(t *testing.T, m *manifest) {
	pod := &m.sts.Spec.Template.Spec
	c := m.container(t)
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Error("pod: automountServiceAccountToken must be false: podtrace calls no Kubernetes API")
	}
	if sa := m.objs["ServiceAccount"]; sa != nil {
		if pod.ServiceAccountName != sa.GetName() {
			t.Errorf("pod runs as ServiceAccount %q, the rendering creates %q", pod.ServiceAccountName, sa.GetName())
		}
		if v, ok, _ := unstructured.NestedBool(sa.Object, "automountServiceAccountToken"); !ok || v {
			t.Error("ServiceAccount: automountServiceAccountToken must be false")
		}
	}
	psc := pod.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 ||
		psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod securityContext %+v: want runAsNonRoot, a non-zero runAsUser and seccompProfile RuntimeDefault", psc)
	}
	csc := c.SecurityContext
	if csc == nil || csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation ||
		csc.ReadOnlyRootFilesystem == nil || !*csc.ReadOnlyRootFilesystem ||
		csc.RunAsNonRoot == nil || !*csc.RunAsNonRoot || (csc.Privileged != nil && *csc.Privileged) ||
		csc.Capabilities == nil || !slices.Equal(csc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(csc.Capabilities.Add) > 0 {
		t.Errorf("container securityContext %+v: want no privilege escalation, a read-only root, non-root, all capabilities dropped", csc)
	}
	for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if c.Resources.Requests.Name(res, "").IsZero() || c.Resources.Limits.Name(res, "").IsZero() {
			t.Errorf("container resources: want a %s request and limit, got %+v", res, c.Resources)
		}
	}
	for name, p := range map[string]struct {
		probe *corev1.Probe
		path  string
	}{"startup": {c.StartupProbe, "/healthz"}, "liveness": {c.LivenessProbe, "/healthz"}, "readiness": {c.ReadinessProbe, "/readyz"}} {
		if p.probe == nil || p.probe.HTTPGet == nil || p.probe.HTTPGet.Path != p.path || p.probe.HTTPGet.Port != intstr.FromString("http") {
			t.Errorf("%s probe %+v: want GET %s on port http", name, p.probe, p.path)
		}
	}
	for _, v := range pod.Volumes {
		if v.Secret != nil && (v.Secret.DefaultMode == nil || *v.Secret.DefaultMode != 0o440) {
			t.Errorf("Secret volume %s: defaultMode %v, want 0440", v.Name, v.Secret.DefaultMode)
		}
	}
	chart, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	if want := "ghcr.io/podtrace/podtrace:" + chart.Metadata.AppVersion; c.Image != want {
		t.Errorf("image %s, want %s (the chart's appVersion)", c.Image, want)
	}
}

// checkConfig loads the configuration the container runs with — its args,
// its config file from the ConfigMap, its PODTRACE_* variables — through
// podtrace's own loader (strict: unknown keys fail), checks that every
// file it names is mounted from the right volume, stands test files in for
// the Secrets' content and validates it as podtrace serve does.
func checkConfig(t *testing.T, m *manifest) server.Config {
	c := m.container(t)
	args := slices.Clone(c.Args)
	i := slices.Index(args, "--config")
	if len(args) == 0 || args[0] != "serve" || i < 0 || i+1 >= len(args) {
		t.Fatalf("container args %q: want serve --config FILE ...", args)
	}
	path := args[i+1]
	vol, _ := mountOf(t, m, path)
	cm := m.objs["ConfigMap"]
	if vol.ConfigMap == nil || cm == nil || vol.ConfigMap.Name != cm.GetName() {
		t.Fatalf("--config %s: not in the rendered ConfigMap", path)
	}
	data, _, _ := unstructured.NestedString(cm.Object, "data", filepath.Base(path))
	dir := t.TempDir()
	args[i+1] = writeFile(t, dir, "config.yaml", []byte(data))
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			t.Setenv(e.Name, e.Value)
		case e.Name == "PODTRACE_POSTGRES_DSN": // the user's Secret
			t.Setenv(e.Name, "postgres://podtrace@postgres.db.svc:5432/podtrace?sslmode=require")
		}
	}
	var stderr bytes.Buffer
	cfg, err := cli.ServeConfig(args[1:], &stderr)
	if err != nil {
		t.Fatalf("podtrace %s: %v\n%s", strings.Join(c.Args, " "), err, stderr.String())
	}

	secret := func(key string, p *string, content []byte) {
		if *p == "" {
			return
		}
		v, mnt := mountOf(t, m, *p)
		if v.Secret == nil || !mnt.ReadOnly {
			t.Errorf("%s %s: want a read-only Secret volume there, got volume %s", key, *p, v.Name)
		}
		*p = writeFile(t, dir, key, content)
	}
	cert, key := selfSigned(t)
	secret("ingest_token_file", &cfg.IngestTokenFile, []byte("webhook-token\n"))
	secret("api_token_file", &cfg.APITokenFile, []byte("api-token\n"))
	secret("tls_cert", &cfg.TLSCert, cert)
	secret("tls_key", &cfg.TLSKey, key)
	secret("client_ca", &cfg.ClientCA, cert)
	if cfg.PostgresDSN == "" {
		v, mnt := mountOf(t, m, filepath.Join(filepath.Dir(cfg.DB), "x"))
		persistent := slices.ContainsFunc(m.sts.Spec.VolumeClaimTemplates, func(p corev1.PersistentVolumeClaim) bool { return p.Name == v.Name })
		if mnt.ReadOnly || (!persistent && v.EmptyDir == nil) {
			t.Errorf("db %s: want a writable volume claim or emptyDir there, got volume %s", cfg.DB, v.Name)
		}
		cfg.DB = filepath.Join(dir, "podtrace.db")
	} else if len(m.sts.Spec.VolumeClaimTemplates) > 0 {
		t.Error("PostgreSQL store with volumeClaimTemplates: a volume per replica for nothing")
	}
	if cfg.PostgresDSN == "" && *m.sts.Spec.Replicas != 1 {
		t.Errorf("replicas %d on SQLite: want 1 (one writer)", *m.sts.Spec.Replicas)
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("podtrace rejects the configuration:\n%v", err)
	}
	return cfg
}

// mountOf returns the volume, and its mount, holding path in the container.
func mountOf(t *testing.T, m *manifest, path string) (corev1.Volume, corev1.VolumeMount) {
	t.Helper()
	for _, mnt := range m.container(t).VolumeMounts {
		if mnt.MountPath != filepath.Dir(path) {
			continue
		}
		for _, v := range m.sts.Spec.Template.Spec.Volumes {
			if v.Name == mnt.Name {
				return v, mnt
			}
		}
		// a volume claim template
		return corev1.Volume{Name: mnt.Name}, mnt
	}
	t.Fatalf("%s: no volume is mounted at %s", path, filepath.Dir(path))
	return corev1.Volume{}, corev1.VolumeMount{}
}

// checkNetwork: podtrace listens on the container ports; the Service, the
// NetworkPolicy and the ServiceMonitor reach exactly those; the probes and
// the scrape speak TLS when podtrace does.
func checkNetwork(t *testing.T, m *manifest, cfg server.Config) {
	c := m.container(t)
	labels := m.sts.Spec.Template.Labels
	addrs := map[string]string{"http_addr": cfg.HTTPAddr, "otlp_grpc_addr": cfg.OTLPGRPCAddr, "otlp_http_addr": cfg.OTLPHTTPAddr}
	var names []string
	for _, p := range c.Ports {
		names = append(names, p.Name)
		key, ok := podtracePorts[p.Name]
		if !ok {
			t.Errorf("container port %s: podtrace serves no such port", p.Name)
			continue
		}
		if _, port, err := net.SplitHostPort(addrs[key]); err != nil || port != strconv.Itoa(int(p.ContainerPort)) {
			t.Errorf("container port %s is %d, but %s is %q", p.Name, p.ContainerPort, key, addrs[key])
		}
		if host, _, _ := net.SplitHostPort(addrs[key]); host != "" {
			t.Errorf("%s %q: listens on one address only, unreachable from the Service", key, addrs[key])
		}
	}
	slices.Sort(names)
	if want := slices.Sorted(maps.Keys(podtracePorts)); !slices.Equal(names, want) {
		t.Errorf("container ports %v, want %v", names, want)
	}
	scheme := corev1.URISchemeHTTP
	if cfg.TLSCert != "" {
		scheme = corev1.URISchemeHTTPS
	}
	for _, p := range []*corev1.Probe{c.StartupProbe, c.LivenessProbe, c.ReadinessProbe} {
		if p != nil && p.HTTPGet != nil && p.HTTPGet.Scheme != scheme && !(p.HTTPGet.Scheme == "" && scheme == corev1.URISchemeHTTP) {
			t.Errorf("probe %s speaks %s to a podtrace serving %s", p.HTTPGet.Path, p.HTTPGet.Scheme, scheme)
		}
	}

	var svc corev1.Service
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m.objs["Service"].Object, &svc); err != nil {
		t.Fatal(err)
	}
	if !subset(svc.Spec.Selector, labels) {
		t.Errorf("Service selector %v does not select the pods (%v)", svc.Spec.Selector, labels)
	}
	var svcPorts []string
	for _, p := range svc.Spec.Ports {
		svcPorts = append(svcPorts, p.Name)
		i := slices.IndexFunc(c.Ports, func(cp corev1.ContainerPort) bool { return cp.Name == p.Name })
		if i < 0 || p.TargetPort != intstr.FromString(p.Name) || p.Port != c.Ports[i].ContainerPort {
			t.Errorf("Service port %s (%d → %s): want the container port of that name and number", p.Name, p.Port, p.TargetPort.String())
		}
	}
	slices.Sort(svcPorts)
	if !slices.Equal(svcPorts, names) {
		t.Errorf("Service ports %v, want %v", svcPorts, names)
	}

	if np := m.objs["NetworkPolicy"]; np != nil {
		sel, _, _ := unstructured.NestedStringMap(np.Object, "spec", "podSelector", "matchLabels")
		if !subset(sel, labels) || len(sel) == 0 {
			t.Errorf("NetworkPolicy podSelector %v does not select the pods (%v)", sel, labels)
		}
		types, _, _ := unstructured.NestedStringSlice(np.Object, "spec", "policyTypes")
		rules, _, _ := unstructured.NestedSlice(np.Object, "spec", "ingress")
		var allowed []string
		for _, r := range rules {
			rule := r.(map[string]any)
			if _, from := rule["from"]; from {
				t.Errorf("NetworkPolicy: ingress from %v: kube-apiserver and node agents on the host network must reach podtrace", rule["from"])
			}
			ports, _, _ := unstructured.NestedSlice(rule, "ports")
			for _, p := range ports {
				pm := p.(map[string]any)
				allowed = append(allowed, pm["port"].(string)+"/"+pm["protocol"].(string))
			}
		}
		slices.Sort(allowed)
		var want []string
		for _, n := range names {
			want = append(want, n+"/TCP")
		}
		if !slices.Equal(types, []string{"Ingress"}) || !slices.Equal(allowed, want) {
			t.Errorf("NetworkPolicy: types %v, ingress %v; want Ingress on exactly %v", types, allowed, want)
		}
	}

	if sm := m.objs["ServiceMonitor"]; sm != nil {
		sel, _, _ := unstructured.NestedStringMap(sm.Object, "spec", "selector", "matchLabels")
		if !subset(sel, svc.Labels) || len(sel) == 0 {
			t.Errorf("ServiceMonitor selector %v does not select the Service (%v)", sel, svc.Labels)
		}
		eps, _, _ := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
		if len(eps) != 1 {
			t.Fatalf("ServiceMonitor: %d endpoints, want 1", len(eps))
		}
		ep := eps[0].(map[string]any)
		want := "http"
		if cfg.TLSCert != "" {
			want = "https"
		}
		if got, _ := ep["scheme"].(string); ep["port"] != "http" || ep["path"] != "/metrics" || (got != want && !(got == "" && want == "http")) {
			t.Errorf("ServiceMonitor endpoint %v: want port http, path /metrics, scheme %s", ep, want)
		}
		if _, auth := ep["authorization"]; auth != (cfg.APITokenFile != "") {
			t.Errorf("ServiceMonitor endpoint %v: sends a token %v, podtrace requires one %v", ep, auth, cfg.APITokenFile != "")
		}
	}
}

func subset(sel, labels map[string]string) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// selfSigned returns a PEM certificate and key for podtrace's TLS files.
func selfSigned(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "podtrace.podtrace.svc"},
		DNSNames: []string{"podtrace.podtrace.svc"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

// TestHelmMatchesKustomize: the chart with default values deploys what the
// Kustomize base does, and with postgres what the postgres overlay does —
// same pod, volumes, config file, ports — apart from names and labels.
func TestHelmMatchesKustomize(t *testing.T) {
	for kdir, values := range map[string]string{
		"kustomize/base":              helmValues()["helm/default"],
		"kustomize/overlays/postgres": helmValues()["helm/postgres"],
	} {
		t.Run(kdir, func(t *testing.T) {
			helm, err := helmTemplate(values)
			if err != nil {
				t.Fatal(err)
			}
			want, got := comparable(t, kustomize(t, kdir)), comparable(t, helm)
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("chart differs from %s (-kustomize +helm):\n%s", kdir, d)
			}
		})
	}
}

// comparable keeps what a deployment does from a rendering: the
// StatefulSet's spec without names and labels, the config file as YAML
// values, the Service's ports, the NetworkPolicy's rules.
func comparable(t *testing.T, objs []*unstructured.Unstructured) map[string]any {
	t.Helper()
	out := map[string]any{}
	for _, o := range objs {
		switch o.GetKind() {
		case "StatefulSet":
			spec, _, _ := unstructured.NestedMap(o.Object, "spec")
			delete(spec, "selector")
			unstructured.RemoveNestedField(spec, "template", "metadata")
			unstructured.RemoveNestedField(spec, "template", "spec", "serviceAccountName")
			vols, _, _ := unstructured.NestedSlice(spec, "template", "spec", "volumes")
			for _, v := range vols {
				unstructured.RemoveNestedField(v.(map[string]any), "configMap", "name")
			}
			slices.SortFunc(vols, func(a, b any) int {
				return strings.Compare(a.(map[string]any)["name"].(string), b.(map[string]any)["name"].(string))
			})
			unstructured.SetNestedSlice(spec, vols, "template", "spec", "volumes")
			pvcs, _, _ := unstructured.NestedSlice(spec, "volumeClaimTemplates")
			for _, p := range pvcs {
				unstructured.RemoveNestedField(p.(map[string]any), "metadata", "labels")
			}
			if pvcs != nil {
				unstructured.SetNestedSlice(spec, pvcs, "volumeClaimTemplates")
			}
			out["StatefulSet"] = spec
		case "ConfigMap":
			data, _, _ := unstructured.NestedString(o.Object, "data", "config.yaml")
			var cfg map[string]any
			if err := sigsyaml.Unmarshal([]byte(data), &cfg); err != nil {
				t.Fatal(err)
			}
			out["config.yaml"] = cfg
		case "Service":
			out["Service"], _, _ = unstructured.NestedSlice(o.Object, "spec", "ports")
		case "NetworkPolicy":
			out["NetworkPolicy"], _, _ = unstructured.NestedSlice(o.Object, "spec", "ingress")
		case "PodDisruptionBudget":
			out["PodDisruptionBudget"], _, _ = unstructured.NestedFieldCopy(o.Object, "spec", "maxUnavailable")
		}
	}
	return out
}
