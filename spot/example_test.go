package spot_test

import (
	"errors"
	"fmt"
	"math"

	"netspot/spot"
)

// series returns n values of a deterministic, noisy but ordinary signal.
func series(n int) []float64 {
	xs := make([]float64, n)
	s := uint32(1)
	for i := range xs {
		var sum float64
		for range 12 { // Irwin–Hall: close to a standard normal
			s = s*1664525 + 1013904223
			sum += float64(s>>8) / (1 << 24)
		}
		xs[i] = 10 + sum - 6
	}
	return xs
}

func Example() {
	c := spot.DefaultConfig() // q 1e-4, level 0.98, n_init 2000, upper tail
	c.Down = true             // and the lower one
	d, err := spot.New(c)
	if err != nil {
		panic(err)
	}
	for _, x := range series(2000) {
		d.Step(x) // learning: returns Learning for both tails
	}
	fmt.Println("remaining:", d.Remaining())
	for _, x := range []float64{10.3, 25, -3, math.NaN()} {
		r := d.Step(x)
		fmt.Printf("%5v: up %v, down %v\n", x, r.Up, r.Down)
	}
	up, down := d.Thresholds()
	fmt.Printf("alarm below %.0f or above %.0f\n", down, up)
	// Output:
	// remaining: 0
	//  10.3: up normal, down normal
	//    25: up alarm, down normal
	//    -3: up normal, down alarm
	//   NaN: up invalid, down invalid
	// alarm below 6 or above 13
}

// A detector resumes from a snapshot after a restart instead of learning
// again.
func ExampleDetector_MarshalBinary() {
	c := spot.DefaultConfig()
	d, _ := spot.New(c)
	for _, x := range series(3000) {
		d.Step(x)
	}
	saved, _ := d.MarshalBinary()

	var resumed spot.Detector
	if err := resumed.UnmarshalBinary(saved); err != nil || resumed.Config() != c {
		fmt.Println("learn again:", err)
		return
	}
	fmt.Println("remaining:", resumed.Remaining(), "same verdict:", resumed.Step(30) == d.Step(30))

	saved[len(saved)/2] ^= 1
	err := resumed.UnmarshalBinary(saved)
	fmt.Println(errors.Is(err, spot.ErrSnapshot), err)
	// Output:
	// remaining: 0 same verdict: true
	// true spot: invalid snapshot: checksum mismatch (corrupt or truncated)
}

func ExampleConfig_Validate() {
	c := spot.DefaultConfig()
	c.Q = 0.05
	err := c.Validate()
	var pe *spot.ParamError
	if errors.As(err, &pe) {
		fmt.Println(pe.Param)
	}
	fmt.Println(err)
	// Output:
	// q
	// q: must be below 1 − level = 0.02 (the alarm threshold lies in the tail above level), got 0.05
}

func ExampleDetector_Probability() {
	c := spot.DefaultConfig()
	c.Q = 1e-3
	d, _ := spot.New(c)
	for _, x := range series(2000) {
		d.Step(x)
	}
	up, _ := d.Quantile(1e-3) // the alarm threshold for a risk of 1e-3
	p, _ := d.Probability(up)
	fmt.Printf("P(X ≥ %.2f) = %.0e\n", up, p)
	p, _ = d.Probability(10) // the body of the distribution is not modelled
	fmt.Println(p)
	// Output:
	// P(X ≥ 13.02) = 1e-03
	// NaN
}
