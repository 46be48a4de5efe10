// Command kubectl-podtrace is podtrace's kubectl plugin: on the PATH, it
// answers `kubectl podtrace pods [-n NAMESPACE]` and `kubectl podtrace
// explain NAMESPACE/NAME` from a running podtrace's REST API, at --server,
// $PODTRACE_SERVER or http://127.0.0.1:8080 (kubectl port-forward
// svc/podtrace 8080). See docs/deploy.md.
package main

import (
	"context"
	"os"

	"golang.org/x/term"

	"github.com/podtrace/podtrace/cli"
)

func main() {
	env := cli.Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, IsTerminal: term.IsTerminal(int(os.Stderr.Fd()))}
	os.Exit(cli.RunKubectl(context.Background(), os.Args[1:], env))
}
