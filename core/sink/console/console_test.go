package console

import (
	"bytes"
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
