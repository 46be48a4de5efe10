package diagnosis

import (
	"reflect"
	"strings"
	"testing"
)

// Messages as kube-scheduler v1.34 writes them (the first two from the
// real captures).
var schedulerMessages = []struct {
	msg   string
	nodes int
	want  []Cause
}{
	{"0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory. no new claims to deallocate, preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.", 1,
		[]Cause{{"InsufficientCPU", 1, "Insufficient cpu"}, {"InsufficientMemory", 1, "Insufficient memory"}}},
	{"0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector. no new claims to deallocate, preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.", 2,
		[]Cause{{"NodeSelectorMismatch", 2, "node(s) didn't match Pod's node affinity/selector"}}},
	{"0/3 nodes are available: 1 node(s) had untolerated taint {node.example.com/pool: gpu.large}, 2 Insufficient nvidia.com/gpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.", 3,
		[]Cause{{"UntoleratedTaint", 1, "node(s) had untolerated taint {node.example.com/pool: gpu.large}"}, {"InsufficientExtendedResource", 2, "Insufficient nvidia.com/gpu"}}},
	{`0/3 nodes are available: persistentvolumeclaim "data.v1" not found. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.`, 3,
		[]Cause{{"PVCNotFound", 0, `persistentvolumeclaim "data.v1" not found`}}},
	{"0/5 nodes are available: 5 node(s) exceed max volume count.", 5, []Cause{{"", 5, "node(s) exceed max volume count"}}},
	{"no nodes available to schedule pods", 0, []Cause{{"NodesUnschedulable", 0, "no nodes available to schedule pods"}}},
	{"0/0 nodes are available: .", 0, []Cause{{"NodesUnschedulable", 0, "the cluster has no nodes"}}},
}

func TestParseSchedulerMessage(t *testing.T) {
	for _, c := range schedulerMessages {
		m, ok := ParseSchedulerMessage(c.msg)
		if !ok || m.Nodes != c.nodes || !reflect.DeepEqual(m.Causes, c.want) {
			t.Errorf("%q:\n got %d %+v\nwant %d %+v", c.msg, m.Nodes, m.Causes, c.nodes, c.want)
		}
	}
	if _, ok := ParseSchedulerMessage(" "); ok {
		t.Error("empty message parsed")
	}
}

// FuzzParseSchedulerMessage: any input parses without panicking, and every
// cause's text comes from the message.
func FuzzParseSchedulerMessage(f *testing.F) {
	for _, c := range schedulerMessages {
		f.Add(c.msg)
	}
	f.Add("0/")
	f.Add(`0/3 nodes are available: {"unclosed, 1 x.`)
	f.Fuzz(func(t *testing.T, msg string) {
		m, ok := ParseSchedulerMessage(msg)
		if !ok {
			return
		}
		for _, c := range m.Causes {
			if c.Nodes < 0 || (c.Code != "NodesUnschedulable" && !strings.Contains(msg, c.Text)) {
				t.Fatalf("cause %+v not from %q", c, msg)
			}
		}
	})
}
