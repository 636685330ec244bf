package dist

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

// The service's paths: systemd makes /var/lib/netspot (StateDirectory) and
// /var/log/netspot (LogsDirectory) writable; everything else is read-only.
const (
	configPath = "/etc/netspot/netspot.toml"
	stateDir   = "/var/lib/netspot/"
	logsDir    = "/var/log/netspot/"
)

// stateKeys hold files that must survive a restart: when netspot has the
// key, the packaged config sets it under the state directory.
var stateKeys = []string{"analyzer.state_file", "exporter.mqtt.store_dir"}

// outputKeys name files netspot writes: empty, or in a writable directory.
var outputKeys = []string{"exporter.file.data", "exporter.file.alarm"}

func packagedConfig(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile("netspot.toml")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if _, err := toml.Decode(string(b), &doc); err != nil {
		t.Fatalf("netspot.toml: %v", err)
	}
	return doc
}

// lookup returns the value of a dotted key of a decoded TOML document.
func lookup(doc map[string]any, key string) (any, bool) {
	parts := strings.Split(key, ".")
	var cur any = doc
	for _, p := range parts {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[p]; !ok {
			return nil, false
		}
	}
	return cur, true
}

func packagedConfigValue(t *testing.T, section, key string) string {
	t.Helper()
	v, ok := lookup(packagedConfig(t), section+"."+key)
	if !ok {
		t.Fatalf("netspot.toml: no %s.%s", section, key)
	}
	s, ok := v.(string)
	if !ok {
		t.Fatalf("netspot.toml: %s.%s is %T, want a string", section, key, v)
	}
	return s
}

// TestPackagedConfigValid runs netspot check on the packaged config: every
// key exists and every value is valid.
func TestPackagedConfigValid(t *testing.T) {
	out, err := exec.Command(netspotBinary(t), "check", "-c", "netspot.toml").CombinedOutput()
	if err != nil {
		t.Fatalf("netspot check -c netspot.toml: %v\n%s", err, out)
	}
}

// TestPackagedConfigPaths checks that the packaged config keeps the state
// in the state directory, writes only where the service may, and captures
// on the Pi's Ethernet port in promiscuous mode.
func TestPackagedConfigPaths(t *testing.T) {
	defaults, err := exec.Command(netspotBinary(t), "defaults").Output()
	if err != nil {
		t.Fatalf("netspot defaults: %v", err)
	}
	var def map[string]any
	if _, err := toml.Decode(string(defaults), &def); err != nil {
		t.Fatalf("netspot defaults: %v", err)
	}
	doc := packagedConfig(t)
	for _, key := range stateKeys {
		if _, ok := lookup(def, key); !ok {
			t.Logf("%s: not a key of this netspot (netspot defaults), nothing to check", key)
			continue
		}
		v, _ := lookup(doc, key)
		if s, _ := v.(string); !strings.HasPrefix(s, stateDir) {
			t.Errorf("%s = %q: the service keeps its state under %s (StateDirectory=netspot); set it there", key, v, stateDir)
		}
	}
	for _, key := range outputKeys {
		v, ok := lookup(doc, key)
		if !ok {
			continue
		}
		if s, _ := v.(string); s != "" && !strings.HasPrefix(s, stateDir) && !strings.HasPrefix(s, logsDir) {
			t.Errorf("%s = %q: the service may write only under %s and %s", key, s, stateDir, logsDir)
		}
	}
	if d := packagedConfigValue(t, "miner", "device"); d != "eth0" {
		t.Errorf("miner.device = %q, want eth0, the Ethernet port of a Raspberry Pi", d)
	}
	if v, _ := lookup(doc, "miner.promiscuous"); v != true {
		t.Errorf("miner.promiscuous = %v, want true: a mirror port delivers frames addressed to other machines", v)
	}
}

// TestManPage checks the manual pages made from the command tree (make
// man): one per command of `netspot help`, and netspot(1) listing them
// all, and every exit code of the netspot command with no other.
func TestManPage(t *testing.T) {
	dir := t.TempDir()
	if out, err := exec.Command(netspotBinary(t), "man", dir).CombinedOutput(); err != nil {
		t.Fatalf("netspot man: %v\n%s", err, out)
	}
	page, err := os.ReadFile(filepath.Join(dir, "netspot.1"))
	if err != nil {
		t.Fatal(err)
	}
	sections := manSections(string(page))

	help, err := exec.Command(netspotBinary(t), "help").Output()
	if err != nil {
		t.Fatalf("netspot help: %v", err)
	}
	var commands []string
	inList := false
	sc := bufio.NewScanner(strings.NewReader(string(help)))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "Commands:":
			inList = true
		case inList && strings.HasPrefix(line, "  "):
			if name := strings.Fields(line)[0]; name != "help" {
				commands = append(commands, name)
			}
		case inList:
			inList = false
		}
	}
	if len(commands) < 3 {
		t.Fatalf("netspot help lists %d commands: %q", len(commands), help)
	}
	for _, c := range commands {
		if _, err := os.Stat(filepath.Join(dir, "netspot-"+c+".1")); err != nil {
			t.Errorf("no manual page for netspot %s: %v", c, err)
		}
	}
	slices.Sort(commands)
	if got := manItems(sections["COMMANDS"]); !slices.Equal(got, commands) {
		t.Errorf("man page COMMANDS %q, netspot help %q", got, commands)
	}

	main, err := os.ReadFile(filepath.Join(moduleRoot(t), "cmd", "netspot", "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	var codes []string
	for _, m := range regexp.MustCompile(`(?m)^\s*exit\w+\s*=\s*(\d+)`).FindAllStringSubmatch(string(main), -1) {
		codes = append(codes, m[1])
	}
	if len(codes) < 2 {
		t.Fatalf("cmd/netspot/main.go: found exit codes %q", codes)
	}
	if got := manItems(sections["EXIT STATUS"]); !slices.Equal(got, codes) {
		t.Errorf("man page EXIT STATUS %q, cmd/netspot/main.go %q", got, codes)
	}
}

// manSections splits a man page at its .SH headers.
func manSections(page string) map[string]string {
	out := make(map[string]string)
	name := ""
	for _, line := range strings.Split(page, "\n") {
		if h, ok := strings.CutPrefix(line, ".SH "); ok {
			name = strings.Trim(h, `"`)
			continue
		}
		out[name] += line + "\n"
	}
	return out
}

// manItems lists the bold tags of the .TP paragraphs of a section
// (\fBtag\fP, as go-md2man writes them).
func manItems(section string) []string {
	var items []string
	lines := strings.Split(section, "\n")
	for i := 0; i+1 < len(lines); i++ {
		if lines[i] == ".TP" {
			if m := regexp.MustCompile(`^\\fB(.*)\\fP$`).FindStringSubmatch(lines[i+1]); m != nil {
				items = append(items, m[1])
			}
		}
	}
	return items
}
