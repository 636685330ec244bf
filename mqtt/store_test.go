package mqtt

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func openTestStore(t *testing.T, dir string, max int, log *slog.Logger) *store {
	t.Helper()
	if log == nil {
		log = slogDiscard()
	}
	s, err := openStore(dir, max, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.close() })
	return s
}

func storedIDs(s *store) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for _, p := range s.queue {
		ids = append(ids, p.id)
	}
	return ids
}

func payloadFor(id string) []byte { return []byte(`{"type":"alarm","id":"` + id + `"}`) }

func TestStoreKeepsOrderAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir, 100, nil)
	// More than 9 entries, so that a lexical sort of unpadded numbers
	// would get the order wrong.
	for _, id := range seqIDs("s-", 1, 12) {
		if err := s.add(id, payloadFor(id)); err != nil {
			t.Fatal(err)
		}
	}
	// Deliver the first two.
	for range 2 {
		if err := s.remove(s.head()); err != nil {
			t.Fatal(err)
		}
	}
	s.close()

	s2 := openTestStore(t, dir, 100, nil)
	if got, want := storedIDs(s2), seqIDs("s-", 3, 12); !slices.Equal(got, want) {
		t.Fatalf("after restart: %v, want %v", got, want)
	}
	if p := s2.head(); !bytes.Equal(p.payload, payloadFor("s-003")) {
		t.Errorf("payload %s", p.payload)
	}
	// New alarms go after the old ones, also after another restart.
	if err := s2.add("s-013", payloadFor("s-013")); err != nil {
		t.Fatal(err)
	}
	s2.close()
	s3 := openTestStore(t, dir, 100, nil)
	if got, want := storedIDs(s3), seqIDs("s-", 3, 13); !slices.Equal(got, want) {
		t.Errorf("after second restart: %v, want %v", got, want)
	}
}

func TestStoreBoundDropsOldest(t *testing.T) {
	dir := t.TempDir()
	log, buf := testLog()
	s := openTestStore(t, dir, 3, log)
	for _, id := range seqIDs("b-", 1, 5) {
		if err := s.add(id, payloadFor(id)); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := storedIDs(s), seqIDs("b-", 3, 5); !slices.Equal(got, want) {
		t.Errorf("kept %v, want %v", got, want)
	}
	if s.droppedCount() != 2 || count(buf, "alarm_id=b-001") != 1 || count(buf, "alarm_id=b-002") != 1 {
		t.Errorf("dropped %d; log:\n%s", s.droppedCount(), buf)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"+alarmExt))
	if len(files) != 3 {
		t.Errorf("%d files on disk, want 3", len(files))
	}
	// A smaller store_max at the next start drops the oldest too.
	s.close()
	s2 := openTestStore(t, dir, 2, log)
	if got, want := storedIDs(s2), seqIDs("b-", 4, 5); !slices.Equal(got, want) {
		t.Errorf("with store_max 2: %v, want %v", got, want)
	}
}

func TestStoreQuarantinesCorruptFiles(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir, 100, nil)
	for _, id := range seqIDs("q-", 1, 4) {
		if err := s.add(id, payloadFor(id)); err != nil {
			t.Fatal(err)
		}
	}
	s.close()
	name := func(seq int) string { return fmt.Sprintf("%020d%s", seq, alarmExt) }
	// Flip a payload byte of the second, truncate the third.
	b, _ := os.ReadFile(filepath.Join(dir, name(2)))
	b[len(b)-6] ^= 0xff
	if err := os.WriteFile(filepath.Join(dir, name(2)), b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(filepath.Join(dir, name(3)), 7); err != nil {
		t.Fatal(err)
	}
	// A file with a name that is not a sequence number, an interrupted
	// write, and an unrelated file.
	os.WriteFile(filepath.Join(dir, "junk"+alarmExt), []byte("x"), 0o600)
	os.WriteFile(filepath.Join(dir, name(9)+tmpExt), []byte("partial"), 0o600)
	os.WriteFile(filepath.Join(dir, "README"), []byte("mine"), 0o600)

	log, buf := testLog()
	s2 := openTestStore(t, dir, 100, log)
	if got, want := storedIDs(s2), []string{"q-001", "q-004"}; !slices.Equal(got, want) {
		t.Errorf("loaded %v, want %v", got, want)
	}
	for _, n := range []string{name(2), name(3), "junk" + alarmExt} {
		if _, err := os.Stat(filepath.Join(dir, quarantineDir, n)); err != nil {
			t.Errorf("%s not quarantined: %v", n, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, name(9)+tmpExt)); !os.IsNotExist(err) {
		t.Error("interrupted write not cleaned up")
	}
	if _, err := os.Stat(filepath.Join(dir, "README")); err != nil {
		t.Error("unrelated file removed")
	}
	if n := count(buf, "corrupt alarm file moved aside"); n != 3 {
		t.Errorf("%d quarantine errors logged, want 3:\n%s", n, buf)
	}
	if !strings.Contains(buf.String(), "checksum mismatch") {
		t.Errorf("log does not say why:\n%s", buf)
	}
}

func TestStoreKeepsAlarmInMemoryWhenDiskFails(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root ignores directory permissions; the failure cannot be provoked this way")
	}
	dir := t.TempDir()
	s := openTestStore(t, dir, 100, nil)
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dir, 0o700)
	err := s.add("m-001", payloadFor("m-001"))
	if err == nil || !strings.Contains(err.Error(), "memory only") {
		t.Fatalf("add on a read-only dir: %v", err)
	}
	if got := storedIDs(s); !slices.Equal(got, []string{"m-001"}) {
		t.Errorf("queued %v", got)
	}
	if waiting, memOnly := s.close(); waiting != 1 || memOnly != 1 {
		t.Errorf("close: %d waiting, %d in memory only", waiting, memOnly)
	}
}

func TestRecordRoundTrip(t *testing.T) {
	for _, tc := range []struct{ id, payload string }{
		{"a", `{}`},
		{"2026-03-01T12:00:00Z/R_SYN/up", `{"type":"alarm","id":"x","value":null}`},
		{strings.Repeat("i", maxAlarmID), `"` + strings.Repeat("p", 1000) + `"`},
	} {
		rec := encodeRecord(tc.id, []byte(tc.payload))
		id, payload, err := decodeRecord(rec)
		if err != nil || id != tc.id || string(payload) != tc.payload {
			t.Errorf("round trip of %q: %q %q %v", tc.id, id, payload, err)
		}
	}
	bad := map[string][]byte{
		"empty":     nil,
		"magic":     append([]byte("XXXX"), encodeRecord("a", []byte("{}"))[4:]...),
		"empty id":  encodeRecord("", []byte("{}")),
		"not json":  encodeRecord("a", []byte("{")),
		"bad utf8":  encodeRecord("\xff", []byte("{}")),
		"long id":   encodeRecord(strings.Repeat("i", maxAlarmID+1), []byte("{}")),
		"truncated": encodeRecord("a", []byte("{}"))[:9],
	}
	for name, b := range bad {
		if _, _, err := decodeRecord(b); err == nil {
			t.Errorf("%s: decoded without error", name)
		}
	}
}

// FuzzDecodeRecord: any file content gives a record or an error, never a
// panic; what decodes re-encodes to the same bytes.
func FuzzDecodeRecord(f *testing.F) {
	f.Add(encodeRecord("a-1", []byte(`{"type":"alarm"}`)))
	f.Add(encodeRecord("x", []byte(`null`)))
	f.Add([]byte("NSPA\x01\x01a\x02{}\x00\x00\x00\x00"))
	f.Add([]byte("NSPA\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		id, payload, err := decodeRecord(b)
		if err != nil {
			return
		}
		if id == "" || len(id) > maxAlarmID || len(payload) > maxPayload {
			t.Fatalf("accepted id %q, payload of %d bytes", id, len(payload))
		}
		if re := encodeRecord(id, payload); !bytes.Equal(re, b) {
			t.Fatalf("re-encoding differs:\n%q\n%q", re, b)
		}
	})
}

// FuzzStoreLoad: whatever files a power cut or a bad card leaves in
// store_dir, opening the store never panics, and what it loads is valid.
func FuzzStoreLoad(f *testing.F) {
	f.Add(encodeRecord("a-1", []byte(`{}`)), []byte("garbage"))
	f.Add([]byte{}, encodeRecord("b", []byte(`[1]`)))
	f.Fuzz(func(t *testing.T, first, second []byte) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("%020d%s", 1, alarmExt)), first, 0o600)
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("%020d%s", 2, alarmExt)), second, 0o600)
		s, err := openStore(dir, 10, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		defer s.close()
		for _, p := range s.queue {
			if p.id == "" || !p.onDisk {
				t.Fatalf("bad entry %+v", p)
			}
		}
		if err := s.add("new", []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
		if s.queue[len(s.queue)-1].seq <= 2 {
			t.Fatal("new alarm not after the loaded ones")
		}
	})
}

func TestStoreRefusesInvalidIDsToDiskButKeepsThem(t *testing.T) {
	s := openTestStore(t, t.TempDir(), 10, nil)
	err := s.addAll([]newAlarm{{"ok-1", payloadFor("ok-1")}, {"", payloadFor("")}, {"ok-2", payloadFor("ok-2")}})
	if err == nil || !strings.Contains(err.Error(), "memory only") {
		t.Fatalf("empty id: err = %v", err)
	}
	if got := storedIDs(s); !slices.Equal(got, []string{"ok-1", "", "ok-2"}) {
		t.Errorf("queued %q", got)
	}
	if _, memOnly := s.close(); memOnly != 1 {
		t.Errorf("%d alarms in memory only, want 1", memOnly)
	}
}

// A corrupt file whose name cannot take a number in corrupt/ (it is as long
// as a name may be, and taken there) is left in place: opening the store
// does not loop.
func TestStoreQuarantineNameTaken(t *testing.T) {
	dir := t.TempDir()
	long := strings.Repeat("x", 255-len(alarmExt)) + alarmExt
	if err := os.MkdirAll(filepath.Join(dir, quarantineDir), 0o750); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(dir, long), filepath.Join(dir, quarantineDir, long)} {
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	log, buf := testLog()
	done := make(chan struct{})
	go func() {
		openTestStore(t, dir, 100, log).close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("opening the store loops on a corrupt file it cannot move")
	}
	if !strings.Contains(buf.String(), "left in place") {
		t.Errorf("log:\n%s", buf)
	}
}
