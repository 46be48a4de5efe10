package registry

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Entrypoint is where an Image holds the binary.
const Entrypoint = "/testimage"

// Image builds an image whose only layer holds binary at /testimage (mode
// 0755) and an empty /tmp (for -ready-file), and whose config's entrypoint is
// /testimage with args. Same binary, same layer digest: the tar has fixed
// times and owners.
func Image(binary []byte, args ...string) (v1.Image, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	epoch := time.Unix(0, 0)
	headers := []*tar.Header{
		{Name: "tmp/", Typeflag: tar.TypeDir, Mode: 0o1777, ModTime: epoch},
		{Name: strings.TrimPrefix(Entrypoint, "/"), Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(binary)), ModTime: epoch},
	}
	for _, h := range headers {
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("image layer: %w", err)
		}
	}
	if _, err := tw.Write(binary); err != nil {
		return nil, fmt.Errorf("image layer: %w", err)
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("image layer: %w", err)
	}
	layerTar := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer), tarball.WithCompressedCaching)
	if err != nil {
		return nil, fmt.Errorf("image layer: %w", err)
	}

	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.AppendLayers(img, layer)
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("image config: %w", err)
	}
	cf = cf.DeepCopy()
	// The binary is built for this machine (BuildTestImage), so the image
	// claims its architecture.
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	cf.Config.Entrypoint = []string{Entrypoint}
	cf.Config.Cmd = slices.Clone(args)
	cf.Config.Env = []string{"PATH=/"}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("image config: %w", err)
	}
	return img, nil
}

// BuildTestImage builds the testimage program (e2e/testimage) statically for
// linux and returns it. The binary is cached under
// ${PODTRACE_E2E_CACHE:-$HOME/.cache/podtrace-e2e}/testimage/<hash>, the
// hash over its sources, the e2e go.mod and the Go version, so only a change
// rebuilds it.
func BuildTestImage(t testing.TB) []byte {
	t.Helper()
	path, err := buildTestImage()
	if err != nil {
		t.Fatal(err)
	}
	binary, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return binary
}

// buildTestImage builds the testimage binary if its cache entry is missing
// and returns the entry's path.
func buildTestImage() (string, error) {
	// The e2e module's build scripts use the machine's Go, whatever go.mod's
	// toolchain line says.
	env := append(os.Environ(), "CGO_ENABLED=0", "GOTOOLCHAIN=local", "GOOS=linux")
	buildArgs := []string{"build", "-trimpath", "-ldflags=-s -w"}
	// go test runs in the package's directory, inside the e2e module.
	out, err := goCommand("", env, "env", "GOMOD", "GOVERSION")
	if err != nil {
		return "", err
	}
	gomod, goVersion, _ := strings.Cut(out, "\n")
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("testimage: not inside the e2e module")
	}
	root := filepath.Dir(gomod)
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n%s\n", goVersion, runtime.GOARCH, strings.Join(buildArgs, " "))
	sources, err := filepath.Glob(filepath.Join(root, "testimage", "*.go"))
	if err != nil {
		return "", err
	}
	for _, f := range append(sources, filepath.Join(root, "go.mod")) {
		data, err := os.ReadFile(f)
		if err != nil {
			return "", fmt.Errorf("hash testimage sources: %w", err)
		}
		fmt.Fprintf(h, "%s %d\n", filepath.Base(f), len(data))
		h.Write(data)
	}
	cache := os.Getenv("PODTRACE_E2E_CACHE")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("testimage cache: %w", err)
		}
		cache = filepath.Join(home, ".cache", "podtrace-e2e")
	}
	path := filepath.Join(cache, "testimage", hex.EncodeToString(h.Sum(nil)))
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", fmt.Errorf("testimage cache: %w", err)
	}
	// Build beside the entry and rename: test packages running at once
	// may build it together, and none must read a half-written binary.
	tmp := fmt.Sprintf("%s.tmp%d", path, os.Getpid())
	if _, err := goCommand(root, env, append(buildArgs, "-o", tmp, "./testimage")...); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("testimage cache: %w", err)
	}
	return path, nil
}

// goCommand runs the go command in dir and returns its trimmed output.
func goCommand(dir string, env []string, args ...string) (string, error) {
	cmd := exec.Command("go", args...)
	cmd.Dir, cmd.Env = dir, env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return strings.TrimSpace(string(out)), nil
}
