// Package influxdb writes data records and alarms to InfluxDB (the
// [exporter.influxdb] section) in line protocol over HTTP: the /write API of
// InfluxDB 1 (with the original netspot's keys: database, username,
// password, batch_size, agent_name), or the /api/v2/write API of InfluxDB 2
// and 3 when a bucket is set. It needs no client library: a point is a line
// of text.
//
// The sink is a transport on the fan-out's queue (see package sink): it is
// a sink.BatchWriter, which writes the points of the records waiting, up
// to batch_size records, in one request. A record is written as soon as it
// is queued; those that queue while a request is under way, or while
// InfluxDB is unreachable, go together in the next one. When InfluxDB does
// not answer, or answers 5xx or 429, WriteBatch returns an Unreachable
// error (with the wait Retry-After asks) and the fan-out keeps the records
// (alarms before data, up to buffer_limit records) and writes them again
// later. Points InfluxDB refuses (4xx: bad credentials, type conflict) are
// not sent again, since that cannot succeed: WriteBatch returns a plain
// error with the server's message, and the fan-out counts the records as
// failed and logs the message once per change. A request never takes
// longer than timeout, and Close ends one under way, so a dead server
// cannot hold netspot.
//
// With InfluxDB 1, a missing database is created (CREATE DATABASE) the
// first time a write finds it missing, as the original netspot did.
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
	"time"

	"netspot/core/event"
	"netspot/core/sink"
)

// maxRetryAfter bounds the wait a server may ask for with Retry-After.
const maxRetryAfter = time.Minute

// Sink writes the points of Records to InfluxDB, one request per batch.
// WriteBatch is called from one goroutine at a time; Close may be called
// during it.
type Sink struct {
	cfg      Config
	series   string
	client   *http.Client
	writeURL string
	queryURL string // InfluxDB 1 only: for CREATE DATABASE
	log      *slog.Logger

	ctx     context.Context // canceled by Close: ends the request under way
	cancel  context.CancelFunc
	created bool // CREATE DATABASE was answered
	body    []byte
}

// New returns a sink for cfg; env.Series names the run in the "series" tag
// of every point. It does not contact the server: the first write does.
func New(cfg Config, env sink.Env) (*Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	base, _ := parseAddress(cfg.Address) // checked by Validate
	s := &Sink{cfg: cfg, series: env.Series, log: env.Log}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.client = &http.Client{Transport: &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		MaxIdleConnsPerHost: 1,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: cfg.Timeout.D(),
	}}
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

// MaxBatch is batch_size: the most Records written in one request.
func (s *Sink) MaxBatch() int { return s.cfg.BatchSize }

// Write writes r's points in one request (see WriteBatch).
func (s *Sink) Write(r *event.Record) error { return s.WriteBatch([]*event.Record{r}) }

// WriteBatch writes the points of rs (a data point per Record when data is
// on, a point per alarm when alarm is on) in one request. It returns nil
// once InfluxDB took them, an Unreachable error when InfluxDB could not be
// reached, did not answer within timeout, or answered 5xx or 429 (they
// may be written again), and a plain error when InfluxDB refused them.
func (s *Sink) WriteBatch(rs []*event.Record) error {
	body := s.encode(rs)
	if len(body) == 0 {
		return nil
	}
	res, err := s.post(s.writeURL, "text/plain; charset=utf-8", body)
	if err == nil || sink.IsUnreachable(err) || !s.missingDatabase(res) {
		return err
	}
	switch cerr := s.createDatabase(); {
	case sink.IsUnreachable(cerr):
		return cerr
	case cerr != nil:
		s.created = true
		s.log.Error("cannot create the database", "database", s.cfg.Database, "err", cerr)
		return err
	}
	s.created = true
	s.log.Info("database created", "database", s.cfg.Database)
	_, err = s.post(s.writeURL, "text/plain; charset=utf-8", body)
	return err
}

// encode returns the points of rs, in a buffer reused by the next call. A
// point InfluxDB could not store (a time outside its range) is left out
// and logged.
func (s *Sink) encode(rs []*event.Record) []byte {
	b := s.body[:0]
	var err error
	for _, r := range rs {
		if s.cfg.Data {
			if b, err = appendDataPoint(b, r, s.cfg.AgentName, s.series); err != nil {
				s.log.Error("data point left out", "window", r.Start, "err", err)
			}
		}
		if s.cfg.Alarm {
			for i := range r.Alarms {
				if b, err = appendAlarmPoint(b, &r.Alarms[i], s.cfg.AgentName, s.series); err != nil {
					s.log.Error("alarm left out", "id", r.Alarms[i].ID, "err", err)
				}
			}
		}
	}
	s.body = b
	return b
}

// response is what the server answered.
type response struct {
	status int
	body   []byte // the start of it
}

// maxErrorBody bounds what is read of a response.
const maxErrorBody = 4 << 10

// post sends body to target within timeout. A network error, a timeout, 5xx
// and 429 give an Unreachable error; any other status but 2xx a plain
// error with the server's message.
func (s *Sink) post(target, contentType string, body []byte) (response, error) {
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.Timeout.D())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return response{}, fmt.Errorf("influxdb: %w", err)
	}
	req.Header.Set("Content-Type", contentType)
	s.authorize(req)
	resp, err := s.client.Do(req)
	if err != nil {
		return response{}, sink.Unreachable(fmt.Errorf("influxdb: %w", err))
	}
	defer resp.Body.Close()
	res := response{status: resp.StatusCode}
	res.body, _ = io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // let the connection be reused
	if resp.StatusCode/100 == 2 {
		return res, nil
	}
	err = fmt.Errorf("influxdb: %s: %s", resp.Status, serverMessage(res.body))
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
		return res, sink.UnreachableFor(err, retryAfter(resp.Header.Get("Retry-After"), time.Now()))
	}
	return res, err
}

// missingDatabase reports whether res says that the InfluxDB 1 database
// does not exist, and creating it was not tried yet.
func (s *Sink) missingDatabase(res response) bool {
	return s.queryURL != "" && !s.created && res.status == http.StatusNotFound &&
		bytes.Contains(res.body, []byte("database not found"))
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
// nothing if the database exists. Its errors are post's, or the
// statement's.
func (s *Sink) createDatabase() error {
	form := url.Values{"q": {"CREATE DATABASE " + quoteIdent(s.cfg.Database)}}
	res, err := s.post(s.queryURL, "application/x-www-form-urlencoded", []byte(form.Encode()))
	if err != nil {
		return err
	}
	// InfluxDB 1 reports statement errors inside a 200 response.
	var out struct {
		Results []struct {
			Error string `json:"error"`
		} `json:"results"`
		Error string `json:"error"`
	}
	if json.Unmarshal(res.body, &out) == nil {
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

// retryAfter reads a Retry-After header (seconds, or an HTTP date), up to
// maxRetryAfter.
func retryAfter(h string, now time.Time) time.Duration {
	if h == "" {
		return 0
	}
	if n, err := strconv.Atoi(h); err == nil && n > 0 {
		return time.Duration(min(n, int(maxRetryAfter/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return min(t.Sub(now), maxRetryAfter)
	}
	return 0
}

// Close ends a request under way (WriteBatch then returns an Unreachable
// error) and the idle connections. What is still queued is the fan-out's.
func (s *Sink) Close() error {
	s.cancel()
	s.client.CloseIdleConnections()
	return nil
}
