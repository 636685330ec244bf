// Command testsum runs go test with -json and prints its progress as it
// goes: a line per package when it ends (its time, its tests, its
// failures with their output), a line every half minute naming the
// packages still running, and a summary. `make test` runs it:
//
//	go run ./dev/testsum -race -count=1 ./...
//
// Its arguments go to go test; it exits with go test's status.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmd := exec.CommandContext(ctx, "go", append([]string{"test", "-json"}, os.Args[1:]...)...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		fmt.Fprintln(os.Stderr, "testsum:", err)
		os.Exit(2)
	}
	fmt.Printf("== go test -json %s\n", strings.Join(os.Args[1:], " "))
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "testsum:", err)
		os.Exit(2)
	}
	ok := summarise(out, os.Stdout, time.Now, 30*time.Second)
	if err := cmd.Wait(); err != nil || !ok {
		os.Exit(1)
	}
}

// event is a line of go test -json (cmd/test2json), with the build
// events of Go 1.24.
type event struct {
	Time        time.Time
	Action      string
	Package     string
	ImportPath  string
	Test        string
	Elapsed     float64
	Output      string
	FailedBuild string
}

// pkg is what is known of a package under test.
type pkg struct {
	started          time.Time
	tests, skipped   int
	failed           []string
	output           map[string][]string // by test ("" for the package)
	noTests, running bool
}

// summarise reads go test -json from r and writes the progress to w; it
// reports whether everything passed. A line goes out every tick while no
// package ends.
func summarise(r io.Reader, w io.Writer, now func() time.Time, tick time.Duration) bool {
	lines := make(chan []byte)
	go func() {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for sc.Scan() {
			lines <- append([]byte(nil), sc.Bytes()...)
		}
		close(lines)
	}()
	start := now()
	pkgs := map[string]*pkg{}
	builds := map[string][]string{} // build output by import path
	get := func(name string) *pkg {
		p := pkgs[name]
		if p == nil {
			p = &pkg{started: now(), output: map[string][]string{}}
			pkgs[name] = p
		}
		return p
	}
	var okPkgs, failPkgs, empty, tests, skipped int
	allOK := true
	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	for {
		select {
		case <-ticker.C:
			var running []string
			for name, p := range pkgs {
				if p.running {
					running = append(running, fmt.Sprintf("%s (%s)", name, now().Sub(p.started).Round(time.Second)))
				}
			}
			slices.Sort(running)
			if len(running) > 0 {
				fmt.Fprintf(w, "   %s: running %s\n", now().Sub(start).Round(time.Second), strings.Join(running, ", "))
			}
			continue
		case line, open := <-lines:
			if !open {
				fmt.Fprintf(w, "== %d packages: %d ok, %d failed, %d without tests; %d tests, %d skipped; %s\n",
					okPkgs+failPkgs+empty, okPkgs, failPkgs, empty, tests, skipped, now().Sub(start).Round(time.Second))
				return allOK && failPkgs == 0
			}
			var e event
			if json.Unmarshal(line, &e) != nil {
				fmt.Fprintf(w, "%s\n", line) // not JSON: go test's own message
				continue
			}
			switch e.Action {
			case "build-output":
				builds[e.ImportPath] = append(builds[e.ImportPath], e.Output)
				continue
			case "build-fail":
				fmt.Fprintf(w, "FAIL %s (build)\n%s", e.ImportPath, strings.Join(builds[e.ImportPath], ""))
				allOK = false
				continue
			}
			if e.Package == "" {
				continue
			}
			p := get(e.Package)
			switch {
			case e.Action == "start":
				p.started, p.running = now(), true
			case e.Action == "output":
				p.output[e.Test] = append(p.output[e.Test], e.Output)
				if e.Test == "" && strings.HasPrefix(e.Output, "?   \t") {
					p.noTests = true
				}
			case e.Test != "" && e.Action == "pass":
				p.tests++
				delete(p.output, e.Test)
			case e.Test != "" && e.Action == "skip":
				p.tests++
				p.skipped++
				delete(p.output, e.Test)
			case e.Test != "" && e.Action == "fail":
				p.tests++
				p.failed = append(p.failed, e.Test)
			case e.Test == "" && (e.Action == "pass" || e.Action == "skip" || e.Action == "fail"):
				p.running = false
				tests += p.tests
				skipped += p.skipped
				elapsed := fmt.Sprintf("%.1fs", e.Elapsed)
				switch {
				case e.Action == "fail" && e.FailedBuild != "":
					failPkgs++
					fmt.Fprintf(w, "FAIL %-40s (does not build, above)\n", e.Package)
				case e.Action == "fail":
					failPkgs++
					fmt.Fprintf(w, "FAIL %-40s %7s  %d of %d tests failed\n", e.Package, elapsed, len(p.failed), p.tests)
					for _, name := range append(p.failed, "") {
						for _, o := range p.output[name] {
							fmt.Fprint(w, "     "+o)
						}
					}
				case p.noTests || e.Action == "skip":
					empty++
				default:
					okPkgs++
					note := ""
					if p.skipped > 0 {
						note = fmt.Sprintf(", %d skipped", p.skipped)
					}
					fmt.Fprintf(w, "ok   %-40s %7s  %d tests%s\n", e.Package, elapsed, p.tests, note)
				}
				delete(pkgs, e.Package)
			}
		}
	}
}
