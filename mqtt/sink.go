package mqtt

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"netspot/core/config"
	"netspot/core/event"
	"netspot/core/sink"
)

// The fan-out drives the Sink like any other sink.
var _ sink.Sink = (*Sink)(nil)

// ErrClosed is returned by Write after Close.
var ErrClosed = errors.New("mqtt: sink closed")

// Reasons a connection is given up; the run loop then reconnects (or stops).
var (
	errConnLost       = errors.New("connection lost")
	errAckTimeout     = errors.New("broker did not acknowledge in time")
	errClosing        = errors.New("closing")
	errConnectTimeout = errors.New("connection attempt did not complete in time")
)

// goodbyeTimeout bounds the wait for the broker's acknowledgement of the
// final "offline".
const goodbyeTimeout = time.Second

// options are the knobs tests turn; New uses defaultOptions.
type options struct {
	retryMin   time.Duration // first wait between connection attempts
	ackTimeout time.Duration // longest wait for an acknowledgement before reconnecting; 0: from keepalive
	hostname   func() (string, error)
}

func defaultOptions() options {
	return options{retryMin: time.Second, hostname: os.Hostname}
}

// Sink publishes Records to an MQTT broker. Write never waits for the
// network: alarms are stored durably and statistics queued in memory, and
// one goroutine per Sink delivers them while connected.
type Sink struct {
	cfg       Config
	log       *slog.Logger
	opts      options
	t         topics
	broker    *url.URL
	tls       *tls.Config
	password  string
	clientID  string
	keep      map[string]bool // published statistics; nil: all
	discovery []message       // Home Assistant configs; nil when disabled
	store     *store

	// Used by Write only (the fan-out calls it from one goroutine).
	statTopics map[string]string
	scratch    []event.Stat

	mu          sync.Mutex
	batches     []*batch // statistics waiting, oldest first
	dropped     uint64   // periods of statistics dropped
	droppedMark uint64   // dropped at the last state change, to log once per outage
	alarmActive bool
	last        *batch // statistics of the latest Record, re-sent to Home Assistant
	connected   bool
	since       time.Time
	closed      bool
	delivered   uint64 // alarms acknowledged by the broker

	wake   chan struct{}   // something was queued
	birth  chan struct{}   // Home Assistant announced itself
	drain  chan struct{}   // closed by Close: deliver what is queued, then stop
	stop   chan struct{}   // closed when close_timeout is over: say offline and stop
	ctx    context.Context // cancelled last: aborts a connection attempt and closes the connection
	cancel context.CancelFunc
	done   chan struct{} // closed when the delivery goroutine has stopped

	closeOnce sync.Once
	closeErr  error

	sessMu sync.Mutex
	sess   *session // the current connection attempt, for tests
}

// New checks cfg, opens the alarm store (delivering what a previous run
// left in it) and starts connecting to the broker in the background: it
// does not wait for the broker. A nil logger discards messages.
func New(cfg Config, info Info, log *slog.Logger) (*Sink, error) {
	return newSink(cfg, info, log, defaultOptions())
}

func newSink(cfg Config, info Info, log *slog.Logger, opts options) (*Sink, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// The files are read whatever the enabled flag says.
	broker, err := cfg.check()
	if err != nil {
		return nil, err
	}
	password, err := cfg.password()
	if err != nil {
		return nil, err
	}
	tlsc, err := cfg.tlsConfig(broker)
	if err != nil {
		return nil, err
	}
	nodeID := cfg.NodeID
	if nodeID == "" {
		h, err := opts.hostname()
		if err != nil {
			return nil, config.Errorf("node_id", "empty, and the host name is unknown: %v", err)
		}
		nodeID = NodeIDFromHostname(h)
	}
	clientID := cfg.ClientID
	if clientID == "" {
		clientID = "netspot-" + nodeID
	}
	keep, haStats, err := publishedStats(cfg.Stats, info.Stats)
	if err != nil {
		return nil, err
	}
	if opts.retryMin <= 0 {
		opts.retryMin = time.Second
	}
	if opts.ackTimeout <= 0 {
		opts.ackTimeout = max(30*time.Second, 2*cfg.KeepAlive.D())
	}
	st, err := openStore(cfg.StoreDir, cfg.StoreMax, log)
	if err != nil {
		return nil, config.Errorf("store_dir", "%w", err)
	}
	s := &Sink{
		cfg:        cfg,
		log:        log,
		opts:       opts,
		t:          newTopics(cfg.TopicPrefix, nodeID, cfg.DiscoveryPrefix),
		broker:     broker,
		tls:        tlsc,
		password:   password,
		clientID:   clientID,
		keep:       keep,
		store:      st,
		statTopics: make(map[string]string),
		since:      time.Now(),
		wake:       make(chan struct{}, 1),
		birth:      make(chan struct{}, 1),
		drain:      make(chan struct{}),
		stop:       make(chan struct{}),
		done:       make(chan struct{}),
	}
	if cfg.HomeAssistant {
		s.discovery = discoveryMessages(&s.t, haStats, info.Version, byte(cfg.QoSStats), byte(cfg.QoSAlarms))
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if n := st.len(); n > 0 {
		log.Info("mqtt: alarms from a previous run wait for delivery", "alarms", n, "store_dir", cfg.StoreDir)
	}
	go s.run()
	return s, nil
}

// publishedStats returns the set of statistics to publish (nil: all) and
// their descriptions for Home Assistant, checking names against info.
func publishedStats(names []string, known []StatInfo) (map[string]bool, []StatInfo, error) {
	if len(names) == 0 {
		return nil, known, nil
	}
	keep := make(map[string]bool, len(names))
	for _, n := range names {
		keep[n] = true
	}
	if len(known) == 0 {
		return keep, nil, nil
	}
	byName := make(map[string]bool, len(known))
	var ha []StatInfo
	for _, k := range known {
		byName[k.Name] = true
		if keep[k.Name] {
			ha = append(ha, k)
		}
	}
	for _, n := range names {
		if !byName[n] {
			return nil, nil, config.Errorf("stats", "%q is not a watched statistic (see netspot ls)", n)
		}
	}
	return keep, ha, nil
}

// NodeID returns the node id in use (the configured one or the one derived
// from the host name).
func (s *Sink) NodeID() string { return s.t.nodeID }

// Write stores r's alarms durably (fsync) and queues its statistics. It
// never waits for the broker. An error means an alarm could not be written
// to store_dir: it is still delivered if netspot keeps running.
func (s *Sink) Write(r *event.Record) error {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return ErrClosed
	}
	var err error
	if len(r.Alarms) > 0 {
		alarms := make([]newAlarm, len(r.Alarms))
		for i := range r.Alarms {
			alarms[i] = newAlarm{id: r.Alarms[i].ID, payload: alarmPayload(&r.Alarms[i])}
		}
		err = s.store.addAll(alarms)
	}
	var b *batch
	b, s.scratch = buildBatch(r, s.keep, &s.t, s.statTopics, byte(s.cfg.QoSStats), s.scratch)
	s.mu.Lock()
	s.alarmActive = r.ActiveAlarms()
	s.last = b
	if len(s.batches) >= s.cfg.StatsQueue {
		copy(s.batches, s.batches[1:])
		s.batches[len(s.batches)-1] = nil
		s.batches = s.batches[:len(s.batches)-1]
		s.dropped++
		if s.dropped == s.droppedMark+1 {
			s.log.Warn("mqtt: statistics are being dropped: broker unreachable or too slow",
				"connected", s.connected, "stats_queue", s.cfg.StatsQueue, "dropped_total", s.dropped)
		}
	}
	s.batches = append(s.batches, b)
	s.mu.Unlock()
	s.signal()
	return err
}

func (s *Sink) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Connected reports whether the sink is connected to the broker, and since
// when it has been in its current state (connected or not).
func (s *Sink) Connected() (ok bool, since time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connected, s.since
}

// Dropped returns the number of periods of statistics dropped because the
// broker was unreachable or too slow for stats_queue.
func (s *Sink) Dropped() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped
}

// DroppedAlarms returns the number of undelivered alarms dropped because
// store_dir held store_max alarms already.
func (s *Sink) DroppedAlarms() uint64 { return s.store.droppedCount() }

// PendingAlarms returns the number of alarms waiting for the broker's
// acknowledgement.
func (s *Sink) PendingAlarms() int { return s.store.len() }

// Close delivers what is queued for at most close_timeout, publishes the
// retained "offline" status and disconnects. Undelivered alarms stay in
// store_dir for the next start. The error reports alarms that could not be
// stored and were not delivered.
func (s *Sink) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		close(s.drain)
		timer := time.NewTimer(s.cfg.CloseTimeout.D())
		select {
		case <-s.done:
		case <-timer.C:
			s.log.Warn("mqtt: close_timeout reached: stopping delivery", "close_timeout", s.cfg.CloseTimeout)
			close(s.stop)
			// Saying "offline" takes at most about a second more; past
			// that, cut the connection (the broker then sends the will).
			grace := time.NewTimer(goodbyeTimeout + 2*time.Second)
			select {
			case <-s.done:
			case <-grace.C:
				s.cancel()
				<-s.done
			}
			grace.Stop()
		}
		timer.Stop()
		s.cancel()
		waiting, memOnly := s.store.close()
		s.mu.Lock()
		lost := len(s.batches)
		s.dropped += uint64(lost)
		s.batches = nil
		s.mu.Unlock()
		if lost > 0 {
			s.log.Warn("mqtt: statistics not delivered before shutdown", "periods", lost)
		}
		if waiting > 0 {
			s.log.Warn("mqtt: alarms not delivered yet: kept for the next start", "alarms", waiting-memOnly, "store_dir", s.cfg.StoreDir)
		}
		if memOnly > 0 {
			s.closeErr = fmt.Errorf("mqtt: %d alarms could not be written to %s and were not delivered", memOnly, s.cfg.StoreDir)
		}
	})
	return s.closeErr
}

func (s *Sink) draining() bool {
	select {
	case <-s.drain:
		return true
	default:
		return false
	}
}

func (s *Sink) setConnected(ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.connected = ok
	s.since = time.Now()
	s.droppedMark = s.dropped
}

// backoff returns the wait before connection attempt number attempt+1:
// lo doubled per failed attempt up to hi, times a jitter factor in
// [0.8, 1.2) from j in [0, 1) so that many boxes do not reconnect in step.
func backoff(attempt int, lo, hi time.Duration, j float64) time.Duration {
	d := hi
	if attempt < 40 && lo<<attempt > 0 && lo<<attempt < hi {
		d = lo << attempt
	}
	return min(hi, time.Duration(float64(d)*(0.8+0.4*j)))
}

// session is one connection attempt's network connection and loss signal.
type session struct {
	lost chan struct{}
	once sync.Once
	err  error

	mu   sync.Mutex
	conn net.Conn
}

func (c *session) setConn(conn net.Conn) {
	c.mu.Lock()
	c.conn = conn
	c.mu.Unlock()
}

// closeConn closes the network connection, if one was opened.
func (c *session) closeConn() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn != nil {
		_ = c.conn.Close()
	}
}

func (c *session) lose(err error) {
	c.once.Do(func() {
		c.err = err
		close(c.lost)
	})
}

// stableConnection is how long a connection must have lasted for the next
// reconnection to start again from the shortest wait: a broker that accepts
// and then drops the client (duplicate client id, ACL) is not hammered.
const stableConnection = 30 * time.Second

// run connects, delivers, and reconnects with backoff until Close.
func (s *Sink) run() {
	defer close(s.done)
	attempt := 0 // failed or short-lived connections in a row
	lastErr := ""
	for {
		if s.draining() || s.stopped() {
			return
		}
		sess := &session{lost: make(chan struct{})}
		s.sessMu.Lock()
		s.sess = sess
		s.sessMu.Unlock()
		client := paho.NewClient(s.clientOptions(sess))
		err := s.connect(client, sess)
		wait := backoff(attempt, s.opts.retryMin, s.cfg.ReconnectMax.D(), rand.Float64())
		if err != nil {
			if s.stopped() {
				return
			}
			if attempt == 0 || err.Error() != lastErr {
				s.log.Warn("mqtt: broker unreachable, retrying", "broker", s.broker.String(), "err", err, "retry_in", wait.Round(time.Millisecond))
			} else {
				s.log.Debug("mqtt: broker still unreachable", "err", err, "retry_in", wait.Round(time.Millisecond))
			}
			lastErr = err.Error()
		} else {
			lastErr = ""
			s.mu.Lock()
			offline, dropped := time.Since(s.since), s.dropped-s.droppedMark
			s.mu.Unlock()
			s.setConnected(true)
			s.log.Info("mqtt: connected", "broker", s.broker.String(), "client_id", s.clientID,
				"offline_for", offline.Round(time.Millisecond), "alarms_waiting", s.store.len(), "stats_dropped_while_offline", dropped)
			start := time.Now()
			err = s.serve(client, sess)
			s.setConnected(false)
			if errors.Is(err, errClosing) {
				s.goodbye(client, sess)
				return
			}
			client.Disconnect(0)
			if time.Since(start) >= stableConnection {
				attempt = 0
			}
			wait = backoff(attempt, s.opts.retryMin, s.cfg.ReconnectMax.D(), rand.Float64())
			s.log.Warn("mqtt: connection to broker lost", "err", err, "retry_in", wait.Round(time.Millisecond))
		}
		attempt++
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-s.drain:
		case <-s.stop:
		}
		timer.Stop()
	}
}

func (s *Sink) clientOptions(sess *session) *paho.ClientOptions {
	o := paho.NewClientOptions()
	o.AddBroker(s.broker.String())
	o.SetClientID(s.clientID)
	o.SetUsername(s.cfg.Username)
	o.SetPassword(s.password)
	if s.tls != nil {
		o.SetTLSConfig(s.tls)
	}
	// Our own outbox is the session state: paho's store is emptied at
	// every connect, and we reconnect ourselves (paho's IsConnected is true
	// while it reconnects, and it would replay its store unordered).
	o.SetCleanSession(true)
	// MQTT 3.1.1, which every current broker speaks; paho would otherwise
	// retry a failed attempt with 3.1 on a second connection.
	o.SetProtocolVersion(4)
	o.SetAutoReconnect(false)
	o.SetConnectRetry(false)
	o.SetKeepAlive(s.cfg.KeepAlive.D())
	o.SetPingTimeout(max(time.Second, s.cfg.KeepAlive.D()/2))
	o.SetConnectTimeout(s.cfg.ConnectTimeout.D())
	// Bounds a Publish that cannot hand its packet to a stuck writer.
	o.SetWriteTimeout(s.cfg.ConnectTimeout.D())
	o.SetBinaryWill(s.t.status, []byte(statusOffline), 1, true)
	o.SetConnectionLostHandler(func(_ paho.Client, err error) { sess.lose(err) })
	o.SetCustomOpenConnectionFn(func(uri *url.URL, o paho.ClientOptions) (net.Conn, error) {
		conn, err := s.dial(uri, o)
		if err == nil {
			sess.setConn(conn)
		}
		return conn, err
	})
	return o
}

// dial opens the network connection; unlike paho's own dialer it stops at
// once when the sink is closed, and closes the connection then too.
func (s *Sink) dial(uri *url.URL, o paho.ClientOptions) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(s.ctx, o.ConnectTimeout)
	defer cancel()
	nd := &net.Dialer{}
	var conn net.Conn
	var err error
	switch uri.Scheme {
	case "tcp", "mqtt":
		conn, err = nd.DialContext(ctx, "tcp", uri.Host)
	case "ssl", "tls", "mqtts":
		td := &tls.Dialer{NetDialer: nd, Config: o.TLSConfig}
		conn, err = td.DialContext(ctx, "tcp", uri.Host)
	case "ws", "wss":
		var tc *tls.Config
		if uri.Scheme == "wss" {
			tc = o.TLSConfig
		}
		conn, err = paho.NewWebsocket(uri.String(), tc, o.ConnectTimeout, o.HTTPHeaders, o.WebsocketOptions)
	default:
		err = fmt.Errorf("unsupported scheme %q", uri.Scheme)
	}
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(s.ctx, func() { _ = conn.Close() })
	return &ctxConn{Conn: conn, stop: stop}, nil
}

// ctxConn unregisters its close-on-cancel hook when closed.
type ctxConn struct {
	net.Conn
	stop func() bool
}

func (c *ctxConn) Close() error {
	c.stop()
	return c.Conn.Close()
}

// connect makes one connection attempt. It never waits on paho for longer
// than connect_timeout and a second: should paho fail to complete the
// attempt (a connection lost while it is being set up), the network
// connection is closed and the attempt counted as failed.
func (s *Sink) connect(c paho.Client, sess *session) error {
	tok := c.Connect()
	timer := time.NewTimer(s.cfg.ConnectTimeout.D() + time.Second)
	defer timer.Stop()
	select {
	case <-tok.Done():
		return tok.Error()
	case <-s.stop:
		s.cancel() // aborts the dial, or closes the new connection
		return errClosing
	case <-timer.C:
		sess.closeConn()
		go c.Disconnect(0) // paho may still be finishing the attempt
		return errConnectTimeout
	}
}

func (s *Sink) stopped() bool {
	select {
	case <-s.stop:
		return true
	default:
		return false
	}
}

// wait waits for tok's acknowledgement, the loss of the connection, the
// end of the sink or the acknowledgement timeout, whichever comes first.
func (s *Sink) wait(tok paho.Token, sess *session) error {
	timer := time.NewTimer(s.opts.ackTimeout)
	defer timer.Stop()
	select {
	case <-tok.Done():
		return tok.Error()
	case <-sess.lost:
		return fmt.Errorf("%w: %v", errConnLost, sess.err)
	case <-s.stop:
		return errClosing
	case <-timer.C:
		return errAckTimeout
	}
}

func (s *Sink) publish(c paho.Client, sess *session, m message) error {
	return s.wait(c.Publish(m.topic, m.qos, m.retain, m.payload), sess)
}

// publishAll sends msgs back to back, then waits for every one.
func (s *Sink) publishAll(c paho.Client, sess *session, msgs []message) error {
	toks := make([]paho.Token, len(msgs))
	for i, m := range msgs {
		toks[i] = c.Publish(m.topic, m.qos, m.retain, m.payload)
	}
	for _, t := range toks {
		if err := s.wait(t, sess); err != nil {
			return err
		}
	}
	return nil
}

// serve delivers while the connection lasts: alarms first, in order, one at
// a time; then the alarm state; then statistics. It returns why it stopped.
func (s *Sink) serve(c paho.Client, sess *session) error {
	if err := s.publish(c, sess, message{topic: s.t.status, payload: []byte(statusOnline), qos: 1, retain: true}); err != nil {
		return err
	}
	if s.cfg.HomeAssistant {
		if err := s.subscribeBirth(c, sess); err != nil {
			return err
		}
		if err := s.publishAll(c, sess, s.discovery); err != nil {
			return err
		}
	}
	stateSent := -1 // unknown after a connect: publish it
	for {
		if p := s.store.head(); p != nil {
			if err := s.publish(c, sess, message{topic: s.t.alarm, payload: p.payload, qos: byte(s.cfg.QoSAlarms)}); err != nil {
				return err
			}
			if err := s.store.remove(p); err != nil {
				s.log.Error("mqtt: delivered alarm stays in store_dir", "err", err)
			}
			s.mu.Lock()
			s.delivered++
			s.mu.Unlock()
			continue
		}
		select {
		case <-s.birth:
			if err := s.resendToHomeAssistant(c, sess); err != nil {
				return err
			}
			stateSent = -1
			continue
		default:
		}
		s.mu.Lock()
		active := 0
		if s.alarmActive {
			active = 1
		}
		s.mu.Unlock()
		if active != stateSent {
			payload := alarmOff
			if active == 1 {
				payload = alarmOn
			}
			if err := s.publish(c, sess, message{topic: s.t.alarmState, payload: []byte(payload), qos: byte(s.cfg.QoSAlarms), retain: true}); err != nil {
				return err
			}
			stateSent = active
			continue
		}
		if b := s.popBatch(); b != nil {
			if err := s.publishAll(c, sess, b.msgs); err != nil {
				s.requeue(b)
				return err
			}
			continue
		}
		if s.draining() {
			return errClosing
		}
		select {
		case <-s.wake:
		case <-s.drain:
		case <-s.birth:
			if err := s.resendToHomeAssistant(c, sess); err != nil {
				return err
			}
			stateSent = -1
		case <-sess.lost:
			return fmt.Errorf("%w: %v", errConnLost, sess.err)
		case <-s.stop:
			return errClosing
		}
	}
}

// subscribeBirth listens for Home Assistant's birth message. A broker that
// refuses the subscription (ACL) only costs the re-send on Home Assistant's
// restarts: it is logged, not fatal.
func (s *Sink) subscribeBirth(c paho.Client, sess *session) error {
	tok := c.Subscribe(s.t.haStatus, 1, s.onHomeAssistantStatus)
	if err := s.wait(tok, sess); err != nil {
		return fmt.Errorf("subscribe %s: %w", s.t.haStatus, err)
	}
	if st, ok := tok.(*paho.SubscribeToken); ok {
		for _, code := range st.Result() {
			if code >= 0x80 {
				s.log.Warn("mqtt: broker refused the subscription to Home Assistant's status: discovery is re-sent only at reconnection", "topic", s.t.haStatus)
			}
		}
	}
	return nil
}

// onHomeAssistantStatus runs on paho's goroutine and must not block. A
// retained "online" arrives at each subscription and is ignored: the
// configs were just sent with the connection.
func (s *Sink) onHomeAssistantStatus(_ paho.Client, m paho.Message) {
	if m.Retained() || string(m.Payload()) != haOnline {
		return
	}
	select {
	case s.birth <- struct{}{}:
	default:
	}
}

// resendToHomeAssistant publishes the discovery configs and the latest
// state of every sensor after Home Assistant (re)started.
func (s *Sink) resendToHomeAssistant(c paho.Client, sess *session) error {
	s.log.Info("mqtt: Home Assistant is online: sending discovery configs and states")
	if err := s.publishAll(c, sess, s.discovery); err != nil {
		return err
	}
	s.mu.Lock()
	last := s.last
	s.mu.Unlock()
	if last != nil && len(last.msgs) > 1 {
		return s.publishAll(c, sess, last.msgs[1:]) // the sensors' states, not P/stats
	}
	return nil
}

func (s *Sink) popBatch() *batch {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.batches) == 0 {
		return nil
	}
	b := s.batches[0]
	copy(s.batches, s.batches[1:])
	s.batches[len(s.batches)-1] = nil
	s.batches = s.batches[:len(s.batches)-1]
	return b
}

// requeue puts back a batch whose delivery was cut by a lost connection;
// some of its messages may then arrive twice, which is harmless for
// statistics (each carries its window).
func (s *Sink) requeue(b *batch) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.batches) >= s.cfg.StatsQueue {
		s.dropped++
		return
	}
	s.batches = append(s.batches, nil)
	copy(s.batches[1:], s.batches)
	s.batches[0] = b
}

// goodbye publishes the retained "offline" status and disconnects cleanly,
// so that the broker does not also send the will.
func (s *Sink) goodbye(c paho.Client, sess *session) {
	tok := c.Publish(s.t.status, 1, true, []byte(statusOffline))
	timer := time.NewTimer(goodbyeTimeout)
	select {
	case <-tok.Done():
	case <-sess.lost:
	case <-timer.C:
	}
	timer.Stop()
	c.Disconnect(250)
	s.log.Info("mqtt: disconnected", "alarms_delivered", s.deliveredCount())
}

func (s *Sink) deliveredCount() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.delivered
}
