package registry

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// TestRegistry pushes images and pulls them back with go-containerregistry's
// remote client, a real OCI client, in every kind of repository.
func TestRegistry(t *testing.T) {
	const slowPull = 2 * time.Second
	ctx := context.Background()
	bin := BuildTestImage(t)
	r := Start(t, Options{User: "alice", Password: "s3cret", SlowPull: slowPull})
	img, err := Image(bin, "-print", "hello")
	if err != nil {
		t.Fatal(err)
	}
	alice := remote.WithAuth(&authn.Basic{Username: "alice", Password: "s3cret"})

	t.Run("Public", func(t *testing.T) {
		ref := push(t, r, "public/app", "v1", img)
		pulled := pull(t, ref)
		checkImage(t, pulled, bin, []string{"-print", "hello"})
		want, _ := img.Digest()
		if got, _ := pulled.Digest(); got != want {
			t.Errorf("pulled digest %s, pushed %s", got, want)
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		_, err := remote.Image(parse(t, r.Host+"/public/app:missing"))
		checkStatus(t, err, http.StatusNotFound, transport.ManifestUnknownErrorCode)
	})

	t.Run("Private", func(t *testing.T) {
		ref := push(t, r, "private/app", "v1", img)
		_, err := remote.Image(parse(t, ref))
		checkStatus(t, err, http.StatusUnauthorized, transport.UnauthorizedErrorCode)
		_, err = remote.Image(parse(t, ref), remote.WithAuth(&authn.Basic{Username: "alice", Password: "wrong"}))
		checkStatus(t, err, http.StatusUnauthorized, transport.UnauthorizedErrorCode)
		checkImage(t, pull(t, ref, alice), bin, []string{"-print", "hello"})

		// The challenge containerd answers with the pod's pull secret.
		resp, err := http.Get("http://" + r.Host + "/v2/private/app/manifests/v1")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got, want := resp.Header.Get("WWW-Authenticate"), `Basic realm="podtrace-e2e"`; resp.StatusCode != http.StatusUnauthorized || got != want {
			t.Errorf("GET private manifest without credentials: %d, WWW-Authenticate %q; want 401, %q", resp.StatusCode, got, want)
		}
	})

	t.Run("PushPrivateWithoutCredentials", func(t *testing.T) {
		open := Start(t, Options{})
		_, err := open.Push(ctx, "private/app", "v1", img)
		// The push starts with a HEAD, whose 401 has no body to carry a code.
		var terr *transport.Error
		if !errors.As(err, &terr) || terr.StatusCode != http.StatusUnauthorized {
			t.Errorf("push to private without credentials: %v, want 401", err)
		}
	})

	t.Run("Slow", func(t *testing.T) {
		ref := push(t, r, "slow/app", "v1", img)
		start := time.Now()
		pulled := pull(t, ref) // reads the config and the layer
		checkImage(t, pulled, bin, []string{"-print", "hello"})
		// Only a lower bound: the machine may be slower, never faster.
		if took := time.Since(start); took < slowPull {
			t.Errorf("slow pull took %v, want at least %v", took, slowPull)
		}

		// Streamed, not held back: the bytes arrive spread over SlowPull.
		layers, _ := img.Layers()
		digest, _ := layers[0].Digest()
		resp, err := http.Get("http://" + r.Host + "/v2/slow/app/blobs/" + digest.String())
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var first, last time.Time
		buf := make([]byte, 32<<10)
		for {
			n, err := resp.Body.Read(buf)
			if n > 0 && first.IsZero() {
				first = time.Now()
			}
			if n > 0 {
				last = time.Now()
			}
			if err != nil {
				break
			}
		}
		if spread := last.Sub(first); spread < slowPull/2 {
			t.Errorf("slow blob's bytes arrived within %v, want spread over about %v", spread, slowPull)
		}
	})

	t.Run("ClosedHost", func(t *testing.T) {
		_, err := remote.Image(parse(t, ClosedHost(t)+"/public/app:v1"))
		if err == nil || !strings.Contains(err.Error(), "connection refused") {
			t.Errorf("pull from ClosedHost: %v, want connection refused", err)
		}
	})

	t.Run("Closed", func(t *testing.T) {
		down := Start(t, Options{})
		ref := push(t, down, "public/app", "v1", img)
		down.Close()
		if _, err := remote.Image(parse(t, ref)); err == nil {
			t.Error("pull from a closed registry succeeded")
		}
	})
}

func push(t *testing.T, r *Registry, repo, tag string, img v1.Image) string {
	t.Helper()
	ref, err := r.Push(context.Background(), repo, tag, img)
	if err != nil {
		t.Fatal(err)
	}
	if want := r.Host + "/" + repo + ":" + tag; ref != want {
		t.Errorf("Push returned %q, want %q", ref, want)
	}
	return ref
}

func parse(t *testing.T, ref string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// pull fetches the manifest, the config and every layer's bytes.
func pull(t *testing.T, ref string, opts ...remote.Option) v1.Image {
	t.Helper()
	img, err := remote.Image(parse(t, ref), opts...)
	if err != nil {
		t.Fatalf("pull %s: %v", ref, err)
	}
	if _, err := img.ConfigFile(); err != nil {
		t.Fatalf("pull %s: config: %v", ref, err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatalf("pull %s: layers: %v", ref, err)
	}
	for _, l := range layers {
		rc, err := l.Compressed()
		if err != nil {
			t.Fatalf("pull %s: layer: %v", ref, err)
		}
		_, err = io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil {
			t.Fatalf("pull %s: layer: %v", ref, err)
		}
	}
	return img
}

// checkImage checks what containerd relies on: OCI media types, the
// platform, the entrypoint and args, and /testimage in the one layer.
func checkImage(t *testing.T, img v1.Image, bin []byte, args []string) {
	t.Helper()
	if mt, _ := img.MediaType(); mt != types.OCIManifestSchema1 {
		t.Errorf("manifest media type %s", mt)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.Config.MediaType != types.OCIConfigJSON {
		t.Errorf("config media type %s", m.Config.MediaType)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != "linux" || cf.Architecture == "" || !slices.Equal(cf.Config.Entrypoint, []string{Entrypoint}) || !slices.Equal(cf.Config.Cmd, args) {
		t.Errorf("config: os %q arch %q entrypoint %q cmd %q", cf.OS, cf.Architecture, cf.Config.Entrypoint, cf.Config.Cmd)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers: %d, %v", len(layers), err)
	}
	if mt, _ := layers[0].MediaType(); mt != types.OCILayer {
		t.Errorf("layer media type %s", mt)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			t.Fatal("layer has no testimage")
		}
		if err != nil {
			t.Fatal(err)
		}
		if "/"+h.Name != Entrypoint {
			continue
		}
		got, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if h.Mode != 0o755 || !bytes.Equal(got, bin) {
			t.Errorf("testimage in the layer: mode %o, %d bytes, want 0755 and the %d bytes built", h.Mode, len(got), len(bin))
		}
		return
	}
}

// checkStatus checks that err is the registry's answer status with code.
func checkStatus(t *testing.T, err error, status int, code transport.ErrorCode) {
	t.Helper()
	var terr *transport.Error
	if !errors.As(err, &terr) {
		t.Fatalf("error %v, want a registry error %d %s", err, status, code)
	}
	if terr.StatusCode != status || len(terr.Errors) == 0 || terr.Errors[0].Code != code {
		t.Errorf("error %v, want %d %s", err, status, code)
	}
}
