#!/usr/bin/env bash
#
# Assembles the virtual appliance in OUT_DIR from Debian's arm64 packages:
#
#   Image        the kernel (linux-image-arm64)
#   initrd.gz    BusyBox and the modules the kernel needs to reach the disk
#   sdcard.img   the appliance's partition layout (buildroot's genimage.cfg.in):
#                boot (FAT, with the files of BOOT_FILES_DIR), a root file
#                system mounted read-only, and an empty data partition
#
# The root filesystem holds BusyBox, dropbear and e2fsck from Debian, a
# stand-in for what buildroot's skeleton provides (rootfs-base), the
# appliance's rootfs overlay -- the very one of the SD-card image -- and
# the netspot binary.
#
# usage: assemble.sh OUT_DIR NETSPOT_ARM64_BINARY BOOT_FILES_DIR
#
# Needs: apt-get with the arm64 architecture enabled, dpkg-deb, depmod,
# cpio, genimage, mke2fs, mkdosfs and mtools; run as root (file owners).

set -euo pipefail

if [ $# -ne 3 ]; then
	echo "usage: $0 OUT_DIR NETSPOT_ARM64_BINARY BOOT_FILES_DIR" >&2
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
for tool in apt-get dpkg-deb depmod cpio genimage mke2fs mkdosfs mcopy gzip; do
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
(cd "$OUT/debs" && apt-get download -q -o APT::Sandbox::User=root "${packages[@]/%/:arm64}" >/dev/null) ||
	die "apt-get download failed"
for deb in "$OUT"/debs/*.deb; do
	dpkg-deb -x "$deb" "$OUT/pkgs"
done
P=$OUT/pkgs
kver=$(basename "$(ls -d "$P"/lib/modules/*)")

cp "$P"/boot/vmlinuz-"$kver" "$OUT/Image"

# --- initramfs ---------------------------------------------------------------
modules=(virtio_pci virtio_blk virtio_net virtio_rng crc32c_generic ext4 vfat nls_cp437
	nls_ascii nls_utf8 nls_iso8859-1 i6300esb)
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

cp -a "$BOARD/rootfs-overlay/." "$R/"
install -m 0755 "$BINARY" "$R/usr/bin/netspot"

mke2fs -q -t ext4 -L netspot-root -d "$R" "$OUT/genimage/rootfs.ext4" 96M >/dev/null

# --- disk image ------------------------------------------------------------------
G=$OUT/genimage
cp "$BOARD/netspot-setup.txt" "$G/"
files=(netspot-setup.txt)
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

rm -rf "$OUT/debs" "$OUT/pkgs" "$OUT/initramfs" "$OUT/rootfs" "$G/tmp"
echo "assemble: $OUT/Image $OUT/initrd.gz $OUT/sdcard.img (kernel $kver)"
