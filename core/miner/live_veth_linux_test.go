package miner

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"netspot/core/capture"
	"netspot/core/event"
)

// vethPair creates a network namespace holding one end of a veth pair; the
// other end stays here, where the test captures. IPv6 is disabled on both
// ends so that the kernel sends nothing of its own. Everything is removed
// when the test ends, failed or not.
func vethPair(t *testing.T) (here, ns, there string) {
	t.Helper()
	need := func(what string, ok bool) {
		if ok {
			return
		}
		if os.Getenv("CI") != "" {
			t.Fatalf("live capture test needs %s; .ci/run runs as root and installs iproute2 and tcpreplay", what)
		}
		t.Skipf("live capture test skipped: needs %s", what)
	}
	need("root", os.Geteuid() == 0)
	_, err := exec.LookPath("ip")
	need("iproute2 (ip)", err == nil)
	_, err = exec.LookPath("tcpreplay")
	need("tcpreplay", err == nil)

	id := strconv.Itoa(os.Getpid() % 100000)
	ns, here, there = "nsnetspot"+id, "vns"+id+"a", "vns"+id+"b"
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	t.Cleanup(func() {
		exec.Command("ip", "netns", "del", ns).Run()
		exec.Command("ip", "link", "del", here).Run()
	})
	run("ip", "netns", "add", ns)
	run("ip", "link", "add", here, "type", "veth", "peer", "name", there, "netns", ns)
	run("sysctl", "-qw", "net.ipv6.conf."+here+".disable_ipv6=1")
	run("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf."+there+".disable_ipv6=1")
	run("ip", "link", "set", here, "up")
	run("ip", "-n", ns, "link", "set", there, "up")
	return here, ns, there
}

// writeFrames writes frames to a pcap for tcpreplay.
func writeFrames(t *testing.T, frames [][]byte) string {
	t.Helper()
	var b bytes.Buffer
	w := pcapgo.NewWriter(&b)
	w.WriteFileHeader(65535, layers.LinkTypeEthernet)
	for i, f := range frames {
		w.WritePacket(gopacket.CaptureInfo{Timestamp: base.Add(time.Duration(i) * time.Millisecond), CaptureLength: len(f), Length: len(f)}, f)
	}
	p := filepath.Join(t.TempDir(), "send.pcap")
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// liveRun captures on dev while send runs, until want packets were seen
// or 5 s passed after send returned; it returns the sum of the windows.
func liveRun(t *testing.T, c Config, want uint64, send func()) (event.Counters, uint64, int) {
	t.Helper()
	m, err := New(c, 500*time.Millisecond, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var (
		mu      sync.Mutex
		total   event.Counters
		dropped uint64
		windows int
		done    = make(chan error, 1)
	)
	go func() {
		done <- m.Run(ctx, func(s *event.Snapshot) {
			mu.Lock()
			defer mu.Unlock()
			total.Add(&s.Counters)
			dropped += s.Dropped
			windows++
			if s.CaptureErr != "" {
				t.Errorf("capture error: %s", s.CaptureErr)
			}
		})
	}()
	send()
	// Wait for the miner to count what was sent (bounded).
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		n := total.Packets + dropped
		mu.Unlock()
		if n >= want {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	return total, dropped, windows
}

// TestLiveVeth sends a known mix through a veth pair at a moderate rate
// and checks that the AF_PACKET source counts every packet, with and
// without a kernel filter.
func TestLiveVeth(t *testing.T) {
	here, ns, there := vethPair(t)
	frames := mixedFrames(t, 2000)
	var want event.Counters
	d, w := newDecoder(), newWindow(1)
	for _, f := range frames {
		p := liveTestPacket(f)
		d.count(&p, w)
	}
	want = w.counters()
	pcap := writeFrames(t, frames)
	send := func() {
		out, err := exec.Command("ip", "netns", "exec", ns, "tcpreplay", "-q", "-i", there, "--pps", "4000", pcap).CombinedOutput()
		if err != nil {
			t.Fatalf("tcpreplay: %v\n%s", err, out)
		}
	}

	c := DefaultConfig()
	c.Device = here
	got, dropped, windows := liveRun(t, c, want.Packets, send)
	if got.Packets != want.Packets || got.TCP != want.TCP || got.UDP != want.UDP || got.ARP != want.ARP || got.IPv6 != want.IPv6 || got.SYN != want.SYN || got.Malformed != 0 || dropped != 0 {
		t.Errorf("counted %+v (dropped %d)\nsent    %+v", got, dropped, want)
	}
	if windows < 2 {
		t.Errorf("%d windows in about a second at a 500 ms period", windows)
	}

	// With a kernel filter only TCP gets through.
	c.Filter = "tcp"
	got, dropped, _ = liveRun(t, c, want.TCP, send)
	if got.Packets != want.TCP || got.TCP != want.TCP || got.UDP != 0 || dropped != 0 {
		t.Errorf("with filter tcp: counted %d packets (%d TCP, %d UDP), want %d TCP only", got.Packets, got.TCP, got.UDP, want.TCP)
	}

	// Two workers sharing the traffic by kernel fan-out count it all.
	c.Filter, c.Workers = "", 2
	got, dropped, _ = liveRun(t, c, want.Packets, send)
	if got.Packets != want.Packets || got.TCP != want.TCP || dropped != 0 {
		t.Errorf("two workers: counted %d packets (%d TCP), want %d (%d TCP)", got.Packets, got.TCP, want.Packets, want.TCP)
	}
}

// TestLiveVethOverload measures, without asserting, how fast the live path
// keeps up: it sends bursts at rising rates and reports drops and the
// highest rate at which every packet was counted. Opt in with
// NETSPOT_OVERLOAD=1 (about 15 s).
func TestLiveVethOverload(t *testing.T) {
	if os.Getenv("NETSPOT_OVERLOAD") == "" {
		t.Skip("set NETSPOT_OVERLOAD=1 to measure the loss-free rate")
	}
	here, ns, there := vethPair(t)
	frames := mixedFrames(t, 4096)
	// Small frames stress the per-packet path.
	for i := range frames {
		if len(frames[i]) > 128 {
			frames[i] = frames[i][:128]
		}
	}
	pcap := writeFrames(t, frames)
	c := DefaultConfig()
	c.Device = here
	best := 0
	for _, rate := range []int{20000, 50000, 100000, 200000, 400000, 0} {
		args := []string{"netns", "exec", ns, "tcpreplay", "-q", "-i", there, "--loop", "10"}
		if rate == 0 {
			args = append(args, "--topspeed")
		} else {
			args = append(args, "--pps", strconv.Itoa(rate))
		}
		args = append(args, pcap)
		var sendErr error
		var elapsed time.Duration
		sent := uint64(10 * len(frames))
		got, dropped, _ := liveRun(t, c, sent, func() {
			start := time.Now()
			out, err := exec.Command("ip", args...).CombinedOutput()
			elapsed = time.Since(start)
			if err != nil {
				sendErr = fmt.Errorf("%v: %s", err, out)
			}
		})
		if sendErr != nil {
			t.Fatal(sendErr)
		}
		actual := float64(sent) / elapsed.Seconds()
		t.Logf("asked %d pps, sent %.0f pps: counted %d of %d, kernel drops %d", rate, actual, got.Packets, sent, dropped)
		if got.Packets == sent && dropped == 0 && int(actual) > best {
			best = int(actual)
		}
	}
	t.Logf("highest loss-free rate: %d packets/s", best)
}

// liveTestPacket is how a frame sent on the veth is seen by the capture.
func liveTestPacket(f []byte) capture.Packet {
	return capture.Packet{Data: f, Length: len(f), Link: capture.LinkEthernet}
}
