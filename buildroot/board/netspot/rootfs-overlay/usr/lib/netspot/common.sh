# shellcheck shell=sh disable=SC2034 # the variables are used by the scripts that source this
# Shared by the appliance's init scripts and tools: where things live on
# the data partition, and the few helpers they all need. Sourced, not run.

DATA_DIR=/data
BOOT_DIR=/boot/firmware
USER_CONFIG=$DATA_DIR/netspot.toml
ACCEPTED_CONFIG=$DATA_DIR/state/netspot-accepted.toml
DEFAULT_CONFIG=/etc/netspot/netspot.toml
RUN_DIR=/run/netspot
SUPERVISOR_PIDFILE=$RUN_DIR/supervise.pid
NETSPOT_PIDFILE=$RUN_DIR/netspot.pid
# The end of the last window netspot reported (RFC 3339), written by
# netspot-supervise; removed at each start of netspot.
WINDOW_FILE=$RUN_DIR/window
# Updates (RAUC): the slot being tried after an install, and how the last
# update ended, on the data partition so that they survive the reboots.
UPDATE_PENDING=$DATA_DIR/state/update-pending
UPDATE_RESULT=$DATA_DIR/state/update-result

# log TAG MESSAGE...: to the system log and to the console of the caller.
log() {
	tag=$1
	shift
	echo "$tag: $*" >&2
	logger -t "$tag" -- "$*" 2>/dev/null
}

# partition_of N: device of partition N on the disk that holds the root
# filesystem (root=/dev/mmcblk0p2 gives /dev/mmcblk0p1 for N=1). The image
# puts boot on 1, the two root filesystem slots on 2 (A) and 3 (B), and
# the data on 4.
partition_of() {
	read -r cmdline </proc/cmdline
	for arg in $cmdline; do
		case $arg in
		root=/dev/*)
			root=${arg#root=}
			disk=$(echo "$root" | sed 's/[0-9]*$//')
			echo "$disk$1"
			return 0
			;;
		esac
	done
	return 1
}

# booted_slot: the root filesystem slot that U-Boot booted (A or B, from
# rauc.slot= on the kernel command line); nothing when the system was not
# booted by the A/B boot script.
booted_slot() {
	read -r cmdline </proc/cmdline
	for arg in $cmdline; do
		case $arg in
		rauc.slot=*)
			echo "${arg#rauc.slot=}"
			return 0
			;;
		esac
	done
	return 1
}

# check_config FILE: runs "netspot check"; prints its verdict and returns
# its status (0: valid).
check_config() {
	netspot check -c "$1" 2>&1
}

# accept_config: copies the user's config, once checked, to the copy that
# netspot runs with. A crash restart or a reboot then never picks up a
# half-edited file. Prints why on refusal and returns non-zero.
accept_config() {
	if [ ! -f "$USER_CONFIG" ]; then
		echo "$USER_CONFIG does not exist"
		return 1
	fi
	verdict=$(check_config "$USER_CONFIG")
	status=$?
	if [ "$status" -ne 0 ]; then
		[ -n "$verdict" ] || verdict="netspot check failed with status $status"
		echo "$verdict"
		return 1
	fi
	mkdir -p "$(dirname "$ACCEPTED_CONFIG")"
	cp "$USER_CONFIG" "$ACCEPTED_CONFIG.tmp" || return 1
	sync
	mv "$ACCEPTED_CONFIG.tmp" "$ACCEPTED_CONFIG" && sync
}

# config_value FILE SECTION KEY: the string value of KEY in [SECTION] of a
# TOML file (only what the scripts need: quoted strings on one line).
config_value() {
	awk -v section="[$2]" -v key="$3" '
		/^[ \t]*\[/ { gsub(/[ \t]/, ""); current = $0; next }
		current == section && $0 ~ "^[ \t]*" key "[ \t]*=" {
			sub(/^[^=]*=[ \t]*"/, ""); sub(/".*$/, ""); print; exit
		}' "$1" 2>/dev/null
}

# capture_interface: the interface netspot listens on ([miner] device).
capture_interface() {
	cfg=$ACCEPTED_CONFIG
	[ -f "$cfg" ] || cfg=$USER_CONFIG
	[ -f "$cfg" ] || cfg=$DEFAULT_CONFIG
	config_value "$cfg" miner device
}

# prepare_capture IFACE: up, promiscuous, and silent: no IPv4 address and
# IPv6 off, so that the box never sends a frame on the mirror port.
prepare_capture() {
	[ -n "$1" ] && [ -d "/sys/class/net/$1" ] || return 1
	if [ -w "/proc/sys/net/ipv6/conf/$1/disable_ipv6" ]; then
		echo 1 >"/proc/sys/net/ipv6/conf/$1/disable_ipv6"
	fi
	ip addr flush dev "$1" 2>/dev/null
	ip link set dev "$1" arp off promisc on up
}
