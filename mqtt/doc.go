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
// # Alarms: a durable, ordered outbox
//
// Write stores each alarm in its own file in store_dir (fsync of the file
// and of the directory) before it returns. One goroutine delivers the
// stored alarms in the order they were raised, one at a time, with QoS
// qos_alarms, and removes an alarm's file (fsync again) only once the broker
// has acknowledged it (PUBACK, or PUBCOMP at QoS 2). An alarm that was not
// acknowledged is published again after a reconnection, or after a restart
// of netspot, with the same payload and id.
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
// CleanSession=true and without paho's autoreconnect: this package
// connects, notices the loss of the connection (keep-alive, the
// connection-lost callback, an acknowledgement timeout) and reconnects
// itself with exponential backoff and jitter, logging each change of state
// once. Handlers given to paho never block.
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
// read-only card), it is still delivered from memory and Write returns an
// error saying it would not survive a restart. store_dir is locked so that
// two processes never share it.
//
// # Statistics
//
// Statistics wait in a bounded in-memory queue of stats_queue periods;
// while the broker is unreachable the oldest are dropped and counted
// (Dropped), logged once per outage. They are published with QoS qos_stats,
// back to back, after the waiting alarms.
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
