package main

import (
	"netspot/core/pipeline"
	"netspot/core/progress"
)

// startProgress draws a progress bar on stderr while a capture file is
// replayed, when stderr is a terminal. The returned function stops it.
func startProgress(e *env, r *pipeline.Running) (stop func()) {
	if r.Live() || !e.stderrIsTerminal {
		return func() {}
	}
	return progress.Start(e.stderr, func() progress.State {
		p := r.Progress()
		return progress.State{Packets: p.Packets, Read: p.BytesRead, Size: p.FileSize}
	})
}
