package api

import (
	"cmp"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"netspot/core/event"
	"netspot/core/sink"
)

// feed keeps what the dashboard shows (the recent records, the alarm
// history, the counters of the current run) and hands every record to the
// live stream's clients. The pipeline writes to it through the sink of the
// current run; a client that falls behind is dropped, so that the pipeline
// never waits for one.
type feed struct {
	epoch      string // changes when the server restarts: stream ids of another epoch are stale
	now        func() time.Time
	bufLen     int
	maxClients int
	// onChange is called, with no lock held, when the run's state
	// changes on its own: first window, end of learning, capture error.
	onChange func()

	mu       sync.Mutex
	seq      uint64 // last stream position used
	run      int    // current run; records of others are ignored
	records  ring[recordEntry]
	alarms   ring[*alarmState] // history, oldest first
	byID     map[string]*alarmState
	active   map[string]*alarmState
	counters runCounters
	subs     map[*subscriber]struct{}
	dropped  uint64 // clients dropped for falling behind
}

type recordEntry struct {
	first, seq uint64 // stream positions of its first alarm (or itself) and of the record
	run        int
	rec        *event.Record
}

type alarmState struct {
	Alarm
	lastSeen uint64 // seq of the last record showing it active
}

// runCounters sum up the records of the current run.
type runCounters struct {
	windows, packets, dropped, malformed uint64
	learningLeft                         int // -1 before the first window
	learningTotal                        int
	lastEnd                              time.Time // of the last window, on the capture's clock
	lastWrite                            time.Time // when the last window came, on the wall clock
	captureErr                           string
}

// eventKinds selects the events a stream client wants.
type eventKinds uint8

const (
	kindRecord eventKinds = 1 << iota
	kindAlarm
	kindStatus
	allKinds = kindRecord | kindAlarm | kindStatus
)

// parseKinds reads a comma-separated list of event names.
func parseKinds(s string) (eventKinds, error) {
	if s == "" {
		return allKinds, nil
	}
	var k eventKinds
	for name := range strings.SplitSeq(s, ",") {
		switch strings.TrimSpace(name) {
		case "record":
			k |= kindRecord
		case "alarm":
			k |= kindAlarm
		case "status":
			k |= kindStatus
		default:
			return 0, errors.New("unknown event " + strconv.Quote(name) + " (want record, alarm, status)")
		}
	}
	return k, nil
}

// subscriber is one live stream client.
type subscriber struct {
	kinds eventKinds
	ch    chan []byte   // frames ready to write, bounded
	gone  chan struct{} // closed when dropped for falling behind
}

var errTooManyClients = errors.New("too many live stream clients")

func newFeed(cfg Config, epoch string, now func() time.Time, onChange func()) *feed {
	return &feed{
		epoch:      epoch,
		now:        now,
		bufLen:     cfg.StreamBuffer,
		maxClients: cfg.MaxClients,
		onChange:   onChange,
		records:    newRing[recordEntry](cfg.History),
		alarms:     newRing[*alarmState](cfg.AlarmHistory),
		byID:       make(map[string]*alarmState),
		active:     make(map[string]*alarmState),
		counters:   runCounters{learningLeft: -1},
		subs:       make(map[*subscriber]struct{}),
	}
}

// runSink is the sink of one run: it feeds the feed while its run is the
// current one.
type runSink struct {
	f   *feed
	run int
}

func (s runSink) Write(r *event.Record) error { s.f.write(s.run, r); return nil }

// Close does nothing: the server ends the run when the Runner returns.
func (s runSink) Close() error { return nil }

// beginRun forgets the previous run's records and counters (its alarms stay
// in the history) and returns the sink of the new run.
func (f *feed) beginRun(run int) sink.Sink {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.endRunLocked()
	f.run = run
	f.records.reset()
	f.counters = runCounters{learningLeft: -1}
	return runSink{f: f, run: run}
}

// endRun marks the alarms still active as interrupted: the run stopped
// before they cleared.
func (f *feed) endRun(run int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.run == run {
		f.endRunLocked()
	}
}

func (f *feed) endRunLocked() {
	for id, a := range f.active {
		a.Active = false
		delete(f.active, id)
	}
}

func (f *feed) write(run int, r *event.Record) {
	f.mu.Lock()
	if run != f.run {
		f.mu.Unlock()
		return
	}
	first := f.seq + 1
	var raised []*alarmState
	for i := range r.Alarms {
		f.seq++
		a := &alarmState{Alarm: Alarm{Seq: f.seq, Run: run, Active: true, Peak: r.Alarms[i].Value, Alarm: r.Alarms[i]}}
		f.addAlarmLocked(a)
		raised = append(raised, a)
	}
	f.seq++
	f.records.push(recordEntry{first: first, seq: f.seq, run: run, rec: r})
	f.followAlarmsLocked(r)
	changed := f.countLocked(r)
	if len(f.subs) > 0 {
		f.broadcastLocked(raised, run, r)
	}
	f.mu.Unlock()
	if changed && f.onChange != nil {
		f.onChange()
	}
}

func (f *feed) addAlarmLocked(a *alarmState) {
	if old, dropped := f.alarms.push(a); dropped && f.byID[old.ID] == old {
		delete(f.byID, old.ID)
	}
	f.byID[a.ID] = a
	f.active[a.ID] = a
}

// followAlarmsLocked updates the active alarms from a record's statistics:
// a statistic shows the id of its active alarm, the upper one when both of
// its sides are in alarm. An alarm not shown is cleared, except a lower
// alarm hidden by an upper one, which stays active until its statistic
// shows no alarm or another one.
func (f *feed) followAlarmsLocked(r *event.Record) {
	for i := range r.Stats {
		st := &r.Stats[i]
		a := f.active[st.AlarmID]
		if st.AlarmID == "" || a == nil {
			continue
		}
		a.lastSeen = f.seq
		a.Windows++
		if !math.IsNaN(st.Value) && (a.Side == event.Up && st.Value > a.Peak || a.Side == event.Down && st.Value < a.Peak) {
			a.Peak = st.Value
		}
	}
	for id, a := range f.active {
		if a.lastSeen == f.seq {
			continue
		}
		shown := ""
		for i := range r.Stats {
			if r.Stats[i].Name == a.Stat {
				shown = r.Stats[i].AlarmID
				break
			}
		}
		if s := f.active[shown]; a.Side == event.Down && s != nil && s.Side == event.Up {
			a.Windows++
			continue
		}
		a.Active = false
		a.Cleared = r.End
		delete(f.active, id)
	}
}

// countLocked adds r to the run's counters and reports whether the run's
// state changed.
func (f *feed) countLocked(r *event.Record) bool {
	c := &f.counters
	changed := c.windows == 0 ||
		c.learningLeft != 0 && r.LearningLeft == 0 ||
		(c.captureErr == "") != (r.CaptureErr == "")
	if c.windows == 0 && r.LearningLeft > 0 {
		c.learningTotal = r.LearningLeft + 1
	}
	c.windows++
	c.packets += r.Packets
	c.dropped += r.Dropped
	c.malformed += r.Malformed
	c.learningLeft = r.LearningLeft
	c.lastEnd = r.End
	c.lastWrite = f.now()
	c.captureErr = r.CaptureErr
	return changed
}

// broadcastLocked sends the events of one record to every client: its
// alarms first, then the record. The frames are encoded once, into one
// buffer that the clients share.
func (f *feed) broadcastLocked(raised []*alarmState, run int, r *event.Record) {
	b := make([]byte, 0, recordSizeGuess*(1+len(raised)))
	var framesArr [4][]byte
	var kindsArr [4]eventKinds
	frames, kinds := framesArr[:0], kindsArr[:0]
	for _, a := range raised {
		start := len(b)
		b = f.appendAlarmFrame(b, &a.Alarm)
		frames = append(frames, b[start:len(b):len(b)])
		kinds = append(kinds, kindAlarm)
	}
	start := len(b)
	b = f.appendRecordFrame(b, f.seq, run, r)
	frames = append(frames, b[start:len(b):len(b)])
	kinds = append(kinds, kindRecord)
	for s := range f.subs {
		for i, fr := range frames {
			if s.kinds&kinds[i] != 0 && !f.sendLocked(s, fr) {
				break
			}
		}
	}
}

// publishStatus sends a status document to the clients that want it.
func (f *feed) publishStatus(doc []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.subs) == 0 {
		return
	}
	frame := appendFrame(nil, "status", doc)
	for s := range f.subs {
		if s.kinds&kindStatus != 0 {
			f.sendLocked(s, frame)
		}
	}
}

// sendLocked queues a frame for s, or drops s when its queue is full. It
// reports whether s is still subscribed.
func (f *feed) sendLocked(s *subscriber, frame []byte) bool {
	select {
	case s.ch <- frame:
		return true
	default:
		delete(f.subs, s)
		close(s.gone)
		f.dropped++
		return false
	}
}

// replay is what a client missed, to be written before the live events.
type replay struct {
	reset   string // non-empty: the client's position is lost, for this reason
	entries []recordEntry
	alarms  map[string]Alarm // state of the alarms of entries
	after   uint64           // the client has everything up to this position
}

// subscribe registers a client that has seen the stream up to lastID (""
// for a new client) and returns what it missed since, from the recent
// records.
func (f *feed) subscribe(lastID string, kinds eventKinds) (*subscriber, replay, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.subs) >= f.maxClients {
		return nil, replay{}, errTooManyClients
	}
	s := &subscriber{kinds: kinds, ch: make(chan []byte, f.bufLen), gone: make(chan struct{})}
	f.subs[s] = struct{}{}
	if lastID == "" {
		return s, replay{}, nil
	}
	last, reset := f.positionLocked(lastID)
	if reset != "" {
		return s, replay{reset: reset}, nil
	}
	rp := replay{after: last, alarms: make(map[string]Alarm)}
	for i := range f.records.len() {
		e := f.records.at(i)
		if e.seq <= last {
			continue
		}
		rp.entries = append(rp.entries, e)
		for _, a := range e.rec.Alarms {
			if st := f.byID[a.ID]; st != nil {
				rp.alarms[a.ID] = st.Alarm
			}
		}
	}
	return s, rp, nil
}

// positionLocked reads a stream id; reset says why the client must start
// again from a snapshot instead.
func (f *feed) positionLocked(id string) (last uint64, reset string) {
	epoch, seqText, ok := strings.Cut(id, "-")
	if !ok || epoch != f.epoch {
		return 0, "the server restarted"
	}
	last, err := strconv.ParseUint(seqText, 10, 64)
	if err != nil || last > f.seq {
		return 0, "unknown stream position"
	}
	oldest := f.seq + 1 // nothing kept: everything after last is lost unless nothing came
	if f.records.len() > 0 {
		oldest = f.records.at(0).first
	}
	if last+1 < oldest {
		return 0, "missed events are no longer kept"
	}
	return last, ""
}

func (f *feed) unsubscribe(s *subscriber) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.subs, s)
}

// frames writes the events of a replay, skipping those up to rp.after.
func (f *feed) replayFrames(b []byte, rp replay, kinds eventKinds) []byte {
	for _, e := range rp.entries {
		for i := range e.rec.Alarms {
			seq := e.first + uint64(i)
			if seq <= rp.after || kinds&kindAlarm == 0 {
				continue
			}
			a, ok := rp.alarms[e.rec.Alarms[i].ID]
			if !ok { // no longer in the history: what the record says
				a = Alarm{Seq: seq, Run: e.run, Peak: e.rec.Alarms[i].Value, Alarm: e.rec.Alarms[i]}
			}
			b = f.appendAlarmFrame(b, &a)
		}
		if kinds&kindRecord != 0 {
			b = f.appendRecordFrame(b, e.seq, e.run, e.rec)
		}
	}
	return b
}

func (f *feed) appendAlarmFrame(b []byte, a *Alarm) []byte {
	b = f.appendFrameHead(b, a.Seq, "alarm")
	b = appendAlarmJSON(b, a)
	return append(b, "\n\n"...)
}

func (f *feed) appendRecordFrame(b []byte, seq uint64, run int, r *event.Record) []byte {
	b = f.appendFrameHead(b, seq, "record")
	b = appendRecordJSON(b, seq, run, r)
	return append(b, "\n\n"...)
}

// appendFrameHead starts a Server-Sent Event with an id, up to its data.
func (f *feed) appendFrameHead(b []byte, seq uint64, name string) []byte {
	b = append(b, "id: "...)
	b = append(b, f.epoch...)
	b = append(b, '-')
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, "\nevent: "...)
	b = append(b, name...)
	return append(b, "\ndata: "...)
}

func (f *feed) id(seq uint64) string { return f.epoch + "-" + strconv.FormatUint(seq, 10) }

// appendFrame writes one Server-Sent Event without id. data holds no
// newline: the JSON writers escape them.
func appendFrame(b []byte, name string, data []byte) []byte {
	b = append(b, "event: "...)
	b = append(b, name...)
	b = append(b, "\ndata: "...)
	b = append(b, data...)
	return append(b, "\n\n"...)
}

// recent returns the last limit records after position since, and the
// stream id of the newest event.
func (f *feed) recent(since uint64, limit int) (out []recordEntry, truncated bool, lastID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.records.len()
	start := n
	for start > 0 && f.records.at(start-1).seq > since {
		start--
	}
	if n-start > limit {
		start, truncated = n-limit, true
	}
	out = make([]recordEntry, 0, n-start)
	for i := start; i < n; i++ {
		out = append(out, f.records.at(i))
	}
	return out, truncated, f.id(f.seq)
}

// alarmList returns the active alarms (oldest first) and the last limit
// alarms of the history (newest first).
func (f *feed) alarmList(limit int) (active, history []Alarm) {
	f.mu.Lock()
	defer f.mu.Unlock()
	active = make([]Alarm, 0, len(f.active))
	for _, a := range f.active {
		active = append(active, a.Alarm)
	}
	slices.SortFunc(active, func(a, b Alarm) int { return cmp.Compare(a.Seq, b.Seq) })
	history = make([]Alarm, 0, min(limit, f.alarms.len()))
	for i := f.alarms.len() - 1; i >= 0 && len(history) < limit; i-- {
		history = append(history, f.alarms.at(i).Alarm)
	}
	return active, history
}

// snapshot returns the counters of the current run and the stream's state.
func (f *feed) snapshot() (runCounters, int, StreamStats) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counters, len(f.active), StreamStats{Clients: len(f.subs), Dropped: f.dropped}
}
