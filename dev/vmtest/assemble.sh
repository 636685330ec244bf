#!/usr/bin/env bash
#
# Assembles the virtual appliance in OUT_DIR from Debian's arm64 packages,
# for one of two machines of qemu-system-aarch64:
#
# virt (the default): QEMU loads the kernel and initramfs itself
#   Image        the kernel (linux-image-arm64)
#   initrd.gz    BusyBox and the modules the kernel needs to reach the disk
#   sdcard.img   the appliance's partition layout (buildroot's genimage.cfg.in):
#                boot (FAT, with the files of BOOT_FILES_DIR), root
#                filesystem slot A mounted read-only, an empty slot B, and
#                an empty data partition
#
# pi3 (--board pi3, for QEMU's raspi3b): the SD card boots as on a
# Raspberry Pi 3, the firmware aside (QEMU starts U-Boot itself)
#   sdcard.img   the same layout; the boot partition also holds U-Boot for
#                the Pi 3 (u-boot-rpi), its A/B boot script and environment
#                (boot-files.sh), config.txt, cmdline.txt and the device
#                tree of the Pi 3 (bcm2837-rpi-3-b.dtb); the kernel,
#                initramfs and device tree are in /boot of the slot, and
#                RAUC (with D-Bus and fw_setenv) is in the root filesystem,
#                configured by the image's post-build.sh with the keyring
#                of KEY_DIR
#   rootfs.ext4  the root filesystem image, to make update bundles from
#
# The root filesystem holds BusyBox, dropbear and e2fsck from Debian, a
# stand-in for what buildroot's skeleton provides (rootfs-base), the
# appliance's rootfs overlay -- the very one of the SD-card image -- and
# the netspot binary.
#
# usage: assemble.sh [--board virt|pi3] [--keys KEY_DIR] OUT_DIR NETSPOT_ARM64_BINARY BOOT_FILES_DIR
#
# Needs: apt-get with the arm64 architecture enabled, dpkg-deb, depmod,
# cpio, genimage, mke2fs, mkdosfs and mtools, and for pi3 mkimage and
# mkenvimage (u-boot-tools); run as root (file owners).

set -euo pipefail

board=virt
keys=
while [ $# -gt 0 ]; do
	case $1 in
	--board)
		board=$2
		shift 2
		;;
	--keys)
		keys=$(realpath "$2")
		shift 2
		;;
	*) break ;;
	esac
done
if [ $# -ne 3 ] || { [ "$board" != virt ] && [ "$board" != pi3 ]; }; then
	echo "usage: $0 [--board virt|pi3] [--keys KEY_DIR] OUT_DIR NETSPOT_ARM64_BINARY BOOT_FILES_DIR" >&2
	exit 2
fi
if [ "$board" = pi3 ] && [ -z "$keys" ]; then
	echo "$0: --board pi3 needs --keys KEY_DIR (the RAUC keyring)" >&2
	exit 2
fi
OUT=$(realpath -m "$1")
BINARY=$(realpath "$2")
BOOT_FILES=$(realpath "$3")
HERE=$(dirname "$(realpath "$0")")
BOARD=$HERE/../../buildroot/board/netspot

die() {
	echo "assemble: $*" >&2
	exit 1
}

[ "$(id -u)" -eq 0 ] || die "run as root: the root filesystem's files must belong to root"
dpkg --print-foreign-architectures | grep -qx arm64 ||
	die "the arm64 architecture is not enabled: dpkg --add-architecture arm64 && apt-get update"
tools=(apt-get dpkg-deb depmod cpio genimage mke2fs mkdosfs mcopy gzip)
[ "$board" = pi3 ] && tools+=(mkimage mkenvimage)
for tool in "${tools[@]}"; do
	command -v "$tool" >/dev/null || die "$tool is missing"
done
file_type=$(head -c 20 "$BINARY" | od -An -tx1 | tr -d ' \n')
case $file_type in
7f454c46020101*) ;;
*) die "$BINARY is not a 64-bit ELF binary" ;;
esac

rm -rf "$OUT"
mkdir -p "$OUT/debs" "$OUT/pkgs" "$OUT/initramfs" "$OUT/rootfs" "$OUT/genimage"

# --- Debian packages --------------------------------------------------------
kernel_pkg=$(apt-cache depends linux-image-arm64:arm64 |
	awk '/Depends: linux-image-[0-9]/ { sub(":arm64", "", $2); print $2; exit }')
[ -n "$kernel_pkg" ] || die "cannot resolve linux-image-arm64 (apt-get update?)"
packages=(
	"$kernel_pkg" busybox-static dropbear-bin e2fsprogs chrony
	# their libraries
	libc6 libgcc-s1 libcrypt1 libtomcrypt1 libtommath1 libgmp10 zlib1g
	libext2fs2 libcom-err2 libblkid1 libuuid1 libss2
	libcap2 libedit2 libbsd0 libmd0 libtinfo6 libseccomp2 libgnutls30
	libnettle8 libhogweed6 libp11-kit0 libidn2-0 libunistring2 libtasn1-6
	libffi8
)
if [ "$board" = pi3 ]; then
	packages+=(
		u-boot-rpi rauc libubootenv-tool dbus-daemon dbus-bin
		# their libraries
		libubootenv0.1 libyaml-0-2 libdbus-1-3 libexpat1 libsystemd0
		libapparmor1 libaudit1 libcap-ng0 libselinux1 libpcre2-8-0
		libglib2.0-0 libjson-glib-1.0-0 libcurl3-gnutls libfdisk1
		libssl3 libmount1 libnghttp2-14 librtmp1 libssh2-1 libpsl5
		libgssapi-krb5-2 libldap-2.5-0 libzstd1 libbrotli1 libk5crypto3
		libkrb5-3 libkrb5support0 libkeyutils1 libsasl2-2 liblz4-1
		liblzma5 libgcrypt20 libgpg-error0
	)
fi
(cd "$OUT/debs" && apt-get download -q -o APT::Sandbox::User=root "${packages[@]/%/:arm64}" >/dev/null) ||
	die "apt-get download failed"
if [ "$board" = pi3 ]; then
	# Architecture "all": RAUC's D-Bus policy, and the system bus's.
	(cd "$OUT/debs" && apt-get download -q -o APT::Sandbox::User=root rauc-service dbus-system-bus-common >/dev/null) ||
		die "apt-get download failed"
fi
for deb in "$OUT"/debs/*.deb; do
	dpkg-deb -x "$deb" "$OUT/pkgs"
done
P=$OUT/pkgs
kver=$(basename "$(ls -d "$P"/lib/modules/*)")

# --- initramfs ---------------------------------------------------------------
if [ "$board" = virt ]; then
	modules=(virtio_pci virtio_blk virtio_net virtio_rng crc32c_generic ext4 vfat nls_cp437
		nls_ascii nls_utf8 nls_iso8859-1 i6300esb)
else
	# The Pi 3's SD host (sdhost), its USB controller (dwc2) and USB
	# Ethernet (QEMU's usb-net is CDC Ethernet), its watchdog, and what
	# RAUC mounts a verity bundle with (loop, squashfs, dm-verity): the
	# root filesystem has no modules, so everything is loaded here.
	modules=(bcm2835 dwc2 phy-generic usbnet cdc_ether rndis_host bcm2835_wdt
		crc32c_generic ext4 vfat nls_cp437 nls_ascii nls_utf8 nls_iso8859-1
		loop squashfs dm-verity)
fi
depmod -b "$P" "$kver"
I=$OUT/initramfs
mkdir -p "$I/bin" "$I/etc" "$I/lib/modules/$kver"
cp "$P/bin/busybox" "$I/bin/busybox"
cp "$HERE/initramfs-init" "$I/init"
chmod 0755 "$I/init"
needed=$(
	for m in "${modules[@]}"; do
		# Module names treat "-" and "_" alike (virtio-rng.ko is virtio_rng).
		path=$(awk -v m="$m" '{ name = $1; sub(":", "", name); base = name; sub(".*/", "", base); sub("[.]ko$", "", base); gsub("-", "_", base); want = m; gsub("-", "_", want); if (base == want) { print name; exit } }' \
			"$P/lib/modules/$kver/modules.dep")
		[ -n "$path" ] || die "module $m not found in $kernel_pkg"
		grep "^$path:" "$P/lib/modules/$kver/modules.dep" | tr -d ':' | tr ' ' '\n'
	done | sort -u
)
for path in $needed; do
	install -D -m 0644 "$P/lib/modules/$kver/$path" "$I/lib/modules/$kver/$path"
done
cp "$P/lib/modules/$kver"/modules.{order,builtin,builtin.modinfo} "$I/lib/modules/$kver/"
depmod -b "$I" "$kver"
printf '%s\n' "${modules[@]}" >"$I/etc/modules"
(cd "$I" && find . | cpio -o -H newc --quiet | gzip -1 >"$OUT/initrd.gz")

# --- root filesystem -----------------------------------------------------------
R=$OUT/rootfs
mkdir -p "$R"/{bin,sbin,usr/bin,usr/sbin,lib,dev,proc,sys,run,tmp,root,data,var,mnt,media}
ln -s ../run "$R/var/run"
ln -s ../tmp "$R/var/log"
ln -s ../tmp "$R/var/tmp"
ln -s ../run/lock "$R/var/lock"
cp -a "$HERE/rootfs-base/." "$R/"
ln -s ../run/resolv.conf "$R/etc/resolv.conf"
ln -s ../proc/self/mounts "$R/etc/mtab"
chmod 0600 "$R/etc/shadow"
chmod 0700 "$R/root"

cp "$P/bin/busybox" "$R/bin/busybox"
# The applets that buildroot's BusyBox installs and the appliance uses,
# where buildroot puts them.
applets=(
	bin/{ash,cat,chmod,chown,cp,date,dd,df,dmesg,echo,egrep,false,grep,hostname,kill,ln,ls,mkdir,mknod,mktemp,more,mount,mv,netstat,pidof,ping,ps,pwd,rm,rmdir,sed,sh,sleep,stty,sync,touch,true,umount,uname,vi}
	sbin/{getty,halt,ifconfig,init,klogd,mdev,modprobe,poweroff,reboot,route,start-stop-daemon,switch_root,syslogd,udhcpc,watchdog,ip,fsck}
	usr/bin/{awk,basename,clear,cmp,cut,dirname,du,env,expr,find,free,head,id,less,logger,md5sum,mkfifo,nc,nohup,printf,readlink,realpath,reset,seq,sha256sum,sort,tail,tee,test,time,top,tr,tty,uniq,uptime,wc,wget,which,xargs,yes,"["}
	usr/sbin/{ntpd,chroot}
)
for applet in "${applets[@]}"; do
	rel=$(dirname "$applet" | sed 's|[^/]*|..|g')
	ln -sf "$rel/bin/busybox" "$R/$applet"
done

install -m 0755 "$P/usr/sbin/dropbear" "$R/usr/sbin/dropbear"
install -m 0755 "$P/usr/bin/dropbearkey" "$R/usr/bin/dropbearkey"
install -m 0755 "$P/sbin/e2fsck" "$R/sbin/e2fsck"
install -m 0755 "$P/usr/sbin/chronyd" "$R/usr/sbin/chronyd"
install -m 0755 "$P/usr/bin/chronyc" "$R/usr/bin/chronyc"
cp -L "$P/lib/ld-linux-aarch64.so.1" "$R/lib/"
mkdir -p "$R/lib/aarch64-linux-gnu"
for dir in "$P/lib/aarch64-linux-gnu" "$P/usr/lib/aarch64-linux-gnu"; do
	find "$dir" -maxdepth 1 -name '*.so*' -exec cp -a {} "$R/lib/aarch64-linux-gnu/" \;
done

if [ "$board" = pi3 ]; then
	# RAUC and what it needs: the system D-Bus (RAUC runs as a service
	# on it), fw_printenv and fw_setenv (libubootenv) for U-Boot's
	# environment.
	install -m 0755 "$P/usr/bin/rauc" "$R/usr/bin/rauc"
	install -m 0755 "$P/usr/bin/fw_printenv" "$R/usr/bin/fw_printenv"
	cp -a "$P/usr/bin/fw_setenv" "$R/usr/bin/fw_setenv"
	install -m 0755 "$P/usr/bin/dbus-daemon" "$R/usr/bin/dbus-daemon"
	install -m 0755 "$P/usr/bin/dbus-uuidgen" "$R/usr/bin/dbus-uuidgen"
	install -D -m 0644 "$P/usr/share/dbus-1/system.conf" "$R/usr/share/dbus-1/system.conf"
	install -D -m 0644 "$P/usr/share/dbus-1/system.d/de.pengutronix.rauc.conf" \
		"$R/usr/share/dbus-1/system.d/de.pengutronix.rauc.conf"
	mkdir -p "$R/var/lib"
	ln -s /tmp/dbus "$R/var/lib/dbus"
	cp -a "$HERE/rootfs-pi3/." "$R/"

	# The kernel, its initramfs and the Pi 3's device tree, in the slot:
	# an update replaces them with the rest of the system. (The boot
	# script takes the device tree from the firmware when there is one.)
	mkdir -p "$R/boot/broadcom"
	gzip -9 -n -c "$P/boot/vmlinuz-$kver" >"$R/boot/Image.gz"
	cp "$OUT/initrd.gz" "$R/boot/initrd.gz"
	cp "$P/usr/lib/linux-image-$kver/broadcom/bcm2837-rpi-3-b.dtb" "$R/boot/broadcom/"
else
	cp "$P/boot/vmlinuz-$kver" "$OUT/Image"
fi

cp -a "$BOARD/rootfs-overlay/." "$R/"
install -m 0755 "$BINARY" "$R/usr/bin/netspot"
# What buildroot's post-build script does to the image (RAUC's
# configuration and keyring, when RAUC is there).
NETSPOT_RAUC_KEY_DIR=$keys "$BOARD/post-build.sh" "$R" "$board" >/dev/null

# The image gets a quarter more than its content (at least 96 MiB); the
# slot partitions are larger.
size_mib=$(du -s -B1M "$R" | cut -f1)
size_mib=$((size_mib * 5 / 4 + 16))
[ "$size_mib" -ge 96 ] || size_mib=96
mke2fs -q -t ext4 -L netspot-root -d "$R" "$OUT/genimage/rootfs.ext4" "${size_mib}M" >/dev/null

# --- disk image ------------------------------------------------------------------
G=$OUT/genimage
cp "$BOARD/netspot-setup.txt" "$G/"
files=(netspot-setup.txt)
if [ "$board" = pi3 ]; then
	# What the Pi's firmware finds on the boot partition (config.txt:
	# kernel=u-boot.bin; the device tree it hands over with cmdline.txt
	# in it), and U-Boot's files. QEMU has no firmware: the test starts
	# the u-boot.bin of this partition itself, with this device tree and
	# this cmdline.txt.
	cp "$P/usr/lib/u-boot/rpi_3/u-boot.bin" "$G/u-boot.bin"
	cp "$P/usr/lib/linux-image-$kver/broadcom/bcm2837-rpi-3-b.dtb" "$G/"
	cp "$BOARD/config-pi3.txt" "$G/config.txt"
	cp "$BOARD/cmdline.txt" "$G/cmdline.txt"
	"$BOARD/boot-files.sh" "$G/cmdline.txt" "$G"
	files+=(u-boot.bin bcm2837-rpi-3-b.dtb config.txt cmdline.txt boot.scr uboot.env)
fi
for f in "$BOOT_FILES"/*; do
	[ -f "$f" ] || continue
	cp "$f" "$G/"
	files+=("$(basename "$f")")
done
boot_files=$(printf '\\t\\t\\t"%s",\\n' "${files[@]}")
sed "s|#BOOT_FILES#|$boot_files|" "$BOARD/genimage.cfg.in" >"$G/genimage.cfg"
mkdir -p "$G/empty"
genimage --rootpath "$G/empty" --tmppath "$G/tmp" --inputpath "$G" \
	--outputpath "$OUT" --config "$G/genimage.cfg" >"$G/genimage.log" 2>&1 ||
	{ cat "$G/genimage.log" >&2; die "genimage failed"; }
cp "$G/rootfs.ext4" "$OUT/rootfs.ext4"

rm -rf "$OUT/debs" "$OUT/pkgs" "$OUT/initramfs" "$OUT/rootfs" "$G" "$OUT/boot.vfat" "$OUT/data.ext4"
echo "assemble: $board: $OUT/sdcard.img, root filesystem of ${size_mib} MiB (kernel $kver)"
