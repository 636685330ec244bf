package main

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// runSpot runs `netspot spot args...` in-process with stdin.
func runSpot(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb}
	err := run(context.Background(), e, append([]string{"spot"}, args...))
	if err != nil {
		errb.WriteString(err.Error())
	}
	return out.String(), errb.String(), exitCode(err)
}

// exponentialSeries is the shared reference stream b: Exp(1) from
// SplitMix64 with seed 1, written with 10 significant digits.
func exponentialSeries(n int) string {
	var b strings.Builder
	b.WriteString("x\n")
	s := uint64(1)
	for range n {
		s += 0x9E3779B97F4A7C15
		z := s
		z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
		z = (z ^ (z >> 27)) * 0x94D049BB133111EB
		z ^= z >> 31
		u := float64(z>>11) * 0x1p-53
		b.WriteString(strconv.FormatFloat(-math.Log(u), 'g', 10, 64))
		b.WriteByte('\n')
	}
	return b.String()
}

func TestSpotHelp(t *testing.T) {
	out, _, code := runSpot(t, "", "--help")
	if code != exitOK || !strings.Contains(out, "Usage: netspot spot") || !strings.Contains(out, "--max-excess") {
		t.Fatalf("code %d, help:\n%s", code, out)
	}
	var help bytes.Buffer
	if err := run(context.Background(), &env{stdout: &help, stderr: &help}, []string{"help", "spot"}); err != nil || help.String() != out {
		t.Fatalf("netspot help spot: %v\n%s", err, help.String())
	}
}

func TestSpotBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--q", "0"}, "--q:"},
		{[]string{"--q", "0.5"}, "--q:"},
		{[]string{"--level", "1.5"}, "--level:"},
		{[]string{"--n-init", "10"}, "--n-init:"},
		{[]string{"--max-excess", "0"}, "--max-excess:"},
		{[]string{"--depth", "-2"}, "--depth:"},
		{[]string{"--resolution", "-1"}, "--resolution:"},
		{[]string{"--resolution", "1", "--reference"}, "--resolution:"},
		{[]string{"--min-shape", "0.3"}, "--min-shape:"},
		{[]string{"--q", "abc"}, "--q"},
		{[]string{"--bogus"}, "bogus"},
		{[]string{"a", "b"}, "one input file"},
	} {
		_, errs, code := runSpot(t, "", tc.args...)
		if code != exitUsage || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, error %q; want exit %d naming %q", tc.args, code, errs, exitUsage, tc.want)
		}
	}
}

func TestSpotBadInput(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		args     []string
		want     string
	}{
		{"not a number", "x\n1\n2\nfoo\n", nil, ":4: \"foo\" is not a number"},
		{"bad header", "value\n1\n", nil, ":1: \"value\" is not a number (a header line must be \"x\""},
		{"out of range", "x\n1e400\n", nil, ":2: \"1e400\" is out of range"},
		{"infinity", "x\n1\ninf\n", nil, ":3: \"inf\" is out of range"},
		{"beyond what a detector takes", "x\n1\n-2e100\n", nil, ":3: \"-2e100\" is out of range (at most ±1e+100)"},
		{"too short", "x\n1\n2\n", nil, "2 values read, the detector needs 1998 more"},
		{"no column", "a,b\n1,2\n", []string{"--column", "c"}, `:1: no column "c" in the header (columns: a, b)`},
		{"fields", "a,b\n1,2\n3\n", []string{"--column", "b"}, ":3: 1 fields, the header has 2"},
		{"missing file", "", []string{"does-not-exist.csv"}, "does-not-exist.csv"},
	} {
		_, errs, code := runSpot(t, tc.in, tc.args...)
		if code != exitInput || !strings.Contains(errs, tc.want) {
			t.Errorf("%s: exit %d, error %q; want exit %d with %q", tc.name, code, errs, exitInput, tc.want)
		}
	}
}

func parseSpotOutput(t *testing.T, out string) (header string, rows map[int][]string, order []int) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	rows = map[int][]string{}
	for _, l := range lines[1:] {
		fs := strings.Split(l, ",")
		i, err := strconv.Atoi(fs[0])
		if err != nil {
			t.Fatalf("bad row %q", l)
		}
		rows[i] = fs
		order = append(order, i)
	}
	return lines[0], rows, order
}

// TestSpotReferenceOutput: in reference mode the tool writes the format of
// the shared vectors with the same values (to about 1e-9 relative: the
// reference computes log and exp its own way).
func TestSpotReferenceOutput(t *testing.T) {
	out, errs, code := runSpot(t, exponentialSeries(20000), "--reference", "--q", "1e-3", "--max-excess", "200")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	header, rows, order := parseSpotOutput(t, out)
	if header != "i,status,t,z,n,Nt,peaks,gamma,sigma" || len(order) != 18001 || order[0] != 1999 || rows[1999][1] != "-1" {
		t.Fatalf("header %q, %d rows, first %v", header, len(order), rows[order[0]])
	}
	want, err := os.ReadFile(filepath.Join("testdata", "spot", "b_spot.events.csv"))
	if err != nil {
		t.Fatal(err)
	}
	events := map[int]bool{}
	for _, l := range strings.Split(strings.TrimSpace(string(want)), "\n")[1:] {
		w := strings.Split(l, ",")
		i, _ := strconv.Atoi(w[0])
		events[i] = true
		compareRow(t, rows[i], w)
	}
	for _, i := range order {
		if !events[i] && rows[i][1] != "0" {
			t.Fatalf("row %v: the reference has status 0", rows[i])
		}
	}
}

func compareRow(t *testing.T, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("row %v, reference %v", got, want)
	}
	for k := range want {
		if got[k] == want[k] {
			continue
		}
		g, err1 := strconv.ParseFloat(got[k], 64)
		w, err2 := strconv.ParseFloat(want[k], 64)
		if k < 2 || k > 3 && k < 7 || err1 != nil || err2 != nil || math.Abs(g-w) > 1e-9*math.Abs(w) {
			t.Fatalf("row %v, reference %v (field %d)", got, want, k)
		}
	}
}

// TestSpotSharedVectors compares with the full shared vector file when it
// is next to the repository: every status and counter equal, floats within
// 1e-9 relative.
func TestSpotSharedVectors(t *testing.T) {
	const dir = "../../../shared/spot-vectors"
	want, err := os.ReadFile(filepath.Join(dir, "b_spot.csv"))
	if err != nil {
		t.Skipf("shared vectors not found: %v", err)
	}
	out, errs, code := runSpot(t, "", "--reference", "--q", "1e-3", "--max-excess", "200", filepath.Join(dir, "input_b_exponential.csv"))
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	got := strings.Split(strings.TrimSpace(out), "\n")
	exp := strings.Split(strings.TrimSpace(string(want)), "\n")
	if len(got) != len(exp) || got[0] != exp[0] {
		t.Fatalf("%d lines, reference %d; header %q", len(got), len(exp), got[0])
	}
	for k := 1; k < len(exp); k++ {
		compareRow(t, strings.Split(got[k], ","), strings.Split(exp[k], ","))
	}
}

func TestSpotColumnLowerDrift(t *testing.T) {
	var in strings.Builder
	in.WriteString("time,TRAFFIC,R_SYN\n")
	series := strings.Split(strings.TrimSpace(exponentialSeries(3000)), "\n")[1:]
	for i, v := range series {
		syn := "0.1"
		if i == 100 {
			syn = "" // a window without TCP: missing
		}
		in.WriteString(strconv.Itoa(i) + "," + v + "," + syn + "\n")
	}
	out, errs, code := runSpot(t, in.String(), "--column", "TRAFFIC", "--lower", "--depth", "10", "--n-init", "1000")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	header, rows, order := parseSpotOutput(t, out)
	if header != "i,status,drift,t,z,n,Nt,peaks,gamma,sigma" {
		t.Fatalf("header %q", header)
	}
	// 10 values fill the window, 1000 calibrate: the calibration row is
	// at index 1009, then one row per remaining value.
	if order[0] != 1009 || rows[1009][1] != "-1" || len(order) != 3000-1009 {
		t.Fatalf("first row %v, %d rows", rows[order[0]], len(order))
	}
	for _, i := range order {
		drift, _ := strconv.ParseFloat(rows[i][2], 64)
		tt, _ := strconv.ParseFloat(rows[i][3], 64)
		z, _ := strconv.ParseFloat(rows[i][4], 64)
		// Lower tail, relative to the drift: z below t below 0.
		if !(z <= tt && tt < 0 && drift > 0) {
			t.Fatalf("row %v", rows[i])
		}
	}
	out2, errs2, code := runSpot(t, in.String(), "--column", "R_SYN", "--n-init", "1000")
	if code != exitOK || !strings.Contains(errs2, "1 missing or non-finite values skipped (first on line 102)") {
		t.Fatalf("exit %d, stderr %q", code, errs2)
	}
	_, rows2, order2 := parseSpotOutput(t, out2)
	// Index 100 is skipped: the calibration ends on input index 1000.
	if order2[0] != 1000 || rows2[1000][1] != "-1" {
		t.Fatalf("first row %v", rows2[order2[0]])
	}
}

// A count that was zero for its whole calibration, then a sweep: the
// threshold is above zero with --resolution (one message is an excess,
// status 1), the sweep is an alarm (2) and the windows after it, still
// above t, continue it (6).
func TestSpotResolutionAndExcursion(t *testing.T) {
	var in strings.Builder
	for range 300 {
		in.WriteString("0\n")
	}
	in.WriteString("1\n0\n40\n3\n3\n0\n3\n")
	out, errs, code := runSpot(t, in.String(), "--n-init", "300", "--level", "0.95", "--q", "1e-5", "--resolution", "1", "--min-shape", "0")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	_, rows, order := parseSpotOutput(t, out)
	var statuses []string
	for _, i := range order {
		statuses = append(statuses, rows[i][1])
	}
	if got := strings.Join(statuses, " "); got != "-1 1 0 2 6 6 0 1" {
		t.Fatalf("statuses %q, want %q", got, "-1 1 0 2 6 6 0 1")
	}
	if z, _ := strconv.ParseFloat(rows[order[0]][3], 64); !(z > 1 && z < 10) {
		t.Errorf("threshold after a silent calibration: %v", z)
	}
}

// FuzzSpotInput feeds arbitrary text to the tool: it either succeeds or
// fails with an input error, never panics, and every row it writes has the
// fields of the header.
func FuzzSpotInput(f *testing.F) {
	f.Add("x\n1\n2\n3\n", "")
	f.Add("a,b\n1,2\n3,\n,nan\n\"4\",5e3\n", "b")
	f.Add(strings.Repeat("0.5\n1e-3\n-2\n7\n", 40), "")
	f.Add("x\r\n1\r\nNaN\r\n0x1p-3\r\n", "")
	f.Add("x\n1\n2e300\n", "")
	f.Fuzz(func(t *testing.T, in, column string) {
		args := []string{"--n-init", "20", "--level", "0.5", "--depth", "2"}
		if column != "" {
			args = append(args, "--column", column)
		}
		out, errs, code := runSpot(t, in, args...)
		if code != exitOK && code != exitInput && code != exitUsage {
			t.Fatalf("exit %d: %s", code, errs)
		}
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		for _, l := range lines[1:] {
			if strings.Count(l, ",") != strings.Count(lines[0], ",") {
				t.Fatalf("row %q for header %q", l, lines[0])
			}
		}
	})
}

// With --watch-after, the detector judges early: the first row comes at
// the last value learnt, the left column counts down to the complete
// model, and a flood while provisional is an alarm.
func TestSpotWatchAfter(t *testing.T) {
	var in strings.Builder
	s := uint64(7)
	for i := range 600 {
		s = s*6364136223846793005 + 1442695040888963407
		v := 10 + int(s>>60) // counts from 10 to 25
		if i == 200 {
			v = 400
		}
		in.WriteString(strconv.Itoa(v) + "\n")
	}
	out, errs, code := runSpot(t, in.String(), "--watch-after", "100", "--depth", "30", "--n-init", "300", "--level", "0.95",
		"--q", "1e-4", "--resolution", "1", "--min-shape", "0")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	header, rows, order := parseSpotOutput(t, out)
	if header != "i,status,drift,left,t,z,n,Nt,peaks,gamma,sigma" {
		t.Fatalf("header %q", header)
	}
	if order[0] != 99 || rows[99][1] != "-1" || rows[99][3] != "230" || len(order) != 501 {
		t.Fatalf("first row %v, %d rows", rows[order[0]], len(order))
	}
	if rows[200][1] != "2" {
		t.Errorf("flood while provisional: %v", rows[200])
	}
	// The flood is not learnt: the complete model comes one value later.
	if rows[329][3] != "1" || rows[330][3] != "0" || rows[599][3] != "0" {
		t.Errorf("left at 329, 330, 599: %v %v %v", rows[329][3], rows[330][3], rows[599][3])
	}
	_, errs, code = runSpot(t, "1\n", "--watch-after", "10")
	if code != exitUsage || !strings.Contains(errs, "--watch-after") {
		t.Errorf("watch-after 10: exit %d, %q", code, errs)
	}
}
