package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"netspot/core/config"
	"netspot/core/stats"
)

// How long a start or stop request waits for the pipeline before answering
// 202 Accepted (the change goes on).
const (
	startWait = 30 * time.Second
	stopWait  = 30 * time.Second
)

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/{$}", methods{http.MethodGet: s.handleDashboard})
	mux.Handle("/assets/", methods{http.MethodGet: assetHandler()})

	mux.Handle("/api/v1/ping", methods{http.MethodGet: s.handlePing})
	mux.Handle("/api/v1/health", methods{http.MethodGet: s.handleHealth})
	mux.Handle("/api/v1/status", methods{http.MethodGet: s.handleStatus})
	mux.Handle("/api/v1/config", methods{
		http.MethodGet:   s.handleGetConfig,
		http.MethodPut:   func(w http.ResponseWriter, r *http.Request) { s.changeConfig(w, r, false) },
		http.MethodPatch: func(w http.ResponseWriter, r *http.Request) { s.changeConfig(w, r, true) },
	})
	mux.Handle("/api/v1/start", methods{http.MethodPost: s.handleStart})
	mux.Handle("/api/v1/stop", methods{http.MethodPost: s.handleStop})
	mux.Handle("/api/v1/stats", methods{http.MethodGet: s.handleStats})
	mux.Handle("/api/v1/devices", methods{http.MethodGet: s.handleDevices})
	mux.Handle("/api/v1/records", methods{http.MethodGet: s.handleRecords})
	mux.Handle("/api/v1/alarms", methods{http.MethodGet: s.handleAlarms})
	mux.Handle("/api/v1/stream", methods{http.MethodGet: s.handleStream})

	// The original netspot's routes.
	mux.Handle("/api/ping", methods{http.MethodGet: s.handlePing})
	mux.Handle("/api/config", methods{http.MethodGet: s.handleGetConfig, http.MethodPost: s.handleLegacyPostConfig})
	mux.Handle("/api/run", methods{http.MethodPost: s.handleLegacyRun})
	mux.Handle("/api/stats", methods{http.MethodGet: s.handleLegacyStats})
	mux.Handle("/api/devices", methods{http.MethodGet: s.handleLegacyDevices})

	mux.Handle("/", http.HandlerFunc(notFound))

	var h http.Handler = mux
	h = s.guardChanges(h)
	h = s.authenticate(h)
	h = s.crossOrigin(h)
	h = s.checkHost(h)
	return s.logRequests(h)
}

func notFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusNotFound, "no such page or endpoint: %s (the API is under /api/v1/)", sanitize(r.URL.Path))
}

// noQuery answers 400 and returns false when the request has a query
// string, which the endpoint does not take.
func noQuery(w http.ResponseWriter, r *http.Request) bool {
	if _, err := queryParams(r); err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return false
	}
	return true
}

func (s *Server) handlePing(w http.ResponseWriter, r *http.Request) {
	writeRawJSON(w, http.StatusOK, []byte(`{"status":"ok"}`+"\n"))
}

// stalledAfter is how many periods without a window make capture stalled
// (plus a margin for a loaded machine).
const (
	stalledAfter  = 3
	stalledMargin = 10 * time.Second
)

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	if !noQuery(w, r) {
		return
	}
	st := s.Status()
	h := Health{Status: "ok", State: st.State, Problems: []string{}}
	switch st.State {
	case Failed:
		h.Problems = append(h.Problems, "the pipeline failed: "+st.Run.Error)
	case Learning, Watching:
		if st.Run.CaptureError != "" {
			h.Problems = append(h.Problems, "capture: "+st.Run.CaptureError)
		}
		c, _, _ := s.feed.snapshot()
		last := c.lastWrite
		if last.IsZero() {
			last = st.Run.Started
		}
		if p := st.Run.Config.Period.D(); p > 0 && s.now().Sub(last) > stalledAfter*p+stalledMargin {
			h.Problems = append(h.Problems, "no window for "+s.now().Sub(last).Round(time.Second).String())
		}
	}
	code := http.StatusOK
	if len(h.Problems) > 0 {
		h.Status, code = "failing", http.StatusServiceUnavailable
	}
	writeJSON(w, code, h)
}

func (s *Server) handleStatus(w http.ResponseWriter, r *http.Request) {
	if !noQuery(w, r) {
		return
	}
	writeJSON(w, http.StatusOK, s.Status())
}

func (s *Server) handleGetConfig(w http.ResponseWriter, r *http.Request) {
	q, err := queryParams(r, "format")
	if err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	format := q.Get("format")
	if format == "" {
		format = "json"
		if strings.Contains(r.Header.Get("Accept"), "toml") {
			format = "toml"
		}
	}
	conf := s.Config()
	served := s.cfg
	sections := append(conf.Sections(), apiSection(&served))
	switch format {
	case "toml":
		var b bytes.Buffer
		if err := config.RenderRedacted(&b, sections...); err != nil {
			writeError(w, http.StatusInternalServerError, "configuration: %v", err)
			return
		}
		w.Header().Set("Content-Type", "application/toml; charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
		_, _ = w.Write(b.Bytes())
	case "json":
		writeJSON(w, http.StatusOK, config.ToMap(sections...))
	default:
		writeError(w, http.StatusBadRequest, "format: %q is not toml or json", sanitize(format))
	}
}

// readConfigBody reads a TOML or JSON configuration; on failure it has
// answered the request.
func readConfigBody(w http.ResponseWriter, r *http.Request) (*config.Document, bool) {
	mt, err := mediaType(r)
	if err != nil {
		writeError(w, http.StatusUnsupportedMediaType, "%v", err)
		return nil, false
	}
	fromJSON := false
	switch mt {
	case "application/toml", "application/x-toml", "text/toml":
	case "application/json":
		fromJSON = true
	case "":
		writeError(w, http.StatusUnsupportedMediaType, "Content-Type missing: send application/toml or application/json")
		return nil, false
	default:
		writeError(w, http.StatusUnsupportedMediaType, "Content-Type %s: send application/toml or application/json", sanitize(mt))
		return nil, false
	}
	body, ok := readBody(w, r, maxConfigBody)
	if !ok {
		return nil, false
	}
	if !utf8.Valid(body) {
		writeError(w, http.StatusBadRequest, "the body is not UTF-8 text")
		return nil, false
	}
	var doc *config.Document
	if fromJSON {
		doc, err = config.ParseJSON("", body)
	} else {
		doc, err = config.Parse("", body)
	}
	if err != nil {
		writeConfigError(w, err)
		return nil, false
	}
	return doc, true
}

// writeConfigError answers a configuration problem: 403 when the request
// changes what the API may not change, 400 otherwise.
func writeConfigError(w http.ResponseWriter, err error) {
	p := configProblems(err)
	if p == nil {
		writeError(w, http.StatusInternalServerError, "checking the configuration: %v", err)
		return
	}
	writeProblems(w, p)
}

func (s *Server) changeConfig(w http.ResponseWriter, r *http.Request, merge bool) {
	q, err := queryParams(r, "dry_run")
	if err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	dry, err := boolParam(q, "dry_run")
	if err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	doc, ok := readConfigBody(w, r)
	if !ok {
		return
	}
	c, restart, err := s.SetConfig(doc, merge, dry)
	if err != nil {
		writeConfigError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, ConfigResult{DryRun: dry, RestartRequired: restart, Config: config.ToMap(c.Sections()...)})
}

// noBody answers 400 and returns false unless the body is empty or an
// empty JSON object.
func noBody(w http.ResponseWriter, r *http.Request) bool {
	b, ok := readBody(w, r, maxSmallBody)
	if !ok {
		return false
	}
	if t := bytes.TrimSpace(b); len(t) > 0 && string(bytes.Join(bytes.Fields(t), nil)) != "{}" {
		writeError(w, http.StatusBadRequest, "this request takes no body (the configuration is changed with PUT or PATCH /api/v1/config)")
		return false
	}
	return true
}

func (s *Server) handleStart(w http.ResponseWriter, r *http.Request) {
	if !noQuery(w, r) || !noBody(w, r) {
		return
	}
	code, body := s.start(r.Context())
	writeJSON(w, code, body)
}

// start starts the pipeline and returns the answer: 200 with the status
// once capture has started, 202 while it is still starting, an error
// otherwise.
func (s *Server) start(ctx context.Context) (int, any) {
	ctx, cancel := context.WithTimeout(ctx, startWait)
	defer cancel()
	err := s.Start(ctx)
	var se *StartError
	switch {
	case err == nil:
		return http.StatusOK, s.Status()
	case errors.Is(err, ErrRunning):
		return http.StatusConflict, ErrorBody{Error: err.Error()}
	case errors.Is(err, ErrClosed):
		return http.StatusServiceUnavailable, ErrorBody{Error: err.Error()}
	case errors.As(err, &se):
		// A configuration the pipeline cannot use (a device that does
		// not exist) is the client's to fix; anything else is ours.
		if p := configProblems(err); p != nil {
			code := http.StatusBadRequest
			if slices.ContainsFunc(p, func(e ConfigError) bool { return e.Forbidden }) {
				code = http.StatusForbidden
			}
			return code, ErrorBody{Error: err.Error(), Problems: p}
		}
		return http.StatusInternalServerError, ErrorBody{Error: err.Error()}
	}
	return http.StatusAccepted, s.Status()
}

func (s *Server) handleStop(w http.ResponseWriter, r *http.Request) {
	if !noQuery(w, r) || !noBody(w, r) {
		return
	}
	code, body := s.stop(r.Context())
	writeJSON(w, code, body)
}

// stop stops the pipeline and returns the answer: 200 with the status once
// it has stopped, 202 while it is still stopping, 409 if it was not
// running.
func (s *Server) stop(ctx context.Context) (int, any) {
	ctx, cancel := context.WithTimeout(ctx, stopWait)
	defer cancel()
	switch err := s.Stop(ctx); {
	case err == nil:
		return http.StatusOK, s.Status()
	case errors.Is(err, ErrNotRunning):
		return http.StatusConflict, ErrorBody{Error: err.Error()}
	}
	return http.StatusAccepted, s.Status()
}

func (s *Server) statistics() []Statistic {
	def := stats.Default()
	watched := s.Config().Analyzer.Watched()
	var out []Statistic
	for _, st := range stats.All() {
		out = append(out, Statistic{Name: st.Name, Unit: st.Unit, Kind: st.Kind.String(), Help: st.Help, Informational: st.Informational,
			Watched: slices.Contains(watched, st.Name), Default: slices.Contains(def, st.Name)})
	}
	return out
}

func (s *Server) handleStats(w http.ResponseWriter, r *http.Request) {
	if !noQuery(w, r) {
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Statistics []Statistic `json:"statistics"`
	}{s.statistics()})
}

func (s *Server) handleDevices(w http.ResponseWriter, r *http.Request) {
	if !noQuery(w, r) {
		return
	}
	devs, err := s.devices()
	if err != nil {
		writeError(w, http.StatusInternalServerError, "listing the devices: %v", err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Devices []Device `json:"devices"`
	}{devs})
}

func (s *Server) handleRecords(w http.ResponseWriter, r *http.Request) {
	q, err := queryParams(r, "since", "limit")
	if err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	var since uint64
	if v := q.Get("since"); v != "" {
		if since, err = strconv.ParseUint(v, 10, 64); err != nil {
			writeError(w, http.StatusBadRequest, "since: %q is not a record's seq", sanitize(v))
			return
		}
	}
	limit, err := intParam(q, "limit", s.cfg.History, 1, s.cfg.History)
	if err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	recs, truncated, lastID := s.feed.recent(since, limit)
	b := make([]byte, 0, 64+len(recs)*recordSizeGuess)
	b = append(b, `{"last_id":`...)
	b = strconv.AppendQuote(b, lastID)
	b = append(b, `,"truncated":`...)
	b = strconv.AppendBool(b, truncated)
	b = append(b, `,"records":[`...)
	for i := range recs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendRecordJSON(b, recs[i].seq, recs[i].run, recs[i].rec)
	}
	writeRawJSON(w, http.StatusOK, append(b, "]}\n"...))
}

// recordSizeGuess is the size of a record in JSON with ten statistics, to
// size the answer's buffer once.
const recordSizeGuess = 1200

func (s *Server) handleAlarms(w http.ResponseWriter, r *http.Request) {
	q, err := queryParams(r, "limit")
	if err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	limit, err := intParam(q, "limit", min(100, s.cfg.AlarmHistory), 1, s.cfg.AlarmHistory)
	if err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	active, history := s.feed.alarmList(limit)
	b := []byte(`{"active":[`)
	for i := range active {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendAlarmJSON(b, &active[i])
	}
	b = append(b, `],"history":[`...)
	for i := range history {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendAlarmJSON(b, &history[i])
	}
	writeRawJSON(w, http.StatusOK, append(b, "]}\n"...))
}

// handleLegacyPostConfig is the original netspot's POST /api/config: a JSON
// object of changed keys, 201 when applied.
func (s *Server) handleLegacyPostConfig(w http.ResponseWriter, r *http.Request) {
	if !noQuery(w, r) {
		return
	}
	if mt, err := mediaType(r); err != nil || mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, "send the changed keys as application/json")
		return
	}
	doc, ok := readConfigBody(w, r)
	if !ok {
		return
	}
	if _, _, err := s.SetConfig(doc, true, false); err != nil {
		writeConfigError(w, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write([]byte("Config has been updated"))
}

// handleLegacyRun is the original netspot's POST /api/run with
// {"action": "start"} or "stop" (JSON, or a form as its client sent).
func (s *Server) handleLegacyRun(w http.ResponseWriter, r *http.Request) {
	if !noQuery(w, r) {
		return
	}
	mt, err := mediaType(r)
	if err != nil {
		writeError(w, http.StatusUnsupportedMediaType, "%v", err)
		return
	}
	body, ok := readBody(w, r, maxSmallBody)
	if !ok {
		return
	}
	var action string
	switch mt {
	case "application/json":
		var m map[string]string
		if err := json.Unmarshal(body, &m); err != nil {
			writeError(w, http.StatusBadRequest, "the body must be {\"action\": \"start\"} or \"stop\"")
			return
		}
		action = m["action"]
	case "application/x-www-form-urlencoded":
		f, err := url.ParseQuery(string(body))
		if err != nil {
			writeError(w, http.StatusBadRequest, "unreadable form: %v", err)
			return
		}
		action = f.Get("action")
	default:
		writeError(w, http.StatusUnsupportedMediaType, "send {\"action\": \"start\"} as application/json")
		return
	}
	var (
		code int
		ans  any
		msg  string
	)
	switch action {
	case "start":
		code, ans = s.start(r.Context())
		msg = "Analyzer has started"
	case "stop":
		code, ans = s.stop(r.Context())
		msg = "Analyzer has stopped"
	case "":
		writeError(w, http.StatusBadRequest, "No 'action' key found")
		return
	default:
		writeError(w, http.StatusBadRequest, "action %s is not supported", sanitize(action))
		return
	}
	if code != http.StatusOK && code != http.StatusAccepted {
		writeJSON(w, code, ans)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(msg))
}

func (s *Server) handleLegacyStats(w http.ResponseWriter, r *http.Request) {
	if !noQuery(w, r) {
		return
	}
	m := make(map[string]string)
	for _, st := range stats.All() {
		m[st.Name] = st.Help
	}
	writeJSON(w, http.StatusOK, m)
}

func (s *Server) handleLegacyDevices(w http.ResponseWriter, r *http.Request) {
	if !noQuery(w, r) {
		return
	}
	devs, err := s.devices()
	if err != nil {
		writeError(w, http.StatusInternalServerError, "listing the devices: %v", err)
		return
	}
	names := make([]string, len(devs))
	for i, d := range devs {
		names[i] = d.Name
	}
	writeJSON(w, http.StatusOK, names)
}
