package diagnosis

import (
	"strconv"
	"strings"
)

// SchedulerMessage is a kube-scheduler FailedScheduling message (the same
// text is the PodScheduled=False condition's message), taken apart:
//
//	0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated
//	taint {dedicated: gpu}. preemption: 0/3 nodes are available: 3
//	Preemption is not helpful for scheduling.
type SchedulerMessage struct {
	// Nodes is the number of nodes the scheduler considered (the N of
	// "0/N nodes are available"), or -1 when the message does not say.
	Nodes int
	// Causes are the reasons the scheduler gave, in its order.
	Causes []Cause
	// Preemption is what the scheduler said about preempting other pods.
	Preemption string
}

// Cause is one reason the scheduler gave for not placing a pod.
type Cause struct {
	// Code is the diagnosis code (InsufficientCPU, UntoleratedTaint, ...),
	// or "" for a reason podtrace does not know.
	Code string
	// Nodes is how many nodes the reason ruled out; 0 when the scheduler
	// gave no count (a reason about the pod itself, such as a missing PVC).
	Nodes int
	// Text is the reason as the scheduler wrote it, without its count.
	Text string
}

const nodesAvailable = " nodes are available: "

// ParseSchedulerMessage takes a FailedScheduling message apart. It reports
// false for an empty message. It never fails on odd input: text it does not
// recognise becomes a Cause with an empty Code.
func ParseSchedulerMessage(msg string) (SchedulerMessage, bool) {
	msg = strings.TrimSpace(msg)
	if msg == "" {
		return SchedulerMessage{}, false
	}
	m := SchedulerMessage{Nodes: -1}
	i := strings.Index(msg, nodesAvailable)
	if i < 0 {
		// not a "0/N nodes" message: one reason, as it stands
		if strings.HasPrefix(msg, "no nodes available to schedule pods") {
			m.Nodes = 0
		}
		m.Causes = append(m.Causes, Cause{Code: schedulerCode(schedulerPhrases(), msg), Text: strings.TrimSuffix(msg, ".")})
		return m, true
	}
	if j := strings.LastIndexByte(msg[:i], '/'); j >= 0 {
		if n, err := strconv.Atoi(msg[j+1 : i]); err == nil && n >= 0 {
			m.Nodes = n
		}
	}
	body := msg[i+len(nodesAvailable):]
	if k := strings.Index(body, "preemption: "); k >= 0 {
		m.Preemption = strings.TrimSpace(body[k+len("preemption: "):])
		body = body[:k]
	}
	phrases := schedulerPhrases()
	splitReasons(body, func(item string, sentence int) {
		n, text := leadingCount(item)
		code := schedulerCode(phrases, text)
		// after the first sentence come post-filter notes ("no new claims
		// to deallocate"); keep only what is recognised there
		if sentence > 0 && code == "" {
			return
		}
		m.Causes = append(m.Causes, Cause{Code: code, Nodes: n, Text: text})
	})
	if len(m.Causes) == 0 && m.Nodes == 0 {
		m.Causes = append(m.Causes, Cause{Code: "NodesUnschedulable", Text: "the cluster has no nodes"})
	}
	return m, true
}

// splitReasons calls fn for every ", "- or ". "-separated item of s that is
// outside braces, brackets and quotes (a taint "{example.com/key: v}" or a
// claim name "my.claim" holds dots), with the index of its sentence.
func splitReasons(s string, fn func(item string, sentence int)) {
	depth, quoted, start, sentence := 0, false, 0, 0
	emit := func(end int) {
		if item := strings.TrimSpace(s[start:end]); item != "" {
			fn(item, sentence)
		}
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == '{' || c == '[' || c == '(':
			depth++
		case (c == '}' || c == ']' || c == ')') && depth > 0:
			depth--
		case depth > 0:
		case c == ',' && (i+1 == len(s) || s[i+1] == ' '):
			emit(i)
			start = i + 1
		case c == '.' && (i+1 == len(s) || s[i+1] == ' '):
			emit(i)
			start = i + 1
			sentence++
		}
	}
	emit(len(s))
}

// leadingCount splits "2 Insufficient cpu" into 2 and "Insufficient cpu".
func leadingCount(item string) (int, string) {
	i := 0
	for i < len(item) && item[i] >= '0' && item[i] <= '9' {
		i++
	}
	if i == 0 || i == len(item) || item[i] != ' ' || i > 9 {
		return 0, item
	}
	n, _ := strconv.Atoi(item[:i])
	return n, item[i+1:]
}

// schedulerCode maps a scheduler reason to its diagnosis code. The phrases
// are kube-scheduler's filter plugin reasons (noderesources, nodeaffinity,
// tainttoleration, nodeunschedulable, interpodaffinity, podtopologyspread,
// nodeports, volumebinding, volumezone) as of v1.34.
func schedulerCode(phrases []schedulerPhrase, text string) string {
	for _, p := range phrases {
		ok := true
		for _, n := range p.all {
			if !strings.Contains(text, n) {
				ok = false
				break
			}
		}
		if ok {
			return p.code
		}
	}
	return ""
}

type schedulerPhrase struct {
	code string
	all  []string // every phrase must occur
}

// schedulerPhrases is checked in order: the first match wins.
func schedulerPhrases() []schedulerPhrase {
	return []schedulerPhrase{
		{"InsufficientCPU", []string{"Insufficient cpu"}},
		{"InsufficientMemory", []string{"Insufficient memory"}},
		{"InsufficientExtendedResource", []string{"Insufficient "}},
		{"TooManyPods", []string{"Too many pods"}},
		{"NodeSelectorMismatch", []string{"didn't match Pod's node affinity"}},
		{"NodeSelectorMismatch", []string{"didn't match scheduler-enforced node affinity"}},
		{"NodeSelectorMismatch", []string{"didn't match the requested node name"}},
		{"UntoleratedTaint", []string{"untolerated taint"}},
		{"UntoleratedTaint", []string{"had taint", "didn't tolerate"}},
		{"NodesUnschedulable", []string{"were unschedulable"}},
		{"NodesUnschedulable", []string{"no nodes available to schedule pods"}},
		{"PodAntiAffinityConflict", []string{"anti-affinity"}},
		{"PodAntiAffinityConflict", []string{"pod affinity rules"}},
		{"TopologySpreadConflict", []string{"topology spread constraints"}},
		{"NodePortsConflict", []string{"free ports"}},
		{"PVCNotFound", []string{"persistentvolumeclaim", "not found"}},
		{"PVCUnbound", []string{"unbound immediate PersistentVolumeClaims"}},
		{"PVCUnbound", []string{"didn't find available persistent volumes to bind"}},
		{"PVCUnbound", []string{"did not have enough free storage"}},
		{"PVCUnbound", []string{"bound to non-existent pv"}},
		{"PVCUnbound", []string{"persistentvolumeclaim", "is being deleted"}},
		{"VolumeNodeAffinityConflict", []string{"volume node affinity conflict"}},
		{"VolumeNodeAffinityConflict", []string{"no available volume zone"}},
	}
}
