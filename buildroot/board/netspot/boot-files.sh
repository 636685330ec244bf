#!/bin/sh
#
# boot-files.sh CMDLINE_FILE OUT_DIR: makes U-Boot's files of the boot
# partition in OUT_DIR:
#
#   boot.scr    the A/B boot script (boot.cmd.in), with CMDLINE_FILE as the
#               kernel command line when no firmware device tree gives one
#   uboot.env   U-Boot's first environment (uboot-env.txt): boots
#               boot.scr, slot A first; RAUC (fw_setenv) and boot.scr
#               change it afterwards
#
# Needs mkimage and mkenvimage (U-Boot's tools).
#

set -eu

if [ $# -ne 2 ]; then
	echo "usage: $0 CMDLINE_FILE OUT_DIR" >&2
	exit 2
fi
here=$(dirname "$0")
cmdline=$(tr -d '\r\n' <"$1")
case $cmdline in
*root=*)
	echo "boot-files: $1 sets root=: the boot script chooses the root slot" >&2
	exit 1
	;;
esac
mkdir -p "$2"
sed "s|@CMDLINE@|$cmdline|" "$here/boot.cmd.in" >"$2/boot.cmd"
mkimage -A arm -O linux -T script -C none -n "netspot A/B boot" -d "$2/boot.cmd" "$2/boot.scr" >/dev/null
# The size of the environment U-Boot is built with for the Raspberry Pi
# (CONFIG_ENV_SIZE); fw_env.config says the same.
mkenvimage -s 0x4000 -o "$2/uboot.env" "$here/uboot-env.txt"
