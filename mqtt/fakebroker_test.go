package mqtt

import (
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.mqtt.golang/packets"

	"netspot/core/config"
	"netspot/core/sink"
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
	status []string // payloads received on P/status
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
			b.mu.Lock()
			if isAlarm {
				b.alarms = append(b.alarms, alarmIDs([]string{string(p.Payload)})[0])
			}
			if p.TopicName == "netspot/box1/status" {
				b.status = append(b.status, string(p.Payload))
			}
			b.mu.Unlock()
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

// statuses returns the payloads received on P/status.
func (b *fakeBroker) statuses() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.status)
}

// TestUnacknowledgedAlarmIsResent: a broker that takes the alarm but never
// acknowledges it (a stuck broker, a half-open link) makes the Write give
// up the connection after the acknowledgement timeout; the fan-out tries
// again and the same alarm goes on the next connection. It leaves the
// store only then.
func TestUnacknowledgedAlarmIsResent(t *testing.T) {
	fb := startFakeBroker(t, 2)
	cfg := testConfig(t, fb.l.Addr().String())
	cfg.HomeAssistant = false
	opts := testOptions()
	opts.ackTimeout = time.Second
	rg := openRigWith(t, cfg, sink.Live, retryFast(cfg), opts)
	rg.publish(record(1, "x-001"))
	eventually(t, "delivery on the second connection", func() bool { return rg.stats().Delivered == 1 })
	if n := rg.s.PendingAlarms(); n != 0 {
		t.Errorf("%d alarms pending after the acknowledgement", n)
	}
	conns, alarms := fb.received()
	if conns != 2 || !slices.Equal(alarms, []string{"x-001", "x-001"}) {
		t.Errorf("%d connections, alarms received %v; want 2 and x-001 twice", conns, alarms)
	}
	if n := count(rg.log, "did not acknowledge in time"); n != 1 {
		t.Errorf("ack timeout logged %d times, want once:\n%s", n, rg.log)
	}
}

// TestFlappingBrokerBacksOff: a broker that drops the client right after
// accepting it fails every Write, so the fan-out's wait keeps doubling
// (it starts again only after a Write went through): the connections come
// at growing intervals, not in a tight loop.
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
	q := retryFast(cfg)
	q.RetryMax = time.Second
	rg := openRigWith(t, cfg, sink.Live, q, testOptions())
	rg.publish(record(1))
	eventually(t, "seven connections", func() bool { mu.Lock(); defer mu.Unlock(); return len(accepted) >= 7 })
	_ = rg.closeWithin(10 * time.Millisecond)
	_ = l.Close()
	<-done
	mu.Lock()
	defer mu.Unlock()
	// Each wait is twice the one before, from 20ms, times a jitter factor
	// in [0.8, 1.2), so at least 16ms, 25.6, 41, 65.5, 104.9 and 167.8: the
	// sixth gap is no shorter than 160ms, the six no shorter than 400ms.
	// Without the doubling they would be six times 20ms or so.
	if last := accepted[6].Sub(accepted[5]); last < 160*time.Millisecond {
		t.Errorf("sixth gap between connections %s, want at least 160ms", last)
	}
	if all := accepted[6].Sub(accepted[0]); all < 400*time.Millisecond {
		t.Errorf("seven connections in %s, want at least 400ms", all)
	}
	if st := rg.stats(); st.Delivered != 0 {
		t.Errorf("fan-out counters %+v: nothing can be delivered", st)
	}
}

// silentListener accepts TCP connections and never answers.
func silentListener(t *testing.T) (addr string, conns func() int) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var held []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c) // held open, never answered
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			_ = c.Close()
		}
	})
	return l.Addr().String(), func() int { mu.Lock(); defer mu.Unlock(); return len(held) }
}

// TestSilentBrokerTimesOut: a broker that accepts the TCP connection but
// never answers CONNECT costs one connect_timeout per attempt (one TCP
// connection each), and the outage is logged once.
func TestSilentBrokerTimesOut(t *testing.T) {
	addr, conns := silentListener(t)
	cfg := testConfig(t, addr)
	cfg.ConnectTimeout = config.Duration(150 * time.Millisecond)
	rg := openRig(t, cfg, sink.Live)
	rg.publish(record(1))
	eventually(t, "three attempts", func() bool { return conns() >= 3 && rg.stats().Retries >= 3 })
	if ok, _ := rg.s.Connected(); ok {
		t.Error("connected to a silent broker")
	}
	if err := rg.closeWithin(10 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if n := count(rg.log, "sink unreachable"); n != 1 {
		t.Errorf("outage logged %d times, want once:\n%s", n, rg.log)
	}
}

// TestCloseAbortsConnectionAttempt: Close returns while a connection
// attempt hangs, although connect_timeout and close_timeout are both ten
// minutes: the attempt is abandoned at once.
func TestCloseAbortsConnectionAttempt(t *testing.T) {
	addr, conns := silentListener(t)
	cfg := testConfig(t, addr)
	cfg.ConnectTimeout = config.Duration(10 * time.Minute)
	cfg.CloseTimeout = config.Duration(10 * time.Minute)
	rg := openRig(t, cfg, sink.Live)
	rg.publish(record(1, "h-001"))
	eventually(t, "an attempt under way", func() bool { return conns() == 1 })
	closed := make(chan error, 1)
	go func() { closed <- rg.closeWithin(10 * time.Millisecond) }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(waitFor):
		t.Fatal("Close waits for a hanging connection attempt")
	}
	if got := storedOnDisk(t, cfg.StoreDir); !slices.Equal(got, []string{"h-001"}) {
		t.Errorf("store_dir holds %v, want h-001 kept for the next start", got)
	}
}

// TestCloseBoundedByCloseTimeout: with a session open on a broker that
// never acknowledges alarms, Close gives up handing over the waiting alarm
// at close_timeout (the acknowledgement timeout is ten minutes), says
// offline, and keeps the alarm in store_dir.
func TestCloseBoundedByCloseTimeout(t *testing.T) {
	fb := startFakeBroker(t, 1000) // never acknowledges an alarm
	cfg := testConfig(t, fb.l.Addr().String())
	cfg.HomeAssistant = false
	cfg.CloseTimeout = config.Duration(300 * time.Millisecond)
	opts := testOptions()
	opts.ackTimeout = 10 * time.Minute
	rg := openRigWith(t, cfg, sink.Live, retryFast(cfg), opts)
	rg.publish(record(1, "t-001"))
	eventually(t, "the alarm sent", func() bool { _, alarms := fb.received(); return len(alarms) == 1 })
	closed := make(chan error, 1)
	go func() { closed <- rg.closeWithin(10 * time.Millisecond) }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(waitFor):
		t.Fatal("Close waits for an acknowledgement past close_timeout")
	}
	if got := storedOnDisk(t, cfg.StoreDir); !slices.Equal(got, []string{"t-001"}) {
		t.Errorf("store_dir holds %v, want t-001 kept for the next start", got)
	}
	eventually(t, "offline", func() bool {
		st := fb.statuses()
		return len(st) > 0 && st[len(st)-1] == "offline"
	})
}
