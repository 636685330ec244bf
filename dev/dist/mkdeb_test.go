package dist

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// mkdeb runs dev/dist/mkdeb with the given environment and returns its
// output and error.
func mkdeb(t *testing.T, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("./mkdeb", args...)
	for _, kv := range hostEnv() {
		switch k, _, _ := strings.Cut(kv, "="); k {
		case "SOURCE_DATE_EPOCH", "DEB_MAINTAINER", "COMMIT", "MAN_DIR", "COMPLETION_DIR": // set by make
		default:
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestMkdebVersions checks the Debian version made of each kind of project
// version: releases sort as themselves, commits after a release after it,
// and builds that are not releases before any release.
func TestMkdebVersions(t *testing.T) {
	needTool(t, "dpkg-deb", "builds the packages")
	bin := tinyBinary(t)
	env := append([]string{"SOURCE_DATE_EPOCH=1700000000", "DEB_MAINTAINER=Jane Doe <jane@example.org>"}, generatedDocs(t)...)
	for _, c := range []struct{ version, want string }{
		{"v1.2.0", "1.2.0"},
		{"v1.2.0-5-gabc1234", "1.2.0+5.gabc1234"},
		{"v1.2.0-5-gabc1234-dirty", "1.2.0+5.gabc1234.dirty"},
		{"04e9309", "0~git20231114221320.04e9309"},
		{"dev", "0~git20231114221320.dev"},
	} {
		out := t.TempDir()
		got, err := mkdeb(t, env, "amd64", bin, c.version, out)
		if err != nil {
			t.Errorf("mkdeb %s: %v\n%s", c.version, err, got)
			continue
		}
		want := filepath.Join(out, "netspot_"+c.want+"_amd64.deb")
		if strings.TrimSpace(got) != want {
			t.Errorf("mkdeb %s wrote %q, want %s", c.version, got, want)
		}
		if _, err := os.Stat(want); err != nil {
			t.Error(err)
		}
	}
}

// TestMkdebErrors checks that mkdeb refuses what it cannot package, saying
// what is wrong, and writes nothing.
func TestMkdebErrors(t *testing.T) {
	needTool(t, "dpkg-deb", "builds the packages")
	bin := tinyBinary(t)
	docs := generatedDocs(t)
	good := append([]string{"SOURCE_DATE_EPOCH=1700000000", "DEB_MAINTAINER=Jane Doe <jane@example.org>"}, docs...)
	for _, c := range []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"no arguments", good, nil, "usage: mkdeb"},
		{"unknown architecture", good, []string{"i386", bin, "v1.0.0", "OUT"}, "usage: mkdeb"},
		{"missing binary", good, []string{"amd64", "/nonexistent/netspot", "v1.0.0", "OUT"}, "no such executable"},
		{"no epoch", good[1:], []string{"amd64", bin, "v1.0.0", "OUT"}, "SOURCE_DATE_EPOCH"},
		{"bad epoch", append([]string{"SOURCE_DATE_EPOCH=yesterday"}, good[1:]...), []string{"amd64", bin, "v1.0.0", "OUT"}, "SOURCE_DATE_EPOCH"},
		{"no maintainer", good[:1], []string{"amd64", bin, "v1.0.0", "OUT"}, "DEB_MAINTAINER"},
		{"bad maintainer", append(good[:1:1], "DEB_MAINTAINER=jane"), []string{"amd64", bin, "v1.0.0", "OUT"}, "DEB_MAINTAINER"},
		{"bad version", good, []string{"amd64", bin, "v1.0 beta", "OUT"}, "Debian version"},
		{"no manual pages", append(good[:2:2], "MAN_DIR="+t.TempDir(), docs[1]), []string{"amd64", bin, "v1.0.0", "OUT"}, "MAN_DIR"},
		{"no completions", append(good[:2:2], docs[0], "COMPLETION_DIR="+t.TempDir()), []string{"amd64", bin, "v1.0.0", "OUT"}, "COMPLETION_DIR"},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := t.TempDir()
			args := make([]string, len(c.args))
			for i, a := range c.args {
				args[i] = strings.ReplaceAll(a, "OUT", out)
			}
			got, err := mkdeb(t, c.env, args...)
			if err == nil {
				t.Fatalf("mkdeb %q succeeded:\n%s", args, got)
			}
			if !strings.Contains(got, c.want) {
				t.Errorf("mkdeb %q: %q, want a message with %q", args, got, c.want)
			}
			if debs, _ := filepath.Glob(filepath.Join(out, "*.deb")); len(debs) > 0 {
				t.Errorf("mkdeb %q failed but wrote %v", args, debs)
			}
		})
	}
}

// generatedDocs writes stand-ins for the manual pages and completion
// scripts of make man, and returns MAN_DIR and COMPLETION_DIR for mkdeb.
func generatedDocs(t *testing.T) []string {
	t.Helper()
	man, completion := t.TempDir(), t.TempDir()
	for dir, names := range map[string][]string{man: {"netspot.1", "netspot-run.1"}, completion: {"netspot", "_netspot", "netspot.fish"}} {
		for _, name := range names {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(".TH X 1\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return []string{"MAN_DIR=" + man, "COMPLETION_DIR=" + completion}
}

// tinyBinary builds a Go program that links no module: mkdeb packages it
// much faster than netspot, for the tests of mkdeb itself.
func tinyBinary(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range map[string]string{
		"go.mod":  "module tiny\n\ngo 1.22\n",
		"main.go": "package main\n\nfunc main() {}\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	build := exec.Command("go", "build", "-o", "netspot", ".")
	build.Dir = dir
	build.Env = append(hostEnv(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod")
	run(t, build)
	return filepath.Join(dir, "netspot")
}
