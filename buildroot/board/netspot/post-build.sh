#!/bin/sh
#
# Finishes the root filesystem of the netspot appliance.
#
# usage: post-build.sh TARGET_DIR BOARD (buildroot passes the target
# directory, and BOARD from BR2_ROOTFS_POST_SCRIPT_ARGS)
#
# With RAUC on the target, installs its configuration for BOARD and the
# keyring: keyring.pem of the key directory $NETSPOT_RAUC_KEY_DIR (set by
# external.mk from BR2_NETSPOT_RAUC_KEY_DIR), where development keys are
# made (make-keys.sh) if there are none yet.
#

set -eu

TARGET_DIR=$1
BOARD=${2:?usage: post-build.sh TARGET_DIR BOARD}
BOARD_DIR=$(dirname "$0")

# Mount points: the data partition and the FAT boot partition (the root
# filesystem is read-only).
mkdir -p "$TARGET_DIR/data" "$TARGET_DIR/boot/firmware"

if [ -x "$TARGET_DIR/usr/bin/rauc" ]; then
	keys=${NETSPOT_RAUC_KEY_DIR:?NETSPOT_RAUC_KEY_DIR is not set}
	if [ ! -f "$keys/keyring.pem" ]; then
		echo "post-build: no RAUC keys in $keys: making development keys there"
		"$BOARD_DIR/make-keys.sh" "$keys" "netspot development"
	fi
	mkdir -p "$TARGET_DIR/etc/rauc"
	sed "s/@BOARD@/$BOARD/" "$BOARD_DIR/rauc-system.conf.in" >"$TARGET_DIR/etc/rauc/system.conf"
	install -m 0644 "$keys/keyring.pem" "$TARGET_DIR/etc/rauc/keyring.pem"
fi
