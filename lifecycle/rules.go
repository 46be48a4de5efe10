package lifecycle

import (
	"strconv"
	"strings"

	"github.com/podtrace/podtrace/decode"
)

// rule is one row of the extraction table: which audit events it matches
// and what they prove. Adding an event kind is one row plus one testdata case.
type rule struct {
	name        string
	verbs       string // space-separated verbs
	resource    string
	subresource string
	// failed rules match requests that were refused (code >= 400).
	failed bool
	apply  func(t *tables, p *Pod, ev *decode.Event, at Stamp)
}

// extractionRules is the table of what each audit event about a pod proves.
func extractionRules() []rule {
	return []rule{
		{name: "pod created", verbs: "create", resource: "pods", apply: onCreate},
		{name: "pod bound to a node", verbs: "create", resource: "pods", subresource: "binding", apply: onBinding},
		{name: "pod status written", verbs: "patch update", resource: "pods", subresource: "status", apply: onStatus},
		{name: "pod spec or metadata changed", verbs: "patch update", resource: "pods", apply: onUpdate},
		{name: "pod resized", verbs: "patch update", resource: "pods", subresource: "resize", apply: onUpdate},
		{name: "pod deleted", verbs: "delete", resource: "pods", apply: onDelete},
		{name: "pod evicted", verbs: "create", resource: "pods", subresource: "eviction", apply: onEviction},
		{name: "event about the pod", verbs: "create patch update", resource: "events", apply: onEvent},
		{name: "eviction refused", verbs: "create", resource: "pods", subresource: "eviction", failed: true, apply: onRefused},
		{name: "delete of a pod already gone", verbs: "delete", resource: "pods", failed: true, apply: onDeleteRefused},
		{name: "status write refused", verbs: "patch update", resource: "pods", subresource: "status", failed: true, apply: onRefused},
		{name: "binding refused", verbs: "create", resource: "pods", subresource: "binding", failed: true, apply: onRefused},
		{name: "pod create refused", verbs: "create", resource: "pods", failed: true, apply: onCreateRefused},
	}
}

// tables are the rule tables, built once per Machine.
type tables struct {
	extract []rule
	status  []statusRule
	events  map[string]eventMark
}

func newTables() *tables {
	return &tables{extract: extractionRules(), status: statusRules(), events: eventMarks()}
}

// statusRule proves a milestone from an observed pod status.
type statusRule struct {
	mark Mark
	when func(p *Pod, st *decode.PodStatus, spec *decode.PodSpec) bool
}

// statusRules is the table of milestones a pod status proves.
func statusRules() []statusRule {
	return []statusRule{
		{MarkScheduled, func(_ *Pod, st *decode.PodStatus, spec *decode.PodSpec) bool {
			return (spec != nil && spec.NodeName != "") || condTrue(st, "PodScheduled")
		}},
		{MarkInitialized, func(_ *Pod, st *decode.PodStatus, _ *decode.PodSpec) bool { return condTrue(st, "Initialized") }},
		{MarkSandboxReady, func(_ *Pod, st *decode.PodStatus, _ *decode.PodSpec) bool {
			return st.PodIP != "" || condTrue(st, "PodReadyToStartContainers")
		}},
		{MarkContainersStarted, func(p *Pod, st *decode.PodStatus, _ *decode.PodSpec) bool {
			if len(st.Containers) == 0 {
				return condTrue(st, "ContainersReady")
			}
			return allStarted(p, st)
		}},
		// Ready counts only with every container started: a status that says
		// Ready while a container still waits is not believed.
		{MarkReady, func(p *Pod, st *decode.PodStatus, _ *decode.PodSpec) bool {
			return condTrue(st, "Ready") && (len(st.Containers) == 0 || allStarted(p, st))
		}},
		{MarkSucceeded, func(_ *Pod, st *decode.PodStatus, _ *decode.PodSpec) bool { return st.Phase == "Succeeded" }},
		{MarkFailed, func(_ *Pod, st *decode.PodStatus, _ *decode.PodSpec) bool { return st.Phase == "Failed" }},
	}
}

// eventMark is the milestone an Event proves, when its message starts
// with prefix.
type eventMark struct {
	mark   Mark
	prefix string
}

// eventMarks maps a Kubernetes Event reason to the milestone it proves.
func eventMarks() map[string]eventMark {
	return map[string]eventMark{
		"Scheduled":              {mark: MarkScheduled},
		"SuccessfulAttachVolume": {mark: MarkVolumesMounted},
		"SuccessfulMountVolume":  {mark: MarkVolumesMounted},
		"Pulling":                {mark: MarkImagePulling},
		"Pulled":                 {mark: MarkImagePulled},
		"Created":                {mark: MarkContainersCreated},
		"Started":                {mark: MarkContainersStarted},
		"Killing":                {mark: MarkKilling},
		"Evicted":                {mark: MarkEvicted},
		// the taint eviction controller deletes a pod whose node went
		// unreachable or not ready (a plain delete, no pods/eviction); it
		// says "Cancelling deletion" when the node came back in time
		"TaintManagerEviction": {mark: MarkEvicted, prefix: "Marking for deletion"},
	}
}

func condTrue(st *decode.PodStatus, typ string) bool {
	c := st.Condition(typ)
	return c != nil && c.Status == "True"
}

// allStarted: every container the spec names is running or has terminated.
func allStarted(p *Pod, st *decode.PodStatus) bool {
	if len(st.Containers) == 0 {
		return false
	}
	want := len(p.Spec.Containers)
	if want == 0 {
		want = len(st.Containers)
	}
	n := 0
	for _, c := range st.Containers {
		if c.State.Kind == "running" || c.State.Kind == "terminated" || c.Started {
			n++
		}
	}
	return n >= want
}

func onCreate(t *tables, p *Pod, ev *decode.Event, at Stamp) {
	p.mark(MarkRequested, Stamp{T: ev.Received.UnixNano(), AuditID: ev.AuditID})
	p.mark(MarkCreated, at)
	if ev.Pod != nil {
		observePod(t, p, ev.Pod, at)
	}
}

func onBinding(t *tables, p *Pod, ev *decode.Event, at Stamp) {
	if p.mark(MarkScheduled, at) && ev.Binding != "" {
		p.Node = ev.Binding
	} else if p.Node == "" {
		p.Node = ev.Binding
	}
}

func onStatus(t *tables, p *Pod, ev *decode.Event, at Stamp) {
	switch {
	case ev.Pod != nil:
		observePod(t, p, ev.Pod, at)
	case ev.RequestPod != nil && ev.RequestPod.HasStatus:
		st := mergeStatus(p.Status, &ev.RequestPod.Status)
		observeStatus(t, p, &st, nil, at)
	case ev.Patch != nil:
		if st, err := applyJSONPatch(p, ev.Patch); err == nil {
			observeStatus(t, p, st, nil, at)
		}
	}
}

func onUpdate(t *tables, p *Pod, ev *decode.Event, at Stamp) {
	switch {
	case ev.Pod != nil:
		observePod(t, p, ev.Pod, at)
	case ev.RequestPod != nil && ev.RequestPod.HasSpec && len(ev.RequestPod.Spec.Containers) > 0:
		// Request-level patch of images: the generation is unknown; count it
		// as the one after the latest seen.
		next := p.Spec.Generation + 1
		spec := p.Spec
		spec.Containers = mergeImages(p.Spec.Containers, ev.RequestPod.Spec.Containers)
		spec.Generation, spec.At = next, at
		p.setSpec(spec)
		p.addGeneration(Generation{Gen: next, Images: imagesOf(spec.Containers), At: at})
	}
}

func onDelete(t *tables, p *Pod, ev *decode.Event, at Stamp) {
	requested := Stamp{T: ev.Received.UnixNano(), AuditID: ev.AuditID}
	if ev.Pod == nil {
		// Metadata level: the first delete asks, a later one (or one with a
		// zero grace period) finishes.
		if p.Marks[MarkDeleteRequested].Seen() && p.Marks[MarkDeleteRequested].T < at.T || ev.DeleteGrace == 0 {
			p.mark(MarkGone, at)
		}
		p.mark(MarkDeleteRequested, requested)
		return
	}
	pod := ev.Pod
	observePod(t, p, pod, at)
	p.mark(MarkDeleteRequested, requested)
	if pod.DeletionGrace >= 0 && (p.Grace == 0 || pod.DeletionGrace > p.Grace) {
		p.Grace = pod.DeletionGrace
	}
	if (pod.DeletionGrace == 0 || ev.DeleteGrace == 0) && len(pod.Finalizers) == 0 {
		p.mark(MarkGone, at)
	}
}

func onEviction(t *tables, p *Pod, ev *decode.Event, at Stamp) {
	p.mark(MarkEvicted, at)
	p.mark(MarkDeleteRequested, Stamp{T: ev.Received.UnixNano(), AuditID: ev.AuditID})
}

func onEvent(t *tables, p *Pod, ev *decode.Event, at Stamp) {
	e := ev.Event
	if e == nil {
		return
	}
	f := Fact{
		Source:    "event",
		Reason:    e.Reason,
		Message:   e.Message,
		Warning:   e.Type == "Warning",
		Container: containerOf(e.FieldPath),
		Component: e.Component,
		Count:     e.Count,
		First:     at,
		Last:      at,
	}
	p.addFact(f)
	if m, ok := t.events[e.Reason]; ok && strings.HasPrefix(e.Message, m.prefix) {
		p.mark(m.mark, at)
	}
	if e.Reason == "Scheduled" && p.Node == "" {
		if i := strings.LastIndex(e.Message, " to "); i >= 0 {
			p.Node = e.Message[i+4:]
		}
	}
}

func onRefused(t *tables, p *Pod, ev *decode.Event, at Stamp) {
	p.addFact(Fact{
		Source:  "request",
		Reason:  ev.Verb + " " + ev.Ref.Resource + subPath(ev.Ref.Subresource) + " " + strconv.Itoa(ev.Code),
		Message: ev.Status,
		Warning: true,
		Code:    int64(ev.Code),
		First:   at,
		Last:    at,
	})
}

func onDeleteRefused(t *tables, p *Pod, ev *decode.Event, at Stamp) {
	if ev.Code == 404 && p.Marks[MarkDeleteRequested].Seen() {
		p.mark(MarkGone, at) // gone no later than this
		return
	}
	onRefused(t, p, ev, at)
}

func subPath(s string) string {
	if s == "" {
		return ""
	}
	return "/" + s
}

// containerOf reads "spec.containers{name}" (or initContainers) from an
// Event's fieldPath.
func containerOf(fieldPath string) string {
	i := strings.IndexByte(fieldPath, '{')
	j := strings.LastIndexByte(fieldPath, '}')
	if i < 0 || j <= i {
		return ""
	}
	return fieldPath[i+1 : j]
}

// observePod applies a whole pod object (a response body) to the state.
func observePod(t *tables, p *Pod, pod *decode.Pod, at Stamp) {
	if p.Namespace == "" {
		p.Namespace = pod.Namespace
	}
	if p.Name == "" {
		p.Name = pod.Name
	}
	if !pod.Created.IsZero() && p.CreatedAt == 0 {
		p.CreatedAt = pod.Created.UnixNano()
	}
	if pod.OwnerKind != "" && p.OwnerKind == "" {
		p.OwnerKind, p.OwnerName = pod.OwnerKind, pod.OwnerName
	}
	if pod.HasSpec {
		s := pod.Spec
		if s.NodeName != "" && p.Node == "" {
			p.Node = s.NodeName
		}
		spec := Spec{
			At: at, Generation: pod.Generation,
			Containers: s.Containers, InitContainers: s.InitContainers, Volumes: s.Volumes,
			Labels: pod.Labels, Selector: s.NodeSelector, Affinity: s.HasAffinity,
			Gates: s.SchedulingGates, ReadinessGates: s.ReadinessGates,
			MilliCPU: s.RequestsMilliCPU, Memory: s.RequestsMemory, GPU: s.RequestsGPU, Extended: s.HasExtendedRes,
			Grace: s.TerminationGrace, RestartPolicy: s.RestartPolicy, Priority: s.PriorityClass,
			Finalizers: pod.Finalizers,
		}
		p.setSpec(spec)
		if len(s.Containers) > 0 {
			p.addGeneration(Generation{Gen: pod.Generation, Images: imagesOf(s.Containers), At: at})
		}
		if !pod.Deleted.IsZero() && len(pod.Finalizers) == 0 && p.Marks[MarkDeleteRequested].Seen() && at.T > p.Marks[MarkDeleteRequested].T && pod.DeletionGrace == 0 {
			p.mark(MarkGone, at)
		}
		if !pod.Deleted.IsZero() && len(pod.Finalizers) > 0 {
			// kept as a fact: the spec loses them when they are removed,
			// and they explain the delete's length after that too
			p.addFact(Fact{Source: "finalizer", Reason: "Finalizers", Message: strings.Join(pod.Finalizers, ", "), First: at, Last: at})
		}
	}
	if pod.HasStatus {
		var spec *decode.PodSpec
		if pod.HasSpec {
			spec = &pod.Spec
		}
		observeStatus(t, p, &pod.Status, spec, at)
	}
}

// observeStatus applies an observed pod status: milestones, facts, snapshot.
func observeStatus(t *tables, p *Pod, st *decode.PodStatus, spec *decode.PodSpec, at Stamp) {
	for _, r := range t.status {
		if r.mark == MarkReady {
			p.observeReady(r.when(p, st, spec), st.Condition("Ready"), at)
		} else if r.when(p, st, spec) {
			p.mark(r.mark, at)
		}
	}
	if c := st.Condition("PodScheduled"); c != nil && c.Status == "False" && c.Reason != "" {
		p.addFact(Fact{Source: "condition", Reason: c.Reason, Message: c.Message, Warning: true, Container: "PodScheduled", First: at, Last: at})
	}
	if c := st.Condition("Ready"); c != nil && c.Status == "False" && c.Reason == "ReadinessGatesNotReady" {
		p.addFact(Fact{Source: "condition", Reason: c.Reason, Message: c.Message, Warning: true, Container: "Ready", First: at, Last: at})
	}
	if st.Reason != "" {
		p.addFact(Fact{Source: "status", Reason: st.Reason, Message: st.Message, Warning: true, First: at, Last: at})
	}
	containerFacts(p, st.Containers, at, false)
	containerFacts(p, st.InitContainers, at, true)
	if condTrue(st, "Ready") && len(st.Containers) > 0 {
		p.addReadyImages(statusImages(st.Containers), at)
	}
	p.setStatus(snapshot(st, at))
}

func containerFacts(p *Pod, cs []decode.ContainerStatus, at Stamp, init bool) {
	for _, c := range cs {
		name := c.Name
		if init {
			name = "init:" + name
		}
		for _, s := range [2]decode.ContainerState{c.State, c.Last} {
			switch s.Kind {
			case "waiting":
				if s.Reason == "" || s.Reason == "ContainerCreating" || s.Reason == "PodInitializing" {
					continue
				}
				p.addFact(Fact{Source: "container", Reason: s.Reason, Message: s.Message, Warning: true, Container: name, First: at, Last: at})
			case "terminated":
				if s.ExitCode == 0 && (s.Reason == "Completed" || s.Reason == "") {
					continue
				}
				reason := s.Reason
				if reason == "" {
					reason = "Error"
				}
				p.addFact(Fact{Source: "container", Reason: reason, Message: s.Message, Warning: true, Container: name, Code: s.ExitCode, First: at, Last: at})
			}
		}
	}
}

func statusImages(cs []decode.ContainerStatus) string {
	var b strings.Builder
	for i, c := range cs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(c.Name)
		b.WriteByte('=')
		b.WriteString(normImage(c.Image))
	}
	return b.String()
}

func snapshot(st *decode.PodStatus, at Stamp) Status {
	s := Status{At: at, Phase: st.Phase, Reason: st.Reason, Message: truncate(st.Message, maxMessage), PodIP: st.PodIP, Conditions: st.Conditions}
	s.Containers = containerStates(st.Containers)
	s.Init = containerStates(st.InitContainers)
	for i := range s.Conditions {
		s.Conditions[i].Message = truncate(s.Conditions[i].Message, maxMessage)
	}
	return s
}

func containerStates(cs []decode.ContainerStatus) []ContainerState {
	if len(cs) == 0 {
		return nil
	}
	out := make([]ContainerState, len(cs))
	for i, c := range cs {
		out[i] = ContainerState{Name: c.Name, Image: c.Image, Ready: c.Ready, State: c.State.Kind, Reason: c.State.Reason, ExitCode: c.State.ExitCode, Restarts: c.Restarts}
	}
	return out
}

// mergeImages applies the images of a partial container list by name.
func mergeImages(cur, patch []decode.Container) []decode.Container {
	out := append([]decode.Container(nil), cur...)
	for _, pc := range patch {
		found := false
		for i := range out {
			if out[i].Name == pc.Name {
				if pc.Image != "" {
					out[i].Image = pc.Image
				}
				found = true
			}
		}
		if !found && pc.Name != "" {
			out = append(out, pc)
		}
	}
	return out
}
