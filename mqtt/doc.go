// Package mqtt publishes netspot's statistics and alarms to an MQTT broker
// (mosquitto, EMQX, the Home Assistant add-on), with Home Assistant MQTT
// discovery, and never loses an alarm on the way.
//
// Topics, with P = <topic_prefix>/<node_id>:
//
//	P/status          retained "online" / "offline" (the will sets "offline")
//	P/stats           one JSON record per period (event.AppendDataJSON)
//	P/stat/<STAT>     one JSON state per statistic (event.AppendStatJSON plus "end")
//	P/alarm           one JSON message per alarm (event.AppendAlarmJSON), QoS qos_alarms
//	P/alarm/state     retained "ON" while any alarm is active, else "OFF"
//	<discovery_prefix>/sensor/<node_id>_<STAT>/config, .../binary_sensor/<node_id>_alarm/config,
//	.../event/<node_id>_alarms/config
//
// # Delivery: a transport on the fan-out's queue
//
// The sink keeps no queue and no reconnection loop of its own: the
// fan-out's queue for this sink (stats_queue periods) is the buffer, and
// its backoff (1s doubling up to reconnect_max, with jitter) paces the
// attempts. Each Write opens a session if there is none (bounded by
// connect_timeout; then "online" on P/status, the subscription to Home
// Assistant's status and the discovery configs), delivers the alarms
// waiting in store_dir, the alarm state when it changed and the Record's
// statistics, and waits for their acknowledgements, each wait bounded.
// Any failure drops the session (abruptly, so that the broker publishes
// the will) and returns sink.Unreachable: the fan-out keeps the Record
// and writes it again later. While the broker is away a live capture
// loses periods of statistics beyond stats_queue (counted and logged by
// the fan-out, once per outage), never alarms; a replay waits for the
// broker and loses nothing. The backoff starts again from 1s only after
// a Write succeeded, so a broker that accepts the client and drops it at
// once is not hammered. Home Assistant's birth message (below) is acted on
// by the next Write: discovery configs, alarm state, then the statistics.
//
// # Alarms: a durable, ordered outbox
//
// Persist, which the fan-out calls for every Record with alarms before
// the Record goes to any sink, stores each alarm in its own file in
// store_dir (fsync of the file and of the directory). Write delivers the
// stored alarms in the order they were raised, one at a time, with QoS
// qos_alarms, and removes an alarm's file (fsync again) only once the
// broker has acknowledged it (PUBACK, or PUBCOMP at QoS 2). An alarm that
// was not acknowledged is published again at the next attempt, or after a
// restart of netspot, with the same payload and id.
//
// We keep our own outbox rather than paho's persistent session
// (CleanSession=false with a FileStore) because that session falls short
// here: paho's file store does not fsync, panics on a write error (a full
// card), and orders the messages it resends by file modification time; a
// message resumed after a reconnection completes the original token as if
// it had been acknowledged; with autoreconnect, IsConnected reports true
// while reconnecting and a QoS 0 publish is then dropped silently; and the
// broker's half of a session does not survive a broker crash (kill -9 of a
// mosquitto that had not saved it). So the client runs with
// CleanSession=true and without paho's autoreconnect. Handlers given to
// paho never block.
//
// Delivery is at least once on the wire and exactly once in the usual
// failures: broker down at start, broker killed and restarted, netspot
// restarted with alarms waiting. The one window for a duplicate is an alarm
// that reached the broker whose acknowledgement was lost with the
// connection; consumers can drop it by its id, which is unique across
// restarts. An acknowledged alarm's file is removed before the next alarm is
// sent, so a restart does not send it again.
//
// The store is bounded by store_max alarms. When it is full, the oldest
// waiting alarm is dropped to make room: the loss is logged as an error and
// counted (DroppedAlarms). A store file that does not decode is moved to
// store_dir/corrupt and logged. If an alarm cannot be written (disk full,
// read-only card), it is still delivered from memory and Persist returns an
// error saying it would not survive a restart. store_dir is locked so that
// two processes never share it.
//
// Close, bounded by close_timeout, hands over the alarms still waiting if
// a session is open, publishes "offline" and disconnects; what is not
// delivered stays in store_dir for the next start.
//
// # Home Assistant
//
// With homeassistant on, each connection publishes the retained discovery
// configs (one sensor per statistic, a binary sensor for the alarm state,
// an event entity that fires once per alarm published on P/alarm, with
// unique_id, default_entity_id, a device and an origin block, and
// availability on P/status), and subscribes to <discovery_prefix>/status:
// when Home Assistant announces "online" the configs and the latest states
// are sent again.
package mqtt
