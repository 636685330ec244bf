package main

import (
	"errors"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// The virt machine: virtio disk and network cards, an i6300esb watchdog;
// QEMU loads the kernel and initramfs itself and boots slot A.

const (
	nodeEdited = "vmtest"
	nodeImport = "vmtest2"
	vmHostname = "netspot-vm"
)

func (t *suite) runVirt() error {
	pub, err := t.prepare()
	if err != nil {
		return err
	}
	boot := filepath.Join(t.out, "bootfiles")
	if err := writeFiles(boot, map[string]string{"authorized_keys": pub, "hostname": vmHostname + "\r\n"}); err != nil {
		return err
	}
	here, err := sourceDir()
	if err != nil {
		return err
	}
	if out, err := t.host("bash", filepath.Join(here, "assemble.sh"), filepath.Join(t.out, "vm"), t.binary, boot); err != nil {
		return fmt.Errorf("assemble: %v\n%s", err, out)
	}
	if err := t.startBroker(); err != nil {
		return err
	}

	// --- first boot ---
	if err := t.bootVirt(1); err != nil {
		return err
	}
	if !t.check("first boot: SSH login with the key from the boot partition", t.waitSSH(false)) {
		return errors.New("no SSH: cannot go on")
	}
	t.checkSystem()
	t.checkNetspot()
	t.checkLogRotation()
	t.checkWatchdog()

	// --- between boots: the FAT partition seen from the PC ---
	t.checkBootPartition()

	// --- second boot ---
	if err := t.bootVirt(2); err != nil {
		return err
	}
	if !t.check("second boot: SSH login, same host key (kept on the data partition)", t.waitSSH(true)) {
		return errors.New("no SSH after the second boot")
	}
	t.checkSecondBoot()
	t.check("clean power-off", t.powerOff())
	return nil
}

// ---------------------------------------------------------------------------
// checks

func (t *suite) checkSystem() {
	t.check("hostname taken from the boot partition", t.expect("hostname", vmHostname))
	t.check("root filesystem read-only", t.expectFail("touch /rootfs-is-writable"))
	t.check("boot partition mounted on /boot/firmware",
		t.expectMatch("grep ' /boot/firmware ' /proc/mounts", "/dev/vda1 /boot/firmware vfat rw"))
	t.check("data partition mounted read-write from partition 4",
		t.expectMatch("grep ' /data ' /proc/mounts", "/dev/vda4 /data ext4 rw"))
	t.check("authorized_keys imported into the data partition",
		t.expectMatch("cat /data/ssh/authorized_keys", "ssh-ed25519 AAAA"))
	t.check("password logins refused (dropbear -s)", t.expectMatch("ps", "/usr/sbin/dropbear -s"))
	for _, p := range []struct{ name, pattern string }{
		{"syslogd logs to the data partition", "syslogd -n -O /data/log/messages"},
		{"log rotation running", "logrotate /data/log/messages 1024 5"},
		{"watchdog daemon running (15 s timeout)", "watchdog -F -T 15 -t 5 /dev/watchdog"},
		{"NTP client running with the overlay's chrony.conf", "chronyd -u chrony -f /etc/chrony.conf"},
		{"DHCP client on the management interface", "udhcpc -b -S -R -i eth0"},
		{"netspot-supervise running", "netspot-supervise"},
	} {
		t.check(p.name, t.expectMatch("ps", p.pattern))
	}
	t.check("NTP: chronyd answers and uses the configured pool", t.expectMatch(
		"chronyc -n -c tracking >/dev/null && grep -E '^(pool|server) ' /etc/chrony.conf", "pool pool.ntp.org"))
	t.check("capture interface promiscuous, no address, IPv6 off", t.expect(
		"echo $(( $(cat /sys/class/net/eth1/flags) & 0x101 )); ip -4 addr show eth1 | grep -c inet; cat /proc/sys/net/ipv6/conf/eth1/disable_ipv6",
		"257\n0\n1")) // IFF_UP|IFF_PROMISC
	t.check("management interface has a DHCP address", t.expectMatch("ip -4 addr show eth0", "inet 10.0.2.15/24"))
	t.check("/dev/watchdog opened by the daemon", t.expectMatch("ls -l /proc/$(cat /var/run/watchdog.pid)/fd", "/dev/watchdog"))
	if _, err := t.ssh("date > /data/state/vmtest-marker"); err != nil {
		t.check("write on the data partition", err)
	}
}

// checkNetspot covers what needs netspot itself: the overlay's config, MQTT
// output, edits over SSH, a refused config, and supervision.
func (t *suite) checkNetspot() {
	t.check("default config installed from the overlay", t.expect("cmp /etc/netspot/netspot.toml /data/netspot.toml && echo same", "same"))
	t.check("init script runs netspot with the overlay's config", t.waitFor(60*time.Second, func() error {
		return t.expect(`cmp /data/netspot.toml /data/state/netspot-accepted.toml && tr '\0' ' ' </proc/$(cat /run/netspot/netspot.pid)/cmdline`,
			"netspot run -c /data/state/netspot-accepted.toml -v")
	}))

	// Edit the config over SSH, then apply it.
	oldPID, _ := t.ssh("cat /run/netspot/netspot.pid")
	cfg := t.testConfig(nodeEdited)
	_, err := t.sshInput("cat > /data/netspot.toml", cfg)
	if err == nil {
		_, err = t.ssh("netspot-restart")
	}
	t.check("config edit over SSH + netspot-restart accepted", err)
	t.check("netspot restarted with the edited config", t.waitFor(30*time.Second, func() error {
		pid, err := t.ssh("cat /run/netspot/netspot.pid")
		if err != nil {
			return err
		}
		if pid == oldPID {
			return fmt.Errorf("still pid %s", pid)
		}
		return t.expect("cmp /data/netspot.toml /data/state/netspot-accepted.toml && echo same", "same")
	}))

	// Traffic: normal, then a SYN flood, replayed into the capture NIC.
	traffic := vmTraffic()
	attack := traffic.Attacks[0]
	pcap := filepath.Join(t.out, "capture.pcap")
	if !t.check("capture generated", writeCapture(pcap, traffic)) {
		return
	}
	stop := make(chan struct{})
	replayed := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := replay(pcap, traffic.Start, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: t.capPort}, stop)
		replayed <- err
	}()
	defer close(stop)

	t.check("stats reach the broker (netspot/"+nodeEdited+"/stats)", t.msgs.wait(t.ctx, 60*time.Second, func(m message) bool {
		return m.topic == "netspot/"+nodeEdited+"/stats" && strings.Contains(m.payload, `"type":"data"`)
	}))
	t.check("last window shown by the init script's status", t.expectMatch("/etc/init.d/S60netspot status", "last window ended at"))
	attackStart := start.Add(attack.At.D())
	t.check("an alarm reaches the broker during the attack (netspot/"+nodeEdited+"/alarm)",
		t.msgs.wait(t.ctx, time.Until(attackStart)+attack.Duration.D()+40*time.Second, func(m message) bool {
			return m.topic == "netspot/"+nodeEdited+"/alarm" && strings.Contains(m.payload, `"type":"alarm"`) && m.at.After(attackStart)
		}))

	// A broken config is refused; the running netspot keeps going.
	pid, _ := t.ssh("cat /run/netspot/netspot.pid")
	broken := strings.Replace(cfg, "device = ", "devcie = ", 1)
	out, err := t.sshInput("cat > /data/netspot.toml && netspot-restart; echo status=$?", broken)
	if err == nil && !strings.Contains(out, "status=3") {
		err = fmt.Errorf("netspot-restart did not refuse the config (want status 3):\n%s", out)
	}
	if err == nil && !strings.Contains(out, "devcie") {
		err = fmt.Errorf("the refusal does not name the bad key devcie:\n%s", out)
	}
	t.check("broken config refused with the key at fault", err)
	t.check("the old config keeps running", t.expect(
		// grep -c prints 0 and exits 1 when nothing matches: that is the
		// expected case, so its status is not the command's.
		"cat /run/netspot/netspot.pid; grep -c devcie /data/state/netspot-accepted.toml || true", pid+"\n0"))
	since := time.Now()
	t.check("stats keep flowing after the refusal", t.msgs.wait(t.ctx, 30*time.Second, func(m message) bool {
		return m.topic == "netspot/"+nodeEdited+"/stats" && m.at.After(since)
	}))
	// Put the good config back, as a user would.
	if _, err := t.sshInput("cat > /data/netspot.toml", cfg); err != nil {
		t.check("restore the good config", err)
	}

	// Supervision: a crash is followed by a restart.
	pid, err = t.ssh("cat /run/netspot/netspot.pid")
	if err == nil {
		_, err = t.ssh("kill -9 " + pid)
	}
	if err == nil {
		err = t.waitFor(20*time.Second, func() error {
			return t.expectMatch("cat /run/netspot/netspot.pid; grep 'killed by signal 9' /data/log/messages | tail -1", "restarting in")
		})
	}
	if err == nil {
		if now, _ := t.ssh("cat /run/netspot/netspot.pid"); now == pid {
			err = errors.New("same pid after the crash")
		}
	}
	t.check("netspot restarted by the supervisor after a crash", err)
	select {
	case err := <-replayed:
		t.check("capture replayed into the capture NIC", err)
	default:
	}
}

func (t *suite) checkLogRotation() {
	_, err := t.ssh(`awk 'BEGIN { for (i = 0; i < 1300; i++) printf "%0900d\n", i }' | logger -t filler`)
	if err == nil {
		err = t.waitFor(60*time.Second, func() error { return t.expect("test -f /data/log/messages.0 && echo rotated", "rotated") })
	}
	t.check("log rotated past 1 MiB", err)
}

// checkWatchdog kills the watchdog daemon without letting it disarm the
// watchdog: the board must reset itself (QEMU runs with -no-reboot, so the
// reset ends the VM). This is also an unclean shutdown for the data
// partition, which the second boot must survive.
func (t *suite) checkWatchdog() {
	_, _ = t.ssh("sync; kill -9 $(cat /var/run/watchdog.pid)")
	select {
	case <-t.vmDone:
		t.vm = nil
		t.check("hardware watchdog resets a hung box", nil)
	case <-time.After(90 * time.Second):
		t.check("hardware watchdog resets a hung box", errors.New("no reset 90 s after the watchdog daemon died"))
		t.stopVM()
	case <-t.ctx.Done():
		t.check("hardware watchdog resets a hung box", t.ctx.Err())
	}
}

// checkBootPartition looks at the FAT partition from the host, as the user
// would from a PC, then drops new files for the second boot.
func (t *suite) checkBootPartition() {
	img := filepath.Join(t.out, "vm", "sdcard.img")
	off, err := mbrPartitionOffset(img, 1)
	if !t.check("boot partition found in the disk image", err) {
		return
	}
	fat := fmt.Sprintf("%s@@%d", img, off)
	dir, err := t.host("mdir", "-b", "-i", fat, "::")
	if err == nil {
		for _, want := range []string{"AUTHORIZED_KEYS.IMPORTED", "HOSTNAME.IMPORTED", "NETSPOT-IMPORT.LOG", "NETSPOT-SETUP.TXT"} {
			if !strings.Contains(strings.ToUpper(dir), want) {
				err = fmt.Errorf("%s missing on the boot partition:\n%s", want, dir)
				break
			}
		}
	}
	t.check("imported files renamed on the boot partition, import log written", err)
	files := filepath.Join(t.out, "bootfiles2")
	err = writeFiles(files, map[string]string{"netspot.toml": t.testConfig(nodeImport), "hostname": "not a host name!"})
	for _, name := range []string{"netspot.toml", "hostname"} {
		if err == nil {
			_, err = t.host("mcopy", "-o", "-i", fat, filepath.Join(files, name), "::"+name)
		}
	}
	t.check("files dropped on the boot partition for the second boot", err)
}

func (t *suite) checkSecondBoot() {
	t.check("data partition kept across reboots", t.expectMatch("cat /data/state/vmtest-marker", "20"))
	t.check("netspot.toml imported from the boot partition", t.expectMatch("grep node_id /data/netspot.toml", nodeImport))
	t.check("bad hostname refused, previous one kept", t.expect(
		"hostname; grep -c 'hostname refused' /boot/firmware/netspot-import.log",
		vmHostname+"\n1"))
	t.check("unclean shutdown: data partition checked and mounted", t.expectMatch("grep ' /data ' /proc/mounts", "/dev/vda4 /data ext4 rw"))
	t.check("stats from the imported config reach the broker", t.msgs.wait(t.ctx, 60*time.Second, func(m message) bool {
		return m.topic == "netspot/"+nodeImport+"/stats"
	}))
}

// testConfig is the config written over SSH and dropped on the boot
// partition: the host's broker and short windows, so that the detectors
// learn within the test.

func (t *suite) bootVirt(n int) error {
	vm := filepath.Join(t.out, "vm")
	args := []string{
		"-M", "virt", "-cpu", "cortex-a72", "-smp", "2", "-m", "512",
		"-display", "none", "-no-reboot", "-monitor", "none",
		"-kernel", filepath.Join(vm, "Image"), "-initrd", filepath.Join(vm, "initrd.gz"),
		"-append", "root=/dev/vda2 rootwait ro console=ttyAMA0 panic=-1",
		"-drive", "file=" + filepath.Join(vm, "sdcard.img") + ",if=none,format=raw,id=disk",
		"-device", "virtio-blk-pci,drive=disk",
		"-netdev", fmt.Sprintf("user,id=mgmt,hostfwd=tcp:127.0.0.1:%d-:22", t.sshPort),
		"-device", "virtio-net-pci,netdev=mgmt,romfile=",
		"-netdev", fmt.Sprintf("socket,id=capture,udp=127.0.0.1:%d,localaddr=127.0.0.1:%d", t.capPort+1000, t.capPort),
		"-device", "virtio-net-pci,netdev=capture,romfile=",
		"-device", "i6300esb", "-device", "virtio-rng-pci",
		"-serial", "file:" + filepath.Join(t.out, fmt.Sprintf("console-%d.log", n)),
	}
	t.vm = exec.CommandContext(t.ctx, "qemu-system-aarch64", args...)
	if err := startLogged(t.vm, filepath.Join(t.out, fmt.Sprintf("qemu-%d.log", n))); err != nil {
		return fmt.Errorf("qemu-system-aarch64: %w", err)
	}
	done := make(chan error, 1)
	go func(c *exec.Cmd) { done <- c.Wait() }(t.vm)
	t.vmDone = done
	return nil
}
