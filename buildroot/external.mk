include $(sort $(wildcard $(BR2_EXTERNAL_NETSPOT_PATH)/package/*/*.mk))

# For post-build.sh and post-image.sh: where the RAUC keys are (keyring of
# the image, key that signs its bundles), and the version of the bundle
# (that of the netspot package: git describe of the source tree).
NETSPOT_RAUC_KEY_DIR = $(or $(call qstrip,$(BR2_NETSPOT_RAUC_KEY_DIR)),$(BR2_EXTERNAL_NETSPOT_PATH)/../build/rauc-keys)
NETSPOT_IMAGE_VERSION = $(NETSPOT_VERSION)
export NETSPOT_RAUC_KEY_DIR NETSPOT_IMAGE_VERSION
