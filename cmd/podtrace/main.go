// Command podtrace reconstructs every pod delivery of a Kubernetes cluster
// from kube-apiserver audit events and OpenTelemetry spans, explains slow and
// failed ones, and measures the delivery SLO. See README.md.
package main

import (
	"context"
	"os"

	"golang.org/x/term"

	"github.com/podtrace/podtrace/cli"
)

func main() {
	env := cli.Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, IsTerminal: term.IsTerminal(int(os.Stderr.Fd()))}
	os.Exit(cli.Run(context.Background(), os.Args[1:], env))
}
