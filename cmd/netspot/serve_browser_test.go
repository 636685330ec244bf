package main

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"netspot/dev/chrome"
)

// The dashboard in a real browser: it asks for the token, starts the
// replay of the demo capture, and shows every statistic with its value and
// thresholds, and the alarms the attacks raise; a bad configuration is
// refused with its line. Set DASHBOARD_SCREENSHOT=file.png to look at it.
func TestDashboardInChromium(t *testing.T) {
	exe, err := chrome.Find()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI needs chromium for the dashboard test: %v", err)
		}
		t.Skipf("dashboard test skipped: %v", err)
	}
	const token = "dashboard-test-token-0123"
	s := startServe(t, "-c", demoConfig(t, "[api]\nendpoint = \"tcp://127.0.0.1:0\"\ntoken = \""+token+"\"\n"))
	addr := s.address(t)

	b, err := chrome.Launch(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	p, err := b.Open(ctx, "http://"+addr+"/")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	fail := func(err error) {
		t.Helper()
		var text string
		_ = p.Eval(ctx, "document.body.innerText", &text)
		t.Fatalf("%v\npage errors: %v\npage:\n%s\nserver:\n%s", err, p.Errors(), text, s.stderr.String())
	}
	eval := func(expr string, out any) {
		t.Helper()
		if err := p.Eval(ctx, expr, out); err != nil {
			fail(err)
		}
	}
	wait := func(cond string) {
		t.Helper()
		if err := p.WaitFor(ctx, cond); err != nil {
			fail(err)
		}
	}

	// The API needs the token: the page asks for it.
	wait(`document.getElementById('login').open`)
	eval(`document.getElementById('login-token').value = '`+token+`'; document.getElementById('login-form').requestSubmit(); true`, nil)
	wait(`document.getElementById('conn').dataset.conn === 'live' && !document.getElementById('start').disabled`)

	eval(`document.getElementById('start').click(); true`, nil)
	// The replay ends in a fraction of a second: the page then shows the
	// finished run, its charts and its alarms.
	wait(`document.getElementById('state').dataset.state === 'stopped' && document.getElementById('run-note').textContent.includes('finished')`)
	stats := []string{"TRAFFIC", "R_SYN", "R_ARP", "R_ICMP", "NB_DST_PORT", "NB_DST_ADDR", "R_DST_SRC_PORT"}
	wait(`document.querySelectorAll(".chart[data-stat]").length === ` + strconv.Itoa(len(stats)))
	wait(`document.querySelector('#alarm-history tr[data-stat="NB_DST_PORT"]') && document.querySelector('#alarm-history tr[data-stat="R_ICMP"]')`)

	var charts []struct {
		Stat, Value, Foot, Points, Thresholds string
	}
	eval(`[...document.querySelectorAll('.chart')].map(c => ({
		Stat: c.dataset.stat,
		Value: c.querySelector('.value').textContent,
		Foot: c.querySelector('.chart-foot').textContent,
		Points: c.dataset.points,
		Thresholds: c.dataset.thresholds,
	}))`, &charts)
	for i, c := range charts {
		if c.Stat != stats[i] {
			t.Errorf("chart %d shows %s, want %s", i, c.Stat, stats[i])
		}
		if n, _ := strconv.Atoi(c.Points); c.Value == "" || c.Value == "–" || n < 100 {
			t.Errorf("chart %s: value %q, line of %s points", c.Stat, c.Value, c.Points)
		}
		// Every detector watches at the end of the demo: each chart
		// draws its upper threshold and names it.
		if !strings.Contains(c.Foot, "alarm above") || !strings.Contains(c.Thresholds, "up") {
			t.Errorf("chart %s: no upper threshold (foot %q, lines %q)", c.Stat, c.Foot, c.Thresholds)
		}
	}
	wait(`!document.querySelector('#alarm-history tr.active')`)
	var rows []string
	eval(`[...document.querySelectorAll('#alarm-history tbody tr')].map(r => r.innerText)`, &rows)
	if len(rows) < 2 {
		t.Errorf("alarm history: %q", rows)
	}
	for _, r := range rows {
		if !strings.Contains(r, "up") || !strings.Contains(r, "cleared") {
			t.Errorf("alarm row %q: want an upper alarm, cleared", r)
		}
	}
	var scanDots int
	eval(`Number(document.querySelector('.chart[data-stat="NB_DST_PORT"]').dataset.alarmMarkers)`, &scanDots)
	if scanDots == 0 {
		t.Error("the port scan's alarm windows are not marked on the NB_DST_PORT chart")
	}

	// The editor refuses a bad value and says where it is.
	wait(`document.getElementById('config-text').value.includes('n_init = 300')`)
	eval(`const ta = document.getElementById('config-text'); ta.value = ta.value.replace(/^q = .*$/m, 'q = 7.0'); document.getElementById('config-check').click(); true`, nil)
	wait(`document.querySelector('#config-problems li')`)
	var problem string
	eval(`document.querySelector('#config-problems li').textContent`, &problem)
	if !strings.HasPrefix(problem, "line ") || !strings.Contains(problem, "spot.q: must be strictly between 0 and 1") {
		t.Errorf("config problem shown as %q", problem)
	}

	if path := os.Getenv("DASHBOARD_SCREENSHOT"); path != "" {
		png, err := p.Screenshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if errs := p.Errors(); len(errs) > 0 {
		t.Errorf("JavaScript errors in the page: %q", errs)
	}
}
