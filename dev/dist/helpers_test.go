package dist

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// target is one of the binaries that make cross writes.
type target struct {
	name   string // dist/netspot-linux-<name>
	goarch string
	goarm  string // GOARM for 32-bit ARM
	deb    string // Debian architecture of its package, "" when not packaged
	qemu   string // qemu-user emulator (QEMU_ARM, QEMU_ARM64 override it)
	cpu    string // processor qemu emulates: the oldest board the binary is meant for
}

// targets are the binaries of make cross. The armhf package carries the
// armv6 binary: Raspberry Pi OS's 32-bit armhf is built for ARMv6, so that
// it runs on the Pi 1 and Zero too.
var targets = []target{
	{name: "armv6", goarch: "arm", goarm: "6", deb: "armhf", qemu: "qemu-arm-static", cpu: "arm1176"}, // Pi 1, Zero
	{name: "armv7", goarch: "arm", goarm: "7", qemu: "qemu-arm-static", cpu: "cortex-a7"},             // Pi 2
	{name: "arm64", goarch: "arm64", deb: "arm64", qemu: "qemu-aarch64-static", cpu: "cortex-a53"},    // Pi 3, Zero 2 W
	{name: "amd64", goarch: "amd64", deb: "amd64", qemu: "qemu-x86_64-static", cpu: "qemu64"},         // PCs
}

func targetNamed(t *testing.T, name string) target {
	t.Helper()
	for _, tg := range targets {
		if tg.name == name {
			return tg
		}
	}
	t.Fatalf("no target %s", name)
	return target{}
}

// native reports whether this machine runs the target's binaries itself.
func (tg target) native() bool {
	return runtime.GOOS == "linux" && runtime.GOARCH == tg.goarch
}

// command runs bin, a binary of this target: directly on a machine of its
// processor, under qemu-user emulating tg.cpu otherwise.
func (tg target) command(t *testing.T, bin string, args ...string) *exec.Cmd {
	t.Helper()
	if tg.native() {
		return exec.Command(bin, args...)
	}
	qemu := needTool(t, tg.emulator(), "runs the "+tg.name+" binary (apt-get install qemu-user-static)")
	return exec.Command(qemu, append([]string{"-cpu", tg.cpu, bin}, args...)...)
}

// emulator is the qemu-user program for the target: make's QEMU_ARM or
// QEMU_ARM64 when set.
func (tg target) emulator() string {
	env := map[string]string{"arm": "QEMU_ARM", "arm64": "QEMU_ARM64"}[tg.goarch]
	if q := os.Getenv(env); env != "" && q != "" {
		return q
	}
	return tg.qemu
}

// distDir is the directory where make cross and make deb wrote their
// outputs; the tests that need them skip without it.
func distDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("NETSPOT_DIST")
	if dir == "" {
		t.Skip("NETSPOT_DIST is not set: make dist-test (part of make test-cross) runs this test on dist/")
	}
	return dir
}

// inCI reports whether the tests run in CI, where a missing tool is a
// failure, never a reason to skip.
func inCI() bool { return os.Getenv("CI") != "" }

// needTool returns the path of a program the test needs: missing, it fails
// the test in CI and skips it elsewhere.
func needTool(t *testing.T, name, why string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if inCI() {
		t.Fatalf("%s is missing (it %s); .ci/run must install it", name, why)
	}
	t.Skipf("%s is missing (it %s)", name, why)
	return ""
}

// moduleRoot is the directory of go.mod.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		t.Fatalf("module root not found: %v", err)
	}
	return dir
}

// run runs cmd and returns its standard output; a failure ends the test
// with the command's standard error.
func run(t *testing.T, cmd *exec.Cmd) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s%s", strings.Join(cmd.Args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

var hostBinary struct {
	once sync.Once
	path string
	err  error
	out  []byte
}

// netspotBinary builds netspot for this machine once per test run.
func netspotBinary(t *testing.T) string {
	t.Helper()
	hostBinary.once.Do(func() {
		dir, err := os.MkdirTemp("", "netspot-dist-test")
		if err != nil {
			hostBinary.err = err
			return
		}
		hostBinary.path = filepath.Join(dir, "netspot")
		cmd := exec.Command("go", "build", "-o", hostBinary.path, "./cmd/netspot")
		cmd.Dir = moduleRoot(t)
		cmd.Env = append(hostEnv(), "CGO_ENABLED=0")
		hostBinary.out, hostBinary.err = cmd.CombinedOutput()
	})
	if hostBinary.err != nil {
		t.Fatalf("go build ./cmd/netspot: %v\n%s", hostBinary.err, hostBinary.out)
	}
	return hostBinary.path
}

// hostEnv is the environment without the variables that make go build for
// another processor: the tests themselves may run as an ARM binary under
// qemu (make cross-unit), where the programs they start run natively.
func hostEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		switch k, _, _ := strings.Cut(kv, "="); k {
		case "GOOS", "GOARCH", "GOARM", "GOARM64", "GOAMD64", "GO386":
		default:
			env = append(env, kv)
		}
	}
	return env
}

// TestMain removes the binary built for the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if hostBinary.path != "" {
		os.RemoveAll(filepath.Dir(hostBinary.path))
	}
	os.Exit(code)
}
