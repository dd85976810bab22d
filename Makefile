# ferry: build, test, lint. `make build` then `make test` from a fresh clone.
GO ?= go

.PHONY: setup build test unit e2e lint fmt quickstart example-buildpack example-oci example-npm golden clean

build:
	$(GO) build -o bin/ferry ./cmd/ferry

# Everything the tests need on a fresh machine: the real servers provider
# tests run against (Debian packages; needs root) and the binary.
setup:
	bash .ci/install-test-servers
	$(GO) mod download
	$(MAKE) build

# The whole suite: lint, unit, provider and end-to-end tests.
test: lint
	$(GO) test -count=1 ./...

unit:
	$(GO) test ./planner/... ./providers/... ./state/...

e2e:
	$(GO) test -count=1 ./cmd/ferry/

lint:
	$(GO) vet ./...
	@out="$$(gofmt -l .)"; if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

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

# Rewrite the planner's golden plans after an intended change; review the diff.
golden:
	$(GO) test ./planner/ -run TestGolden -update

clean:
	rm -rf bin
