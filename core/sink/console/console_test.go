package console

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"netspot/core/event"
)

func TestConsoleLines(t *testing.T) {
	r := &event.Record{Stats: []event.Stat{{Name: "TRAFFIC", Value: 3}},
		Alarms: []event.Alarm{{ID: "x-1", Stat: "TRAFFIC"}}}
	for _, c := range []struct {
		cfg  Config
		want []string
	}{
		{Config{Data: true, Alarm: true}, []string{`{"type":"data"`, `{"type":"alarm","id":"x-1"`}},
		{Config{Alarm: true}, []string{`{"type":"alarm","id":"x-1"`}},
		{Config{Data: true}, []string{`{"type":"data"`}},
	} {
		var out bytes.Buffer
		s := New(c.cfg, &out)
		if err := s.Write(r); err != nil {
			t.Fatal(err)
		}
		got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
		if len(got) != len(c.want) {
			t.Fatalf("%+v: got %q", c.cfg, got)
		}
		for i := range got {
			if !strings.HasPrefix(got[i], c.want[i]) {
				t.Errorf("%+v: line %d = %s, want prefix %s", c.cfg, i, got[i], c.want[i])
			}
		}
	}
}

// flaky fails its first write, then works.
type flaky struct {
	failed bool
	out    bytes.Buffer
}

func (f *flaky) Write(b []byte) (int, error) {
	if !f.failed {
		f.failed = true
		return 0, errors.New("stream not ready")
	}
	return f.out.Write(b)
}

func TestConsoleWriteAfterFailure(t *testing.T) {
	r := &event.Record{Alarms: []event.Alarm{{ID: "x-1", Stat: "TRAFFIC"}}}
	w := &flaky{}
	s := New(Config{Alarm: true}, w)
	if err := s.Write(r); err == nil {
		t.Fatal("the stream's error was not returned")
	}
	if err := s.Write(r); err != nil {
		t.Fatalf("Write after a failed one: %v", err)
	}
	if got := w.out.String(); !strings.HasPrefix(got, `{"type":"alarm","id":"x-1"`) || strings.Count(got, "\n") != 1 {
		t.Errorf("stream got %q, want the second alarm line", got)
	}
}
