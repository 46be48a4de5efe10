# podtrace — see README.md
GO ?= go

.PHONY: test unit fuzz-short bench e2e demo build

## test: everything CI runs on every change (unit, golden, HTTP, short fuzz)
test: unit fuzz-short

unit:
	$(GO) vet ./...
	$(GO) test -count=1 ./...

## fuzz-short: every fuzz target briefly (long runs: FUZZTIME=10m make fuzz-short)
FUZZTIME ?= 10s
fuzz-short:
	@grep -rl --include='*_test.go' '^func Fuzz' . | while read f; do \
		dir=$$(dirname $$f); \
		for fn in $$(grep -o '^func Fuzz[A-Za-z0-9_]*' $$f | cut -d' ' -f2); do \
			echo "fuzz $$dir $$fn ($(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$fn$$" -fuzztime $(FUZZTIME) $$dir || exit 1; \
		done; \
	done

## bench: throughput of the hot paths, and of a whole replay of a large synthetic file
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...
	$(GO) run ./cmd/podtrace bench --copies 200

## e2e: the real-cluster suite (builds and caches kube-apiserver & co. on first use)
e2e:
	bash e2e/run.sh

demo:
	$(GO) run ./cmd/podtrace demo

build:
	$(GO) build -o bin/podtrace ./cmd/podtrace
