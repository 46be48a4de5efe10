package cli

import (
	"context"
	"fmt"

	"github.com/podtrace/podtrace/clusterconfig"
)

// runConfig: `podtrace config generate` writes the files a cluster needs to
// send podtrace its audit events and traces.
func runConfig(ctx context.Context, env Env, args []string) error {
	if len(args) == 0 || args[0] != "generate" {
		fmt.Fprintln(env.Stderr, "usage: podtrace config generate --endpoint URL [--token-file F | --client-cert F --client-key F] [--ca-file F] [--otlp-endpoint HOST:PORT] [--kubernetes-version V] [--install-dir DIR] --out DIR")
		return errUsage
	}
	fs := flagSet("config generate", env)
	var o clusterconfig.Options
	fs.StringVar(&o.Endpoint, "endpoint", "", "podtrace's base URL as kube-apiserver reaches it (required)")
	fs.StringVar(&o.TokenFile, "token-file", "", "bearer token file on the control-plane nodes")
	fs.StringVar(&o.ClientCert, "client-cert", "", "client certificate for mTLS (with --client-key)")
	fs.StringVar(&o.ClientKey, "client-key", "", "client key for mTLS")
	fs.StringVar(&o.CAFile, "ca-file", "", "CA bundle that verifies podtrace's serving certificate")
	fs.StringVar(&o.OTLPEndpoint, "otlp-endpoint", "", "host:port of podtrace's OTLP gRPC receiver (default: endpoint host, port 4317)")
	fs.StringVar(&o.KubernetesVersion, "kubernetes-version", clusterconfig.DefaultKubernetesVersion, "control plane version (selects the TracingConfiguration API version)")
	fs.StringVar(&o.InstallDir, "install-dir", clusterconfig.DefaultInstallDir, "where the files are installed on control-plane nodes")
	out := fs.String("out", "", "directory to write the files to (required)")
	if _, err := parse(fs, args[1:]); err != nil {
		return err
	}
	if *out == "" {
		return fmt.Errorf("--out is required")
	}
	if err := clusterconfig.WriteDir(*out, o); err != nil {
		return err
	}
	for _, f := range clusterconfig.Files() {
		fmt.Fprintf(env.Stdout, "wrote %s/%s\n", *out, f)
	}
	return nil
}
