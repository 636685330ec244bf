package pipeline

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"netspot/core/analyzer"
	"netspot/core/atomicfile"
	"netspot/core/config"
)

// stateKeeper saves the detectors to a file now and then, and restores them
// at start, so that a restart resumes watching instead of learning again.
// The state is taken in the pipeline's goroutine (in memory, quickly) and
// written by a goroutine of its own, so that a slow SD card never holds
// capture up. A lock file beside the state keeps two netspot processes from
// sharing it.
type stateKeeper struct {
	path  string
	every time.Duration
	log   *slog.Logger
	lock  *os.File
	last  time.Time

	pending chan []byte   // capacity 1: the latest state waiting to be written
	written chan struct{} // closed when the writer has finished
}

// openState locks the state file of cfg; nothing when no file is set.
func openState(cfg analyzer.Config, log *slog.Logger) (*stateKeeper, error) {
	k := &stateKeeper{path: cfg.StateFile, every: cfg.SaveEvery.D(), log: log}
	if k.path == "" {
		return k, nil
	}
	lock, err := atomicfile.Lock(k.path + ".lock")
	if err != nil {
		if errors.Is(err, atomicfile.ErrLocked) {
			return nil, &config.Problem{Key: "analyzer.state_file", Err: fmt.Errorf("%s is %w: give each instance its own state file", k.path, err)}
		}
		return nil, &config.Problem{Key: "analyzer.state_file", Err: err}
	}
	k.lock = lock
	k.pending = make(chan []byte, 1)
	k.written = make(chan struct{})
	go func() {
		defer close(k.written)
		for b := range k.pending {
			k.write(b)
		}
	}()
	return k, nil
}

// restore loads the saved detectors into an.
func (k *stateKeeper) restore(an *analyzer.Analyzer) {
	if k.path == "" {
		return
	}
	f, err := os.Open(k.path)
	if errors.Is(err, os.ErrNotExist) {
		k.log.Info("no saved detector state: learning from scratch", "state_file", k.path)
		return
	}
	if err != nil {
		k.log.Warn("cannot read detector state: learning from scratch", "err", err)
		return
	}
	defer f.Close()
	rep, err := an.LoadState(f)
	if err != nil {
		k.log.Warn("ignoring detector state: learning from scratch", "err", err)
		return
	}
	k.log.Info("detector state restored", "saved", rep.Saved, "restored", len(rep.Restored), "learning", len(rep.Skipped))
	for name, why := range rep.Skipped {
		k.log.Info("detector learns from scratch", "stat", name, "reason", why)
	}
}

// maybeSave hands the state to the writer when save_every has passed. A
// state still waiting is replaced: only the latest matters.
func (k *stateKeeper) maybeSave(an *analyzer.Analyzer, now time.Time) {
	if k.path == "" {
		return
	}
	if k.last.IsZero() {
		k.last = now
		return
	}
	if now.Sub(k.last) < k.every {
		return
	}
	k.last = now
	b, ok := k.snapshot(an, now)
	if !ok {
		return
	}
	select {
	case k.pending <- b:
	default:
		// Only this goroutine sends: once the old state is taken out,
		// there is room.
		select {
		case <-k.pending:
		default:
		}
		k.pending <- b
	}
}

// close waits for the writer, saves the final state of an (when not nil)
// and releases the lock.
func (k *stateKeeper) close(an *analyzer.Analyzer, now time.Time) {
	if k.path == "" {
		return
	}
	close(k.pending)
	<-k.written
	if an != nil {
		if b, ok := k.snapshot(an, now); ok {
			k.write(b)
		}
	}
	k.lock.Close()
}

func (k *stateKeeper) snapshot(an *analyzer.Analyzer, now time.Time) ([]byte, bool) {
	var buf bytes.Buffer
	if err := an.SaveState(&buf, now); err != nil {
		k.log.Error("cannot save detector state", "err", err)
		return nil, false
	}
	return buf.Bytes(), true
}

func (k *stateKeeper) write(b []byte) {
	if err := atomicfile.Write(k.path, b, 0o644); err != nil {
		k.log.Error("cannot save detector state", "state_file", k.path, "err", err)
	}
}
