package diagnosis

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/podtrace/podtrace/decode"
	"github.com/podtrace/podtrace/lifecycle"
)

// A scenario is one pod's story told as the steps a real cluster takes; it
// is turned into audit events of the exact shapes kube-apiserver writes
// (see ../testdata/*/audit.log) and replayed through decode and lifecycle.
type scenario struct {
	Pod struct {
		Name       string            `yaml:"name"`
		Namespace  string            `yaml:"namespace"`
		Owner      string            `yaml:"owner"` // Kind/name
		Labels     map[string]string `yaml:"labels"`
		Finalizers []string          `yaml:"finalizers"`
		Spec       map[string]any    `yaml:"spec"`
	} `yaml:"pod"`
	Steps  []step        `yaml:"steps"`
	Now    time.Duration `yaml:"now"`  // Config.Now, as an offset from the start
	Kind   string        `yaml:"kind"` // the record checked: create (default), delete, upgrade
	Expect []string      `yaml:"expect"`
}

type step struct {
	At     time.Duration  `yaml:"at"`
	Create *createStep    `yaml:"create"`
	Bind   string         `yaml:"bind"`
	Status map[string]any `yaml:"status"`
	Event  *eventStep     `yaml:"event"`
	Delete *deleteStep    `yaml:"delete"`
	Evict  bool           `yaml:"evict"`
	Gone   bool           `yaml:"gone"`
}

type createStep struct {
	Code    int    `yaml:"code"`
	Message string `yaml:"message"`
}

type eventStep struct {
	Reason    string `yaml:"reason"`
	Type      string `yaml:"type"`
	Message   string `yaml:"message"`
	Container string `yaml:"container"`
	Init      bool   `yaml:"init"`
	Component string `yaml:"component"`
	Count     int    `yaml:"count"`
}

type deleteStep struct {
	Grace int `yaml:"grace"`
}

var base = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func loadScenario(t testing.TB, path string) *scenario {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var s scenario
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if s.Pod.Name == "" {
		s.Pod.Name = "app-1"
	}
	if s.Pod.Namespace == "" {
		s.Pod.Namespace = "demo"
	}
	if s.Pod.Spec == nil {
		s.Pod.Spec = map[string]any{}
	}
	if _, ok := s.Pod.Spec["containers"]; !ok {
		s.Pod.Spec["containers"] = []any{map[string]any{"name": "app", "image": "registry.k8s.io/pause:3.10"}}
	}
	if s.Kind == "" {
		s.Kind = "create"
	}
	return &s
}

// audit renders the scenario as audit log lines.
func (s *scenario) audit(t testing.TB, id string) [][]byte {
	t.Helper()
	ns, name, uid := s.Pod.Namespace, s.Pod.Name, "uid-"+s.Pod.Name
	node := ""
	var status map[string]any
	deleted, grace := "", -1
	finalizers := s.Pod.Finalizers
	pod := func() map[string]any {
		meta := map[string]any{"name": name, "namespace": ns, "uid": uid, "generation": 1, "creationTimestamp": base.Format(time.RFC3339)}
		if len(s.Pod.Labels) > 0 {
			meta["labels"] = s.Pod.Labels
		}
		if len(finalizers) > 0 {
			meta["finalizers"] = finalizers
		}
		if kind, oname, ok := strings.Cut(s.Pod.Owner, "/"); ok {
			meta["ownerReferences"] = []any{map[string]any{"apiVersion": "apps/v1", "kind": kind, "name": oname, "uid": "uid-" + oname, "controller": true}}
		}
		if deleted != "" {
			meta["deletionTimestamp"] = deleted
			meta["deletionGracePeriodSeconds"] = grace
		}
		spec := map[string]any{"restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "schedulerName": "default-scheduler"}
		for k, v := range s.Pod.Spec {
			spec[k] = v
		}
		if node != "" {
			spec["nodeName"] = node
		}
		p := map[string]any{"kind": "Pod", "apiVersion": "v1", "metadata": meta, "spec": spec}
		if status != nil {
			p["status"] = status
		} else {
			p["status"] = map[string]any{"phase": "Pending", "qosClass": "BestEffort"}
		}
		return p
	}
	var lines [][]byte
	emit := func(i int, at time.Duration, verb, user string, ref map[string]any, code int, msg string, req, resp any) {
		ev := map[string]any{
			"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "RequestResponse",
			"auditID": fmt.Sprintf("%s-%02d", id, i), "stage": "ResponseComplete", "verb": verb,
			"user":      map[string]any{"username": user},
			"objectRef": ref, "responseStatus": map[string]any{"metadata": map[string]any{}, "code": code},
			"requestReceivedTimestamp": base.Add(at).Format(time.RFC3339Nano),
			"stageTimestamp":           base.Add(at + 2*time.Millisecond).Format(time.RFC3339Nano),
		}
		if msg != "" {
			ev["responseStatus"] = map[string]any{"metadata": map[string]any{}, "status": "Failure", "message": msg, "code": code}
		}
		if req != nil {
			ev["requestObject"] = req
		}
		if resp != nil {
			ev["responseObject"] = resp
		}
		b, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, b)
	}
	podRef := func(sub string) map[string]any {
		r := map[string]any{"resource": "pods", "namespace": ns, "name": name, "apiVersion": "v1"}
		if sub != "" {
			r["subresource"] = sub
		}
		return r
	}
	creator := "admin"
	if s.Pod.Owner != "" {
		creator = "system:serviceaccount:kube-system:replicaset-controller"
	}
	for i, st := range s.Steps {
		at := st.At
		switch {
		case st.Create != nil:
			p := pod()
			delete(p, "status")
			if c := st.Create.Code; c >= 400 {
				m := p["metadata"].(map[string]any)
				delete(m, "uid")
				delete(m, "creationTimestamp")
				emit(i, at, "create", creator, podRef(""), c, st.Create.Message, p, nil)
			} else {
				emit(i, at, "create", creator, podRef(""), 201, "", p, pod())
			}
		case st.Bind != "":
			node = st.Bind
			emit(i, at, "create", "system:kube-scheduler", podRef("binding"), 201, "",
				map[string]any{"kind": "Binding", "apiVersion": "v1", "metadata": map[string]any{"name": name, "namespace": ns, "uid": uid}, "target": map[string]any{"kind": "Node", "name": node}}, nil)
		case st.Status != nil:
			status = st.Status
			user := "system:node:" + node
			if node == "" {
				user = "system:kube-scheduler"
			}
			emit(i, at, "patch", user, podRef("status"), 200, "", map[string]any{"status": st.Status}, pod())
		case st.Event != nil:
			e := st.Event
			typ := e.Type
			if typ == "" {
				typ = "Warning"
			}
			count := e.Count
			if count == 0 {
				count = 1
			}
			regarding := map[string]any{"kind": "Pod", "namespace": ns, "name": name, "uid": uid, "apiVersion": "v1"}
			if e.Container != "" {
				field := "spec.containers{" + e.Container + "}"
				if e.Init {
					field = "spec.initContainers{" + e.Container + "}"
				}
				regarding["fieldPath"] = field
			}
			evName := fmt.Sprintf("%s.%x", name, i)
			ref := map[string]any{"resource": "events", "namespace": ns, "name": evName, "apiVersion": "v1"}
			var obj map[string]any
			if e.Component == "default-scheduler" {
				ref["apiGroup"] = "events.k8s.io"
				obj = map[string]any{"kind": "Event", "apiVersion": "events.k8s.io/v1", "metadata": map[string]any{"name": evName, "namespace": ns},
					"eventTime": base.Add(at).Format(time.RFC3339Nano), "reportingController": "default-scheduler", "action": "Scheduling",
					"reason": e.Reason, "regarding": regarding, "note": e.Message, "type": typ}
				emit(i, at, "create", "system:kube-scheduler", ref, 201, "", obj, obj)
				continue
			}
			comp := e.Component
			if comp == "" {
				comp = "kubelet"
			}
			obj = map[string]any{"kind": "Event", "apiVersion": "v1", "metadata": map[string]any{"name": evName, "namespace": ns},
				"involvedObject": regarding, "reason": e.Reason, "message": e.Message,
				"source": map[string]any{"component": comp, "host": node}, "count": count, "type": typ,
				"firstTimestamp": base.Add(at).Format(time.RFC3339), "lastTimestamp": base.Add(at).Format(time.RFC3339)}
			user := "system:node:" + node
			if comp != "kubelet" {
				user = "system:serviceaccount:kube-system:" + comp
			}
			emit(i, at, "create", user, ref, 201, "", obj, obj)
		case st.Delete != nil:
			deleted, grace = base.Add(at+time.Duration(st.Delete.Grace)*time.Second).Format(time.RFC3339), st.Delete.Grace
			emit(i, at, "delete", creator, podRef(""), 200, "",
				map[string]any{"kind": "DeleteOptions", "apiVersion": "meta.k8s.io/__internal"}, pod())
		case st.Evict:
			emit(i, at, "create", "admin", podRef("eviction"), 201, "",
				map[string]any{"kind": "Eviction", "apiVersion": "policy/v1", "metadata": map[string]any{"name": name, "namespace": ns}}, nil)
		case st.Gone:
			finalizers, grace = nil, 0
			if deleted == "" {
				deleted = base.Add(at).Format(time.RFC3339)
			}
			emit(i, at, "delete", "system:node:"+node, podRef(""), 200, "",
				map[string]any{"kind": "DeleteOptions", "apiVersion": "meta.k8s.io/__internal", "gracePeriodSeconds": 0}, pod())
		}
	}
	return lines
}

// replay feeds audit lines through decode and lifecycle.
func replay(t testing.TB, lines [][]byte) *lifecycle.Machine {
	t.Helper()
	var d decode.Decoder
	m := lifecycle.New(lifecycle.DefaultConfig(), nil)
	for _, l := range lines {
		if err := d.Decode(l, func(ev *decode.Event) { m.Apply(ev) }); err != nil {
			t.Fatalf("decode %s: %v", l, err)
		}
	}
	return m
}

// replayFile replays an audit log file.
func replayFile(t testing.TB, path string) *lifecycle.Machine {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	sc.Buffer(nil, 64<<20)
	var lines [][]byte
	for sc.Scan() {
		lines = append(lines, append([]byte(nil), sc.Bytes()...))
	}
	return replay(t, lines)
}
