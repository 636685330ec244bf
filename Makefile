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

# --- cross-compilation: every Raspberry Pi target builds without cgo ---
CROSS_TARGETS ?= arm/6 arm/7 arm64 amd64
.PHONY: cross
cross: ## build every package for linux armv6, armv7, arm64 and amd64 with cgo off
	@for t in $(CROSS_TARGETS); do \
	  arch=$${t%/*}; arm=; [ "$$arch" != "$$t" ] && arm=$${t#*/}; \
	  echo "== linux/$$arch$${arm:+ GOARM=$$arm}"; \
	  CGO_ENABLED=0 GOOS=linux GOARCH=$$arch GOARM=$$arm $(GO) build ./... || exit 1; \
	done

# The tests of QEMU_PKGS, built for 32-bit ARMv6 (Pi 1 and Zero) and arm64, run under qemu-user.
QEMU_PKGS ?= ./board/...
.PHONY: qemu-test
qemu-test: ## run QEMU_PKGS' tests as armv6 and arm64 binaries under qemu-user
	@if ! command -v qemu-arm >/dev/null || ! command -v qemu-aarch64 >/dev/null; then \
	  if [ -n "$$CI" ]; then echo "qemu-test: qemu-user is not installed"; exit 1; fi; \
	  echo "qemu-test: skipped, qemu-user is not installed (apt-get install qemu-user)"; exit 0; \
	fi; \
	tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	for pkg in $$($(GO) list $(QEMU_PKGS)); do \
	  name=$$(echo $$pkg | tr / _); \
	  CGO_ENABLED=0 GOOS=linux GOARCH=arm GOARM=6 $(GO) test -c -o $$tmp/$$name.arm $$pkg || exit 1; \
	  CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) test -c -o $$tmp/$$name.arm64 $$pkg || exit 1; \
	  dir=$$($(GO) list -f '{{.Dir}}' $$pkg); \
	  for bin in $$tmp/$$name.arm $$tmp/$$name.arm64; do \
	    [ -e $$bin ] || continue; \
	    qemu=qemu-arm; case $$bin in *.arm64) qemu=qemu-aarch64;; esac; \
	    echo "== $$pkg under $$qemu"; \
	    (cd $$dir && $$qemu $$bin -test.count=1) || exit 1; \
	  done; \
	done

test: cross qemu-test

# --- capture generator (dev/trafficgen) ---
TRAFFICGEN    := $(GO) run ./dev/trafficgen/cmd/trafficgen
BENCH_CAPTURE ?= bin/bench-5m.pcap

.PHONY: demo-capture bench-capture

demo-capture: ## regenerate dev/demo/demo.pcapng and labels.json from dev/demo/scenario.toml
	$(TRAFFICGEN) -c dev/demo/scenario.toml -o dev/demo/demo.pcapng --labels dev/demo/labels.json

bench-capture: ## write the 5M-packet, 600 s benchmark capture to $(BENCH_CAPTURE) (about 2.3 GB; not committed)
	@mkdir -p $(dir $(BENCH_CAPTURE))
	$(TRAFFICGEN) -seed 5 -duration 10m -rate 8333 -hosts 40 -format pcap -o $(BENCH_CAPTURE) \
	    --labels $(BENCH_CAPTURE:.pcap=.labels.json) \
	    --attack syn-scan@3m+20s --attack syn-flood@5m+20s:rate=5000 --attack udp-flood@7m+20s:rate=5000

	rm -rf bin dist build/vmtest build/vmtest-bin

# --- appliance image and virtual appliance --------------------------------
# The SD-card image is built by buildroot, pinned to one LTS release whose
# commit is checked after the download.
BR_VERSION  ?= 2026.02.3
BR_COMMIT   ?= 679b9ead7620bbf193620d1ebf56f53c1764d37a
BR_GIT      ?= https://gitlab.com/buildroot.org/buildroot.git
BOARD       ?= pi4
BR_DIR      := build/buildroot-$(BR_VERSION)
IMAGE_DIR   := build/image-$(BOARD)
VM_BIN      := build/vmtest-bin/netspot-linux-arm64

.PHONY: image vm-test

image: ## build the SD-card image for BOARD (pi0 pi3 pi4 pi5): needs internet, 1-2 h, 15 GB
	@test -f buildroot/configs/netspot_$(BOARD)_defconfig || { echo "unknown BOARD=$(BOARD): one of pi0 pi3 pi4 pi5"; exit 2; }
	@if [ ! -d $(BR_DIR) ]; then \
	  git clone --quiet --depth 1 --branch $(BR_VERSION) $(BR_GIT) $(BR_DIR).tmp && \
	  test "$$(git -C $(BR_DIR).tmp rev-parse HEAD)" = $(BR_COMMIT) || { echo "buildroot $(BR_VERSION) is not commit $(BR_COMMIT)"; rm -rf $(BR_DIR).tmp; exit 1; }; \
	  mv $(BR_DIR).tmp $(BR_DIR); \
	fi
	$(MAKE) -C $(BR_DIR) O=$(CURDIR)/$(IMAGE_DIR) BR2_EXTERNAL=$(CURDIR)/buildroot netspot_$(BOARD)_defconfig
	$(MAKE) -C $(BR_DIR) O=$(CURDIR)/$(IMAGE_DIR)
	@echo "image: $(IMAGE_DIR)/images/sdcard.img"

vm-test: ## boot the virtual appliance under qemu-system-aarch64 and test it (as root, <= 10 min)
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(VM_BIN) ./cmd/netspot
	timeout 11m $(GO) run ./dev/vmtest -binary $(VM_BIN) -out build/vmtest -timeout 10m

# --- detection quality (docs/evaluation.md) ---
EVALSUITE := $(GO) run ./dev/eval/cmd/evalsuite
.PHONY: eval eval-captures eval-real

eval-captures: ## write the generated suite's captures to dev/eval/generated/captures (about 150 MB, not committed)
	$(EVALSUITE) gen

eval: eval-captures ## run the generated suite (tuning and held-out) with the default settings
	$(EVALSUITE) run dev/eval/generated

eval-real: ## run the suite of real captures (needs ../shared/pcaps beside the repository)
	$(EVALSUITE) run dev/eval/real
