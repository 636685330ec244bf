package main

import (
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"netspot/core/analyzer"
)

// The keeper writes the state in the background every save_every, keeps
// only the latest when writes fall behind, and writes the final state at
// stop.
func TestStateKeeperSavesInTheBackground(t *testing.T) {
	an, err := analyzer.New(analyzer.DefaultConfig(), analyzer.DefaultSpotConfig(), analyzer.Options{RunID: "t"})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "state.json")
	k := &stateKeeper{path: path, every: time.Minute, an: an, log: slog.New(slog.DiscardHandler)}
	k.start()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	k.maybeSave(t0)                  // starts the clock
	k.maybeSave(t0.Add(time.Second)) // too early
	for i := 1; i <= 50; i++ {       // faster than the writer: states replace each other
		k.maybeSave(t0.Add(time.Duration(i) * time.Minute))
	}
	final := t0.Add(2 * time.Hour)
	k.stop(final)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var saved struct{ Saved time.Time }
	if err := json.Unmarshal(b, &saved); err != nil || !saved.Saved.Equal(final) {
		t.Errorf("state file saved at %v (%v), want the final state of %v", saved.Saved, err, final)
	}
	if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("temporary file left behind: %v", err)
	}
}
