// Command testimage is every container of the real-node end-to-end tests: one
// small static program (CGO_ENABLED=0, stdlib only) whose flags make it behave
// like the workload a scenario needs, so the suite needs no image from a
// registry it cannot reach. Package registry builds it, packs it as the only
// file of an image (/testimage, the image's entrypoint) and serves it.
//
// Flags, all optional and freely combined:
//
//	-print TEXT [-print-every DUR]   print TEXT at start (and every DUR)
//	-exit-after DUR -exit-code N     exit N after DUR (0 = at once)
//	-termination-message TEXT        write TEXT to -termination-log (default
//	                                 /dev/termination-log) before that exit
//	-alloc-mib N                     allocate and write N MiB, keep running
//	                                 (an OOM kill under a smaller memory limit)
//	-listen ADDR                     HTTP: /ready (503 until -ready-after, or
//	                                 always with -never-ready), /healthz (500
//	                                 once -unhealthy-after passed), / (200);
//	                                 prints "listening on HOST:PORT"
//	-ready-file PATH                 create PATH once -ready-after passed
//	-check-file PATH                 exec probe: exit 0 if PATH exists, else 1
//	-ignore-sigterm                  survive SIGTERM (the kubelet then kills
//	                                 it after the grace period)
//
// Without flags it is a pause container: it blocks until SIGTERM or SIGINT,
// prints "terminating" and exits 0.
package main
