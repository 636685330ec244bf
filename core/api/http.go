package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Body size limits: a configuration file (as the config loader's), and
// the small JSON bodies of the control requests.
const (
	maxConfigBody = 1 << 20
	maxSmallBody  = 4 << 10
)

// methods routes the requests of one path by method; other methods get 405
// with the Allow header. HEAD is answered by the GET handler.
type methods map[string]http.HandlerFunc

func (m methods) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h, ok := m[r.Method]
	if !ok && r.Method == http.MethodHead {
		h, ok = m[http.MethodGet]
	}
	if ok {
		h(w, r)
		return
	}
	allow := m.allow()
	w.Header().Set("Allow", allow)
	if r.Method == http.MethodOptions {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeError(w, http.StatusMethodNotAllowed, "method %s is not allowed on %s (allowed: %s)", sanitize(r.Method), r.URL.Path, allow)
}

func (m methods) allow() string {
	var names []string
	for k := range m {
		names = append(names, k)
	}
	if _, ok := m[http.MethodGet]; ok {
		names = append(names, http.MethodHead)
	}
	names = append(names, http.MethodOptions)
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// sanitize bounds text from a request before it goes into a message.
func sanitize(s string) string {
	const max = 64
	if len(s) > max {
		s = s[:max] + "…"
	}
	q := strconv.QuoteToASCII(s)
	return q[1 : len(q)-1]
}

func slogLevelFor(code int) slog.Level {
	if code >= http.StatusInternalServerError {
		return slog.LevelWarn
	}
	return slog.LevelDebug
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code = http.StatusInternalServerError
		b = []byte(`{"error":"cannot encode the answer"}`)
	}
	writeRawJSON(w, code, append(b, '\n'))
}

func writeRawJSON(w http.ResponseWriter, code int, b []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

func writeError(w http.ResponseWriter, code int, format string, args ...any) {
	writeJSON(w, code, ErrorBody{Error: fmt.Sprintf(format, args...)})
}

// writeProblems answers 400 with configuration problems.
func writeProblems(w http.ResponseWriter, problems ConfigErrors) {
	for _, p := range problems {
		if p.Forbidden {
			writeJSON(w, http.StatusForbidden, ErrorBody{Error: "not allowed through the API: " + problems.Error(), Problems: problems})
			return
		}
	}
	writeJSON(w, http.StatusBadRequest, ErrorBody{Error: "invalid configuration: " + problems.Error(), Problems: problems})
}

// readBody reads a request body of at most limit bytes; on failure it has
// answered the request.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, bool) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, "request body larger than %d bytes", limit)
		return nil, false
	case err != nil:
		writeError(w, http.StatusBadRequest, "reading the request body: %v", err)
		return nil, false
	}
	return b, true
}

// mediaType returns the request's content type without parameters, "" when
// absent. Only UTF-8 text is accepted.
func mediaType(r *http.Request) (string, error) {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return "", nil
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return "", fmt.Errorf("unreadable Content-Type %q", sanitize(ct))
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return "", fmt.Errorf("charset %q: only utf-8 is accepted", sanitize(cs))
	}
	return mt, nil
}

// queryParams parses the query string, refusing unknown and repeated
// parameters so that a typo is an error rather than ignored.
func queryParams(r *http.Request, allowed ...string) (url.Values, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, fmt.Errorf("unreadable query string: %v", err)
	}
	for k, v := range q {
		if !slices.Contains(allowed, k) {
			if len(allowed) == 0 {
				return nil, fmt.Errorf("unknown query parameter %q: this endpoint takes none", sanitize(k))
			}
			return nil, fmt.Errorf("unknown query parameter %q (known: %s)", sanitize(k), strings.Join(allowed, ", "))
		}
		if len(v) > 1 {
			return nil, fmt.Errorf("query parameter %q given %d times", k, len(v))
		}
	}
	return q, nil
}

// intParam reads an optional integer parameter in [lo, hi].
func intParam(q url.Values, name string, def, lo, hi int) (int, error) {
	s := q.Get(name)
	if s == "" {
		return def, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < lo || v > hi {
		return 0, fmt.Errorf("%s: %q is not an integer from %d to %d", name, sanitize(s), lo, hi)
	}
	return v, nil
}

// boolParam reads an optional boolean parameter.
func boolParam(q url.Values, name string) (bool, error) {
	s := q.Get(name)
	if s == "" {
		return false, nil
	}
	v, err := strconv.ParseBool(s)
	if err != nil {
		return false, fmt.Errorf("%s: %q is not true or false", name, sanitize(s))
	}
	return v, nil
}

// statusWriter remembers the status code for the request log.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (flushes and
// deadlines of the live stream).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// logRequests logs every request at debug level, server errors as warnings.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := s.now()
		sw := &statusWriter{ResponseWriter: w}
		w.Header().Set("X-Content-Type-Options", "nosniff")
		next.ServeHTTP(sw, r)
		level := slogLevelFor(sw.code)
		s.log.Log(r.Context(), level, "request", "method", sanitize(r.Method), "path", sanitize(r.URL.Path),
			"status", sw.code, "duration", s.now().Sub(start).Round(time.Microsecond), "remote", r.RemoteAddr)
	})
}

// checkHost refuses host names other than loopback ones when the server
// listens on loopback: a web page whose name resolves to 127.0.0.1 (DNS
// rebinding) must not reach the API from the user's browser.
func (s *Server) checkHost(next http.Handler) http.Handler {
	network, address, _ := ParseEndpoint(s.cfg.Endpoint)
	if network == "unix" || !Loopback(address) {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !loopbackHost(r.Host) {
			writeError(w, http.StatusForbidden, "host %q is not allowed: netspot listens on loopback only, use localhost or 127.0.0.1", sanitize(r.Host))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// crossOrigin refuses requests that change something when a browser sends
// them from another site's page (CSRF).
func (s *Server) crossOrigin(next http.Handler) http.Handler {
	p := http.NewCrossOriginProtection()
	p.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusForbidden, "cross-origin request refused: use the dashboard served by netspot, or a client that is not a browser")
	}))
	return p.Handler(next)
}

// guardChanges refuses every request that changes something (the
// configuration, start, stop) when the API is read-only.
func (s *Server) guardChanges(next http.Handler) http.Handler {
	if s.readOnly == "" {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			next.ServeHTTP(w, r)
		default:
			writeError(w, http.StatusForbidden, "%s", s.readOnly)
		}
	})
}

// public reports whether a path is served without a token: the dashboard's
// files (they hold no data) and ping.
func public(path string) bool {
	return path == "/" || strings.HasPrefix(path, "/assets/") || path == "/api/v1/ping" || path == "/api/ping"
}

// authenticate requires the bearer token, when one is configured.
func (s *Server) authenticate(next http.Handler) http.Handler {
	if s.token == "" {
		return next
	}
	want := sha256.Sum256([]byte(s.token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if public(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		got := sha256.Sum256([]byte(strings.TrimSpace(tok)))
		if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="netspot"`)
			writeError(w, http.StatusUnauthorized, "missing or wrong token: send the header Authorization: Bearer TOKEN ([api] token)")
			return
		}
		next.ServeHTTP(w, r)
	})
}
