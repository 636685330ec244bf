package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The Raspberry Pi 3 Model B as QEMU models it (-M raspi3b: four
// Cortex-A53, 1 GiB, the BCM2837's SD host, its dwc2 USB controller). The
// SD card carries the appliance's layout (boot FAT, root slots A and B,
// data); QEMU has no Raspberry Pi firmware, so it plays its part: it
// starts the u-boot.bin of the card's boot partition (config.txt's
// kernel=) and hands it the card's device tree with cmdline.txt in it.
// U-Boot runs boot.scr, which picks the slot (BOOT_ORDER, BOOT_x_LEFT in
// uboot.env) and boots the kernel and initramfs of that slot with that
// device tree and command line. The management link and the capture link
// are QEMU usb-net devices on a USB hub, as the Pi 3's Ethernet and a USB
// adapter are.

const (
	piNode     = "pitest"
	piHostname = "netspot-pi"
	// Where the test puts the update bundles on the data partition before
	// the first boot, as a user would copy them onto the box: QEMU's USB
	// network moves about 90 kB/s, too slow to download 30 MB bundles.
	piBundles = "/data/bundles"
)

var ubootSlotLine = regexp.MustCompile(`netspot: booting slot ([AB]) `)

func (t *suite) runPi() error {
	pub, err := t.prepare()
	if err != nil {
		return err
	}
	here, err := sourceDir()
	if err != nil {
		return err
	}
	board := filepath.Join(here, "..", "..", "buildroot", "board", "netspot")
	fmt.Println("machine: QEMU raspi3b, the Raspberry Pi 3 Model B (BCM2837, 4 x Cortex-A53, 1 GiB), booting its SD card with U-Boot for the Pi 3 (Debian's u-boot-rpi unless -uboot), Debian's arm64 kernel and the bcm2837-rpi-3-b device tree")

	// Keys: the box's keyring, and another CA whose bundles it must refuse.
	keys, untrusted := filepath.Join(t.out, "keys"), filepath.Join(t.out, "keys-untrusted")
	for dir, name := range map[string]string{keys: "vmtest", untrusted: "vmtest untrusted"} {
		if out, err := t.host("sh", filepath.Join(board, "make-keys.sh"), dir, name); err != nil {
			return fmt.Errorf("make-keys: %v\n%s", err, out)
		}
	}
	boot := filepath.Join(t.out, "bootfiles")
	if err := writeFiles(boot, map[string]string{
		"authorized_keys": pub, "hostname": piHostname + "\r\n", "netspot.toml": t.testConfig(piNode),
	}); err != nil {
		return err
	}
	vm := filepath.Join(t.out, "vm")
	if out, err := t.host("bash", filepath.Join(here, "assemble.sh"), "--board", "pi3", "--keys", keys, vm, t.binary, boot); err != nil {
		return fmt.Errorf("assemble: %v\n%s", err, out)
	}
	t.milestone("system assembled")
	img := filepath.Join(vm, "sdcard.img")
	// QEMU's SD card must have a power of 2 size.
	if err := os.Truncate(img, 1<<30); err != nil {
		return err
	}
	fat, err := mbrPartitionOffset(img, 1)
	if err != nil {
		return err
	}
	if t.uboot != "" {
		if _, err := t.host("mcopy", "-o", "-i", fmt.Sprintf("%s@@%d", img, fat), t.uboot, "::u-boot.bin"); err != nil {
			return fmt.Errorf("-uboot: %w", err)
		}
		fmt.Printf("U-Boot: %s\n", t.uboot)
	}
	// QEMU stands in for the firmware: it starts the card's u-boot.bin
	// with the card's device tree and cmdline.txt.
	for _, f := range []string{"u-boot.bin", "bcm2837-rpi-3-b.dtb", "cmdline.txt"} {
		if _, err := t.host("mcopy", "-o", "-i", fmt.Sprintf("%s@@%d", img, fat), "::"+f, filepath.Join(vm, f)); err != nil {
			return fmt.Errorf("%s from the boot partition: %w", f, err)
		}
	}

	// Bundles: the same system with a newer netspot; one whose netspot
	// does not start; the newer one signed by a CA the box does not trust.
	v2 := t.updateVersion
	bundles, err := t.makeBundles(board, vm, keys, untrusted, v2)
	if !t.check("update bundles made and signed (make-bundle.sh, RAUC verity format)", err) {
		return errors.New("no bundles: cannot go on")
	}
	t.milestone("bundles made")
	if !t.check("bundles copied onto the data partition of the SD card", t.copyToData(img, bundles)) {
		return errors.New("no bundles on the card: cannot go on")
	}
	if err := t.startBroker(); err != nil {
		return err
	}

	// --- first boot: slot A ---
	if err := t.bootPi(1); err != nil {
		return err
	}
	t.check("U-Boot from the SD card's boot partition boots slot A", t.waitUBoot(1, []string{"A"}, 4*time.Minute))
	if !t.check("boot from the SD card: SSH login with the key from the boot partition", t.waitSSH(false)) {
		return errors.New("no SSH: cannot go on")
	}
	t.milestone("first boot up")
	t.checkPiSystem()
	t.checkPiCapture()
	v1, err := t.ssh("netspot version | cut -d' ' -f2")
	if err == nil && v1 == v2 {
		err = fmt.Errorf("the update binary has the same version %s", v1)
	}
	if err == nil {
		err = t.waitVersion(v1, time.Time{})
	}
	t.check("version published in the Home Assistant discovery device: "+v1, err)

	t.milestone("capture checked")
	t.checkBadSignature(bundles["untrusted"])
	t.checkPowerCut(bundles["update"])
	t.milestone("power cut")

	// --- after the power cut: slot A again ---
	if err := t.bootPi(2); err != nil {
		return err
	}
	if !t.check("after the power cut: SSH login, same host key", t.waitSSH(true)) {
		return errors.New("no SSH after the power cut")
	}
	t.checkAfterPowerCut(v1)
	t.milestone("up again after the power cut")

	// --- update: slot B ---
	t.checkUpdate(bundles["update"], v1, v2)
	t.milestone("updated")
	// --- update whose netspot fails: slot A tried, then B again ---
	t.checkRollback(bundles["broken"], v2)
	t.milestone("rolled back")

	t.check("clean power-off", t.powerOff())
	return nil
}

// ---------------------------------------------------------------------------
// checks

func (t *suite) checkPiSystem() {
	t.check("the kernel runs on the Raspberry Pi 3 Model B's device tree", t.expectMatch(
		"cat /proc/device-tree/model", "Raspberry Pi 3 Model B"))
	cmdline, err := os.ReadFile(filepath.Join(t.out, "vm", "cmdline.txt"))
	if err == nil {
		err = t.expect("cat /proc/cmdline", strings.TrimSpace(string(cmdline))+" root=/dev/mmcblk0p2 rauc.slot=A")
	}
	t.check("kernel command line: cmdline.txt, then slot A's root partition from the boot script", err)
	t.check("root filesystem: slot A on the SD card, read-only", t.expectMatch(
		"grep ' / ' /proc/mounts", "/dev/mmcblk0p2 / ext4 ro"))
	t.check("data partition mounted from the SD card's partition 4",
		t.expectMatch("grep ' /data ' /proc/mounts", "/dev/mmcblk0p4 /data ext4 rw"))
	t.check("boot partition (U-Boot's environment) mounted on /boot/firmware",
		t.expectMatch("grep ' /boot/firmware ' /proc/mounts", "/dev/mmcblk0p1 /boot/firmware vfat rw"))
	t.check("hostname taken from the boot partition", t.expect("hostname", piHostname))
	t.check("management link: USB network device with a DHCP address", t.expectMatch(
		"readlink -f /sys/class/net/eth0/device; ip -4 addr show eth0", "inet 10.0.2.15/24"))
	t.check("capture link: USB network device, promiscuous, no address", t.expect(
		"readlink -f /sys/class/net/eth1/device | grep -c /usb; echo $(( $(cat /sys/class/net/eth1/flags) & 0x101 )); ip -4 addr show eth1 | grep -c inet || true",
		"1\n257\n0"))
	t.check("RAUC: system netspot-pi3 booted from slot A, U-Boot backend", t.expectMatch(
		"rauc status --output-format=shell", "RAUC_SYSTEM_COMPATIBLE='netspot-pi3'"))
	t.check("slot A marked good at boot (BOOT_A_LEFT back to 3)", t.waitFor(90*time.Second, func() error {
		return t.expect("grep -c 'marked slot rootfs.0 as good' /data/log/messages; fw_printenv BOOT_A_LEFT", "1\nBOOT_A_LEFT=3")
	}))
}

// checkPiCapture replays traffic into the USB capture link: stats, then an
// alarm during the SYN flood, on the host's broker.
func (t *suite) checkPiCapture() {
	// Learn from the replayed traffic, not from the idle minutes since
	// boot: start again without a saved state.
	_, err := t.ssh("/etc/init.d/S60netspot stop >/dev/null; rm -f /data/netspot-state.json; /etc/init.d/S60netspot start >/dev/null")
	t.check("netspot restarted to learn from the test traffic", err)
	traffic := piTraffic()
	attack := traffic.Attacks[0]
	pcap := filepath.Join(t.out, "capture.pcap")
	if !t.check("capture generated", writeCapture(pcap, traffic)) {
		return
	}
	stop := make(chan struct{})
	defer close(stop)
	replayed := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := replay(pcap, traffic.Start, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: t.capPort}, stop)
		replayed <- err
	}()
	t.check("stats of the USB capture link reach the host's broker (netspot/"+piNode+"/stats)", t.msgs.wait(t.ctx, 90*time.Second, func(m message) bool {
		return m.topic == "netspot/"+piNode+"/stats" && strings.Contains(m.payload, `"type":"data"`) &&
			m.at.After(start) && !strings.Contains(m.payload, `"packets":0,`)
	}))
	attackStart := start.Add(attack.At.D())
	t.check("an alarm reaches the host's broker during the attack (netspot/"+piNode+"/alarm)",
		t.msgs.wait(t.ctx, time.Until(attackStart)+attack.Duration.D()+60*time.Second, func(m message) bool {
			return m.topic == "netspot/"+piNode+"/alarm" && strings.Contains(m.payload, `"type":"alarm"`) && m.at.After(attackStart)
		}))
	select {
	case err := <-replayed:
		t.check("capture replayed into the USB capture link", err)
	case <-time.After(time.Until(start.Add(traffic.Duration.D() + 10*time.Second))):
	}
}

// checkBadSignature installs a bundle signed by a CA that the box does not
// trust: RAUC must refuse it and change nothing.
func (t *suite) checkBadSignature(bundle string) {
	out, err := t.ssh("netspot-update --no-reboot " + piBundles + "/" + bundle + "; echo status=$?")
	if err == nil && !strings.Contains(out, "status=1") {
		err = fmt.Errorf("netspot-update accepted a bundle of an untrusted signer:\n%s", out)
	}
	if err == nil && !strings.Contains(out, "signature") {
		err = fmt.Errorf("the refusal does not mention the signature:\n%s", out)
	}
	t.check("bundle signed by an untrusted key refused", err)
	t.check("refused bundle: slot B untouched, nothing pending", t.expect(
		"fw_printenv BOOT_ORDER; test -f /data/state/update-pending && echo pending || echo none",
		"BOOT_ORDER=A B\nnone"))
}

// checkPowerCut starts an install and kills QEMU (a power cut) while RAUC
// copies the image into slot B.
func (t *suite) checkPowerCut(bundle string) {
	ctx, cancel := context.WithTimeout(t.ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ssh", append(t.sshArgs(true), "netspot-update --no-reboot "+piBundles+"/"+bundle+" 2>&1")...)
	stdout, err := cmd.StdoutPipe()
	if err == nil {
		err = cmd.Start()
	}
	if err != nil {
		t.check("power cut during an install", err)
		return
	}
	log, _ := os.Create(filepath.Join(t.out, "install-power-cut.log"))
	defer log.Close()
	copying := make(chan bool, 1)
	go func() {
		seen := false
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			fmt.Fprintln(log, sc.Text())
			if !seen && strings.Contains(sc.Text(), "Copying image to rootfs.1") {
				seen = true
				copying <- true
			}
		}
		if !seen {
			copying <- false
		}
	}()
	var cutErr error
	select {
	case ok := <-copying:
		if !ok {
			cutErr = errors.New("the install ended before copying the image (see install-power-cut.log)")
			break
		}
		// Cut the power once the emulated SD card holds a quarter of the
		// new image (the guest's page cache holds more).
		img := filepath.Join(t.out, "vm", "sdcard.img")
		newImage := filepath.Join(t.out, "bundles", "update.ext4")
		end := time.Now().Add(3 * time.Minute)
		for {
			written, total, err := writtenPart(img, 3, newImage)
			if err == nil && written == total {
				err = errors.New("the whole image reached slot B before the cut")
			}
			if err != nil || (written > 0 && written >= total/4) {
				cutErr = err
				break
			}
			if time.Now().After(end) {
				cutErr = fmt.Errorf("after 3 min, %d of %d MiB of the new image on slot B", written, total)
				break
			}
			time.Sleep(250 * time.Millisecond)
		}
		t.killVM()
	case <-ctx.Done():
		cutErr = ctx.Err()
	}
	_ = cmd.Wait()
	if !t.check("power cut (kill -9 of QEMU) while RAUC writes slot B", cutErr) {
		return
	}
	// What the card holds at the cut: part of the new image in slot B.
	written, total, err := writtenPart(filepath.Join(t.out, "vm", "sdcard.img"), 3, filepath.Join(t.out, "bundles", "update.ext4"))
	if err == nil && (written == 0 || written == total) {
		err = fmt.Errorf("%d of the %d MiB of the image that hold data are on slot B: not cut in the middle", written, total)
	}
	if err == nil {
		fmt.Printf("     slot B holds %d of the %d MiB of the new image that hold data\n", written, total)
	}
	t.check("the power cut left slot B half written", err)
}

// writtenPart compares partition n of the disk image img with the file
// image, MiB by MiB, leaving out the MiB of image that are all zeros (an
// empty slot has them too): it returns how many of the others are on the
// partition, and how many there are.
func writtenPart(img string, n int, image string) (written, total int, err error) {
	off, err := mbrPartitionOffset(img, n)
	if err != nil {
		return 0, 0, err
	}
	disk, err := os.Open(img)
	if err != nil {
		return 0, 0, err
	}
	defer disk.Close()
	want, err := os.Open(image)
	if err != nil {
		return 0, 0, err
	}
	defer want.Close()
	st, err := want.Stat()
	if err != nil {
		return 0, 0, err
	}
	const mib = 1 << 20
	a, b, zero := make([]byte, mib), make([]byte, mib), make([]byte, mib)
	for i := int64(0); i < st.Size()/mib; i++ {
		if _, err := want.ReadAt(b, i*mib); err != nil {
			return 0, 0, err
		}
		if bytes.Equal(b, zero) {
			continue
		}
		if _, err := disk.ReadAt(a, off+i*mib); err != nil {
			return 0, 0, err
		}
		total++
		if bytes.Equal(a, b) {
			written++
		}
	}
	return written, total, nil
}

func (t *suite) checkAfterPowerCut(v1 string) {
	t.check("U-Boot boots the old slot A after the power cut", t.waitUBoot(2, []string{"A"}, time.Minute))
	t.check("the old system runs: slot A, netspot "+v1, t.expect(
		"sed -n 's/.*rauc.slot=\\([AB]\\).*/\\1/p' /proc/cmdline; netspot version | cut -d' ' -f2", "A\n"+v1))
	// RAUC marks the target slot bad before writing it.
	t.check("the half-written slot B is not bootable (BOOT_B_LEFT=0, A first)", t.expect(
		"fw_printenv BOOT_B_LEFT; fw_printenv BOOT_ORDER | cut -c1-12", "BOOT_B_LEFT=0\nBOOT_ORDER=A"))
	since := time.Now()
	t.check("stats flow again after the power cut", t.msgs.wait(t.ctx, 2*time.Minute, func(m message) bool {
		return m.topic == "netspot/"+piNode+"/stats" && m.at.After(since)
	}))
}

// checkUpdate installs the newer bundle with netspot-update, which reboots
// the box into slot B.
func (t *suite) checkUpdate(bundle, v1, v2 string) {
	bootID, _ := t.ssh("cat /proc/sys/kernel/random/boot_id")
	restored, _ := t.ssh("grep -c 'detector state restored' /data/log/messages")
	_, err := t.ssh(detached("netspot-update " + piBundles + "/" + bundle))
	since := time.Now()
	if err == nil {
		err = t.waitReboot(bootID, 6*time.Minute)
	}
	t.check("netspot-update installs into slot B and reboots", err)
	out, _ := t.ssh("cat /data/update.log")
	_ = os.WriteFile(filepath.Join(t.out, "install-update.log"), []byte(out+"\n"), 0o644)
	t.check("U-Boot boots the new slot B", t.waitUBoot(2, []string{"A", "B"}, time.Minute))
	t.check("the new system runs: slot B, netspot "+v2, t.expect(
		"sed -n 's/.*rauc.slot=\\([AB]\\).*/\\1/p' /proc/cmdline; netspot version | cut -d' ' -f2", "B\n"+v2))
	t.check("version topic changes: netspot/"+piNode+"/version says "+v2, t.msgs.wait(t.ctx, 3*time.Minute, func(m message) bool {
		return m.topic == "netspot/"+piNode+"/version" && m.payload == v2 && m.at.After(since)
	}))
	t.check("the Home Assistant discovery device says "+v2, t.waitVersion(v2, since))
	t.check("slot B marked good once netspot reached its first window", t.waitFor(3*time.Minute, func() error {
		return t.expectMatch("cat /data/state/update-result; fw_printenv BOOT_B_LEFT; test -f /data/state/update-pending || echo done",
			"slot B is good (netspot's first window ended at")
	}))
	t.check("slot B good for U-Boot (BOOT_ORDER B first, BOOT_B_LEFT=3)", t.expect(
		"fw_printenv BOOT_ORDER BOOT_B_LEFT", "BOOT_ORDER=B A\nBOOT_B_LEFT=3"))
	t.check("data kept: the config imported at first boot", t.expectMatch("grep node_id /data/netspot.toml", piNode))
	t.check("data kept: detector state restored by the new netspot", t.waitFor(time.Minute, func() error {
		n, err := t.ssh("grep -c 'detector state restored' /data/log/messages")
		if err == nil && n == restored {
			err = fmt.Errorf("no new 'detector state restored' in the log (%s before the update)", restored)
		}
		return err
	}))
	t.check("data kept: MQTT store and SSH host keys (same host key)", t.expect(
		"test -d /data/mqtt && ls /data/ssh/hostkeys | wc -l", "2"))
}

// checkRollback installs a bundle whose netspot does not start: the trial
// boot of slot A marks it bad and reboots, U-Boot goes back to slot B.
func (t *suite) checkRollback(bundle, v2 string) {
	bootID, _ := t.ssh("cat /proc/sys/kernel/random/boot_id")
	_, err := t.ssh(detached("netspot-update " + piBundles + "/" + bundle))
	if err != nil {
		t.check("netspot-update of the broken bundle", err)
		return
	}
	err = t.waitFor(10*time.Minute, func() error {
		slots := t.ubootSlots(2)
		if len(slots) < 4 || strings.Join(slots[len(slots)-2:], " ") != "A B" {
			return fmt.Errorf("U-Boot booted %v, want ... A B", slots)
		}
		return nil
	})
	t.check("the broken update boots slot A, then U-Boot goes back to slot B", err)
	if err == nil {
		err = t.waitReboot(bootID, 5*time.Minute)
	}
	t.check("SSH again after the rollback", err)
	t.check("rolled back: slot B runs netspot "+v2+" again", t.expect(
		"sed -n 's/.*rauc.slot=\\([AB]\\).*/\\1/p' /proc/cmdline; netspot version | cut -d' ' -f2", "B\n"+v2))
	t.check("the rollback is recorded: netspot never reached its first window on slot A", t.expectMatch(
		"cat /data/state/update-result", "rolled back: netspot"))
	t.check("slot A marked bad (BOOT_A_LEFT=0), slot B good", t.waitFor(2*time.Minute, func() error {
		return t.expect("fw_printenv BOOT_A_LEFT BOOT_B_LEFT", "BOOT_A_LEFT=0\nBOOT_B_LEFT=3")
	}))
	since := time.Now()
	t.check("stats flow after the rollback", t.msgs.wait(t.ctx, 2*time.Minute, func(m message) bool {
		return m.topic == "netspot/"+piNode+"/stats" && m.at.After(since)
	}))
}

// ---------------------------------------------------------------------------
// bundles

// makeBundles writes the update bundles into t.out/bundles and returns
// their file names by role: update (netspot updateBinary), broken
// (netspot exits at once), untrusted (update, signed by another CA).
func (t *suite) makeBundles(board, vm, keys, untrusted, version string) (map[string]string, error) {
	dir := filepath.Join(t.out, "bundles")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	rootfs := filepath.Join(vm, "rootfs.ext4")
	updated, broken := filepath.Join(dir, "update.ext4"), filepath.Join(dir, "broken.ext4")
	script := filepath.Join(dir, "netspot-broken")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho 'netspot: this build is broken on purpose (update rollback test)' >&2\nexit 1\n"), 0o755); err != nil {
		return nil, err
	}
	for img, bin := range map[string]string{updated: t.updateBinary, broken: script} {
		if _, err := t.host("cp", "--sparse=always", rootfs, img); err != nil {
			return nil, err
		}
		if err := replaceFile(img, "/usr/bin/netspot", bin); err != nil {
			return nil, err
		}
	}
	mk := filepath.Join(board, "make-bundle.sh")
	bundles := map[string]string{"update": "update.raucb", "broken": "broken.raucb", "untrusted": "untrusted.raucb"}
	for _, b := range []struct{ img, version, keys, name string }{
		{updated, version, keys, bundles["update"]},
		{broken, version + "-broken", keys, bundles["broken"]},
		{updated, version, untrusted, bundles["untrusted"]},
	} {
		if out, err := t.host("sh", mk, b.img, "pi3", b.version, b.keys, filepath.Join(dir, b.name)); err != nil {
			return nil, fmt.Errorf("make-bundle %s: %v\n%s", b.name, err, out)
		}
	}
	_ = os.Remove(broken)
	return bundles, nil
}

// replaceFile replaces path in the ext4 image img with the host file src
// (executable, owned by root), with debugfs.
func replaceFile(img, path, src string) error {
	cmds := fmt.Sprintf("rm %s\nwrite %s %s\nsif %s mode 0100755\nsif %s uid 0\nsif %s gid 0\n", path, src, path, path, path, path)
	cmd := exec.Command("debugfs", "-w", "-f", "-", img)
	cmd.Stdin = strings.NewReader(cmds)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("debugfs %s: %v: %s", img, err, out)
	}
	return nil
}

// copyToData puts the bundles in piBundles on the data partition of the
// SD card image (before the first boot: the box is off).
func (t *suite) copyToData(img string, bundles map[string]string) error {
	off, err := mbrPartitionOffset(img, 4)
	if err != nil {
		return err
	}
	var cmds strings.Builder
	fmt.Fprintf(&cmds, "mkdir %s\n", strings.TrimPrefix(piBundles, "/data"))
	for _, name := range bundles {
		fmt.Fprintf(&cmds, "write %s %s/%s\n", filepath.Join(t.out, "bundles", name), strings.TrimPrefix(piBundles, "/data"), name)
	}
	cmd := exec.Command("debugfs", "-w", "-f", "-", fmt.Sprintf("%s?offset=%d", img, off))
	cmd.Stdin = strings.NewReader(cmds.String())
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("debugfs: %v: %s", err, out)
	}
	return nil
}

// detached runs command in the background on the box, its output in
// /data/update.log, so that it goes on when the SSH session ends (the
// update reboots the box).
func detached(command string) string {
	return "(trap '' HUP; exec " + command + " >/data/update.log 2>&1 </dev/null) &"
}

// ---------------------------------------------------------------------------
// the machine

// bootPi starts QEMU on the SD card image (a power-on). Reboots of the
// box happen inside the same QEMU process, as on a board.
func (t *suite) bootPi(n int) error {
	vm := filepath.Join(t.out, "vm")
	cmdline, err := os.ReadFile(filepath.Join(vm, "cmdline.txt"))
	if err != nil {
		return err
	}
	args := []string{
		"-M", "raspi3b", "-display", "none", "-monitor", "none",
		"-kernel", filepath.Join(vm, "u-boot.bin"),
		"-dtb", filepath.Join(vm, "bcm2837-rpi-3-b.dtb"),
		"-append", strings.TrimSpace(string(cmdline)),
		"-drive", "file=" + filepath.Join(vm, "sdcard.img") + ",if=sd,format=raw",
		// The PL011 UART (ttyAMA0, the kernel's console), then the mini
		// UART (U-Boot's console).
		"-serial", "file:" + filepath.Join(t.out, fmt.Sprintf("console-%d.log", n)),
		"-serial", "file:" + filepath.Join(t.out, fmt.Sprintf("uboot-%d.log", n)),
		"-device", "usb-hub",
		"-netdev", fmt.Sprintf("user,id=mgmt,hostfwd=tcp:127.0.0.1:%d-:22", t.sshPort),
		// Globally administered MAC addresses: Linux names the CDC
		// Ethernet devices eth0 and eth1, not usb0.
		"-device", "usb-net,netdev=mgmt,mac=00:16:3e:4e:53:01",
		"-netdev", fmt.Sprintf("socket,id=capture,udp=127.0.0.1:%d,localaddr=127.0.0.1:%d", t.capPort+1000, t.capPort),
		"-device", "usb-net,netdev=capture,mac=00:16:3e:4e:53:02",
	}
	t.vm = exec.CommandContext(t.ctx, "qemu-system-aarch64", args...)
	if err := startLogged(t.vm, filepath.Join(t.out, fmt.Sprintf("qemu-%d.log", n))); err != nil {
		return fmt.Errorf("qemu-system-aarch64: %w", err)
	}
	t.boots = n
	done := make(chan error, 1)
	go func(c *exec.Cmd) { done <- c.Wait() }(t.vm)
	t.vmDone = done
	return nil
}

// killVM is a power cut: SIGKILL to QEMU.
func (t *suite) killVM() {
	if t.vm != nil && t.vm.Process != nil {
		_ = t.vm.Process.Signal(os.Kill)
		<-t.vmDone
		t.vm = nil
	}
}

// ubootSlots lists the slots U-Boot booted in QEMU process n, in order.
func (t *suite) ubootSlots(n int) []string {
	b, _ := os.ReadFile(filepath.Join(t.out, fmt.Sprintf("uboot-%d.log", n)))
	var slots []string
	for _, m := range ubootSlotLine.FindAllStringSubmatch(string(b), -1) {
		slots = append(slots, m[1])
	}
	return slots
}

// waitUBoot waits until U-Boot of QEMU process n has booted the slots want,
// in this order.
func (t *suite) waitUBoot(n int, want []string, d time.Duration) error {
	return t.waitFor(d, func() error {
		got := t.ubootSlots(n)
		if strings.Join(got, " ") != strings.Join(want, " ") {
			return fmt.Errorf("U-Boot booted slots %v, want %v (see uboot-%d.log)", got, want, n)
		}
		return nil
	})
}

// waitReboot waits until the box answers SSH again from another boot.
func (t *suite) waitReboot(bootID string, d time.Duration) error {
	return t.waitFor(d, func() error {
		id, err := t.ssh("cat /proc/sys/kernel/random/boot_id")
		if err != nil {
			return err
		}
		if id == bootID {
			return errors.New("not rebooted yet")
		}
		return nil
	})
}

// waitVersion waits for a Home Assistant discovery config, received after
// since, that gives version as the device's software version.
func (t *suite) waitVersion(version string, since time.Time) error {
	want := `"sw_version":` + strconv.Quote(version)
	return t.msgs.wait(t.ctx, 3*time.Minute, func(m message) bool {
		return strings.HasPrefix(m.topic, "homeassistant/") && strings.HasSuffix(m.topic, "/config") &&
			strings.Contains(m.payload, want) && strings.Contains(m.payload, piNode) && m.at.After(since)
	})
}
