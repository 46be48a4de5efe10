# podtrace — see README.md
GO ?= go
# podtrace builds with go.mod's toolchain line (go1.27.3: the Go 1.26.8 this
# machine has carries known vulnerabilities in net/http, crypto/tls, crypto/x509
# and html/template, and its GOTOOLCHAIN=local ignores that line); the go
# command fetches it from the module proxy once
export GOTOOLCHAIN ?= $(shell sed -n 's/^toolchain //p' go.mod)

.PHONY: test unit race fuzz-short bench e2e demo build image test-postgres vulncheck loadtest ui ui-test

## test: everything CI runs on every change (unit, golden, HTTP, race detector, short fuzz)
test: unit race fuzz-short

unit:
	$(GO) vet ./...
	$(GO) test -count=1 ./...
	cd deploy && $(GO) vet -mod=mod ./... && $(GO) test -mod=mod -count=1 ./...

## race: the race detector over the packages whose goroutines share state (listeners,
## receivers, the pipeline, exporters); -short leaves out only the 100k-event hostile-input
## test (over 10 minutes under the detector; the unit pass runs it)
RACE_PKGS = ./server/... ./otlp/... ./webhook/... ./inflight/... ./ingest/... ./auditfile/... \
	./traceexport/... ./retention/... ./auth/... ./tlsconfig/...
race:
	$(GO) test -race -short -count=1 $(RACE_PKGS)

## fuzz-short: every fuzz target briefly (long runs: FUZZTIME=10m make fuzz-short)
FUZZTIME ?= 10s
fuzz-short:
	scripts/fuzz.sh $(FUZZTIME)

## test-postgres: the store suite, crash, replica and secrets tests against a throwaway PostgreSQL
test-postgres:
	scripts/with-postgres.sh $(GO) test -count=1 ./storetest/... ./postgres/... ./sqlite/... ./crashtest/... ./server/... ./retention/...

## vulncheck: govulncheck ./... (pinned), after checking a made-up finding fails it; skipped,
## loudly, where the database is unreachable (VULNDB=file:///path: a local copy)
vulncheck:
	scripts/vulncheck.sh

## loadtest: sustained webhook throughput with apiserver-shaped batches: events/s, ack latency p50/p99
loadtest:
	scripts/loadtest.sh

## bench: throughput of the hot paths, and of a whole replay of a large synthetic file
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...
	$(GO) run ./cmd/podtrace bench --copies 200

## ui: rebuild the web UI (ui/web, Vite + TypeScript) into ui/dist with npm; the Go
## build never needs node: ui/dist is committed and embedded with go:embed. (npm install,
## not npm ci: the registry here lacks rollup's other-platform packages, which npm ci
## insists on finding in the lock file.)
ui:
	cd ui/web && npm install --no-audit --no-fund --no-save && npm run build

## ui-test: check ui/dist is built from ui/web, then the browser test: headless Chromium
## (apt-get install chromium) via playwright-core against a real podtrace serve loaded with
## the real captures; screenshots in ui/e2e/artifacts/
ui-test: ui
	git diff --exit-code --stat -- ui/dist || { echo "ui/dist is stale: run make ui and commit it"; exit 1; }
	cd ui/e2e && npm ci --no-audit --no-fund && npm test

## e2e: the real-cluster suite (builds and caches kube-apiserver & co. on first use), then
## the deployment manifests on the same real apiserver (deploy/, a module of its own)
e2e:
	bash e2e/run.sh
	cd deploy && PODTRACE_E2E=1 PODTRACE_E2E_BIN=$$(bash ../e2e/build.sh --print-bin-dir) \
		$(GO) test -mod=mod -count=1 -timeout 30m ./...

demo:
	$(GO) run ./cmd/podtrace demo

build:
	$(GO) build -o bin/podtrace ./cmd/podtrace
	$(GO) build -o bin/kubectl-podtrace ./cmd/kubectl-podtrace

## image: the container image (Dockerfile: static binary on distroless, non-root)
IMAGE ?= ghcr.io/podtrace/podtrace:dev
image:
	docker build -t $(IMAGE) .
