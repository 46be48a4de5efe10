package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/podtrace/podtrace/clusterconfig"
	"github.com/podtrace/podtrace/e2e/daemon"
	"sigs.k8s.io/yaml"
)

// RealNodeName is the node the real kubelet registers (Options.RealNode).
const RealNodeName = "real-node-0"

// RealNode configures node RealNodeName: a real kubelet on containerd 2.x, runc
// and a bridge CNI network on this host. It needs root, runc and the CNI
// plugins (Debian's runc and containernetworking-plugins) and e2e/build.sh's
// kubelet, containerd and containerd-shim-runc-v2.
type RealNode struct {
	// SandboxImage is the pod sandbox ("pause") image containerd pulls for
	// every pod, e.g. one the test pushed to its registry. Required.
	SandboxImage string
	// PlainHTTPRegistries are the host:port of registries containerd pulls
	// from over plain HTTP (the test's registry on 127.0.0.1).
	PlainHTTPRegistries []string
	// CNIConfig, if set, replaces the bridge network's configuration list
	// (a test of a broken network); "%BRIDGE%", "%SUBNET%" and "%IPAM%" (the
	// address allocations' directory) in it are replaced by the node's own.
	// containerd sets up the pods' loopback itself.
	CNIConfig string
}

// cniBinDir holds the CNI plugins of Debian's containernetworking-plugins.
const cniBinDir = "/usr/lib/cni"

// realNode is a running real node and what its teardown undoes.
type realNode struct {
	dir      string // everything the node writes, under the cluster's RunDir
	socket   string // containerd's CRI socket
	bridge   string // the CNI bridge, named for this node only
	kubelet  *daemon.Daemon
	kubeArgs []string // how the kubelet was started, for StartKubelet
	bin      string
	logDir   string
}

// startRealNode starts containerd and a kubelet registering RealNodeName.
func (c *Cluster) startRealNode(ctx context.Context, bins binaries, opts Options, logDir, kubeconfig string, kubeletPort int) error {
	rn := opts.RealNode
	if rn.SandboxImage == "" {
		return errors.New("cluster.RealNode.SandboxImage is required")
	}
	for _, p := range []string{"/usr/sbin/runc", filepath.Join(cniBinDir, "bridge"), filepath.Join(cniBinDir, "host-local"), filepath.Join(cniBinDir, "loopback")} {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("real node needs %s (apt-get install runc containernetworking-plugins): %w", p, err)
		}
	}
	n := &realNode{dir: filepath.Join(c.RunDir, RealNodeName), logDir: logDir}
	c.realNode = n
	n.socket = filepath.Join(n.dir, "containerd.sock")
	// A bridge and a subnet of this run's own: runs on one host do not collide.
	id := os.Getpid() % 200
	n.bridge = fmt.Sprintf("ptbr%d", os.Getpid())
	subnet := fmt.Sprintf("10.%d.0.0/16", 30+id)

	for _, d := range []string{"cni", "certs.d", "root", "pod-logs", "ipam"} {
		if err := os.MkdirAll(filepath.Join(n.dir, d), 0o755); err != nil {
			return fmt.Errorf("real node: %w", err)
		}
	}
	conflist := rn.CNIConfig
	if conflist == "" {
		conflist = `{"cniVersion": "1.0.0", "name": "podtrace-e2e", "plugins": [
  {"type": "bridge", "bridge": "%BRIDGE%", "isGateway": true, "ipMasq": false, "hairpinMode": true,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "%SUBNET%"}]], "dataDir": "%IPAM%"}}]}`
	}
	conflist = strings.NewReplacer("%BRIDGE%", n.bridge, "%SUBNET%", subnet, "%IPAM%", filepath.Join(n.dir, "ipam")).Replace(conflist)
	files := map[string]string{
		filepath.Join(n.dir, "cni", "10-podtrace-e2e.conflist"): conflist,
		filepath.Join(n.dir, "containerd.toml"):                 containerdConfig(n.dir, n.socket, rn.SandboxImage),
	}
	for _, host := range rn.PlainHTTPRegistries {
		// containerd's hosts.toml: pull from this registry over plain HTTP
		files[filepath.Join(n.dir, "certs.d", host, "hosts.toml")] = fmt.Sprintf(
			"server = %q\n\n[host.%q]\n  capabilities = [\"pull\", \"resolve\"]\n", "http://"+host, "http://"+host)
	}
	kubeletConfig, err := c.kubeletConfig(n, opts, kubeletPort)
	if err != nil {
		return err
	}
	files[filepath.Join(n.dir, "kubelet.yaml")] = kubeletConfig
	for path, data := range files {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("real node: %w", err)
		}
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			return fmt.Errorf("real node: %w", err)
		}
	}

	// containerd finds its shim on PATH: ours, not a distribution's older one.
	env := []string{"PATH=" + filepath.Dir(bins.containerd) + ":" + os.Getenv("PATH")}
	if opts.OTLPEndpoint != "" {
		// containerd's tracing plugins load only with the endpoint in the environment
		env = append(env, "OTEL_EXPORTER_OTLP_ENDPOINT=http://"+opts.OTLPEndpoint, "OTEL_EXPORTER_OTLP_PROTOCOL=grpc",
			"OTEL_SERVICE_NAME=containerd", "OTEL_TRACES_SAMPLER=always_on")
	}
	if err := c.run("containerd", logDir, env, bins.containerd, "--config="+filepath.Join(n.dir, "containerd.toml")); err != nil {
		return err
	}
	if err := c.poll(ctx, "containerd socket", func() (bool, error) {
		conn, err := net.DialTimeout("unix", n.socket, time.Second)
		if err != nil {
			return false, err
		}
		conn.Close()
		return true, nil
	}); err != nil {
		return err
	}
	n.bin = bins.kubelet
	n.kubeArgs = []string{
		"--config=" + filepath.Join(n.dir, "kubelet.yaml"), "--kubeconfig=" + kubeconfig,
		"--root-dir=" + filepath.Join(n.dir, "root"), "--cert-dir=" + filepath.Join(n.dir, "pki"),
		"--hostname-override=" + RealNodeName,
		"--node-labels=podtrace.dev/node-kind=real", "--v=2",
	}
	if err := c.StartKubelet(); err != nil {
		return err
	}
	c.Nodes = append(c.Nodes, RealNodeName)
	return nil
}

// StartKubelet starts the real node's kubelet (again, after StopKubelet).
func (c *Cluster) StartKubelet() error {
	n := c.realNode
	if n == nil {
		return errors.New("the cluster has no real node")
	}
	if err := c.run("kubelet", n.logDir, nil, n.bin, n.kubeArgs...); err != nil {
		return err
	}
	c.mu.Lock()
	n.kubelet = c.procs[len(c.procs)-1]
	c.mu.Unlock()
	return nil
}

// StopKubelet stops the real node's kubelet, leaving its containers running,
// as a kubelet that crashed or lost its node would.
func (c *Cluster) StopKubelet() error {
	n := c.realNode
	if n == nil || n.kubelet == nil {
		return errors.New("the cluster has no running real kubelet")
	}
	c.mu.Lock()
	c.procs = slices.DeleteFunc(c.procs, func(p *daemon.Daemon) bool { return p == n.kubelet })
	c.mu.Unlock()
	k := n.kubelet
	n.kubelet = nil
	return k.Stop(stopGrace)
}

// containerdConfig is containerd 2.x's configuration (version 3) for the node
// in dir.
func containerdConfig(dir, socket, sandboxImage string) string {
	q := strconv.Quote
	return `version = 3
root = ` + q(filepath.Join(dir, "containerd", "root")) + `
state = ` + q(filepath.Join(dir, "containerd", "state")) + `

[grpc]
  address = ` + q(socket) + `

[ttrpc]
  address = ` + q(socket+".ttrpc") + `

[plugins."io.containerd.grpc.v1.cri"]
  disable_tcp_service = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"

[plugins."io.containerd.cri.v1.images"]
  snapshotter = "overlayfs"
  [plugins."io.containerd.cri.v1.images".pinned_images]
    sandbox = ` + q(sandboxImage) + `
  [plugins."io.containerd.cri.v1.images".registry]
    config_path = ` + q(filepath.Join(dir, "certs.d")) + `

[plugins."io.containerd.cri.v1.runtime"]
  # the VM lacks CAP_SYS_RESOURCE: without it runc fails
  # "can't get final child's PID from pipe: EOF"
  restrict_oom_score_adj = true
  # network namespaces under the node's own state directory, not /var/run/netns
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.cri.v1.runtime".cni]
    bin_dirs = [` + q(cniBinDir) + `]
    conf_dir = ` + q(filepath.Join(dir, "cni")) + `
    max_conf_num = 1
  [plugins."io.containerd.cri.v1.runtime".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
        SystemdCgroup = false
        BinaryName = "/usr/sbin/runc"
`
}

// kubeletConfig is the real kubelet's KubeletConfiguration, with the tracing
// stanza podtrace's generator writes (kubelet-tracing.yaml).
func (c *Cluster) kubeletConfig(n *realNode, opts Options, port int) (string, error) {
	kc := map[string]any{
		"apiVersion":                      "kubelet.config.k8s.io/v1beta1",
		"kind":                            "KubeletConfiguration",
		"cgroupDriver":                    "cgroupfs",
		"failSwapOn":                      false,
		"containerRuntimeEndpoint":        "unix://" + n.socket,
		"enforceNodeAllocatable":          []string{},
		"localStorageCapacityIsolation":   false,
		"evictionHard":                    map[string]string{},
		"address":                         "127.0.0.1",
		"port":                            port,
		"readOnlyPort":                    0,
		"healthzPort":                     0,
		"podLogsDir":                      filepath.Join(n.dir, "pod-logs"),
		"serializeImagePulls":             false, // one slow pull must not hold up the others
		"imageGCHighThresholdPercent":     100,   // never collect the test images
		"imageGCLowThresholdPercent":      99,
		"registerNode":                    true,
		"nodeStatusReportFrequency":       "10s",
		"fileCheckFrequency":              "5s",
		"syncFrequency":                   "10s",
		"shutdownGracePeriod":             "0s",
		"shutdownGracePeriodCriticalPods": "0s",
	}
	if opts.OTLPEndpoint != "" {
		tr, err := readKubeletTracing(filepath.Join(c.ConfigDir, clusterconfig.KubeletTracingFile))
		if err != nil {
			return "", err
		}
		kc["tracing"] = tr
	}
	out, err := yaml.Marshal(kc)
	if err != nil {
		return "", fmt.Errorf("kubelet config: %w", err)
	}
	return string(out), nil
}

// teardown undoes what the node left behind once kubelet and containerd have
// stopped: container and shim processes, mounts, the bridge, pod cgroups. A
// second run on the host starts clean.
func (n *realNode) teardown() error {
	var errs []error
	// Shims outlive containerd by design; they and their containers go by PID.
	pids := shimTrees(n.socket)
	for _, pid := range pids {
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			errs = append(errs, fmt.Errorf("kill %d: %w", pid, err))
		}
	}
	// the killed release their mounts as they go: wait for them (bounded)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if !slices.ContainsFunc(pids, func(pid int) bool { return syscall.Kill(pid, 0) == nil }) {
			break
		}
	}
	if err := unmountUnder(n.dir); err != nil {
		errs = append(errs, err)
	}
	if out, err := exec.Command("ip", "link", "delete", n.bridge).CombinedOutput(); err != nil &&
		!strings.Contains(string(out), "Cannot find device") {
		errs = append(errs, fmt.Errorf("ip link delete %s: %v: %s", n.bridge, err, out))
	}
	errs = append(errs, removePodCgroups())
	return errors.Join(errs...)
}

// shimTrees returns the PIDs of the containerd shims serving socket and all
// their descendants, descendants first.
func shimTrees(socket string) []int {
	entries, _ := os.ReadDir("/proc")
	children := map[int][]int{}
	var shims []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so read after ')'
		fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(fields) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(fields[1])
		children[ppid] = append(children[ppid], pid)
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		args := strings.Split(string(cmdline), "\x00")
		if strings.HasSuffix(args[0], "containerd-shim-runc-v2") && slices.Contains(args, socket) {
			shims = append(shims, pid)
		}
	}
	var order []int
	var walk func(int)
	walk = func(pid int) {
		for _, ch := range children[pid] {
			walk(ch)
		}
		order = append(order, pid)
	}
	for _, s := range shims {
		walk(s)
	}
	return order
}

// unmountUnder lazily unmounts every mount point under dir, deepest first.
func unmountUnder(dir string) error {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return fmt.Errorf("read mountinfo: %w", err)
	}
	var points []string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			points = append(points, f[4])
		}
	}
	slices.SortFunc(points, func(a, b string) int { return len(b) - len(a) })
	var errs []error
	for _, p := range slices.Compact(points) {
		if err := syscall.Unmount(p, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", p, err))
		}
	}
	return errors.Join(errs...)
}

// removePodCgroups removes the emptied cgroups the kubelet made for pods
// (kubepods/…/pod<uid>) in every cgroup v1 hierarchy, leaving kubepods itself.
func removePodCgroups() error {
	roots, _ := filepath.Glob("/sys/fs/cgroup/*/kubepods")
	var errs []error
	for _, root := range roots {
		var dirs []string
		_ = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() && strings.HasPrefix(d.Name(), "pod") {
				dirs = append(dirs, path)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- { // children before parents
			if err := removeCgroup(dirs[i]); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// removeCgroup removes a cgroup directory and its child cgroups.
func removeCgroup(dir string) error {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.IsDir() {
			if err := removeCgroup(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	if err := syscall.Rmdir(dir); err != nil && !errors.Is(err, syscall.ENOENT) {
		return fmt.Errorf("remove cgroup %s: %w", dir, err)
	}
	return nil
}
