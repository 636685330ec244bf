package main

import (
	"io"
	"strings"
	"testing"
	"time"
)

// A stream of go test -json as go test writes it: a package that passes
// with a skipped test, one without tests, one whose test fails, one that
// does not build.
const stream = `{"Action":"start","Package":"netspot/a"}
{"Action":"start","Package":"netspot/b"}
{"Action":"run","Package":"netspot/a","Test":"TestOne"}
{"Action":"output","Package":"netspot/a","Test":"TestOne","Output":"=== RUN   TestOne\n"}
{"Action":"pass","Package":"netspot/a","Test":"TestOne","Elapsed":0.1}
{"Action":"run","Package":"netspot/a","Test":"TestTwo"}
{"Action":"skip","Package":"netspot/a","Test":"TestTwo","Elapsed":0}
{"Action":"output","Package":"netspot/a","Output":"ok  \tnetspot/a\t1.2s\n"}
{"Action":"pass","Package":"netspot/a","Elapsed":1.2}
{"Action":"output","Package":"netspot/b","Output":"?   \tnetspot/b\t[no test files]\n"}
{"Action":"skip","Package":"netspot/b","Elapsed":0}
{"Action":"start","Package":"netspot/c"}
{"Action":"run","Package":"netspot/c","Test":"TestBad"}
{"Action":"output","Package":"netspot/c","Test":"TestBad","Output":"    c_test.go:9: got 1, want 2\n"}
{"Action":"fail","Package":"netspot/c","Test":"TestBad","Elapsed":0.3}
{"Action":"run","Package":"netspot/c","Test":"TestGood"}
{"Action":"pass","Package":"netspot/c","Test":"TestGood","Elapsed":0}
{"Action":"output","Package":"netspot/c","Output":"FAIL\tnetspot/c\t0.4s\n"}
{"Action":"fail","Package":"netspot/c","Elapsed":0.4}
{"ImportPath":"netspot/d [netspot/d.test]","Action":"build-output","Output":"d/d.go:3:1: syntax error\n"}
{"ImportPath":"netspot/d [netspot/d.test]","Action":"build-fail"}
{"Action":"start","Package":"netspot/d"}
{"Action":"output","Package":"netspot/d","Output":"FAIL\tnetspot/d [build failed]\n"}
{"Action":"fail","Package":"netspot/d","Elapsed":0,"FailedBuild":"netspot/d [netspot/d.test]"}
`

func TestSummarise(t *testing.T) {
	var out strings.Builder
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ok := summarise(strings.NewReader(stream), &out, func() time.Time { clock = clock.Add(time.Second); return clock }, time.Hour)
	if ok {
		t.Error("failures reported as success")
	}
	got := out.String()
	for _, want := range []string{
		"ok   netspot/a                                   1.2s  2 tests, 1 skipped\n",
		"FAIL netspot/c                                   0.4s  1 of 2 tests failed\n         c_test.go:9: got 1, want 2\n",
		"FAIL netspot/d [netspot/d.test] (build)\nd/d.go:3:1: syntax error\nFAIL netspot/d" + strings.Repeat(" ", 32) + "(does not build, above)\n",
		"== 4 packages: 1 ok, 2 failed, 1 without tests; 4 tests, 1 skipped;",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "TestOne") || strings.Contains(got, "netspot/b ") || strings.Count(got, "syntax error") != 1 {
		t.Errorf("passing tests' output or packages without tests printed:\n%s", got)
	}
	if !summarise(strings.NewReader(strings.SplitAfter(stream, "\n")[0]+`{"Action":"pass","Package":"netspot/a","Elapsed":1}`+"\n"), io.Discard, time.Now, time.Hour) {
		t.Error("a passing run reported as a failure")
	}
}

// While nothing ends, a line names the packages still running.
func TestSummariseTicks(t *testing.T) {
	r, w := io.Pipe()
	var out strings.Builder
	done := make(chan bool)
	go func() { done <- summarise(r, &out, time.Now, 20*time.Millisecond) }()
	io.WriteString(w, `{"Action":"start","Package":"netspot/slow"}`+"\n")
	time.Sleep(100 * time.Millisecond)
	io.WriteString(w, `{"Action":"pass","Package":"netspot/slow","Elapsed":0.1}`+"\n")
	w.Close()
	if !<-done || !strings.Contains(out.String(), ": running netspot/slow (") {
		t.Errorf("no progress line while running:\n%s", out.String())
	}
}
