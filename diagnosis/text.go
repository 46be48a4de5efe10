package diagnosis

import (
	"bufio"
	"fmt"
	"io"
	"time"

	"github.com/podtrace/podtrace"
)

// WriteText writes findings for people, root cause first, as `podtrace
// explain` prints them: what went wrong, in which phase and on whose side,
// the audit records that prove it, and what to do.
//
//  1. InsufficientCPU: scheduling, a cluster (platform) problem
//     The pod cannot be placed on a node: 1 of 1 nodes do not have enough free CPU for the 1000 CPUs it requests.
//     Proof:
//     20:48:20.146  FailedScheduling: 0/1 nodes are available: 1 Insufficient cpu, ... [audit 044cdd17-…]
//     What to do: Lower the pod's CPU request ...
func WriteText(w io.Writer, fs []podtrace.Finding) error {
	bw := bufio.NewWriter(w)
	if len(fs) == 0 {
		fmt.Fprintln(bw, "No problems found: the delivery went as expected.")
		return bw.Flush()
	}
	for i, f := range fs {
		if i > 0 {
			bw.WriteByte('\n')
		}
		fmt.Fprintf(bw, "%d. %s: %s\n", i+1, f.Code, where(f))
		fmt.Fprintf(bw, "   %s\n", f.Message)
		if len(f.Evidence) > 0 {
			fmt.Fprintln(bw, "   Proof:")
			for _, e := range f.Evidence {
				fmt.Fprintf(bw, "     %s  %s", e.Time.UTC().Format(time.TimeOnly+".000"), e.Text)
				if e.AuditID != "" {
					fmt.Fprintf(bw, " [audit %s]", e.AuditID)
				}
				bw.WriteByte('\n')
			}
		}
		fmt.Fprintf(bw, "   What to do: %s\n", f.Remedy)
	}
	return bw.Flush()
}

// where says in plain words where a finding belongs.
func where(f podtrace.Finding) string {
	side := "a cluster (platform) problem"
	if f.Owner == podtrace.OwnerUser {
		side = "a problem in the pod or its configuration"
	}
	if f.Phase == "" {
		return side
	}
	return f.Phase + ", " + side
}
