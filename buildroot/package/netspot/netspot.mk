################################################################################
#
# netspot
#
################################################################################

# The package is built from the source tree that holds this external
# tree, so the image always carries the code it was built from. The
# version names the commit (and "-dirty" for uncommitted changes).
NETSPOT_VERSION := $(shell git -C $(BR2_EXTERNAL_NETSPOT_PATH) describe --tags --always --dirty 2>/dev/null || echo local)
NETSPOT_SITE = $(BR2_EXTERNAL_NETSPOT_PATH)/..
NETSPOT_SITE_METHOD = local

# Build outputs of the source tree (images, binaries, vendored copies)
# are not sources: keep them out of the copy.
NETSPOT_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS = \
	--exclude=/build --exclude=/bin --exclude=/dist --exclude=/vendor

NETSPOT_GOMOD = netspot
NETSPOT_BUILD_TARGETS = cmd/netspot
NETSPOT_LDFLAGS = -s -w -X main.version=$(NETSPOT_VERSION)
# The image leaves out `netspot eval --plot` (gonum/plot and its fonts,
# about 7 MB): plots are drawn on a workstation.
NETSPOT_TAGS = noplot

# netspot needs no C library: a static binary whatever the toolchain.
NETSPOT_GO_ENV = CGO_ENABLED=0

# Go packages are built offline from a vendor/ directory that the
# download step of a tarball or git source creates. A local source has
# no download step, so vendor the modules here, once the host Go is
# built. go.sum verifies every module; the module cache lives in the
# download directory, so that later builds need no network.
NETSPOT_GOPROXY = https://proxy.golang.org,direct

define NETSPOT_VENDOR_MODULES
	cd $(@D) && $(HOST_GO_COMMON_ENV) \
		GOPROXY=$(NETSPOT_GOPROXY) \
		GOMODCACHE=$(NETSPOT_DL_DIR)/go-mod \
		$(GO_BIN) mod vendor -modcacherw
endef
NETSPOT_PRE_CONFIGURE_HOOKS += NETSPOT_VENDOR_MODULES

$(eval $(golang-package))
