package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunWritesCaptureAndLabels(t *testing.T) {
	dir := t.TempDir()
	out, lab := filepath.Join(dir, "x.pcap"), filepath.Join(dir, "x.json")
	var stdout, stderr bytes.Buffer
	err := run([]string{"-o", out, "--labels", lab, "--duration", "2m", "--rate", "40", "--format", "pcap",
		"--snaplen", "128", "--vlan", "7", "--attack", "syn-scan@30s+10s:ports=200"}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	b, err := os.ReadFile(out)
	if err != nil || len(b) < 24 || !bytes.Equal(b[:4], []byte{0xd4, 0xc3, 0xb2, 0xa1}) {
		t.Fatalf("not a pcap file: %v", err)
	}
	var l struct {
		Packets int
		Attacks []struct {
			Kind    string
			Packets int
		}
	}
	j, _ := os.ReadFile(lab)
	if err := json.Unmarshal(j, &l); err != nil || len(l.Attacks) != 1 || l.Attacks[0].Kind != "syn-scan" || l.Attacks[0].Packets < 200 {
		t.Fatalf("labels %s: %v", j, err)
	}
	if !strings.Contains(stderr.String(), "packets/s") {
		t.Errorf("no summary on stderr: %q", stderr.String())
	}
}

func TestRunErrorsNameTheFlag(t *testing.T) {
	dir := t.TempDir()
	scen := filepath.Join(dir, "s.toml")
	os.WriteFile(scen, []byte("rate = 10\nhots = 3\n"), 0o644)
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"-o", "x", "--rate", "-3"}, "-rate (rate)"},
		{[]string{"-o", "x", "--linktype", "fddi"}, "-linktype (output.linktype): unknown link type"},
		{[]string{"-o", "x", "--attack", "syn-scan@1m+10s:port=3"}, "attack[0].port"},
		{[]string{"-o", "x", "--attack", "syn-scan"}, "expected kind@offset+duration"},
		{[]string{"-o", "x", "--start", "yesterday"}, "-start"},
		{[]string{"-o", "x", "--vlan", "a"}, "VLAN ID"},
		{[]string{"--rate", "10"}, "no output file"},
		{[]string{"-c", scen, "-o", "x"}, "hots: unknown key (did you mean hosts?)"},
		{[]string{"-o", "x", "extra"}, "unexpected argument"},
	} {
		var stdout, stderr bytes.Buffer
		err := run(tc.args, &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error()+stderr.String(), tc.msg) {
			t.Errorf("%v: want an error saying %q, got %v (%s)", tc.args, tc.msg, err, stderr.String())
		}
	}
}

func TestListAndPrintScenario(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := run([]string{"-list"}, &stdout, &stderr); err != nil || !strings.Contains(stdout.String(), "synack-reflection") {
		t.Errorf("-list: %v %q", err, stdout.String())
	}
	stdout.Reset()
	if err := run([]string{"-print-scenario", "--attack", "arp-scan@1m+5s"}, &stdout, &stderr); err != nil ||
		!strings.Contains(stdout.String(), "[[attack]]\n") || !strings.Contains(stdout.String(), "kind = \"arp-scan\"\n") {
		t.Errorf("-print-scenario: %v %q", err, stdout.String())
	}
}
