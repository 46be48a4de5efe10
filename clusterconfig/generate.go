package clusterconfig

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"text/template"
)

// Names of the generated files, the keys of Generate's result.
const (
	AuditPolicyFile        = "audit-policy.yaml"
	AuditWebhookFile       = "audit-webhook.kubeconfig"
	APIServerFlagsFile     = "apiserver-flags.txt"
	TracingConfigFile      = "tracing-config.yaml"
	KubeletTracingFile     = "kubelet-tracing.yaml"
	ContainerdOTLPFile     = "containerd-otlp.toml"         // containerd 1.6/1.7
	ContainerdOTLPEnvFile  = "containerd-otlp.service.conf" // containerd 2.x
	CRIOTracingFile        = "crio-tracing.conf"
	templateSuffix         = ".tmpl"
	generatedFileMode      = 0o644
	generatedDirectoryMode = 0o755
)

// Files lists every file Generate produces, in a stable order.
func Files() []string {
	return []string{
		AuditPolicyFile, AuditWebhookFile, APIServerFlagsFile, TracingConfigFile,
		KubeletTracingFile, ContainerdOTLPFile, ContainerdOTLPEnvFile, CRIOTracingFile,
	}
}

//go:embed templates/*.tmpl
var templateFS embed.FS

// quote renders s as a double-quoted string that YAML and TOML read back
// unchanged (a JSON string is valid in both).
func quote(s string) (string, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		return "", err
	}
	return string(bytes.TrimSuffix(b.Bytes(), []byte("\n"))), nil
}

// Generate validates opts and renders every file for a cluster, keyed by file
// name (see Files). It reads no files.
func Generate(opts Options) (map[string][]byte, error) {
	r, err := opts.resolve()
	if err != nil {
		return nil, err
	}
	// Parsed per call: templates are small and this keeps the package free of
	// package-level state.
	tmpl, err := template.New("").Funcs(template.FuncMap{"q": quote}).Option("missingkey=error").
		ParseFS(templateFS, "templates/*"+templateSuffix)
	if err != nil {
		return nil, fmt.Errorf("parse templates: %w", err)
	}
	out := make(map[string][]byte, len(Files()))
	for _, name := range Files() {
		var b bytes.Buffer
		if err := tmpl.ExecuteTemplate(&b, name+templateSuffix, r); err != nil {
			return nil, fmt.Errorf("render %s: %w", name, err)
		}
		out[name] = b.Bytes()
	}
	return out, nil
}

// WriteDir generates the files for opts and writes them into dir, creating dir
// if needed and replacing files of the same names.
func WriteDir(dir string, opts Options) error {
	files, err := Generate(opts)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, generatedDirectoryMode); err != nil {
		return fmt.Errorf("create output directory %q: %w", dir, err)
	}
	for _, name := range Files() {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, files[name], generatedFileMode); err != nil {
			return fmt.Errorf("write %q: %w", path, err)
		}
	}
	return nil
}
