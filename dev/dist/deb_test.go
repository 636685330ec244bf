package dist

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// debEntry is a file or directory of a package, as dpkg-deb -c lists it.
type debEntry struct {
	mode string // as ls prints it: -rw-r--r--
	path string
}

// debContents is what every package holds, and nothing else.
var debContents = []debEntry{
	{"drwxr-xr-x", "./"},
	{"drwxr-xr-x", "./etc/"},
	{"drwxr-xr-x", "./etc/netspot/"},
	{"-rw-r--r--", "./etc/netspot/netspot.toml"},
	{"drwxr-xr-x", "./lib/"},
	{"drwxr-xr-x", "./lib/systemd/"},
	{"drwxr-xr-x", "./lib/systemd/system/"},
	{"-rw-r--r--", "./lib/systemd/system/netspot.service"},
	{"drwxr-xr-x", "./usr/"},
	{"drwxr-xr-x", "./usr/bin/"},
	{"-rwxr-xr-x", "./usr/bin/netspot"},
	{"drwxr-xr-x", "./usr/share/"},
	{"drwxr-xr-x", "./usr/share/bash-completion/"},
	{"drwxr-xr-x", "./usr/share/bash-completion/completions/"},
	{"-rw-r--r--", "./usr/share/bash-completion/completions/netspot"},
	{"drwxr-xr-x", "./usr/share/doc/"},
	{"drwxr-xr-x", "./usr/share/doc/netspot/"},
	{"-rw-r--r--", "./usr/share/doc/netspot/changelog.gz"},
	{"-rw-r--r--", "./usr/share/doc/netspot/copyright"},
	{"drwxr-xr-x", "./usr/share/fish/"},
	{"drwxr-xr-x", "./usr/share/fish/vendor_completions.d/"},
	{"-rw-r--r--", "./usr/share/fish/vendor_completions.d/netspot.fish"},
	{"drwxr-xr-x", "./usr/share/lintian/"},
	{"drwxr-xr-x", "./usr/share/lintian/overrides/"},
	{"-rw-r--r--", "./usr/share/lintian/overrides/netspot"},
	{"drwxr-xr-x", "./usr/share/man/"},
	{"drwxr-xr-x", "./usr/share/man/man1/"},
	{"drwxr-xr-x", "./usr/share/netspot/"},
	{"drwxr-xr-x", "./usr/share/netspot/grafana/"},
	{"-rw-r--r--", "./usr/share/netspot/grafana/netspot-influxdb.json"},
	{"-rw-r--r--", "./usr/share/netspot/grafana/netspot-prometheus.json"},
	{"drwxr-xr-x", "./usr/share/netspot/prometheus/"},
	{"-rw-r--r--", "./usr/share/netspot/prometheus/netspot.rules.yml"},
	{"drwxr-xr-x", "./usr/share/zsh/"},
	{"drwxr-xr-x", "./usr/share/zsh/vendor-completions/"},
	{"-rw-r--r--", "./usr/share/zsh/vendor-completions/_netspot"},
}

// completions are the completion scripts of make man (in dist/completion)
// and where the packages install them.
var completions = map[string]string{
	"netspot":      "usr/share/bash-completion/completions/netspot",
	"_netspot":     "usr/share/zsh/vendor-completions/_netspot",
	"netspot.fish": "usr/share/fish/vendor_completions.d/netspot.fish",
}

// manPages lists the manual pages that make man wrote in dir/man.
func manPages(t *testing.T, dir string) []string {
	t.Helper()
	pages, _ := filepath.Glob(filepath.Join(dir, "man", "*.1"))
	if len(pages) < 2 {
		t.Fatalf("%d manual pages in %s (make man writes them)", len(pages), filepath.Join(dir, "man"))
	}
	return pages
}

// packageContents is debContents with a manual page per command, sorted
// by path.
func packageContents(t *testing.T, dir string) []debEntry {
	t.Helper()
	out := slices.Clone(debContents)
	for _, p := range manPages(t, dir) {
		out = append(out, debEntry{"-rw-r--r--", "./usr/share/man/man1/" + filepath.Base(p) + ".gz"})
	}
	sortEntries(out)
	return out
}

func sortEntries(es []debEntry) {
	slices.SortFunc(es, func(a, b debEntry) int { return strings.Compare(a.path, b.path) })
}

// packageFile returns the package of a Debian architecture in dir.
func packageFile(t *testing.T, dir, arch string) string {
	t.Helper()
	debs, _ := filepath.Glob(filepath.Join(dir, "netspot_*_"+arch+".deb"))
	if len(debs) != 1 {
		t.Fatalf("%d packages netspot_*_%s.deb in %s, want 1 (make deb writes it): %v", len(debs), arch, dir, debs)
	}
	return debs[0]
}

// TestDebs checks each package: its control fields, its exact contents,
// owners and permissions, that its files are those of the sources and of
// make cross, its maintainer scripts and conffiles, and lintian.
func TestDebs(t *testing.T) {
	dir := distDir(t)
	dpkgDeb := needTool(t, "dpkg-deb", "reads the packages")
	for _, tg := range targets {
		if tg.deb == "" {
			continue
		}
		t.Run(tg.deb, func(t *testing.T) {
			deb := packageFile(t, dir, tg.deb)
			fields := make(map[string]string)
			for _, f := range []string{"Package", "Version", "Architecture", "Maintainer", "Depends", "Installed-Size", "Section", "Priority"} {
				fields[f] = strings.TrimSpace(run(t, exec.Command(dpkgDeb, "--field", deb, f)))
			}
			want := map[string]string{"Package": "netspot", "Architecture": tg.deb, "Depends": "adduser, procps", "Section": "net", "Priority": "optional"}
			for k, v := range want {
				if fields[k] != v {
					t.Errorf("%s: %q, want %q", k, fields[k], v)
				}
			}
			if !regexp.MustCompile(`^[0-9][A-Za-z0-9.+~]*$`).MatchString(fields["Version"]) {
				t.Errorf("Version %q is not a Debian version", fields["Version"])
			}
			if filepath.Base(deb) != "netspot_"+fields["Version"]+"_"+tg.deb+".deb" {
				t.Errorf("file %s does not match version %s", filepath.Base(deb), fields["Version"])
			}
			if !regexp.MustCompile(`^[^<>]+ <[^<>@\s]+@[^<>@\s]+>$`).MatchString(fields["Maintainer"]) {
				t.Errorf("Maintainer %q, want \"Name <email>\"", fields["Maintainer"])
			}

			// Contents: exactly these, owned by root.
			var got []debEntry
			for _, line := range strings.Split(strings.TrimSpace(run(t, exec.Command(dpkgDeb, "--contents", deb))), "\n") {
				f := strings.Fields(line)
				if len(f) < 6 {
					t.Fatalf("dpkg-deb --contents: %q", line)
				}
				if f[1] != "root/root" {
					t.Errorf("%s owned by %s, want root/root", f[5], f[1])
				}
				got = append(got, debEntry{f[0], f[5]})
			}
			contents := packageContents(t, dir)
			sortEntries(got)
			if !slices.Equal(got, contents) {
				t.Errorf("contents:\n%s\nwant:\n%s", entries(got), entries(contents))
			}

			// Files: those of the sources and of make cross.
			root := t.TempDir()
			run(t, exec.Command(dpkgDeb, "--extract", deb, root))
			ctl := t.TempDir()
			run(t, exec.Command(dpkgDeb, "--control", deb, ctl))
			same := func(packaged, source string, gz bool) {
				t.Helper()
				a := readFile(t, filepath.Join(root, packaged), gz)
				b := readFile(t, source, false)
				if !bytes.Equal(a, b) {
					t.Errorf("%s differs from %s", packaged, source)
				}
			}
			same("usr/bin/netspot", filepath.Join(dir, "netspot-linux-"+tg.name), false)
			same("etc/netspot/netspot.toml", "netspot.toml", false)
			same("lib/systemd/system/netspot.service", "netspot.service", false)
			for _, p := range manPages(t, dir) {
				same("usr/share/man/man1/"+filepath.Base(p)+".gz", p, true)
			}
			for name, path := range completions {
				same(path, filepath.Join(dir, "completion", name), false)
			}
			same("usr/share/lintian/overrides/netspot", filepath.Join("deb", "lintian-overrides"), false)
			same("usr/share/netspot/prometheus/netspot.rules.yml", filepath.Join("prometheus", "netspot.rules.yml"), false)
			same("usr/share/netspot/grafana/netspot-prometheus.json", filepath.Join("grafana", "netspot-prometheus.json"), false)
			same("usr/share/netspot/grafana/netspot-influxdb.json", filepath.Join("grafana", "netspot-influxdb.json"), false)
			for _, s := range []string{"postinst", "prerm", "postrm"} {
				if a, b := readFile(t, filepath.Join(ctl, s), false), readFile(t, filepath.Join("deb", s), false); !bytes.Equal(a, b) {
					t.Errorf("control %s differs from deb/%s", s, s)
				}
			}
			if c := string(readFile(t, filepath.Join(ctl, "conffiles"), false)); c != configPath+"\n" {
				t.Errorf("conffiles %q, want %q", c, configPath+"\n")
			}
			checkMD5sums(t, root, readFile(t, filepath.Join(ctl, "md5sums"), false), contents)
			if size, _ := strconv.Atoi(fields["Installed-Size"]); size*1024 < fileSize(t, filepath.Join(root, "usr/bin/netspot")) {
				t.Errorf("Installed-Size %s KiB is less than the binary", fields["Installed-Size"])
			}
			// The licences of everything linked into the binary.
			copyright := string(readFile(t, filepath.Join(root, "usr/share/doc/netspot/copyright"), false))
			for _, line := range strings.Split(run(t, exec.Command("go", "version", "-m", filepath.Join(root, "usr/bin/netspot"))), "\n") {
				if f := strings.Fields(line); len(f) >= 3 && f[0] == "dep" && !strings.Contains(copyright, "\n"+f[1]+"@"+f[2]+"\n") {
					t.Errorf("copyright has no licence for %s %s, linked into the binary", f[1], f[2])
				}
			}
			// The dashboard's JavaScript library, embedded in the binary.
			if lic := readFile(t, filepath.Join("..", "..", "core", "api", "web", "assets", "vendor", "uPlot", "LICENSE"), false); !strings.Contains(copyright, "uPlot 1.") || !strings.Contains(copyright, string(lic)) {
				t.Error("copyright lacks uPlot and its licence, embedded in the binary")
			}
			changelog := string(readFile(t, filepath.Join(root, "usr/share/doc/netspot/changelog.gz"), true))
			if !strings.HasPrefix(changelog, "netspot ("+fields["Version"]+") ") {
				t.Errorf("changelog does not start with this version:\n%s", changelog)
			}

			checkLintian(t, deb)
		})
	}
}

func entries(es []debEntry) string {
	var b strings.Builder
	for _, e := range es {
		fmt.Fprintf(&b, "  %s %s\n", e.mode, e.path)
	}
	return b.String()
}

func readFile(t *testing.T, name string, gz bool) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if !gz {
		return b
	}
	r, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return out
}

func fileSize(t *testing.T, name string) int {
	t.Helper()
	fi, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	return int(fi.Size())
}

// checkMD5sums checks that md5sums lists every file of the package with
// its checksum.
func checkMD5sums(t *testing.T, root string, sums []byte, contents []debEntry) {
	t.Helper()
	listed := make(map[string]bool)
	sc := bufio.NewScanner(bytes.NewReader(sums))
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok {
			t.Errorf("md5sums: %q", sc.Text())
			continue
		}
		listed[name] = true
		h := md5.Sum(readFile(t, filepath.Join(root, name), false))
		if hex.EncodeToString(h[:]) != sum {
			t.Errorf("md5sums: %s has another checksum", name)
		}
	}
	for _, e := range contents {
		if name := strings.TrimPrefix(e.path, "./"); !strings.HasSuffix(e.path, "/") && !listed[name] {
			t.Errorf("md5sums does not list %s", name)
		}
	}
}

// checkLintian runs lintian with every tag shown (pedantic and info
// included): there must be none but those overridden in the package with
// their reason (deb/lintian-overrides); an override that no longer applies
// is a tag too.
func checkLintian(t *testing.T, deb string) {
	t.Helper()
	lintian := needTool(t, "lintian", "checks the packages against Debian policy")
	cmd := exec.Command(lintian, "--pedantic", "--display-info", "--fail-on", "error,warning,info,pedantic", deb)
	out, err := cmd.CombinedOutput()
	for _, line := range strings.Split(string(out), "\n") {
		if regexp.MustCompile(`^[EWIPXO]: `).MatchString(line) {
			t.Errorf("lintian: %s", line)
		}
	}
	if err != nil {
		t.Errorf("lintian: %v\n%s", err, out)
	}
}

// TestDebInstall installs, upgrades, removes and purges the package in a
// Debian chroot (NETSPOT_CHROOT, made by make chroot: debootstrap with
// systemd and man-db), and checks at each step what a user would find:
// the service's user and groups, the config's owner and mode, the unit
// verified by systemd-analyze and its exposure, capture with exactly the
// unit's capabilities as the netspot user, the state file, a local change
// to the config kept on upgrade, and nothing left after purge. The
// packages of the other processors are installed too (dpkg
// --add-architecture) and their binary run under qemu.
func TestDebInstall(t *testing.T) {
	dir := distDir(t)
	pristine := os.Getenv("NETSPOT_CHROOT")
	if pristine == "" {
		if inCI() {
			t.Fatal("NETSPOT_CHROOT is not set: make dist-test makes the chroot with debootstrap when run as root, which .ci/run does (apt-get install debootstrap)")
		}
		t.Skip("NETSPOT_CHROOT is not set: make dist-test makes it with debootstrap when run as root")
	}
	if os.Geteuid() != 0 {
		t.Fatal("installing in a chroot needs root")
	}
	root := filepath.Join(t.TempDir(), "root")
	run(t, exec.Command("cp", "-a", pristine, root))
	in := func(args ...string) *exec.Cmd {
		cmd := exec.Command("chroot", append([]string{root}, args...)...)
		cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", "DEBIAN_FRONTEND=noninteractive"}
		return cmd
	}
	exists := func(p string) bool { _, err := os.Lstat(filepath.Join(root, p)); return err == nil }

	var native target
	for _, tg := range targets {
		if tg.deb != "" && tg.native() {
			native = tg
		}
	}
	if native.deb == "" {
		t.Fatalf("no package for this machine's processor")
	}
	deb := packageFile(t, dir, native.deb)
	run(t, exec.Command("cp", deb, filepath.Join(root, "tmp", "netspot.deb")))

	// Install.
	if out := run(t, in("dpkg", "-i", "/tmp/netspot.deb")); !strings.Contains(out, "sudo systemctl enable --now netspot") {
		t.Errorf("dpkg -i does not tell how to start the service:\n%s", out)
	}
	passwd := strings.Split(strings.TrimSpace(run(t, in("getent", "passwd", "netspot"))), ":")
	if len(passwd) != 7 || passwd[5] != "/var/lib/netspot" || passwd[6] != "/usr/sbin/nologin" {
		t.Errorf("user netspot: %q, want home /var/lib/netspot and shell /usr/sbin/nologin", passwd)
	}
	if uid, _ := strconv.Atoi(passwd[2]); uid == 0 || uid >= 1000 {
		t.Errorf("user netspot has uid %d, want a system uid", uid)
	}
	run(t, in("getent", "group", "gpio"))
	if got := strings.TrimSpace(run(t, in("stat", "-c", "%U:%G %a", configPath))); got != "root:netspot 640" {
		t.Errorf("%s: %s, want root:netspot 640 (it may hold MQTT credentials)", configPath, got)
	}
	if got := run(t, in("dpkg-query", "-W", "-f", "${Conffiles}", "netspot")); !strings.Contains(got, configPath+" ") {
		t.Errorf("conffiles of the installed package: %q", got)
	}
	if out := run(t, in("dpkg", "--verify", "netspot")); out != "" {
		t.Errorf("dpkg --verify netspot:\n%s", out)
	}
	if out := run(t, in("netspot", "check", "-c", configPath)); !strings.Contains(out, ": ok") {
		t.Errorf("netspot check: %q", out)
	}
	for _, page := range []string{"netspot", "netspot-run"} {
		if out, err := in("man", "-w", page).CombinedOutput(); err != nil {
			t.Errorf("man -w %s: %v\n%s", page, err, out)
		}
	}

	// The unit, as systemd reads it.
	analyze := in("systemd-analyze", "verify", "netspot.service")
	if out, err := analyze.CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify netspot.service: %v\n%s", err, out)
	}
	security := run(t, in("systemd-analyze", "security", "--offline=yes", "netspot.service"))
	m := regexp.MustCompile(`Overall exposure level for netspot\.service: ([0-9.]+)`).FindStringSubmatch(security)
	if m == nil {
		t.Fatalf("systemd-analyze security: no exposure level:\n%s", security)
	}
	t.Logf("systemd-analyze security: exposure %s", m[1])
	if level, _ := strconv.ParseFloat(m[1], 64); level > 2.5 {
		t.Errorf("exposure level %v, more than 2.5: the unit lost some of its hardening\n%s", level, security)
	}

	checkCapabilities(t, root, in)

	// Upgrade (here a reinstall) keeps a local change to the config.
	cfg := filepath.Join(root, configPath)
	f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(f, "# changed on this box")
	f.Close()
	run(t, in("dpkg", "-i", "/tmp/netspot.deb"))
	if !strings.Contains(string(readFile(t, cfg, false)), "# changed on this box") {
		t.Error("reinstalling the package lost the local change to the config")
	}
	if got := strings.TrimSpace(run(t, in("stat", "-c", "%U:%G %a", configPath))); got != "root:netspot 640" {
		t.Errorf("after reinstall, %s: %s, want root:netspot 640", configPath, got)
	}

	// Remove keeps the config; purge leaves nothing.
	run(t, in("dpkg", "-r", "netspot"))
	if exists("usr/bin/netspot") || !exists(configPath) {
		t.Errorf("after dpkg -r: binary there %v, config there %v; want false, true", exists("usr/bin/netspot"), exists(configPath))
	}
	run(t, in("dpkg", "-P", "netspot"))
	for _, p := range []string{"etc/netspot", "var/lib/netspot", "var/log/netspot", "lib/systemd/system/netspot.service"} {
		if exists(p) {
			t.Errorf("after dpkg -P, %s is still there", p)
		}
	}
	// dpkg-statoverride --list fails when it lists nothing.
	if out, _ := in("dpkg-statoverride", "--list").Output(); strings.Contains(string(out), configPath) {
		t.Errorf("after dpkg -P, the permission override of %s is still there", configPath)
	}

	// The other processors' packages install too, and their binary runs.
	for _, tg := range targets {
		if tg.deb == "" || tg.deb == native.deb {
			continue
		}
		deb := packageFile(t, dir, tg.deb)
		run(t, exec.Command("cp", deb, filepath.Join(root, "tmp", "netspot.deb")))
		run(t, in("dpkg", "--add-architecture", tg.deb))
		run(t, in("dpkg", "-i", "/tmp/netspot.deb"))
		if arch := strings.TrimSpace(run(t, in("dpkg-query", "-W", "-f", "${Architecture}", "netspot"))); arch != tg.deb {
			t.Errorf("installed netspot:%s, want %s", arch, tg.deb)
		}
		if out := run(t, tg.command(t, filepath.Join(root, "usr/bin/netspot"), "version")); !strings.HasPrefix(out, "netspot ") {
			t.Errorf("%s: netspot version: %q", tg.deb, out)
		}
		run(t, in("dpkg", "-P", "netspot"))
	}
}

// checkCapabilities runs the installed netspot as the netspot user on the
// loopback interface, as systemd runs the service: with the unit's ambient
// capabilities it captures and saves its state; without them it stops with
// the permission exit code and says what is missing.
func checkCapabilities(t *testing.T, root string, in func(...string) *exec.Cmd) {
	t.Helper()
	unit := parseUnit(t, string(readFile(t, "netspot.service", false)))
	var caps []string
	for _, c := range strings.Fields(unit.get("Service", "AmbientCapabilities")) {
		caps = append(caps, "+"+strings.ToLower(strings.TrimPrefix(c, "CAP_")))
	}
	capList := strings.Join(caps, ",")
	// What StateDirectory= does when the service starts.
	run(t, in("install", "-d", "-o", "netspot", "-g", "netspot", "-m", "0750", "/var/lib/netspot"))
	setpriv := []string{"setpriv", "--reuid=netspot", "--regid=netspot", "--init-groups", "--no-new-privs"}
	netspot := []string{"/usr/bin/netspot", "run", "-c", configPath, "--miner.device", "lo", "--verbose"}

	// Without capabilities.
	cmd := in(append(setpriv, netspot...)...)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 5 || !strings.Contains(string(out), "CAP_NET_RAW") {
		t.Errorf("netspot without capabilities: %v, want exit code 5 and a message naming CAP_NET_RAW\n%s", err, out)
	}

	// With the unit's capabilities, and nothing else.
	args := append(append(slices.Clone(setpriv), "--inh-caps="+capList, "--ambient-caps="+capList, "--bounding-set=-all,"+capList), netspot...)
	cmd = in(args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	defer close(done)
	go sendLoopback(done)
	timer := time.AfterFunc(30*time.Second, func() { cmd.Process.Kill() })
	defer timer.Stop()
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	captured := false
	for !captured && sc.Scan() {
		var l replayLine
		if err := json.Unmarshal(sc.Bytes(), &l); err == nil && l.Type == "data" && l.Packets > 0 {
			captured = true
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	io.Copy(io.Discard, stdout)
	err = cmd.Wait()
	if !captured || err != nil {
		t.Fatalf("netspot as the netspot user with %s: captured %v, exit %v\n%s", capList, captured, err, stderr.String())
	}
	st := strings.TrimSpace(run(t, in("stat", "-c", "%U %a", packagedConfigValue(t, "analyzer", "state_file"))))
	if !strings.HasPrefix(st, "netspot ") {
		t.Errorf("state file: %q, want it written by the netspot user", st)
	}
}

// sendLoopback sends small UDP datagrams to the loopback interface until
// done is closed (at most a minute).
func sendLoopback(done <-chan struct{}) {
	conn, err := net.Dial("udp", "127.0.0.1:9")
	if err != nil {
		return
	}
	defer conn.Close()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for range 3000 {
		select {
		case <-done:
			return
		case <-tick.C:
			conn.Write([]byte("netspot"))
		}
	}
}
