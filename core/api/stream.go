package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// Live stream limits: how long one write to a client may take before the
// client is given up, and how much is written at once.
const (
	streamWriteTimeout = 10 * time.Second
	streamBatch        = 64 << 10
	maxEventIDLen      = 64
	streamRetryMillis  = 2000
)

// handleStream serves the live stream: Server-Sent Events "record",
// "alarm" and "status" (?events= picks some), each record and alarm with
// an id. A client that reconnects with the Last-Event-ID header gets what it
// missed, from the recent records; when that is no longer kept (or the
// server restarted) it gets a "reset" event and should reload its state
// from /records and /alarms.
func (s *Server) handleStream(w http.ResponseWriter, r *http.Request) {
	q, err := queryParams(r, "events")
	if err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	kinds, err := parseKinds(q.Get("events"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "events: %v", err)
		return
	}
	lastID := r.Header.Get("Last-Event-ID")
	if len(lastID) > maxEventIDLen {
		writeError(w, http.StatusBadRequest, "Last-Event-ID: longer than %d bytes", maxEventIDLen)
		return
	}
	sub, rp, err := s.feed.subscribe(lastID, kinds)
	if err != nil {
		w.Header().Set("Retry-After", "10")
		writeError(w, http.StatusServiceUnavailable, "%v (at most %d, [api] max_clients)", err, s.cfg.MaxClients)
		return
	}
	defer s.feed.unsubscribe(sub)

	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // a reverse proxy must not buffer it
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}

	buf := []byte("retry: " + strconv.Itoa(streamRetryMillis) + "\n\n")
	if kinds&kindStatus != 0 {
		buf = appendFrame(buf, "status", mustJSON(s.Status()))
	}
	if rp.reset != "" {
		buf = appendFrame(buf, "reset", mustJSON(map[string]string{"reason": rp.reset}))
	}
	buf = s.feed.replayFrames(buf, rp, kinds)
	if !s.send(w, rc, buf) {
		return
	}

	keepAlive := time.NewTicker(s.keepAlive)
	defer keepAlive.Stop()
	for {
		buf = buf[:0]
		select {
		case fr := <-sub.ch:
			buf = append(buf, fr...)
		drain:
			for len(buf) < streamBatch {
				select {
				case fr := <-sub.ch:
					buf = append(buf, fr...)
				default:
					break drain
				}
			}
		case <-sub.gone:
			s.log.Info("live stream client fell behind: disconnected", "remote", r.RemoteAddr)
			return
		case <-keepAlive.C:
			buf = append(buf, ": keep-alive\n\n"...)
		case <-r.Context().Done():
			return
		case <-s.base.Done():
			return
		}
		if !s.send(w, rc, buf) {
			return
		}
	}
}

// send writes and flushes b, giving up on a client that does not read.
func (s *Server) send(w http.ResponseWriter, rc *http.ResponseController, b []byte) bool {
	_ = rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout)) // unsupported on some writers: no deadline then
	if _, err := w.Write(b); err != nil {
		return false
	}
	return rc.Flush() == nil
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		return []byte(`{}`)
	}
	return b
}
