package chrome

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

func TestPage(t *testing.T) {
	exe, err := Find()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte(`<!doctype html><meta name="viewport" content="width=device-width"><p id="p">hello</p><script>
			setTimeout(() => { document.getElementById('p').textContent = 'later'; }, 30);
		</script>`))
	}))
	defer srv.Close()
	b, err := Launch(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	p, err := b.Open(ctx, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.WaitFor(ctx, `document.getElementById('p').textContent === 'later'`); err != nil {
		t.Fatal(err)
	}
	// An uncaught error of the page is collected.
	if err := p.Eval(ctx, `setTimeout(() => { throw new Error('boom'); }, 0); setTimeout(() => { window.done = true; }, 20); true`, nil); err != nil {
		t.Fatal(err)
	}
	if err := p.WaitFor(ctx, `window.done`); err != nil {
		t.Fatal(err)
	}
	var sum int
	if err := p.Eval(ctx, `Promise.resolve(40 + 2)`, &sum); err != nil || sum != 42 {
		t.Errorf("eval: %d %v", sum, err)
	}
	if err := p.Eval(ctx, `nope.nope`, nil); err == nil || !strings.Contains(err.Error(), "ReferenceError") {
		t.Errorf("exception: %v", err)
	}
	short, cancelShort := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancelShort()
	if err := p.WaitFor(short, `false`); err == nil {
		t.Error("WaitFor(false) returned nil")
	}
	if errs := p.Errors(); len(errs) != 1 || !strings.Contains(errs[0], "boom") {
		t.Errorf("page errors %q", errs)
	}
	// A phone's window, in dark mode; a click where the paragraph is.
	if err := p.SetViewport(ctx, 390, 844, true); err != nil {
		t.Fatal(err)
	}
	if err := p.SetColorScheme(ctx, "dark"); err != nil {
		t.Fatal(err)
	}
	var phone bool
	if err := p.Eval(ctx, `innerWidth === 390 && matchMedia('(prefers-color-scheme: dark)').matches`, &phone); err != nil || !phone {
		t.Errorf("viewport and colour scheme not applied: %v %v", phone, err)
	}
	if err := p.Eval(ctx, `document.getElementById('p').addEventListener('click', () => { window.clicked = true }); true`, nil); err != nil {
		t.Fatal(err)
	}
	var at struct{ X, Y float64 }
	if err := p.Eval(ctx, `(() => { const r = document.getElementById('p').getBoundingClientRect(); return {X: r.left + 5, Y: r.top + 5}; })()`, &at); err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{"mouseMoved", "mousePressed", "mouseReleased"} {
		if err := p.Mouse(ctx, typ, at.X, at.Y, typ == "mousePressed"); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.WaitFor(ctx, `window.clicked`); err != nil {
		t.Error(err)
	}
	png, err := p.Screenshot(ctx)
	if err != nil || len(png) < 8 || string(png[1:4]) != "PNG" {
		t.Errorf("screenshot: %d bytes, %v", len(png), err)
	}
}
