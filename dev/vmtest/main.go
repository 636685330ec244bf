// Command vmtest boots the netspot virtual appliance under
// qemu-system-aarch64 and checks it the way a user would use the box.
//
// On the virt machine (-machine virt, the default): first boot from files
// dropped on the FAT partition, SSH key login, services, statistics and
// alarms on an MQTT broker of the host, config edits over SSH,
// supervision, log rotation, the hardware watchdog, and a second boot
// that keeps the data partition.
//
// On QEMU's model of the Raspberry Pi 3 Model B (-machine raspi3b): the
// SD card booted by U-Boot for the Pi 3, capture on a USB network device,
// and A/B updates with RAUC: a bundle with a bad signature refused, a
// power cut in the middle of an install, an update to a new version, and
// an update whose netspot does not start rolled back (see pi.go).
//
// The system is assembled by assemble.sh from Debian's arm64 packages and
// the rootfs overlay of the SD-card image. Every wait is bounded; the run
// fails if the whole test passes its deadline.
//
// usage: go run ./dev/vmtest -binary dist/netspot-linux-arm64 [-out build/vmtest]
//
//	go run ./dev/vmtest -machine raspi3b -binary NETSPOT -update-binary NEWER_NETSPOT -update-version V [-out build/vmtest-pi]
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
	machine := flag.String("machine", "virt", "QEMU machine: virt, or raspi3b (the Raspberry Pi 3 Model B)")
	binary := flag.String("binary", "", "netspot binary for linux/arm64 (required)")
	update := flag.String("update-binary", "", "netspot binary of another version, for the update bundles (raspi3b)")
	updateVersion := flag.String("update-version", "next", "the version -update-binary says it is (raspi3b)")
	uboot := flag.String("uboot", "", "U-Boot for the Pi 3 to put on the card instead of Debian's (raspi3b), e.g. buildroot's rpi_3 build")
	out := flag.String("out", "build/vmtest", "work directory (removed and recreated)")
	deadline := flag.Duration("timeout", 10*time.Minute, "deadline of the whole test")
	flag.Parse()
	if *binary == "" || flag.NArg() > 0 || (*machine != "virt" && *machine != "raspi3b") ||
		(*machine == "raspi3b" && *update == "") {
		fmt.Fprintln(os.Stderr, "usage: vmtest [-machine virt] -binary NETSPOT_LINUX_ARM64 [-out DIR] [-timeout 10m]")
		fmt.Fprintln(os.Stderr, "       vmtest -machine raspi3b -binary NETSPOT_LINUX_ARM64 -update-binary NETSPOT_LINUX_ARM64 [-out DIR] [-timeout 25m]")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *deadline)
	defer cancel()
	t := &suite{ctx: ctx, out: *out, binary: *binary, machine: *machine,
		updateBinary: *update, updateVersion: *updateVersion, uboot: *uboot}
	t.began = time.Now()
	var err error
	if t.machine == "raspi3b" {
		err = t.runPi()
	} else {
		err = t.runVirt()
	}
	t.cleanup()
	t.summary()
	fmt.Printf("%s: %v\n", t.machine, time.Since(t.began).Round(time.Second))
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
	ctx          context.Context
	out          string
	binary       string
	updateBinary string
	// the version updateBinary prints
	updateVersion string
	uboot         string // replaces the card's u-boot.bin when set
	machine       string

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
	boots  int // QEMU processes started

	results []string
	failed  int
	began   time.Time
}

// milestone prints how long the test has run, at a step worth timing.
func (t *suite) milestone(what string) {
	fmt.Printf("     %s at %v\n", what, time.Since(t.began).Round(time.Second))
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
	fmt.Printf("\n%s: %d checks, %d failed\n", t.machine, len(t.results), t.failed)
	for _, r := range t.results {
		if strings.HasPrefix(r, "FAIL") {
			fmt.Println(r)
		}
	}
}

func (t *suite) testConfig(node string) string {
	return fmt.Sprintf(`# written by the boot test
[miner]
device = "eth1"
promiscuous = true

[analyzer]
period = "1s"
state_file = "/data/netspot-state.json"
save_every = "5s"

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
	t.sub = exec.CommandContext(t.ctx, "mosquitto_sub", "-h", "127.0.0.1", "-p", strconv.Itoa(t.brokerPort), "-v",
		"-t", "netspot/#", "-t", "homeassistant/#")
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
	_ = os.RemoveAll(filepath.Join(t.out, "bundles"))
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

// prepare empties the output directory, makes the SSH key the box will
// accept and picks the host's ports (SSH, capture, broker); it returns the
// public key.
func (t *suite) prepare() (pubKey string, err error) {
	if t.out, err = filepath.Abs(t.out); err != nil {
		return "", err
	}
	if err := os.RemoveAll(t.out); err != nil {
		return "", err
	}
	if err := os.MkdirAll(t.out, 0o755); err != nil {
		return "", err
	}
	t.sshKey = filepath.Join(t.out, "id_ed25519")
	t.knownHosts = filepath.Join(t.out, "known_hosts")
	if _, err := t.host("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "vmtest", "-f", t.sshKey); err != nil {
		return "", err
	}
	pub, err := os.ReadFile(t.sshKey + ".pub")
	if err != nil {
		return "", err
	}
	for _, p := range []*int{&t.sshPort, &t.capPort, &t.brokerPort} {
		if *p, err = freePort(); err != nil {
			return "", err
		}
	}
	return string(pub), nil
}

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
