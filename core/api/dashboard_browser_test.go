package api

import (
	"context"
	"fmt"
	"math"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"netspot/core/event"
	"netspot/core/pipeline"
	"netspot/core/sink"
	"netspot/dev/chrome"
)

// The dashboard in headless Chromium, one test per behaviour, against a
// server whose pipeline is a runner the test feeds window by window.
// Screenshots go to $NETSPOT_TEST_OUT (default: netspot-dashboard under
// the system's temporary directory).

// liveRunner is a pipeline that writes each record the test sends, when
// it sends it, until it is stopped.
type liveRunner struct {
	fakeRunner
	records chan *event.Record
}

func newLiveRunner() *liveRunner { return &liveRunner{records: make(chan *event.Record)} }

func (l *liveRunner) Run(ctx context.Context, _ *pipeline.Config, feed sink.Sink, ready func(), _ <-chan *pipeline.Config) error {
	defer feed.Close()
	ready()
	for {
		select {
		case r := <-l.records:
			if err := feed.Write(r); err != nil {
				return err
			}
		case <-ctx.Done():
			return nil
		}
	}
}

// window is record i of a run whose detectors learn for the first learn
// windows (no thresholds yet): TRAFFIC wanders around 100 packets/s with
// thresholds on both sides, R_SYN around 0.1 with an upper one.
func window(i, learn int) *event.Record {
	start := t0.Add(time.Duration(i) * time.Second)
	learning := i < learn
	th := func(v float64) float64 {
		if learning {
			return math.NaN()
		}
		return v
	}
	traffic := 100 + 10*math.Sin(float64(i)/3)
	return &event.Record{
		Start: start, End: start.Add(time.Second), Packets: uint64(traffic), LearningLeft: max(0, learn-i-1),
		Stats: []event.Stat{
			{Name: "TRAFFIC", Value: traffic, Up: th(140), Down: th(60), Learning: learning},
			{Name: "R_SYN", Value: 0.1 + 0.02*math.Cos(float64(i)/2), Up: th(0.3), Down: math.NaN(), Learning: learning},
		},
	}
}

// synAlarmAt puts R_SYN of r in the alarm id at value v; raise adds the
// alarm itself (the window that raises it).
func synAlarmAt(r *event.Record, id string, v float64, raise bool) *event.Record {
	r.Stats[1].Value, r.Stats[1].AlarmID = v, id
	if raise {
		r.Alarms = []event.Alarm{{ID: id, Stat: "R_SYN", Side: event.Up, Value: v, Threshold: 0.3, Probability: 1e-7,
			Start: r.Start, End: r.End}}
	}
	return r
}

// dash is a dashboard open in Chromium.
type dash struct {
	t      *testing.T
	s      *Server
	runner *liveRunner
	page   *chrome.Page
	ctx    context.Context
}

func openDashboard(t *testing.T, cfg Config) *dash {
	t.Helper()
	exe, err := chrome.Find()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI needs chromium for the dashboard tests: %v", err)
		}
		t.Skipf("dashboard test skipped: %v", err)
	}
	runner := newLiveRunner()
	// The server as configured: without a token, a read-only API on
	// loopback, which is all the page needs to show the pipeline.
	s, err := New(cfg, runner, Options{Version: "test", Epoch: "e1", Devices: fakeDevices, Config: testDefaults(), Defaults: testDefaults})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Close(ctx)
	})
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	b, err := chrome.Launch(exe)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	t.Cleanup(cancel)
	p, err := b.Open(ctx, hs.URL+"/")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if errs := p.Errors(); len(errs) > 0 {
			t.Errorf("JavaScript errors in the page: %q", errs)
		}
		p.Close()
	})
	return &dash{t: t, s: s, runner: runner, page: p, ctx: ctx}
}

func (d *dash) fail(err error) {
	d.t.Helper()
	var text string
	_ = d.page.Eval(d.ctx, "document.body.innerText", &text)
	d.t.Fatalf("%v\npage errors: %v\npage:\n%s", err, d.page.Errors(), text)
}

func (d *dash) eval(expr string, out any) {
	d.t.Helper()
	if err := d.page.Eval(d.ctx, expr, out); err != nil {
		d.fail(err)
	}
}

func (d *dash) wait(cond string) {
	d.t.Helper()
	if err := d.page.WaitFor(d.ctx, cond); err != nil {
		d.fail(err)
	}
}

// start starts the pipeline and waits until the page follows the stream.
func (d *dash) start() {
	d.t.Helper()
	d.wait(`document.getElementById('conn').dataset.conn === 'live'`)
	if err := d.s.Start(d.ctx); err != nil {
		d.t.Fatal(err)
	}
	d.wait(`['starting', 'learning', 'watching'].includes(document.getElementById('state').dataset.state)`)
}

func (d *dash) send(recs ...*event.Record) {
	d.t.Helper()
	for _, r := range recs {
		select {
		case d.runner.records <- r:
		case <-d.ctx.Done():
			d.t.Fatal("the pipeline does not take records")
		}
	}
}

// card is the JavaScript expression of the chart card of a statistic.
func card(stat string) string {
	return fmt.Sprintf(`document.querySelector('.chart[data-stat="%s"]')`, stat)
}

// pixel returns the RGBA of a chart's canvas at the position of (x, y) in
// its scales' values.
func (d *dash) pixel(stat string, x, y float64) [4]int {
	d.t.Helper()
	var px [4]int
	d.eval(fmt.Sprintf(`(() => { const u = %s.plot;
		const cx = Math.round(u.valToPos(%v, 'x', true)), cy = Math.round(u.valToPos(%v, 'y', true));
		return [...u.ctx.getImageData(cx, cy, 1, 1).data]; })()`, card(stat), x, y), &px)
	return px
}

func unix(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// Records written by the pipeline appear on the charts as they come,
// without a reload: the point count grows, the headline value is the last
// window's, and the axes are labelled with times and the unit. A zoomed
// chart keeps its zoom while windows come.
func TestDashboardLiveUpdate(t *testing.T) {
	d := openDashboard(t, DefaultConfig())
	d.start()
	// Served on TCP without a token: the page shows, and says why it
	// offers no control.
	d.wait(`document.getElementById('run-note').textContent.includes('Read-only: the API listens on TCP without a token')`)
	var disabled []bool
	d.eval(`['start', 'stop', 'config-save'].map(id => document.getElementById(id).disabled)`, &disabled)
	if len(disabled) != 3 || !disabled[0] || !disabled[1] || !disabled[2] {
		t.Errorf("controls of a read-only API enabled: %v", disabled)
	}
	for i := range 10 {
		d.send(window(i, 3))
	}
	d.wait(card("TRAFFIC") + `?.dataset.points === '10'`)
	var got struct {
		Value, End, XTicks, YTicks, Unit string
	}
	read := func() {
		d.eval(`(() => { const c = `+card("TRAFFIC")+`; return {Value: c.querySelector('.value').textContent,
			End: c.dataset.headlineEnd, XTicks: c.dataset.xTicks, YTicks: c.dataset.yTicks, Unit: c.dataset.unit}; })()`, &got)
	}
	read()
	if want := window(9, 3).End.Format(time.RFC3339Nano); got.End != want && got.End != strings.Replace(want, "Z", ".000Z", 1) {
		t.Errorf("headline of window ending %s, want %s", got.End, want)
	}
	if !strings.HasPrefix(got.Value, fmt.Sprintf("%.3g", window(9, 3).Stats[0].Value)) || !strings.HasSuffix(got.Value, " packets/s") {
		t.Errorf("headline %q, want the last window's value %.3g packets/s", got.Value, window(9, 3).Stats[0].Value)
	}
	if got.Unit != "packets/s" {
		t.Errorf("value axis labelled %q, want the unit packets/s", got.Unit)
	}
	xticks := strings.Split(got.XTicks, "|")
	if len(xticks) < 2 {
		t.Errorf("time axis labels %q", got.XTicks)
	}
	for _, l := range xticks {
		if l != "" && !regexp.MustCompile(`(^|\d):\d\d`).MatchString(l) {
			t.Errorf("time axis label %q is not a time", l)
		}
	}
	if len(strings.Split(got.YTicks, "|")) < 2 {
		t.Errorf("value axis labels %q", got.YTicks)
	}

	// The next window comes over the live stream.
	d.send(window(10, 3))
	d.wait(card("TRAFFIC") + `.dataset.points === '11' && ` + card("R_SYN") + `.dataset.points === '11'`)
	read()
	if want := fmt.Sprintf("%.3g", window(10, 3).Stats[0].Value); !strings.HasPrefix(got.Value, want) {
		t.Errorf("headline after a new window %q, want %s", got.Value, want)
	}

	// Zoom in with the mouse (a drag over the chart): the next windows
	// leave the zoom as it is.
	var box struct{ Left, Top, Width, Height float64 }
	d.eval(`(() => { const c = `+card("TRAFFIC")+`; c.scrollIntoView(); const r = c.plot.over.getBoundingClientRect();
		return {Left: r.left, Top: r.top, Width: r.width, Height: r.height}; })()`, &box)
	y := box.Top + box.Height/2
	for _, m := range []struct {
		typ     string
		x       float64
		pressed bool
	}{{"mouseMoved", 0.2, false}, {"mousePressed", 0.2, true}, {"mouseMoved", 0.4, true}, {"mouseMoved", 0.5, true}, {"mouseReleased", 0.5, false}} {
		if err := d.page.Mouse(d.ctx, m.typ, box.Left+m.x*box.Width, y, m.pressed); err != nil {
			t.Fatal(err)
		}
	}
	d.wait(card("TRAFFIC") + `.classList.contains('zoomed')`)
	var zoom [2]float64
	d.eval(`[`+card("TRAFFIC")+`.plot.scales.x.min, `+card("TRAFFIC")+`.plot.scales.x.max]`, &zoom)
	d.send(window(11, 3))
	d.wait(card("TRAFFIC") + `.dataset.points === '12'`)
	var after [2]float64
	d.eval(`[`+card("TRAFFIC")+`.plot.scales.x.min, `+card("TRAFFIC")+`.plot.scales.x.max]`, &after)
	if after != zoom || zoom[1]-zoom[0] > 6 {
		t.Errorf("zoom %v, then %v after a new window; want a few windows, kept", zoom, after)
	}
}

// An alarm is marked on its statistic's chart at its windows, inside the
// plot, under the threshold line it crossed, which is on the chart too;
// the cursor over it shows the value and the alarm in the legend.
func TestDashboardAlarmMarker(t *testing.T) {
	d := openDashboard(t, DefaultConfig())
	d.start()
	for i := range 8 {
		d.send(window(i, 3))
	}
	d.send(synAlarmAt(window(8, 3), "syn-1", 0.9, true), synAlarmAt(window(9, 3), "syn-1", 0.85, false), window(10, 3))
	d.wait(card("R_SYN") + `?.dataset.points === '11'`)
	d.wait(`document.querySelector('#alarm-history tr[data-alarm-id="syn-1"]')?.innerText.includes('cleared')`)
	var marks struct{ SYN, Traffic string }
	d.eval(`({SYN: `+card("R_SYN")+`.dataset.alarmMarkers, Traffic: `+card("TRAFFIC")+`.dataset.alarmMarkers})`, &marks)
	if marks.SYN != "2" || marks.Traffic != "0" {
		t.Errorf("alarm markers: R_SYN %s, TRAFFIC %s; want 2 and 0", marks.SYN, marks.Traffic)
	}
	// Inside the plot area: the marker, and the threshold line.
	x8 := unix(window(8, 3).End)
	var inside struct{ Marker, Threshold bool }
	d.eval(fmt.Sprintf(`(() => { const u = %s.plot, b = u.bbox;
		const inBox = (x, y) => x >= b.left && x <= b.left + b.width && y >= b.top && y <= b.top + b.height;
		return {Marker: inBox(u.valToPos(%v, 'x', true), u.valToPos(0.9, 'y', true)),
			Threshold: inBox(u.valToPos(%v, 'x', true), u.valToPos(0.3, 'y', true))}; })()`, card("R_SYN"), x8, x8), &inside)
	if !inside.Marker || !inside.Threshold {
		t.Errorf("alarm marker inside the plot %v, threshold %v", inside.Marker, inside.Threshold)
	}
	// The marker is drawn: the alarm colour where it is, not elsewhere on
	// the same height.
	if px := d.pixel("R_SYN", x8, 0.9); px[0] < 150 || px[1] > 110 || px[2] > 110 {
		t.Errorf("pixel at the alarm marker %v, want red", px)
	}
	if px := d.pixel("R_SYN", unix(window(4, 3).End), 0.9); px[0] > 150 && px[1] < 110 {
		t.Errorf("pixel away from the alarm %v is red too", px)
	}
	// The cursor on the marker: the legend shows the window's value and
	// the alarm.
	var box struct{ X, Y float64 }
	d.eval(fmt.Sprintf(`(() => { const c = %s; c.scrollIntoView(); const u = c.plot, r = u.over.getBoundingClientRect();
		return {X: r.left + u.valToPos(%v, 'x'), Y: r.top + u.valToPos(0.9, 'y')}; })()`, card("R_SYN"), x8), &box)
	if err := d.page.Mouse(d.ctx, "mouseMoved", box.X, box.Y, false); err != nil {
		t.Fatal(err)
	}
	d.wait(card("R_SYN") + `.querySelector('.u-legend').innerText.includes('raised')`)
	var legend string
	d.eval(card("R_SYN")+`.querySelector('.u-legend').innerText`, &legend)
	if !strings.Contains(legend, "0.9") || !strings.Contains(legend, "0.3") {
		t.Errorf("legend under the cursor %q, want the value 0.9 and the threshold 0.3", legend)
	}
	var row string
	d.eval(`document.querySelector('#alarm-history tr[data-alarm-id="syn-1"]').innerText`, &row)
	if !strings.Contains(row, "R_SYN") || !strings.Contains(row, "cleared") {
		t.Errorf("alarm history row %q", row)
	}
}

// The windows in which a statistic's detector learns are shaded on its
// chart, and the foot says it learns and has no threshold yet; once it
// watches, the threshold lines are drawn for the sides it watches.
func TestDashboardLearningShading(t *testing.T) {
	d := openDashboard(t, DefaultConfig())
	d.start()
	for i := range 3 {
		d.send(window(i, 6))
	}
	d.wait(card("TRAFFIC") + `?.dataset.points === '3'`)
	var foot, thresholds string
	d.eval(card("TRAFFIC")+`.querySelector('.chart-foot').textContent`, &foot)
	d.eval(card("TRAFFIC")+`.dataset.thresholds`, &thresholds)
	if !strings.Contains(foot, "learning") || !strings.Contains(foot, "no threshold yet") || thresholds != "" {
		t.Errorf("while learning: foot %q, thresholds %q", foot, thresholds)
	}
	for i := 3; i < 12; i++ {
		d.send(window(i, 6))
	}
	d.wait(card("TRAFFIC") + `.dataset.points === '12'`)
	var got struct{ Bands, TrafficSides, SynSides, Foot string }
	d.eval(`({Bands: `+card("TRAFFIC")+`.dataset.learningBands, TrafficSides: `+card("TRAFFIC")+`.dataset.thresholds,
		SynSides: `+card("R_SYN")+`.dataset.thresholds, Foot: `+card("TRAFFIC")+`.querySelector('.chart-foot').textContent})`, &got)
	if got.Bands != "1" || got.TrafficSides != "up,down" || got.SynSides != "up" || strings.Contains(got.Foot, "learning") ||
		!strings.Contains(got.Foot, "alarm above 140") || !strings.Contains(got.Foot, "alarm below 60") {
		t.Errorf("after learning: %+v", got)
	}
	// The band is painted: at the same height, a learning window's pixel
	// is amber-tinted and a watching window's is not.
	var yLow float64
	d.eval(card("TRAFFIC")+`.plot.scales.y.min`, &yLow)
	y := yLow + 1 // near the bottom of the plot, below the line
	in := d.pixel("TRAFFIC", unix(window(2, 6).End), y)
	out := d.pixel("TRAFFIC", unix(window(9, 6).End), y)
	if in == out || in[0]-in[2] < 15 || out[0]-out[2] > 10 {
		t.Errorf("pixels in the learning band %v and after it %v: want the band amber, the rest not", in, out)
	}
}

// An API with a token: the page asks for it, says when it is refused,
// and once given shows the live dashboard.
func TestDashboardTokenPrompt(t *testing.T) {
	const token = "browser-test-token-0123456789"
	cfg := DefaultConfig()
	cfg.Token = token
	d := openDashboard(t, cfg)
	d.wait(`document.getElementById('login').open`)
	var refused bool
	d.eval(`!document.getElementById('login-refused').hidden`, &refused)
	if refused {
		t.Error("the prompt says a token was refused before any was given")
	}
	submit := func(tok string) {
		d.eval(`document.getElementById('login-token').value = '`+tok+`'; document.getElementById('login-form').requestSubmit(); true`, nil)
	}
	submit("wrong-token-0123456789")
	d.wait(`document.getElementById('login').open && !document.getElementById('login-refused').hidden`)
	var conn string
	d.eval(`document.getElementById('conn').dataset.conn`, &conn)
	if conn == "live" {
		t.Error("the page follows the stream with a wrong token")
	}
	submit(token)
	d.wait(`!document.getElementById('login').open && document.getElementById('conn').dataset.conn === 'live'`)
	d.wait(`document.getElementById('state').dataset.state === 'stopped'`)
	d.start()
	d.send(window(0, 3))
	d.wait(card("TRAFFIC") + `?.dataset.points === '1'`)
}

// The dashboard at a desktop's and a phone's size, light and dark, after a
// run with learning, an alarm and a partial last window: screenshots to look
// at, and what can be checked of them. On the phone nothing is wider than
// the screen; the headline values are those of the last complete window.
func TestDashboardScreenshots(t *testing.T) {
	d := openDashboard(t, DefaultConfig())
	out := os.Getenv("NETSPOT_TEST_OUT")
	if out == "" {
		out = filepath.Join(os.TempDir(), "netspot-dashboard")
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	d.start()
	const n = 90
	for i := range n {
		r := window(i, 30)
		switch {
		case i == 60:
			synAlarmAt(r, "syn-7", 0.62, true)
		case i > 60 && i < 64:
			synAlarmAt(r, "syn-7", 0.5-float64(i-60)*0.05, false)
		}
		d.send(r)
	}
	partial := window(n, 30)
	partial.End = partial.Start.Add(300 * time.Millisecond)
	partial.Partial = true
	partial.Stats[0].Value = 3 // a third of a window's packets: not comparable
	d.send(partial)
	d.wait(`!document.getElementById('partial-note').hidden`)
	d.wait(card("R_SYN") + `.dataset.points === '` + fmt.Sprint(n) + `'`)
	var head struct{ Value, End string }
	d.eval(`({Value: `+card("TRAFFIC")+`.querySelector('.value').textContent, End: `+card("TRAFFIC")+`.dataset.headlineEnd})`, &head)
	if lastFull := window(n-1, 30); !strings.HasPrefix(head.Value, fmt.Sprintf("%.3g", lastFull.Stats[0].Value)) || !strings.HasPrefix(head.End, lastFull.End.Format("2006-01-02T15:04:05")) {
		t.Errorf("headline %q of %s, want the last complete window's %.3g of %s", head.Value, head.End, lastFull.Stats[0].Value, lastFull.End)
	}

	for _, v := range []struct {
		name          string
		width, height int
		mobile        bool
		scheme        string
	}{
		{"desktop-1280x800", 1280, 800, false, "light"},
		{"phone-390x844", 390, 844, true, "light"},
		{"phone-390x844-dark", 390, 844, true, "dark"},
		{"desktop-1280x800-dark", 1280, 800, false, "dark"},
	} {
		if err := d.page.SetViewport(d.ctx, v.width, v.height, v.mobile); err != nil {
			t.Fatal(err)
		}
		if err := d.page.SetColorScheme(d.ctx, v.scheme); err != nil {
			t.Fatal(err)
		}
		accent := map[string]string{"light": "#2563eb", "dark": "#60a5fa"}[v.scheme]
		// Charts as wide as their cards, drawn with the scheme's colours.
		ready := fmt.Sprintf(`window.innerWidth === %d && [...document.querySelectorAll('.chart')].every(c =>
			c.dataset.accent === '%s' && c.plot && Math.abs(c.plot.width - c.querySelector('.plot').clientWidth) <= 1)`, v.width, accent)
		if err := d.page.WaitFor(d.ctx, ready); err != nil {
			var state string
			d.eval(`JSON.stringify({inner: innerWidth, charts: [...document.querySelectorAll('.chart')].map(c =>
				[c.dataset.accent, c.plot && c.plot.width, c.querySelector('.plot').clientWidth])})`, &state)
			t.Fatalf("%s: %v\n%s", v.name, err, state)
		}
		var layout struct {
			PageWidth, Widest, Columns float64
			Overflow                   []string
		}
		d.eval(`(() => { const cards = [...document.querySelectorAll('.chart')];
			const over = [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1 &&
				!e.closest('#alarm-history') && getComputedStyle(e).position !== 'absolute').map(e => e.tagName + '.' + e.className);
			return {PageWidth: document.documentElement.scrollWidth, Widest: Math.max(...cards.map(c => c.getBoundingClientRect().right)),
				Columns: new Set(cards.map(c => Math.round(c.getBoundingClientRect().left))).size, Overflow: over.slice(0, 5)}; })()`, &layout)
		if layout.PageWidth > float64(v.width) || layout.Widest > float64(v.width) || len(layout.Overflow) > 0 {
			t.Errorf("%s: page %v px wide, charts up to %v, wider than the screen: %v", v.name, layout.PageWidth, layout.Widest, layout.Overflow)
		}
		if v.mobile && layout.Columns != 1 || !v.mobile && layout.Columns < 2 {
			t.Errorf("%s: charts in %v columns", v.name, layout.Columns)
		}
		png, err := d.page.Screenshot(d.ctx)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(out, "dashboard-"+v.name+".png")
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", path)
	}
}

// A threshold far from the values does not flatten them: the chart keeps
// the values' range and says, at its top, that the threshold is above it.
// A near one is drawn within the chart.
func TestDashboardFarThreshold(t *testing.T) {
	d := openDashboard(t, DefaultConfig())
	d.start()
	for i := range 10 {
		r := window(i, 3)
		if i >= 3 {
			r.Stats[0].Up = 5000
		}
		d.send(r)
	}
	d.wait(card("TRAFFIC") + `?.dataset.points === '10'`)
	var got struct {
		Off, SynOff string
		Max         float64
	}
	d.eval(`({Off: `+card("TRAFFIC")+`.dataset.offScale, SynOff: `+card("R_SYN")+`.dataset.offScale, Max: `+card("TRAFFIC")+`.plot.scales.y.max})`, &got)
	if got.Off != "up" || got.Max > 200 || got.Max < 110 {
		t.Errorf("TRAFFIC with a threshold of 5000 for values near 100: y up to %v, off-scale %q; want the values' range and \"up\"", got.Max, got.Off)
	}
	if got.SynOff != "" {
		t.Errorf("R_SYN's threshold 0.3 for values near 0.1 is said off the chart (%q)", got.SynOff)
	}
}
