# make test: everything, from a fresh clone (DESIGN.md §5). .ci/run calls it.
GO ?= go
NPM ?= npm

.PHONY: test vet unit interop interop-deps bench-check bench quickstart

# bench-check after interop-deps: its smoke tests run the node cases
# (skipped without interop/node_modules).
test: interop-deps bench-check vet unit interop

vet:
	@test -z "$$(gofmt -l . | grep -v node_modules)" || { echo "gofmt needed:"; gofmt -l . | grep -v node_modules; exit 1; }
	$(GO) vet ./...
	$(GO) vet -tags interop ./interop/

unit:
	$(GO) test -race -count=1 ./...
	# Allocation budgets and scale figures, measured without the race detector
	# (it changes them, and allows only 8128 live goroutines).
	$(GO) test -count=1 -run 'Allocs|Scale' ./...

# The interop tests run the reference JavaScript implementation (npm
# futoin-executor, pinned in interop/package-lock.json) as the peer.
interop-deps:
	cd interop && $(NPM) ci --no-audit --no-fund

interop:
	$(GO) test -race -count=1 -tags interop ./interop/

# bench/ is its own module: vet, build, and run its tests.
bench-check:
	cd bench && $(GO) vet ./... && $(GO) test -count=1 ./...

# The side-by-side comparison (a few minutes); see bench/README.md.
bench:
	cd bench && $(GO) run ./cmd/compare

quickstart:
	$(GO) run ./examples/quickstart
