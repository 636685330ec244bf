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

var rules = []rule{
	{pattern: "./spot/...", stdOnly: true, optional: true},
	{pattern: "./core/event/...", stdOnly: true},
	{pattern: "./core/...", forbid: []string{"netspot/mqtt", "netspot/board", "periph.io/"}},
	{pattern: "./mqtt/...", forbid: []string{"netspot/core/capture", "netspot/core/miner", "netspot/core/analyzer", "periph.io/"}, optional: true},
	{pattern: "./board/...", forbid: []string{"netspot/core/capture", "netspot/core/miner", "netspot/core/analyzer", "netspot/mqtt"}, optional: true},
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
		dir := filepath.Join(root, strings.TrimSuffix(strings.TrimPrefix(r.pattern, "./"), "/..."))
		if _, err := os.Stat(dir); err != nil {
			if r.optional {
				continue
			}
			t.Errorf("%s: %v", r.pattern, err)
			continue
		}
		for pkg, ds := range deps(t, root, r.pattern) {
			for _, d := range ds {
				if r.stdOnly && d != pkg && !strings.HasPrefix(d, "vendor/") {
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
