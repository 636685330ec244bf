package socket

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"netspot/core/config"
	"netspot/core/event"
)

// clock is a fake clock for the reconnection backoff.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// record returns the i-th window's Record, with an alarm on R_SYN when alarm.
func record(i int, alarm bool) *event.Record {
	start := t0.Add(time.Duration(i) * time.Second)
	r := &event.Record{
		Start: start, End: start.Add(time.Second), Packets: uint64(100 + i),
		Stats: []event.Stat{
			{Name: "R_SYN", Value: 0.25, Up: 0.5, Down: math.NaN()},
			{Name: "TRAFFIC", Value: math.NaN(), Up: math.NaN(), Down: math.NaN(), Learning: true},
		},
	}
	if alarm {
		r.Stats[0].AlarmID = "syn-" + string(rune('a'+i%26))
		r.Alarms = []event.Alarm{{ID: r.Stats[0].AlarmID, Stat: "R_SYN", Side: event.Up, Value: 0.9,
			Threshold: 0.5, Probability: 1e-6, Start: start, End: start.Add(time.Second)}}
	}
	return r
}

func socketPath(t *testing.T, name string) string {
	t.Helper()
	// Unix socket paths are limited to 107 bytes: t.TempDir() can be longer.
	dir, err := os.MkdirTemp("", "ns")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, name)
}

// server accepts connections on a stream listener and collects the lines of
// each connection.
type server struct {
	ln    net.Listener
	lines chan string
	conns chan net.Conn
}

func listen(t *testing.T, network, addr string) *server {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	s := &server{ln: ln, lines: make(chan string, 1000), conns: make(chan net.Conn, 10)}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.conns <- c
			go func() {
				sc := bufio.NewScanner(c)
				sc.Buffer(nil, 1<<20)
				for sc.Scan() {
					s.lines <- sc.Text()
				}
			}()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return s
}

func (s *server) next(t *testing.T) string {
	t.Helper()
	select {
	case l := <-s.lines:
		return l
	case <-time.After(10 * time.Second):
		t.Fatal("no line received")
		return ""
	}
}

func (s *server) none(t *testing.T) {
	t.Helper()
	select {
	case l := <-s.lines:
		t.Fatalf("unexpected line %q", l)
	default:
	}
}

func newSink(t *testing.T, cfg Config, clk *clock) *Sink {
	t.Helper()
	opts := Options{}
	if clk != nil {
		opts.Now = clk.Now
	}
	s, err := New(cfg, "office", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func decode(t *testing.T, line string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		t.Fatalf("invalid JSON %q: %v", line, err)
	}
	return m
}

func TestJSONLinesOnUnixSockets(t *testing.T) {
	dataPath, alarmPath := socketPath(t, "data.sock"), socketPath(t, "alarm.sock")
	data, alarms := listen(t, "unix", dataPath), listen(t, "unix", alarmPath)
	cfg := DefaultConfig()
	cfg.Data, cfg.Alarm, cfg.Tag = "unix://"+dataPath, "unix://"+alarmPath, `box "1"`
	s := newSink(t, cfg, nil)
	for i := range 3 {
		if err := s.Write(record(i, i == 1)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		m := decode(t, data.next(t))
		if m["type"] != "data" || m["series"] != "office" || m["tag"] != `box "1"` || m["packets"] != float64(100+i) {
			t.Errorf("data line %d: %v", i, m)
		}
		st := m["stats"].(map[string]any)["TRAFFIC"].(map[string]any)
		if st["value"] != nil {
			t.Errorf("NaN value sent as %v, want null", st["value"])
		}
	}
	a := decode(t, alarms.next(t))
	if a["type"] != "alarm" || a["id"] != "syn-b" || a["stat"] != "R_SYN" || a["side"] != "up" || a["tag"] != `box "1"` {
		t.Errorf("alarm line: %v", a)
	}
	alarms.none(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	st := s.Stats()
	if len(st) != 2 || st[0].Role != "alarm" || st[0].Sent != 1 || st[1].Sent != 3 || !strings.HasPrefix(st[1].Address, "unix://") {
		t.Errorf("stats %+v", st)
	}
}

func TestOneAddressForDataAndAlarms(t *testing.T) {
	p := socketPath(t, "all.sock")
	srv := listen(t, "unix", p)
	cfg := DefaultConfig()
	cfg.Data, cfg.Alarm, cfg.Tag = "unix://"+p, "unix://"+p, ""
	s := newSink(t, cfg, nil)
	if err := s.Write(record(0, true)); err != nil {
		t.Fatal(err)
	}
	// Alarms are sent first.
	if m := decode(t, srv.next(t)); m["type"] != "alarm" {
		t.Errorf("first line %v", m)
	}
	if m := decode(t, srv.next(t)); m["type"] != "data" || m["tag"] != nil {
		t.Errorf("second line %v (no tag expected)", m)
	}
	if len(s.Stats()) != 1 {
		t.Errorf("stats %+v, want one peer", s.Stats())
	}
}

func TestCSVOverTCP(t *testing.T) {
	data, alarms := listen(t, "tcp", "127.0.0.1:0"), listen(t, "tcp", "127.0.0.1:0")
	cfg := DefaultConfig()
	cfg.Format = "csv"
	cfg.Data, cfg.Alarm = "tcp://"+data.ln.Addr().String(), "tcp://"+alarms.ln.Addr().String()
	s := newSink(t, cfg, nil)
	r := record(0, true)
	r.CaptureErr = `link "eth1", down`
	for _, rec := range []*event.Record{r, record(1, false)} {
		if err := s.Write(rec); err != nil {
			t.Fatal(err)
		}
	}
	var text strings.Builder
	for range 3 {
		text.WriteString(data.next(t) + "\n")
	}
	rows, err := csv.NewReader(strings.NewReader(text.String())).ReadAll()
	if err != nil {
		t.Fatalf("invalid CSV %q: %v", text.String(), err)
	}
	want := [][]string{
		{"series", "tag", "start", "end", "partial", "learning_left", "packets", "dropped", "malformed", "capture_error",
			"R_SYN", "R_SYN_up", "R_SYN_down", "R_SYN_alarm", "TRAFFIC", "TRAFFIC_up", "TRAFFIC_down", "TRAFFIC_alarm"},
		{"office", "netspot", "2026-03-01T12:00:00Z", "2026-03-01T12:00:01Z", "false", "0", "100", "0", "0", `link "eth1", down`,
			"0.25", "0.5", "", "syn-a", "", "", "", ""},
		{"office", "netspot", "2026-03-01T12:00:01Z", "2026-03-01T12:00:02Z", "false", "0", "101", "0", "0", "",
			"0.25", "0.5", "", "", "", "", "", ""},
	}
	for i := range want {
		if strings.Join(rows[i], "|") != strings.Join(want[i], "|") {
			t.Errorf("row %d\n got %q\nwant %q", i, rows[i], want[i])
		}
	}
	if h := alarms.next(t); h != "series,tag,id,stat,side,value,threshold,probability,start,end" {
		t.Errorf("alarm header %q", h)
	}
	if a := alarms.next(t); a != "office,netspot,syn-a,R_SYN,up,0.9,0.5,1e-06,2026-03-01T12:00:00Z,2026-03-01T12:00:01Z" {
		t.Errorf("alarm row %q", a)
	}
}

// A later Record with other statistics is matched to the header by name.
func TestCSVColumnsStayFixed(t *testing.T) {
	e := newCSVEncoder("s", "")
	e.data(record(0, false))
	r := record(1, false)
	r.Stats = []event.Stat{{Name: "NEW", Value: 1}, {Name: "TRAFFIC", Value: 7, Up: math.NaN(), Down: math.NaN()}}
	row := string(e.data(r))
	if !strings.HasSuffix(row, ",,,,,7,,,\n") {
		t.Errorf("row %q: want R_SYN empty and TRAFFIC=7", row)
	}
	if e.unknown != "NEW" {
		t.Errorf("unknown = %q, want NEW", e.unknown)
	}
}

// Each datagram stands alone: a CSV one carries its header.
func TestDatagrams(t *testing.T) {
	p := socketPath(t, "gram.sock")
	pc, err := net.ListenPacket("unixgram", p)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	cfg := DefaultConfig()
	cfg.Format = "csv"
	cfg.Data, cfg.Alarm = "unixgram://"+p, "udp://"+udp.LocalAddr().String()
	s := newSink(t, cfg, nil)
	for i := range 2 {
		if err := s.Write(record(i, true)); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 65536)
	for i := range 2 {
		pc.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(string(buf[:n]), "\n"), "\n")
		if len(lines) != 2 || !strings.HasPrefix(lines[0], "series,tag,start") || !strings.Contains(lines[1], "2026-03-01T12:00:0"+string(rune('0'+i))+"Z") {
			t.Errorf("data datagram %d: %q", i, buf[:n])
		}
		udp.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, _, err = udp.ReadFrom(buf)
		if err != nil {
			t.Fatal(err)
		}
		lines = strings.Split(strings.TrimSuffix(string(buf[:n]), "\n"), "\n")
		if len(lines) != 2 || !strings.HasPrefix(lines[0], "series,tag,id") || !strings.HasPrefix(lines[1], "office,netspot,syn-") {
			t.Errorf("alarm datagram %d: %q", i, buf[:n])
		}
	}
}

// A peer that is not there keeps the messages; the next attempt waits for
// the backoff; once the peer is up, everything arrives in order.
func TestBacklogWhilePeerIsAway(t *testing.T) {
	p := socketPath(t, "late.sock")
	clk := newClock()
	cfg := DefaultConfig()
	cfg.Data = "unix://" + p
	s := newSink(t, cfg, clk)
	if err := s.Write(record(0, false)); err != nil {
		t.Fatalf("a missing peer is not a loss: %v", err)
	}
	srv := listen(t, "unix", p)
	clk.Advance(500 * time.Millisecond) // the first retry comes after 1 s
	if err := s.Write(record(1, false)); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats()[0]; st.Connected || st.Backlog != 2 {
		t.Fatalf("before the retry time: %+v", st)
	}
	srv.none(t)
	clk.Advance(500 * time.Millisecond)
	if err := s.Write(record(2, false)); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if m := decode(t, srv.next(t)); m["packets"] != float64(100+i) {
			t.Errorf("line %d: %v", i, m)
		}
	}
	if st := s.Stats()[0]; !st.Connected || st.Backlog != 0 || st.Sent != 3 || st.Dropped != 0 {
		t.Errorf("after reconnecting: %+v", st)
	}
}

func TestBackoffDoubles(t *testing.T) {
	clk := newClock()
	cfg := DefaultConfig()
	cfg.Data = "unix://" + socketPath(t, "never.sock")
	s := newSink(t, cfg, clk)
	var waits []time.Duration
	for i := range 9 {
		s.Write(record(i, false)) // an attempt: the clock is at the retry time
		wait := s.data.retryAt.Sub(clk.Now())
		waits = append(waits, wait)
		clk.Advance(wait / 2)
		s.Write(record(i, false)) // too early: no attempt, the retry time stays
		if got := s.data.retryAt.Sub(clk.Now()); got != wait-wait/2 {
			t.Fatalf("an early Write moved the retry time: %v left, want %v", got, wait-wait/2)
		}
		clk.Advance(wait - wait/2)
	}
	want := []time.Duration{1, 2, 4, 8, 16, 32, 60, 60, 60}
	for i, w := range want {
		if waits[i] != w*time.Second {
			t.Fatalf("waits %v, want %v (seconds)", waits, want)
		}
	}
}

// With a full backlog, data goes before alarms, each loss is reported by
// Write, and Close reports what is left.
func TestBacklogLimitKeepsAlarms(t *testing.T) {
	clk := newClock()
	cfg := DefaultConfig()
	p := socketPath(t, "full.sock")
	cfg.Data, cfg.Alarm, cfg.Backlog = "unix://"+p, "unix://"+p, 3
	s := newSink(t, cfg, clk)
	var errs []error
	for i := range 4 {
		errs = append(errs, s.Write(record(i, i == 1)))
	}
	// Messages: d0, a1, d1, d2, d3 (alarm before data within a Record).
	if errs[0] != nil || errs[1] != nil || errs[2] == nil || errs[3] == nil {
		t.Fatalf("Write errors %v: want losses reported from the third record on", errs)
	}
	st := s.Stats()[0]
	if st.Backlog != 3 || st.Dropped != 2 || st.DroppedAlarms != 0 {
		t.Fatalf("stats %+v, want 3 kept, 2 data dropped", st)
	}
	var kept []string
	for _, m := range s.data.backlog {
		kept = append(kept, decode(t, string(m.b))["type"].(string))
	}
	if strings.Join(kept, ",") != "alarm,data,data" {
		t.Errorf("kept %v, want the alarm and the newest data", kept)
	}
	err := s.Close()
	if err == nil || !strings.Contains(err.Error(), "1 alarms not delivered") {
		t.Errorf("Close = %v", err)
	}
	if st := s.Stats()[0]; st.Dropped != 5 || st.DroppedAlarms != 1 || st.Backlog != 0 {
		t.Errorf("stats after Close %+v", st)
	}
	if s.Write(record(9, false)) != ErrClosed {
		t.Error("Write after Close did not return ErrClosed")
	}
}

// A backlog full of alarms drops the oldest alarm, and says so.
func TestBacklogOfAlarmsOnly(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Alarm, cfg.Backlog = "unix://"+socketPath(t, "x.sock"), 1
	s := newSink(t, cfg, newClock())
	s.Write(record(0, true))
	if err := s.Write(record(1, true)); err == nil || !strings.Contains(err.Error(), "(1 alarms)") {
		t.Errorf("Write = %v, want the lost alarm reported", err)
	}
	if st := s.Stats()[0]; st.DroppedAlarms != 1 {
		t.Errorf("stats %+v", st)
	}
}

// Data left undelivered at exit is counted and logged, not an error.
func TestCloseWithDataLeft(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Data = "unix://" + socketPath(t, "gone.sock")
	s := newSink(t, cfg, newClock())
	s.Write(record(0, false))
	if err := s.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
	if st := s.Stats()[0]; st.Dropped != 1 {
		t.Errorf("stats %+v", st)
	}
}

// Close connects once more, whatever the backoff, to deliver the backlog.
func TestCloseFlushesBacklog(t *testing.T) {
	clk := newClock()
	p := socketPath(t, "close.sock")
	cfg := DefaultConfig()
	cfg.Alarm = "unix://" + p
	s := newSink(t, cfg, clk)
	s.Write(record(0, true))
	srv := listen(t, "unix", p)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if m := decode(t, srv.next(t)); m["id"] != "syn-a" {
		t.Errorf("got %v", m)
	}
}

// A peer that restarts is noticed when it hangs up: the next message goes
// to the new process and nothing is lost.
func TestPeerRestart(t *testing.T) {
	p := socketPath(t, "restart.sock")
	clk := newClock()
	cfg := DefaultConfig()
	cfg.Data = "unix://" + p
	s := newSink(t, cfg, clk)
	srv := listen(t, "unix", p)
	s.Write(record(0, false))
	decode(t, srv.next(t))
	srv.ln.Close()
	(<-srv.conns).Close()
	os.Remove(p)
	srv2 := listen(t, "unix", p)
	for i := 1; i <= 3; i++ {
		if err := s.Write(record(i, false)); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Second)
	}
	for i := 1; i <= 3; i++ {
		if m := decode(t, srv2.next(t)); m["packets"] != float64(100+i) {
			t.Errorf("after restart, line %d: %v", i, m)
		}
	}
	if st := s.Stats()[0]; st.Dropped != 0 || st.Sent != 4 {
		t.Errorf("stats %+v", st)
	}
}

// A peer that accepts but never reads must not hold Write beyond the
// timeout: the sink gives up, keeps the messages, and tries again later.
func TestStuckPeerDoesNotBlock(t *testing.T) {
	p := socketPath(t, "stuck.sock")
	pc, err := net.ListenPacket("unixgram", p) // never read
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	clk := newClock()
	cfg := DefaultConfig()
	cfg.Data, cfg.Timeout = "unixgram://"+p, config.Duration(20*time.Millisecond)
	s := newSink(t, cfg, clk)
	// The receive queue of a Unix datagram socket holds a few hundred
	// datagrams at most; the bound only stops a broken test.
	for i := range 5000 {
		s.Write(record(i, false))
		if st := s.Stats()[0]; !st.Connected {
			if st.Backlog != 1 {
				t.Fatalf("stats %+v: the message that timed out must be kept", st)
			}
			return
		}
	}
	t.Fatal("the peer never counted as unreachable")
}

func TestTCPStuckPeerDoesNotBlock(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	release := make(chan struct{})
	defer close(release)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			<-release // holds the connection without reading
			c.Close()
		}
	}()
	cfg := DefaultConfig()
	cfg.Data, cfg.Timeout = "tcp://"+ln.Addr().String(), config.Duration(50*time.Millisecond)
	s := newSink(t, cfg, newClock())
	r := record(0, false)
	r.CaptureErr = strings.Repeat("x", 256<<10) // large messages fill the buffers fast
	for range 2000 {
		s.Write(r)
		if st := s.Stats()[0]; !st.Connected {
			return
		}
	}
	t.Fatal("the peer never counted as unreachable")
}

// A datagram too large to send is dropped; the following ones go out.
func TestOversizeDatagramIsDropped(t *testing.T) {
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	cfg := DefaultConfig()
	cfg.Data = "udp://" + udp.LocalAddr().String()
	s := newSink(t, cfg, nil)
	big := record(0, false)
	big.CaptureErr = strings.Repeat("x", 70000)
	if err := s.Write(big); err != nil {
		t.Fatalf("Write = %v (a dropped message is counted, not an error of the peer)", err)
	}
	if err := s.Write(record(1, false)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1<<17)
	udp.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, _, err := udp.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	if m := decode(t, string(buf[:n])); m["packets"] != float64(101) {
		t.Errorf("got %v", m)
	}
	if st := s.Stats()[0]; st.Dropped != 1 || st.Sent != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestCSVFieldQuoting(t *testing.T) {
	for in, want := range map[string]string{
		"plain": "plain", "a,b": `"a,b"`, `say "hi"`: `"say ""hi"""`, "two\nlines": "\"two\nlines\"",
		" lead": `" lead"`, "": "",
	} {
		if got := string(appendCSVField(nil, in)); got != want {
			t.Errorf("%q -> %s, want %s", in, got, want)
		}
		rec, err := csv.NewReader(strings.NewReader(string(appendCSVField(nil, in)) + ",x\n")).Read()
		if err != nil || rec[0] != in {
			t.Errorf("%q does not read back: %q, %v", in, rec, err)
		}
	}
}

// Close while a Write waits on a stuck peer returns within the timeouts.
func TestCloseDuringWrite(t *testing.T) {
	p := socketPath(t, "busy.sock")
	pc, err := net.ListenPacket("unixgram", p)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	cfg := DefaultConfig()
	cfg.Data, cfg.Timeout = "unixgram://"+p, config.Duration(20*time.Millisecond)
	s, err := New(cfg, "x", Options{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 2000 {
			if errors.Is(s.Write(record(i, false)), ErrClosed) {
				return
			}
		}
	}()
	s.Close()
	<-done
}

func BenchmarkWriteJSON(b *testing.B) {
	benchmarkWrite(b, "json")
}

func BenchmarkWriteCSV(b *testing.B) {
	benchmarkWrite(b, "csv")
}

func benchmarkWrite(b *testing.B, format string) {
	dir := b.TempDir()
	p := filepath.Join(dir, "b.sock")
	ln, err := net.Listen("unix", p)
	if err != nil {
		b.Skip(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			io.Copy(io.Discard, c)
		}
	}()
	cfg := DefaultConfig()
	cfg.Data, cfg.Format = "unix://"+p, format
	s, err := New(cfg, "bench", Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	r := record(0, false)
	for i := range 18 { // 20 statistics, about what netspot watches
		r.Stats = append(r.Stats, event.Stat{Name: "STAT_" + string(rune('A'+i)), Value: float64(i) / 3, Up: 1.5, Down: 0.1})
	}
	var size bytes.Buffer
	size.Write(s.enc.data(r))
	b.SetBytes(int64(size.Len()))
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Write(r); err != nil {
			b.Fatal(err)
		}
	}
}

// A peer that is away: each Write encodes, keeps the message and drops the
// oldest one from a full backlog, without trying to connect (backoff).
func BenchmarkWritePeerDown(b *testing.B) {
	cfg := DefaultConfig()
	cfg.Data = "unix:///nonexistent/netspot.sock"
	clk := newClock()
	s, err := New(cfg, "bench", Options{Now: clk.Now})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	r := record(0, false)
	for range cfg.Backlog + 1 {
		s.Write(r)
	}
	b.ReportAllocs()
	for b.Loop() {
		s.Write(r)
	}
}
