# netspot — build, test and demo targets. `make help` lists them.

GO          ?= go
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT      ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS     := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
BIN         := bin/netspot

.PHONY: help build demo test unit lint bench fuzz clean

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

clean: ## remove build outputs
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
