// Command spotcal measures how well SPOT is calibrated: on long streams of
// independent values from known distributions (Gaussian, exponential,
// Pareto) the rate of alarms after learning should be close to the risk q.
// It prints one Markdown table row per distribution and setting, the table
// that the spot package documentation shows.
//
//	go run ./dev/spotcal -seeds 3 -max-excess 200,1000   # the documented table
//	go run ./dev/spotcal -n 200000 -q 1e-3 -max-excess 500 -level 0.99
package main

import (
	"flag"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"netspot/spot"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "spotcal:", err)
		os.Exit(2)
	}
}

type distribution struct {
	name string
	draw func(u float64) float64 // inverse CDF
}

func distributions() []distribution {
	return []distribution{
		{"gaussian", normalQuantile},
		{"exponential", func(u float64) float64 { return -math.Log1p(-u) }},
		{"pareto(α=2)", func(u float64) float64 { return math.Pow(1-u, -0.5) }},
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("spotcal", flag.ContinueOnError)
	n := fs.Int("n", 1_000_000, "values per stream")
	qs := fs.String("q", "1e-3,1e-4", "comma-separated risks")
	levels := fs.String("level", "0.98", "comma-separated levels")
	maxExcess := fs.String("max-excess", "200", "comma-separated max_excess values")
	nInit := fs.Int("n-init", 2000, "calibration values")
	modes := fs.String("mode", "reference,default", "comma-separated modes: reference, default")
	seeds := fs.Int("seeds", 1, "streams per distribution (different seeds)")
	keep := fs.Bool("keep", false, "learn alarms too (KeepAnomalies)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	qv, err := floats(*qs)
	if err != nil {
		return fmt.Errorf("-q: %w", err)
	}
	lv, err := floats(*levels)
	if err != nil {
		return fmt.Errorf("-level: %w", err)
	}
	me, err := floats(*maxExcess)
	if err != nil {
		return fmt.Errorf("-max-excess: %w", err)
	}
	fmt.Printf("| distribution | q | mode | level | max_excess | alarms / (q·steps) | steps | seconds |\n")
	fmt.Printf("|---|---|---|---|---|---|---|---|\n")
	for _, q := range qv {
		for _, dist := range distributions() {
			for _, mode := range strings.Split(*modes, ",") {
				for _, level := range lv {
					for _, m := range me {
						c := spot.Config{Q: q, Level: level, NInit: *nInit, MaxExcess: int(m), Up: true, Reference: mode == "reference", KeepAnomalies: *keep}
						if mode != "reference" && mode != "default" {
							return fmt.Errorf("unknown mode %q", mode)
						}
						alarms, steps := 0, 0
						start := time.Now()
						for seed := 1; seed <= *seeds; seed++ {
							a, s, err := measure(c, dist, *n, uint64(seed))
							if err != nil {
								return err
							}
							alarms += a
							steps += s
						}
						ratio := float64(alarms) / (q * float64(steps))
						fmt.Printf("| %s | %g | %s | %g | %d | %.2f | %d | %.1f |\n", dist.name, q, mode, level, int(m), ratio, steps, time.Since(start).Seconds())
					}
				}
			}
		}
	}
	return nil
}

// measure runs one detector over n values and counts alarms after learning.
func measure(c spot.Config, dist distribution, n int, seed uint64) (alarms, steps int, err error) {
	d, err := spot.New(c)
	if err != nil {
		return 0, 0, err
	}
	r := rng{seed * 0x9E3779B97F4A7C15}
	for range n {
		switch d.Step(dist.draw(r.float())).Up {
		case spot.Alarm:
			alarms++
			steps++
		case spot.Normal, spot.Excess, spot.Continued:
			steps++
		}
	}
	return alarms, steps, nil
}

func floats(s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// rng is SplitMix64: fast, seedable, good enough for this.
type rng struct{ s uint64 }

func (r *rng) float() float64 {
	r.s += 0x9E3779B97F4A7C15
	z := r.s
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	z ^= z >> 31
	return (float64(z>>11) + 0.5) * 0x1p-53 // in (0, 1)
}

// normalQuantile is the inverse of the standard normal CDF.
func normalQuantile(u float64) float64 { return -math.Sqrt2 * math.Erfcinv(2*u) }
