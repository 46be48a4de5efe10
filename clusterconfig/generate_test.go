package clusterconfig

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// goldenCases are the option sets whose output is kept in testdata/<name>/.
var goldenCases = map[string]Options{
	"https-token": {
		Endpoint:          "https://podtrace.monitoring.svc:8443",
		TokenFile:         "/etc/kubernetes/podtrace/token",
		CAFile:            "/etc/kubernetes/podtrace/ca.crt",
		KubernetesVersion: "v1.34.10",
	},
	"https-client-cert-v1.30": {
		Endpoint:               "https://10.0.0.5:8443/podtrace",
		ClientCert:             "/srv/podtrace/apiserver.crt",
		ClientKey:              "/srv/podtrace/apiserver.key",
		OTLPEndpoint:           "10.0.0.5:14317",
		KubernetesVersion:      "1.30.4",
		SamplingRatePerMillion: 100_000,
		InstallDir:             "/srv/podtrace",
	},
	"http-defaults": {
		Endpoint: "http://127.0.0.1:18900/audit",
	},
}

func TestGenerateGolden(t *testing.T) {
	for name, opts := range goldenCases {
		t.Run(name, func(t *testing.T) {
			files, err := Generate(opts)
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join("testdata", name)
			if *update {
				if err := os.RemoveAll(dir); err != nil {
					t.Fatal(err)
				}
				if err := WriteDir(dir, opts); err != nil {
					t.Fatal(err)
				}
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			var onDisk []string
			for _, e := range entries {
				onDisk = append(onDisk, e.Name())
			}
			if want := slices.Sorted(slices.Values(Files())); !slices.Equal(onDisk, want) {
				t.Errorf("%s holds %v, want %v (run go test -update)", dir, onDisk, want)
			}
			for _, f := range Files() {
				want, err := os.ReadFile(filepath.Join(dir, f))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(files[f], want) {
					t.Errorf("%s differs from %s/%s (run go test -update):\n%s", f, dir, f, files[f])
				}
			}
		})
	}
}

func TestEveryFileSaysWhereItGoes(t *testing.T) {
	for name, opts := range goldenCases {
		files, err := Generate(opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range Files() {
			first, _, _ := strings.Cut(string(files[f]), "\n")
			if !strings.HasPrefix(first, "# ") {
				t.Errorf("%s/%s: first line %q is not a comment", name, f, first)
			}
			if !strings.Contains(string(files[f]), "Install") && !strings.Contains(string(files[f]), "Merge") && !strings.Contains(string(files[f]), "Add ") {
				t.Errorf("%s/%s: no installation instructions", name, f)
			}
		}
	}
}

// decodeStrict decodes YAML into v, failing on unknown keys.
func decodeStrict(t *testing.T, data []byte, v any) {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decode: %v\n%s", err, data)
	}
}

// auditPolicy mirrors the audit.k8s.io/v1 Policy fields the generator uses.
type auditPolicy struct {
	APIVersion        string   `yaml:"apiVersion"`
	Kind              string   `yaml:"kind"`
	OmitStages        []string `yaml:"omitStages"`
	OmitManagedFields bool     `yaml:"omitManagedFields"`
	Rules             []struct {
		Level           string   `yaml:"level"`
		Verbs           []string `yaml:"verbs"`
		NonResourceURLs []string `yaml:"nonResourceURLs"`
		Resources       []struct {
			Group     string   `yaml:"group"`
			Resources []string `yaml:"resources"`
		} `yaml:"resources"`
	} `yaml:"rules"`
}

// level evaluates the policy for a resource request as kube-apiserver does:
// the first matching rule wins. resource may be "pods/status".
func (p auditPolicy) level(group, resource, verb string) string {
	for _, r := range p.Rules {
		if len(r.NonResourceURLs) > 0 {
			continue
		}
		if len(r.Verbs) > 0 && !slices.Contains(r.Verbs, verb) {
			continue
		}
		matched := len(r.Resources) == 0
		for _, gr := range r.Resources {
			if gr.Group == group && slices.Contains(gr.Resources, resource) {
				matched = true
			}
		}
		if matched {
			return r.Level
		}
	}
	return "None"
}

func TestAuditPolicy(t *testing.T) {
	files, err := Generate(goldenCases["https-token"])
	if err != nil {
		t.Fatal(err)
	}
	var p auditPolicy
	decodeStrict(t, files[AuditPolicyFile], &p)
	if p.APIVersion != "audit.k8s.io/v1" || p.Kind != "Policy" {
		t.Errorf("apiVersion/kind = %s/%s", p.APIVersion, p.Kind)
	}
	if !slices.Equal(p.OmitStages, []string{"RequestReceived"}) {
		t.Errorf("omitStages = %v", p.OmitStages)
	}
	tests := []struct {
		group, resource, verb, want string
	}{
		{"", "pods", "create", "RequestResponse"},
		{"", "pods", "delete", "RequestResponse"},
		{"", "pods", "patch", "RequestResponse"},
		{"", "pods/binding", "create", "RequestResponse"},
		{"", "pods/status", "patch", "RequestResponse"},
		{"", "pods/status", "update", "RequestResponse"},
		{"", "pods/eviction", "create", "RequestResponse"},
		{"", "events", "create", "RequestResponse"},
		{"", "events", "patch", "RequestResponse"},
		{"events.k8s.io", "events", "create", "RequestResponse"},
		{"", "pods", "list", "Metadata"},
		{"", "pods", "watch", "Metadata"},
		{"", "secrets", "create", "Metadata"},
		{"", "secrets", "get", "Metadata"},
		{"", "configmaps", "update", "Metadata"},
		{"", "serviceaccounts", "create", "Metadata"},
		{"", "serviceaccounts/token", "create", "Metadata"},
		{"authentication.k8s.io", "tokenreviews", "create", "Metadata"},
		{"coordination.k8s.io", "leases", "update", "None"},
		{"", "endpoints", "watch", "None"},
		{"discovery.k8s.io", "endpointslices", "list", "None"},
		{"", "endpoints", "update", "Metadata"},
		{"apps", "deployments", "patch", "Metadata"},
		{"apps", "replicasets", "create", "Metadata"},
		{"", "nodes", "patch", "Metadata"},
	}
	for _, tt := range tests {
		if got := p.level(tt.group, tt.resource, tt.verb); got != tt.want {
			t.Errorf("%s %s/%s: level %s, want %s", tt.verb, tt.group, tt.resource, got, tt.want)
		}
	}
	// Credentials are never logged with bodies, whatever the verb.
	for _, res := range []string{"secrets", "configmaps", "serviceaccounts", "serviceaccounts/token"} {
		for _, verb := range []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"} {
			if got := p.level("", res, verb); got == "Request" || got == "RequestResponse" {
				t.Errorf("%s %s logged at %s", verb, res, got)
			}
		}
	}
}

// kubeconfig mirrors the clientcmd v1 Config fields the generator uses.
type kubeconfig struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Clusters   []struct {
		Name    string `yaml:"name"`
		Cluster struct {
			Server               string `yaml:"server"`
			CertificateAuthority string `yaml:"certificate-authority"`
		} `yaml:"cluster"`
	} `yaml:"clusters"`
	Users []struct {
		Name string `yaml:"name"`
		User struct {
			TokenFile         string `yaml:"tokenFile"`
			ClientCertificate string `yaml:"client-certificate"`
			ClientKey         string `yaml:"client-key"`
		} `yaml:"user"`
	} `yaml:"users"`
	Contexts []struct {
		Name    string `yaml:"name"`
		Context struct {
			Cluster string `yaml:"cluster"`
			User    string `yaml:"user"`
		} `yaml:"context"`
	} `yaml:"contexts"`
	CurrentContext string `yaml:"current-context"`
}

func TestWebhookKubeconfig(t *testing.T) {
	tests := []struct {
		name                                         string
		server, ca, tokenFile, clientCert, clientKey string
	}{
		{"https-token", "https://podtrace.monitoring.svc:8443/audit", "/etc/kubernetes/podtrace/ca.crt", "/etc/kubernetes/podtrace/token", "", ""},
		{"https-client-cert-v1.30", "https://10.0.0.5:8443/podtrace/audit", "", "", "/srv/podtrace/apiserver.crt", "/srv/podtrace/apiserver.key"},
		{"http-defaults", "http://127.0.0.1:18900/audit", "", "", "", ""},
	}
	for _, tt := range tests {
		files, err := Generate(goldenCases[tt.name])
		if err != nil {
			t.Fatal(err)
		}
		var kc kubeconfig
		decodeStrict(t, files[AuditWebhookFile], &kc)
		if len(kc.Clusters) != 1 || len(kc.Users) != 1 || len(kc.Contexts) != 1 {
			t.Fatalf("%s: want one cluster, user and context: %+v", tt.name, kc)
		}
		c, u, ctx := kc.Clusters[0], kc.Users[0], kc.Contexts[0]
		if kc.APIVersion != "v1" || kc.Kind != "Config" || kc.CurrentContext != ctx.Name ||
			ctx.Context.Cluster != c.Name || ctx.Context.User != u.Name {
			t.Errorf("%s: inconsistent kubeconfig %+v", tt.name, kc)
		}
		if c.Cluster.Server != tt.server || c.Cluster.CertificateAuthority != tt.ca {
			t.Errorf("%s: cluster %+v, want server %s ca %q", tt.name, c.Cluster, tt.server, tt.ca)
		}
		if u.User.TokenFile != tt.tokenFile || u.User.ClientCertificate != tt.clientCert || u.User.ClientKey != tt.clientKey {
			t.Errorf("%s: user %+v", tt.name, u.User)
		}
	}
}

type tracingConfiguration struct {
	APIVersion             string `yaml:"apiVersion"`
	Kind                   string `yaml:"kind"`
	Endpoint               string `yaml:"endpoint"`
	SamplingRatePerMillion int32  `yaml:"samplingRatePerMillion"`
}

func TestTracingConfigs(t *testing.T) {
	tests := []struct {
		name, apiVersion, endpoint string
		rate                       int32
	}{
		{"https-token", "apiserver.config.k8s.io/v1", "podtrace.monitoring.svc:4317", 1_000_000},
		{"https-client-cert-v1.30", "apiserver.config.k8s.io/v1beta1", "10.0.0.5:14317", 100_000},
		{"http-defaults", "apiserver.config.k8s.io/v1", "127.0.0.1:4317", 1_000_000},
	}
	for _, tt := range tests {
		files, err := Generate(goldenCases[tt.name])
		if err != nil {
			t.Fatal(err)
		}
		var tc tracingConfiguration
		decodeStrict(t, files[TracingConfigFile], &tc)
		if tc != (tracingConfiguration{tt.apiVersion, "TracingConfiguration", tt.endpoint, tt.rate}) {
			t.Errorf("%s: tracing config %+v", tt.name, tc)
		}
		var kubelet struct {
			APIVersion string `yaml:"apiVersion"`
			Kind       string `yaml:"kind"`
			Tracing    struct {
				Endpoint               string `yaml:"endpoint"`
				SamplingRatePerMillion int32  `yaml:"samplingRatePerMillion"`
			} `yaml:"tracing"`
		}
		decodeStrict(t, files[KubeletTracingFile], &kubelet)
		if kubelet.APIVersion != "kubelet.config.k8s.io/v1beta1" || kubelet.Kind != "KubeletConfiguration" ||
			kubelet.Tracing.Endpoint != tt.endpoint || kubelet.Tracing.SamplingRatePerMillion != tt.rate {
			t.Errorf("%s: kubelet tracing %+v", tt.name, kubelet)
		}
		for file, want := range map[string][]string{
			ContainerdOTLPFile: {
				`[plugins."io.containerd.tracing.processor.v1.otlp"]`,
				`endpoint = "` + tt.endpoint + `"`, `protocol = "grpc"`, `insecure = true`,
			},
			ContainerdOTLPEnvFile: {"[Service]", `Environment="OTEL_EXPORTER_OTLP_ENDPOINT=http://` + tt.endpoint + `"`},
			CRIOTracingFile:       {"[crio.tracing]", "enable_tracing = true", `tracing_endpoint = "` + tt.endpoint + `"`},
		} {
			lines := strings.Split(string(files[file]), "\n")
			for _, w := range want {
				if !slices.ContainsFunc(lines, func(l string) bool { return strings.TrimSpace(l) == w }) {
					t.Errorf("%s/%s: no line %q", tt.name, file, w)
				}
			}
		}
	}
}

func TestKubernetesVersions(t *testing.T) {
	for version, want := range map[string]string{
		"v1.34.10":        "apiserver.config.k8s.io/v1",
		"1.34":            "apiserver.config.k8s.io/v1",
		"v1.35.0-alpha.1": "apiserver.config.k8s.io/v1",
		"v1.33.5+k3s1":    "apiserver.config.k8s.io/v1beta1",
		"v1.27.0":         "apiserver.config.k8s.io/v1beta1",
		"v1.26.3":         "error",
		"v2.0.0":          "error",
		"latest":          "error",
		"v1.x":            "error",
		"v1.30.1.2":       "error",
	} {
		files, err := Generate(Options{Endpoint: "http://podtrace:8080", KubernetesVersion: version})
		var got string
		if err != nil {
			got = "error"
			if !strings.Contains(err.Error(), "kubernetes-version") {
				t.Errorf("%s: error %q does not name kubernetes-version", version, err)
			}
		} else {
			var tc tracingConfiguration
			decodeStrict(t, files[TracingConfigFile], &tc)
			got = tc.APIVersion
		}
		if got != want {
			t.Errorf("%s: %s, want %s", version, got, want)
		}
	}
}

func TestAPIServerFlags(t *testing.T) {
	files, err := Generate(goldenCases["https-client-cert-v1.30"])
	if err != nil {
		t.Fatal(err)
	}
	flags := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(files[APIServerFlagsFile])), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		if !ok || !strings.HasPrefix(name, "--") || value == "" {
			t.Fatalf("line %q is not --flag=value", line)
		}
		flags[name] = value
	}
	for name, want := range map[string]string{
		"--audit-policy-file":             "/srv/podtrace/" + AuditPolicyFile,
		"--audit-webhook-config-file":     "/srv/podtrace/" + AuditWebhookFile,
		"--tracing-config-file":           "/srv/podtrace/" + TracingConfigFile,
		"--audit-webhook-mode":            "batch",
		"--audit-webhook-batch-max-size":  "400",
		"--audit-webhook-batch-max-wait":  "1s",
		"--audit-webhook-initial-backoff": "5s",
	} {
		if flags[name] != want {
			t.Errorf("%s = %q, want %q", name, flags[name], want)
		}
	}
	if flags["--audit-webhook-batch-throttle-enable"] != "true" || flags["--audit-webhook-batch-throttle-qps"] == "" {
		t.Errorf("throttle flags missing: %v", flags)
	}
}

func TestValidation(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want []string // substrings, all expected in the one joined error
	}{
		{"empty", Options{}, []string{"endpoint: required"}},
		{"bad scheme", Options{Endpoint: "ftp://x"}, []string{"scheme must be http or https"}},
		{"no host", Options{Endpoint: "https:///audit"}, []string{"missing host"}},
		{"unparseable", Options{Endpoint: "http://[::1"}, []string{"endpoint:"}},
		{"query", Options{Endpoint: "https://p:1/?a=b"}, []string{"query"}},
		{"token and cert", Options{Endpoint: "https://p", TokenFile: "/t", ClientCert: "/c", ClientKey: "/k"},
			[]string{"token-file: exclusive"}},
		{"cert without key", Options{Endpoint: "https://p", ClientCert: "/c"}, []string{"client-cert and client-key go together"}},
		{"ca over http", Options{Endpoint: "http://p", CAFile: "/ca"}, []string{"ca-file: needs an https endpoint"}},
		{"cert over http", Options{Endpoint: "http://p", ClientCert: "/c", ClientKey: "/k"}, []string{"client-cert: needs an https endpoint"}},
		// found by the e2e suite: kube-apiserver dropped the token over http
		{"token over http", Options{Endpoint: "http://p", TokenFile: "/t"}, []string{"token-file: needs an https endpoint"}},
		{"otlp no port", Options{Endpoint: "http://p", OTLPEndpoint: "collector"}, []string{"otlp-endpoint"}},
		{"otlp url", Options{Endpoint: "http://p", OTLPEndpoint: "http://collector:4317"}, []string{"otlp-endpoint"}},
		{"otlp quote", Options{Endpoint: "http://p", OTLPEndpoint: `a"b:4317`}, []string{"otlp-endpoint"}},
		{"rate", Options{Endpoint: "http://p", SamplingRatePerMillion: 2_000_000}, []string{"sampling-rate-per-million"}},
		{"relative install dir", Options{Endpoint: "http://p", InstallDir: "podtrace"}, []string{"install-dir"}},
		{"newline in path", Options{Endpoint: "https://p", TokenFile: "/t\n"}, []string{"token-file", "line break"}},
		{"all at once", Options{Endpoint: "gopher://x", TokenFile: "/t", ClientCert: "/c", KubernetesVersion: "v1.20.0"},
			[]string{"endpoint:", "token-file:", "client-cert and client-key", "kubernetes-version:"}},
	}
	for _, tt := range tests {
		_, err := Generate(tt.opts)
		if err == nil {
			t.Errorf("%s: no error", tt.name)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not contain %q", tt.name, err, w)
			}
		}
	}
}

func TestWriteDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	opts := goldenCases["https-token"]
	if err := WriteDir(dir, opts); err != nil {
		t.Fatal(err)
	}
	files, err := Generate(opts)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: read %v, equal %v", name, err, bytes.Equal(got, want))
		}
	}
	if err := WriteDir(filepath.Join(dir, AuditPolicyFile, "x"), opts); err == nil {
		t.Error("WriteDir under a file: no error")
	}
	if err := WriteDir(t.TempDir(), Options{}); err == nil {
		t.Error("WriteDir with invalid options: no error")
	}
}
