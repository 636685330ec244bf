// Package influxdb writes data records and alarms to InfluxDB (the
// [exporter.influxdb] section) in line protocol over HTTP: the /write API of
// InfluxDB 1 (with netspot's keys: database, username, password, batch_size,
// agent_name), or the /api/v2/write API of InfluxDB 2 and 3 when a bucket is
// set. It needs no client library: a point is a line of text.
//
// Points are batched: a batch goes out when batch_size points wait, when the
// oldest has waited flush_interval, or at once when it holds an alarm. While
// InfluxDB does not answer (or answers 5xx or 429) the points stay in a
// bounded buffer and the write is tried again after a wait that doubles from
// one second to a minute (or what Retry-After says); when the buffer is full
// the oldest data points go first, alarms last. A point InfluxDB refuses
// (4xx: bad credentials, type conflict) is dropped, since sending it again
// cannot succeed. Every loss is counted, returned by Write and logged once
// per outage; every lost alarm is logged. A request never takes longer than
// timeout, so a dead server cannot hold the fan-out.
//
// With InfluxDB 1, a missing database is created (CREATE DATABASE) the
// first time a write finds it missing, as netspot did.
package influxdb

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"netspot/core/event"
	"netspot/core/sink/internal/backoff"
)

// Options are what the sink needs from the program.
type Options struct {
	// Log receives outages, recoveries and losses; nil discards them.
	Log *slog.Logger
	// Now is the clock of batching and retries; time.Now when nil.
	Now func() time.Time
	// Client sends the requests; nil: a client of this package's own.
	Client *http.Client
}

// Retry waits after a failed write.
const (
	minRetry = time.Second
	maxRetry = time.Minute
)

// Stats counts what happened to the points.
type Stats struct {
	Written       uint64 // points InfluxDB accepted
	Buffered      int    // points waiting now
	Dropped       uint64 // points lost: buffer full, refused by InfluxDB, or left at exit
	DroppedAlarms uint64 // alarm points among Dropped
	Requests      uint64 // write requests sent
	Failures      uint64 // requests that failed (and were, or will be, tried again)
}

// point is one line of line protocol, with its newline.
type point struct {
	line  []byte
	alarm bool
}

// Sink buffers points and writes them in batches.
type Sink struct {
	cfg      Config
	series   string
	client   *http.Client
	writeURL string
	queryURL string // InfluxDB 1 only: for CREATE DATABASE
	now      func() time.Time
	log      *slog.Logger

	mu        sync.Mutex
	buf       []point // oldest first
	alarms    int     // alarm points in buf
	oldest    time.Time
	retryAt   time.Time
	backoff   backoff.Backoff
	failing   bool // the last attempt failed; logged once per change
	lossShown bool // a data loss was logged during this outage
	created   bool // CREATE DATABASE was tried
	body      bytes.Buffer
	closed    bool
	stats     Stats
}

// ErrClosed is returned by Write after Close.
var ErrClosed = errors.New("influxdb: sink closed")

// New returns a sink for cfg; series names the run in the "series" tag of
// every point. It does not contact the server: the first batch does.
func New(cfg Config, series string, opts Options) (*Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	base, _ := parseAddress(cfg.Address) // checked by Validate
	s := &Sink{
		cfg: cfg, series: series, client: opts.Client, now: opts.Now, log: opts.Log,
		backoff: backoff.Backoff{Min: minRetry, Max: maxRetry},
	}
	if s.client == nil {
		s.client = &http.Client{Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			MaxIdleConnsPerHost: 1,
			IdleConnTimeout:     90 * time.Second,
			TLSHandshakeTimeout: cfg.Timeout.D(),
		}}
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	q := url.Values{}
	if cfg.V2() {
		q.Set("bucket", cfg.Bucket)
		if cfg.Org != "" {
			q.Set("org", cfg.Org)
		}
		q.Set("precision", "ns")
		s.writeURL = base.String() + "/api/v2/write?" + q.Encode()
	} else {
		q.Set("db", cfg.Database)
		if cfg.RetentionPolicy != "" {
			q.Set("rp", cfg.RetentionPolicy)
		}
		q.Set("precision", "ns")
		s.writeURL = base.String() + "/write?" + q.Encode()
		s.queryURL = base.String() + "/query"
	}
	return s, nil
}

// Write buffers r's points and sends a batch if one is due and the retry
// wait is over. It returns an error only when points were lost.
func (s *Sink) Write(r *event.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	now := s.now()
	var errs []error
	if s.cfg.Data {
		line, err := appendDataPoint(nil, r, s.cfg.AgentName, s.series)
		if err != nil {
			s.lose(1, 0, "invalid record")
			errs = append(errs, fmt.Errorf("influxdb: data point dropped: %w", err))
		} else {
			s.add(point{line: line}, now)
		}
	}
	if s.cfg.Alarm {
		for i := range r.Alarms {
			line, err := appendAlarmPoint(nil, &r.Alarms[i], s.cfg.AgentName, s.series)
			if err != nil {
				s.lose(1, 1, "invalid alarm")
				errs = append(errs, fmt.Errorf("influxdb: alarm point dropped: %w", err))
				continue
			}
			s.add(point{line: line, alarm: true}, now)
		}
	}
	if s.due(now) {
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Timeout.D())
		if err := s.flush(ctx, now); err != nil {
			errs = append(errs, err)
		}
		cancel()
	}
	if n, a := s.trim(); n > 0 {
		errs = append(errs, fmt.Errorf("influxdb: %d points dropped (%d alarms): buffer full while %s does not take them", n, a, s.cfg.Address))
	}
	return errors.Join(errs...)
}

func (s *Sink) add(p point, now time.Time) {
	if len(s.buf) == 0 {
		s.oldest = now
	}
	s.buf = append(s.buf, p)
	if p.alarm {
		s.alarms++
	}
}

// due reports whether a batch should be sent now.
func (s *Sink) due(now time.Time) bool {
	if len(s.buf) == 0 || now.Before(s.retryAt) {
		return false
	}
	return len(s.buf) >= s.cfg.BatchSize || s.alarms > 0 || now.Sub(s.oldest) >= s.cfg.FlushInterval.D()
}

// flush sends the oldest points, up to maxBatch, in one request. On a
// retryable failure they stay buffered and the next attempt is scheduled;
// refused points are dropped and the error says why.
func (s *Sink) flush(ctx context.Context, now time.Time) error {
	n := min(len(s.buf), maxBatch)
	s.body.Reset()
	for _, p := range s.buf[:n] {
		s.body.Write(p.line)
	}
	res := s.post(ctx, s.body.Bytes())
	if res.missingDB && !s.created && s.queryURL != "" {
		s.created = true
		if err := s.createDatabase(ctx); err != nil {
			s.log.Error("influxdb: cannot create the database", "database", s.cfg.Database, "err", err)
		} else {
			s.log.Info("influxdb: database created", "database", s.cfg.Database)
			res = s.post(ctx, s.body.Bytes())
		}
	}
	switch {
	case res.err == nil:
		s.stats.Written += uint64(n)
		s.remove(n)
		s.retryAt = time.Time{}
		s.backoff.Reset()
		if s.failing {
			s.log.Info("influxdb: writing again", "address", s.cfg.Address, "dropped_total", s.stats.Dropped)
		}
		s.failing, s.lossShown = false, false
		if len(s.buf) > 0 {
			s.oldest = now
		}
		return nil
	case res.retry:
		wait := max(s.backoff.Next(), min(res.retryAfter, maxRetry))
		s.retryAt = now.Add(wait)
		if !s.failing {
			s.log.Warn("influxdb: write failed, points are kept and will be sent again",
				"address", s.cfg.Address, "err", res.err, "retry_in", wait, "buffer_limit", s.cfg.BufferLimit)
		}
		s.failing = true
		return nil
	default:
		alarms := 0
		for _, p := range s.buf[:n] {
			if p.alarm {
				alarms++
			}
		}
		s.remove(n)
		s.lose(n, alarms, "refused by InfluxDB")
		if !s.failing {
			s.log.Error("influxdb: points refused", "address", s.cfg.Address, "err", res.err)
		}
		s.failing = true
		return fmt.Errorf("influxdb: %d points dropped (%d alarms): %w", n, alarms, res.err)
	}
}

// remove forgets the n oldest points.
func (s *Sink) remove(n int) {
	for i := range s.buf[:n] {
		if s.buf[i].alarm {
			s.alarms--
		}
		s.buf[i] = point{}
	}
	s.buf = s.buf[n:]
	if len(s.buf) == 0 {
		s.buf = nil
	}
}

// trim drops the oldest points beyond the buffer limit, data before alarms.
func (s *Sink) trim() (dropped, alarms int) {
	for len(s.buf) > s.cfg.BufferLimit {
		victim := 0
		for i, p := range s.buf {
			if !p.alarm {
				victim = i
				break
			}
		}
		p := s.buf[victim]
		copy(s.buf[victim:], s.buf[victim+1:])
		s.buf[len(s.buf)-1] = point{}
		s.buf = s.buf[:len(s.buf)-1]
		dropped++
		if p.alarm {
			s.alarms--
			alarms++
		}
	}
	if dropped > 0 {
		s.lose(dropped, alarms, "buffer full")
	}
	return dropped, alarms
}

// lose counts lost points; the first data loss of an outage and every alarm
// loss are logged.
func (s *Sink) lose(n, alarms int, why string) {
	s.stats.Dropped += uint64(n)
	s.stats.DroppedAlarms += uint64(alarms)
	if alarms > 0 {
		s.log.Error("influxdb: alarms lost", "alarms", alarms, "reason", why, "dropped_alarms_total", s.stats.DroppedAlarms)
	} else if !s.lossShown {
		s.log.Warn("influxdb: data points lost", "points", n, "reason", why)
	}
	s.lossShown = true
}

// result is the outcome of one request.
type result struct {
	err        error
	retry      bool          // worth sending again
	retryAfter time.Duration // asked by the server
	missingDB  bool
}

// maxErrorBody bounds what is read of an error response.
const maxErrorBody = 4 << 10

func (s *Sink) post(ctx context.Context, body []byte) result {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.writeURL, bytes.NewReader(body))
	if err != nil {
		return result{err: err}
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	s.authorize(req)
	s.stats.Requests++
	resp, err := s.client.Do(req)
	if err != nil {
		s.stats.Failures++
		return result{err: err, retry: true}
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // let the connection be reused
	if resp.StatusCode/100 == 2 {
		return result{}
	}
	s.stats.Failures++
	res := result{err: fmt.Errorf("%s: %s", resp.Status, serverMessage(msg))}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		res.retry = true
		res.retryAfter = retryAfter(resp.Header.Get("Retry-After"), s.now())
	case resp.StatusCode == http.StatusNotFound && bytes.Contains(msg, []byte("database not found")):
		res.missingDB = true
	}
	return res
}

func (s *Sink) authorize(req *http.Request) {
	switch {
	case s.cfg.V2() && s.cfg.Token != "":
		req.Header.Set("Authorization", "Token "+s.cfg.Token)
	case !s.cfg.V2() && s.cfg.Username != "":
		req.SetBasicAuth(s.cfg.Username, s.cfg.Password)
	}
}

// createDatabase runs CREATE DATABASE on an InfluxDB 1 server; it does
// nothing if the database exists.
func (s *Sink) createDatabase(ctx context.Context) error {
	form := url.Values{"q": {"CREATE DATABASE " + quoteIdent(s.cfg.Database)}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.queryURL, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	s.authorize(req)
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s: %s", resp.Status, serverMessage(msg))
	}
	// InfluxDB 1 reports statement errors inside a 200 response.
	var out struct {
		Results []struct {
			Error string `json:"error"`
		} `json:"results"`
		Error string `json:"error"`
	}
	if json.Unmarshal(msg, &out) == nil {
		if out.Error != "" {
			return errors.New(out.Error)
		}
		for _, r := range out.Results {
			if r.Error != "" {
				return errors.New(r.Error)
			}
		}
	}
	return nil
}

// quoteIdent quotes an InfluxQL identifier.
func quoteIdent(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// serverMessage extracts the message of an InfluxDB error body ({"error":…}
// for InfluxDB 1, {"code":…,"message":…} for 2), or returns the text.
func serverMessage(body []byte) string {
	var e struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &e) == nil {
		if e.Error != "" {
			return e.Error
		}
		if e.Message != "" {
			return e.Message
		}
	}
	if t := strings.TrimSpace(string(body)); t != "" {
		return strings.ToValidUTF8(t, "?")
	}
	return "no message"
}

// retryAfter reads a Retry-After header: seconds, or an HTTP date.
func retryAfter(h string, now time.Time) time.Duration {
	if h == "" {
		return 0
	}
	if n, err := strconv.Atoi(h); err == nil && n > 0 {
		return time.Duration(min(n, int(maxRetry/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// Stats returns the counters.
func (s *Sink) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Buffered = len(s.buf)
	return st
}

// Close sends every buffered point, whatever the batch size and the retry
// wait, within one timeout in all. Points it could not deliver are logged;
// an error is returned when alarms are among them (as the fan-out does for
// its own losses: lost data is a warning, a lost alarm a failure).
func (s *Sink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Timeout.D())
	defer cancel()
	dropped, alarms := s.stats.Dropped, s.stats.DroppedAlarms
	var last error
	for len(s.buf) > 0 {
		before := len(s.buf)
		if err := s.flush(ctx, s.now()); err != nil {
			last = err
		}
		if len(s.buf) == before { // not sent, kept for a retry that will not come
			last = fmt.Errorf("%s does not answer", s.cfg.Address)
			s.lose(len(s.buf), s.alarms, "not written at exit")
			s.remove(len(s.buf))
		}
	}
	s.client.CloseIdleConnections()
	dropped, alarms = s.stats.Dropped-dropped, s.stats.DroppedAlarms-alarms
	if dropped > 0 {
		s.log.Warn("influxdb: points not written at exit", "points", dropped, "alarms", alarms, "err", last)
	}
	if alarms > 0 {
		return fmt.Errorf("influxdb: %d alarms not written: %w", alarms, last)
	}
	return nil
}
