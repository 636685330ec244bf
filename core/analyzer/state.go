package analyzer

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"netspot/spot"
)

// stateVersion changes whenever the layout of the state file changes.
const stateVersion = 1

// stateFile is what SaveState writes: each detector's own versioned
// snapshot, with the parameters it was built with so that a detector is
// only restored into an identical configuration.
type stateFile struct {
	Version   int                      `json:"version"`
	Saved     time.Time                `json:"saved"`
	Detectors map[string]detectorState `json:"detectors"`
}

type detectorState struct {
	Params SpotParams `json:"params"`
	State  []byte     `json:"state"` // spot.Detector.MarshalBinary
}

// SaveState writes every detector's state to w (JSON).
func (a *Analyzer) SaveState(w io.Writer, now time.Time) error {
	f := stateFile{Version: stateVersion, Saved: now.UTC(), Detectors: make(map[string]detectorState)}
	for _, wa := range a.watch {
		if wa.det == nil {
			continue
		}
		b, err := wa.det.MarshalBinary()
		if err != nil {
			return fmt.Errorf("analyzer: save %s: %w", wa.stat.Name, err)
		}
		f.Detectors[wa.stat.Name] = detectorState{Params: wa.params, State: b}
	}
	enc := json.NewEncoder(w)
	if err := enc.Encode(&f); err != nil {
		return fmt.Errorf("analyzer: save state: %w", err)
	}
	return nil
}

// RestoreReport says what LoadState did with each watched statistic.
type RestoreReport struct {
	Saved    time.Time
	Restored []string          // detectors resumed from the file
	Skipped  map[string]string // statistic -> why it learns from scratch
}

// LoadState restores the detectors saved by SaveState. A detector whose
// parameters changed since, or whose saved state is corrupt, learns from
// scratch and is listed in the report; an unreadable file is an error and
// changes nothing.
func (a *Analyzer) LoadState(r io.Reader) (RestoreReport, error) {
	var f stateFile
	rep := RestoreReport{Skipped: make(map[string]string)}
	dec := json.NewDecoder(io.LimitReader(r, 64<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return rep, fmt.Errorf("analyzer: state file: %w", err)
	}
	if f.Version != stateVersion {
		return rep, fmt.Errorf("analyzer: state file version %d, this netspot reads version %d", f.Version, stateVersion)
	}
	rep.Saved = f.Saved
	for _, w := range a.watch {
		if w.det == nil {
			continue
		}
		s, ok := f.Detectors[w.stat.Name]
		if !ok {
			rep.Skipped[w.stat.Name] = "not in the state file"
			continue
		}
		want := a.detectorConfig(w)
		det, err := spot.New(want)
		if err != nil {
			return rep, err
		}
		if err := det.UnmarshalBinary(s.State); err != nil {
			rep.Skipped[w.stat.Name] = fmt.Sprintf("corrupt state: %v", err)
			continue
		}
		// When to judge matters only until the complete model: a
		// detector that has it resumes whatever watch_after and
		// confidence are now (or were, in a state saved before they
		// existed).
		complete := det.Remaining() == 0 && det.Provisional() == 0
		got, saved := det.Config(), s.Params
		if complete {
			got.WatchAfter, got.Confidence = want.WatchAfter, want.Confidence
			saved.WatchAfter, saved.Confidence = w.params.WatchAfter, w.params.Confidence
		}
		switch {
		case saved != w.params:
			rep.Skipped[w.stat.Name] = "parameters changed since it was saved"
			continue
		case got != want:
			// Same settings in the file, another detector in the state:
			// a different period (the resolution of rates follows it),
			// or a state saved by an older netspot.
			rep.Skipped[w.stat.Name] = fmt.Sprintf("saved detector does not match the settings (resolution %g, now %g)", got.Resolution, want.Resolution)
			continue
		}
		w.det, w.stage = det, stageOf(det)
		rep.Restored = append(rep.Restored, w.stat.Name)
	}
	return rep, nil
}
