package dist

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// unitFile is a systemd unit: section → key → values in order (a key may
// be repeated).
type unitFile map[string]map[string][]string

func parseUnit(t *testing.T, text string) unitFile {
	t.Helper()
	u := make(unitFile)
	section := ""
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
			u[section] = make(map[string][]string)
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("netspot.service:%d: not a key=value line in a section: %q", i+1, line)
			}
			u[section][k] = append(u[section][k], v)
		}
	}
	return u
}

// get returns the last value of a key ("" when absent), as systemd reads it.
func (u unitFile) get(section, key string) string {
	vs := u[section][key]
	if len(vs) == 0 {
		return ""
	}
	return vs[len(vs)-1]
}

// TestUnit checks the hardening that the service relies on, and that the
// unit agrees with the packaged config, the maintainer scripts and the
// netspot command's exit codes.
func TestUnit(t *testing.T) {
	b, err := os.ReadFile("netspot.service")
	if err != nil {
		t.Fatal(err)
	}
	u := parseUnit(t, string(b))

	want := map[string]string{
		"Type":                    "exec",
		"ExecStart":               "/usr/bin/netspot run -c " + configPath,
		"ExecReload":              "/bin/kill -HUP $MAINPID",
		"Restart":                 "on-failure",
		"User":                    "netspot",
		"Group":                   "netspot",
		"StateDirectory":          "netspot",
		"LogsDirectory":           "netspot",
		"NoNewPrivileges":         "yes",
		"ProtectSystem":           "strict",
		"ProtectHome":             "yes",
		"PrivateTmp":              "yes",
		"DevicePolicy":            "closed",
		"MemoryDenyWriteExecute":  "yes",
		"SystemCallArchitectures": "native",
	}
	for k, v := range want {
		if got := u.get("Service", k); got != v {
			t.Errorf("[Service] %s=%q, want %q", k, got, v)
		}
	}
	caps := []string{"CAP_NET_ADMIN", "CAP_NET_RAW"}
	for _, k := range []string{"AmbientCapabilities", "CapabilityBoundingSet"} {
		got := strings.Fields(u.get("Service", k))
		slices.Sort(got)
		if !slices.Equal(got, caps) {
			t.Errorf("[Service] %s=%q, want exactly %q: capture needs both, nothing else", k, got, caps)
		}
	}
	if g := strings.Fields(u.get("Service", "SupplementaryGroups")); !slices.Contains(g, "gpio") {
		t.Errorf("[Service] SupplementaryGroups=%q: the board's GPIO lines belong to the gpio group", g)
	}
	if !slices.Contains(strings.Fields(u.get("Service", "DeviceAllow")), "char-gpiochip") {
		t.Errorf("[Service] DeviceAllow=%q: with DevicePolicy=closed, /dev/gpiochip* must be allowed", u.get("Service", "DeviceAllow"))
	}
	families := strings.Fields(u.get("Service", "RestrictAddressFamilies"))
	for _, f := range []string{"AF_PACKET", "AF_NETLINK", "AF_INET", "AF_INET6", "AF_UNIX"} {
		if !slices.Contains(families, f) {
			t.Errorf("[Service] RestrictAddressFamilies=%q lacks %s", families, f)
		}
	}
	// Settings that would break the service.
	for k, why := range map[string]string{
		"PrivateUsers":   "capabilities in a user namespace do not reach the host's network: capture would fail",
		"PrivateNetwork": "the service must see the host's interfaces",
		"PrivateDevices": "it hides /dev/gpiochip*",
		"DynamicUser":    "the config file is readable by the netspot group, which the package creates",
		"ProcSubset":     "the GPIO drivers read /proc/cpuinfo to recognise the board",
	} {
		if v := u.get("Service", k); v != "" && v != "no" && v != "all" {
			t.Errorf("[Service] %s=%s: %s", k, v, why)
		}
	}

	// No restart loop on a mistake that a restart cannot fix.
	main, err := os.ReadFile(filepath.Join(moduleRoot(t), "cmd", "netspot", "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	code := func(name string) string {
		m := regexp.MustCompile(`(?m)^\s*` + name + `\s*=\s*(\d+)`).FindStringSubmatch(string(main))
		if m == nil {
			t.Fatalf("cmd/netspot/main.go: no constant %s", name)
		}
		return m[1]
	}
	prevent := strings.Fields(u.get("Service", "RestartPreventExitStatus"))
	for _, name := range []string{"exitUsage", "exitConfig", "exitPermission"} {
		if !slices.Contains(prevent, code(name)) {
			t.Errorf("[Service] RestartPreventExitStatus=%q lacks %s (%s): restarting cannot fix it", prevent, code(name), name)
		}
	}
	if slices.Contains(prevent, code("exitInput")) {
		t.Errorf("[Service] RestartPreventExitStatus=%q has %s (exitInput): an interface missing at boot appears later", prevent, code("exitInput"))
	}
	if slices.Contains(prevent, code("exitFailure")) {
		t.Errorf("[Service] RestartPreventExitStatus=%q has %s (exitFailure): a port in use is freed later", prevent, code("exitFailure"))
	}

	if got := u.get("Install", "WantedBy"); got != "multi-user.target" {
		t.Errorf("[Install] WantedBy=%q, want multi-user.target", got)
	}

	// The maintainer scripts make the user, its group and the gpio group
	// that the unit names.
	postinst, err := os.ReadFile(filepath.Join("deb", "postinst"))
	if err != nil {
		t.Fatal(err)
	}
	for _, re := range []string{
		`(?s)adduser --system --group .*?\b` + u.get("Service", "User") + `\n`,
		`addgroup --system .*\bgpio\n`,
		`dpkg-statoverride --update --add root ` + u.get("Service", "Group") + ` 0640 ` + regexp.QuoteMeta(configPath),
	} {
		if !regexp.MustCompile(re).Match(postinst) {
			t.Errorf("deb/postinst does not match %s", re)
		}
	}
}
