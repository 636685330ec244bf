// Command vmtest boots the netspot virtual appliance under
// qemu-system-aarch64 and checks it the way a user would use the box:
// first boot from files dropped on the FAT partition, SSH key login,
// services, statistics and alarms on an MQTT broker of the host, config
// edits over SSH, supervision, log rotation, the hardware watchdog, and a
// second boot that keeps the data partition.
//
// The system is assembled by assemble.sh from Debian's arm64 packages and
// the rootfs overlay of the SD-card image. Every wait is bounded; the run
// fails if the whole test passes its deadline.
//
// usage: go run ./dev/vmtest -binary dist/netspot-linux-arm64 [-out build/vmtest]
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

func main() {
	binary := flag.String("binary", "", "netspot binary for linux/arm64 (required)")
	out := flag.String("out", "build/vmtest", "work directory (removed and recreated)")
	deadline := flag.Duration("timeout", 10*time.Minute, "deadline of the whole test")
	flag.Parse()
	if *binary == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: vmtest -binary NETSPOT_LINUX_ARM64 [-out DIR] [-timeout 10m]")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *deadline)
	defer cancel()
	t := &suite{ctx: ctx, out: *out, binary: *binary}
	err := t.run()
	t.cleanup()
	t.summary()
	if err != nil {
		fmt.Fprintf(os.Stderr, "vmtest: %v\n", err)
		os.Exit(1)
	}
	if t.failed > 0 {
		os.Exit(1)
	}
}

// suite holds the state of one run: work directory, host services and VM.
type suite struct {
	ctx    context.Context
	out    string
	binary string

	sshKey     string
	knownHosts string
	sshPort    int
	capPort    int // where QEMU receives capture frames
	brokerPort int

	broker *exec.Cmd
	sub    *exec.Cmd
	msgs   *messages
	vm     *exec.Cmd
	vmDone chan error

	results []string
	failed  int
}

// check records one assertion of the test.
func (t *suite) check(name string, err error) bool {
	if err != nil {
		t.failed++
		t.results = append(t.results, fmt.Sprintf("FAIL %s: %v", name, err))
		fmt.Printf("FAIL %s: %v\n", name, err)
		return false
	}
	t.results = append(t.results, "ok   "+name)
	fmt.Printf("ok   %s\n", name)
	return true
}

func (t *suite) summary() {
	fmt.Printf("\n%d checks, %d failed\n", len(t.results), t.failed)
	for _, r := range t.results {
		if strings.HasPrefix(r, "FAIL") {
			fmt.Println(r)
		}
	}
}

const (
	nodeEdited = "vmtest"
	nodeImport = "vmtest2"
	vmHostname = "netspot-vm"
)

func (t *suite) run() error {
	abs, err := filepath.Abs(t.out)
	if err != nil {
		return err
	}
	t.out = abs
	if err := os.RemoveAll(t.out); err != nil {
		return err
	}
	boot := filepath.Join(t.out, "bootfiles")
	if err := os.MkdirAll(boot, 0o755); err != nil {
		return err
	}
	t.sshKey = filepath.Join(t.out, "id_ed25519")
	t.knownHosts = filepath.Join(t.out, "known_hosts")
	if _, err := t.host("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "vmtest", "-f", t.sshKey); err != nil {
		return err
	}
	pub, err := os.ReadFile(t.sshKey + ".pub")
	if err != nil {
		return err
	}
	if err := writeFiles(boot, map[string]string{"authorized_keys": string(pub), "hostname": vmHostname + "\r\n"}); err != nil {
		return err
	}
	here, err := sourceDir()
	if err != nil {
		return err
	}
	if out, err := t.host("bash", filepath.Join(here, "assemble.sh"), filepath.Join(t.out, "vm"), t.binary, boot); err != nil {
		return fmt.Errorf("assemble: %v\n%s", err, out)
	}
	for _, p := range []*int{&t.sshPort, &t.capPort, &t.brokerPort} {
		if *p, err = freePort(); err != nil {
			return err
		}
	}
	if err := t.startBroker(); err != nil {
		return err
	}

	// --- first boot ---
	if err := t.boot(1); err != nil {
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
	if err := t.boot(2); err != nil {
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
	t.check("data partition mounted read-write from partition 3",
		t.expectMatch("grep ' /data ' /proc/mounts", "/dev/vda3 /data ext4 rw"))
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
			"netspot run -c /data/state/netspot-accepted.toml")
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
		"hostname; grep -c 'hostname refused' /run/netspot/boot/netspot-import.log 2>/dev/null || (mount -t vfat /dev/vda1 /mnt && grep -c 'hostname refused' /mnt/netspot-import.log; umount /mnt)",
		vmHostname+"\n1"))
	t.check("unclean shutdown: data partition checked and mounted", t.expectMatch("grep ' /data ' /proc/mounts", "/dev/vda3 /data ext4 rw"))
	t.check("stats from the imported config reach the broker", t.msgs.wait(t.ctx, 60*time.Second, func(m message) bool {
		return m.topic == "netspot/"+nodeImport+"/stats"
	}))
}

// testConfig is the config written over SSH and dropped on the boot
// partition: the host's broker and short windows, so that the detectors
// learn within the test.
func (t *suite) testConfig(node string) string {
	return fmt.Sprintf(`# written by the boot test
[miner]
device = "eth1"
promiscuous = true

[analyzer]
period = "1s"

[spot]
# Learn within the 40 s of normal traffic that the test replays: 5
# windows of drift, 30 of calibration (12 excesses above level 0.6).
depth = 5
n_init = 30
level = 0.6
q = 1e-3

[exporter.mqtt]
enabled = true
broker = "tcp://10.0.2.2:%d"
node_id = %q
store_dir = "/data/mqtt"
`, t.brokerPort, node)
}

// ---------------------------------------------------------------------------
// host services and the VM

func (t *suite) startBroker() error {
	conf := filepath.Join(t.out, "mosquitto.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, "listener %d 127.0.0.1\nallow_anonymous true\npersistence false\n", t.brokerPort), 0o644); err != nil {
		return err
	}
	t.broker = exec.CommandContext(t.ctx, "mosquitto", "-c", conf)
	if err := startLogged(t.broker, filepath.Join(t.out, "mosquitto.log")); err != nil {
		return fmt.Errorf("mosquitto: %w", err)
	}
	if err := waitTCP(t.ctx, fmt.Sprintf("127.0.0.1:%d", t.brokerPort), 10*time.Second); err != nil {
		return fmt.Errorf("mosquitto does not listen: %w", err)
	}
	t.msgs = &messages{}
	t.sub = exec.CommandContext(t.ctx, "mosquitto_sub", "-h", "127.0.0.1", "-p", strconv.Itoa(t.brokerPort), "-v", "-t", "netspot/#")
	stdout, err := t.sub.StdoutPipe()
	if err != nil {
		return err
	}
	if err := t.sub.Start(); err != nil {
		return fmt.Errorf("mosquitto_sub: %w", err)
	}
	go t.msgs.read(stdout, filepath.Join(t.out, "mqtt.log"))
	return nil
}

func (t *suite) boot(n int) error {
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

func (t *suite) powerOff() error {
	_, _ = t.ssh("poweroff")
	select {
	case <-t.vmDone:
		t.vm = nil
		return nil
	case <-time.After(60 * time.Second):
		t.stopVM()
		return errors.New("still running 60 s after poweroff")
	case <-t.ctx.Done():
		return t.ctx.Err()
	}
}

func (t *suite) stopVM() {
	if t.vm != nil && t.vm.Process != nil {
		_ = t.vm.Process.Kill()
		<-t.vmDone
		t.vm = nil
	}
}

func (t *suite) cleanup() {
	t.stopVM()
	for _, c := range []*exec.Cmd{t.sub, t.broker} {
		if c != nil && c.Process != nil {
			_ = c.Process.Kill()
			_ = c.Wait()
		}
	}
	// Keep the logs; drop the large images.
	_ = os.RemoveAll(filepath.Join(t.out, "vm"))
}

// ---------------------------------------------------------------------------
// SSH and host commands

func (t *suite) sshArgs(strict bool) []string {
	hostKeyCheck := "accept-new"
	if strict {
		hostKeyCheck = "yes"
	}
	return []string{"-i", t.sshKey, "-p", strconv.Itoa(t.sshPort),
		"-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "ConnectTimeout=10",
		"-o", "StrictHostKeyChecking=" + hostKeyCheck, "-o", "UserKnownHostsFile=" + t.knownHosts,
		"-o", "LogLevel=ERROR", "root@127.0.0.1"}
}

// waitSSH waits for the SSH server; strict requires the host key seen
// before.
func (t *suite) waitSSH(strict bool) error {
	return t.waitFor(150*time.Second, func() error {
		ctx, cancel := context.WithTimeout(t.ctx, 20*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, "ssh", append(t.sshArgs(strict), "true")...).CombinedOutput()
		if err != nil {
			select {
			case err := <-t.vmDone:
				t.vmDone <- err
				return fmt.Errorf("the VM stopped: %v (see console log)", err)
			default:
			}
			return fmt.Errorf("%v: %s", err, bytes.TrimSpace(out))
		}
		return nil
	})
}

func (t *suite) ssh(command string) (string, error) { return t.sshInput(command, "") }

func (t *suite) sshInput(command, stdin string) (string, error) {
	ctx, cancel := context.WithTimeout(t.ctx, 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ssh", append(t.sshArgs(true), command)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	s := strings.TrimSpace(string(out))
	if err != nil {
		return s, fmt.Errorf("ssh %q: %v: %s", command, err, s)
	}
	return s, nil
}

func (t *suite) expect(command, want string) error {
	got, err := t.ssh(command)
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("%q printed %q, want %q", command, got, want)
	}
	return nil
}

func (t *suite) expectMatch(command, want string) error {
	got, err := t.ssh(command)
	if err != nil {
		return err
	}
	if !strings.Contains(got, want) {
		return fmt.Errorf("%q printed %q, want it to contain %q", command, got, want)
	}
	return nil
}

func (t *suite) expectFail(command string) error {
	if out, err := t.ssh(command); err == nil {
		return fmt.Errorf("%q succeeded: %s", command, out)
	}
	return nil
}

// waitFor retries f every second until it succeeds or d passes.
func (t *suite) waitFor(d time.Duration, f func() error) error {
	end := time.Now().Add(d)
	for {
		err := f()
		if err == nil {
			return nil
		}
		if time.Now().After(end) {
			return fmt.Errorf("after %v: %w", d, err)
		}
		select {
		case <-t.ctx.Done():
			return fmt.Errorf("%w (last: %v)", t.ctx.Err(), err)
		case <-time.After(time.Second):
		}
	}
}

func (t *suite) host(name string, args ...string) (string, error) {
	out, err := exec.CommandContext(t.ctx, name, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s: %v: %s", name, err, bytes.TrimSpace(out))
	}
	return string(out), nil
}

// ---------------------------------------------------------------------------
// MQTT messages seen on the broker

type message struct {
	at             time.Time
	topic, payload string
}

type messages struct {
	mu   sync.Mutex
	list []message
}

// read collects "topic payload" lines of mosquitto_sub -v and logs them.
func (m *messages) read(r interface{ Read([]byte) (int, error) }, logPath string) {
	log, _ := os.Create(logPath)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		topic, payload, _ := strings.Cut(sc.Text(), " ")
		msg := message{at: time.Now(), topic: topic, payload: payload}
		m.mu.Lock()
		m.list = append(m.list, msg)
		m.mu.Unlock()
		if log != nil {
			fmt.Fprintf(log, "%s %s %s\n", msg.at.Format(time.RFC3339Nano), topic, payload)
		}
	}
	if log != nil {
		_ = log.Close()
	}
}

// wait returns nil as soon as a message matching ok has been received.
func (m *messages) wait(ctx context.Context, d time.Duration, ok func(message) bool) error {
	end := time.Now().Add(d)
	for {
		m.mu.Lock()
		for _, msg := range m.list {
			if ok(msg) {
				m.mu.Unlock()
				return nil
			}
		}
		n := len(m.list)
		m.mu.Unlock()
		if time.Now().After(end) {
			return fmt.Errorf("no such message within %v (%d messages received in all)", d, n)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// ---------------------------------------------------------------------------
// helpers

func writeFiles(dir string, files map[string]string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func startLogged(cmd *exec.Cmd, logPath string) error {
	log, err := os.Create(logPath)
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = log, log
	return cmd.Start()
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func waitTCP(ctx context.Context, addr string, d time.Duration) error {
	end := time.Now().Add(d)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			return c.Close()
		}
		if time.Now().After(end) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// sourceDir is the directory of this command's sources (assemble.sh sits
// beside them); the test runs from the repository root.
func sourceDir() (string, error) {
	dir := filepath.Join("dev", "vmtest")
	if _, err := os.Stat(filepath.Join(dir, "assemble.sh")); err != nil {
		return "", fmt.Errorf("run from the repository root: %w", err)
	}
	return filepath.Abs(dir)
}
