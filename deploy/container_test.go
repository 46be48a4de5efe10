package deploy

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// TestContainer runs podtrace as the Kustomize base's container runs: the
// static binary the Dockerfile builds, in a root of its own mounted
// read-only, as the pod's runAsUser/runAsGroup with its fsGroup, and
// writable only where the pod mounts a volume — the ConfigMap, the ingest
// token Secret (defaultMode, group fsGroup), the volume claim and the
// emptyDir laid out as the kubelet lays them out. podtrace must become
// ready, take a real audit batch with the token, serve the records, and
// stop cleanly on SIGTERM within the grace period. It needs root (mount
// namespaces, chroot), as CI has; elsewhere it skips.
func TestContainer(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for a mount namespace and chroot")
	}
	if err := exec.Command("unshare", "--mount", "true").Run(); err != nil {
		t.Skipf("no mount namespace here: %v", err)
	}
	m := newManifest(t, kustomize(t, "kustomize/base"))
	pod := m.sts.Spec.Template.Spec
	c := m.container(t)
	uid, gid, fsGroup := *pod.SecurityContext.RunAsUser, *pod.SecurityContext.RunAsGroup, *pod.SecurityContext.FSGroup

	dir := t.TempDir()
	root, vols := filepath.Join(dir, "root"), filepath.Join(dir, "volumes")
	for _, d := range []string{root, vols} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// the image: the Dockerfile's build of the binary, alone in its root
	build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(root, "podtrace"), "./cmd/podtrace")
	build.Dir, build.Env = "..", append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	// the pod's volumes, as the kubelet prepares them
	const token = "container-test-token"
	script := []string{"set -e", "mount --make-rprivate /", "mount --bind " + root + " " + root}
	for _, mnt := range c.VolumeMounts {
		src := filepath.Join(vols, mnt.Name)
		if err := os.MkdirAll(src, 0o755); err != nil {
			t.Fatal(err)
		}
		v := volume(pod, mnt.Name)
		switch {
		case v.ConfigMap != nil:
			data, _, _ := unstructured.NestedStringMap(m.objs["ConfigMap"].Object, "data")
			for name, content := range data {
				writeFile(t, src, name, []byte(content))
				os.Chmod(filepath.Join(src, name), 0o644)
			}
		case v.Secret != nil && v.Secret.SecretName == "podtrace-ingest-token":
			f := writeFile(t, src, "token", []byte(token+"\n"))
			chown(t, f, 0, int(fsGroup), os.FileMode(*v.Secret.DefaultMode))
		case v.EmptyDir != nil:
			chown(t, src, 0, 0, 0o777)
		case v.Name == "" || v.PersistentVolumeClaim != nil: // a volume claim template
			chown(t, src, 0, int(fsGroup), 0o2775)
		default:
			t.Fatalf("volume %s: the test does not lay out its kind", mnt.Name)
		}
		target := filepath.Join(root, mnt.MountPath)
		if err := os.MkdirAll(target, 0o755); err != nil {
			t.Fatal(err)
		}
		opts := ""
		if mnt.ReadOnly {
			opts = " && mount -o remount,bind,ro " + target
		}
		script = append(script, "mount --bind "+src+" "+target+opts)
	}
	// readOnlyRootFilesystem
	script = append(script, "mount -o remount,bind,ro "+root)

	// podtrace as the container runs it, on loopback ports rather than
	// every interface of the test machine
	ports := freePorts(t, 3)
	args := append(append([]string{}, c.Args...),
		"--http-addr", "127.0.0.1:"+ports[0], "--otlp-grpc-addr", "127.0.0.1:"+ports[1], "--otlp-http-addr", "127.0.0.1:"+ports[2])
	script = append(script, fmt.Sprintf("exec setpriv --no-new-privs chroot --userspec=%d:%d --groups=%d %s /podtrace %s",
		uid, gid, fsGroup, root, strings.Join(args, " ")))
	cmd := exec.Command("unshare", "--mount", "sh", "-c", strings.Join(script, "\n"))
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		cmd.Process.Kill()
		if t.Failed() {
			t.Logf("podtrace's output:\n%s", logs.String())
		}
	}()

	base := "http://127.0.0.1:" + ports[0]
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	poll(ctx, t, done, "ready", func() bool { return get(base+"/readyz") == http.StatusOK })
	batch := captureBatch(t)
	if code := post(t, base+"/audit", "", batch); code != http.StatusUnauthorized {
		t.Errorf("POST /audit without the token: %d, want 401", code)
	}
	if code := post(t, base+"/audit", token, batch); code != http.StatusOK {
		t.Fatalf("POST /audit with the token from the Secret file: %d, want 200", code)
	}
	poll(ctx, t, done, "records served", func() bool {
		resp, err := http.Get(base + "/api/v1/pods?namespace=demo")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var page struct{ Items []json.RawMessage }
		return json.NewDecoder(resp.Body).Decode(&page) == nil && len(page.Items) > 0
	})

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	grace := time.Duration(*pod.TerminationGracePeriodSeconds) * time.Second
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("podtrace after SIGTERM: %v", err)
		}
	case <-time.After(grace):
		t.Fatalf("podtrace still running %s after SIGTERM", grace)
	}
	db, err := os.Stat(filepath.Join(vols, "data", "podtrace.db"))
	if err != nil {
		t.Fatal(err)
	}
	if st := db.Sys().(*syscall.Stat_t); int64(st.Uid) != uid {
		t.Errorf("podtrace.db owned by uid %d, want %d", st.Uid, uid)
	}
}

func volume(pod corev1.PodSpec, name string) corev1.Volume {
	for _, v := range pod.Volumes {
		if v.Name == name {
			return v
		}
	}
	return corev1.Volume{} // a volume claim template
}

func chown(t *testing.T, path string, uid, gid int, mode os.FileMode) {
	t.Helper()
	if err := os.Chown(path, uid, gid); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// freePorts returns n TCP ports free on 127.0.0.1, all held until chosen.
func freePorts(t *testing.T, n int) []string {
	t.Helper()
	var ports []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		ports = append(ports, strconv.Itoa(l.Addr().(*net.TCPAddr).Port))
	}
	return ports
}

// poll waits for cond, failing if the process exits first.
func poll(ctx context.Context, t *testing.T, done <-chan error, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case err := <-done:
			t.Fatalf("podtrace exited before %s: %v", what, err)
		case <-ctx.Done():
			t.Fatalf("podtrace not %s: %v", what, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func get(url string) int {
	resp, err := http.Get(url)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func post(t *testing.T, url, token string, body []byte) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// captureBatch is the real kwok-only capture as one audit EventList.
func captureBatch(t *testing.T) []byte {
	t.Helper()
	f, err := os.Open("../demo/data/kwok-only.audit.log.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var items []json.RawMessage
	sc := bufio.NewScanner(zr)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var line struct {
			Kind  string            `json:"kind"`
			Items []json.RawMessage `json:"items"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatal(err)
		}
		if line.Kind == "EventList" {
			items = append(items, line.Items...)
		} else {
			items = append(items, json.RawMessage(bytes.Clone(sc.Bytes())))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(map[string]any{"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "items": items})
	if err != nil {
		t.Fatal(err)
	}
	return b
}
