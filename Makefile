# netspot — build, test and demo targets. `make help` lists them.

GO          ?= go
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT      ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS     := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
BIN         := bin/netspot

.PHONY: help build demo test unit lint bench fuzz clean calibration

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 16

build: ## build bin/netspot for this machine (static, no cgo)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/netspot

demo: build ## replay the bundled demo capture: learning, watching, alarms
	./$(BIN) run -c dev/demo/netspot.toml

test: lint unit ## everything CI checks: formatting, vet, staticcheck, race-enabled tests

unit: ## the tests, with the race detector
	$(GO) test -race -count=1 ./...

lint: ## gofmt, go vet and staticcheck must be clean
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...

bench: ## benchmarks of the per-packet path and the detector
	$(GO) test -run '^$$' -bench . -benchmem ./...

FUZZTIME ?= 20s
fuzz: ## run every fuzz target for FUZZTIME each
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

calibration: ## SPOT alarm rate against q on long i.i.d. streams (the table of the spot package doc; a few minutes)
	$(GO) run ./dev/spotcal -seeds 3 -max-excess 200,1000

clean: ## remove build outputs
	rm -rf bin dist
