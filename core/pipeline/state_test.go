package pipeline

import (
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"netspot/core/analyzer"
	"netspot/core/config"
)

// The keeper writes the state in the background every save_every, keeps
// only the latest when writes fall behind, and writes the final state at
// close, leaving no temporary file.
func TestStateKeeperSavesInTheBackground(t *testing.T) {
	an, err := analyzer.New(analyzer.DefaultConfig(), analyzer.DefaultSpotConfig(), analyzer.Options{RunID: "t"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	cfg := analyzer.DefaultConfig()
	cfg.StateFile, cfg.SaveEvery = path, config.Duration(time.Minute)
	k, err := openState(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	k.maybeSave(an, t0)                  // starts the clock
	k.maybeSave(an, t0.Add(time.Second)) // too early
	for i := 1; i <= 50; i++ {           // faster than the writer: states replace each other
		k.maybeSave(an, t0.Add(time.Duration(i)*time.Minute))
	}
	final := t0.Add(2 * time.Hour)
	k.close(an, final)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var saved struct{ Saved time.Time }
	if err := json.Unmarshal(b, &saved); err != nil || !saved.Saved.Equal(final) {
		t.Errorf("state file saved at %v (%v), want the final state of %v", saved.Saved, err, final)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != "state.json" && e.Name() != "state.json.lock" {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}

// Two pipelines may not share a state file: the second is refused with
// the key to change.
func TestStateFileIsLocked(t *testing.T) {
	cfg := analyzer.DefaultConfig()
	cfg.StateFile = filepath.Join(t.TempDir(), "state.json")
	log := slog.New(slog.DiscardHandler)
	k, err := openState(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	_, err = openState(cfg, log)
	var p *config.Problem
	if !errors.As(err, &p) || p.Key != "analyzer.state_file" {
		t.Fatalf("second keeper: %v", err)
	}
	k.close(nil, time.Now())
	k2, err := openState(cfg, log)
	if err != nil {
		t.Fatalf("after the first closed: %v", err)
	}
	k2.close(nil, time.Now())
}
