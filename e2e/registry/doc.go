// Package registry gives the real-node end-to-end tests the images they run,
// on a machine that reaches no image registry: it builds the testimage program
// (e2e/testimage) statically, packs it into images, and serves them from an
// OCI registry (go-containerregistry's pkg/registry, in memory) on 127.0.0.1,
// so containerd pulls them as it pulls any image, failures included.
//
//	bin := registry.BuildTestImage(t)  // cached by source hash
//	r := registry.Start(t, registry.Options{User: "u", Password: "p", SlowPull: 70 * time.Second})
//	img, _ := registry.Image(bin, "-listen", ":8080", "-ready-after", "20s")
//	ref, _ := r.Push(ctx, "app", "v1", img) // "127.0.0.1:PORT/app:v1"
//
// Repositories are plain unless their name starts with one of two prefixes:
//
//   - "private/" (PrivatePrefix): every request needs HTTP basic auth with
//     Options.User and Options.Password; without it (or with wrong ones) the
//     registry answers 401 UNAUTHORIZED with `WWW-Authenticate: Basic
//     realm="podtrace-e2e"`, as a real registry does, so a pod without the
//     right imagePullSecret fails to pull.
//   - "slow/" (SlowPrefix): every blob (config and layers) is streamed in
//     small chunks spread evenly over Options.SlowPull, so a puller sees
//     steady progress (containerd's image_pull_progress_timeout does not
//     fire) and a pull that fetches its blobs in parallel, as containerd
//     does, takes about SlowPull. Manifests are not slowed.
//
// A missing repository or tag answers 404 MANIFEST_UNKNOWN (containerd's
// "not found"), and ClosedHost names a port where nothing listens (a registry
// that is down).
//
// Images are OCI (manifest application/vnd.oci.image.manifest.v1+json, config
// application/vnd.oci.image.config.v1+json, one gzip layer
// application/vnd.oci.image.layer.v1.tar+gzip) for linux on the test
// machine's architecture. The layer is byte-for-byte the same for the same
// binary, and a puller fetches only the blobs it lacks: a slow image must
// have a config the puller has not seen (args of its own), which then
// carries the delay alone. Checked with containerd 1.6's ctr: SlowPull 5 s
// gives a 5.2 s pull with the layer already present and 5.7 s without.
package registry
