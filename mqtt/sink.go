package mqtt

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"netspot/core/config"
	"netspot/core/event"
	"netspot/core/sink"
)

// The fan-out drives the Sink: it stores alarms before anything goes out
// (Persister), and the board shows the broker's state (Uplink).
var (
	_ sink.Persister = (*Sink)(nil)
	_ sink.Uplink    = (*Sink)(nil)
)

// ErrClosed is returned by Write and Persist after Close.
var ErrClosed = errors.New("mqtt: sink closed")

// Reasons a delivery attempt fails; the fan-out tries again later.
var (
	errConnLost       = errors.New("connection lost")
	errAckTimeout     = errors.New("broker did not acknowledge in time")
	errClosing        = errors.New("sink closing")
	errConnectTimeout = errors.New("connection attempt did not complete in time")
)

// goodbyeReserve is the part of close_timeout kept for saying offline
// (at most half of it).
const goodbyeReserve = time.Second

// options are the knobs tests turn; New uses defaultOptions.
type options struct {
	ackTimeout time.Duration // longest wait for one acknowledgement; 0: from keepalive
	hostname   func() (string, error)
}

func defaultOptions() options {
	return options{hostname: os.Hostname}
}

// Sink publishes Records to an MQTT broker. It is a transport on the
// fan-out's queue: Persist stores alarms durably, Write delivers them with
// the Record's statistics on a session it opens when there is none, and
// any failure returns sink.Unreachable so that the fan-out keeps the
// Record and tries again after its backoff.
type Sink struct {
	version   string // netspot's, published retained on P/version
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

	// writing (capacity 1) is held by Write, and by Close from the moment
	// no Write runs: what follows belongs to its holder.
	writing    chan struct{}
	statTopics map[string]string
	scratch    []event.Stat
	stateSent  int // alarm state published in this session: 0 OFF, 1 ON, -1 not yet

	mu        sync.Mutex
	sess      *session // the open session, nil when none
	short     int      // sessions in a row that lasted less than stableSession
	connected bool
	since     time.Time
	closed    bool
	birth     bool   // Home Assistant announced itself: discovery goes again at the next Write
	delivered uint64 // alarms acknowledged by the broker

	stop      chan struct{}   // closed by Close: a Write under way gives up its waits
	dialCtx   context.Context // cancelled by Close: aborts a connection attempt
	cancel    context.CancelFunc
	closeOnce sync.Once
	closeErr  error
}

func newSink(cfg Config, env sink.Env, opts options) (*Sink, error) {
	log := env.Log
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
	keep, haStats, err := publishedStats(cfg.Stats, env.Watched)
	if err != nil {
		return nil, err
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
		writing:    make(chan struct{}, 1),
		statTopics: make(map[string]string),
		since:      time.Now(),
		stop:       make(chan struct{}),
	}
	if cfg.HomeAssistant {
		s.discovery = discoveryMessages(&s.t, haStats, env.Version, byte(cfg.QoSStats), byte(cfg.QoSAlarms))
	}
	if s.version = env.Version; s.version == "" {
		s.version = "unknown"
	}
	s.dialCtx, s.cancel = context.WithCancel(context.Background())
	if n := st.len(); n > 0 {
		log.Info("alarms from a previous run wait for delivery", "alarms", n, "store_dir", cfg.StoreDir)
	}
	return s, nil
}

// publishedStats returns the set of statistics to publish (nil: all) and
// their descriptions for Home Assistant, checking names against known.
func publishedStats(names []string, known []sink.StatInfo) (map[string]bool, []sink.StatInfo, error) {
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
	var ha []sink.StatInfo
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

// Persist stores r's alarms in store_dir, each in its own file, fsynced,
// in the order raised. The fan-out calls it before r goes to any sink, so
// an alarm survives a crash or a power cut from then on. An error means an
// alarm could not be written: it is still delivered if netspot keeps
// running.
func (s *Sink) Persist(r *event.Record) error {
	if len(r.Alarms) == 0 {
		return nil
	}
	alarms := make([]newAlarm, len(r.Alarms))
	for i := range r.Alarms {
		alarms[i] = newAlarm{id: r.Alarms[i].ID, payload: alarmPayload(&r.Alarms[i])}
	}
	return s.store.addAll(alarms)
}

// Write delivers, on the current session (opened first when there is
// none): the alarms waiting in store_dir, oldest first, each removed once
// the broker has acknowledged it; the retained alarm state when it
// changed; then r's statistics. It waits for each acknowledgement, never
// longer than the acknowledgement timeout. On any failure the session is
// dropped and the error wraps sink.Unreachable: the fan-out keeps r and
// calls Write with it again after its backoff.
func (s *Sink) Write(r *event.Record) error {
	select {
	case s.writing <- struct{}{}:
	case <-s.stop:
		return ErrClosed
	}
	defer func() { <-s.writing }()
	if s.isClosed() {
		return ErrClosed
	}
	var b *batch
	b, s.scratch = buildBatch(r, s.keep, &s.t, s.statTopics, byte(s.cfg.QoSStats), s.scratch)
	w := waits{abort: s.stop, each: s.opts.ackTimeout}
	err := s.deliver(r.ActiveAlarms(), b, w)
	if err == nil {
		return nil
	}
	if sink.IsUnreachable(err) {
		return err // already says when to come back
	}
	if !errors.Is(err, errClosing) {
		// Close takes over a session it interrupted; any other failure
		// ends the session.
		s.dropSession()
	}
	return sink.Unreachable(err)
}

func (s *Sink) deliver(active bool, b *batch, w waits) error {
	sess, err := s.session(w)
	if err != nil {
		return err
	}
	if s.takeBirth() {
		s.log.Info("Home Assistant is online: sending the discovery configs and states again")
		if err := s.publishAll(sess, s.discovery, w); err != nil {
			return err
		}
		s.stateSent = -1
	}
	if err := s.deliverAlarms(sess, w); err != nil {
		return err
	}
	state := 0
	if active {
		state = 1
	}
	if state != s.stateSent {
		payload := alarmOff
		if active {
			payload = alarmOn
		}
		if err := s.publish(sess, message{topic: s.t.alarmState, payload: []byte(payload), qos: byte(s.cfg.QoSAlarms), retain: true}, w); err != nil {
			return err
		}
		s.stateSent = state
	}
	return s.publishAll(sess, b.msgs, w)
}

// deliverAlarms publishes the stored alarms one at a time, in order, each
// removed from the store once acknowledged (PUBACK, or PUBCOMP at QoS 2).
func (s *Sink) deliverAlarms(sess *session, w waits) error {
	for p := s.store.head(); p != nil; p = s.store.head() {
		if err := s.publish(sess, message{topic: s.t.alarm, payload: p.payload, qos: byte(s.cfg.QoSAlarms)}, w); err != nil {
			return err
		}
		if err := s.store.remove(p); err != nil {
			s.log.Error("delivered alarm stays in store_dir", "err", err)
		}
		s.mu.Lock()
		s.delivered++
		s.mu.Unlock()
	}
	return nil
}

// session returns the open session, or opens one: connect, say online,
// subscribe to Home Assistant's status and send the discovery configs.
func (s *Sink) session(w waits) (*session, error) {
	s.mu.Lock()
	sess := s.sess
	s.mu.Unlock()
	if sess != nil {
		if !sess.isLost() {
			return sess, nil
		}
		s.dropSession() // lost since the last Write (logged then)
	}
	if wait := s.reconnectWait(); wait > 0 {
		return nil, sink.UnreachableFor(fmt.Errorf("the broker ended the last %d connections within %s of their start: next attempt in %s",
			s.short, stableSession, wait.Round(time.Millisecond)), wait)
	}
	sess = &session{lost: make(chan struct{})}
	sess.client = paho.NewClient(s.clientOptions(sess))
	if err := s.connect(sess); err != nil {
		sess.abandon()
		return nil, fmt.Errorf("connect to %s: %w", s.broker, err)
	}
	now := time.Now()
	s.mu.Lock()
	s.sess = sess
	s.connected = true
	sess.start = now
	offline := now.Sub(s.since)
	s.since = now
	s.birth = false // the configs go now
	s.mu.Unlock()
	s.stateSent = -1
	s.log.Info("connected to broker", "broker", s.broker.String(), "client_id", s.clientID,
		"offline_for", offline.Round(time.Millisecond), "alarms_waiting", s.store.len())
	if err := s.publishAll(sess, []message{
		{topic: s.t.status, payload: []byte(statusOnline), qos: 1, retain: true},
		{topic: s.t.version, payload: []byte(s.version), qos: 1, retain: true},
	}, w); err != nil {
		return nil, err
	}
	if s.cfg.HomeAssistant {
		if err := s.subscribeBirth(sess, w); err != nil {
			return nil, err
		}
		if err := s.publishAll(sess, s.discovery, w); err != nil {
			return nil, err
		}
	}
	return sess, nil
}

// stableSession is how long a session must have lasted for the next
// connection to be made at once: a broker that accepts and then drops the
// client (a duplicate client id, an ACL) is not called again every period.
const stableSession = 30 * time.Second

// reconnectWait returns how long to wait still before connecting again
// after short sessions: one second doubled per short session in a row, up
// to reconnect_max, counted from the end of the last one.
func (s *Sink) reconnectWait() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.short == 0 {
		return 0
	}
	wait := min(s.cfg.ReconnectMax.D(), time.Second<<min(s.short-1, 20))
	return wait - time.Since(s.since)
}

// dropSession ends the current session abruptly, so that the broker
// publishes the will: status goes "offline" until the next session.
func (s *Sink) dropSession() {
	s.mu.Lock()
	sess := s.sess
	s.sess = nil
	if s.connected {
		s.connected = false
		s.since = time.Now()
	}
	if sess != nil {
		if s.since.Sub(sess.start) < stableSession {
			s.short++
		} else {
			s.short = 0
		}
	}
	s.mu.Unlock()
	if sess != nil {
		sess.abandon()
	}
}

// lostSession runs on paho's goroutine when a session's connection dies
// by itself (keep-alive, the broker going away).
func (s *Sink) lostSession(sess *session, err error) {
	sess.lose(err)
	if sess.dropped.Load() {
		return // ended by the sink, which reports why
	}
	s.mu.Lock()
	current := s.sess == sess
	var lasted time.Duration
	if current && s.connected {
		s.connected = false
		s.since = time.Now()
		lasted = s.since.Sub(sess.start)
	}
	s.mu.Unlock()
	if current {
		s.log.Warn("connection to broker lost: reconnecting at the next delivery", "err", err, "connected_for", lasted.Round(time.Millisecond))
	}
}

// takeBirth reports whether Home Assistant announced itself since the
// discovery configs were last sent, and clears it.
func (s *Sink) takeBirth() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.birth
	s.birth = false
	return b
}

func (s *Sink) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Connected reports whether a session with the broker is open, and since
// when the sink has been in its current state (connected or not).
func (s *Sink) Connected() (ok bool, since time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connected, s.since
}

// DroppedAlarms returns the number of undelivered alarms dropped because
// store_dir held store_max alarms already.
func (s *Sink) DroppedAlarms() uint64 { return s.store.droppedCount() }

// PendingAlarms returns the number of alarms waiting for the broker's
// acknowledgement.
func (s *Sink) PendingAlarms() int { return s.store.len() }

// Close ends delivery within close_timeout: a Write under way gives up;
// with an open session, the alarms still waiting are handed over, the
// retained "offline" status is published and the sink disconnects (past
// close_timeout the connection is cut, and the broker publishes the will,
// also "offline"). Alarms not delivered stay in store_dir for the next
// start. The error reports alarms that could not be stored and were not
// delivered.
func (s *Sink) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.close() })
	return s.closeErr
}

func (s *Sink) close() error {
	deadline := time.Now().Add(s.cfg.CloseTimeout.D())
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	close(s.stop)
	s.cancel() // aborts a connection attempt under way

	// Wait for a Write under way to give up; Close then keeps writing, so
	// that no Write runs again.
	held := false
	select {
	case s.writing <- struct{}{}:
		held = true
	default:
		timer := time.NewTimer(time.Until(deadline))
		select {
		case s.writing <- struct{}{}:
			held = true
		case <-timer.C:
		}
		timer.Stop()
	}
	if held {
		s.goodbye(deadline)
	} else {
		s.log.Warn("close_timeout reached while a delivery was under way: connection cut", "close_timeout", s.cfg.CloseTimeout)
		s.dropSession()
	}
	waiting, memOnly := s.store.close()
	if waiting > memOnly {
		s.log.Warn("alarms not delivered yet: kept for the next start", "alarms", waiting-memOnly, "store_dir", s.cfg.StoreDir)
	}
	if memOnly > 0 {
		return fmt.Errorf("mqtt: %d alarms could not be written to %s and were not delivered", memOnly, s.cfg.StoreDir)
	}
	return nil
}

// goodbye hands over the waiting alarms, says offline and disconnects
// cleanly, all before deadline; else it cuts the connection.
func (s *Sink) goodbye(deadline time.Time) {
	s.mu.Lock()
	sess := s.sess
	s.mu.Unlock()
	if sess == nil || sess.isLost() {
		s.dropSession()
		return
	}
	// The alarms may take close_timeout but the time left for "offline":
	// half of it, at most goodbyeReserve.
	reserve := min(goodbyeReserve, s.cfg.CloseTimeout.D()/2)
	w := waits{each: s.opts.ackTimeout, deadline: deadline.Add(-reserve)}
	if s.store.len() > 0 && time.Until(w.deadline) > 0 {
		if err := s.deliverAlarms(sess, w); err != nil {
			s.log.Warn("alarms not handed over within close_timeout", "err", err)
		}
	}
	w.deadline = deadline
	if err := s.publish(sess, message{topic: s.t.status, payload: []byte(statusOffline), qos: 1, retain: true}, w); err != nil {
		s.dropSession()
		return
	}
	s.mu.Lock()
	s.sess = nil
	s.connected = false
	s.since = time.Now()
	delivered := s.delivered
	s.mu.Unlock()
	sess.dropped.Store(true)
	quiesce := min(250*time.Millisecond, max(0, time.Until(deadline)))
	sess.client.Disconnect(uint(quiesce.Milliseconds()))
	sess.closeConn()
	s.log.Info("disconnected from broker", "alarms_delivered", delivered)
}

// session is one connection to the broker.
type session struct {
	client  paho.Client
	start   time.Time   // when the broker accepted it (under Sink.mu)
	dropped atomic.Bool // ended by the sink, not by the network
	lost    chan struct{}
	once    sync.Once
	err     error // why it was lost, once lost is closed

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

func (c *session) isLost() bool {
	select {
	case <-c.lost:
		return true
	default:
		return false
	}
}

// abandon ends the session without a DISCONNECT: the network connection
// is closed first, so that the broker publishes the will.
func (c *session) abandon() {
	c.dropped.Store(true)
	c.closeConn()
	c.client.Disconnect(0)
	c.lose(errConnLost)
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
	// Our store is the session state, and the fan-out retries: paho
	// neither keeps messages across connections nor reconnects (its
	// IsConnected is true while it reconnects, and it would replay its
	// store unordered).
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
	o.SetConnectionLostHandler(func(_ paho.Client, err error) { s.lostSession(sess, err) })
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
// once when the sink is closed.
func (s *Sink) dial(uri *url.URL, o paho.ClientOptions) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(s.dialCtx, o.ConnectTimeout)
	defer cancel()
	nd := &net.Dialer{}
	switch uri.Scheme {
	case "tcp", "mqtt":
		return nd.DialContext(ctx, "tcp", uri.Host)
	case "ssl", "tls", "mqtts":
		td := &tls.Dialer{NetDialer: nd, Config: o.TLSConfig}
		return td.DialContext(ctx, "tcp", uri.Host)
	case "ws", "wss":
		var tc *tls.Config
		if uri.Scheme == "wss" {
			tc = o.TLSConfig
		}
		return paho.NewWebsocket(uri.String(), tc, o.ConnectTimeout, o.HTTPHeaders, o.WebsocketOptions)
	}
	return nil, fmt.Errorf("unsupported scheme %q", uri.Scheme)
}

// connect makes one connection attempt. It never waits on paho for longer
// than connect_timeout and a second: should paho fail to complete the
// attempt (a connection lost while it is being set up), the caller
// abandons the session.
func (s *Sink) connect(sess *session) error {
	tok := sess.client.Connect()
	timer := time.NewTimer(s.cfg.ConnectTimeout.D() + time.Second)
	defer timer.Stop()
	select {
	case <-tok.Done():
		return tok.Error()
	case <-s.stop:
		return errClosing
	case <-timer.C:
		return errConnectTimeout
	}
}

// waits bound the wait for each acknowledgement.
type waits struct {
	abort    <-chan struct{} // closed: give up (nil: never)
	each     time.Duration   // longest wait for one acknowledgement
	deadline time.Time       // end of every wait (zero: none)
}

func (w waits) timeout() time.Duration {
	d := w.each
	if !w.deadline.IsZero() {
		d = min(d, time.Until(w.deadline))
	}
	return max(d, 0)
}

// wait waits for tok's completion, the loss of the connection, the abort
// signal or the timeout, whichever comes first.
func (s *Sink) wait(sess *session, tok paho.Token, w waits) error {
	timer := time.NewTimer(w.timeout())
	defer timer.Stop()
	select {
	case <-tok.Done():
		return tok.Error()
	case <-sess.lost:
		return fmt.Errorf("%w: %v", errConnLost, sess.err)
	case <-w.abort:
		return errClosing
	case <-timer.C:
		return errAckTimeout
	}
}

func (s *Sink) publish(sess *session, m message, w waits) error {
	if err := s.wait(sess, sess.client.Publish(m.topic, m.qos, m.retain, m.payload), w); err != nil {
		return fmt.Errorf("publish to %s: %w", m.topic, err)
	}
	return nil
}

// publishAll sends msgs back to back, then waits for every one.
func (s *Sink) publishAll(sess *session, msgs []message, w waits) error {
	toks := make([]paho.Token, len(msgs))
	for i, m := range msgs {
		toks[i] = sess.client.Publish(m.topic, m.qos, m.retain, m.payload)
	}
	for i, t := range toks {
		if err := s.wait(sess, t, w); err != nil {
			return fmt.Errorf("publish to %s: %w", msgs[i].topic, err)
		}
	}
	return nil
}

// subscribeBirth listens for Home Assistant's birth message. A broker that
// refuses the subscription (ACL) only costs the re-send on Home Assistant's
// restarts: it is logged, not fatal.
func (s *Sink) subscribeBirth(sess *session, w waits) error {
	tok := sess.client.Subscribe(s.t.haStatus, 1, s.onHomeAssistantStatus)
	if err := s.wait(sess, tok, w); err != nil {
		return fmt.Errorf("subscribe to %s: %w", s.t.haStatus, err)
	}
	if st, ok := tok.(*paho.SubscribeToken); ok {
		for _, code := range st.Result() {
			if code >= 0x80 {
				s.log.Warn("broker refused the subscription to Home Assistant's status: discovery is re-sent only at reconnection", "topic", s.t.haStatus)
			}
		}
	}
	return nil
}

// onHomeAssistantStatus runs on paho's goroutine and must not block. A
// retained "online" arrives at each subscription and is ignored: the
// configs go with each new session. A birth makes the next Write send the
// configs again, and the alarm state; the statistics follow as usual.
func (s *Sink) onHomeAssistantStatus(_ paho.Client, m paho.Message) {
	if m.Retained() || string(m.Payload()) != haOnline {
		return
	}
	s.mu.Lock()
	s.birth = true
	s.mu.Unlock()
}

func (s *Sink) deliveredCount() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.delivered
}
