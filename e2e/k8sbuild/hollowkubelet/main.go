// Command hollowkubelet runs the real kubelet code against a fake CRI runtime
// (kubemark's "hollow" kubelet), so the end-to-end suite gets genuine kubelet
// Events and kubelet/CRI spans without containers. Unlike cmd/kubemark it binds
// to 127.0.0.1, keeps every directory under --run-dir, sends real Events and
// exports traces to --otlp-endpoint.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	sdkresource "go.opentelemetry.io/otel/sdk/resource"
	semconv "go.opentelemetry.io/otel/semconv/v1.12.0"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/component-base/tracing"
	tracingapi "k8s.io/component-base/tracing/api/v1"
	remote "k8s.io/cri-client/pkg"
	"k8s.io/cri-client/pkg/fake"
	"k8s.io/klog/v2"
	kubeletapp "k8s.io/kubernetes/cmd/kubelet/app"
	"k8s.io/kubernetes/cmd/kubelet/app/options"
	cadvisortest "k8s.io/kubernetes/pkg/kubelet/cadvisor/testing"
	"k8s.io/kubernetes/pkg/kubelet/cm"
	"k8s.io/kubernetes/pkg/kubemark"
)

type config struct {
	kubeconfig, nodeName, runDir, otlpEndpoint string
	port                                       int
	samplingPerMillion                         int
}

func main() {
	var c config
	fs := flag.NewFlagSet("hollowkubelet", flag.ExitOnError)
	fs.StringVar(&c.kubeconfig, "kubeconfig", "", "kubeconfig with the node's credentials (required)")
	fs.StringVar(&c.nodeName, "node-name", "hollow-node-0", "name of the Node object")
	fs.StringVar(&c.runDir, "run-dir", "", "directory for the kubelet's state and the CRI socket (required)")
	fs.StringVar(&c.otlpEndpoint, "otlp-endpoint", "", "host:port of an OTLP gRPC receiver; empty disables tracing")
	fs.IntVar(&c.samplingPerMillion, "sampling-rate-per-million", 1000000, "kubelet tracing sampling rate")
	fs.IntVar(&c.port, "port", 10250, "kubelet API port on 127.0.0.1")
	klog.InitFlags(fs)
	_ = fs.Parse(os.Args[1:]) // ExitOnError: Parse exits on failure.

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, c); err != nil {
		fmt.Fprintln(os.Stderr, "hollowkubelet:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, c config) error {
	if c.kubeconfig == "" || c.runDir == "" {
		return fmt.Errorf("--kubeconfig and --run-dir are required")
	}
	restConfig, err := clientcmd.BuildConfigFromFlags("", c.kubeconfig)
	if err != nil {
		return fmt.Errorf("load kubeconfig %q: %w", c.kubeconfig, err)
	}
	restConfig.UserAgent = "hollow-kubelet"
	client, err := kubernetes.NewForConfig(restConfig)
	if err != nil {
		return fmt.Errorf("create client: %w", err)
	}
	// Node heartbeats must not queue behind pod traffic (as in cmd/kubemark).
	heartbeatConfig := *restConfig
	heartbeatConfig.QPS, heartbeatConfig.Timeout = -1, 10*time.Second
	heartbeatClient, err := kubernetes.NewForConfig(&heartbeatConfig)
	if err != nil {
		return fmt.Errorf("create heartbeat client: %w", err)
	}

	flags, kc := kubemark.GetHollowKubeletConfig(&kubemark.HollowKubeletOptions{
		NodeName: c.nodeName, KubeletPort: c.port, MaxPods: 110,
		NodeLabels: map[string]string{"podtrace.dev/node-kind": "hollow"},
	})
	// GetHollowKubeletConfig made its directories under os.TempDir; use ours.
	_ = os.RemoveAll(flags.RootDirectory)
	flags.RootDirectory = filepath.Join(c.runDir, "root")
	kc.StaticPodPath = filepath.Join(flags.RootDirectory, "static-pods")
	kc.PodLogsDir = filepath.Join(flags.RootDirectory, "pod-logs")
	for _, d := range []string{kc.StaticPodPath, kc.PodLogsDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("create kubelet dir: %w", err)
		}
	}
	kc.Address = "127.0.0.1"
	kc.HealthzBindAddress = "127.0.0.1"
	kc.HealthzPort = 0 // disabled: several kubelets may share the host
	if c.otlpEndpoint != "" {
		rate := int32(c.samplingPerMillion)
		kc.Tracing = &tracingapi.TracingConfiguration{Endpoint: &c.otlpEndpoint, SamplingRatePerMillion: &rate}
	}
	tp, err := tracing.NewProvider(ctx, kc.Tracing, nil, []sdkresource.Option{sdkresource.WithAttributes(
		semconv.ServiceNameKey.String("kubelet"), semconv.HostNameKey.String(c.nodeName))})
	if err != nil {
		return fmt.Errorf("create tracer provider: %w", err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = tp.Shutdown(sctx) // flush the last spans; nothing to do on failure
	}()

	endpoint := "unix://" + filepath.Join(c.runDir, "cri.sock")
	runtime := fake.NewFakeRemoteRuntime()
	if err := runtime.Start(endpoint); err != nil {
		return fmt.Errorf("start fake CRI runtime: %w", err)
	}
	defer runtime.Stop()
	logger := klog.FromContext(ctx)
	runtimeService, err := remote.NewRemoteRuntimeService(endpoint, 15*time.Second, tp, &logger)
	if err != nil {
		return fmt.Errorf("connect runtime service: %w", err)
	}
	hk := kubemark.NewHollowKubelet(flags, kc, client, heartbeatClient, &cadvisortest.Fake{NodeName: c.nodeName},
		// In process: the remote image client rejects the fake's images (no size).
		runtime.ImageService, runtimeService, cm.NewStubContainerManager())
	hk.KubeletDeps.TracerProvider = tp
	hk.KubeletDeps.Recorder = nil // RunKubelet then builds a real recorder that sends Events
	hk.KubeletDeps.EventClient = client.CoreV1()
	server := &options.KubeletServer{KubeletFlags: *flags, KubeletConfiguration: *kc}
	if err := kubeletapp.RunKubelet(ctx, server, hk.KubeletDeps); err != nil {
		return fmt.Errorf("run kubelet: %w", err)
	}
	<-ctx.Done()
	return nil
}
