// Package correlate joins component spans — kube-apiserver requests, kubelet
// pod syncs and their CRI calls, container runtime spans — to the pod
// deliveries they served, and derives the components' golden signals from
// them.
//
// # What joins what
//
//   - An apiserver request span carries the attribute audit-id, the auditID of
//     the audit event the request produced. Once a pod's milestones or facts
//     carry that audit id, the request joins the pod, and the delivery whose
//     milestone the event proved.
//   - A kubelet sync span (syncPod, syncTerminatingPod, syncTerminatedPod)
//     carries k8s.pod.uid; a containerd span may carry pod.uid. They join the
//     pod with that uid, and the delivery whose time window holds them.
//   - A CRI call (RunPodSandbox, CreateContainer, StartContainer, PullImage, ...)
//     or a container runtime span joins through its trace: the pod of a sync
//     span in the same trace. Runtime spans naming a sandbox.id or
//     container.id join through the ids learned from spans already joined.
//
// Spans that arrive before the pod (or the audit event, or the sync span of
// their trace) are held and joined when it arrives; held spans are bounded in
// number and in event time, and those dropped are counted. Spans that can
// never join a delivery — the apiserver's reads, leases, other resources; the
// kubelet's relists — are dropped as they are decoded, after feeding the
// golden-signal metrics.
//
// # Who owns what
//
// A Joiner takes spans from any number of receiver goroutines (ConsumeSpans:
// classify, count, journal the spans that can join a delivery as entries of
// kind "span", return once they are durable) and joins them on the ingest
// pipeline's apply goroutine (it is the pipeline's EntryHandler for spans),
// the one goroutine that owns the pods, so spans and audit events change a
// pod in journal order and without locks. After a restart the pipeline
// applies again the span entries from the oldest one still held, so no
// acknowledged span is lost to a crash. At save time the Joiner is an ingest.Analyzer: it learns the audit
// ids of the pods that changed, joins the spans held for them, and fills each
// record's spans and trace id (podtrace.TraceID).
package correlate
