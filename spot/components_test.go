package spot

import (
	"encoding/csv"
	"math"
	"os"
	"strconv"
	"testing"
)

// TestReferenceComponents checks the parts of reference mode one by one
// against testdata/ab_components.csv (values printed with %.17g by the
// reference): the P² quantile, each estimator on the calibration excesses,
// the excess threshold, quantiles and probabilities right after the fit.
func TestReferenceComponents(t *testing.T) {
	f, err := os.Open("testdata/ab_components.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	records, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	inputs := map[string][]float64{"a_gauss_spikes": streamA(), "b_exponential": streamB()}
	fitted := map[string]*Detector{}
	for name, xs := range inputs {
		d, err := New(Config{Q: 1e-4, Level: 0.98, NInit: 2000, MaxExcess: 200, Up: true, Reference: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range xs[:2000] {
			d.Step(x)
		}
		fitted[name] = d
	}
	num := func(s string) float64 {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatalf("bad number %q", s)
		}
		return v
	}
	checked := 0
	for _, r := range records[1:] {
		kind, input := r[0], r[1]
		d := fitted[input]
		var got, want float64
		tol := 1e-7 // math.Log against the reference's continued fractions
		switch kind {
		case "p2_quantile":
			n, _ := strconv.Atoi(r[3])
			got, want, tol = p2Quantile(num(r[2]), inputs[input][:n]), num(r[4]), 0 // pure arithmetic: exact
		case "mom_estimator":
			g, s := refMoments(&d.up.peaks)
			ll := refLogLikelihood(&d.up.peaks, g, s)
			expectClose(t, r, []float64{g, s}, []float64{num(r[4]), num(r[5])}, 1e-12)
			expectClose(t, r, []float64{ll}, []float64{num(r[6])}, 1e-10)
			checked++
			continue
		case "grimshaw_estimator":
			g, s := refGrimshaw(&d.up.peaks)
			ll := refLogLikelihood(&d.up.peaks, g, s)
			// γ near 0 is the root search's tolerance: compare absolutely.
			if math.Abs(g-num(r[4])) > 1e-7 {
				t.Errorf("%v: γ = %.17g", r, g)
			}
			expectClose(t, r, []float64{s, ll}, []float64{num(r[5]), num(r[6])}, 1e-7)
			checked++
			continue
		case "excess_threshold":
			st, _ := d.Tail(Upper)
			got, want, tol = st.Excess, num(r[4]), 0
		case "spot_quantile":
			got, _ = d.Quantile(num(r[3]))
			want = num(r[4])
		case "spot_probability":
			got, _ = d.Probability(num(r[3]))
			want = num(r[4])
			if math.IsNaN(want) {
				// The reference's formula gives NaN beyond the end of a
				// bounded tail; the probability there is 0.
				st, _ := d.Tail(Upper)
				if !(st.Gamma < 0) || num(r[3]) < st.Excess-st.Sigma/st.Gamma || got != 0 {
					t.Errorf("%v: got %v, want 0 beyond the end point of the tail (γ=%v σ=%v)", r, got, st.Gamma, st.Sigma)
				}
				checked++
				continue
			}
		default:
			t.Fatalf("unknown component %q", kind)
		}
		expectClose(t, r, []float64{got}, []float64{want}, tol)
		checked++
	}
	if checked != len(records)-1 {
		t.Fatalf("checked %d of %d rows", checked, len(records)-1)
	}
}

func expectClose(t *testing.T, row []string, got, want []float64, tol float64) {
	t.Helper()
	for i := range got {
		if !(math.Abs(got[i]-want[i]) <= tol*math.Abs(want[i])) {
			t.Errorf("%v: value %d = %.17g, reference %.17g", row, i, got[i], want[i])
		}
	}
}
