// Package spot detects extreme values in a stream with SPOT and DSPOT
// (Siffer et al., "Anomaly Detection in Streams with Extreme Value Theory",
// KDD 2017): it learns the tail of a series' distribution and raises an
// alarm on a value that the learnt distribution gives a probability below
// q. It uses the standard library only and does no I/O, no goroutines, no
// clock and no logging: the caller feeds values and decides what to do.
//
// # How a Detector works
//
// A Detector watches one series on its upper tail, its lower tail or both
// (Config.Up, Config.Down). Step consumes one value at a time:
//
//   - The first Depth values fill the drift window (DSPOT). The detector
//     then watches x − M, M being the mean of the last Depth values that were
//     not alarms; with Depth 0 it watches x itself (SPOT).
//   - The next NInit values form the calibration batch (each pushed into the
//     window after use). The excess threshold t of each tail is the Level
//     quantile of the batch; the values beyond t are the excesses, and a
//     generalized Pareto distribution (GPD) fitted to them gives the alarm
//     threshold z, beyond which a value has probability q. This is the
//     complete model. With Config.WatchAfter below Depth+NInit, the
//     detector judges before it has it, with provisional tails (see
//     "Judging early" below).
//   - Then each value is Normal (not beyond t), Excess (beyond t: stored, the
//     tail refitted, z updated) or Alarm (beyond z: not learnt). The last
//     MaxExcess excesses are kept, so the model follows the recent tail in
//     bounded memory.
//   - After an alarm, the values beyond t that follow it, up to the first
//     one back at or below t, are Continued: the rest of the excursion (the
//     windows of a scan after its peak, below z but far above anything
//     normal), neither learnt nor put in the drift window. Learnt, they
//     taught the tail that attacks are normal: on a workstation's count of
//     ports, the trailing windows of one scan raised the threshold from
//     1182 to 3159 ports, and the next scans went unseen.
//   - An excursion always ends: at the first value at or below the drift M
//     too, whatever t is, and after Depth values (NInit without a drift
//     window) at most. A sparse count can leave t below M: calibrated on
//     300 windows of a capture where a few bursts of SYNs kept M up for a
//     while after each, t fell between the silent windows right after a
//     burst and the others, and every silent window was "beyond t". After
//     an alarm each of them continued the excursion, and since none
//     entered the window, M never came down: one alarm stayed active for
//     3,724 windows and the detector learnt nothing more. The bound on the
//     length is for a change of level that stays between t and z: an
//     excursion longer than the drift window is the new level, which the
//     window follows once its values are learnt again.
//
// In the default mode the drift window starts as the mean of the values
// seen so far; the complete model only learns values once the window is
// full, as before (the first Depth values serve provisional tails only).
// Reference mode keeps the first Depth values for the window alone.
//
// Both tails share one drift window, and a value enters it only if no
// watched tail raised an alarm on it. An alarm therefore never moves M: a
// scan that pushes a statistic up is not learnt as the new normal, neither
// by the upper tail nor by the lower one, which would otherwise see the
// series fall when the scan stops. (The original netspot's detector undid
// alarms wrongly in its moving average and raised about 970 false alarms
// after one ten-second scan.)
//
// NaN, ±Inf and values beyond ±MaxValue are never stored or fitted: Step
// returns Invalid and changes nothing. A tail that is not watched reports
// Off. With KeepAnomalies, an alarm is still reported as Alarm but also
// enters the tail model (so that the threshold follows a lasting change);
// it never enters the drift window either.
//
// # Judging early
//
// A complete model needs Depth+NInit values: netspot's 300 + 2000 are 38
// minutes at a period of 1 s, 6.4 hours at 10 s, 38 hours at a minute, and
// a new box, a replay of a short capture or an evaluation waited all that
// time. With Config.WatchAfter, a detector judges from its WatchAfter-th
// value on, with provisional tails, until its complete model:
//
//   - A provisional tail is fitted on every value learnt so far (the first
//     Depth relative to their own mean, the others to the drift window), and
//     refitted as they come: t is the Level quantile of those values, or
//     lower when that leaves fewer than 20 excesses (the excesses of a
//     complete calibration at netspot's level of 0.99), and the GPD is
//     fitted as in the complete model. It is refitted when a value changes
//     t or its excesses, or when the values have grown by 2 % since the last
//     fit (for the frequency of excesses to follow).
//   - Its alarm threshold is cautious: the quantile at the upper
//     confidence bound of the tail's scale σ, the largest σ that the
//     excesses do not reject at the fitted shape by the likelihood ratio,
//     at Config.Confidence (see bound.go). For an exponential tail of k
//     excesses the threshold's height above t grows by about 1 + z/√k (1.48
//     for 20 excesses at 0.95). A tail without excesses bounds the frequency
//     of one instead, 1 − (1−confidence)^(1/N) for N values that never went
//     beyond t. Probability gives the point estimate.
//   - A value in the cautious band, beyond the point estimate of the
//     quantile but not beyond the bound, is held: learnt once the values
//     after it come back below the band, dropped if they raise an alarm,
//     as the start of its excursion. Fitted on 20 excesses, a provisional
//     tail that learnt the first window of an attack took it for its new
//     tail: on a demo capture the threshold of a count of ports went from
//     56 to 200, 412 and 947 over the first windows of a SYN scan of 53 to
//     61 ports a second, which went unseen.
//   - Alarms, the rest of their excursions and the runs held before them
//     are not learnt. At Depth+NInit learnt values the complete model is
//     calibrated on the last NInit of them, exactly as if the detector had
//     waited: without provisional alarms it is from then on the detector
//     that waited, value for value (TestJudgesEarly).
//
// Why these choices, measured on the traffic of netspot's tuning scenarios
// (two generated offices at 1 s and a Windows lab workstation at 10 s;
// docs/evaluation.md), with detectors started afresh every 450 windows
// over the benign traffic alone and judged until their complete model
// (evalsuite restarts):
//
//	provisional threshold   false alarms  per hour   (offices at 1 s, 102 starts, 56.7 hours)
//	point estimate               41          0.72
//	bound at 0.75                19          0.34
//	bound at 0.9                 10          0.18
//	bound at 0.95                 6          0.11
//	bound at 0.99                 2          0.035
//	complete model, the hour after its calibration (86 starts): 47 in 86 hours, 0.55 per hour
//
// The lab's 15 starts (83 provisional hours at 10 s) raised none, whatever
// the threshold.
//
// The point estimate on a few hundred values is as often too low as too
// high, and too low means an alarm on the first burst the short sample
// did not hold (a bulk transfer of 1570 packets a second after a night of
// 100). The bound removes most of them at 0.95, where the provisional
// tails raise a fifth of the false alarms per hour of the complete models.
// The price is sensitivity: on the first-hour scenarios at 1 s, attacks
// from minute 10, no attack is lost at 0.95 and the DNS tunnel of the
// morning ramp at 0.99; on the lab's first six hours at 10 s, sparse and
// heavy-tailed, the point estimate flags 13 of its 14 attacks, the bound
// 11 at 0.9 and 10 at 0.95 (the XMAS and NULL scans, 100 RSTs a second
// against a provisional threshold of 142, and the DNS tunnel). A bound
// over the shape too (the profile likelihood of the quantile) put the
// first thresholds of a count of distinct addresses at 130 where the
// complete model puts 20: with 20 excesses the likelihood hardly tells
// γ = 0 from γ = 0.6, which the penalized fit and the floor of the shape
// already temper. In a first version of the study (42 starts, at 0.75),
// keeping 10 excesses raised 8 false alarms, 20 raised 6 and 30 raised 5.
//
// # Coarse and sparse series
//
// Window statistics are often counts that take a few values, mostly zero:
// the ARP packets of a second, the ICMP share of a quiet LAN. Fitted as if
// they were continuous, such series made the tail explode (a threshold of
// 1e35 on a share of ICMP messages, after which nothing ever alarmed
// again) or collapse (a threshold of exactly 0, so that any single message
// was an alarm, with a "probability" of 0). Config.Resolution, the smallest
// difference that means something (1 for a count, 1/period for a rate),
// drives what the default mode does about it:
//
//   - The excess threshold t sits halfway between two distinct values near
//     the level quantile (values closer than Resolution/2 are ties), never
//     on a group of ties: placed inside one, as an interpolated quantile
//     is, it left excesses that were mostly tiny plus a few whole steps,
//     which the fit reads as a huge shape. When the quantile falls on ties,
//     t moves to the nearest gap above or below, whichever leaves a number
//     of excesses closer to n_init·(1−level) and at least
//     MinCalibrationExcesses if it can. On a lattice the midpoint is also
//     the continuity correction: a count k stands for [k−½, k+½).
//   - Each excess is stored jittered within its resolution step (the step
//     holding it plus a fraction from the golden-ratio sequence: evenly
//     spread and deterministic), the usual cure for counts (Machado and
//     Santos Silva, "Quantiles for counts", JASA 2005): lattice values
//     fitted as ties make the fit see a tail that ends at the largest one.
//   - A tail whose calibration held no value beyond t (a statistic constant
//     during calibration, or one that only rises later) has no fitted
//     model. Its frequency is taken as 1/(N+1), the chance that a new value
//     exceeds N exchangeable ones that never did, and it extrapolates an
//     exponential tail of one resolution step: t is half a step above the
//     constant and z a further ln(1/((N+1)·q)) steps (3.9 for N = 2000,
//     q = 1e-5), so that one ICMP message on a silent LAN is an excess,
//     learnt, and a sweep an alarm; Probability is that tail. Without a
//     Resolution there is no scale at all: z is t, any value beyond the
//     calibration range is an alarm, and its probability is 1/(N+1).
//   - With fewer than 5 stored excesses, or all of them within one step,
//     the tail is exponential, of scale their mean with one more excess of
//     one step (so that the scale grows smoothly from the one above).
//
// # The tail fit
//
// The fit keeps, among the exponential tail (γ = 0), the method of moments
// and the maximum of the likelihood, the one with the highest likelihood,
// each only with γ ≥ Config.MinShape (and the constrained maximum on that
// boundary when the free one lies below it).
//
// The likelihood is penalized (Coles and Dixon, "Likelihood-based
// inference for extreme value models", Extremes 2, 1999): P(γ) = γ/(1−γ)
// for γ > 0, so that γ < 1 always. On a few tens of excesses the plain
// maximum has a large variance in γ, and its upper errors cost the most,
// because the threshold grows like (s/q)^γ; the penalty's pull is about
// (1+γ)²/(k(1−γ)²) on k excesses, 0.05 on 20 and 0.001 on 1000.
//
// MinShape bounds γ from below. A bounded tail (γ < 0) ends at t + σ/|γ|
// and puts z just below that end: right above the largest value seen, so
// that on a count with few values, or on traffic whose spread grows (a
// morning after a night of learning), every new record is an alarm.
// DefaultConfig takes −1/2, the end of the range where the likelihood fit
// is regular (Smith, Biometrika 1985), which the calibration below never
// reaches; netspot's analyzer takes 0, the exponential tail as the lightest
// (see docs/evaluation.md).
// The maximum is found with Grimshaw's reduction to one dimension (the
// profile likelihood in θ = γ/σ): from the previous maximum by Newton steps
// (a refit after one new excess takes two or three passes over the stored
// excesses), and otherwise by a scan of the whole domain followed by a
// bracketed root search, which also finds the maxima of light tails (γ < 0)
// that a search between fixed brackets misses.
//
// Discarding alarms cuts the tail at z: after calibration, no stored excess
// lies beyond z. Fitted as they are, the excesses make the tail look lighter
// than it is, z falls, more is cut, and the alarm rate settles at several
// times q (the reference library raises about 3 to 17 times q, see below). The fit
// therefore restores the part of the tail beyond z that the model itself
// predicts: the stored excesses judged against z count as a sample censored
// at z, completed by the fraction q/s (s = Nt/N, the frequency of excesses)
// that the model puts beyond it. Nothing is taken from the alarms
// themselves, so an attack, however long, is never learnt.
//
// Probability gives the GPD survival function s·(1 + γd/σ)^(−1/γ) for a
// value d above t (the textbook formula, and 0 beyond the end point of a
// bounded tail); Quantile inverts it for any risk.
//
// # Calibration
//
// Rate of alarms after learning, divided by q, on independent values
// (three streams of 10⁶ values per line, n_init 2000, level 0.98; upper
// tail; the ideal is 1):
//
//	distribution   q      reference        default
//	                    max_excess 200  1000    200   1000
//	Gaussian      1e-3       9.93       6.56    1.18  0.99
//	exponential   1e-3      12.93       8.79    1.17  0.98
//	Pareto (α=2)  1e-3      16.62      10.59    1.60  1.03
//	Gaussian      1e-4       3.75       3.09    2.25  1.40
//	exponential   1e-4       4.10       2.85    1.74  0.99
//	Pareto (α=2)  1e-4       2.72       1.85    1.51  0.99
//
// Reproduce with `go run ./dev/spotcal -seeds 3 -max-excess 200,1000`
// (`make calibration`). The default MaxExcess is 1000 because only then
// do both risks stay within 1.5 times q on all three distributions; it
// costs 8 KB per tail and a refit of about 30 µs instead of 7 µs (x86-64),
// once per excess, that is for 2% of the values. The penalty costs its
// small-sample pull at 200 excesses (Pareto at 1e-3: 1.60 where the plain
// fit gave 1.08) and nothing at 1000. DefaultConfig keeps q = 1e-4, level
// 0.98 and n_init 2000. On the shared test stream a (N(0,1) with 20
// spikes of 5 to 7.85 σ) the defaults flag all 20 spikes with 20 other
// alarms in 18000 steps, the reference 32: the first tens of thousands of
// steps fit the tail on 40 to a few hundred excesses only, and the
// Gaussian tail, light at level 0.98, is then extrapolated short; a larger
// NInit reduces this.
//
// Counts (Poisson, with Resolution 1; max_excess 1000, otherwise as
// above), and the shape floor netspot's analyzer uses:
//
//	distribution   q      min_shape −1/2   min_shape 0
//	Poisson(3)    1e-3         1.05            0.27
//	Poisson(30)   1e-3         1.20            0.58
//	Poisson(3)    1e-4         2.69            0.09
//	Poisson(30)   1e-4         1.25            0.20
//	Gaussian      1e-3         0.99            0.59
//	exponential   1e-3         0.98            0.89
//	Pareto (α=2)  1e-3         1.03            1.03
//	Gaussian      1e-4         1.40            0.20
//	exponential   1e-4         0.99            0.68
//	Pareto (α=2)  1e-4         0.99            0.99
//
// `go run ./dev/spotcal -seeds 3 -max-excess 1000 -mode default -dist
// "gaussian,exponential,pareto(α=2),poisson(3),poisson(30)" -min-shape 0`
// (and -min-shape -0.5). A count's thresholds can only fall between two of
// its values, so q is met only up to the nearest one: for Poisson(3) at
// 1e-4, P(X ≥ 11) = 2.9e-4 and P(X ≥ 12) = 0.8e-4. Before the resolution,
// the default mode gave 2.09 and 4.93 on Poisson(30) (ties at t). The
// exponential floor is conservative on light tails: it trades alarms
// below q on stationary light-tailed values for no false alarms when a
// statistic's spread grows.
//
// # Reference mode
//
// Config.Reference reproduces the reference C implementation, libspot 2.0
// (with upstream's fix of the variance of the stored excesses), step by
// step: P² estimate of t (in its variant that does not move markers on a
// new minimum or maximum; for the lower tail the low quantile of the raw
// values, so not an exact mirror of the upper tail), excesses counted at t
// (≥), its method of moments and Grimshaw search between fixed brackets with
// Brent's method, and, with KeepAnomalies, no Alarm status at all (values
// beyond z are reported as Excess and learnt, as libspot does). On the
// shared reference vectors it gives the same status at every step and the
// same t, n, Nt and stored excesses; thresholds agree within 1e-7 relative
// (libspot computes log and exp with its own continued fractions), except
// where libspot chose between its candidates on rounding noise: its root
// search only runs where w changes sign between the ends of a bracket, and
// at the inner end ±2e-8 w is a few ulps whose sign depends on the last bits
// of log. The conformance tests check that every such step is one of them
// and that libspot's γ is one of the candidates computed here.
//
// A degenerate tail, for which libspot fails with a NaN threshold, follows
// the rules of the default mode. Probability below t extrapolates the tail
// there, as libspot does.
//
// # Same results on every processor
//
// The Go specification lets a compiler fuse x*y + z into one instruction
// that rounds once, and it does so on arm64 (FMADD), where the Raspberry
// Pi 3 to 5 run netspot, but not on amd64 or 32-bit ARM. A fused fit
// drifts from an unfused one by an ulp per step, and a detector that
// refits thousands of times ends up with another threshold and other
// alarms (on the shared stream b, a different status from step 6473). Every
// product that feeds a sum is therefore written float64(x*y), an explicit
// conversion that the specification defines as a rounding and that forbids
// the fusion: the arithmetic of this package is then the same on every
// architecture, and only the standard library's log and exp may differ in
// their last bit between processors. The cross-architecture tests (make
// test-cross) run this package's tests under qemu on arm64 and armv7 and
// check the objects of the arm64 build for fused instructions.
//
// # Snapshots
//
// MarshalBinary encodes a detector completely (versioned, CRC-32C
// protected); UnmarshalBinary restores it, so that a box that reboots
// resumes watching instead of learning again, and continues exactly as if
// it had not stopped, provisional tails and held values included. A
// truncated, corrupt, foreign or self-contradicting snapshot is refused
// with an error wrapping ErrSnapshot. Older snapshots are read with the
// rules of their time: version 1 (before Resolution, MinShape and
// Continued) with no resolution and a shape floor of −1, versions 1 and 2
// (before WatchAfter and Confidence) judging once calibrated.
//
// # Speed
//
// A normal step takes about 5 ns and does not allocate; a step with a
// refit of 200 excesses about 7 µs, of 1000 about 30 µs. On the shared
// stream a (q 1e-4, level 0.98, n_init 2000, max_excess 200) the whole
// stream runs at about 190 ns per value in the default mode and 280 ns in
// reference mode, where libspot built with its own Makefile (-O3) takes
// 600 ns on the same x86-64 machine, measured back to back. A provisional
// step, both tails of a count with a drift window as netspot judges its
// first 2000 values, takes 5 to 9 µs on average (refits of 20 excesses,
// the quantile's bound, the sorted values kept):
//
//	go test ./spot -run '^$' -bench 'StreamA|Step|Refit|Provisional' -benchmem
package spot
