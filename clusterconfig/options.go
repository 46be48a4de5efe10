package clusterconfig

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// Defaults applied by Generate to zero Options fields.
const (
	DefaultKubernetesVersion      = "v1.34"
	DefaultInstallDir             = "/etc/kubernetes/podtrace"
	DefaultOTLPPort               = "4317"
	DefaultSamplingRatePerMillion = 1_000_000

	// minMinor is the oldest Kubernetes minor release with beta tracing
	// (TracingConfiguration apiserver.config.k8s.io/v1beta1, kubelet tracing).
	minMinor = 27
	// v1Minor is the first minor release serving TracingConfiguration v1.
	v1Minor = 34
)

// webhookPath is where podtrace receives audit EventLists.
const webhookPath = "/audit"

// Options describe the podtrace deployment the generated files point at.
//
// The CLI `podtrace config generate` maps its flags one to one:
//
//	--endpoint URL                 Endpoint
//	--token-file F                 TokenFile
//	--client-cert F --client-key F ClientCert, ClientKey
//	--ca-file F                    CAFile
//	--otlp-endpoint host:port      OTLPEndpoint
//	--kubernetes-version v1.34.10  KubernetesVersion
//	--install-dir DIR              InstallDir (optional flag; default /etc/kubernetes/podtrace)
//	--out DIR                      the dir argument of WriteDir (not an option)
//
// File paths (TokenFile, ClientCert, ClientKey, CAFile, InstallDir) are paths on
// the control-plane nodes where kube-apiserver runs; they are written into the
// generated files as given and never opened by the generator.
type Options struct {
	// Endpoint is the base URL of podtrace's HTTP listener as kube-apiserver
	// reaches it, e.g. "https://podtrace.monitoring.svc:8443". The audit webhook
	// posts to Endpoint + "/audit" (kept as is when the path already ends in
	// "/audit"). Required; scheme http or https.
	Endpoint string

	// TokenFile is a file holding the bearer token kube-apiserver presents to
	// podtrace. Exclusive with ClientCert/ClientKey; neither means no
	// credentials. Needs an https Endpoint: kube-apiserver sends credentials
	// only over TLS.
	TokenFile string
	// ClientCert and ClientKey are a client certificate and key (PEM) for mutual
	// TLS with podtrace. Both or neither; need an https Endpoint.
	ClientCert, ClientKey string
	// CAFile is the CA bundle that verifies podtrace's serving certificate; only
	// with an https Endpoint. Empty means the system roots.
	CAFile string

	// OTLPEndpoint is host:port of podtrace's OTLP gRPC receiver as the
	// components reach it. Empty means Endpoint's host and port 4317.
	OTLPEndpoint string
	// SamplingRatePerMillion is the tracing sampling rate for kube-apiserver, the
	// kubelet and the runtimes. Zero means 1,000,000 (every span).
	SamplingRatePerMillion int32

	// KubernetesVersion is the control plane's version, "v1.34.10" or "1.30";
	// it selects the TracingConfiguration API version (v1 from 1.34, v1beta1 for
	// 1.27–1.33). Empty means DefaultKubernetesVersion.
	KubernetesVersion string

	// InstallDir is where the generated files are installed on control-plane
	// nodes; apiserver-flags.txt refers to the files there. Empty means
	// DefaultInstallDir.
	InstallDir string
}

// resolved is Options after validation and defaulting, ready to render.
type resolved struct {
	Options
	WebhookURL    string
	Minor         int
	TracingAPI    string
	SamplingRatio string // SamplingRatePerMillion as a fraction, for containerd
}

// errorf prefixes a validation error with the option's CLI flag name.
func errorf(flag, format string, args ...any) error {
	return fmt.Errorf("%s: %s", flag, fmt.Sprintf(format, args...))
}

// parseMinor returns the minor release of a Kubernetes version such as
// "v1.34.10", "1.30" or "v1.31.0-rc.1+abc", and whether v is one.
func parseMinor(v string) (int, bool) {
	v = strings.TrimPrefix(v, "v")
	if i := strings.IndexAny(v, "-+"); i >= 0 {
		v = v[:i]
	}
	parts := strings.Split(v, ".")
	if len(parts) < 2 || len(parts) > 3 || parts[0] != "1" {
		return 0, false
	}
	minor := 0
	for i, p := range parts[1:] {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || p != strconv.Itoa(n) {
			return 0, false
		}
		if i == 0 {
			minor = n
		}
	}
	return minor, true
}

// plainHost reports whether host is a DNS name or an IP address (IPv6 with a
// zone), with nothing that would need quoting in the generated files.
func plainHost(host string) bool {
	if host == "" {
		return false
	}
	for _, c := range host {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || strings.ContainsRune("._:%-", c)) {
			return false
		}
	}
	return true
}

// resolve validates o, applies defaults and derives what the templates need.
// All problems are reported together.
func (o Options) resolve() (resolved, error) {
	r := resolved{Options: o}
	var errs []error

	endpoint, err := url.Parse(o.Endpoint)
	switch {
	case o.Endpoint == "":
		errs = append(errs, errorf("endpoint", "required (podtrace's base URL, e.g. https://podtrace.example:8443)"))
	case err != nil:
		errs = append(errs, errorf("endpoint", "%v", err))
	case endpoint.Scheme != "http" && endpoint.Scheme != "https":
		errs = append(errs, errorf("endpoint", "%q: scheme must be http or https", o.Endpoint))
	case endpoint.Host == "" || endpoint.Hostname() == "":
		errs = append(errs, errorf("endpoint", "%q: missing host", o.Endpoint))
	case endpoint.RawQuery != "" || endpoint.Fragment != "" || endpoint.User != nil:
		errs = append(errs, errorf("endpoint", "%q: must not contain user info, a query or a fragment", o.Endpoint))
	default:
		u := *endpoint
		if !strings.HasSuffix(strings.TrimSuffix(u.Path, "/"), webhookPath) {
			u = *u.JoinPath(webhookPath)
		}
		r.WebhookURL = u.String()
	}
	https := err == nil && endpoint.Scheme == "https"

	if o.TokenFile != "" && (o.ClientCert != "" || o.ClientKey != "") {
		errs = append(errs, errorf("token-file", "exclusive with client-cert/client-key"))
	}
	if (o.ClientCert == "") != (o.ClientKey == "") {
		errs = append(errs, errorf("client-cert", "client-cert and client-key go together"))
	}
	// kube-apiserver's webhook client (client-go) reads a kubeconfig's
	// credentials only for a TLS server: over http it drops the token and
	// podtrace answers every batch 401.
	if o.TokenFile != "" && o.Endpoint != "" && !https {
		errs = append(errs, errorf("token-file", "needs an https endpoint (kube-apiserver sends no credentials over http)"))
	}
	if o.ClientCert != "" && o.Endpoint != "" && !https {
		errs = append(errs, errorf("client-cert", "needs an https endpoint"))
	}
	if o.CAFile != "" && o.Endpoint != "" && !https {
		errs = append(errs, errorf("ca-file", "needs an https endpoint"))
	}

	if r.OTLPEndpoint == "" && err == nil && endpoint.Hostname() != "" {
		r.OTLPEndpoint = net.JoinHostPort(endpoint.Hostname(), DefaultOTLPPort)
	}
	if r.OTLPEndpoint != "" {
		host, port, err := net.SplitHostPort(r.OTLPEndpoint)
		n, perr := strconv.Atoi(port)
		if err != nil || !plainHost(host) || perr != nil || n < 1 || n > 65535 {
			errs = append(errs, errorf("otlp-endpoint", "%q: want host:port", r.OTLPEndpoint))
		}
	}

	switch {
	case r.SamplingRatePerMillion == 0:
		r.SamplingRatePerMillion = DefaultSamplingRatePerMillion
	case r.SamplingRatePerMillion < 0 || r.SamplingRatePerMillion > 1_000_000:
		errs = append(errs, errorf("sampling-rate-per-million", "%d: want 1..1000000", r.SamplingRatePerMillion))
	}
	r.SamplingRatio = strconv.FormatFloat(float64(r.SamplingRatePerMillion)/1e6, 'f', -1, 64)
	if !strings.Contains(r.SamplingRatio, ".") {
		r.SamplingRatio += ".0" // a TOML float, not an integer
	}

	if r.KubernetesVersion == "" {
		r.KubernetesVersion = DefaultKubernetesVersion
	}
	if minor, ok := parseMinor(r.KubernetesVersion); !ok {
		errs = append(errs, errorf("kubernetes-version", "%q: want a Kubernetes version like v1.34.10", r.KubernetesVersion))
	} else {
		r.Minor = minor
		switch {
		case r.Minor < minMinor:
			errs = append(errs, errorf("kubernetes-version", "%s: tracing needs Kubernetes v1.%d or newer", r.KubernetesVersion, minMinor))
		case r.Minor < v1Minor:
			r.TracingAPI = "apiserver.config.k8s.io/v1beta1"
		default:
			r.TracingAPI = "apiserver.config.k8s.io/v1"
		}
	}

	if r.InstallDir == "" {
		r.InstallDir = DefaultInstallDir
	}
	if !strings.HasPrefix(r.InstallDir, "/") {
		errs = append(errs, errorf("install-dir", "%q: must be an absolute path", r.InstallDir))
	}
	for _, f := range [...]struct{ flag, path string }{
		{"token-file", o.TokenFile}, {"client-cert", o.ClientCert}, {"client-key", o.ClientKey},
		{"ca-file", o.CAFile}, {"install-dir", r.InstallDir},
	} {
		if strings.ContainsAny(f.path, "\n\r") {
			errs = append(errs, errorf(f.flag, "%q: path contains a line break", f.path))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return resolved{}, fmt.Errorf("invalid options: %w", err)
	}
	return r, nil
}
