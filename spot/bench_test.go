package spot

import "testing"

// benchmarkStream runs a detector over the shared stream a (20000 values:
// 2000 of calibration, 18000 steps of which about 2.7% are excesses that
// refit the tail), and reports the average per value.
func benchmarkStream(b *testing.B, c Config) {
	xs := streamA()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		d, err := New(c)
		if err != nil {
			b.Fatal(err)
		}
		for _, x := range xs {
			d.Step(x)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(xs)), "ns/value")
}

// The parameters of the speed comparison with the reference C library.
var streamConfig = Config{Q: 1e-4, Level: 0.98, NInit: 2000, MaxExcess: 200, Up: true}

func BenchmarkStreamA(b *testing.B) {
	b.Run("default", func(b *testing.B) { benchmarkStream(b, streamConfig) })
	ref := streamConfig
	ref.Reference = true
	b.Run("reference", func(b *testing.B) { benchmarkStream(b, ref) })
	def := DefaultConfig()
	b.Run("defaults", func(b *testing.B) { benchmarkStream(b, def) })
}

// BenchmarkStep measures one step of a watching detector on ordinary
// values (mostly normal, some excesses with their refit).
func BenchmarkStep(b *testing.B) {
	for _, tc := range []struct {
		name string
		c    Config
	}{
		{"upper", streamConfig},
		{"both-drift", Config{Q: 1e-4, Level: 0.98, NInit: 2000, MaxExcess: 200, Depth: 60, Up: true, Down: true}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			d := mustNew(b, tc.c)
			xs := gaussian(8, 1<<16)
			for _, x := range xs[:tc.c.NInit+tc.c.Depth] {
				d.Step(x)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				d.Step(xs[i&(len(xs)-1)])
			}
		})
	}
}

// BenchmarkNormalStep: a value below the excess threshold, the common
// case; it must not allocate.
func BenchmarkNormalStep(b *testing.B) {
	d := mustNew(b, streamConfig)
	for _, x := range gaussian(8, 2000) {
		d.Step(x)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		d.Step(0.5)
	}
}

// BenchmarkRefit: one excess with the refit of the stored excesses (200,
// or 1000 with the defaults).
func BenchmarkRefit(b *testing.B) {
	ref := streamConfig
	ref.Reference = true
	for _, tc := range []struct {
		name string
		c    Config
	}{{"default", streamConfig}, {"reference", ref}, {"defaults-1000", DefaultConfig()}} {
		b.Run(tc.name, func(b *testing.B) {
			d := mustNew(b, tc.c)
			xs := gaussian(8, 100000)
			for _, x := range xs {
				d.Step(x)
			}
			var ex []float64
			for _, x := range gaussian(9, 40000) {
				if x > d.up.t && x < d.up.z {
					ex = append(ex, x)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				d.Step(ex[i%len(ex)])
			}
		})
	}
}

func BenchmarkSnapshot(b *testing.B) {
	d := mustNew(b, DefaultConfig())
	for _, x := range gaussian(8, 30000) {
		d.Step(x)
	}
	b.ReportAllocs()
	for range b.N {
		data, _ := d.MarshalBinary()
		var r Detector
		if err := r.UnmarshalBinary(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkProvisional measures the provisional stage of a detector that
// judges early, netspot's way (a drift window of 300, judging after 300
// values, the complete model after 2300): each op is the 2000 provisional
// steps of one detector on both tails, and ns/value their average.
func BenchmarkProvisional(b *testing.B) {
	c := Config{Q: 1e-5, Level: 0.99, NInit: 2000, MaxExcess: 1000, Depth: 300, Up: true, Down: true,
		Resolution: 1, WatchAfter: 300, Confidence: 0.95}
	r := splitMix64{5}
	xs := make([]float64, c.Depth+c.NInit)
	for i := range xs {
		xs[i] = poisson(&r, 4)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		d := mustNew(b, c)
		for _, x := range xs {
			d.Step(x)
		}
		if d.Provisional() != 0 {
			b.Fatal("not calibrated")
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*(len(xs)-c.WatchAfter)), "ns/value")
}
