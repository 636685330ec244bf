package analyzer

// Adopt takes over from prev, the analyzer of the same pipeline before its
// configuration was reloaded: the detectors of the statistics whose
// parameters and period did not change keep learning where they were, with
// their active alarms; alarm ids go on from prev's, so none is ever reused.
// It returns the statistics that start learning from scratch.
func (a *Analyzer) Adopt(prev *Analyzer) (relearning []string) {
	a.runID, a.seq = prev.runID, prev.seq
	old := make(map[string]*watched, len(prev.watch))
	for _, w := range prev.watch {
		old[w.stat.Name] = w
	}
	for _, w := range a.watch {
		if w.det == nil {
			continue
		}
		o, ok := old[w.stat.Name]
		if !ok || o.det == nil || o.params != w.params || prev.period != a.period {
			relearning = append(relearning, w.stat.Name)
			continue
		}
		w.det, w.alarm = o.det, o.alarm
		w.stage, w.windows, w.values = o.stage, o.windows, o.values
	}
	return relearning
}
