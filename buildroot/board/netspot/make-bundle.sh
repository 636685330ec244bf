#!/bin/sh
#
# make-bundle.sh ROOTFS_EXT4 BOARD VERSION KEY_DIR OUT: makes the RAUC
# update bundle OUT for BOARD (compatible "netspot-BOARD") from the root
# filesystem image ROOTFS_EXT4, signed with KEY_DIR/signing.key.pem and
# KEY_DIR/signing.cert.pem (see make-keys.sh).
#
# The bundle is in RAUC's verity format: the box checks each block of it as
# it reads it. RAUC is $RAUC, or rauc from the PATH; it needs mksquashfs.
#

set -eu

if [ $# -ne 5 ]; then
	echo "usage: $0 ROOTFS_EXT4 BOARD VERSION KEY_DIR OUT" >&2
	exit 2
fi
rootfs=$1
board=$2
version=$3
keys=$4
out=$5
rauc=${RAUC:-rauc}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/bundle"
cat >"$tmp/bundle/manifest.raucm" <<MANIFEST
[update]
compatible=netspot-$board
version=$version
description=netspot appliance for $board

[bundle]
format=verity

[image.rootfs]
filename=rootfs.ext4
MANIFEST
# A hard link when possible: the image is large.
ln "$rootfs" "$tmp/bundle/rootfs.ext4" 2>/dev/null || cp "$rootfs" "$tmp/bundle/rootfs.ext4"
rm -f "$out"
"$rauc" bundle --cert="$keys/signing.cert.pem" --key="$keys/signing.key.pem" \
	"$tmp/bundle" "$out" >"$tmp/log" 2>&1 || {
	cat "$tmp/log" >&2
	exit 1
}
echo "make-bundle: $out (netspot-$board $version)"
