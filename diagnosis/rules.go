package diagnosis

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/podtrace/podtrace"
	"github.com/podtrace/podtrace/decode"
	"github.com/podtrace/podtrace/lifecycle"
)

// rule is one row of the diagnosis table. Adding a code is one row here
// plus one case in testdata/rules.
type rule struct {
	code  string
	phase string
	owner podtrace.Owner
	kinds kinds
	// fallback rules fire only if no earlier rule of their phase did: the
	// generic "slow" and "other error" codes defer to specific ones.
	fallback bool
	// anyTime rules may find their evidence after the pod got through their
	// phase (a Secret read as an environment variable is missed only when
	// the container is created; an eviction can come at any time), so a
	// phase passed quickly does not silence them.
	anyTime bool
	match   func(v *view) (hit, bool)
	remedy  string
}

const (
	platform = podtrace.OwnerPlatform
	user     = podtrace.OwnerUser
)

// rules is the diagnosis table, in phase order. Within a phase a cause
// comes before its consequences (OOMKilled before CrashLoopBackOff).
func rules() []rule {
	adm, sch, vol, sbx, img, ctr, rdy, trm := podtrace.PhaseAdmission, podtrace.PhaseScheduling, podtrace.PhaseVolumes,
		podtrace.PhaseSandbox, podtrace.PhaseImage, podtrace.PhaseContainers, podtrace.PhaseReadiness, podtrace.PhaseTermination
	return []rule{
		// admission: the create request was refused
		{code: "QuotaExceeded", phase: adm, owner: user, kinds: onCreate, match: refused("QuotaExceeded"),
			remedy: "Free room in the namespace's ResourceQuota (delete pods you no longer need or lower the pod's resource requests), or ask the platform team to raise the quota."},
		{code: "AdmissionWebhookDenied", phase: adm, owner: user, kinds: onCreate, match: refused("AdmissionWebhookDenied"),
			remedy: "Change the pod to satisfy the policy quoted in the message (it comes from the named admission webhook), or ask the webhook's owners for an exception."},
		{code: "LimitRangeViolation", phase: adm, owner: user, kinds: onCreate, match: refused("LimitRangeViolation"),
			remedy: "Set the pod's resource requests and limits within the namespace's LimitRange quoted in the message."},
		{code: "PodSecurityViolation", phase: adm, owner: user, kinds: onCreate, match: refused("PodSecurityViolation"),
			remedy: "Adjust the pod's securityContext to meet the namespace's Pod Security level named in the message (for example runAsNonRoot: true and no privileged containers)."},
		{code: "PodSpecInvalid", phase: adm, owner: user, kinds: onCreate, match: refused("PodSpecInvalid"),
			remedy: "Fix the field named in the message in the pod (or in its Deployment or Job template) and apply it again."},
		{code: "APIServerError", phase: adm, owner: platform, kinds: onCreate, match: refused("APIServerError"),
			remedy: "Retry the deployment; if it keeps failing, tell the platform team that the API server or an admission webhook is failing, quoting the message."},

		// scheduling: no node was chosen, or it took long
		{code: "SchedulingGated", phase: sch, owner: user, kinds: onCreate, match: schedulingGated,
			remedy: "Remove the pod's scheduling gates (spec.schedulingGates) once it may run, or check the controller that added them (for example a job queue)."},
		{code: "InsufficientCPU", phase: sch, owner: platform, kinds: onCreate, match: schedulerCause("InsufficientCPU"),
			remedy: "Lower the pod's CPU request (resources.requests.cpu) if it asks for more than it needs, or ask the platform team to add nodes with more CPU."},
		{code: "InsufficientMemory", phase: sch, owner: platform, kinds: onCreate, match: schedulerCause("InsufficientMemory"),
			remedy: "Lower the pod's memory request (resources.requests.memory) if it asks for more than it needs, or ask the platform team to add nodes with more memory."},
		{code: "InsufficientExtendedResource", phase: sch, owner: platform, kinds: onCreate, match: schedulerCause("InsufficientExtendedResource"),
			remedy: "Ask the platform team for nodes that offer the named resource (for example GPUs), or lower the amount the pod requests."},
		{code: "NodeSelectorMismatch", phase: sch, owner: user, kinds: onCreate, match: schedulerCause("NodeSelectorMismatch"),
			remedy: "Fix the pod's nodeSelector or node affinity so that it names labels your nodes really have (kubectl get nodes --show-labels)."},
		{code: "UntoleratedTaint", phase: sch, owner: platform, kinds: onCreate, match: schedulerCause("UntoleratedTaint"),
			remedy: "Those nodes are reserved: add a matching toleration to the pod only if it belongs there, otherwise ask the platform team for capacity on untainted nodes."},
		{code: "NodesUnschedulable", phase: sch, owner: platform, kinds: onCreate, match: schedulerCause("NodesUnschedulable"),
			remedy: "Ask the platform team to uncordon nodes or add new ones: the nodes are closed for new pods (for example during maintenance)."},
		{code: "TooManyPods", phase: sch, owner: platform, kinds: onCreate, match: schedulerCause("TooManyPods"),
			remedy: "Ask the platform team to add nodes: the nodes already run as many pods as they are allowed to."},
		{code: "PodAntiAffinityConflict", phase: sch, owner: user, kinds: onCreate, match: schedulerCause("PodAntiAffinityConflict"),
			remedy: "Relax the pod's (anti-)affinity rules (use preferred instead of required) or add nodes, since every node already runs a pod it refuses to share with."},
		{code: "TopologySpreadConflict", phase: sch, owner: user, kinds: onCreate, match: schedulerCause("TopologySpreadConflict"),
			remedy: "Relax the pod's topologySpreadConstraints (raise maxSkew or use whenUnsatisfiable: ScheduleAnyway) or add nodes in the missing zones."},
		{code: "NodePortsConflict", phase: sch, owner: user, kinds: onCreate, match: schedulerCause("NodePortsConflict"),
			remedy: "Remove the hostPort from the pod (a Service is usually what you want) or run fewer replicas than there are nodes."},
		{code: "PVCNotFound", phase: sch, owner: user, kinds: onCreate, match: schedulerCause("PVCNotFound"),
			remedy: "Create the PersistentVolumeClaim named in the message in the pod's namespace, or fix the claim name in the pod."},
		{code: "PVCUnbound", phase: sch, owner: platform, kinds: onCreate, match: schedulerCause("PVCUnbound"),
			remedy: "Check the PersistentVolumeClaim's status (kubectl describe pvc): its storage class must exist and be able to provision a volume, otherwise ask the platform team."},
		{code: "VolumeNodeAffinityConflict", phase: sch, owner: platform, kinds: onCreate, match: schedulerCause("VolumeNodeAffinityConflict"),
			remedy: "The pod's volume lives in a zone or on nodes that cannot take the pod: ask the platform team for capacity there, or recreate the volume where the pod can run."},
		{code: "Unschedulable", phase: sch, owner: platform, kinds: onCreate, match: schedulerCause(""),
			remedy: "Read the scheduler's reason quoted below and change the pod or ask the platform team, depending on what it names."},
		{code: "Preempted", anyTime: true, phase: sch, owner: platform, kinds: anyKind, match: preempted,
			remedy: "Give the pod a higher priorityClassName or ask the platform team for more capacity, so that more important pods do not push it out."},
		{code: "SchedulingSlow", phase: sch, owner: platform, kinds: onCreate, fallback: true, match: schedulingSlow,
			remedy: "Nothing to change in the pod: tell the platform team the scheduler is slow (it may be overloaded or waiting on an autoscaler)."},

		// volumes: the node mounts what the pod needs
		{code: "ConfigMapNotFound", anyTime: true, phase: vol, owner: user, kinds: onStart, match: missing("configmap", "ConfigMap"),
			remedy: "Create the ConfigMap named in the message in the pod's namespace (or the key the pod reads from it), or fix the name in the pod."},
		{code: "SecretNotFound", anyTime: true, phase: vol, owner: user, kinds: onStart, match: missing("secret", "Secret"),
			remedy: "Create the Secret named in the message in the pod's namespace (or the key the pod reads from it), or fix the name in the pod."},
		{code: "VolumeAttachFailed", phase: vol, owner: platform, kinds: onStart, match: volumeAttachFailed,
			remedy: "Check that the volume's disk exists and is not still attached to another node; if it is, ask the platform team to detach it or to fix the storage driver."},
		{code: "VolumeMountFailed", phase: vol, owner: platform, kinds: onStart, match: volumeMountFailed,
			remedy: "Check the volume named in the message (its claim, NFS server or storage driver must be reachable from the node), and ask the platform team if the storage driver reports errors."},
		{code: "VolumeMountSlow", phase: vol, owner: platform, kinds: onCreate, fallback: true, match: volumeMountSlow,
			remedy: "Nothing to change in the pod: tell the platform team that attaching and mounting its volumes is slow (the storage driver or cloud API)."},

		// sandbox: the node admits the pod and gives it a network
		{code: "UnexpectedAdmissionError", phase: sbx, owner: platform, kinds: onStart, match: statusReason("the node refused to run the pod", isNodeAdmission),
			remedy: "Let the pod's controller recreate it (or recreate it yourself); if it keeps happening, tell the platform team that the node accepts pods it cannot run."},
		{code: "NodeNotReady", phase: sbx, owner: platform, kinds: onStart, match: nodeNotReady,
			remedy: "Nothing to change in the pod: its node stopped responding; the pod will be replaced elsewhere, and the platform team should repair the node."},
		{code: "NetworkNotReady", phase: sbx, owner: platform, kinds: onStart, match: sandboxFailure("NetworkNotReady"),
			remedy: "Ask the platform team to fix the node's network plugin (CNI); the pod starts once the node's network is ready."},
		{code: "IPAllocationFailed", phase: sbx, owner: platform, kinds: onStart, match: sandboxFailure("IPAllocationFailed"),
			remedy: "Ask the platform team to enlarge the pod IP range or free addresses on the node: the pod could not get an IP address."},
		{code: "SandboxCreateFailed", phase: sbx, owner: platform, kinds: onStart, match: sandboxFailure("SandboxCreateFailed"),
			remedy: "Tell the platform team that the node's container runtime cannot create the pod, quoting the message; deleting the pod so it lands on another node usually works."},
		{code: "KubeletDelay", phase: sbx, owner: platform, kinds: onCreate, fallback: true, match: kubeletDelay,
			remedy: "Nothing to change in the pod: tell the platform team that the node named in the message is slow to start pods (its kubelet may be overloaded or disconnected)."},

		// image: the node pulls the containers' images
		{code: "InvalidImageName", phase: img, owner: user, kinds: onStart, match: pull("InvalidImageName"),
			remedy: "Correct the image name in the pod (the format is registry/repository:tag, in lower case)."},
		{code: "ImageNeverPull", phase: img, owner: user, kinds: onStart, match: pull("ImageNeverPull"),
			remedy: "Set imagePullPolicy to IfNotPresent, or load the image onto the nodes: the image is not there and the policy forbids pulling it."},
		{code: "ImagePullAccessDenied", phase: img, owner: user, kinds: onStart, match: pull("ImagePullAccessDenied"),
			remedy: "Check the image name, and give the pod an imagePullSecret with credentials for the registry: the registry refused access or has no such repository."},
		{code: "ImageNotFound", phase: img, owner: user, kinds: onStart, match: pull("ImageNotFound"),
			remedy: "Fix the image name or tag in the pod: the registry has no such image."},
		{code: "RegistryUnavailable", phase: img, owner: platform, kinds: onStart, match: pull("RegistryUnavailable"),
			remedy: "Ask the platform team to check the node's network access to the image registry (or to use a registry mirror): the registry could not be reached."},
		{code: "ImagePullBackOff", phase: img, owner: platform, kinds: onStart, fallback: true, match: pull("ImagePullBackOff"),
			remedy: "Read the pull error quoted below; if the image name is right, ask the platform team to check the registry and the node's access to it."},
		{code: "ImagePullSlow", phase: img, owner: platform, kinds: onStart, fallback: true, match: imagePullSlow,
			remedy: "Use a smaller image or one already cached on the nodes, or ask the platform team for a registry mirror closer to the cluster."},

		// containers: the runtime creates and starts them
		{code: "InitContainerFailed", phase: ctr, owner: user, kinds: onStart, match: initContainerFailed,
			remedy: "Fix the init container named in the message (read its logs with kubectl logs POD -c NAME): the app containers start only after every init container succeeds."},
		{code: "CreateContainerConfigError", phase: ctr, owner: user, kinds: onStart, match: containerReason("could not be set up", "CreateContainerConfigError"),
			remedy: "Fix the container setting the message names (for example a missing key in a ConfigMap or Secret, or runAsNonRoot with an image that runs as root)."},
		{code: "CreateContainerError", phase: ctr, owner: platform, kinds: onStart, match: containerReason("could not be created", "CreateContainerError"),
			remedy: "Read the error quoted below: a missing command or a bad mount path is fixed in the pod, anything else goes to the platform team as a container runtime failure."},
		{code: "PostStartHookFailed", phase: ctr, owner: user, kinds: onStart, match: postStartHookFailed,
			remedy: "Fix or remove the container's postStart hook (lifecycle.postStart): the container is killed whenever the hook fails."},
		{code: "RunContainerError", phase: ctr, owner: user, kinds: onStart, match: containerReason("could not be started", "RunContainerError", "StartError", "ContainerCannotRun"),
			remedy: "Check the container's command, arguments and entrypoint: the runtime could not start it, usually because an executable or file is missing in the image."},
		{code: "OOMKilled", phase: ctr, owner: user, kinds: onStart, match: containerReason("was killed for using more memory than its limit", "OOMKilled"),
			remedy: "Raise the container's memory limit (resources.limits.memory) or make the application use less memory."},
		{code: "CrashLoopBackOff", phase: ctr, owner: user, kinds: onStart, match: crashLoop,
			remedy: "Read the crashed container's logs (kubectl logs POD -c NAME --previous) and fix the error that makes it exit."},
		{code: "ContainerExitedNonZero", phase: ctr, owner: user, kinds: onStart, fallback: true, match: exitedNonZero,
			remedy: "Read the container's logs (kubectl logs POD -c NAME) to see why it exited with an error, and fix the application or its arguments."},

		// readiness: the app reports it can serve
		{code: "StartupProbeFailed", phase: rdy, owner: user, kinds: onStart, match: probe("startup"),
			remedy: "Give the app the time it really needs to start (raise the startup probe's failureThreshold or periodSeconds) or fix the endpoint the probe checks."},
		{code: "LivenessProbeFailed", phase: rdy, owner: user, kinds: onStart, match: probe("liveness"),
			remedy: "Fix the liveness probe's endpoint, or add a startup probe or a longer initialDelaySeconds so the container is not killed while it starts."},
		{code: "ReadinessProbeFailed", phase: rdy, owner: user, kinds: onStart, match: probe("readiness"),
			remedy: "Check that the readiness probe's path and port match what the app serves, and read the app's logs for why it is not ready."},
		{code: "ReadinessGateNotReady", phase: rdy, owner: platform, kinds: onStart, match: readinessGate,
			remedy: "Check the controller that sets the readiness gate named in the message (often a load balancer controller): the pod runs but is not yet registered with it."},
		{code: "ReadinessSlow", phase: rdy, owner: user, kinds: onCreate, fallback: true, match: readinessSlow,
			remedy: "Make the app ready sooner, or shorten the readiness probe's initialDelaySeconds and periodSeconds: the containers ran for a long time before the pod reported Ready."},

		// termination and the node: the pod is stopped or taken away
		{code: "Evicted", anyTime: true, phase: trm, owner: platform, kinds: anyKind, match: evicted,
			remedy: "Usually nothing to change: the cluster evicted the pod (node maintenance, node pressure or an eviction request) and its controller recreates it; if the message blames the pod's own memory or disk use, raise its requests and limits."},
		{code: "NodeShutdown", anyTime: true, phase: trm, owner: platform, kinds: anyKind, match: nodeShutdown,
			remedy: "Nothing to change in the pod: its node shut down, and its controller recreates it on another node."},
		{code: "KillFailed", phase: trm, owner: platform, kinds: onDelete, match: event("the pod's containers could not be stopped", "FailedKillPod", "KillPodFailed"),
			remedy: "Tell the platform team that the node could not stop the pod's containers, quoting the message: the pod stays Terminating until the node recovers."},
		{code: "DeleteBlockedByFinalizer", phase: trm, owner: user, kinds: onDelete, match: finalizerBlocked,
			remedy: "Fix or restart the controller that owns the finalizer named in the message; remove the finalizer by hand (kubectl patch) only if that controller is gone for good."},
		{code: "TerminationSlow", phase: trm, owner: platform, kinds: onDelete, fallback: true, match: terminationSlow,
			remedy: "Make the app exit promptly on SIGTERM; if it already does, tell the platform team that the node is slow to remove stopped pods."},
	}
}

// --- admission

// admissionCode classifies a refused create by its HTTP code and message.
func admissionCode(f *lifecycle.Fact) string {
	if f.Source != "request" || !strings.HasPrefix(f.Reason, "create pods ") {
		return ""
	}
	m := f.Message
	switch {
	case strings.Contains(m, "exceeded quota") || strings.Contains(m, "failed quota"):
		return "QuotaExceeded"
	case strings.Contains(m, "admission webhook") && strings.Contains(m, "denied the request"):
		return "AdmissionWebhookDenied"
	case strings.Contains(m, "usage per Container is") || strings.Contains(m, "usage per Pod is") ||
		strings.Contains(m, "limit to request ratio") || strings.Contains(m, "LimitRange"):
		return "LimitRangeViolation"
	case strings.Contains(m, "violates PodSecurity"):
		return "PodSecurityViolation"
	case f.Code >= 500 || strings.Contains(m, "failed calling webhook"):
		return "APIServerError"
	case f.Code == 422:
		return "PodSpecInvalid"
	}
	return ""
}

func refused(code string) func(v *view) (hit, bool) {
	return func(v *view) (hit, bool) {
		f, ev := v.collect(func(f *lifecycle.Fact) bool { return admissionCode(f) == code })
		if f == nil {
			return hit{}, false
		}
		detail := f.Message
		if i := strings.Index(detail, "is forbidden: "); i >= 0 {
			detail = detail[i+len("is forbidden: "):]
		}
		var what string
		switch code {
		case "QuotaExceeded":
			what = "the namespace's ResourceQuota has no room for it"
		case "AdmissionWebhookDenied":
			what = "an admission webhook (a cluster policy) denied it"
		case "LimitRangeViolation":
			what = "its resources break the namespace's LimitRange"
		case "PodSecurityViolation":
			what = "it breaks the namespace's Pod Security level"
		case "PodSpecInvalid":
			what = "the pod is invalid"
		default:
			what = fmt.Sprintf("the API server failed (HTTP %d)", f.Code)
		}
		return hit{msg: fmt.Sprintf("The pod was never created: %s (%s).", what, detail), ev: ev}, true
	}
}

// --- scheduling

func schedulerCause(code string) func(v *view) (hit, bool) {
	return func(v *view) (hit, bool) {
		m, ok := v.scheduler()
		if !ok || v.mark(lifecycle.MarkScheduled) != 0 && !v.schedulingSlow() {
			return hit{}, false
		}
		nodes, found := 0, false
		var texts []string
		for _, c := range m.Causes {
			if c.Code != code {
				continue
			}
			found = true
			if c.Nodes > nodes {
				nodes = c.Nodes
			}
			texts = append(texts, c.Text)
		}
		if !found {
			return hit{}, false
		}
		return hit{msg: schedulerSentence(v, code, nodeCount(nodes, m.Nodes), texts), ev: v.schedEvidence()}, true
	}
}

// schedulingSlow: the pod got a node, but late.
func (v *view) schedulingSlow() bool {
	s := v.mark(lifecycle.MarkScheduled)
	return s != 0 && s-v.start > int64(v.cfg.SchedulingSlow)
}

func (v *view) schedEvidence() []podtrace.Evidence {
	var ev []podtrace.Evidence
	for _, f := range v.schedFact {
		if f != nil {
			ev = append(ev, factEvidence(f))
		}
	}
	return ev
}

// nodeCount says "2 of 3 nodes", "2 nodes" or "the nodes".
func nodeCount(n, total int) string {
	switch {
	case n > 0 && total > 0:
		return fmt.Sprintf("%d of %d nodes", n, total)
	case n == 1:
		return "1 node"
	case n > 0:
		return fmt.Sprintf("%d nodes", n)
	}
	return "the nodes"
}

func schedulerSentence(v *view, code, nodes string, texts []string) string {
	const lead = "The pod cannot be placed on a node: "
	spec := &v.p.Spec
	switch code {
	case "InsufficientCPU":
		return lead + fmt.Sprintf("%s do not have enough free CPU for the %s it requests.", nodes, cpuString(spec.MilliCPU))
	case "InsufficientMemory":
		return lead + fmt.Sprintf("%s do not have enough free memory for the %s it requests.", nodes, bytesString(spec.Memory))
	case "InsufficientExtendedResource":
		var res []string
		for _, t := range texts {
			res = append(res, strings.TrimPrefix(t, "Insufficient "))
		}
		return lead + fmt.Sprintf("%s do not have enough free %s.", nodes, strings.Join(res, ", "))
	case "NodeSelectorMismatch":
		return lead + fmt.Sprintf("%s lack the labels its nodeSelector or node affinity requires.", nodes)
	case "UntoleratedTaint":
		return lead + fmt.Sprintf("%s are reserved by a taint the pod does not tolerate (%s).", nodes, strings.Join(texts, "; "))
	case "NodesUnschedulable":
		return lead + fmt.Sprintf("%s are closed for new pods (%s).", nodes, strings.Join(texts, "; "))
	case "TooManyPods":
		return lead + fmt.Sprintf("%s already run as many pods as they allow.", nodes)
	case "PodAntiAffinityConflict":
		return lead + fmt.Sprintf("%s are ruled out by its affinity or anti-affinity rules towards other pods.", nodes)
	case "TopologySpreadConflict":
		return lead + fmt.Sprintf("%s would break its topology spread constraints.", nodes)
	case "NodePortsConflict":
		return lead + fmt.Sprintf("%s already use a host port it asks for.", nodes)
	case "PVCNotFound":
		return lead + fmt.Sprintf("a PersistentVolumeClaim it uses does not exist (%s).", strings.Join(texts, "; "))
	case "PVCUnbound":
		return lead + fmt.Sprintf("its PersistentVolumeClaim has no volume yet (%s).", strings.Join(texts, "; "))
	case "VolumeNodeAffinityConflict":
		return lead + fmt.Sprintf("%s cannot reach its volume, which is tied to other nodes or another zone.", nodes)
	}
	return lead + strings.Join(texts, "; ") + "."
}

func schedulingGated(v *view) (hit, bool) {
	_, ev := v.collect(func(f *lifecycle.Fact) bool {
		return f.Source == "condition" && f.Container == "PodScheduled" && f.Reason == "SchedulingGated"
	})
	gates := v.p.Spec.Gates
	if v.mark(lifecycle.MarkScheduled) != 0 && !v.schedulingSlow() {
		return hit{}, false
	}
	if len(ev) == 0 {
		if len(gates) == 0 || !v.open {
			return hit{}, false
		}
		ev = []podtrace.Evidence{{AuditID: v.p.Spec.At.AuditID, Time: v.p.Spec.At.Time(), Text: "spec.schedulingGates: " + strings.Join(gates, ", ")}}
	}
	names := "spec.schedulingGates"
	if len(gates) > 0 {
		names = strings.Join(gates, ", ")
	}
	return hit{msg: fmt.Sprintf("The pod is held back by scheduling gates (%s): the scheduler does not consider it until they are removed.", names), ev: ev}, true
}

func preempted(v *view) (hit, bool) {
	f, ev := v.collect(func(f *lifecycle.Fact) bool { return f.Source == "event" && f.Reason == "Preempted" })
	if c, e, ok := v.disruption("PreemptionByScheduler"); ok {
		ev = append(ev, e)
		if f == nil {
			return hit{msg: "A higher-priority pod took the pod's place on its node: " + c.Message, ev: ev}, true
		}
	}
	if f == nil {
		return hit{}, false
	}
	return hit{msg: "A higher-priority pod took the pod's place on its node: " + f.Message, ev: ev}, true
}

// disruption finds the DisruptionTarget condition of the latest status
// with one of the reasons.
func (v *view) disruption(reasons ...string) (*decode.Condition, podtrace.Evidence, bool) {
	st := &v.p.Status
	if st.At.T > v.end {
		return nil, podtrace.Evidence{}, false
	}
	for i := range st.Conditions {
		c := &st.Conditions[i]
		if c.Type != "DisruptionTarget" || c.Status != "True" {
			continue
		}
		for _, r := range reasons {
			if c.Reason == r {
				t := c.Transition
				if t.IsZero() {
					t = st.At.Time()
				}
				return c, podtrace.Evidence{AuditID: st.At.AuditID, Time: t, Text: "DisruptionTarget " + c.Reason + ": " + c.Message}, true
			}
		}
	}
	return nil, podtrace.Evidence{}, false
}

func schedulingSlow(v *view) (hit, bool) {
	s := v.mark(lifecycle.MarkScheduled)
	created := v.mark(lifecycle.MarkCreated)
	switch {
	case v.schedulingSlow():
		return hit{
			msg: fmt.Sprintf("The scheduler took %s to place the pod on node %s.", seconds(nanos(s-v.start)), v.p.Node),
			ev:  []podtrace.Evidence{v.markEvidence(lifecycle.MarkScheduled, "scheduled: bound to node "+v.p.Node)},
		}, true
	case s == 0 && created != 0 && v.open && nanos(v.end-v.start) > v.cfg.SchedulingSlow:
		return hit{
			msg: fmt.Sprintf("The pod has waited %s for a node and the scheduler has not said why (is the pod's schedulerName served?).", seconds(nanos(v.end-v.start))),
			ev:  []podtrace.Evidence{v.markEvidence(lifecycle.MarkCreated, "created: no scheduling decision since")},
		}, true
	}
	return hit{}, false
}

// --- volumes

// missingRef reports whether a message says a ConfigMap or Secret (kind
// "configmap"/"secret", Kind "ConfigMap"/"Secret") or one of its keys is
// missing, and names it.
func missingRef(msg, kind, Kind string) (string, bool) {
	if i := strings.Index(msg, kind+` "`); i >= 0 && strings.Contains(msg[i:], "not found") {
		name := msg[i+len(kind)+2:]
		if j := strings.IndexByte(name, '"'); j >= 0 {
			return name[:j], true
		}
		return "", true
	}
	if strings.Contains(msg, "couldn't find key") && strings.Contains(msg, "in "+Kind) {
		return msg[strings.Index(msg, "in "+Kind)+len("in "+Kind):], true
	}
	return "", false
}

func missing(kind, Kind string) func(v *view) (hit, bool) {
	return func(v *view) (hit, bool) {
		f, ev := v.collect(func(f *lifecycle.Fact) bool {
			_, ok := missingRef(f.Message, kind, Kind)
			return ok && f.Source != "request"
		})
		if f == nil {
			return hit{}, false
		}
		name, _ := missingRef(f.Message, kind, Kind)
		return hit{msg: fmt.Sprintf("The pod needs %s %s in namespace %s, which does not exist (or lacks the key it reads).", Kind, strings.TrimSpace(name), v.p.Namespace), ev: ev}, true
	}
}

// missingAnyRef: the message is about a missing ConfigMap or Secret.
func missingAnyRef(msg string) bool {
	_, a := missingRef(msg, "configmap", "ConfigMap")
	_, b := missingRef(msg, "secret", "Secret")
	return a || b
}

func volumeAttachFailed(v *view) (hit, bool) {
	f, ev := v.collect(func(f *lifecycle.Fact) bool {
		return f.Source == "event" && (f.Reason == "FailedAttachVolume" || f.Reason == "FailedMapVolume" ||
			f.Reason == "FailedMount" && attachProblem(f.Message))
	})
	if f == nil {
		return hit{}, false
	}
	return hit{msg: "A volume could not be attached to the pod's node: " + f.Message, ev: ev}, true
}

// attachProblem: a FailedMount message that blames attaching, not mounting.
func attachProblem(msg string) bool {
	return strings.Contains(msg, "AttachVolume") ||
		strings.Contains(msg, "unattached volumes=[") && !strings.Contains(msg, "unattached volumes=[]")
}

func volumeMountFailed(v *view) (hit, bool) {
	f, ev := v.collect(func(f *lifecycle.Fact) bool {
		return f.Source == "event" && strings.HasPrefix(f.Reason, "FailedMount") &&
			!attachProblem(f.Message) && !missingAnyRef(f.Message)
	})
	if f == nil {
		return hit{}, false
	}
	return hit{msg: "A volume could not be mounted into the pod: " + f.Message, ev: ev}, true
}

func volumeMountSlow(v *view) (hit, bool) {
	vol := v.attachable()
	sched := v.mark(lifecycle.MarkScheduled)
	if vol == "" || sched == 0 {
		return hit{}, false
	}
	done := v.nodeStarted()
	d, verb := nanos(done-sched), "took"
	if done == 0 {
		if !v.open {
			return hit{}, false
		}
		d, verb = nanos(v.end-sched), "has taken"
	}
	if d <= v.cfg.VolumeMountSlow {
		return hit{}, false
	}
	return hit{
		msg: fmt.Sprintf("Attaching and mounting the pod's volumes (such as %s) on node %s %s %s.", vol, v.p.Node, verb, seconds(d)),
		ev:  []podtrace.Evidence{v.markEvidence(lifecycle.MarkScheduled, "scheduled: bound to node "+v.p.Node)},
	}, true
}

// --- sandbox

// isNodeAdmission: a pod status reason with which the kubelet refuses a
// pod it was given (OutOfcpu, OutOfmemory, NodeAffinity, ...).
func isNodeAdmission(f *lifecycle.Fact) bool {
	if f.Source != "status" {
		return false
	}
	switch r := f.Reason; {
	case r == "UnexpectedAdmissionError", strings.HasPrefix(r, "OutOf"), r == "NodeAffinity",
		r == "NodeSelectorMismatching", r == "InvalidNodeInfo", r == "PodOSNotSupported", r == "SysctlForbidden":
		return true
	}
	return false
}

func statusReason(what string, pred func(*lifecycle.Fact) bool) func(v *view) (hit, bool) {
	return func(v *view) (hit, bool) {
		f, ev := v.collect(pred)
		if f == nil {
			return hit{}, false
		}
		return hit{msg: fmt.Sprintf("On node %s %s: %s (%s).", v.p.Node, what, f.Reason, f.Message), ev: ev}, true
	}
}

func nodeNotReady(v *view) (hit, bool) {
	_, ev := v.collect(func(f *lifecycle.Fact) bool {
		return f.Source == "event" && f.Reason == "NodeNotReady" || f.Source == "status" && f.Reason == "NodeLost"
	})
	if len(ev) == 0 {
		return hit{}, false
	}
	return hit{msg: fmt.Sprintf("The pod's node %s stopped reporting to the cluster (NotReady).", v.p.Node), ev: ev}, true
}

// sandboxCode classifies a sandbox failure Event.
func sandboxCode(f *lifecycle.Fact) string {
	if f.Source != "event" {
		return ""
	}
	switch f.Reason {
	case "NetworkNotReady":
		return "NetworkNotReady"
	case "FailedCreatePodSandBox", "FailedPodSandBoxStatus", "FailedSandboxCreate":
	default:
		return ""
	}
	m := strings.ToLower(f.Message)
	switch {
	case strings.Contains(m, "network is not ready") || strings.Contains(m, "networkpluginnotready") || strings.Contains(m, "cni plugin not initialized"):
		return "NetworkNotReady"
	case strings.Contains(m, "failed to allocate") || strings.Contains(m, "no ip addresses") || strings.Contains(m, "failed to assign an ip") ||
		strings.Contains(m, "ipam") || strings.Contains(m, "ip address"):
		return "IPAllocationFailed"
	}
	return "SandboxCreateFailed"
}

func sandboxFailure(code string) func(v *view) (hit, bool) {
	return func(v *view) (hit, bool) {
		f, ev := v.collect(func(f *lifecycle.Fact) bool { return sandboxCode(f) == code })
		if f == nil {
			return hit{}, false
		}
		what := "could not create the pod's sandbox (its network and isolation)"
		switch code {
		case "NetworkNotReady":
			what = "has no working pod network yet"
		case "IPAllocationFailed":
			what = "could not give the pod an IP address"
		}
		return hit{msg: fmt.Sprintf("Node %s %s: %s", v.p.Node, what, f.Message), ev: ev}, true
	}
}

// nodeActed is the earliest sign that the node worked on the pod after sched.
func (v *view) nodeActed(sched int64) int64 {
	t := v.earliest(lifecycle.MarkVolumesMounted, lifecycle.MarkInitialized, lifecycle.MarkSandboxReady, lifecycle.MarkImagePulling,
		lifecycle.MarkImagePulled, lifecycle.MarkContainersCreated, lifecycle.MarkContainersStarted, lifecycle.MarkReady,
		lifecycle.MarkSucceeded, lifecycle.MarkFailed)
	for _, f := range v.facts {
		if f.First.T < sched || f.Source == "request" || f.Source == "condition" ||
			f.Source == "event" && (f.Reason == "Scheduled" || f.Reason == "FailedScheduling" || f.Component == "default-scheduler") {
			continue
		}
		if t == 0 || f.First.T < t {
			t = f.First.T
		}
	}
	return t
}

func kubeletDelay(v *view) (hit, bool) {
	sched := v.mark(lifecycle.MarkScheduled)
	if sched == 0 || v.foundIn(podtrace.PhaseVolumes) {
		return hit{}, false
	}
	acted := v.nodeActed(sched)
	d := nanos(acted - sched)
	msg := "The pod was placed on node %s, but the node took %s to start working on it."
	if acted == 0 {
		if !v.open {
			return hit{}, false
		}
		d = nanos(v.end - sched)
		msg = "The pod was placed on node %s %s ago, and the node has not started working on it."
	}
	if d <= v.kubeletDelay() {
		return hit{}, false
	}
	return hit{
		msg: fmt.Sprintf(msg, v.p.Node, seconds(d)),
		ev:  []podtrace.Evidence{v.markEvidence(lifecycle.MarkScheduled, "scheduled: bound to node "+v.p.Node)},
	}, true
}

// --- image

// pullCode classifies an image pull failure, or returns "" for a fact
// that is not about pulling.
func pullCode(f *lifecycle.Fact) string {
	switch f.Source {
	case "container":
		switch f.Reason {
		case "InvalidImageName":
			return "InvalidImageName"
		case "ErrImageNeverPull":
			return "ImageNeverPull"
		case "RegistryUnavailable":
			return "RegistryUnavailable"
		case "ErrImagePull", "ImagePullBackOff", "SignatureValidationFailed":
		default:
			return ""
		}
	case "event":
		switch f.Reason {
		case "InspectFailed":
			return "InvalidImageName"
		case "ErrImageNeverPull":
			return "ImageNeverPull"
		case "Failed", "BackOff":
			if !strings.Contains(strings.ToLower(f.Message), "pull") {
				return ""
			}
		default:
			return ""
		}
	default:
		return ""
	}
	m := strings.ToLower(f.Message)
	contains := func(subs ...string) bool {
		for _, s := range subs {
			if strings.Contains(m, s) {
				return true
			}
		}
		return false
	}
	switch {
	case contains("invalid reference format", "couldn't parse image"):
		return "InvalidImageName"
	case contains("pull policy of never"):
		return "ImageNeverPull"
	case contains("pull access denied", "unauthorized", "authentication required", "insufficient_scope", "403 forbidden", "denied:", "401"):
		return "ImagePullAccessDenied"
	case contains("not found", "manifest unknown", "name unknown", "no such image"):
		return "ImageNotFound"
	case contains("no such host", "connection refused", "i/o timeout", "tls handshake", "503 service unavailable",
		"502 bad gateway", "network is unreachable", "connection reset", "server misbehaving", "dial tcp"):
		return "RegistryUnavailable"
	}
	return "ImagePullBackOff"
}

func pull(code string) func(v *view) (hit, bool) {
	return func(v *view) (hit, bool) {
		f, ev := v.collect(func(f *lifecycle.Fact) bool { return pullCode(f) == code })
		if f == nil {
			return hit{}, false
		}
		image := quotedAfter(f.Message, `image "`)
		if image == "" {
			image = v.imageOf(f.Container)
		}
		var what string
		switch code {
		case "InvalidImageName":
			what = "is not a valid image name"
		case "ImageNeverPull":
			what = "is not on the node and imagePullPolicy Never forbids pulling it"
		case "ImagePullAccessDenied":
			what = "could not be pulled: the registry refused access (or has no such repository)"
		case "ImageNotFound":
			what = "could not be pulled: the registry has no such image"
		case "RegistryUnavailable":
			what = "could not be pulled: the registry could not be reached"
		default:
			what = "could not be pulled, and the node keeps retrying"
		}
		return hit{msg: fmt.Sprintf("The image %q %s.", image, what), ev: ev}, true
	}
}

// imageOf is the image of the named container ("init:" for init containers).
func (v *view) imageOf(name string) string {
	cs := v.p.Spec.Containers
	if n, ok := strings.CutPrefix(name, "init:"); ok {
		name, cs = n, v.p.Spec.InitContainers
	}
	for _, c := range cs {
		if c.Name == name || name == "" {
			return c.Image
		}
	}
	return ""
}

// quotedAfter returns the quoted text after prefix (which ends in a quote).
func quotedAfter(s, prefix string) string {
	i := strings.Index(s, prefix)
	if i < 0 {
		return ""
	}
	s = s[i+len(prefix):]
	if j := strings.IndexByte(s, '"'); j >= 0 {
		return s[:j]
	}
	return ""
}

func imagePullSlow(v *view) (hit, bool) {
	var pulling, pulled *lifecycle.Fact
	for _, f := range v.facts {
		if f.Source != "event" {
			continue
		}
		switch {
		case f.Reason == "Pulling" && (pulling == nil || f.First.T < pulling.First.T):
			pulling = f
		case f.Reason == "Pulled" && strings.HasPrefix(f.Message, "Successfully pulled") && (pulled == nil || f.Last.T > pulled.Last.T):
			pulled = f
		}
	}
	if pulling == nil {
		return hit{}, false
	}
	ev := []podtrace.Evidence{factEvidence(pulling)}
	var d = nanos(v.end - pulling.First.T)
	msg := "The node has been pulling the container images for %s."
	if pulled != nil && pulled.Last.T >= pulling.First.T {
		d = nanos(pulled.Last.T - pulling.First.T)
		msg = "Pulling the container images took %s."
		ev = append(ev, factEvidence(pulled))
	} else if !v.open {
		return hit{}, false
	}
	if d <= v.cfg.ImagePullSlow {
		return hit{}, false
	}
	return hit{msg: fmt.Sprintf(msg, seconds(d)), ev: ev}, true
}

// --- containers

// isInit reports whether a fact is about an init container.
func (v *view) isInit(f *lifecycle.Fact) bool {
	if strings.HasPrefix(f.Container, "init:") {
		return true
	}
	for _, c := range v.p.Spec.InitContainers {
		if f.Source == "event" && c.Name == f.Container {
			return true
		}
	}
	return false
}

func initContainerFailed(v *view) (hit, bool) {
	f, ev := v.collect(func(f *lifecycle.Fact) bool {
		if !v.isInit(f) || pullCode(f) != "" {
			return false
		}
		return f.Source == "container" || f.Source == "event" && f.Warning && (f.Reason == "BackOff" || f.Reason == "Failed")
	})
	if f == nil {
		return hit{}, false
	}
	name := strings.TrimPrefix(f.Container, "init:")
	detail := f.Reason
	if f.Code != 0 {
		detail = fmt.Sprintf("%s, exit code %d", f.Reason, f.Code)
	}
	return hit{msg: fmt.Sprintf("Init container %s failed (%s), so the app containers never started.", name, detail), ev: ev}, true
}

func containerReason(what string, reasons ...string) func(v *view) (hit, bool) {
	return func(v *view) (hit, bool) {
		f, ev := v.collect(func(f *lifecycle.Fact) bool {
			return f.Source == "container" && slices.Contains(reasons, f.Reason) && !v.isInit(f) && !missingAnyRef(f.Message)
		})
		if f == nil {
			return hit{}, false
		}
		msg := fmt.Sprintf("Container %s %s", f.Container, what)
		if f.Message != "" {
			msg += ": " + f.Message
		}
		return hit{msg: msg + ".", ev: ev}, true
	}
}

func postStartHookFailed(v *view) (hit, bool) {
	f, ev := v.collect(func(f *lifecycle.Fact) bool {
		return f.Source == "event" && f.Reason == "FailedPostStartHook" || f.Source == "container" && f.Reason == "PostStartHookError"
	})
	if f == nil {
		return hit{}, false
	}
	return hit{msg: fmt.Sprintf("The postStart hook of container %s failed, so the container was killed: %s", containerName(f), f.Message), ev: ev}, true
}

func containerName(f *lifecycle.Fact) string {
	if f.Container == "" {
		return "(unnamed)"
	}
	return strings.TrimPrefix(f.Container, "init:")
}

func crashLoop(v *view) (hit, bool) {
	f, ev := v.collect(func(f *lifecycle.Fact) bool {
		if v.isInit(f) {
			return false
		}
		return f.Source == "container" && f.Reason == "CrashLoopBackOff" ||
			f.Source == "event" && f.Reason == "BackOff" && strings.Contains(f.Message, "restarting failed container")
	})
	if f == nil {
		return hit{}, false
	}
	// the kubelet kills a container whose liveness or startup probe fails
	// and backs off its restarts as after a crash: the probe's rule says why
	for _, f := range v.facts {
		if probeKill(f, "liveness") || probeKill(f, "startup") {
			return hit{}, false
		}
	}
	return hit{msg: fmt.Sprintf("Container %s keeps crashing right after it starts, and Kubernetes waits longer before each restart.", containerName(f)), ev: ev}, true
}

func exitedNonZero(v *view) (hit, bool) {
	f, ev := v.collect(func(f *lifecycle.Fact) bool { return f.Source == "container" && f.Code != 0 && !v.isInit(f) })
	if f == nil {
		return hit{}, false
	}
	return hit{msg: fmt.Sprintf("Container %s exited with code %d (%s).", containerName(f), f.Code, f.Reason), ev: ev}, true
}

// --- readiness

func probe(kind string) func(v *view) (hit, bool) {
	failed := strings.ToUpper(kind[:1]) + kind[1:] + " probe failed"
	return func(v *view) (hit, bool) {
		f, ev := v.collect(func(f *lifecycle.Fact) bool {
			return f.Source == "event" && f.Reason == "Unhealthy" && strings.HasPrefix(f.Message, failed) || probeKill(f, kind)
		})
		if f == nil {
			return hit{}, false
		}
		return hit{msg: fmt.Sprintf("The %s probe of container %s keeps failing: %s", kind, containerName(f), f.Message), ev: ev}, true
	}
}

// probeKill: the kubelet's Event killing a container whose probe of the
// kind (liveness, startup) failed.
func probeKill(f *lifecycle.Fact, kind string) bool {
	return f.Source == "event" && f.Reason == "Killing" && strings.Contains(f.Message, "failed "+kind+" probe")
}

func readinessGate(v *view) (hit, bool) {
	f, ev := v.collect(func(f *lifecycle.Fact) bool {
		return f.Source == "condition" && f.Reason == "ReadinessGatesNotReady"
	})
	if f == nil || v.mark(lifecycle.MarkReady) != 0 && !v.readinessSlow() {
		return hit{}, false
	}
	return hit{msg: "The containers run, but a readiness gate is not yet satisfied: " + f.Message, ev: ev}, true
}

func (v *view) readinessSlow() bool {
	s, r := v.mark(lifecycle.MarkContainersStarted), v.mark(lifecycle.MarkReady)
	return s != 0 && r != 0 && nanos(r-s) > v.cfg.ReadinessSlow
}

func readinessSlow(v *view) (hit, bool) {
	s, r := v.mark(lifecycle.MarkContainersStarted), v.mark(lifecycle.MarkReady)
	if s == 0 {
		return hit{}, false
	}
	switch {
	case r != 0 && nanos(r-s) > v.cfg.ReadinessSlow:
		return hit{
			msg: fmt.Sprintf("The containers ran for %s before the pod reported Ready.", seconds(nanos(r-s))),
			ev: []podtrace.Evidence{v.markEvidence(lifecycle.MarkContainersStarted, "containers started"),
				v.markEvidence(lifecycle.MarkReady, "ready")},
		}, true
	case r == 0 && v.open && nanos(v.end-s) > v.cfg.ReadinessSlow:
		return hit{
			msg: fmt.Sprintf("The containers have run for %s and the pod is still not Ready.", seconds(nanos(v.end-s))),
			ev:  []podtrace.Evidence{v.markEvidence(lifecycle.MarkContainersStarted, "containers started")},
		}, true
	}
	return hit{}, false
}

// --- termination and the node

func evicted(v *view) (hit, bool) {
	f, ev := v.collect(func(f *lifecycle.Fact) bool {
		return f.Source == "status" && f.Reason == "Evicted" ||
			f.Source == "event" && (f.Reason == "Evicted" || f.Reason == "NodeControllerEviction" ||
				// not "Cancelling deletion": the node came back in time
				f.Reason == "TaintManagerEviction" && strings.HasPrefix(f.Message, "Marking for deletion"))
	})
	msg := ""
	if f != nil {
		msg = f.Message
	}
	if t := v.mark(lifecycle.MarkEvicted); t != 0 && t >= v.start-int64(v.cfg.TerminationSlack) {
		ev = append([]podtrace.Evidence{v.markEvidence(lifecycle.MarkEvicted, "pods/eviction: eviction request accepted")}, ev...)
		if msg == "" {
			msg = "an eviction request (kubectl drain, a descheduler or an autoscaler) removed it"
		}
	}
	if c, e, ok := v.disruption("EvictionByEvictionAPI", "DeletionByTaintManager"); ok {
		ev = append(ev, e)
		if msg == "" {
			msg = c.Message
		}
	}
	if len(ev) == 0 {
		return hit{}, false
	}
	h := hit{msg: "The pod was evicted: " + strings.TrimSuffix(msg, ".") + ".", ev: ev}
	if strings.Contains(msg, "exceeds") {
		h.owner = user // the pod used more than its own limits
	}
	return h, true
}

func nodeShutdown(v *view) (hit, bool) {
	f, ev := v.collect(func(f *lifecycle.Fact) bool {
		return f.Source == "status" && (f.Reason == "NodeShutdown" || f.Reason == "Terminated" && strings.Contains(strings.ToLower(f.Message), "shutdown"))
	})
	if f == nil {
		return hit{}, false
	}
	return hit{msg: fmt.Sprintf("Node %s shut down and took the pod with it: %s", v.p.Node, f.Message), ev: ev}, true
}

func event(what string, reasons ...string) func(v *view) (hit, bool) {
	return func(v *view) (hit, bool) {
		f, ev := v.collect(func(f *lifecycle.Fact) bool {
			return f.Source == "event" && slices.Contains(reasons, f.Reason)
		})
		if f == nil {
			return hit{}, false
		}
		return hit{msg: fmt.Sprintf("On node %s %s: %s", v.p.Node, what, f.Message), ev: ev}, true
	}
}

// deleteStart quotes the start of a delete delivery.
func (v *view) deleteStart() podtrace.Evidence {
	m := lifecycle.MarkDeleteRequested
	if e := v.p.Marks[lifecycle.MarkEvicted]; e.Seen() && (!v.p.Marks[m].Seen() || e.T < v.p.Marks[m].T) {
		m = lifecycle.MarkEvicted
	}
	return v.markEvidence(m, fmt.Sprintf("%s: grace period %s", m, seconds(v.grace())))
}

// overdue is how long the delete has run, and whether that is past the
// grace period plus slack.
func (v *view) overdue() (d time.Duration, gone bool, late bool) {
	end := v.mark(lifecycle.MarkGone)
	gone = end != 0
	if !gone {
		end = v.end
	}
	d = nanos(end - v.start)
	return d, gone, d > v.grace()+v.cfg.TerminationSlack
}

func finalizerBlocked(v *view) (hit, bool) {
	d, gone, late := v.overdue()
	if !late {
		return hit{}, false
	}
	// the finalizers seen on the deleted pod (removed since, perhaps), else
	// those of its spec (a delete audited without its response)
	var fins []string
	_, ev := v.collect(func(f *lifecycle.Fact) bool {
		if f.Source != "finalizer" {
			return false
		}
		for _, name := range strings.Split(f.Message, ", ") {
			if !slices.Contains(fins, name) {
				fins = append(fins, name)
			}
		}
		return true
	})
	if len(fins) == 0 {
		fins = v.p.Spec.Finalizers
		ev = []podtrace.Evidence{{AuditID: v.p.Spec.At.AuditID, Time: v.p.Spec.At.Time(), Text: "metadata.finalizers: " + strings.Join(fins, ", ")}}
	}
	if len(fins) == 0 {
		return hit{}, false
	}
	msg := "The finalizer(s) %s have kept the deleted pod for %s: the controller that added them has not removed them."
	if gone {
		msg = "The finalizer(s) %s kept the deleted pod for %s before they were removed."
	}
	h := hit{
		msg: fmt.Sprintf(msg, strings.Join(fins, ", "), seconds(d)),
		ev:  append([]podtrace.Evidence{v.deleteStart()}, ev...),
	}
	h.owner = podtrace.OwnerPlatform
	for _, f := range fins {
		if !strings.Contains(f, "kubernetes.io/") {
			h.owner = user // a finalizer of the user's own controller
		}
	}
	return h, true
}

func terminationSlow(v *view) (hit, bool) {
	d, gone, late := v.overdue()
	if !late {
		return hit{}, false
	}
	_, ev := v.collect(func(f *lifecycle.Fact) bool {
		return f.Source == "event" && (f.Reason == "Killing" || f.Reason == "ExceededGracePeriod" || f.Reason == "FailedPreStopHook")
	})
	ev = append([]podtrace.Evidence{v.deleteStart()}, ev...)
	verb := "has not finished after"
	if gone {
		verb = "took"
	}
	return hit{msg: fmt.Sprintf("Deleting the pod %s %s, more than its %s grace period.", verb, seconds(d), seconds(v.grace())), ev: ev}, true
}
