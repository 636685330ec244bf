package dist

import (
	"bufio"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// detectorPackages compute the statistics, the thresholds and the alarms:
// their arithmetic must be the same on every processor (see the spot
// package documentation).
var detectorPackages = []string{"netspot/spot", "netspot/core/stats", "netspot/core/analyzer"}

// fusedOp matches arm64's fused multiply-add instructions, scalar and
// vector, as go tool objdump prints them.
var fusedOp = regexp.MustCompile(`\t(FMADD|FMSUB|FNMADD|FNMSUB|VFMLA|VFMLS)[A-Z0-9.]*\s`)

// TestNoFusedMultiplyAdd disassembles netspot built for arm64 and checks
// that the compiler fused no multiply-add in the detector's code: on arm64
// it fuses x*y + z unless the product is converted with float64(), and a
// fused fit drifts from the amd64 one.
func TestNoFusedMultiplyAdd(t *testing.T) {
	distDir(t) // part of the cross-architecture checks
	bin := filepath.Join(t.TempDir(), "netspot-arm64")
	build := exec.Command("go", "build", "-o", bin, "./cmd/netspot") // not stripped: objdump needs the symbols
	build.Dir = moduleRoot(t)
	build.Env = append(hostEnv(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64")
	run(t, build)

	cmd := exec.Command("go", "tool", "objdump", bin)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	fused, symbols := 0, 0
	symbol := ""
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "TEXT "); ok {
			symbol, _, _ = strings.Cut(rest, " ")
			symbols++
			continue
		}
		if !fusedOp.MatchString(line) {
			continue
		}
		fused++
		for _, pkg := range detectorPackages {
			if strings.HasPrefix(symbol, pkg+".") {
				t.Errorf("%s: fused multiply-add at %s: write the product as float64(x*y)",
					symbol, strings.Join(strings.Fields(line), " "))
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("go tool objdump: %v", err)
	}
	// The check must be able to see a fused instruction: the runtime and
	// the math package have some.
	if symbols < 1000 || fused == 0 {
		t.Fatalf("objdump listed %d functions and %d fused multiply-adds: the disassembly was not read", symbols, fused)
	}
	t.Logf("%d functions, %d fused multiply-adds in all (runtime, math, ...)", symbols, fused)
}
