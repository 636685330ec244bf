//go:build !noplot

// Package chart draws what an evaluation saw, so that a person can see why
// netspot raised an alarm or missed an attack: for each statistic that
// alarmed, its value over time, its alarm thresholds, the attack windows and
// the alarms, one panel per statistic, as a PNG.
//
// A Recorder keeps the series while the evaluation streams, downsampled to
// a fixed number of points per statistic (the lowest and highest value of
// each run of windows), so that its memory does not grow with the length of
// the timeline.
package chart

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"netspot/core/eval"
	"netspot/core/event"
)

// Points is the number of points kept per statistic: about one per pixel
// column of the chart.
const Points = 2000

// MaxPanels bounds the statistics drawn; those with the most alarms come
// first.
const MaxPanels = 8

// Recorder collects the series of every statistic from Records.
type Recorder struct {
	start  time.Time
	period time.Duration
	bucket int64 // windows per point
	series map[string]*series
	order  []string
	alarms []alarm
}

type series struct {
	pts    []point
	alarms int
}

// point summarizes a run of windows.
type point struct {
	lo, hi   float64 // lowest and highest value (NaN: none defined)
	up, down float64 // last thresholds (NaN: none)
	set      bool
}

type alarm struct {
	stat  string
	at    time.Time
	value float64
	down  bool
}

// NewRecorder prepares a recorder for a timeline lasting duration, judged
// every period.
//
// Plotting links gonum/plot and its fonts (about 7 MB of binary): a
// firmware image that does not need it builds with -tags noplot, and
// NewRecorder then fails.
func NewRecorder(duration, period time.Duration) (*Recorder, error) {
	windows := int64(duration/period) + 2
	b := max((windows+Points-1)/Points, 1)
	return &Recorder{period: period, bucket: b, series: make(map[string]*series)}, nil
}

// Add records one window; use it as eval.Options.Observe.
func (r *Recorder) Add(rec *event.Record) {
	if r.start.IsZero() {
		r.start = rec.Start
	}
	k := int64(rec.Start.Sub(r.start) / r.period)
	if k < 0 {
		k = 0
	}
	i := int(k / r.bucket)
	for si := range rec.Stats {
		st := &rec.Stats[si]
		s := r.series[st.Name]
		if s == nil {
			s = &series{}
			r.series[st.Name] = s
			r.order = append(r.order, st.Name)
		}
		for len(s.pts) <= i {
			s.pts = append(s.pts, point{lo: math.NaN(), hi: math.NaN(), up: math.NaN(), down: math.NaN()})
		}
		p := &s.pts[i]
		p.set = true
		if finite(st.Value) {
			if math.IsNaN(p.lo) || st.Value < p.lo {
				p.lo = st.Value
			}
			if math.IsNaN(p.hi) || st.Value > p.hi {
				p.hi = st.Value
			}
		}
		p.up, p.down = st.Up, st.Down
	}
	for _, a := range rec.Alarms {
		r.alarms = append(r.alarms, alarm{stat: a.Stat, at: a.End, value: a.Value, down: a.Side == event.Down})
		if s := r.series[a.Stat]; s != nil {
			s.alarms++
		}
	}
}

// Alarmed returns the statistics that raised alarms, most alarms first.
func (r *Recorder) Alarmed() []string {
	var names []string
	for _, n := range r.order {
		if r.series[n].alarms > 0 {
			names = append(names, n)
		}
	}
	slices.SortStableFunc(names, func(a, b string) int { return r.series[b].alarms - r.series[a].alarms })
	return names
}

var (
	colValue  = color.RGBA{R: 40, G: 80, B: 160, A: 255}
	colUp     = color.RGBA{R: 200, G: 30, B: 30, A: 255}
	colDown   = color.RGBA{R: 130, G: 40, B: 170, A: 255}
	colAttack = color.RGBA{R: 255, G: 170, B: 60, A: 110}
	colAlarm  = color.RGBA{R: 220, G: 0, B: 0, A: 255}
)

// WritePNG draws the alarmed statistics (at most MaxPanels) of the report's
// timeline as a PNG. With no alarm at all it draws the statistics that
// should have alarmed: the first MaxPanels watched.
func (r *Recorder) WritePNG(w io.Writer, rep *eval.Report) error {
	names := r.Alarmed()
	title := "alarmed statistics"
	if len(names) == 0 {
		names = slices.Clone(r.order)
		title = "no alarm; watched statistics"
	}
	if len(names) > MaxPanels {
		title += fmt.Sprintf(" (the %d with most alarms of %d)", MaxPanels, len(names))
		names = names[:MaxPanels]
	}
	if len(names) == 0 {
		return fmt.Errorf("chart: nothing recorded")
	}
	origin, err := time.Parse(time.RFC3339Nano, rep.Start)
	if err != nil {
		return fmt.Errorf("chart: report start %q: %w", rep.Start, err)
	}
	unit, scale := timeUnit(time.Duration(rep.DurationS * float64(time.Second)))
	var rows [][]*plot.Plot
	for i, name := range names {
		p, err := r.panel(name, rep, origin, unit, scale, i == 0)
		if err != nil {
			return err
		}
		if i == 0 {
			p.Title.Text = fmt.Sprintf("%s: %s", scenarioName(rep), title)
		}
		rows = append(rows, []*plot.Plot{p})
	}
	const width, panelHeight = 11 * vg.Inch, 2.3 * vg.Inch
	img := vgimg.NewWith(vgimg.UseWH(width, panelHeight*vg.Length(len(rows))), vgimg.UseDPI(96))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: len(rows), Cols: 1, PadTop: 2, PadBottom: 2, PadLeft: 4, PadRight: 8, PadY: 6}
	canvases := plot.Align(rows, tiles, dc)
	for i := range rows {
		rows[i][0].Draw(canvases[i][0])
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(w); err != nil {
		return fmt.Errorf("chart: write PNG: %w", err)
	}
	return nil
}

func scenarioName(rep *eval.Report) string {
	n := rep.Scenario
	if i := strings.LastIndexAny(n, `/\`); i >= 0 {
		n = n[i+1:]
	}
	if n == "" {
		n = "scenario"
	}
	return n
}

// timeUnit picks the unit of the time axis for a timeline's length.
func timeUnit(d time.Duration) (string, float64) {
	switch {
	case d <= 20*time.Minute:
		return "s", 1
	case d <= 20*time.Hour:
		return "min", 60
	case d <= 10*24*time.Hour:
		return "h", 3600
	}
	return "days", 86400
}

// panel draws one statistic; times are offsets from origin, the timeline's
// start, in the given unit.
func (r *Recorder) panel(name string, rep *eval.Report, origin time.Time, unit string, scale float64, legend bool) (*plot.Plot, error) {
	s := r.series[name]
	p := plot.New()
	p.Y.Label.Text = name
	p.X.Label.Text = "time (" + unit + ") from the start"
	step := float64(r.bucket) * r.period.Seconds() / scale
	x0 := r.start.Sub(origin).Seconds() / scale
	x := func(i int) float64 { return x0 + (float64(i)+0.5)*step }

	lo, hi := math.Inf(1), math.Inf(-1)
	grow := func(v float64) {
		if finite(v) {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	for _, pt := range s.pts {
		grow(pt.lo)
		grow(pt.hi)
		grow(pt.up)
		grow(pt.down)
	}
	if math.IsInf(lo, 0) {
		lo, hi = 0, 1
	}
	if hi == lo {
		hi = lo + 1
	}
	pad := (hi - lo) * 0.05
	p.Y.Min, p.Y.Max = lo-pad, hi+pad
	p.X.Min, p.X.Max = 0, rep.DurationS/scale

	for _, a := range rep.Attacks {
		x0 := a.StartS / scale
		x1 := a.EndS / scale
		// At least a visible sliver for attacks shorter than a pixel.
		if min := (p.X.Max - p.X.Min) / 800; x1-x0 < min {
			x1 = x0 + min
		}
		poly, err := plotter.NewPolygon(plotter.XYs{{X: x0, Y: p.Y.Min}, {X: x1, Y: p.Y.Min}, {X: x1, Y: p.Y.Max}, {X: x0, Y: p.Y.Max}})
		if err != nil {
			return nil, fmt.Errorf("chart: %w", err)
		}
		poly.Color = colAttack
		poly.LineStyle.Width = 0
		p.Add(poly)
		if legend && a.Label == rep.Attacks[0].Label {
			p.Legend.Add("attack", poly)
		}
	}
	addLines := func(get func(point) float64, c color.Color, dashed bool, label string) error {
		first := true
		for _, seg := range segments(s.pts, get, x) {
			l, err := plotter.NewLine(seg)
			if err != nil {
				return fmt.Errorf("chart: %w", err)
			}
			l.Color = c
			l.Width = vg.Points(1)
			if dashed {
				l.Dashes = []vg.Length{vg.Points(4), vg.Points(2)}
			}
			p.Add(l)
			if legend && first && label != "" {
				p.Legend.Add(label, l)
			}
			first = false
		}
		return nil
	}
	if err := addLines(func(pt point) float64 { return pt.hi }, colValue, false, "value"); err != nil {
		return nil, err
	}
	if r.bucket > 1 {
		if err := addLines(func(pt point) float64 { return pt.lo }, colValue, false, ""); err != nil {
			return nil, err
		}
	}
	if err := addLines(func(pt point) float64 { return pt.up }, colUp, true, "upper threshold"); err != nil {
		return nil, err
	}
	if err := addLines(func(pt point) float64 { return pt.down }, colDown, true, "lower threshold"); err != nil {
		return nil, err
	}
	var pts plotter.XYs
	for _, a := range r.alarms {
		if a.stat == name && finite(a.value) {
			pts = append(pts, plotter.XY{X: a.at.Sub(origin).Seconds() / scale, Y: a.value})
		}
	}
	if len(pts) > 0 {
		sc, err := plotter.NewScatter(pts)
		if err != nil {
			return nil, fmt.Errorf("chart: %w", err)
		}
		sc.GlyphStyle.Color = colAlarm
		sc.GlyphStyle.Shape = draw.TriangleGlyph{}
		sc.GlyphStyle.Radius = vg.Points(3.5)
		p.Add(sc)
		if legend {
			p.Legend.Add("alarm", sc)
		}
	}
	if legend {
		p.Legend.Top = true
		p.Legend.Left = true
		p.Legend.Padding = vg.Points(2)
	}
	return p, nil
}

// segments splits a series into runs of defined values.
func segments(pts []point, get func(point) float64, x func(int) float64) []plotter.XYs {
	var out []plotter.XYs
	var cur plotter.XYs
	for i, pt := range pts {
		v := get(pt)
		if !pt.set || !finite(v) {
			if len(cur) > 0 {
				out = append(out, cur)
				cur = nil
			}
			continue
		}
		cur = append(cur, plotter.XY{X: x(i), Y: v})
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
