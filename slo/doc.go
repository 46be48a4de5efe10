// Package slo gives every pod delivery a target and a verdict, splits its
// time between the platform and the user, and computes the Kubernetes
// community's pod startup SLI.
//
// # Using it
//
//	cfg, err := slo.Parse(file)              // or slo.DefaultConfig()
//	ev, err := slo.New(cfg)
//	r.Diagnosis = engine.Diagnose(pod, &r)   // first: owners attribute time
//	r.SLO = ev.Evaluate(pod, &r)
//	if s, ok := slo.StartupSLI(pod, &r); ok { ... }
//
// # Targets
//
// The rule file is YAML, decoded strictly (unknown keys fail) and
// validated (every error reported, with its key path). Rules are tried in
// order; the first whose match holds and that has a target for the
// delivery's kind wins (create targets also serve upgrades); otherwise
// the default applies. A match may test namespaces (names or globs), labels,
// workload (job: Job/CronJob; service: ReplicaSet, Deployment, StatefulSet,
// DaemonSet, ReplicationController; standalone: no controller), owner
// kinds, the summed CPU and memory requests (min_cpu, min_memory), GPUs,
// the number of containers (with init containers) and volumes, and PVCs.
//
//	rules:
//	  - name: batch
//	    match: {namespaces: [batch-*], workload: job}
//	    create: 3m
//	default: {create: 90s, delete: 30s}
//
// The defaults (DefaultConfig), first match wins:
//
//	gpu              gpu: true              create 5m   delete 2m
//	stateful         pvc: true              create 3m   delete 2m
//	large-cpu        min_cpu: "16"          create 3m
//	large-memory     min_memory: 64Gi       create 3m
//	many-containers  min_containers: 5      create 2m
//	many-volumes     min_volumes: 10        create 2m
//	default                                 create 90s  delete 30s
//
// # Definitions
//
// total_seconds: a delivery's length: from its start (the create request's
// arrival; for a delete, the delete or eviction request; for an upgrade, the
// spec change) to its end (Ready, Succeeded or Failed, cut short by deletion
// or eviction; for a delete, the pod gone), or, while it is open, to the
// latest event seen about it.
//
// user_seconds, for create and upgrade deliveries: the union of
//   - the readiness phase (containers started → Ready: readiness and startup
//     probes, postStart hooks, the app's own start-up),
//   - every phase whose first diagnosis finding is owned by the user (a
//     wrong image name holds the image phase, a missing ConfigMap the phase
//     where it was missed, a refused create the admission phase), where a
//     finding belongs to the phase it names, or else to the phase its first
//     evidence falls in,
//   - the init containers' run (sandbox ready → Initialized).
//
// user_seconds, for delete deliveries: the graceful-shutdown window,
// min(total, grace period), since the app's own shutdown runs in it; all of
// it when the root finding is the user's (a finalizer of their controller).
//
// platform_seconds = total_seconds − user_seconds.
//
// met compares platform_seconds with target_seconds: false as soon as
// platform time exceeds the target (even while open); otherwise, once the
// delivery ends, true if it ended well (Ready, Succeeded, gone), or if it
// failed for a reason the user owns (the first finding's owner); false if
// it failed or was evicted for a platform reason; null (undecided) while it
// is open, or when a create was deleted before it was Ready within target.
// A refused create (quota, webhook, validation) is a failed delivery with
// its admission time owned by the user.
//
// rule names the rule that set the target, or "default".
//
// # Pod startup SLI
//
// StartupSLI follows the community definition that kubelet exposes as
// kubelet_pod_start_sli_duration_seconds: from the pod's creation to all
// its containers started (as observed), excluding the time spent pulling
// images (first Pulling → last Pulled before the start) and running init
// containers (sandbox ready → Initialized), for stateless pods only (no
// PersistentVolumeClaim or ephemeral volume). podtrace measures it from the
// create request (sub-second) where kubelet uses creationTimestamp (seconds).
package slo
