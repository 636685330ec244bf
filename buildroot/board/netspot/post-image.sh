#!/bin/bash
#
# Assembles sdcard.img from genimage.cfg.in: the FAT boot partition (the
# Raspberry Pi firmware, kernel, device trees, and netspot-setup.txt for
# the user), the read-only root filesystem, and an empty data partition.
#

set -euo pipefail

BOARD_DIR=$(dirname "$0")
GENIMAGE_CFG=$BINARIES_DIR/genimage.cfg
GENIMAGE_TMP=$BUILD_DIR/genimage.tmp

cp "$BOARD_DIR/netspot-setup.txt" "$BINARIES_DIR/"

files=()
for f in "$BINARIES_DIR"/*.dtb "$BINARIES_DIR"/rpi-firmware/*; do
	[ -e "$f" ] && files+=("${f#"$BINARIES_DIR"/}")
done
kernel=$(sed -n 's/^kernel=//p' "$BINARIES_DIR/rpi-firmware/config.txt")
files+=("$kernel" netspot-setup.txt)

boot_files=$(printf '\\t\\t\\t"%s",\\n' "${files[@]}")
sed "s|#BOOT_FILES#|$boot_files|" "$BOARD_DIR/genimage.cfg.in" >"$GENIMAGE_CFG"

# genimage copies --rootpath; the root filesystem image is already built,
# so give it an empty directory.
ROOTPATH_TMP=$(mktemp -d)
trap 'rm -rf "$ROOTPATH_TMP"' EXIT
rm -rf "$GENIMAGE_TMP"

genimage \
	--rootpath "$ROOTPATH_TMP" \
	--tmppath "$GENIMAGE_TMP" \
	--inputpath "$BINARIES_DIR" \
	--outputpath "$BINARIES_DIR" \
	--config "$GENIMAGE_CFG"
