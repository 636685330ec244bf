package mqtt

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"netspot/core/atomicfile"
)

// The outbox keeps each alarm in its own file, <seq>.alarm, written to a
// temporary name, fsynced, renamed and the directory fsynced, so that after a
// power cut a file is either complete or absent. The sequence number in the
// name gives the delivery order. A file is removed (and the directory
// fsynced) as soon as the broker has acknowledged its alarm.
//
// A file holds one record:
//
//	magic "NSPA" | version 1 | uvarint len(id) | id | uvarint len(payload) | payload | CRC-32C (big endian) of all before
//
// A file that does not decode is moved to the corrupt/ subdirectory and
// logged, never deleted: a human may want to look at it.

const (
	recordMagic    = "NSPA"
	recordVersion  = 1
	maxAlarmID     = 256
	maxPayload     = 64 << 10
	maxRecordSize  = len(recordMagic) + 1 + binary.MaxVarintLen64*2 + maxAlarmID + maxPayload + 4
	alarmExt       = ".alarm"
	tmpExt         = ".tmp"
	quarantineDir  = "corrupt"
	lockFileName   = "lock"
	seqDigits      = 20
	maxQuarantined = 1000 // beyond, corrupt files are left in place (still logged)
)

// checksum is CRC-32C (MakeTable caches the Castagnoli table itself).
func checksum(b []byte) uint32 { return crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)) }

// encodeRecord returns the bytes of one stored alarm.
func encodeRecord(id string, payload []byte) []byte {
	b := make([]byte, 0, len(recordMagic)+1+2*binary.MaxVarintLen64+len(id)+len(payload)+4)
	b = append(b, recordMagic...)
	b = append(b, recordVersion)
	b = binary.AppendUvarint(b, uint64(len(id)))
	b = append(b, id...)
	b = binary.AppendUvarint(b, uint64(len(payload)))
	b = append(b, payload...)
	return binary.BigEndian.AppendUint32(b, checksum(b))
}

// decodeRecord reads a record written by encodeRecord. It checks every
// length, the checksum and that the payload is JSON; the returned payload
// aliases b.
func decodeRecord(b []byte) (id string, payload []byte, err error) {
	const minLen = len(recordMagic) + 1 + 1 + 1 + 4
	if len(b) < minLen {
		return "", nil, fmt.Errorf("truncated: %d bytes", len(b))
	}
	if len(b) > maxRecordSize {
		return "", nil, fmt.Errorf("too large: %d bytes", len(b))
	}
	if string(b[:len(recordMagic)]) != recordMagic {
		return "", nil, errors.New("not an alarm record (bad magic)")
	}
	if v := b[len(recordMagic)]; v != recordVersion {
		return "", nil, fmt.Errorf("unknown record version %d", v)
	}
	body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if checksum(body) != sum {
		return "", nil, errors.New("checksum mismatch")
	}
	rest := body[len(recordMagic)+1:]
	idb, rest, err := readField(rest, maxAlarmID)
	if err != nil {
		return "", nil, fmt.Errorf("alarm id: %w", err)
	}
	payload, rest, err = readField(rest, maxPayload)
	if err != nil {
		return "", nil, fmt.Errorf("payload: %w", err)
	}
	if len(rest) != 0 {
		return "", nil, fmt.Errorf("%d unexpected bytes after the payload", len(rest))
	}
	if len(idb) == 0 || !utf8.Valid(idb) {
		return "", nil, errors.New("alarm id empty or not UTF-8")
	}
	if !json.Valid(payload) {
		return "", nil, errors.New("payload is not JSON")
	}
	return string(idb), payload, nil
}

// readField reads a uvarint length and that many bytes.
func readField(b []byte, limit int) (field, rest []byte, err error) {
	n, k := binary.Uvarint(b)
	if k <= 0 {
		return nil, nil, errors.New("bad length")
	}
	if n > uint64(limit) {
		return nil, nil, fmt.Errorf("length %d above %d", n, limit)
	}
	b = b[k:]
	if uint64(len(b)) < n {
		return nil, nil, errors.New("truncated")
	}
	return b[:n], b[n:], nil
}

// pending is one alarm waiting for the broker's acknowledgement.
type pending struct {
	seq     uint64
	id      string
	payload []byte
	onDisk  bool // false when writing its file failed: delivered from memory only
}

// store is the durable outbox of alarms. Its methods are safe for concurrent
// use: Persist adds (in the pipeline's goroutine), Write peeks and removes.
type store struct {
	dir  string
	max  int
	log  *slog.Logger
	lock *os.File

	mu      sync.Mutex
	queue   []*pending // oldest first
	next    uint64
	dropped uint64 // alarms dropped because the store was full
	closed  bool
}

// openStore creates dir if needed, takes its lock and loads the alarms left
// by a previous run, oldest first. Files that do not decode are quarantined.
func openStore(dir string, max int, log *slog.Logger) (*store, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	lock, err := atomicfile.Lock(filepath.Join(dir, lockFileName))
	if errors.Is(err, atomicfile.ErrLocked) {
		return nil, fmt.Errorf("%s: %w (each instance needs its own store_dir)", dir, err)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	s := &store{dir: dir, max: max, log: log, lock: lock, next: 1}
	if err := s.load(); err != nil {
		_ = lock.Close()
		return nil, err
	}
	return s, nil
}

func (s *store) load() error {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		name := e.Name()
		switch {
		case e.IsDir() || name == lockFileName:
			continue
		case strings.HasSuffix(name, tmpExt):
			// An alarm whose write was cut short: Persist never returned
			// for it, so it was never reported as stored.
			if err := os.Remove(filepath.Join(s.dir, name)); err != nil {
				s.log.Warn("cannot remove incomplete alarm file", "file", name, "err", err)
			}
			continue
		case !strings.HasSuffix(name, alarmExt):
			s.log.Warn("unexpected file in store_dir, left alone", "file", name)
			continue
		}
		seq, err := strconv.ParseUint(strings.TrimSuffix(name, alarmExt), 10, 64)
		if err != nil || seq == 0 {
			s.quarantine(name, errors.New("name is not a sequence number"))
			continue
		}
		// Never reuse a number, even a corrupt file's: the order stays
		// clear to whoever looks at the quarantine.
		s.next = max(s.next, seq+1)
		path := filepath.Join(s.dir, name)
		id, payload, err := readRecordFile(path)
		if err != nil {
			s.quarantine(name, err)
			continue
		}
		s.queue = append(s.queue, &pending{seq: seq, id: id, payload: payload, onDisk: true})
	}
	slices.SortFunc(s.queue, func(a, b *pending) int {
		switch {
		case a.seq < b.seq:
			return -1
		case a.seq > b.seq:
			return 1
		}
		return 0
	})
	for len(s.queue) > s.max {
		s.dropOldestLocked("store_max is below the number of stored alarms")
	}
	return nil
}

func readRecordFile(path string) (string, []byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", nil, err
	}
	if st.Size() > int64(maxRecordSize) {
		return "", nil, fmt.Errorf("too large: %d bytes", st.Size())
	}
	b := make([]byte, st.Size())
	if _, err := f.ReadAt(b, 0); err != nil && st.Size() > 0 {
		return "", nil, err
	}
	id, payload, err := decodeRecord(b)
	if err != nil {
		return "", nil, err
	}
	return id, bytes.Clone(payload), nil
}

// quarantine moves a file that cannot be read to corrupt/ and logs it.
func (s *store) quarantine(name string, why error) {
	qdir := filepath.Join(s.dir, quarantineDir)
	if err := os.MkdirAll(qdir, 0o750); err != nil {
		s.log.Error("corrupt alarm file cannot be quarantined: left in place", "file", name, "problem", why, "err", err)
		return
	}
	if n, _ := os.ReadDir(qdir); len(n) >= maxQuarantined {
		s.log.Error("corrupt alarm file left in place: quarantine full", "file", name, "problem", why)
		return
	}
	target := filepath.Join(qdir, name)
	// A free name: the file's, or with a number. Any answer but "does not
	// exist" (a name too long, no permission) after a few tries leaves the
	// file in place rather than looping.
	for i := 1; ; i++ {
		_, err := os.Lstat(target)
		if os.IsNotExist(err) {
			break
		}
		if err != nil || i > 1000 {
			s.log.Error("corrupt alarm file cannot be quarantined: left in place", "file", name, "problem", why, "err", err)
			return
		}
		target = filepath.Join(qdir, fmt.Sprintf("%s.%d", name, i))
	}
	if err := os.Rename(filepath.Join(s.dir, name), target); err != nil {
		s.log.Error("corrupt alarm file cannot be quarantined: left in place", "file", name, "problem", why, "err", err)
		return
	}
	_ = atomicfile.SyncDir(s.dir)
	s.log.Error("corrupt alarm file moved aside: this alarm cannot be delivered", "file", name, "problem", why, "moved_to", qdir)
}

// newAlarm is an alarm to store: its id and its encoded payload.
type newAlarm struct {
	id      string
	payload []byte
}

// add stores one alarm; see addAll.
func (s *store) add(id string, payload []byte) error {
	return s.addAll([]newAlarm{{id, payload}})
}

// addAll stores alarms durably and queues them, in order: each file is
// written and fsynced, then the directory is fsynced once for all. When the
// store is full, the oldest waiting alarm is dropped first (logged and
// counted). If a file cannot be written its alarm is still queued in
// memory, and the error says it would not survive a restart.
func (s *store) addAll(alarms []newAlarm) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	var errs []error
	written := false
	for _, a := range alarms {
		if len(s.queue) >= s.max {
			s.dropOldestLocked("store_max reached")
		}
		p := &pending{seq: s.next, id: a.id, payload: a.payload}
		s.next++
		s.queue = append(s.queue, p)
		if a.id == "" || len(a.id) > maxAlarmID || !utf8.ValidString(a.id) || len(a.payload) > maxPayload {
			errs = append(errs, fmt.Errorf("mqtt: alarm %.64q kept in memory only: its id is empty, not UTF-8 or above %d bytes, or its payload above %d bytes", a.id, maxAlarmID, maxPayload))
			continue
		}
		if err := s.writeFile(p.seq, encodeRecord(a.id, a.payload)); err != nil {
			errs = append(errs, fmt.Errorf("mqtt: alarm %s kept in memory only (lost if netspot stops before delivery): %w", a.id, err))
			continue
		}
		p.onDisk, written = true, true
	}
	if written {
		if err := atomicfile.SyncDir(s.dir); err != nil {
			errs = append(errs, fmt.Errorf("mqtt: sync %s: %w (stored alarms may not survive a power cut)", s.dir, err))
		}
	}
	return errors.Join(errs...)
}

func (s *store) fileName(seq uint64) string {
	return filepath.Join(s.dir, fmt.Sprintf("%0*d%s", seqDigits, seq, alarmExt))
}

func (s *store) writeFile(seq uint64, rec []byte) error {
	final := s.fileName(seq)
	tmp := final + tmpExt
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	_, err = f.Write(rec)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, final)
	}
	if err != nil {
		_ = os.Remove(tmp)
	}
	return err
}

func (s *store) dropOldestLocked(why string) {
	p := s.queue[0]
	s.queue[0] = nil
	s.queue = s.queue[1:]
	s.dropped++
	if p.onDisk {
		if err := os.Remove(s.fileName(p.seq)); err != nil && !errors.Is(err, os.ErrNotExist) {
			s.log.Error("cannot remove dropped alarm file", "err", err)
		}
	}
	s.log.Error("alarm store full: oldest undelivered alarm dropped", "reason", why,
		"alarm_id", p.id, "store_max", s.max, "dropped_total", s.dropped)
}

// head returns the oldest waiting alarm, or nil.
func (s *store) head() *pending {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || len(s.queue) == 0 {
		return nil
	}
	return s.queue[0]
}

// remove forgets an alarm the broker acknowledged. The file is removed and
// the directory synced before remove returns, so that a restart does not
// send it again.
func (s *store) remove(p *pending) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.Index(s.queue, p)
	if i < 0 {
		return nil // dropped meanwhile
	}
	s.queue = slices.Delete(s.queue, i, i+1)
	if !p.onDisk {
		return nil
	}
	if err := os.Remove(s.fileName(p.seq)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("mqtt: delivered alarm %s: remove its file: %w (it will be sent again at the next start)", p.id, err)
	}
	return atomicfile.SyncDir(s.dir)
}

// len returns the number of waiting alarms.
func (s *store) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}

func (s *store) droppedCount() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped
}

// close releases the directory lock; waiting alarms stay on disk. It returns
// how many are waiting and how many of those exist only in memory.
func (s *store) close() (waiting, memOnly int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, 0
	}
	s.closed = true
	for _, p := range s.queue {
		if !p.onDisk {
			memOnly++
		}
	}
	_ = s.lock.Close()
	return len(s.queue), memOnly
}
