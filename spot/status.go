package spot

import "strconv"

// Status is the verdict of a Detector on one value for one tail.
type Status int8

// The numbers of Normal, Excess and Alarm are those of the reference
// library and of the `netspot spot` output.
const (
	// Normal: the value is below the excess threshold t.
	Normal Status = 0
	// Excess: the value is above t but below the alarm threshold; it
	// was learnt (stored and the tail refitted). While the detector is
	// provisional, a value in the cautious band (beyond the point
	// estimate of the threshold) is learnt only once its run ends without
	// an alarm.
	Excess Status = 1
	// Alarm: the value is beyond the alarm threshold. It is not learnt
	// unless Config.KeepAnomalies, and never enters the drift window.
	Alarm Status = 2
	// Learning: the value was learnt before the detector judges (see
	// Config.WatchAfter); nothing is judged yet.
	Learning Status = 3
	// Invalid: the value is NaN, ±Inf or beyond ±MaxValue; it was
	// ignored and changed nothing.
	Invalid Status = 4
	// Off: the tail is not watched (Config.Up or Config.Down is false).
	Off Status = 5
	// Continued: the value is beyond t and beyond the drift, not beyond
	// the alarm threshold, and follows an Alarm (or another Continued
	// value) of the same tail with no normal value in between, less than
	// Depth values (NInit without a drift window) after the alarm that
	// started the excursion: it is the rest of that excursion (the
	// windows of a scan after its peak), and like the alarm it is neither
	// learnt nor put in the drift window. Default mode without
	// KeepAnomalies only.
	Continued Status = 6
)

// Abnormal reports whether the value belongs to an excursion that raised
// an alarm: Alarm or Continued.
func (s Status) Abnormal() bool { return s == Alarm || s == Continued }

func (s Status) String() string {
	switch s {
	case Normal:
		return "normal"
	case Excess:
		return "excess"
	case Alarm:
		return "alarm"
	case Learning:
		return "learning"
	case Invalid:
		return "invalid"
	case Off:
		return "off"
	case Continued:
		return "continued"
	}
	return "Status(" + strconv.Itoa(int(s)) + ")"
}
