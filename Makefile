# ferry: build, test, lint. `make build` then `make test` from a fresh clone.
GO ?= go

# staticcheck, pinned; `make tools` installs it into $(go env GOBIN), else
# $(go env GOPATH)/bin, once (the go module cache keeps the download).
# Release 2026.2.2 is module version v0.8.2: installing by the module
# version needs no VCS tag lookup, which filtered module proxies refuse.
STATICCHECK_VERSION = 2026.2.2
STATICCHECK_MODULE = honnef.co/go/tools/cmd/staticcheck@v0.8.2
GOBIN_DIR := $(or $(shell $(GO) env GOBIN),$(shell $(GO) env GOPATH)/bin)
STATICCHECK ?= $(GOBIN_DIR)/staticcheck

# The race detector is on for `make test`; `make test RACE=` turns it off.
# FERRY_RACE=1 (the default with RACE) builds the binary the end-to-end
# tests run with it too, since the engine's concurrency runs there.
RACE ?= -race
FERRY_RACE ?= $(if $(RACE),1)

.PHONY: setup tools build test unit e2e lint fmt quickstart example-buildpack example-oci example-npm example-conda example-nuget golden fuzz faults bench bench-small clean

build:
	$(GO) build -o bin/ferry ./cmd/ferry

# Everything the tests need on a fresh machine: the real servers provider
# tests run against (Debian packages; needs root), staticcheck and the
# binary. Each step is a no-op when its result is already there.
setup:
	bash .ci/install-test-servers
	$(GO) mod download
	$(MAKE) tools
	$(MAKE) build

# Go tools the lint needs, at pinned versions; a no-op when they are there.
tools:
	@if "$(STATICCHECK)" -version 2>/dev/null | grep -q "^staticcheck $(STATICCHECK_VERSION) "; then :; else \
		echo "installing staticcheck $(STATICCHECK_VERSION) into $(GOBIN_DIR)"; \
		GOBIN="$(GOBIN_DIR)" $(GO) install $(STATICCHECK_MODULE); fi

# The whole suite: lint, unit, provider and end-to-end tests, with the
# race detector.
test: lint
	FERRY_RACE=$(FERRY_RACE) $(GO) test $(RACE) -count=1 -timeout 30m ./...

unit:
	$(GO) test ./planner/... ./providers/... ./state/...

e2e:
	$(GO) test -count=1 ./cmd/ferry/

lint: tools
	$(GO) vet ./...
	@out="$$(gofmt -l .)"; if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(STATICCHECK) ./...

fmt:
	gofmt -w .

quickstart: build
	./examples/quickstart/run.sh

example-buildpack: build
	./examples/buildpack/run.sh

example-oci: build
	./examples/oci/run.sh

example-npm: build
	./examples/npm/run.sh

example-conda: build
	./examples/conda/run.sh

example-nuget: build
	./examples/nuget/run.sh

# Performance harness (docs/performance.md): ferry against peer tools and
# the raw limits, into docker-registry, a dir channel (conda planning) and
# versitygw (S3). bench: the issues' sizes, 3 runs, median; bench-small:
# tiny data, 1 run (what CI runs). One scenario: go run ./bench -only s3.
bench:
	$(GO) run ./bench -size full

bench-small:
	$(GO) run ./bench -size small

# Rewrite the planner's golden plans after an intended change; review the diff.
golden:
	$(GO) test ./planner/ ./planner/plan/ ./planner/apply/ ./planner/shard/ -run 'TestGolden|TestMarkdown|TestApplyEventsGolden|TestPartitionGolden' -update

# Run every fuzz target for FUZZTIME each, one after the other (the seed
# corpora already run as plain tests in `make test`). See docs/testing.md.
FUZZTIME ?= 30s
FUZZ_TARGETS = \
	./providers/buildpack/bptoml:FuzzParseRewrite \
	./planner/config:FuzzLoad \
	./planner/plan:FuzzUnmarshal \
	./planner/plan:FuzzAddress \
	./state:FuzzDecode \
	./providers/npm:FuzzPackument \
	./providers/npm:FuzzDistDigests \
	./providers/npm:FuzzParseSeq \
	./providers/npm:FuzzSearchScope \
	./providers/npm:FuzzNpmrcToken \
	./providers/npm:FuzzParseKey \
	./providers/npm:FuzzCompareVersions \
	./providers/conda:FuzzCompareVersions \
	./providers/conda/repodata:FuzzParse \
	./providers/conda/matchspec:FuzzParse \
	./providers/conda/archive:FuzzReadMetadata \
	./providers/nuget:FuzzCompareVersions \
	./providers/nuget:FuzzNormalizeVersion \
	./planner/retention:FuzzCompareVersions \
	./providers/oci:FuzzRepoTemplate \
	./providers/oci:FuzzTag \
	./providers/oci:FuzzCheckManifest \
	./providers/httpx:FuzzRedact \
	./providers/httpx:FuzzParseRetryAfter \
	./providers/httpx:FuzzParseContentRange \
	./providers/httpsrc:FuzzParseRows

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t#*:}; \
		echo "== $$name ($$pkg, $(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 5s $$pkg; \
	done

# Reliability suites at full size (docs/reliability.md): 50 kill -9 trials
# per destination type, random upstream faults, the fault and lock tests.
# FERRY_CRASH_SEED / FERRY_FAULT_SEED replay a run (the seeds are logged).
FERRY_CRASH_TRIALS ?= 50
FERRY_FAULT_RUNS ?= 30
faults:
	@mkdir -p bin
	FERRY_CRASH_TRIALS=$(FERRY_CRASH_TRIALS) FERRY_FAULT_RUNS=$(FERRY_FAULT_RUNS) $(GO) test -count=1 -timeout 30m -v \
		-run 'TestCrashTrials|TestSourceFaults|TestSourceRandomFaults|TestDestinationFaults|TestConcurrentApplies|TestSimultaneousApplies' \
		./cmd/ferry/ > bin/faults.log 2>&1; rc=$$?; \
		grep -E '^(--- |ok|FAIL|PASS)|RESULT|SEED|seed|_test\.go:[0-9]+: ' bin/faults.log | grep -v -e 'killed after' -e 'testenv:' -e 'faultproxy: random'; \
		echo "full log: bin/faults.log"; exit $$rc
	$(GO) test -count=1 ./providers/providertest/faultproxy/

clean:
	rm -rf bin
