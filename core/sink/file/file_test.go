package file

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"netspot/core/config"
	"netspot/core/event"
)

func record(alarms int) *event.Record {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := &event.Record{Start: t0, End: t0.Add(time.Second), Stats: []event.Stat{{Name: "R_SYN", Value: 0.5}}}
	for i := range alarms {
		r.Alarms = append(r.Alarms, event.Alarm{ID: string(rune('a' + i)), Stat: "R_SYN", Start: t0, End: t0.Add(time.Second)})
	}
	return r
}

func lines(t *testing.T, p string) []map[string]any {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("%s: invalid JSON line %q: %v", p, sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

func TestSeparateFilesWithSeriesName(t *testing.T) {
	dir := t.TempDir()
	s, err := New(Config{Data: filepath.Join(dir, "%s-data.json"), Alarm: filepath.Join(dir, "%s-alarm.json")}, "office")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []*event.Record{record(0), record(2), record(0)} {
		if err := s.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if d := lines(t, filepath.Join(dir, "office-data.json")); len(d) != 3 || d[0]["type"] != "data" {
		t.Errorf("data file: %v", d)
	}
	if a := lines(t, filepath.Join(dir, "office-alarm.json")); len(a) != 2 || a[1]["id"] != "b" {
		t.Errorf("alarm file: %v", a)
	}
}

func TestOneFileForBothAppends(t *testing.T) {
	p := filepath.Join(t.TempDir(), "all.json")
	for range 2 { // a second run appends
		s, err := New(Config{Data: p, Alarm: p}, "x")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Write(record(1)); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	got := lines(t, p)
	if len(got) != 4 || got[0]["type"] != "data" || got[1]["type"] != "alarm" || got[3]["type"] != "alarm" {
		t.Errorf("got %v", got)
	}
}

func TestBadPaths(t *testing.T) {
	var fe *config.FieldError
	_, err := New(Config{Data: "/nonexistent-dir/x.json"}, "x")
	if !errors.As(err, &fe) || fe.Key != "data" {
		t.Errorf("missing directory: %v", err)
	}
	err = Config{Alarm: "%s-%s.json"}.Validate()
	if !errors.As(err, &fe) || fe.Key != "alarm" {
		t.Errorf("two %%s: %v", err)
	}
	if err := (Config{Data: "%d.json"}).Validate(); err == nil {
		t.Error("a verb other than the series name was accepted")
	}
	if got := Path("100%%-%s.json", "eth0"); got != "100%-eth0.json" {
		t.Errorf("Path = %q", got)
	}
}

// TestFailingDataFileKeepsAlarms: when the data file cannot be written (here
// /dev/full, a device that is always full), the alarms still reach theirs.
func TestFailingDataFileKeepsAlarms(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full on this system")
	}
	alarms := filepath.Join(t.TempDir(), "alarms.json")
	s, err := New(Config{Data: "/dev/full", Alarm: alarms}, "x")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Write(record(2)); err == nil || !strings.Contains(err.Error(), "/dev/full") {
		t.Errorf("Write = %v, want the data file's error", err)
	}
	if a := lines(t, alarms); len(a) != 2 {
		t.Errorf("alarm file has %d lines, want the 2 alarms of the record", len(a))
	}
}

// TestWriteAfterFailure: a file that failed once is written again by the
// next record, once it works.
func TestWriteAfterFailure(t *testing.T) {
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skip("no /dev/full on this system")
	}
	defer full.Close()
	p := filepath.Join(t.TempDir(), "data.json")
	s, err := New(Config{Data: p}, "x")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	good := s.data
	s.data = full // the disk is full for one record
	if err := s.Write(record(0)); err == nil {
		t.Fatal("Write to a full device succeeded")
	}
	s.data = good
	for range 2 {
		if err := s.Write(record(0)); err != nil {
			t.Fatalf("Write after the failure: %v", err)
		}
	}
	if d := lines(t, p); len(d) != 2 {
		t.Errorf("data file has %d lines, want the 2 records written after the failure", len(d))
	}
}

// TestDevicePath: a device or a pipe (/dev/stdout in a container) is a
// valid destination; it cannot be synced, which is no error at Close.
func TestDevicePath(t *testing.T) {
	if _, err := os.Stat(os.DevNull); err != nil {
		t.Skipf("no %s: %v", os.DevNull, err)
	}
	s, err := New(Config{Data: os.DevNull, Alarm: os.DevNull}, "x")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Write(record(1)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}
