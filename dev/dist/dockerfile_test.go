package dist

import (
	"encoding/json"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	line int
	cmd  string // upper case
	args string
}

// parseDockerfile splits a Dockerfile into instructions.
func parseDockerfile(t *testing.T, text string) []instruction {
	t.Helper()
	var out []instruction
	var cur *instruction
	for i, l := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(l)
		if cur == nil && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		cont := strings.HasSuffix(trimmed, "\\")
		trimmed = strings.TrimSuffix(trimmed, "\\")
		if cur == nil {
			cmd, args, _ := strings.Cut(trimmed, " ")
			cur = &instruction{line: i + 1, cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)}
		} else if !strings.HasPrefix(trimmed, "#") {
			cur.args += " " + strings.TrimSpace(trimmed)
		}
		if !cont {
			out = append(out, *cur)
			cur = nil
		}
	}
	if cur != nil {
		t.Fatalf("Dockerfile.cross:%d: continuation at the end of the file", cur.line)
	}
	return out
}

// makeTargets lists the targets the Makefile defines.
func makeTargets(makefile string) map[string]bool {
	targets := make(map[string]bool)
	re := regexp.MustCompile(`(?m)^([a-zA-Z0-9_.-]+(?: [a-zA-Z0-9_.-]+)*):(?:[^=]|$)`)
	for _, m := range re.FindAllStringSubmatch(makefile, -1) {
		for _, name := range strings.Fields(m[1]) {
			targets[name] = true
		}
	}
	return targets
}

// makeVariable returns the default value of a variable of the Makefile.
func makeVariable(t *testing.T, makefile, name string) string {
	t.Helper()
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `\s*[?:]?=\s*(.*)$`)
	m := re.FindStringSubmatch(makefile)
	if m == nil {
		t.Fatalf("Makefile: no variable %s", name)
	}
	return strings.TrimSpace(m[1])
}

// TestDockerfile checks that what Dockerfile.cross names exists: the files
// it copies from the sources, the make targets and variables it uses, the
// binary that make cross writes for each platform that make docker builds,
// and that the image runs the packaged config with no shell.
func TestDockerfile(t *testing.T) {
	root := moduleRoot(t)
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	makefile := read("Makefile")
	goMod := read("go.mod")
	ignore := strings.Fields(regexp.MustCompile(`(?m)#.*$`).ReplaceAllString(read(".dockerignore"), ""))
	ins := parseDockerfile(t, read("Dockerfile.cross"))
	targets := makeTargets(makefile)

	var (
		stages     []string // stage names, in order
		stageBase  []string
		workdir    = map[string]string{}
		copied     = map[string]string{} // destination in the final image → source
		binarySrc  string
		runs       = map[string]int{} // RUN instructions per stage
		entrypoint []string
		cmd        []string
		volumes    []string
	)
	stage := ""
	for _, in := range ins {
		fields := strings.Fields(in.args)
		switch in.cmd {
		case "FROM":
			var image, name string
			for i := 0; i < len(fields); i++ {
				switch {
				case strings.HasPrefix(fields[i], "--"):
				case strings.EqualFold(fields[i], "AS") && i+1 < len(fields):
					name = fields[i+1]
					i++
				default:
					image = fields[i]
				}
			}
			if name == "" {
				name = strconv.Itoa(len(stages)) // how Docker names an unnamed stage
			}
			if slices.Contains(stages, name) {
				t.Errorf("Dockerfile.cross:%d: stage %s defined twice", in.line, name)
			}
			stages = append(stages, name)
			stageBase = append(stageBase, image)
			stage = name
			if strings.HasPrefix(image, "golang:") {
				checkGoImage(t, in.line, image, goMod)
			}
		case "WORKDIR":
			workdir[stage] = in.args
		case "RUN":
			runs[stage]++
			checkMakeCall(t, in, targets, makefile)
		case "COPY":
			from := ""
			var paths []string
			for _, f := range fields {
				if v, ok := strings.CutPrefix(f, "--from="); ok {
					from = v
				} else if !strings.HasPrefix(f, "--") {
					paths = append(paths, f)
				}
			}
			if len(paths) < 2 {
				t.Errorf("Dockerfile.cross:%d: COPY needs a source and a destination", in.line)
				continue
			}
			srcs, dst := paths[:len(paths)-1], paths[len(paths)-1]
			if from != "" {
				if !slices.Contains(stages, from) || from == stage {
					t.Errorf("Dockerfile.cross:%d: COPY --from=%s: no earlier stage of that name", in.line, from)
				}
				for _, s := range srcs {
					if strings.Contains(s, "netspot-linux-") {
						binarySrc = s
					}
				}
			} else {
				for _, s := range srcs {
					checkContextPath(t, in.line, root, s, ignore)
				}
			}
			copied[dst] = strings.Join(srcs, " ")
		case "ENTRYPOINT", "CMD":
			var list []string
			if err := json.Unmarshal([]byte(in.args), &list); err != nil {
				t.Errorf("Dockerfile.cross:%d: %s must be a JSON array (exec form, no shell): %v", in.line, in.cmd, err)
			}
			if in.cmd == "ENTRYPOINT" {
				entrypoint = list
			} else {
				cmd = list
			}
		case "VOLUME":
			if err := json.Unmarshal([]byte(in.args), &volumes); err != nil {
				volumes = fields
			}
		}
	}

	if len(stages) < 2 {
		t.Fatalf("Dockerfile.cross: %d stage(s), want a build stage and a runtime stage", len(stages))
	}
	final := stages[len(stages)-1]
	if base := stageBase[len(stages)-1]; base != "scratch" {
		t.Errorf("final stage %s is based on %s, want scratch (no shell, nothing but netspot)", final, base)
	}
	if runs[final] > 0 {
		t.Errorf("final stage %s has RUN instructions: it has no shell to run them", final)
	}

	// The binary: make cross's output for every platform make docker builds.
	build := stages[0]
	if binarySrc == "" {
		t.Fatal("no COPY of a dist/netspot-linux-* binary from the build stage")
	}
	dist := makeVariable(t, makefile, "DIST")
	crossTargets := strings.Fields(makeVariable(t, makefile, "CROSS_TARGETS"))
	wantPrefix := path.Join(workdir[build], dist, "netspot-linux-")
	platforms := dockerPlatforms(t, makefile)
	var built []string
	for _, p := range platforms {
		arch, variant := platformArgs(p)
		src := strings.NewReplacer("${TARGETARCH}", arch, "${TARGETVARIANT}", variant).Replace(binarySrc)
		name, ok := strings.CutPrefix(src, wantPrefix)
		if !ok || !slices.Contains(crossTargets, name) {
			t.Errorf("platform %s: the image copies %s, which make cross does not write (it writes %s<%s>)",
				p, src, wantPrefix, strings.Join(crossTargets, "|"))
		}
		built = append(built, name)
	}
	for _, tg := range crossTargets {
		if !slices.Contains(built, tg) {
			t.Errorf("make docker builds no image for %s (platforms %v)", tg, platforms)
		}
	}

	// The process: netspot run with the packaged config.
	bin := ""
	for dst, src := range copied {
		if src == binarySrc {
			bin = dst
		}
	}
	if len(entrypoint) != 1 || entrypoint[0] != bin {
		t.Errorf("ENTRYPOINT %q, want [%q], the binary's place in the image", entrypoint, bin)
	}
	if len(cmd) != 3 || cmd[0] != "run" || cmd[1] != "-c" {
		t.Fatalf("CMD %q, want [run -c CONFIG]", cmd)
	}
	if src := copied[cmd[2]]; src != "dev/dist/netspot.toml" {
		t.Errorf("CMD reads %s, which holds %q, want the packaged config dev/dist/netspot.toml", cmd[2], src)
	}
	state := packagedConfigValue(t, "analyzer", "state_file")
	if !slices.Contains(volumes, path.Dir(state)) {
		t.Errorf("VOLUME %q does not hold the detector state %s", volumes, state)
	}
}

// checkGoImage checks that the Go image is pinned to a release of the Go
// version of go.mod: a floating tag would break reproducibility.
func checkGoImage(t *testing.T, line int, image, goMod string) {
	t.Helper()
	tag := strings.TrimPrefix(image, "golang:")
	m := regexp.MustCompile(`^(\d+\.\d+)\.\d+(-\w+)?$`).FindStringSubmatch(tag)
	if m == nil {
		t.Errorf("Dockerfile.cross:%d: %s: pin a Go release (golang:1.x.y-…), not a floating tag", line, image)
		return
	}
	want := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindStringSubmatch(goMod)
	if want == nil || want[1] != m[1] {
		t.Errorf("Dockerfile.cross:%d: %s, but go.mod says go %v", line, image, want)
	}
}

// checkMakeCall checks that a RUN make … names targets and variables the
// Makefile has.
func checkMakeCall(t *testing.T, in instruction, targets map[string]bool, makefile string) {
	t.Helper()
	fields := strings.Fields(in.args)
	if len(fields) == 0 || fields[0] != "make" {
		return
	}
	n := 0
	for _, f := range fields[1:] {
		if name, _, ok := strings.Cut(f, "="); ok {
			if !regexp.MustCompile(`\$\(` + regexp.QuoteMeta(name) + `\)`).MatchString(makefile) {
				t.Errorf("Dockerfile.cross:%d: make variable %s is not used by the Makefile", in.line, name)
			}
			continue
		}
		n++
		if !targets[f] {
			t.Errorf("Dockerfile.cross:%d: make target %s does not exist", in.line, f)
		}
	}
	if n == 0 {
		t.Errorf("Dockerfile.cross:%d: make without a target", in.line)
	}
}

// checkContextPath checks that a COPY source exists in the sources and is
// not left out of the build context by .dockerignore.
func checkContextPath(t *testing.T, line int, root, src string, ignore []string) {
	t.Helper()
	if src == "." || src == "./" {
		return
	}
	matches, err := filepath.Glob(filepath.Join(root, src))
	if err != nil || len(matches) == 0 {
		t.Errorf("Dockerfile.cross:%d: COPY %s: no such file in the sources", line, src)
		return
	}
	for _, pat := range ignore {
		if ok, _ := path.Match(pat, src); ok || strings.HasPrefix(src, strings.TrimSuffix(pat, "/")+"/") {
			t.Errorf("Dockerfile.cross:%d: COPY %s, but .dockerignore leaves it out (%s)", line, src, pat)
		}
	}
}

// dockerPlatforms returns the --platform list of the docker target.
func dockerPlatforms(t *testing.T, makefile string) []string {
	t.Helper()
	m := regexp.MustCompile(`--platform\s+(\S+)`).FindStringSubmatch(makefile)
	if m == nil {
		t.Fatal("Makefile: the docker target has no --platform list")
	}
	return strings.Split(m[1], ",")
}

// platformArgs returns buildx's TARGETARCH and TARGETVARIANT for a
// platform: linux/arm/v6 → arm, v6.
func platformArgs(p string) (arch, variant string) {
	parts := strings.Split(p, "/")
	if len(parts) > 1 {
		arch = parts[1]
	}
	if len(parts) > 2 {
		variant = parts[2]
	}
	return arch, variant
}
