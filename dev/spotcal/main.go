// Command spotcal measures how well SPOT is calibrated: on long streams of
// independent values from known distributions (Gaussian, exponential,
// Pareto) the rate of alarms after learning should be close to the risk q.
// It prints one Markdown table row per distribution and setting, the table
// that the spot package documentation shows.
//
//	go run ./dev/spotcal -seeds 3 -max-excess 200,1000   # the documented table
//	go run ./dev/spotcal -n 200000 -q 1e-3 -max-excess 500 -level 0.99
//	go run ./dev/spotcal -mode default -dist "poisson(3),poisson(30)" -min-shape 0
//
// The default mode runs with spot.DefaultConfig's MinShape (-min-shape),
// and counts (Poisson) with a resolution of 1.
package main

import (
	"flag"
	"fmt"
	"math"
	"os"
	"slices"
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
	// resolution of the values (Config.Resolution): 1 for counts.
	resolution float64
}

func distributions() []distribution {
	return []distribution{
		{"gaussian", normalQuantile, 0},
		{"exponential", func(u float64) float64 { return -math.Log1p(-u) }, 0},
		{"pareto(α=2)", func(u float64) float64 { return math.Pow(1-u, -0.5) }, 0},
		{"poisson(3)", poissonQuantile(3), 1},
		{"poisson(30)", poissonQuantile(30), 1},
	}
}

// poissonQuantile returns the inverse CDF of a Poisson distribution: a
// count per window, on a lattice.
func poissonQuantile(m float64) func(u float64) float64 {
	return func(u float64) float64 {
		p := math.Exp(-m)
		k, cdf := 0.0, p
		for u > cdf && k < 10*m+100 {
			k++
			p = float64(p * (m / k))
			cdf += p
		}
		return k
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
	minShape := fs.Float64("min-shape", spot.DefaultConfig().MinShape, "lightest tail shape of the default mode (Config.MinShape)")
	dists := fs.String("dist", "gaussian,exponential,pareto(α=2)", "comma-separated distributions: gaussian, exponential, pareto(α=2), poisson(3), poisson(30) (counts, with resolution 1)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	qv, err := list(*qs, parseFloat)
	if err != nil {
		return fmt.Errorf("-q: %w", err)
	}
	lv, err := list(*levels, parseFloat)
	if err != nil {
		return fmt.Errorf("-level: %w", err)
	}
	me, err := list(*maxExcess, strconv.Atoi)
	if err != nil {
		return fmt.Errorf("-max-excess: %w", err)
	}
	ms := strings.Split(*modes, ",")
	for _, mode := range ms {
		if mode != "default" && mode != "reference" {
			return fmt.Errorf("-mode: unknown mode %q (reference, default)", mode)
		}
	}
	var chosen []distribution
	for _, name := range strings.Split(*dists, ",") {
		i := slices.IndexFunc(distributions(), func(d distribution) bool { return d.name == name })
		if i < 0 {
			return fmt.Errorf("-dist: unknown distribution %q", name)
		}
		chosen = append(chosen, distributions()[i])
	}
	fmt.Printf("| distribution | q | mode | level | max_excess | alarms / (q·steps) | steps | seconds |\n")
	fmt.Printf("|---|---|---|---|---|---|---|---|\n")
	for _, q := range qv {
		for _, dist := range chosen {
			for _, mode := range ms {
				for _, level := range lv {
					for _, m := range me {
						c := spot.Config{Q: q, Level: level, NInit: *nInit, MaxExcess: m, Up: true, Reference: mode == "reference", KeepAnomalies: *keep}
						if mode == "default" {
							c.MinShape, c.Resolution = *minShape, dist.resolution
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
						fmt.Printf("| %s | %g | %s | %g | %d | %.2f | %d | %.1f |\n", dist.name, q, mode, level, m, ratio, steps, time.Since(start).Seconds())
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

// list parses comma-separated values.
func list[T any](s string, parse func(string) (T, error)) ([]T, error) {
	var out []T
	for _, f := range strings.Split(s, ",") {
		v, err := parse(strings.TrimSpace(f))
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func parseFloat(s string) (float64, error) { return strconv.ParseFloat(s, 64) }

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
