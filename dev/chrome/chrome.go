// Package chrome drives a headless Chromium through the DevTools protocol
// for the project's browser tests: start it with an empty profile, open a
// page, evaluate JavaScript in it, wait for a condition, take a screenshot.
// It speaks the protocol over a websocket with golang.org/x/net/websocket;
// nothing is downloaded, the browser is the machine's (Debian's chromium).
package chrome

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/websocket"
)

// Find returns the Chromium to use: $CHROMIUM when set, else the first of
// chromium, chromium-browser, google-chrome on the PATH.
func Find() (string, error) {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return exec.LookPath(p)
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("chrome: no chromium on the PATH (apt-get install chromium, or set CHROMIUM)")
}

// Flags are the browser's command line: headless and quiet, no sandbox
// (tests may run as root), no GPU, and no connection of its own to the
// outside (background updates, sync, QUIC), which a closed network refuses
// anyway.
func Flags(profile string) []string {
	return []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--remote-debugging-port=0", "--remote-allow-origins=*",
		"--window-size=1280,1600", "--user-data-dir=" + profile, "about:blank",
	}
}

// Browser is a running Chromium.
type Browser struct {
	cmd     *exec.Cmd
	profile string
	debug   string // host:port of the DevTools endpoint
	stderr  *syncBuffer
	exited  chan struct{}
}

// startupTimeout bounds the wait for the browser's DevTools endpoint.
const startupTimeout = 30 * time.Second

// Launch starts exe with an empty profile in a temporary directory.
func Launch(exe string) (*Browser, error) {
	profile, err := os.MkdirTemp("", "netspot-chrome-")
	if err != nil {
		return nil, fmt.Errorf("chrome: %w", err)
	}
	b := &Browser{profile: profile, stderr: &syncBuffer{}, exited: make(chan struct{})}
	b.cmd = exec.Command(exe, Flags(profile)...)
	b.cmd.Stderr = b.stderr
	if err := b.cmd.Start(); err != nil {
		os.RemoveAll(profile)
		return nil, fmt.Errorf("chrome: start %s: %w", exe, err)
	}
	go func() {
		_ = b.cmd.Wait()
		close(b.exited)
	}()
	// The browser writes its DevTools port in the profile once it listens.
	deadline := time.Now().Add(startupTimeout)
	for {
		data, err := os.ReadFile(filepath.Join(profile, "DevToolsActivePort"))
		if port, _, ok := strings.Cut(string(data), "\n"); err == nil && ok && port != "" {
			b.debug = "127.0.0.1:" + port
			return b, nil
		}
		select {
		case <-b.exited:
			b.Close()
			return nil, fmt.Errorf("chrome: exited at start:\n%s", b.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			b.Close()
			return nil, fmt.Errorf("chrome: no DevTools endpoint after %v:\n%s", startupTimeout, b.stderr.String())
		}
	}
}

// Close stops the browser and removes its profile.
func (b *Browser) Close() error {
	if b.cmd.Process != nil {
		_ = b.cmd.Process.Kill()
		<-b.exited
	}
	return os.RemoveAll(b.profile)
}

// Open opens a new tab on pageURL.
func (b *Browser) Open(ctx context.Context, pageURL string) (*Page, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, "http://"+b.debug+"/json/new?"+url.QueryEscape(pageURL), nil)
	if err != nil {
		return nil, fmt.Errorf("chrome: %w", err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("chrome: new tab: %w", err)
	}
	defer res.Body.Close()
	var target struct {
		WebSocketDebuggerURL string `json:"webSocketDebuggerUrl"`
	}
	if err := json.NewDecoder(res.Body).Decode(&target); err != nil || target.WebSocketDebuggerURL == "" {
		return nil, fmt.Errorf("chrome: new tab: unexpected answer (%d, %v)", res.StatusCode, err)
	}
	cfg, err := websocket.NewConfig(target.WebSocketDebuggerURL, "http://127.0.0.1/")
	if err != nil {
		return nil, fmt.Errorf("chrome: %w", err)
	}
	ws, err := cfg.DialContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("chrome: connect to the tab: %w", err)
	}
	p := &Page{ws: ws}
	if _, err := p.call(ctx, "Runtime.enable", nil); err != nil {
		ws.Close()
		return nil, err
	}
	return p, nil
}

// Page is one tab. Its methods are not safe for concurrent use.
type Page struct {
	ws     *websocket.Conn
	lastID int
	errors []string // JavaScript errors and console.error messages
}

type message struct {
	ID     int             `json:"id"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Message string `json:"message"`
	} `json:"error"`
}

// call sends one command and returns its result, noting the page's errors
// among the events that come meanwhile.
func (p *Page) call(ctx context.Context, method string, params any) (json.RawMessage, error) {
	if dl, ok := ctx.Deadline(); ok {
		_ = p.ws.SetDeadline(dl)
	} else {
		_ = p.ws.SetDeadline(time.Time{})
	}
	p.lastID++
	id := p.lastID
	if err := websocket.JSON.Send(p.ws, map[string]any{"id": id, "method": method, "params": params}); err != nil {
		return nil, fmt.Errorf("chrome: %s: %w", method, err)
	}
	for {
		var m message
		if err := websocket.JSON.Receive(p.ws, &m); err != nil {
			return nil, fmt.Errorf("chrome: %s: %w", method, err)
		}
		switch {
		case m.ID == id && m.Error != nil:
			return nil, fmt.Errorf("chrome: %s: %s", method, m.Error.Message)
		case m.ID == id:
			return m.Result, nil
		case m.Method == "Runtime.exceptionThrown":
			var ev struct {
				ExceptionDetails struct {
					Text      string `json:"text"`
					Exception struct {
						Description string `json:"description"`
					} `json:"exception"`
				} `json:"exceptionDetails"`
			}
			_ = json.Unmarshal(m.Params, &ev)
			p.errors = append(p.errors, strings.TrimSpace(ev.ExceptionDetails.Text+" "+ev.ExceptionDetails.Exception.Description))
		case m.Method == "Runtime.consoleAPICalled":
			var ev struct {
				Type string `json:"type"`
				Args []struct {
					Value       any    `json:"value"`
					Description string `json:"description"`
				} `json:"args"`
			}
			_ = json.Unmarshal(m.Params, &ev)
			if ev.Type == "error" {
				var parts []string
				for _, a := range ev.Args {
					parts = append(parts, fmt.Sprint(a.Value)+a.Description)
				}
				p.errors = append(p.errors, "console.error: "+strings.Join(parts, " "))
			}
		}
	}
}

// Errors returns the JavaScript errors the page raised so far.
func (p *Page) Errors() []string { return p.errors }

// Eval evaluates a JavaScript expression (awaiting a promise) and decodes
// its value into out (when not nil).
func (p *Page) Eval(ctx context.Context, expr string, out any) error {
	res, err := p.call(ctx, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true, "awaitPromise": true})
	if err != nil {
		return err
	}
	var r struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	if err := json.Unmarshal(res, &r); err != nil {
		return fmt.Errorf("chrome: evaluate: %w", err)
	}
	if r.ExceptionDetails != nil {
		return fmt.Errorf("chrome: %s: %s %s", expr, r.ExceptionDetails.Text, r.ExceptionDetails.Exception.Description)
	}
	if out == nil || len(r.Result.Value) == 0 {
		return nil
	}
	return json.Unmarshal(r.Result.Value, out)
}

// WaitFor evaluates a JavaScript condition until it is true or ctx ends.
func (p *Page) WaitFor(ctx context.Context, cond string) error {
	for {
		var ok bool
		err := p.Eval(ctx, "Boolean("+cond+")", &ok)
		if err == nil && ok {
			return nil
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = errors.New("still false")
			}
			return fmt.Errorf("chrome: waiting for %s: %w", cond, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// SetViewport makes the page's window width × height CSS pixels, as a
// phone's (mobile: touch, a meta viewport honoured) or a desktop's.
func (p *Page) SetViewport(ctx context.Context, width, height int, mobile bool) error {
	_, err := p.call(ctx, "Emulation.setDeviceMetricsOverride", map[string]any{
		"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile,
	})
	if err == nil {
		// Overlay scrollbars: the page is as wide as the window, in
		// screenshots of the whole page too.
		_, err = p.call(ctx, "Emulation.setScrollbarsHidden", map[string]any{"hidden": true})
	}
	if err == nil && mobile {
		_, err = p.call(ctx, "Emulation.setTouchEmulationEnabled", map[string]any{"enabled": true, "maxTouchPoints": 5})
	}
	return err
}

// SetColorScheme makes the page see prefers-color-scheme as "light" or
// "dark" ("" for the system's).
func (p *Page) SetColorScheme(ctx context.Context, scheme string) error {
	_, err := p.call(ctx, "Emulation.setEmulatedMedia", map[string]any{
		"features": []map[string]string{{"name": "prefers-color-scheme", "value": scheme}},
	})
	return err
}

// Mouse sends a real mouse event at (x, y), CSS pixels from the top left
// of the viewport: typ is "mouseMoved", "mousePressed" or "mouseReleased";
// pressed says whether the left button is (or goes) down, for a drag.
func (p *Page) Mouse(ctx context.Context, typ string, x, y float64, pressed bool) error {
	params := map[string]any{"type": typ, "x": x, "y": y, "button": "none", "buttons": 0}
	if pressed || typ != "mouseMoved" {
		params["button"], params["clickCount"] = "left", 1
	}
	if pressed {
		params["buttons"] = 1
	}
	_, err := p.call(ctx, "Input.dispatchMouseEvent", params)
	return err
}

// Screenshot returns a PNG of the whole page.
func (p *Page) Screenshot(ctx context.Context) ([]byte, error) {
	res, err := p.call(ctx, "Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true})
	if err != nil {
		return nil, err
	}
	var r struct {
		Data string `json:"data"`
	}
	if err := json.Unmarshal(res, &r); err != nil {
		return nil, fmt.Errorf("chrome: screenshot: %w", err)
	}
	return base64.StdEncoding.DecodeString(r.Data)
}

// Close closes the connection to the tab.
func (p *Page) Close() error { return p.ws.Close() }

// syncBuffer collects the browser's output while it runs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.b.Len() > 1<<20 { // keep the start, where failures show
		return len(p), nil
	}
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
