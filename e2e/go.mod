module github.com/podtrace/podtrace/e2e

go 1.26.8

require (
	github.com/podtrace/podtrace v0.0.0
	k8s.io/api v0.34.10
	k8s.io/apimachinery v0.34.10
	k8s.io/client-go v0.34.10
)

// The suite tests the podtrace module in this repository, not a published one.
replace github.com/podtrace/podtrace => ../
