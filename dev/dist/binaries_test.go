package dist

import (
	"bytes"
	"debug/buildinfo"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// maxBinarySize is the most a binary may weigh: it must fit comfortably on
// a small SD card image and download quickly to a Pi Zero.
const maxBinarySize = 15_000_000

var elfMachine = map[string]elf.Machine{"arm": elf.EM_ARM, "arm64": elf.EM_AARCH64, "amd64": elf.EM_X86_64}

// TestBinaries checks each binary of make cross: an ELF executable for its
// processor, fully static (no interpreter, no dynamic section), stripped,
// built with cgo off, -trimpath and no VCS stamp, under 15 MB, and stamped
// with the version and commit that netspot version prints.
func TestBinaries(t *testing.T) {
	dir := distDir(t)
	root := moduleRoot(t)
	goroot := strings.TrimSpace(run(t, exec.Command("go", "env", "GOROOT")))
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			bin := filepath.Join(dir, "netspot-linux-"+tg.name)
			data, err := os.ReadFile(bin)
			if err != nil {
				t.Fatalf("%v (make cross writes it)", err)
			}
			t.Logf("%s: %d bytes (%.1f MiB)", filepath.Base(bin), len(data), float64(len(data))/(1<<20))
			if len(data) > maxBinarySize {
				t.Errorf("%d bytes, more than %d", len(data), maxBinarySize)
			}
			checkELF(t, bin, tg)
			checkBuildInfo(t, bin, tg)
			// -trimpath: no path of this machine in the binary. A
			// directory is looked for with its trailing slash: HOME
			// /root must not match the standard library's os/root.go.
			for _, p := range []string{root, goroot, os.Getenv("HOME")} {
				if p != "" && p != "/" && bytes.Contains(data, []byte(strings.TrimSuffix(p, "/")+"/")) {
					t.Errorf("the binary holds the path %s of the build machine", p)
				}
			}
			checkVersion(t, bin, tg)
		})
	}
}

func checkELF(t *testing.T, bin string, tg target) {
	t.Helper()
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Type != elf.ET_EXEC {
		t.Errorf("ELF type %v, want ET_EXEC (a static, non-PIE executable)", f.Type)
	}
	if f.Machine != elfMachine[tg.goarch] {
		t.Errorf("ELF machine %v, want %v", f.Machine, elfMachine[tg.goarch])
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("program header %v: the binary is not fully static", p.Type)
		}
	}
	for _, s := range f.Sections {
		switch {
		case s.Name == ".interp" || s.Name == ".dynamic" || s.Name == ".dynsym":
			t.Errorf("section %s: the binary is not fully static", s.Name)
		case s.Name == ".symtab" || strings.HasPrefix(s.Name, ".debug_") || strings.HasPrefix(s.Name, ".zdebug_"):
			t.Errorf("section %s: the binary is not stripped (-ldflags -s -w)", s.Name)
		}
	}
	if libs, err := f.ImportedLibraries(); err == nil && len(libs) > 0 {
		t.Errorf("the binary needs shared libraries %v", libs)
	}
}

func checkBuildInfo(t *testing.T, bin string, tg target) {
	t.Helper()
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	settings := make(map[string]string)
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	want := map[string]string{"CGO_ENABLED": "0", "GOOS": "linux", "GOARCH": tg.goarch, "-trimpath": "true"}
	switch tg.name {
	case "armv6", "armv7":
		want["GOARM"] = tg.goarm
	case "arm64":
		want["GOARM64"] = "v8.0"
	case "amd64":
		want["GOAMD64"] = "v1"
	}
	for k, v := range want {
		if settings[k] != v {
			t.Errorf("built with %s=%q, want %q", k, settings[k], v)
		}
	}
	for k := range settings {
		if strings.HasPrefix(k, "vcs.") {
			t.Errorf("build setting %s: the binary carries a VCS stamp, which a copy of the tree would not (-buildvcs=false)", k)
		}
	}
	if info.Path != "netspot/cmd/netspot" {
		t.Errorf("main package %s, want netspot/cmd/netspot", info.Path)
	}
}

// checkVersion runs `netspot version` and compares it with the version and
// commit that make passed (NETSPOT_VERSION, NETSPOT_COMMIT).
func checkVersion(t *testing.T, bin string, tg target) {
	t.Helper()
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	out := run(t, tg.command(t, bin, "version"))
	version, commit := os.Getenv("NETSPOT_VERSION"), os.Getenv("NETSPOT_COMMIT")
	if version == "" || commit == "" {
		t.Fatalf("NETSPOT_VERSION and NETSPOT_COMMIT must be set to what make cross stamped (make dist-test sets them); netspot version says %q", out)
	}
	want := fmt.Sprintf("netspot %s (commit %s, %s)\n", version, commit, info.GoVersion)
	if out != want {
		t.Errorf("netspot version printed %q, want %q", out, want)
	}
}

// TestOldestProcessors runs each ARM binary on the oldest Raspberry Pi
// processor it is meant for (qemu's ARM1176 for the Pi 1 and Zero,
// Cortex-A7 for the Pi 2, Cortex-A53 for the Pi 3), and checks that the
// emulated processor is strict enough for this to mean something: the
// armv7 binary dies of an illegal instruction on the ARM1176.
func TestOldestProcessors(t *testing.T) {
	dir := distDir(t)
	for _, name := range []string{"armv6", "armv7", "arm64"} {
		tg := targetNamed(t, name)
		cmd := exec.Command(needTool(t, tg.emulator(), "emulates the Pi's processor"), "-cpu", tg.cpu,
			filepath.Join(dir, "netspot-linux-"+name), "version")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s on %s: %v\n%s", name, tg.cpu, err, out)
		}
	}
	pi1 := targetNamed(t, "armv6")
	cmd := exec.Command(needTool(t, pi1.emulator(), "emulates the Pi's processor"), "-cpu", pi1.cpu,
		filepath.Join(dir, "netspot-linux-armv7"), "version")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("armv7 binary on the %s (Pi 1): %v, want death by SIGILL\n%s", pi1.cpu, err, out)
	}
	// qemu reports the guest's signal as its own death, or as exit 128+n.
	ws, _ := exit.Sys().(syscall.WaitStatus)
	if !(ws.Signaled() && ws.Signal() == syscall.SIGILL) && ws.ExitStatus() != 128+int(syscall.SIGILL) {
		t.Errorf("armv7 binary on the %s (Pi 1): %v, want death by SIGILL (the emulated processor must lack ARMv7 instructions)\n%s", pi1.cpu, err, out)
	}
}
