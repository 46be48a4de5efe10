// Package diagnosis explains pod deliveries that failed, are stuck, or
// were slow: for each it returns findings, root cause first, each with the
// audit records that prove it and one sentence saying what to do.
//
// # Using it
//
//	eng, err := diagnosis.New(diagnosis.DefaultConfig()) // cfg.Now = machine.Now for live streams
//	for _, r := range pod.Records(cluster) {
//		r.Diagnosis = eng.Diagnose(pod, &r)
//		// then slo.Evaluator.Evaluate(pod, &r), which reads the findings' owners
//	}
//	diagnosis.WriteText(os.Stdout, r.Diagnosis) // podtrace explain
//
// An Engine is safe for concurrent use; Diagnose reads the pod and the
// record and changes neither.
//
// # How it decides
//
// The rules are one table (rules.go): each row is a code, the phase it
// belongs to, who usually owns it (platform or user), the delivery kinds it
// applies to, a matcher over the pod's milestones, facts (Kubernetes
// Events, container waiting/terminated reasons, PodScheduled=False
// messages, pod status reasons, refused requests), latest status and spec,
// and a remedy. Rows are in phase order (admission, scheduling, volumes,
// sandbox, image, containers, readiness, termination), so the earliest
// blocking phase comes first; within a phase a cause precedes its
// consequences (OOMKilled before CrashLoopBackOff). Rows marked fallback
// (the "…Slow" codes, ImagePullBackOff, ContainerExitedNonZero,
// KubeletDelay) fire only if no more specific row of their phase did.
//
//   - A delivery that finished well and on time (ready or succeeded within
//     SlowDelivery; a delete within the grace period plus TerminationSlack)
//     is healthy and gets no findings, whatever hiccups it had.
//   - For a create delivery, a phase the pod got through within that
//     phase's threshold is skipped: a FailedScheduling a second before a
//     node freed up is not a cause.
//   - Facts count only inside the record's window (its creation to its
//     end; for a delete, the pod's whole life up to the end).
//   - A failed, evicted, pending-too-long or slow delivery that no row
//     explains gets Unknown, naming its longest phase: never silence.
//
// FailedScheduling and PodScheduled=False messages ("0/N nodes are
// available: 2 Insufficient cpu, 1 node(s) had untolerated taint {…}.
// preemption: …") are taken apart by ParseSchedulerMessage into every
// cause with its node count; each known cause is its own finding.
//
// All times are event times: the record's, the pod's latest event, or
// Config.Now (the stream's latest event time). The wall clock is never read,
// so a replay gives the findings a live run gave.
//
// # Adding a code
//
// Add one row to rules() in its phase, and one case file to
// testdata/rules/ (audit events in the shape the real cluster writes them,
// and the code expected first). TestRuleCases fails until every code has a
// case.
package diagnosis
