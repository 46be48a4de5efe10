package decode_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/podtrace/podtrace/decode"
)

// podCreate is the first pod create of the kwok capture: a real
// RequestResponse event with the pod in the request and the response.
func podCreate(t *testing.T) []byte {
	t.Helper()
	for _, l := range lines(t, "../testdata/kwok-only-v1.34.10/audit.log") {
		if bytes.Contains(l, []byte(`"verb":"create"`)) && bytes.Contains(l, []byte(`"objectRef":{"resource":"pods","namespace":"demo","apiVersion":"v1"}`)) {
			return l
		}
	}
	t.Fatal("no pod create in the capture")
	return nil
}

// decodeOne decodes a document that must hold exactly one relevant event.
func decodeOne(t *testing.T, doc []byte) *decode.Event {
	t.Helper()
	d := decode.Decoder{KeepRaw: true}
	var got *decode.Event
	if err := d.Decode(doc, func(ev *decode.Event) { cp := *ev; got = &cp }); err != nil {
		t.Fatalf("decode: %v\n%s", err, doc)
	}
	if got == nil {
		t.Fatalf("no relevant event in %s", doc)
	}
	return got
}

// secretContainer is what a container of a real pod may carry: secrets in
// its command, args, probes and hooks, beside the env values. Spliced into
// the captured pod after its image.
const secretContainer = `"command":["/app","--token=SECRET-COMMAND"],"args":["--password=SECRET-ARG","-v=2","SECRET-POSITIONAL"],` +
	`"env":[{"name":"DB_PASSWORD","value":"SECRET-ENV"},{"name":"FROM","valueFrom":{"secretKeyRef":{"name":"db","key":"pw"}}}],` +
	`"livenessProbe":{"exec":{"command":["check","--key=SECRET-PROBE-EXEC"]}},` +
	`"readinessProbe":{"httpGet":{"path":"/ready","port":8080,"httpHeaders":[{"name":"Authorization","value":"Bearer SECRET-PROBE-HEADER"}]}},` +
	`"lifecycle":{"postStart":{"exec":{"command":["sh","-c","login SECRET-HOOK"]}},"preStop":{"httpGet":{"path":"/stop","port":8080,"httpHeaders":[{"name":"X-Api-Key","value":"SECRET-HOOK-HEADER"}]}}},`

// TestRedactContainers: a real pod create with secrets in every place a
// container carries them keeps none, keeps the count of args and command
// elements and the names of env variables and headers, and decodes to the
// same pod as before redaction (recovery reads the redacted journal).
func TestRedactContainers(t *testing.T) {
	orig := podCreate(t)
	image := []byte(`"image":"registry.k8s.io/pause:3.10",`)
	if n := bytes.Count(orig, image); n != 2 {
		t.Fatalf("the captured create has %d containers in request and response, want 2", n)
	}
	withSecrets := bytes.ReplaceAll(orig, image, append(append([]byte(nil), image...), secretContainer...))
	// a label and an annotation named like the secret fields: podtrace reads labels
	withSecrets = bytes.ReplaceAll(withSecrets, []byte(`"labels":{"app":"web",`), []byte(`"labels":{"app":"web","env":"prod","command":"keep","args":"keep",`))
	if !json.Valid(withSecrets) {
		t.Fatal("test event is not JSON")
	}
	ev := decodeOne(t, withSecrets)
	for _, secret := range []string{"SECRET-COMMAND", "SECRET-ARG", "SECRET-POSITIONAL", "SECRET-ENV", "SECRET-PROBE-EXEC", "SECRET-PROBE-HEADER", "SECRET-HOOK", "SECRET-HOOK-HEADER", "--password", `"-v=2"`, `"/app"`} {
		if bytes.Contains(ev.Raw, []byte(secret)) {
			t.Errorf("redacted event holds %s", secret)
		}
	}
	var doc struct {
		RequestObject, ResponseObject struct {
			Metadata struct{ Labels map[string]string }
			Spec     struct {
				Containers []struct {
					Command, Args []string
					Env           []struct{ Name, Value string }
					LivenessProbe struct{ Exec struct{ Command []string } }
					Readiness     struct {
						HTTPGet struct {
							HTTPHeaders []struct{ Name, Value string }
						}
					} `json:"readinessProbe"`
				}
			}
		}
	}
	if err := json.Unmarshal(ev.Raw, &doc); err != nil {
		t.Fatalf("redacted event: %v", err)
	}
	const r = decode.Redacted
	for _, obj := range []string{"request", "response"} {
		o := doc.RequestObject
		if obj == "response" {
			o = doc.ResponseObject
		}
		if len(o.Spec.Containers) != 1 {
			t.Fatalf("%s: %d containers", obj, len(o.Spec.Containers))
		}
		c := o.Spec.Containers[0]
		for name, got := range map[string]any{
			"command":         c.Command,
			"args":            c.Args,
			"probe command":   c.LivenessProbe.Exec.Command,
			"env":             c.Env,
			"probe headers":   c.Readiness.HTTPGet.HTTPHeaders,
			"labels (kept)":   o.Metadata.Labels,
			"label env, kept": o.Metadata.Labels["env"],
		} {
			want := map[string]any{
				"command":         []string{r, r},
				"args":            []string{r, r, r},
				"probe command":   []string{r, r},
				"env":             []struct{ Name, Value string }{{"DB_PASSWORD", r}, {"FROM", ""}},
				"probe headers":   []struct{ Name, Value string }{{"Authorization", r}},
				"labels (kept)":   map[string]string{"app": "web", "env": "prod", "command": "keep", "args": "keep", "pod-template-hash": "5f6b554666"},
				"label env, kept": "prod",
			}[name]
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s %s: got %#v, want %#v", obj, name, got, want)
			}
		}
	}
	// what podtrace reads is the same before and after redaction
	again := decodeOne(t, ev.Raw)
	if !reflect.DeepEqual(ev.Pod, again.Pod) || ev.Pod == nil {
		t.Errorf("the redacted event decodes to another pod:\n%+v\n%+v", ev.Pod, again.Pod)
	}
}

// patchEvent is a real-shaped pods patch event carrying body as its
// request object.
func patchEvent(body string) []byte {
	return []byte(`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":"7f0c3c1e-0000-4000-8000-00000000000a","stage":"ResponseComplete",` +
		`"requestURI":"/api/v1/namespaces/demo/pods/web-1","verb":"patch","user":{"username":"admin"},"userAgent":"kubectl/v1.34.10",` +
		`"objectRef":{"resource":"pods","namespace":"demo","name":"web-1","uid":"327aff6d-e563-489a-9a85-5442104b43f6","apiVersion":"v1"},"responseStatus":{"metadata":{},"code":200},` +
		`"requestObject":` + body + `,"requestReceivedTimestamp":"2026-11-21T20:48:39.000000Z","stageTimestamp":"2026-11-21T20:48:39.010000Z"}`)
}

// TestRedactPatches: secrets set through a strategic-merge patch or a JSON
// patch are redacted; patch operations on labels and status stay as sent.
func TestRedactPatches(t *testing.T) {
	cases := []struct {
		name, body string
		secrets    []string
		kept       []string
	}{
		{"strategic merge patch of a container",
			`{"spec":{"containers":[{"name":"app","image":"app:2","args":["--password=SECRET-SMP-ARG"],"command":["SECRET-SMP-CMD"],"env":[{"name":"K","value":"SECRET-SMP-ENV"}]}]},"metadata":{"labels":{"env":"staging"}}}`,
			[]string{"SECRET-SMP-ARG", "SECRET-SMP-CMD", "SECRET-SMP-ENV"}, []string{`"app:2"`, `"env":"staging"`, `"args":["<redacted>"]`}},
		{"JSON patch of one arg",
			`[{"op":"replace","path":"/spec/containers/0/args/1","value":"--password=SECRET-JP-ARG"}]`,
			[]string{"SECRET-JP-ARG"}, nil},
		{"JSON patch of the whole command, path after value",
			`[{"value":["sh","-c","SECRET-JP-CMD"],"op":"replace","path":"/spec/initContainers/0/command"}]`,
			[]string{"SECRET-JP-CMD"}, nil},
		{"JSON patch adding a container",
			`[{"op":"add","path":"/spec/ephemeralContainers/-","value":{"name":"debug","image":"busybox","command":["SECRET-JP-EPH"],"env":[{"name":"T","value":"SECRET-JP-EPH-ENV"}]}}]`,
			[]string{"SECRET-JP-EPH", "SECRET-JP-EPH-ENV"}, []string{`"busybox"`, `"name":"T"`}},
		{"JSON patch of an env value",
			`[{"op":"add","path":"/spec/containers/0/env/-","value":{"name":"X","value":"SECRET-JP-ENV"}}]`,
			[]string{"SECRET-JP-ENV"}, nil},
		{"JSON patch of a probe header, escaped path",
			`[{"op":"add","path":"/spec/containers/0/readinessProbe/httpGet/http\u0048eaders/0","value":{"name":"Authorization","value":"Bearer SECRET-JP-HDR"}}]`,
			[]string{"SECRET-JP-HDR"}, nil},
		{"JSON patch of the last-applied annotation",
			`[{"op":"add","path":"/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration","value":"{\"args\":[\"SECRET-JP-LAST\"]}"}]`,
			[]string{"SECRET-JP-LAST"}, nil},
		{"JSON patch of labels named env and command: kept",
			`[{"op":"replace","path":"/metadata/labels/env","value":"prod"},{"op":"add","path":"/metadata/labels/command","value":"x"},{"op":"add","path":"/metadata/annotations/args","value":"y"}]`,
			nil, []string{`"value":"prod"`, `"value":"x"`, `"value":"y"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc := patchEvent(c.body)
			if !json.Valid(doc) {
				t.Fatal("test event is not JSON")
			}
			ev := decodeOne(t, doc)
			for _, s := range c.secrets {
				if bytes.Contains(ev.Raw, []byte(s)) {
					t.Errorf("redacted event holds %s: %s", s, ev.Raw)
				}
			}
			for _, k := range c.kept {
				if !bytes.Contains(ev.Raw, []byte(k)) {
					t.Errorf("redacted event lost %s: %s", k, ev.Raw)
				}
			}
			if len(c.secrets) > 0 && !bytes.Contains(ev.Raw, []byte(decode.Redacted)) {
				t.Errorf("nothing redacted: %s", ev.Raw)
			}
		})
	}
}

// TestRedactTokens: the token of a ServiceAccount TokenRequest (what the
// kubelet asks for a pod's projected token) and of a TokenReview, and Secret
// data, are redacted wherever they appear; such events are not pod events,
// so the bodies are checked through the Redactor itself too.
func TestRedactTokens(t *testing.T) {
	var r decode.Redactor
	for _, c := range []struct{ doc, secret, kept string }{
		{`{"kind":"TokenRequest","apiVersion":"authentication.k8s.io/v1","spec":{"audiences":["api"],"boundObjectRef":{"kind":"Pod","name":"p"}},"status":{"token":"eyJ.SECRET-TR.sig","expirationTimestamp":"2026-11-21T21:48:39Z"}}`, "SECRET-TR", `"audiences":["api"]`},
		{`{"kind":"TokenReview","apiVersion":"authentication.k8s.io/v1","spec":{"token":"SECRET-REVIEW"},"status":{"authenticated":true}}`, "SECRET-REVIEW", `"authenticated":true`},
		{`{"kind":"Secret","apiVersion":"v1","metadata":{"name":"s"},"data":{"k":"U0VDUkVU"},"stringData":{"a":"SECRET-SD"},"type":"Opaque"}`, "U0VDUkVU", `"type":"Opaque"`},
		{`{"kind":"Secret","apiVersion":"v1","metadata":{"name":"s"},"data":{"k":"U0VDUkVU"},"stringData":{"a":"SECRET-SD"},"type":"Opaque"}`, "SECRET-SD", `"name":"s"`},
	} {
		out := r.Redact([]byte(c.doc))
		if out == nil || !json.Valid(out) {
			t.Fatalf("%s: redacted to %q", c.doc, out)
		}
		if bytes.Contains(out, []byte(c.secret)) || !bytes.Contains(out, []byte(c.kept)) {
			t.Errorf("%s: %s", c.secret, out)
		}
	}
	// a pod event whose request object is a TokenRequest (a confused client)
	ev := decodeOne(t, patchEvent(`{"kind":"TokenRequest","apiVersion":"authentication.k8s.io/v1","status":{"token":"SECRET-IN-POD-EVENT"}}`))
	if bytes.Contains(ev.Raw, []byte("SECRET-IN-POD-EVENT")) {
		t.Errorf("token kept: %s", ev.Raw)
	}
}

// TestRedactKeepsStrictness: redaction still refuses what is not JSON, and
// odd shapes of the redacted fields (not arrays, empty, nested) stay valid.
func TestRedactKeepsStrictness(t *testing.T) {
	var r decode.Redactor
	for _, bad := range []string{`{"args":["a",]}`, `{"args":[`, `{"command":`, `{"env":[{"value":}]}`, `{"args":["a"] "x":1}`,
		// what is replaced whole is still checked whole
		`{"managedFields":[{"f:a\q":1}]}`, `{"managedFields":[{"k:{\"a\"}":{"x":tru}}]}`, "{\"args\":[{\"a\x01\":1}]}", `{"env":[{"value":"\u12"}]}`} {
		if out := r.Redact([]byte(bad)); out != nil {
			t.Errorf("%s: redacted to %s, want refused", bad, out)
		}
	}
	for in, want := range map[string]string{
		`{"args":[]}`:                                    `{"args":[]}`,
		`{"args":"x"}`:                                   `{"args":"x"}`,
		`{"args":[["a",{"b":"c"}],null,1]}`:              `{"args":["<redacted>","<redacted>","<redacted>"]}`,
		`{"command" : [ "a" , "b" ] }`:                   `{"command" : [ "<redacted>" , "<redacted>" ] }`,
		`{"httpHeaders":[{"name":"A","value":{"x":1}}]}`: `{"httpHeaders":[{"name":"A","value":"<redacted>"}]}`,
		`{"managedFields":[{"manager":"m","fieldsV1":{"f:status":{"k:{\"type\":\"Ready\"}":{}}}}],"a":1}`: `{"managedFields":null,"a":1}`,
		`{"args":[{"env":[{"name":"N","value":"v"}]}],"b":2}`:                                             `{"args":["<redacted>"],"b":2}`,
	} {
		if got := string(r.Redact([]byte(in))); got != want {
			t.Errorf("%s: got %s, want %s", in, got, want)
		}
	}
	if s := strings.Repeat(`{"args":`, 10) + `["x"]` + strings.Repeat("}", 10); !json.Valid(r.Redact([]byte(s))) {
		t.Errorf("nested args: %s", r.Redact([]byte(s)))
	}
}

// FuzzRedact: the Redactor, the strict check of what podtrace keeps,
// accepts exactly what encoding/json accepts (within its nesting bound),
// and what it writes is JSON.
func FuzzRedact(f *testing.F) {
	for i, l := range lines(f, "../testdata/kwok-only-v1.34.10/audit.log") {
		if i%50 == 0 {
			f.Add(l)
		}
	}
	f.Add([]byte(`{"managedFields":[{"manager":"m","fieldsV1":{"f:status":{"k:{\"type\":\"Ready\"}":{}}}}],"a":1}`))
	f.Add([]byte(`{"args":[{"env":[{"name":"N","value":"v"}]}],"b":2}`))
	f.Add([]byte(`[{"op":"add","path":"/spec/containers/0/env/-","value":{"name":"X","value":"SECRET"}}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if bytes.Count(b, []byte("{"))+bytes.Count(b, []byte("[")) > 150 {
			return // might nest deeper than the Redactor allows
		}
		var r decode.Redactor
		out := r.Redact(b)
		if valid := json.Valid(b); (out != nil) != valid {
			t.Fatalf("Redact(%q) = %q, but json.Valid says %v", b, out, valid)
		}
		if out != nil && !json.Valid(out) {
			t.Fatalf("Redact(%q) = %q: not JSON", b, out)
		}
	})
}

// TestRedactURIs: the query values of an exec, attach, portforward or proxy
// request URI and of a probe's or hook's httpGet path (set in a pod or by
// a JSON patch) are redacted, their parameter names kept; other request
// URIs and paths without a query stay as sent.
func TestRedactURIs(t *testing.T) {
	var r decode.Redactor
	for in, want := range map[string]string{
		`{"requestURI":"/api/v1/namespaces/d/pods/p/exec?command=mysql\u0026command=-pSECRET\u0026container=c\u0026stdin=true","verb":"create"}`: `{"requestURI":"/api/v1/namespaces/d/pods/p/exec?command=<redacted>&command=<redacted>&container=<redacted>&stdin=<redacted>","verb":"create"}`,
		`{"requestURI":"/api/v1/namespaces/d/pods/p/attach?container=c&SECRET"}`:                                                                 `{"requestURI":"/api/v1/namespaces/d/pods/p/attach?container=<redacted>&<redacted>"}`,
		`{"requestURI":"/api/v1/namespaces/d/pods/p/portforward?ports=5432"}`:                                                                    `{"requestURI":"/api/v1/namespaces/d/pods/p/portforward?ports=<redacted>"}`,
		`{"requestURI":"/api/v1/namespaces/d/services/s:80/proxy/admin?token=SECRET&a=\"q\""}`:                                                   `{"requestURI":"/api/v1/namespaces/d/services/s:80/proxy/admin?token=<redacted>&a=<redacted>"}`,
		`{"requestURI":"/api/v1/namespaces/d/pods?fieldManager=kubectl&watch=true"}`:                                                             `{"requestURI":"/api/v1/namespaces/d/pods?fieldManager=kubectl&watch=true"}`,
		`{"requestObject":{"requestURI":"/api/v1/namespaces/d/pods/p/exec?command=x"}}`:                                                          `{"requestObject":{"requestURI":"/api/v1/namespaces/d/pods/p/exec?command=x"}}`,
		`{"readinessProbe":{"httpGet":{"path":"/ready?token=SECRET","port":8080}}}`:                                                              `{"readinessProbe":{"httpGet":{"path":"/ready?token=<redacted>","port":8080}}}`,
		`{"preStop":{"httpGet":{"port":8080,"path":"/stop?k\"ey=SECRET\n"}}}`:                                                                    `{"preStop":{"httpGet":{"port":8080,"path":"/stop?k\"ey=<redacted>"}}}`,
		`{"httpGet":{"path":"/ready"},"path":"/x?keep=1"}`:                                                                                       `{"httpGet":{"path":"/ready"},"path":"/x?keep=1"}`,
		`{"httpGet":{"path":7}}`: `{"httpGet":{"path":7}}`,
		`[{"op":"replace","path":"/spec/containers/0/livenessProbe/httpGet/path","value":"/live?token=SECRET"}]`: `[{"op":"replace","path":"/spec/containers/0/livenessProbe/httpGet/path","value":"/live?token=<redacted>"}]`,
	} {
		got := r.Redact([]byte(in))
		if string(got) != want {
			t.Errorf("%s:\ngot  %s\nwant %s", in, got, want)
		}
		if !json.Valid(got) {
			t.Errorf("%s: redacted to invalid JSON %s", in, got)
		}
	}
}
