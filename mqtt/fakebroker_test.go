package mqtt

import (
	"log/slog"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.mqtt.golang/packets"
)

// fakeBroker speaks just enough MQTT to misbehave: it accepts connections,
// answers CONNECT, SUBSCRIBE and PINGREQ, acknowledges every PUBLISH except
// alarms, which it acknowledges only from connection number ackFrom on.
type fakeBroker struct {
	l       net.Listener
	ackFrom int

	mu     sync.Mutex
	conns  int
	alarms []string // alarm ids received on P/alarm, with duplicates
	wg     sync.WaitGroup
}

func startFakeBroker(t *testing.T, ackFrom int) *fakeBroker {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &fakeBroker{l: l, ackFrom: ackFrom}
	b.wg.Add(1)
	go b.accept()
	t.Cleanup(func() {
		_ = l.Close()
		b.wg.Wait()
	})
	return b
}

func (b *fakeBroker) accept() {
	defer b.wg.Done()
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	for {
		c, err := b.l.Accept()
		if err != nil {
			return
		}
		conns = append(conns, c)
		b.mu.Lock()
		b.conns++
		n := b.conns
		b.mu.Unlock()
		b.wg.Add(1)
		go b.serve(c, n)
	}
}

func (b *fakeBroker) serve(c net.Conn, n int) {
	defer b.wg.Done()
	defer c.Close()
	for {
		_ = c.SetReadDeadline(time.Now().Add(waitFor))
		p, err := packets.ReadPacket(c)
		if err != nil {
			return
		}
		var reply packets.ControlPacket
		switch p := p.(type) {
		case *packets.ConnectPacket:
			reply = packets.NewControlPacket(packets.Connack)
		case *packets.PingreqPacket:
			reply = packets.NewControlPacket(packets.Pingresp)
		case *packets.SubscribePacket:
			sa := packets.NewControlPacket(packets.Suback).(*packets.SubackPacket)
			sa.MessageID = p.MessageID
			sa.ReturnCodes = []byte{1}
			reply = sa
		case *packets.PublishPacket:
			isAlarm := p.TopicName == "netspot/box1/alarm"
			if isAlarm {
				b.mu.Lock()
				b.alarms = append(b.alarms, alarmIDs([]string{string(p.Payload)})[0])
				b.mu.Unlock()
			}
			if p.Qos == 1 && (!isAlarm || n >= b.ackFrom) {
				pa := packets.NewControlPacket(packets.Puback).(*packets.PubackPacket)
				pa.MessageID = p.MessageID
				reply = pa
			}
		case *packets.DisconnectPacket:
			return
		}
		if reply != nil {
			if err := reply.Write(c); err != nil {
				return
			}
		}
	}
}

func (b *fakeBroker) received() (conns int, alarms []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.conns, slices.Clone(b.alarms)
}

// TestUnacknowledgedAlarmIsResent: a broker that takes the alarm but never
// acknowledges it (a stuck broker, a half-open link) makes the sink give up
// the connection after the acknowledgement timeout and send the same alarm
// again on the next one; it is removed from the store only then.
func TestUnacknowledgedAlarmIsResent(t *testing.T) {
	fb := startFakeBroker(t, 2)
	cfg := testConfig(t, fb.l.Addr().String())
	cfg.HomeAssistant = false
	opts := testOptions()
	opts.ackTimeout = 200 * time.Millisecond
	ls := &logSink{}
	s, err := newSink(cfg, testInfo(), slog.New(ls), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Write(record(1, alarm("x-001", 1))); err != nil {
		t.Fatal(err)
	}
	eventually(t, "delivery on the second connection", func() bool { return s.PendingAlarms() == 0 })
	conns, alarms := fb.received()
	if conns != 2 || !slices.Equal(alarms, []string{"x-001", "x-001"}) {
		t.Errorf("%d connections, alarms received %v; want 2 and x-001 twice", conns, alarms)
	}
	if ls.count("did not acknowledge in time") != 1 {
		t.Errorf("ack timeout not logged once: %q", ls.all())
	}
}

// TestFlappingBrokerBacksOff: a broker that drops the client right after
// accepting it is retried with growing waits, not in a tight loop.
func TestFlappingBrokerBacksOff(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var accepted []time.Time
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			// CONNACK, then hang up at once.
			if _, err := packets.ReadPacket(c); err == nil {
				_ = packets.NewControlPacket(packets.Connack).Write(c)
			}
			_ = c.Close()
			mu.Lock()
			accepted = append(accepted, time.Now())
			mu.Unlock()
		}
	}()
	cfg := testConfig(t, l.Addr().String())
	s, err := newSink(cfg, testInfo(), nil, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "six connections", func() bool { mu.Lock(); defer mu.Unlock(); return len(accepted) >= 6 })
	s.Close()
	_ = l.Close()
	<-done
	mu.Lock()
	defer mu.Unlock()
	// Waits: 20ms, 40, 80, 160, 320 (±20 %), capped at reconnect_max
	// (1s): the fifth gap must be well above the first, whatever the
	// scheduling.
	first, last := accepted[1].Sub(accepted[0]), accepted[5].Sub(accepted[4])
	if last < 4*first || last < 200*time.Millisecond {
		t.Errorf("gaps between connections did not grow: first %s, fifth %s", first, last)
	}
}

// TestSilentBrokerTimesOut: a broker that accepts the TCP connection but
// never answers CONNECT costs one connect_timeout per attempt (one TCP
// connection each), is logged once, and does not hold Close.
func TestSilentBrokerTimesOut(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // held open, never answered
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}()
	cfg := testConfig(t, l.Addr().String())
	cfg.ConnectTimeout.UnmarshalText([]byte("150ms"))
	cfg.CloseTimeout.UnmarshalText([]byte("30s"))
	ls := &logSink{}
	s, err := newSink(cfg, testInfo(), slog.New(ls), testOptions())
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "a second attempt", func() bool { mu.Lock(); defer mu.Unlock(); return len(conns) >= 2 })
	if n := ls.count("broker unreachable, retrying"); n != 1 {
		t.Errorf("first timeout not logged once: %q", ls.all())
	}
	if ok, _ := s.Connected(); ok {
		t.Error("connected to a silent broker")
	}
	// Close while an attempt hangs returns when the attempt times out,
	// without waiting for the 30s close_timeout.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}
