#!/bin/bash
#
# Assembles the SD-card image and the update bundle of the netspot
# appliance.
#
# usage: post-image.sh BINARIES_DIR BOARD (buildroot passes the images
# directory, and BOARD from BR2_ROOTFS_POST_SCRIPT_ARGS)
#
#   sdcard.img   genimage.cfg.in: the FAT boot partition (the Raspberry Pi
#                firmware, its config.txt and cmdline.txt, device trees,
#                U-Boot with its A/B boot script and environment, and
#                netspot-setup.txt for the user), root filesystem slot A,
#                an empty slot B, and an empty data partition
#   netspot-BOARD-VERSION.raucb
#                the update bundle of the same root filesystem, signed with
#                the key of $NETSPOT_RAUC_KEY_DIR (see make-bundle.sh)
#

set -euo pipefail

BOARD=${2:?usage: post-image.sh BINARIES_DIR BOARD}
BOARD_DIR=$(dirname "$0")
GENIMAGE_CFG=$BINARIES_DIR/genimage.cfg
GENIMAGE_TMP=$BUILD_DIR/genimage.tmp

cp "$BOARD_DIR/netspot-setup.txt" "$BINARIES_DIR/"
"$BOARD_DIR/boot-files.sh" "$BINARIES_DIR/rpi-firmware/cmdline.txt" "$BINARIES_DIR"

kernel=$(sed -n 's/^kernel=//p' "$BINARIES_DIR/rpi-firmware/config.txt")
if [ "$kernel" != u-boot.bin ]; then
	echo "post-image: config.txt must boot U-Boot (kernel=u-boot.bin), not $kernel" >&2
	exit 1
fi
files=()
for f in "$BINARIES_DIR"/*.dtb "$BINARIES_DIR"/rpi-firmware/*; do
	[ -e "$f" ] && files+=("${f#"$BINARIES_DIR"/}")
done
files+=(u-boot.bin boot.scr uboot.env netspot-setup.txt)

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

version=${NETSPOT_IMAGE_VERSION:-$(date -u +%Y%m%d%H%M%S)}
rm -f "$BINARIES_DIR"/netspot-"$BOARD"-*.raucb
RAUC=$HOST_DIR/bin/rauc "$BOARD_DIR/make-bundle.sh" "$BINARIES_DIR/rootfs.ext4" "$BOARD" \
	"$version" "${NETSPOT_RAUC_KEY_DIR:?NETSPOT_RAUC_KEY_DIR is not set}" \
	"$BINARIES_DIR/netspot-$BOARD-$version.raucb"
