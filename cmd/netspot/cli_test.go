package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// runIn runs one command line in-process with stdin.
func runIn(t *testing.T, stdin []byte, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	err = run(context.Background(), &env{stdin: bytes.NewReader(stdin), stdout: &out, stderr: &errb}, args)
	return out.String(), errb.String(), err
}

// helpCommands lists the commands `netspot help` shows.
func helpCommands(t *testing.T) []string {
	t.Helper()
	out, _, err := runCmd(t, context.Background(), "help")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	_, list, _ := strings.Cut(out, "Commands:\n")
	for _, l := range strings.Split(list, "\n") {
		if !strings.HasPrefix(l, "  ") {
			break
		}
		names = append(names, strings.Fields(l)[0])
	}
	return names
}

// The verbs of the original netspot and netspot's own, in the order help
// shows them; help for an unknown command is a usage error.
func TestHelpListsTheCommands(t *testing.T) {
	want := []string{"run", "serve", "ls", "defaults", "check", "board", "spot", "eval", "completion", "version", "help"}
	if got := helpCommands(t); !slices.Equal(got, want) {
		t.Errorf("netspot help lists %q, want %q", got, want)
	}
	for _, args := range [][]string{{"help", "nope"}, {"help", "run", "serve"}, {}, {"version", "extra"}, {"frobnicate"}, {"rnu", "-d", "x"}} {
		if _, _, err := runCmd(t, context.Background(), args...); exitCode(err) != exitUsage {
			t.Errorf("%q: exit %d (%v), want %d", args, exitCode(err), err, exitUsage)
		}
	}
	out, _, err := runCmd(t, context.Background(), "-V")
	if err != nil || !strings.HasPrefix(out, "netspot ") {
		t.Errorf("-V: %q %v", out, err)
	}
}

// Completion scripts come from the command tree, for bash, zsh and fish;
// the binary answers the shells' requests with commands, statistics and
// formats.
func TestCompletion(t *testing.T) {
	for shell, marker := range map[string]string{"bash": "# bash completion V2 for netspot", "zsh": "#compdef netspot", "fish": "complete -c netspot"} {
		out, _, err := runCmd(t, context.Background(), "completion", shell)
		if err != nil || !strings.Contains(out, marker) || !strings.Contains(out, "__complete") {
			t.Errorf("completion %s: %v, script without %q:\n%.300s", shell, err, marker, out)
		}
		if sh, err := exec.LookPath(shell); err == nil && shell != "fish" {
			p := filepath.Join(t.TempDir(), "netspot."+shell)
			os.WriteFile(p, []byte(out), 0o644)
			if b, err := exec.Command(sh, "-n", p).CombinedOutput(); err != nil {
				t.Errorf("%s -n: the %s script does not parse: %v\n%s", shell, shell, err, b)
			}
		}
	}
	for _, args := range [][]string{{"completion"}, {"completion", "tcsh"}} {
		if _, _, err := runCmd(t, context.Background(), args...); exitCode(err) != exitUsage {
			t.Errorf("%q: exit %d, want %d", args, exitCode(err), exitUsage)
		}
	}
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"__complete", ""}, []string{"run\t", "serve\t", "completion\t", "help\t"}},
		{[]string{"__complete", "run", "-s", ""}, []string{"SYN_RATE\n", "NB_DST_PORT\n"}},
		{[]string{"__complete", "run", "-o", ""}, []string{"json\n", "table\n", "auto\n"}},
		{[]string{"__complete", "run", "--log-level", ""}, []string{"debug\n", "error\n"}},
		{[]string{"__complete", "run", "-i", ""}, []string{"any\n", "lo\n"}},
		{[]string{"__complete", "run", "--cou"}, []string{"--count\t"}},
		{[]string{"__complete", "completion", ""}, []string{"bash\n", "zsh\n", "fish\n"}},
	} {
		out, _, err := runCmd(t, context.Background(), c.args...)
		for _, w := range c.want {
			if err != nil || !strings.Contains(out, w) {
				t.Errorf("%q: %v, no %q in\n%s", c.args, err, w, out)
			}
		}
	}
}

// A complete bash session: the script sourced, the completion function
// asked for the words after "netspot run --analyzer.stats SYN", as bash
// asks it on Tab.
func TestCompletionInBash(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	lib := "/usr/share/bash-completion/bash_completion"
	if _, err := os.Stat(lib); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("CI installs bash-completion")
		}
		t.Skip("no bash-completion (apt-get install bash-completion)")
	}
	bin := buildNetspot(t)
	script := `source ` + lib + `
source <("$NETSPOT" completion bash)
COMP_WORDS=("$NETSPOT" run --analyzer.stats SYN); COMP_CWORD=3
COMP_LINE="${COMP_WORDS[*]}"; COMP_POINT=${#COMP_LINE}
__start_netspot
printf '%s\n' "${COMPREPLY[@]}"`
	cmd := exec.Command(bash, "--norc", "-c", script)
	cmd.Env = append(os.Environ(), "NETSPOT="+bin)
	out, err := cmd.Output() // outside a real Tab, compopt complains on stderr
	if err != nil || strings.TrimSpace(string(out)) != "SYN_RATE" {
		t.Errorf("bash completes %q (%v), want SYN_RATE", out, err)
	}
}

// `netspot man DIR` writes a page per command of the help, and netspot.1
// with the commands, the files and the exit codes; run's page has every
// option of run with its default and meaning. The pages carry the date of
// SOURCE_DATE_EPOCH and are the same at each build.
func TestManPages(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	dir := t.TempDir()
	if _, _, err := runCmd(t, context.Background(), "man", dir); err != nil {
		t.Fatal(err)
	}
	want := []string{"netspot.1"}
	for _, c := range helpCommands(t) {
		if c != "help" {
			want = append(want, "netspot-"+c+".1")
		}
	}
	entries, _ := os.ReadDir(dir)
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("pages %q, want %q", got, want)
	}
	page := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	root := page("netspot.1")
	for _, w := range []string{`.TH "NETSPOT" "1" "Nov 2023" "netspot dev" "netspot manual"`, ".SH COMMANDS", `\fBrun\fP`, ".SH EXIT STATUS", ".SH FILES", "/etc/netspot/netspot.toml", ".SH SEE ALSO", `\fBnetspot-run(1)\fP`} {
		if !strings.Contains(root, w) {
			t.Errorf("netspot.1 lacks %q", w)
		}
	}
	_, exits, _ := strings.Cut(root, ".SH EXIT STATUS\n")
	exits, _, _ = strings.Cut(exits, ".SH ")
	codes := regexp.MustCompile(`(?m)^\\fB(\d)\\fP$`).FindAllStringSubmatch(exits, -1)
	if len(codes) != 6 || codes[0][1] != "0" || codes[5][1] != "5" {
		t.Errorf("EXIT STATUS gives %v, want 0 to 5", codes)
	}
	runPage := page("netspot-run.1")
	newRun(&env{}).Flags().VisitAll(func(f *pflag.Flag) {
		def := f.DefValue
		if f.Value.Type() == "string" {
			def = `"` + def + `"`
		}
		opt := `\fB--` + f.Name + `\fP`
		if f.Shorthand != "" {
			opt = `\fB-` + f.Shorthand + `\fP, ` + opt
		}
		if f.NoOptDefVal != "" {
			def = "[=" + def + "]"
		} else {
			def = "=" + def
		}
		if !strings.Contains(runPage, opt+def+"\n\t"+f.Usage[:min(20, len(f.Usage))]) {
			t.Errorf("netspot-run.1 lacks %s%s with its meaning %q", opt, def, f.Usage)
		}
	})
	for _, w := range []string{`\fB-d\fP, \fB--miner.device\fP="any"`, `\fB--analyzer.period\fP=1s`, `\fB--miner.snapshot_len\fP=65535`, `\fB--count\fP=0`, "tcpdump -w - | netspot run -r -"} {
		if !strings.Contains(runPage, w) {
			t.Errorf("netspot-run.1 lacks %q", w)
		}
	}
	again := t.TempDir()
	if _, _, err := runCmd(t, context.Background(), "man", again); err != nil {
		t.Fatal(err)
	}
	for _, name := range want {
		if b, _ := os.ReadFile(filepath.Join(again, name)); string(b) != page(name) {
			t.Errorf("%s differs between two runs", name)
		}
	}
	if out, _, _ := runCmd(t, context.Background(), "help"); strings.Contains(out, "man ") {
		t.Error("the man command is listed in the help")
	}
}

// records parses JSON lines.
func records(t *testing.T, out string) []map[string]any {
	t.Helper()
	var rs []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("invalid JSON line %q: %v", l, err)
		}
		rs = append(rs, m)
	}
	return rs
}

// -r - reads the capture from standard input: the same windows as the
// file, the series named stdin.
func TestRunReadsStandardInput(t *testing.T) {
	capture := generated(t)
	b, err := os.ReadFile(capture)
	if err != nil {
		t.Fatal(err)
	}
	fromFile, _, err := runCmd(t, context.Background(), "run", "-r", capture, "-v", "-s", "TRAFFIC,R_SYN", "-l", "warn")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	fromStdin, stderr, err := runIn(t, b, "run", "-r", "-", "-v", "-s", "TRAFFIC,R_SYN", "-f", filepath.Join(dir, "%s.json"))
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if normalize(fromStdin) != normalize(fromFile) || len(records(t, fromStdin)) < 297 {
		t.Errorf("standard input gave other records than the file (%d and %d lines)", strings.Count(fromStdin, "\n"), strings.Count(fromFile, "\n"))
	}
	if _, err := os.Stat(filepath.Join(dir, "stdin.json")); err != nil {
		t.Errorf("file sink series: %v", err)
	}
	// Empty standard input: a capture without a header, exit 4.
	if _, _, err := runIn(t, nil, "run", "-r", "-"); exitCode(err) != exitInput || !strings.Contains(err.Error(), "standard input") {
		t.Errorf("empty standard input: exit %d, %v", exitCode(err), err)
	}
}

// A pipe into the binary, written as a capture tool writes it: packets
// trickling in, then the end of the stream.
func TestRunReadsAPipe(t *testing.T) {
	capture := generated(t)
	b, err := os.ReadFile(capture)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(buildNetspot(t), "run", "-r", "-", "-v", "-s", "TRAFFIC", "-l", "warn")
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for len(b) > 0 {
		n := min(len(b), 4096)
		in.Write(b[:n])
		b = b[n:]
		time.Sleep(100 * time.Microsecond)
	}
	in.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	if n := strings.Count(out.String(), `"type":"data"`); n != 297 {
		t.Errorf("%d windows from the pipe, want 297", n)
	}
}

// --count and --duration stop a replay early, its last window flushed.
func TestRunStopsEarly(t *testing.T) {
	capture := generated(t)
	out, _, err := runCmd(t, context.Background(), "run", "-r", capture, "-v", "-s", "TRAFFIC", "--count", "1000")
	if err != nil {
		t.Fatal(err)
	}
	rs := records(t, out)
	var packets float64
	var data []map[string]any
	for _, r := range rs {
		if r["type"] == "data" {
			data = append(data, r)
			packets += r["packets"].(float64)
		}
	}
	if packets != 1000 || len(data) >= 297 || data[len(data)-1]["partial"] != true {
		t.Errorf("--count 1000: %v packets in %d windows", packets, len(data))
	}
	out, _, err = runCmd(t, context.Background(), "run", "-r", capture, "-v", "-s", "TRAFFIC", "--duration", "1m")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out, `"type":"data"`); n < 59 || n > 61 {
		t.Errorf("--duration 1m: %d windows of 1 s", n)
	}
}

// A port in use is a failure of the moment (exit 1), which the service
// manager retries, not a config error.
func TestPortInUseIsExit1(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	addr := busy.Addr().String()
	_, _, err = runCmd(t, context.Background(), "run", "-r", generated(t), "-l", "warn",
		"--set", "exporter.prometheus.enabled=true", "--set", "exporter.prometheus.listen="+addr)
	if exitCode(err) != exitFailure || !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("prometheus on a busy port: exit %d, %v", exitCode(err), err)
	}
	_, _, err = runCmd(t, context.Background(), "serve", "--api.endpoint", "tcp://"+addr)
	if exitCode(err) != exitFailure || !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("serve on a busy port: exit %d, %v", exitCode(err), err)
	}
}

// Every verb that reads the config takes --set, checked as the file is:
// a bad one is exit 2 and names --set; so is any bad value on the command
// line.
func TestCommandLineMistakesAreExit2(t *testing.T) {
	dir, scenario, cfg := evalFixture(t)
	empty := filepath.Join(dir, "empty.pcap")
	os.WriteFile(empty, nil, 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "-d", empty, "--set", "spot.q=2"}, "--set: spot.q:"},
		{[]string{"run", "-d", empty, "--set", "spot.nope=1"}, "--set: spot.nope: unknown key"},
		{[]string{"run", "-d", empty, "--set", "spot.q"}, "--set"},
		{[]string{"serve", "--set", "api.endpoint=http://x"}, "--set: api.endpoint"},
		{[]string{"eval", scenario, "--set", "spot.level=3"}, "--set: spot.level"},
		{[]string{"check", "-c", cfg, "--set", "analyzer.period=fast"}, "--set: analyzer.period"},
		{[]string{"board", "test", "--set", "board.debounce=1"}, "--set: board.debounce"},
		{[]string{"run", "-d", empty, "-o", "yaml"}, "command line: exporter.console.format"},
		{[]string{"run", "-d", empty, "-p", "fast"}, "analyzer.period"},
		{[]string{"run", "-d", empty, "--count", "-1"}, "count"},
		{[]string{"run", "-d", empty, "--duration", "0s"}, "--duration must be positive"},
		{[]string{"run", "-d", empty, "-r", empty}, "-d, -r and -i"},
		{[]string{"run", "-i", empty}, "not an interface name"},
		{[]string{"run", "-r"}, "needs an argument"},
		{[]string{"spot", "--q", "2"}, "--q"},
		{[]string{"ls", "extra"}, "no arguments"},
		{[]string{"defaults", "--set", "spot.q=1e-4"}, "unknown flag: --set"},
	} {
		_, _, err := runCmd(t, context.Background(), c.args...)
		if exitCode(err) != exitUsage || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: exit %d (%v), want %d naming %q", c.args, exitCode(err), err, exitUsage, c.want)
		}
	}
	// A good --set applies, on every verb.
	out, _, err := runCmd(t, context.Background(), "check", "-c", cfg, "--set", "spot.q=1e-5")
	if err != nil || !strings.HasSuffix(out, ": ok\n") {
		t.Errorf("check with --set: %v %q", err, out)
	}
}

// -o table prints a header, a line per window and the alarms, without
// colours when the output is not a terminal.
func TestRunTable(t *testing.T) {
	out, _, err := runCmd(t, context.Background(), "run", "-c", writeConfig(t, goldenConfig), "-r", generated(t), "-v", "-o", "table", "-l", "warn")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	var headers, windows, alarms int
	window := regexp.MustCompile(`^\d\d:\d\d:\d\d +\d+  `)
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "UTC 2025-03-04  PACKETS  TRAFFIC"):
			headers++
		case strings.HasPrefix(l, "ALARM 2025-03-04 "):
			alarms++
		case window.MatchString(l):
			windows++
		default:
			t.Errorf("unexpected line %q", l)
		}
	}
	if windows != 297 || alarms == 0 || headers != (297+19)/20 || strings.Contains(out, "\x1b") {
		t.Errorf("%d headers, %d windows, %d alarms (escapes: %v)", headers, windows, alarms, strings.Contains(out, "\x1b"))
	}
	if !strings.Contains(out, "!") || !strings.Contains(out, " <") {
		t.Error("no value beside its threshold, or no alarm marked")
	}
}
