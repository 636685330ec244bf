package spot

import (
	"bufio"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The reference vectors: per-step outputs of the reference C library on the
// two shared streams. testdata keeps the rows where something happens (the
// calibration row and every excess or alarm); every other step must be
// NORMAL with nothing changed. When the full shared set is next to the
// repository, it is checked too.

var update = flag.Bool("update", false, "rewrite testdata excerpts from the shared reference vectors")

const sharedVectors = "../../shared/spot-vectors"

type vectorRow struct {
	i, status    int
	t, z         float64
	n, nt, peaks uint64
	gamma, sigma float64
}

type vectorCase struct {
	name  string
	input func() []float64
	q     float64
	keep  bool
}

var vectorCases = []vectorCase{
	{"a_spot", streamA, 1e-4, false},
	{"a_spot_nodiscard", streamA, 1e-4, true},
	{"b_spot", streamB, 1e-3, false},
}

func parseVectors(t *testing.T, path string) []vectorRow {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []vectorRow
	s := bufio.NewScanner(f)
	for line := 1; s.Scan(); line++ {
		if line == 1 {
			if s.Text() != "i,status,t,z,n,Nt,peaks,gamma,sigma" {
				t.Fatalf("%s: unexpected header %q", path, s.Text())
			}
			continue
		}
		fs := strings.Split(s.Text(), ",")
		if len(fs) != 9 {
			t.Fatalf("%s:%d: %d fields", path, line, len(fs))
		}
		var r vectorRow
		var errs [9]error
		r.i, errs[0] = strconv.Atoi(fs[0])
		r.status, errs[1] = strconv.Atoi(fs[1])
		r.t, errs[2] = strconv.ParseFloat(fs[2], 64)
		r.z, errs[3] = strconv.ParseFloat(fs[3], 64)
		r.n, errs[4] = strconv.ParseUint(fs[4], 10, 64)
		r.nt, errs[5] = strconv.ParseUint(fs[5], 10, 64)
		r.peaks, errs[6] = strconv.ParseUint(fs[6], 10, 64)
		r.gamma, errs[7] = strconv.ParseFloat(fs[7], 64)
		r.sigma, errs[8] = strconv.ParseFloat(fs[8], 64)
		for _, err := range errs {
			if err != nil {
				t.Fatalf("%s:%d: %v", path, line, err)
			}
		}
		rows = append(rows, r)
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}

// relClose compares against a value printed with 10 significant digits.
func relClose(got, want, tol float64) bool {
	if got == want {
		return true
	}
	return math.Abs(got-want) <= tol*math.Max(math.Abs(want), 1e-300)
}

// illConditioned reports whether the reference's Grimshaw step was decided
// by rounding noise on these excesses: its root search only runs where w
// changes sign between the ends of a bracket, and w has a double zero at 0,
// so at the inner ends ±ε its value is a few ulps whose sign depends on the
// last bits of log. libspot's own log and the math package then keep
// different candidates. It also returns the candidates (γ) the reference
// chooses from.
func illConditioned(e *excesses) (bool, []float64) {
	eps := refMin(refBrentEpsilon, 0.5/e.max)
	noisy := math.Abs(refGrimshawW(-eps, e)) < 1e-12 || math.Abs(refGrimshawW(eps, e)) < 1e-12
	gm, _ := refMoments(e)
	cands := []float64{gm, 0}
	// Every root of w on both brackets, whatever the sign test says.
	for _, br := range [][2]float64{{-1/e.max + eps, -eps}, {eps, 2 * (e.mean() - e.min) / (e.min * e.min)}} {
		lo, hi := br[0], br[1]
		const k = 4000
		prev := refGrimshawW(lo, e)
		for j := 1; j <= k; j++ {
			x := lo + (hi-lo)*float64(j)/k
			if br[1] > 1 {
				x = lo * math.Pow(hi/lo, float64(j)/k)
			}
			w := refGrimshawW(x, e)
			if (prev > 0) != (w > 0) {
				a := x - (hi-lo)/k
				if br[1] > 1 {
					a = lo * math.Pow(hi/lo, float64(j-1)/k)
				}
				for range 200 {
					mid := (a + x) / 2
					if (refGrimshawW(mid, e) > 0) == (refGrimshawW(a, e) > 0) {
						a = mid
					} else {
						x = mid
					}
				}
				g, _, _ := refGrimshawParams(x, e)
				cands = append(cands, g)
			}
			prev = w
		}
	}
	return noisy, cands
}

// checkVectors runs a reference-mode detector over input and compares it
// with rows. Rows may leave out NORMAL steps (excerpts).
func checkVectors(t *testing.T, vc vectorCase, rows []vectorRow) {
	t.Helper()
	in := vc.input()
	d, err := New(Config{Q: vc.q, Level: 0.98, NInit: 2000, MaxExcess: 200, Up: true, KeepAnomalies: vc.keep, Reference: true})
	if err != nil {
		t.Fatal(err)
	}
	if rows[0].status != -1 || rows[0].i != 1999 {
		t.Fatalf("first row must be the calibration row, got %+v", rows[0])
	}
	next := 0 // index in rows of the next row to compare
	noisy := 0
	// The candidates change only with the stored excesses: memoized by Nt.
	lastNt, lastIll, lastCands := uint64(math.MaxUint64), false, []float64(nil)
	var counts [3]int
	for i, x := range in {
		r := d.Step(x)
		if i < 2000 {
			if r.Up != Learning {
				t.Fatalf("i=%d: status %v during calibration", i, r.Up)
			}
			if i < 1999 {
				continue
			}
		}
		var want *vectorRow
		if next < len(rows) && rows[next].i == i {
			want = &rows[next]
			next++
		}
		if i >= 2000 {
			wantStatus := Normal
			if want != nil {
				wantStatus = Status(want.status)
			}
			if r.Up != wantStatus {
				t.Fatalf("%s i=%d: status %v, reference %v", vc.name, i, r.Up, wantStatus)
			}
			counts[r.Up]++
		}
		if want == nil {
			continue
		}
		st, err := d.Tail(Upper)
		if err != nil {
			t.Fatal(err)
		}
		if st.N != want.n || st.Nt != want.nt || uint64(st.Stored) != want.peaks {
			t.Fatalf("%s i=%d: n, Nt, peaks = %d, %d, %d; reference %d, %d, %d", vc.name, i, st.N, st.Nt, st.Stored, want.n, want.nt, want.peaks)
		}
		if !relClose(st.Excess, want.t, 1e-9) {
			t.Fatalf("%s i=%d: t = %.10g, reference %.10g", vc.name, i, st.Excess, want.t)
		}
		if relClose(st.Anomaly, want.z, 1e-7) && relClose(st.Gamma, want.gamma, 1e-7) && relClose(st.Sigma, want.sigma, 1e-7) {
			continue
		}
		// Only a step whose choice the reference made on rounding noise
		// may differ, and then the reference's γ must be one of the
		// candidates computed here.
		if st.Nt != lastNt {
			lastNt = st.Nt
			lastIll, lastCands = illConditioned(&d.up.peaks)
		}
		ill, cands := lastIll, lastCands
		matched := false
		for _, g := range cands {
			matched = matched || relClose(g, want.gamma, 1e-6)
		}
		if !ill || !matched {
			t.Fatalf("%s i=%d: z, γ, σ = %.10g, %.10g, %.10g; reference %.10g, %.10g, %.10g (ill-conditioned %v, candidates %v)",
				vc.name, i, st.Anomaly, st.Gamma, st.Sigma, want.z, want.gamma, want.sigma, ill, cands)
		}
		noisy++
	}
	if next != len(rows) {
		t.Fatalf("%s: %d reference rows past the end of the input", vc.name, len(rows)-next)
	}
	t.Logf("%s: statuses normal/excess/alarm %v all equal to the reference; %d compared rows differ in z only where the reference decided on rounding noise", vc.name, counts, noisy)
}

func TestConformance(t *testing.T) {
	for _, vc := range vectorCases {
		t.Run(vc.name, func(t *testing.T) {
			path := filepath.Join("testdata", vc.name+".events.csv")
			if *update {
				writeExcerpt(t, filepath.Join(sharedVectors, vc.name+".csv"), path)
			}
			checkVectors(t, vc, parseVectors(t, path))
		})
	}
}

// TestConformanceShared checks every row of the full shared files when they
// are present, and that the streams generated here equal the shared inputs.
func TestConformanceShared(t *testing.T) {
	if _, err := os.Stat(sharedVectors); err != nil {
		t.Skipf("shared reference vectors not found at %s", sharedVectors)
	}
	for name, gen := range map[string]func() []float64{"input_a_gauss_spikes.csv": streamA, "input_b_exponential.csv": streamB} {
		b, err := os.ReadFile(filepath.Join(sharedVectors, name))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		xs := gen()
		if lines[0] != "x" || len(lines)-1 != len(xs) {
			t.Fatalf("%s: header %q, %d values; generated %d", name, lines[0], len(lines)-1, len(xs))
		}
		for i, l := range lines[1:] {
			if v, err := strconv.ParseFloat(l, 64); err != nil || v != xs[i] {
				t.Fatalf("%s row %d: %q, generated %v", name, i, l, xs[i])
			}
		}
	}
	for _, vc := range vectorCases {
		t.Run(vc.name, func(t *testing.T) {
			checkVectors(t, vc, parseVectors(t, filepath.Join(sharedVectors, vc.name+".csv")))
		})
	}
}

// writeExcerpt keeps the header, the calibration row and the non-NORMAL
// rows of a reference file.
func writeExcerpt(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	for k, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		fs := strings.SplitN(line, ",", 3)
		if k == 0 || (len(fs) > 1 && fs[1] != "0") {
			fmt.Fprintln(&out, line)
		}
	}
	if err := os.WriteFile(to, []byte(out.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}
