package socket

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"netspot/core/config"
	"netspot/core/event"
	"netspot/core/event/eventtest"
	"netspot/core/sink"
	"netspot/core/sink/sinktest"
)

// record returns window i's Record (100+i packets), with an alarm on R_SYN
// when alarm.
func record(i int, alarm bool) *event.Record {
	r := eventtest.Record(i, eventtest.Stat("R_SYN", 0.25, 0.5),
		event.Stat{Name: "TRAFFIC", Value: math.NaN(), Up: math.NaN(), Down: math.NaN(), Learning: true})
	r.Packets = uint64(100 + i)
	if alarm {
		eventtest.Raise(r, "syn-"+string(rune('a'+i%26)), "R_SYN", 0.9, 0.5)
	}
	return r
}

func socketPath(t testing.TB, name string) string {
	t.Helper()
	// Unix socket paths are limited to 107 bytes: t.TempDir() can be longer.
	dir, err := os.MkdirTemp("", "ns")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, name)
}

// line is a line a server received, on its conn-th connection (from 0).
type line struct {
	conn int
	text string
}

// server accepts connections on a stream listener and collects the lines of
// each connection.
type server struct {
	ln    net.Listener
	lines chan line
	conns chan net.Conn
}

func listen(t *testing.T, network, addr string) *server {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	s := &server{ln: ln, lines: make(chan line, 1000), conns: make(chan net.Conn, 10)}
	go func() {
		for n := 0; ; n++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.conns <- c
			go func() {
				sc := bufio.NewScanner(c)
				sc.Buffer(nil, 1<<20)
				for sc.Scan() {
					s.lines <- line{n, sc.Text()}
				}
			}()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return s
}

func (s *server) nextLine(t *testing.T) line {
	t.Helper()
	select {
	case l := <-s.lines:
		return l
	case <-time.After(10 * time.Second):
		t.Fatal("no line received")
		return line{}
	}
}

func (s *server) next(t *testing.T) string {
	t.Helper()
	return s.nextLine(t).text
}

// none checks that nothing more came; call it once the sender is closed.
func (s *server) none(t *testing.T) {
	t.Helper()
	select {
	case l := <-s.lines:
		t.Fatalf("unexpected line %q", l.text)
	case <-time.After(50 * time.Millisecond):
	}
}

// harness is a socket sink behind a real fan-out with fast retries.
type harness struct {
	*sinktest.Rig
	s *Sink
}

func start(t *testing.T, cfg Config, mode sink.Mode) *harness {
	t.Helper()
	log, logs := sinktest.Logger()
	s, err := New(cfg, sink.Env{Log: log.With("sink", "socket"), Series: "office"})
	if err != nil {
		t.Fatal(err)
	}
	return &harness{Rig: sinktest.NewRig(t, "socket", s, mode, cfg.Queue(), log, logs), s: s}
}

func decode(t *testing.T, line string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		t.Fatalf("invalid JSON %q: %v", line, err)
	}
	return m
}

// packets returns the packets of a data line, the window's number + 100.
func packets(t *testing.T, line string) int {
	t.Helper()
	m := decode(t, line)
	if m["type"] != "data" {
		t.Fatalf("not a data line: %s", line)
	}
	return int(m["packets"].(float64))
}

func TestJSONLinesOnUnixSockets(t *testing.T) {
	dataPath, alarmPath := socketPath(t, "data.sock"), socketPath(t, "alarm.sock")
	data, alarms := listen(t, "unix", dataPath), listen(t, "unix", alarmPath)
	cfg := DefaultConfig()
	cfg.Data, cfg.Alarm, cfg.Tag = "unix://"+dataPath, "unix://"+alarmPath, `box "1"`
	h := start(t, cfg, sink.Live)
	h.Publish(record(0, false), record(1, true), record(2, false))
	h.Close(t)
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
	data.none(t)
	if st := h.Stats(); st.Delivered != 3 || st.Failed != 0 || st.Retries != 0 {
		t.Errorf("stats %+v", st)
	}
	if n := strings.Count(h.Logs.String(), "socket connected"); n != 2 {
		t.Errorf("%d connections logged, want 2:\n%s", n, h.Logs)
	}
}

func TestOneAddressForDataAndAlarms(t *testing.T) {
	p := socketPath(t, "all.sock")
	srv := listen(t, "unix", p)
	cfg := DefaultConfig()
	cfg.Data, cfg.Alarm, cfg.Tag = "unix://"+p, "unix://"+p, ""
	h := start(t, cfg, sink.Live)
	h.Publish(record(0, true))
	h.Close(t)
	// Alarms are sent first, on the one connection.
	l := srv.nextLine(t)
	if m := decode(t, l.text); m["type"] != "alarm" {
		t.Errorf("first line %v", m)
	}
	l2 := srv.nextLine(t)
	if m := decode(t, l2.text); m["type"] != "data" || m["tag"] != nil || l2.conn != l.conn {
		t.Errorf("second line %v on connection %d (no tag expected, same connection)", m, l2.conn)
	}
	srv.none(t)
}

func TestCSVOverTCP(t *testing.T) {
	data, alarms := listen(t, "tcp", "127.0.0.1:0"), listen(t, "tcp", "127.0.0.1:0")
	cfg := DefaultConfig()
	cfg.Format = "csv"
	cfg.Data, cfg.Alarm = "tcp://"+data.ln.Addr().String(), "tcp://"+alarms.ln.Addr().String()
	h := start(t, cfg, sink.Live)
	r := record(0, true)
	r.CaptureErr = `link "eth1", down`
	h.Publish(r, record(1, false))
	h.Close(t)
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
	data.none(t)
	alarms.none(t)
}

// A new connection starts with the CSV header: a reader that reconnects
// can read its stream on its own.
func TestCSVHeaderOnEveryConnection(t *testing.T) {
	p := socketPath(t, "csv.sock")
	srv := listen(t, "unix", p)
	cfg := DefaultConfig()
	cfg.Format, cfg.Data = "csv", "unix://"+p
	h := start(t, cfg, sink.Live)
	h.Publish(record(0, false))
	first := []line{srv.nextLine(t), srv.nextLine(t)}
	(<-srv.conns).Close() // the reader hangs up
	h.Publish(record(1, false))
	second := []line{srv.nextLine(t), srv.nextLine(t)}
	h.Close(t)
	srv.none(t)
	if first[0].conn != 0 || !strings.HasPrefix(first[0].text, "series,tag,start,") || !strings.Contains(first[1].text, ",100,") {
		t.Errorf("first connection: %+v", first)
	}
	if second[0].conn != 1 || second[0].text != first[0].text || !strings.Contains(second[1].text, ",101,") {
		t.Errorf("second connection: %+v, want the header again, then window 1", second)
	}
	if st := h.Stats(); st.Delivered != 2 || st.DroppedRecords != 0 {
		t.Errorf("stats %+v", st)
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
	h := start(t, cfg, sink.Live)
	h.Publish(record(0, true), record(1, true))
	h.Close(t)
	buf := make([]byte, 65536)
	for i := range 2 {
		pc.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(string(buf[:n]), "\n"), "\n")
		if len(lines) != 2 || !strings.HasPrefix(lines[0], "series,tag,start") || !strings.Contains(lines[1], fmt.Sprintf("2026-03-01T12:00:0%dZ", i)) {
			t.Errorf("data datagram %d: %q", i, buf[:n])
		}
		udp.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, _, err = udp.ReadFrom(buf)
		if err != nil {
			t.Fatal(err)
		}
		lines = strings.Split(strings.TrimSuffix(string(buf[:n]), "\n"), "\n")
		if len(lines) != 2 || !strings.HasPrefix(lines[0], "series,tag,id") || !strings.HasPrefix(lines[1], "office,netspot,syn-"+string(rune('a'+i))) {
			t.Errorf("alarm datagram %d: %q", i, buf[:n])
		}
	}
}

// A reader that is not there yet: a replay does not wait for it (it could
// never come); the backlog keeps the alarms and the latest data, which
// arrive once, in order, when it is there.
func TestPeerAwayThenBack(t *testing.T) {
	p := socketPath(t, "late.sock")
	cfg := DefaultConfig()
	cfg.Data, cfg.Backlog = "unix://"+p, 3
	h := start(t, cfg, sink.Replay)
	h.Publish(record(0, true))
	for i := 1; i < 10; i++ {
		h.Publish(record(i, false))
	}
	sinktest.WaitFor(t, "retries of the missing peer", func() bool { st := h.Stats(); return st.Unreachable && st.Retries >= 3 })
	srv := listen(t, "unix", p)
	h.Close(t)
	var got []int
	for range 3 { // the record with an alarm, then the last two
		got = append(got, packets(t, srv.next(t))-100)
	}
	srv.none(t)
	if !slices.Equal(got, []int{0, 8, 9}) {
		t.Errorf("windows delivered %v, want [0 8 9]", got)
	}
	if st := h.Stats(); st.Delivered != 3 || st.DroppedRecords != 7 || st.DroppedAlarms != 0 {
		t.Errorf("stats %+v", st)
	}
	logs := h.Logs.String()
	if !strings.Contains(logs, "sink unreachable") || !strings.Contains(logs, "no such file") || !strings.Contains(logs, "sink reachable again") {
		t.Errorf("logs do not tell the outage:\n%s", logs)
	}
}

// With the data reader away and the alarm reader there, the alarm reader
// gets every alarm once, although each record is written several times.
func TestPartialFailureSendsNoDuplicates(t *testing.T) {
	dataPath, alarmPath := socketPath(t, "data.sock"), socketPath(t, "alarm.sock")
	alarms := listen(t, "unix", alarmPath)
	cfg := DefaultConfig()
	cfg.Data, cfg.Alarm = "unix://"+dataPath, "unix://"+alarmPath
	h := start(t, cfg, sink.Live)
	h.Publish(record(0, true), record(1, false), record(2, true))
	if got := decode(t, alarms.next(t))["id"]; got != "syn-a" {
		t.Fatalf("first alarm %v", got)
	}
	sinktest.WaitFor(t, "retries of the data address", func() bool { return h.Stats().Retries >= 5 })
	data := listen(t, "unix", dataPath)
	h.Close(t)
	if got := decode(t, alarms.next(t))["id"]; got != "syn-c" {
		t.Errorf("second alarm %v", got)
	}
	alarms.none(t)
	for i := range 3 {
		if got := packets(t, data.next(t)); got != 100+i {
			t.Errorf("data line %d is window %d", i, got-100)
		}
	}
	data.none(t)
	if st := h.Stats(); st.Delivered != 3 || st.DroppedRecords != 0 {
		t.Errorf("stats %+v", st)
	}
}

// A reader that restarts (hangs up, is away a while, listens again) loses
// nothing and gets nothing twice.
func TestPeerRestart(t *testing.T) {
	p := socketPath(t, "restart.sock")
	cfg := DefaultConfig()
	cfg.Data = "unix://" + p
	srv := listen(t, "unix", p)
	h := start(t, cfg, sink.Live)
	h.Publish(record(0, false))
	if got := packets(t, srv.next(t)); got != 100 {
		t.Fatalf("first line is window %d", got-100)
	}
	srv.ln.Close()
	(<-srv.conns).Close()
	os.Remove(p)
	h.Publish(record(1, false))
	sinktest.WaitFor(t, "the restarting peer to be noticed", func() bool { return h.Stats().Retries >= 3 })
	srv2 := listen(t, "unix", p)
	h.Publish(record(2, false), record(3, false))
	h.Close(t)
	for i := 1; i <= 3; i++ {
		if got := packets(t, srv2.next(t)); got != 100+i {
			t.Errorf("after restart, line %d is window %d", i, got-100)
		}
	}
	srv2.none(t)
	srv.none(t)
	if st := h.Stats(); st.Delivered != 4 || st.DroppedRecords != 0 {
		t.Errorf("stats %+v", st)
	}
}

// A reader that accepts datagrams but does not read them: Write gives up
// at the timeout, the records are kept, and once the reader reads they all
// arrive, in order, once.
func TestStuckPeer(t *testing.T) {
	p := socketPath(t, "stuck.sock")
	pc, err := net.ListenPacket("unixgram", p) // not read for now
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	cfg := DefaultConfig()
	cfg.Data, cfg.Timeout = "unixgram://"+p, config.Duration(20*time.Millisecond)
	h := start(t, cfg, sink.Live)
	// The receive queue of a Unix datagram socket holds a few datagrams
	// (net.unix.max_dgram_qlen, 10 by default): the rest wait in the queue.
	const n = 100
	for i := range n {
		h.Publish(record(i, false))
	}
	sinktest.WaitFor(t, "the stuck peer to count as unreachable", func() bool { return h.Stats().Unreachable })
	if !strings.Contains(h.Logs.String(), "i/o timeout") {
		t.Errorf("the outage is not logged with its cause:\n%s", h.Logs)
	}
	got := make(chan []int)
	go func() {
		var ps []int
		buf := make([]byte, 65536)
		for len(ps) < n {
			pc.SetReadDeadline(time.Now().Add(10 * time.Second))
			k, _, err := pc.ReadFrom(buf)
			if err != nil {
				break
			}
			var m struct{ Packets int }
			json.Unmarshal(buf[:k], &m)
			ps = append(ps, m.Packets)
		}
		got <- ps
	}()
	h.Close(t)
	ps := <-got
	if len(ps) != n {
		t.Fatalf("%d datagrams, want %d", len(ps), n)
	}
	for i, p := range ps {
		if p != 100+i {
			t.Fatalf("datagram %d is window %d", i, p-100)
		}
	}
	if st := h.Stats(); st.Delivered != n || st.DroppedRecords != 0 || st.Retries == 0 {
		t.Errorf("stats %+v", st)
	}
}

// A stuck alarm reader holds the records up, but leaves the data
// connection alone: once the alarm reader reads again, the data reader has
// had one connection, one header, and every row once.
func TestStuckAlarmAddressLeavesDataConnection(t *testing.T) {
	alarmPath, dataPath := socketPath(t, "alarm.sock"), socketPath(t, "data.sock")
	pc, err := net.ListenPacket("unixgram", alarmPath) // not read for now
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	data := listen(t, "unix", dataPath)
	cfg := DefaultConfig()
	cfg.Format, cfg.Timeout = "csv", config.Duration(20*time.Millisecond)
	cfg.Alarm, cfg.Data = "unixgram://"+alarmPath, "unix://"+dataPath
	h := start(t, cfg, sink.Live)
	const n = 40
	for i := range n {
		h.Publish(record(i, true))
	}
	sinktest.WaitFor(t, "retries of the stuck alarm address", func() bool { return h.Stats().Retries >= 5 })
	alarms := make(chan int)
	go func() {
		count := 0
		buf := make([]byte, 65536)
		for count < n {
			pc.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, _, err := pc.ReadFrom(buf); err != nil {
				break
			}
			count++
		}
		alarms <- count
	}()
	h.Close(t)
	if got := <-alarms; got != n {
		t.Errorf("%d alarms, want %d", got, n)
	}
	if l := data.nextLine(t); l.conn != 0 || !strings.HasPrefix(l.text, "series,") {
		t.Fatalf("first data line %+v, want the header", l)
	}
	for i := range n {
		l := data.nextLine(t)
		if l.conn != 0 || !strings.Contains(l.text, fmt.Sprintf(",%d,", 100+i)) {
			t.Fatalf("data line %d: %+v, want window %d on the first connection", i, l, i)
		}
	}
	data.none(t)
}

// A TCP reader that does not read: Write returns at the timeout, saying
// that the peer is unreachable.
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
	s, err := New(cfg, sink.Env{Series: "x"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r := record(0, false)
	r.CaptureErr = strings.Repeat("x", 256<<10) // large messages fill the buffers fast
	for i := range 2000 {
		err := s.Write(record(i, false))
		if err == nil {
			err = s.Write(r)
		}
		if err != nil {
			if !sink.IsUnreachable(err) || !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("Write = %v, want an Unreachable timeout", err)
			}
			return
		}
	}
	t.Fatal("the peer never counted as unreachable")
}

// A message too large for a datagram is dropped, not retried: the others
// go out, the record counts as failed and the loss is logged.
func TestOversizeDatagramIsDropped(t *testing.T) {
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	cfg := DefaultConfig()
	cfg.Data = "udp://" + udp.LocalAddr().String()
	cfg.Alarm = cfg.Data
	h := start(t, cfg, sink.Live)
	big := record(0, true)
	big.CaptureErr = strings.Repeat("x", 70000)
	bigAlarm := record(2, true)
	bigAlarm.Alarms[0].ID = strings.Repeat("y", 70000)
	h.Publish(big, record(1, false), bigAlarm)
	h.Close(t)
	var got []string
	buf := make([]byte, 1<<17)
	for range 3 {
		udp.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, _, err := udp.ReadFrom(buf)
		if err != nil {
			t.Fatal(err)
		}
		m := decode(t, string(buf[:n]))
		got = append(got, fmt.Sprintf("%v %v", m["type"], m["start"]))
	}
	want := []string{"alarm 2026-03-01T12:00:00Z", "data 2026-03-01T12:00:01Z", "data 2026-03-01T12:00:02Z"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("datagrams %q, want %q", got, want)
	}
	if st := h.Stats(); st.Failed != 2 || st.Delivered != 1 || st.Retries != 0 {
		t.Errorf("stats %+v: want the two records with a dropped message failed, none retried", st)
	}
	logs := h.Logs.String()
	if !strings.Contains(logs, "data message of window 2026-03-01T12:00:00Z dropped: 70") ||
		!strings.Contains(logs, "alarm dropped: too large for a datagram") {
		t.Errorf("losses not logged:\n%s", logs)
	}
}

// Close makes a Write blocked on a stuck peer return, long before the
// timeout.
func TestCloseDuringWrite(t *testing.T) {
	p := socketPath(t, "busy.sock")
	pc, err := net.ListenPacket("unixgram", p)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	cfg := DefaultConfig()
	cfg.Data, cfg.Timeout = "unixgram://"+p, config.Duration(time.Minute)
	s, err := New(cfg, sink.Env{Series: "x"})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	writes := 0
	done := make(chan error)
	go func() {
		for i := 0; ; i++ {
			if err := s.Write(record(i, false)); err != nil {
				done <- err
				return
			}
			mu.Lock()
			writes++
			mu.Unlock()
		}
	}()
	// Once the receive queue is full (max_dgram_qlen datagrams), Write
	// blocks.
	qlen := 10
	if b, err := os.ReadFile("/proc/sys/net/unix/max_dgram_qlen"); err == nil {
		fmt.Sscan(string(b), &qlen)
	}
	sinktest.WaitFor(t, "the receive queue to fill", func() bool { mu.Lock(); defer mu.Unlock(); return writes >= qlen })
	s.Close()
	err = <-done
	if !sink.IsUnreachable(err) || !errors.Is(err, net.ErrClosed) || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("Write = %v, want it ended by Close", err)
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

func BenchmarkWriteJSON(b *testing.B) {
	benchmarkWrite(b, "json")
}

func BenchmarkWriteCSV(b *testing.B) {
	benchmarkWrite(b, "csv")
}

func benchmarkWrite(b *testing.B, format string) {
	p := socketPath(b, "b.sock")
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
	s, err := New(cfg, sink.Env{Series: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	r := record(0, false)
	for i := range 18 { // 20 statistics, about what netspot watches
		r.Stats = append(r.Stats, event.Stat{Name: "STAT_" + string(rune('A'+i)), Value: float64(i) / 3, Up: 1.5, Down: 0.1})
	}
	b.SetBytes(int64(len(s.enc.data(r))))
	b.ReportAllocs()
	for b.Loop() {
		// A new Record each time, as the pipeline makes: the same one
		// would be skipped as already sent.
		rec := *r
		if err := s.Write(&rec); err != nil {
			b.Fatal(err)
		}
	}
}
