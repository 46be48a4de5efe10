package correlate

import (
	"bytes"

	"github.com/podtrace/podtrace/otlp"
)

// class is what a span is to podtrace.
type class uint8

const (
	classNoise   class = iota // joins no delivery: dropped after the metrics
	classRequest              // an apiserver request writing a pod or an Event: joins by audit id
	classPodSpan              // names its pod (kubelet sync, containerd pod.uid): joins by uid
	classChild                // a CRI call or runtime span: joins through its trace or runtime ids
)

// Ranks order a pod's spans for its bound (lifecycle.Pod.AddSpan): the
// highest rank is dropped first.
const (
	rankKey     uint8 = iota // requests proving milestones, syncs of a change, CRI calls that change a pod
	rankRoutine              // Event writes, periodic syncs, other children
	rankPolling              // status polls inside a sync
)

// request is what an apiserver request span's method and path say.
type request struct {
	verb, group, resource, subresource, scope string
}

// syncNames are the kubelet's pod worker spans.
func isSync(name []byte) bool {
	switch string(name) {
	case "syncPod", "syncTerminatingPod", "syncTerminatedPod":
		return true
	}
	return false
}

// classify says what sp is and, for apiserver requests, what it asked.
func classify(sp *otlp.Span) (class, uint8, request) {
	a := &sp.Attrs
	if len(a.AuditID) > 0 && len(a.Method) > 0 && sp.Kind == otlp.KindServer {
		req := parseRequest(a.Method, a.Target)
		if writesPod(&req) {
			rank := rankKey
			if req.resource == "events" {
				rank = rankRoutine
			}
			return classRequest, rank, req
		}
		return classNoise, 0, req
	}
	if len(a.PodUID) > 0 {
		rank := rankKey
		if isSync(sp.Name) && string(a.UpdateType) == "sync" {
			rank = rankRoutine
		}
		return classPodSpan, rank, request{}
	}
	if isSync(sp.Name) { // a sync span without its pod: nothing to join it by
		return classNoise, 0, request{}
	}
	kubelet := string(sp.Service) == "kubelet"
	if !kubelet && !isRuntime(sp.Service) {
		return classNoise, 0, request{}
	}
	op := criOperation(sp.Name)
	ids := len(a.SandboxID) > 0 || len(a.ContainerID) > 0
	switch {
	case sp.IsRoot() && !ids:
		// relists, image GC, status reports: no pod's sync is their parent
		return classNoise, 0, request{}
	case kubelet && len(op) == len(sp.Name):
		// not a CRI call (the kubelet's API requests have their own spans)
		return classNoise, 0, request{}
	case polling(op):
		if kubelet {
			return classChild, rankPolling, request{}
		}
		// a runtime's side of a poll: its parent is mostly a kubelet relist
		return classNoise, 0, request{}
	case mutating(op) || bytes.HasPrefix(sp.Name, []byte("cri.")):
		return classChild, rankKey, request{}
	}
	return classChild, rankRoutine, request{}
}

// isRuntime: the container runtimes' service names.
func isRuntime(service []byte) bool {
	switch string(service) {
	case "containerd", "crio", "cri-o":
		return true
	}
	return false
}

// writesPod: requests that change a pod (create, binding, status, delete,
// eviction, ...) or write an Event, the audit events lifecycle reads.
func writesPod(r *request) bool {
	switch r.verb {
	case "POST", "PUT", "PATCH", "DELETE":
	default:
		return false
	}
	switch {
	case r.resource == "pods" && r.group == "":
		return true
	case r.resource == "events" && (r.group == "" || r.group == "events.k8s.io"):
		return true
	}
	return false
}

// criOperation is the CRI method a span calls: the part after the service
// in gRPC span names (runtime.v1.RuntimeService/RunPodSandbox), or the name.
func criOperation(name []byte) []byte {
	if i := bytes.LastIndexByte(name, '/'); i >= 0 && bytes.Contains(name[:i], []byte("Service")) {
		return name[i+1:]
	}
	return name
}

// criOp looks a CRI method (k8s.io/cri-api runtime/v1) up: its name as the
// bounded value of the operation label, and whether a call changes a pod
// (false: it polls). Unknown methods are not ok.
func criOp(op []byte) (name string, changes, ok bool) {
	switch string(op) {
	case "RunPodSandbox":
		return "RunPodSandbox", true, true
	case "StopPodSandbox":
		return "StopPodSandbox", true, true
	case "RemovePodSandbox":
		return "RemovePodSandbox", true, true
	case "CreateContainer":
		return "CreateContainer", true, true
	case "StartContainer":
		return "StartContainer", true, true
	case "StopContainer":
		return "StopContainer", true, true
	case "RemoveContainer":
		return "RemoveContainer", true, true
	case "PullImage":
		return "PullImage", true, true
	case "RemoveImage":
		return "RemoveImage", true, true
	case "UpdateContainerResources":
		return "UpdateContainerResources", true, true
	case "UpdatePodSandboxResources":
		return "UpdatePodSandboxResources", true, true
	case "ReopenContainerLog":
		return "ReopenContainerLog", true, true
	case "ExecSync":
		return "ExecSync", true, true
	case "Exec":
		return "Exec", true, true
	case "Attach":
		return "Attach", true, true
	case "PortForward":
		return "PortForward", true, true
	case "CheckpointContainer":
		return "CheckpointContainer", true, true
	case "UpdateRuntimeConfig":
		return "UpdateRuntimeConfig", true, true
	case "PodSandboxStatus":
		return "PodSandboxStatus", false, true
	case "ListPodSandbox":
		return "ListPodSandbox", false, true
	case "ContainerStatus":
		return "ContainerStatus", false, true
	case "ListContainers":
		return "ListContainers", false, true
	case "ContainerStats":
		return "ContainerStats", false, true
	case "ListContainerStats":
		return "ListContainerStats", false, true
	case "PodSandboxStats":
		return "PodSandboxStats", false, true
	case "ListPodSandboxStats":
		return "ListPodSandboxStats", false, true
	case "ListMetricDescriptors":
		return "ListMetricDescriptors", false, true
	case "ListPodSandboxMetrics":
		return "ListPodSandboxMetrics", false, true
	case "GetContainerEvents":
		return "GetContainerEvents", false, true
	case "Status":
		return "Status", false, true
	case "Version":
		return "Version", false, true
	case "RuntimeConfig":
		return "RuntimeConfig", false, true
	case "ListImages":
		return "ListImages", false, true
	case "ImageStatus":
		return "ImageStatus", false, true
	case "ImageFsInfo":
		return "ImageFsInfo", false, true
	}
	return "", false, false
}

func mutating(op []byte) bool { _, changes, ok := criOp(op); return ok && changes }
func polling(op []byte) bool  { _, changes, ok := criOp(op); return ok && !changes }

// parseRequest reads a Kubernetes API request's verb, group, resource,
// subresource and scope from its HTTP method and path, as the apiserver's
// RequestInfo does; non-resource paths (/healthz, /version) have no resource.
// The common names come without allocating.
func parseRequest(method, target []byte) request {
	path := target
	query := []byte(nil)
	if i := bytes.IndexByte(target, '?'); i >= 0 {
		path, query = target[:i], target[i+1:]
	}
	r := request{verb: upperVerb(method)}
	var buf [8][]byte
	parts := splitPath(path, buf[:0])
	switch {
	case len(parts) >= 2 && string(parts[0]) == "api":
		parts = parts[2:]
	case len(parts) >= 3 && string(parts[0]) == "apis":
		r.group = intern(parts[1])
		parts = parts[3:]
	default:
		return r // a non-resource request
	}
	watch := false
	if len(parts) > 0 && string(parts[0]) == "watch" {
		watch, parts = true, parts[1:]
	}
	namespaced := false
	if len(parts) > 1 && string(parts[0]) == "namespaces" {
		namespaced = true
		if len(parts) > 2 {
			parts = parts[2:]
		}
	}
	name := len(parts) > 1
	if len(parts) > 0 {
		r.resource = intern(parts[0])
	}
	if len(parts) > 2 {
		r.subresource = intern(parts[2])
	}
	switch {
	case name:
		r.scope = "resource"
	case namespaced:
		r.scope = "namespace"
	default:
		r.scope = "cluster"
	}
	if !watch {
		watch = queryTrue(query, "watch")
	}
	switch r.verb {
	case "GET":
		switch {
		case watch:
			r.verb = "WATCH"
		case !name:
			r.verb = "LIST"
		}
	case "DELETE":
		if !name {
			r.verb = "DELETECOLLECTION"
		}
	}
	return r
}

// splitPath appends p's non-empty segments to parts (the first few only:
// API paths have at most seven).
func splitPath(p []byte, parts [][]byte) [][]byte {
	for len(p) > 0 && len(parts) < cap(parts) {
		i := bytes.IndexByte(p, '/')
		if i < 0 {
			i = len(p)
		}
		if i > 0 {
			parts = append(parts, p[:i])
		}
		p = p[min(i+1, len(p)):]
	}
	return parts
}

func queryTrue(q []byte, key string) bool {
	for len(q) > 0 {
		kv := q
		if i := bytes.IndexByte(q, '&'); i >= 0 {
			kv, q = q[:i], q[i+1:]
		} else {
			q = nil
		}
		k, v, _ := bytes.Cut(kv, []byte("="))
		if string(k) == key {
			return string(v) == "true" || string(v) == "1"
		}
	}
	return false
}

// intern returns b as a string, sharing the strings of the API groups,
// resources and subresources seen most instead of allocating one per span.
func intern(b []byte) string {
	switch string(b) {
	case "pods":
		return "pods"
	case "events":
		return "events"
	case "nodes":
		return "nodes"
	case "leases":
		return "leases"
	case "namespaces":
		return "namespaces"
	case "configmaps":
		return "configmaps"
	case "secrets":
		return "secrets"
	case "services":
		return "services"
	case "endpointslices":
		return "endpointslices"
	case "serviceaccounts":
		return "serviceaccounts"
	case "deployments":
		return "deployments"
	case "replicasets":
		return "replicasets"
	case "status":
		return "status"
	case "binding":
		return "binding"
	case "eviction":
		return "eviction"
	case "apps":
		return "apps"
	case "events.k8s.io":
		return "events.k8s.io"
	case "coordination.k8s.io":
		return "coordination.k8s.io"
	}
	return string(b)
}

// upperVerb is the HTTP method, from a fixed set, without allocating.
func upperVerb(m []byte) string {
	for _, v := range [...]string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "CONNECT"} {
		if bytes.EqualFold(m, []byte(v)) {
			return v
		}
	}
	return "other"
}
