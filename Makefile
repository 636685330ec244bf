# netspot — build, test and demo targets. `make help` lists them.

GO          ?= go
# staticcheck is a tool dependency of go.mod (go get -tool …@v0.8.2): built
# once into the build cache, at the version go.sum pins.
STATICCHECK ?= $(GO) tool staticcheck
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT      ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS     := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
BIN         := bin/netspot

.PHONY: help build demo test unit lint bench fuzz clean calibration man

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 16

build: ## build bin/netspot for this machine (static, no cgo)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/netspot

demo: build ## replay the bundled demo capture: learning, watching, alarms
	./$(BIN) run -c dev/demo/netspot.toml

test: lint unit ## everything CI checks: formatting, vet, staticcheck, race-enabled tests

# dev/testsum runs go test -json and prints a line per package as it ends,
# the output of failed tests, the packages still running every 30 s, and a
# summary.
TESTFLAGS ?= -race -count=1
unit: ## the tests, with the race detector, a line per package as it ends
	$(GO) run ./dev/testsum $(TESTFLAGS) ./...

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

clean: ## remove build outputs (the buildroot checkout and image in build/ are kept)
	rm -rf bin dist build/vmtest build/vmtest-bin

# --- release binaries, packages and their tests on ARM (see the README's Install) ---
# dist/netspot-linux-<target>: static (cgo off), -trimpath, stripped, stamped with VERSION
# and COMMIT. No VCS stamp (-buildvcs=false): the same sources, VERSION, COMMIT and Go
# version give the same bytes wherever the tree is (make cross-repro checks it).
# armv6: every Pi on a 32-bit system (Pi 1 and Zero included); armv7: Pi 2 and later;
# arm64: Pi 3 and later on a 64-bit system; amd64: PCs.
DIST          ?= dist
CROSS_TARGETS ?= armv6 armv7 arm64 amd64
DEB_ARCHES    ?= armhf arm64 amd64
DEB_MAINTAINER ?= $(shell git log -1 --format='%an <%ae>' 2>/dev/null)
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
export SOURCE_DATE_EPOCH
QEMU_ARM      ?= qemu-arm-static
QEMU_ARM64    ?= qemu-aarch64-static
CHROOT        ?= bin/chroot-bookworm
DEBIAN_MIRROR ?= http://deb.debian.org/debian

.PHONY: cross deb docker test-cross cross-unit cross-repro dist-test chroot

# Release binaries leave out `netspot eval --plot` (gonum/plot and its fonts, about 7 MB):
# plots are drawn on a workstation with `make build`; the box keeps a small binary.
RELEASE_TAGS ?= noplot

cross: ## static, stripped, reproducible binaries in dist/ for armv6, armv7, arm64 and amd64
	@mkdir -p $(DIST)
	@set -e; for t in $(CROSS_TARGETS); do \
	  case $$t in \
	    armv6) env="GOARCH=arm GOARM=6";; armv7) env="GOARCH=arm GOARM=7";; \
	    arm64) env="GOARCH=arm64 GOARM64=v8.0";; amd64) env="GOARCH=amd64 GOAMD64=v1";; \
	    *) echo "cross: unknown target $$t (armv6 armv7 arm64 amd64)"; exit 2;; \
	  esac; \
	  echo "== $(DIST)/netspot-linux-$$t ($$env)"; \
	  env CGO_ENABLED=0 GOOS=linux GOFLAGS=-mod=readonly $$env \
	    $(GO) build -trimpath -buildvcs=false -tags '$(RELEASE_TAGS)' -ldflags '$(LDFLAGS)' -o $(DIST)/netspot-linux-$$t ./cmd/netspot; \
	done

# The manual pages and completion scripts come from the command tree of a
# netspot built for this machine (the release binaries may be for another
# processor); their date is SOURCE_DATE_EPOCH's, so they are reproducible.
HOST_BIN := bin/netspot-host
man: ## a manual page per command in $(DIST)/man, completion scripts for bash, zsh and fish in $(DIST)/completion
	@mkdir -p bin
	CGO_ENABLED=0 $(GO) build -trimpath -buildvcs=false -tags '$(RELEASE_TAGS)' -ldflags '$(LDFLAGS)' -o $(HOST_BIN) ./cmd/netspot
	rm -rf $(DIST)/man $(DIST)/completion
	$(HOST_BIN) man $(DIST)/man
	@mkdir -p $(DIST)/completion
	$(HOST_BIN) completion bash > $(DIST)/completion/netspot
	$(HOST_BIN) completion zsh > $(DIST)/completion/_netspot
	$(HOST_BIN) completion fish > $(DIST)/completion/netspot.fish

deb: cross man ## Debian packages in dist/ for Raspberry Pi OS and Debian (armhf gets the armv6 binary)
	@set -e; rm -f $(DIST)/netspot_*.deb; for a in $(DEB_ARCHES); do \
	  case $$a in armhf) t=armv6;; arm64) t=arm64;; amd64) t=amd64;; \
	    *) echo "deb: unknown architecture $$a (armhf arm64 amd64)"; exit 2;; esac; \
	  DEB_MAINTAINER='$(DEB_MAINTAINER)' COMMIT='$(COMMIT)' GO='$(GO)' \
	    MAN_DIR=$(DIST)/man COMPLETION_DIR=$(DIST)/completion \
	    dev/dist/mkdeb $$a $(DIST)/netspot-linux-$$t '$(VERSION)' $(DIST); \
	done

docker: ## multi-arch image with Dockerfile.cross (needs docker buildx and a Docker engine)
	docker buildx build -f Dockerfile.cross --build-arg VERSION=$(VERSION) --build-arg COMMIT=$(COMMIT) \
	    --platform linux/arm/v6,linux/arm/v7,linux/arm64,linux/amd64 -t netspot:$(VERSION) .

test-cross: cross-unit cross-repro dist-test ## ARM tests under qemu-user, replay compared across architectures, reproducible builds, packages

# Every package's tests as arm64 (Pi 3) and armv7 (Pi 2) binaries, the board's as armv6
# (Pi 1, Zero), each under qemu-user emulating that board's processor. Live capture tests are
# left out (TestLiveVeth, TestSignalsStopCleanly and TestSIGHUPReloads, which also build and
# run the command): qemu-user does not emulate the AF_PACKET ring's socket options; they run
# natively, as do the kill -9 test and those that run the command in bash, on a pipe and on a
# pseudo-terminal, which build the command for the machine they run on.
# The development tools that never run on a board (the evaluation suites, the traffic
# generator's long runs, the SPOT calibration) are tested natively only: emulated, they
# would take most of CI's time; the replay of the same capture by every architecture's
# binary (dist-test) checks that the boards compute what a PC does.
CROSS_SKIP := ^(TestLiveVeth|TestSignalsStopCleanly|TestSIGHUPReloads|TestAlarmsSurviveKillDuringReplay|TestCompletionInBash|TestRunReadsAPipe|TestConsoleOnATerminal)$$
CROSS_PKGS = $$($(GO) list ./... | grep -v -e /dev/eval -e /dev/trafficgen -e /dev/spotcal)
cross-unit: ## every package's tests built for arm64 and armv7, run under qemu-user
	@set -e; $(call need_qemu,cross-unit); \
	echo "== every package builds for armv6"; \
	CGO_ENABLED=0 GOOS=linux GOARCH=arm GOARM=6 $(GO) build ./...; \
	echo "== arm64 (Cortex-A53) tests"; \
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) test -count=1 -exec '$(QEMU_ARM64) -cpu cortex-a53' -skip '$(CROSS_SKIP)' $(CROSS_PKGS); \
	echo "== armv7 (Cortex-A7) tests"; \
	CGO_ENABLED=0 GOOS=linux GOARCH=arm GOARM=7 $(GO) test -count=1 -exec '$(QEMU_ARM) -cpu cortex-a7' -skip '$(CROSS_SKIP)' $(CROSS_PKGS); \
	echo "== armv6 (ARM1176) tests of the board"; \
	CGO_ENABLED=0 GOOS=linux GOARCH=arm GOARM=6 $(GO) test -count=1 -exec '$(QEMU_ARM) -cpu arm1176' ./board/...

# A second build from a copy of the tree at another path, with an empty build cache,
# must give the same bytes as dist/, binaries and packages.
cross-repro: cross deb ## rebuild dist/ from a copy of the tree with a fresh cache and compare
	@set -e; tmp=$$(mktemp -d); trap 'chmod -R u+w "$$tmp"; rm -rf "$$tmp"' EXIT; \
	mkdir "$$tmp/src"; git ls-files -z --cached --others --exclude-standard | \
	  tar --null -T - --ignore-failed-read -cf - 2>/dev/null | tar -xf - -C "$$tmp/src"; \
	echo "== rebuilding in $$tmp/src with an empty build cache"; \
	$(MAKE) --no-print-directory -C "$$tmp/src" GOCACHE="$$tmp/cache" DIST=out VERSION='$(VERSION)' COMMIT='$(COMMIT)' \
	  SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) DEB_MAINTAINER='$(DEB_MAINTAINER)' cross deb >/dev/null; \
	status=0; for f in $$(cd "$$tmp/src/out" && find . -type f | sort); do \
	  if cmp -s "$$tmp/src/out/$$f" "$(DIST)/$$f"; then echo "identical: $$f"; \
	  else echo "DIFFERENT: $$f"; status=1; fi; \
	done; exit $$status

# The checks of what is shipped (dev/dist): binaries static, stripped, stamped, small;
# the same alarms from the same capture on every architecture; the packages' contents,
# lintian, an install in a Debian chroot; the systemd unit; Dockerfile.cross.
dist-test: cross deb ## the tests of dev/dist on dist/ (chroot made with debootstrap when root)
	@set -e; root=; \
	if [ "$$(id -u)" = 0 ] && command -v debootstrap >/dev/null; then $(MAKE) --no-print-directory chroot; root=$(abspath $(CHROOT)); fi; \
	NETSPOT_DIST=$(abspath $(DIST)) NETSPOT_CHROOT=$$root NETSPOT_VERSION='$(VERSION)' NETSPOT_COMMIT='$(COMMIT)' \
	  QEMU_ARM='$(QEMU_ARM)' QEMU_ARM64='$(QEMU_ARM64)' $(GO) test -count=1 -v ./dev/dist

chroot: ## a minimal Debian bookworm with systemd in $(CHROOT) for the package install test (root, network)
	@[ -e $(CHROOT)/.complete ] || { echo "== debootstrap bookworm into $(CHROOT)"; rm -rf $(CHROOT) && mkdir -p $(CHROOT) && \
	  debootstrap --variant=minbase --include=systemd,man-db,procps bookworm $(abspath $(CHROOT)) $(DEBIAN_MIRROR) >/dev/null && \
	  touch $(CHROOT)/.complete; }

# need_qemu fails in CI (CI set) when qemu-user-static is missing, else skips the target.
need_qemu = if ! command -v $(QEMU_ARM) >/dev/null || ! command -v $(QEMU_ARM64) >/dev/null; then \
	  if [ -n "$$CI" ]; then echo "$(1): $(QEMU_ARM) or $(QEMU_ARM64) is missing (apt-get install qemu-user-static)"; exit 1; fi; \
	  echo "$(1): skipped, $(QEMU_ARM) or $(QEMU_ARM64) is missing (apt-get install qemu-user-static)"; exit 0; \
	fi

# --- capture generator (dev/trafficgen) ---
TRAFFICGEN    := $(GO) run ./dev/trafficgen/cmd/trafficgen
BENCH_CAPTURE ?= bin/bench-5m.pcap

.PHONY: demo-capture bench-capture

demo-capture: ## regenerate dev/demo/demo.pcapng and labels.json from dev/demo/scenario.toml
	$(TRAFFICGEN) -c dev/demo/scenario.toml -o dev/demo/demo.pcapng --labels dev/demo/labels.json

bench-capture: ## write the 5M-packet, 600 s mixed capture of the README's performance figures to $(BENCH_CAPTURE) (about 2.9 GB; not committed)
	@mkdir -p $(dir $(BENCH_CAPTURE))
	$(GO) run ./dev/replay -write $(BENCH_CAPTURE) -packets 5000000 -span 600s

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
VM_BIN_NEXT := build/vmtest-bin/netspot-linux-arm64-next
# Keys of the update bundles (keyring.pem, signing.cert.pem,
# signing.key.pem; buildroot/board/netspot/make-keys.sh). Empty: build/rauc-keys,
# where the first image build makes development keys.
RAUC_KEY_DIR ?=

.PHONY: image bundle vm-test vm-test-pi

image: ## build the SD-card image for BOARD (pi0 pi3 pi4 pi5): needs internet, 1-2 h, 15 GB
	@test -f buildroot/configs/netspot_$(BOARD)_defconfig || { echo "unknown BOARD=$(BOARD): one of pi0 pi3 pi4 pi5"; exit 2; }
	@if [ ! -d $(BR_DIR) ]; then \
	  git clone --quiet --depth 1 --branch $(BR_VERSION) $(BR_GIT) $(BR_DIR).tmp && \
	  test "$$(git -C $(BR_DIR).tmp rev-parse HEAD)" = $(BR_COMMIT) || { echo "buildroot $(BR_VERSION) is not commit $(BR_COMMIT)"; rm -rf $(BR_DIR).tmp; exit 1; }; \
	  mv $(BR_DIR).tmp $(BR_DIR); \
	fi
	$(MAKE) -C $(BR_DIR) O=$(CURDIR)/$(IMAGE_DIR) BR2_EXTERNAL=$(CURDIR)/buildroot netspot_$(BOARD)_defconfig
	$(MAKE) -C $(BR_DIR) O=$(CURDIR)/$(IMAGE_DIR) $(if $(RAUC_KEY_DIR),BR2_NETSPOT_RAUC_KEY_DIR=$(abspath $(RAUC_KEY_DIR)))
	@echo "image: $(IMAGE_DIR)/images/sdcard.img"

bundle: image ## the signed update bundle for BOARD (netspot-update on the box installs it); built with the image
	@ls $(IMAGE_DIR)/images/netspot-$(BOARD)-*.raucb

vm-test: ## boot the virtual appliance under qemu-system-aarch64 and test it (as root, <= 10 min)
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -trimpath -tags '$(RELEASE_TAGS)' -ldflags '$(LDFLAGS)' -o $(VM_BIN) ./cmd/netspot
	timeout 11m $(GO) run ./dev/vmtest -binary $(VM_BIN) -out build/vmtest -timeout 10m

# The SD card of the appliance (same layout: boot, slots A and B, data) on
# QEMU's Raspberry Pi 3 Model B, booted by U-Boot for the Pi 3, with A/B
# updates by RAUC to a second build of netspot stamped $(VERSION)-next.
vm-test-pi: ## boot the SD card on QEMU's Raspberry Pi 3 (raspi3b) with U-Boot and test A/B updates with RAUC (as root, <= 25 min)
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -trimpath -tags '$(RELEASE_TAGS)' -ldflags '$(LDFLAGS)' -o $(VM_BIN) ./cmd/netspot
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -trimpath -tags '$(RELEASE_TAGS)' \
	  -ldflags '-s -w -X main.version=$(VERSION)-next -X main.commit=$(COMMIT)' -o $(VM_BIN_NEXT) ./cmd/netspot
	timeout 26m $(GO) run ./dev/vmtest -machine raspi3b -binary $(VM_BIN) -update-binary $(VM_BIN_NEXT) -update-version $(VERSION)-next \
	  $(if $(VMTEST_UBOOT),-uboot $(abspath $(VMTEST_UBOOT))) -out build/vmtest-pi -timeout 25m

# --- detection quality (docs/evaluation.md) ---
EVALSUITE := $(GO) run ./dev/eval/cmd/evalsuite
.PHONY: eval eval-captures eval-real

eval-captures: ## write the generated suite's captures to dev/eval/generated/captures (about 150 MB, not committed)
	$(EVALSUITE) gen

eval: eval-captures ## run the generated suite (tuning and held-out) with the default settings
	$(EVALSUITE) run dev/eval/generated

eval-real: eval-captures ## run the suite of real captures (needs ../shared/pcaps beside the repository; its slow attacks are generated captures)
	$(EVALSUITE) run dev/eval/real
