package lifecycle

import (
	"github.com/podtrace/podtrace/decode"
)

// A create request that the apiserver refused (a ResourceQuota, a
// LimitRange, an admission webhook, PodSecurity, validation, a 5xx) never
// becomes a pod: it has no uid, and a controller's pods have no name yet
// either. podtrace still owes the user an answer to "why did my pod not
// appear?", so each refused create is a delivery of its own: a pod named
// by the refused request's audit ID, whose create delivery starts when the
// request was received and fails when it was refused. Its facts hold the
// refusal (HTTP code and message) for diagnosis.
//
// 409 (the name is taken) is not a delivery: the pod that holds the name
// has its own.

// refusedPrefix starts the uid of a refused create's delivery.
const refusedPrefix = "refused-"

// refusedCreate reports whether ev is a refused pod create that makes a
// delivery of its own, and names that delivery.
func refusedCreate(ev *decode.Event) (uid, ns, name string, ok bool) {
	if ev.Verb != "create" || ev.Ref.Resource != "pods" || ev.Ref.Subresource != "" || ev.Code < 400 || ev.Code == 409 {
		return "", "", "", false
	}
	ns, name = ev.Ref.Namespace, ev.Ref.Name
	if p := ev.Pod; p != nil {
		if ns == "" {
			ns = p.Namespace
		}
		if name == "" {
			name = p.Name
		}
		if name == "" {
			name = p.GenerateName
		}
	}
	return refusedPrefix + ev.AuditID, ns, name, true
}

// IsRefused reports whether the pod is the delivery of a refused create
// request (see refusedCreate): it never existed in the cluster.
func (p *Pod) IsRefused() bool {
	return len(p.UID) > len(refusedPrefix) && p.UID[:len(refusedPrefix)] == refusedPrefix
}

// onCreateRefused: the delivery was requested and failed at once.
func onCreateRefused(t *tables, p *Pod, ev *decode.Event, at Stamp) {
	if _, _, _, ok := refusedCreate(ev); !ok {
		return
	}
	requested := Stamp{T: ev.Received.UnixNano(), AuditID: ev.AuditID}
	if requested.T == 0 || requested.T > at.T {
		requested.T = at.T
	}
	p.mark(MarkRequested, requested)
	p.mark(MarkFailed, at)
	if ev.Pod != nil {
		observePod(t, p, ev.Pod, at) // spec, labels and owner, for SLO rules
	}
	onRefused(t, p, ev, at)
}
