package client

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"netspot/core/api"
)

// StreamOptions choose what a Stream delivers.
type StreamOptions struct {
	// Events names the events wanted: "record", "alarm", "status"; all
	// of them when empty.
	Events []string
	// LastID resumes after the event with this id (Event.ID of an
	// earlier stream); empty starts with the events to come.
	LastID string
	// Retry is the delay before reconnecting; the server's advice when
	// zero.
	Retry time.Duration
}

// Event is one event of the live stream.
type Event struct {
	Kind   string // "record", "alarm", "status" or "reset"
	ID     string // stream position of a record or an alarm
	Record *api.Record
	Alarm  *api.Alarm
	Status *api.Status
	// Reset says why events were missed: the server restarted, or the
	// client was away longer than the server keeps records. Reload the
	// state from Records and Alarms.
	Reset string
}

// Stream follows the live stream. When the connection drops it reconnects
// by itself, resuming after the last event, so that a long-running
// follower misses nothing the server still has. An alarm may then come
// twice: alarm ids are unique.
type Stream struct {
	c      *Client
	ctx    context.Context
	cancel context.CancelFunc
	opts   StreamOptions
	lastID string
	retry  time.Duration
	res    *http.Response
	sc     *bufio.Scanner
	// Reconnects counts the connections made after the first.
	Reconnects int
}

// Limits of the stream's reader.
const (
	maxEventLine = 4 << 20
	maxErrorBody = 64 << 10 // of a refusal: one error object
	defaultRetry = 2 * time.Second
	maxRetry     = 30 * time.Second
)

// Stream connects to the live stream. Errors of the first connection are
// returned (a wrong token, an unknown event name); later ones are retried.
func (c *Client) Stream(ctx context.Context, opts StreamOptions) (*Stream, error) {
	ctx, cancel := context.WithCancel(ctx)
	s := &Stream{c: c, ctx: ctx, cancel: cancel, opts: opts, lastID: opts.LastID, retry: defaultRetry}
	if opts.Retry > 0 {
		s.retry = opts.Retry
	}
	if err := s.connect(); err != nil {
		cancel()
		return nil, err
	}
	return s, nil
}

// LastID is the position of the last record or alarm received.
func (s *Stream) LastID() string { return s.lastID }

// Close ends the stream.
func (s *Stream) Close() error {
	s.cancel()
	if s.res != nil {
		return s.res.Body.Close()
	}
	return nil
}

func (s *Stream) connect() error {
	q := url.Values{}
	if len(s.opts.Events) > 0 {
		q.Set("events", strings.Join(s.opts.Events, ","))
	}
	h := http.Header{"Accept": {"text/event-stream"}}
	if s.lastID != "" {
		h.Set("Last-Event-ID", s.lastID)
	}
	res, err := s.c.send(s.ctx, http.MethodGet, v1+"stream", q, "", nil, h)
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		defer res.Body.Close()
		data, _ := io.ReadAll(io.LimitReader(res.Body, maxErrorBody))
		return answerError(res.StatusCode, data)
	}
	s.res = res
	s.sc = bufio.NewScanner(res.Body)
	s.sc.Buffer(nil, maxEventLine)
	return nil
}

// Next returns the next event, waiting for it. It returns an error when
// the stream's context ends, when it is closed, or when the server refuses
// to reconnect it (an *Error: wrong token, ...).
func (s *Stream) Next() (Event, error) {
	for {
		if s.sc != nil {
			ev, ok, err := s.read()
			if ok {
				return ev, err
			}
			s.res.Body.Close()
			s.res, s.sc = nil, nil
		}
		if err := s.ctx.Err(); err != nil {
			return Event{}, err
		}
		if err := s.reconnect(); err != nil {
			return Event{}, err
		}
	}
}

// reconnect waits the retry delay and connects again, retrying (with a
// growing delay) while the server cannot be reached or is busy.
func (s *Stream) reconnect() error {
	delay := s.retry
	for {
		t := time.NewTimer(delay)
		select {
		case <-s.ctx.Done():
			t.Stop()
			return s.ctx.Err()
		case <-t.C:
		}
		err := s.connect()
		if err == nil {
			s.Reconnects++
			return nil
		}
		if code := StatusCode(err); code != 0 && code != http.StatusServiceUnavailable {
			return err
		}
		delay = min(2*delay, maxRetry)
	}
}

// read returns the next event of the current connection; ok is false when
// the connection ended.
func (s *Stream) read() (ev Event, ok bool, err error) {
	var name, id, data string
	hasData := false
	for s.sc.Scan() {
		line := s.sc.Text()
		if line == "" {
			if name == "" && !hasData {
				continue
			}
			if id != "" {
				s.lastID = id
			}
			ev, err := decodeEvent(name, id, data)
			return ev, true, err
		}
		if strings.HasPrefix(line, ":") {
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "event":
			name = value
		case "id":
			id = value
		case "data":
			if hasData {
				data += "\n"
			}
			data += value
			hasData = true
		case "retry":
			if ms, err := strconv.Atoi(value); err == nil && ms > 0 && s.opts.Retry == 0 {
				s.retry = min(time.Duration(ms)*time.Millisecond, maxRetry)
			}
		}
	}
	return Event{}, false, nil
}

func decodeEvent(name, id, data string) (Event, error) {
	ev := Event{Kind: name, ID: id}
	var err error
	switch name {
	case "record":
		ev.Record = new(api.Record)
		err = json.Unmarshal([]byte(data), ev.Record)
	case "alarm":
		ev.Alarm = new(api.Alarm)
		err = json.Unmarshal([]byte(data), ev.Alarm)
	case "status":
		ev.Status = new(api.Status)
		err = json.Unmarshal([]byte(data), ev.Status)
	case "reset":
		var r struct {
			Reason string `json:"reason"`
		}
		err = json.Unmarshal([]byte(data), &r)
		ev.Reset = r.Reason
	default:
		return ev, fmt.Errorf("netspot: unknown stream event %q", name)
	}
	if err != nil {
		return ev, fmt.Errorf("netspot: stream event %s: %w", name, err)
	}
	return ev, nil
}
