package trafficgen

import (
	"bytes"
	"os"
	"testing"
)

// TestDemoCaptureIsUpToDate regenerates the bundled demo capture from its
// scenario and compares the bytes, so that the capture can never drift from
// the generator or the scenario. After a deliberate change of either, run
// `make demo-capture` and commit the result.
func TestDemoCaptureIsUpToDate(t *testing.T) {
	cfg, err := LoadScenario("../demo/scenario.toml")
	if err != nil {
		t.Fatal(err)
	}
	var capture, labels bytes.Buffer
	l, err := Generate(&capture, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.WriteJSON(&labels); err != nil {
		t.Fatal(err)
	}
	for path, got := range map[string][]byte{"../demo/demo.pcapng": capture.Bytes(), "../demo/labels.json": labels.Bytes()} {
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from what its scenario generates (%d bytes, file has %d): run make demo-capture", path, len(got), len(want))
		}
	}
	if len(l.Attacks) != 2 || l.Attacks[0].Kind != "syn-scan" {
		t.Errorf("the demo should hold a SYN scan then a second attack, labels say %+v", l.Attacks)
	}
}
