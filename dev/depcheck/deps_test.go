// Package depcheck enforces the import rules of the design: what each part of
// netspot may depend on. It has no code, only this test.
package depcheck

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// rule forbids the packages matched by pattern (a go list pattern, relative
// to the module root) to depend on any import path with one of the prefixes.
// With stdOnly, anything outside the standard library and the package itself
// is forbidden.
type rule struct {
	pattern  string
	forbid   []string
	stdOnly  bool
	optional bool // the directory may not exist yet
}

// sinkPackages are the sinks: none may depend on another.
var sinkPackages = []string{
	"netspot/core/sink/console", "netspot/core/sink/file", "netspot/core/sink/influxdb",
	"netspot/core/sink/prometheus", "netspot/core/sink/socket", "netspot/mqtt", "netspot/board",
}

// pipelineStages are what sinks never see: they get Records, not packets.
var pipelineStages = []string{"netspot/core/capture", "netspot/core/miner", "netspot/core/analyzer", "netspot/core/pipeline"}

func except(list []string, self string) []string {
	var out []string
	for _, p := range list {
		if p != self {
			out = append(out, p)
		}
	}
	return out
}

// module is the import path of the packages a pattern names ("./spot/..."
// is netspot/spot): a package may import its own sub-packages.
func (r rule) module() string {
	return "netspot/" + strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(r.pattern, "./"), "..."), "/")
}

func sinkRule(pkg string, extra ...string) rule {
	return rule{pattern: "./" + strings.TrimPrefix(pkg, "netspot/") + "/...",
		forbid: append(append(except(sinkPackages, pkg), pipelineStages...), extra...)}
}

var rules = []rule{
	{pattern: "./spot/...", stdOnly: true},
	{pattern: "./core/event/...", stdOnly: true},
	{pattern: "./core/...", forbid: []string{"netspot/mqtt", "netspot/board", "periph.io/", "netspot/cmd"}},
	sinkRule("netspot/core/sink/console"),
	sinkRule("netspot/core/sink/file"),
	sinkRule("netspot/core/sink/influxdb"),
	sinkRule("netspot/core/sink/prometheus"),
	sinkRule("netspot/core/sink/socket"),
	sinkRule("netspot/mqtt", "periph.io/"),
	sinkRule("netspot/board"),
	// One TOML library: the config loader's.
	{pattern: "./...", forbid: []string{"github.com/pelletier/go-toml"}},
}

// directRules bound what a package imports itself: cmd/netspot holds
// flags, verbs and signals, not config decoding nor pipeline logic.
var directRules = []rule{
	{pattern: "./cmd/netspot", forbid: []string{"reflect", "github.com/BurntSushi/toml", "netspot/core/miner", "netspot/core/analyzer", "netspot/core/capture/filter"}},
}

// TestDirectImports checks what packages import themselves.
func TestDirectImports(t *testing.T) {
	root := moduleRoot(t)
	for _, r := range directRules {
		cmd := exec.Command("go", "list", "-f", `{{.ImportPath}}:{{join .Imports " "}}`, r.pattern)
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", r.pattern, err, out)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			pkg, list, _ := strings.Cut(line, ":")
			for _, d := range strings.Fields(list) {
				for _, f := range r.forbid {
					if d == f || strings.HasPrefix(d, f+"/") {
						t.Errorf("%s must not import %s", pkg, d)
					}
				}
			}
		}
	}
}

// TestCommandIsThin keeps cmd/netspot small: flags, verbs, signals and the
// list of sink factories.
func TestCommandIsThin(t *testing.T) {
	root := moduleRoot(t)
	files, err := filepath.Glob(filepath.Join(root, "cmd", "netspot", "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	lines := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lines += strings.Count(string(b), "\n")
	}
	if lines > 1000 {
		t.Errorf("cmd/netspot holds %d lines of code (tests aside); at most 1000: move logic into the packages", lines)
	}
}

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

// deps returns, for each package matched by pattern, its non-test
// dependencies that are not in the standard library.
func deps(t *testing.T, root, pattern string) map[string][]string {
	t.Helper()
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}}:{{join .Deps " "}}`, pattern)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list %s: %v\n%s", pattern, err, out)
	}
	std := standardPackages(t, root)
	res := make(map[string][]string)
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, list, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		var nonStd []string
		for _, d := range strings.Fields(list) {
			if !std[d] {
				nonStd = append(nonStd, d)
			}
		}
		res[pkg] = nonStd
	}
	return res
}

func standardPackages(t *testing.T, root string) map[string]bool {
	t.Helper()
	cmd := exec.Command("go", "list", "std")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list std: %v", err)
	}
	std := make(map[string]bool)
	for _, p := range strings.Fields(string(out)) {
		std[p] = true
	}
	return std
}

func TestImportRules(t *testing.T) {
	root := moduleRoot(t)
	for _, r := range rules {
		dir := filepath.Join(root, strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(r.pattern, "./"), "..."), "/"))
		if _, err := os.Stat(dir); err != nil {
			if r.optional {
				continue
			}
			t.Errorf("%s: %v", r.pattern, err)
			continue
		}
		for pkg, ds := range deps(t, root, r.pattern) {
			for _, d := range ds {
				if r.stdOnly && d != pkg && !strings.HasPrefix(d, "vendor/") && d != r.module() && !strings.HasPrefix(d, r.module()+"/") {
					t.Errorf("%s must use only the standard library, but depends on %s", pkg, d)
				}
				for _, f := range r.forbid {
					if d == strings.TrimSuffix(f, "/") || strings.HasPrefix(d, f) || strings.HasPrefix(d, f+"/") {
						t.Errorf("%s must not depend on %s (via %s)", pkg, f, d)
					}
				}
			}
		}
	}
}
