package main

import (
	"bytes"
	"encoding/binary"
	"io"
	"math"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"netspot/core/config"
)

// The capture must show normal traffic with few SYNs, then a window of
// SYNs from spoofed sources, which is what makes the detectors raise an
// alarm.
func TestCaptureShapesTheAttack(t *testing.T) {
	c := vmTraffic()
	attack := c.Attacks[0]
	path := filepath.Join(t.TempDir(), "capture.pcap")
	if err := writeCapture(path, c); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var before, beforeSYN, during, duringSYN int
	last := time.Time{}
	for {
		data, ci, err := r.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if ci.Timestamp.Before(last) {
			t.Fatalf("timestamps go back: %v after %v", ci.Timestamp, last)
		}
		last = ci.Timestamp
		p := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.Default)
		if p.ErrorLayer() != nil {
			t.Fatalf("undecodable frame: %v", p.ErrorLayer().Error())
		}
		syn := false
		if tcp, ok := p.Layer(layers.LayerTypeTCP).(*layers.TCP); ok {
			syn = tcp.SYN && !tcp.ACK
		}
		switch at := ci.Timestamp.Sub(c.Start); {
		case at < attack.At.D():
			before++
			if syn {
				beforeSYN++
			}
		case at < attack.At.D()+attack.Duration.D():
			during++
			if syn {
				duringSYN++
			}
		}
	}
	if want := c.Rate * attack.At.D().Seconds(); float64(before) < want/2 || float64(beforeSYN)/float64(before) > 0.05 {
		t.Errorf("normal traffic: %d packets (about %.0f expected), %d SYN", before, want, beforeSYN)
	}
	// Each SYN of the flood is answered by a SYN-ACK.
	if want := attack.Rate * attack.Duration.D().Seconds(); math.Abs(float64(duringSYN)-want) > want/10 || duringSYN < during*2/5 {
		t.Errorf("attack: %d packets, %d SYN; want about %.0f SYN, almost half of the packets", during, duringSYN, want)
	}
}

func TestReplaySendsEveryFrame(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.pcap")
	c := vmTraffic() // cut short: the replay follows the capture's clock
	c.Duration = config.Duration(300 * time.Millisecond)
	c.Attacks[0].At, c.Attacks[0].Duration = config.Duration(200*time.Millisecond), config.Duration(100*time.Millisecond)
	if err := writeCapture(path, c); err != nil {
		t.Fatal(err)
	}
	l, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var received atomic.Int64
	go func() {
		b := make([]byte, 2048)
		for {
			if _, err := l.Read(b); err != nil {
				return // closed
			}
			received.Add(1)
		}
	}()
	// The flood starts 200 ms after the capture's start, whenever the
	// first packet is: the replay keeps that clock.
	began := time.Now()
	sent, err := replay(path, c.Start, l.LocalAddr().(*net.UDPAddr), make(chan struct{}))
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took < c.Attacks[0].At.D() {
		t.Errorf("replayed in %v: the attack came before its offset %v", took, c.Attacks[0].At)
	}
	for deadline := time.Now().Add(2 * time.Second); received.Load() < int64(sent) && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if got := received.Load(); got != int64(sent) || sent == 0 {
		t.Fatalf("sent %d frames, received %d", sent, got)
	}
}

func TestReplayRejectsWhatIsNotAnEthernetCapture(t *testing.T) {
	dir := t.TempDir()
	notPcap := filepath.Join(dir, "x.pcap")
	if err := os.WriteFile(notPcap, []byte("not a capture"), 0o644); err != nil {
		t.Fatal(err)
	}
	to := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9}
	if _, err := replay(notPcap, time.Time{}, to, nil); err == nil {
		t.Error("a file that is not a pcap was replayed")
	}
	raw := filepath.Join(dir, "raw.pcap")
	var buf bytes.Buffer
	w := pcapgo.NewWriter(&buf)
	if err := w.WriteFileHeader(65535, layers.LinkTypeRaw); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(raw, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := replay(raw, time.Time{}, to, nil); err == nil {
		t.Error("a capture without Ethernet frames was replayed")
	}
}

func TestMBRPartitionOffset(t *testing.T) {
	img := make([]byte, 512)
	binary.LittleEndian.PutUint32(img[446+8:], 2048)      // partition 1
	binary.LittleEndian.PutUint32(img[446+16+8:], 133120) // partition 2
	img[510], img[511] = 0x55, 0xaa
	path := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(path, img, 0o644); err != nil {
		t.Fatal(err)
	}
	for n, want := range map[int]int64{1: 2048 * 512, 2: 133120 * 512} {
		got, err := mbrPartitionOffset(path, n)
		if err != nil || got != want {
			t.Errorf("partition %d: %d, %v; want %d", n, got, err, want)
		}
	}
	for _, n := range []int{0, 3, 5} {
		if _, err := mbrPartitionOffset(path, n); err == nil {
			t.Errorf("partition %d: no error", n)
		}
	}
	img[510] = 0
	if err := os.WriteFile(path, img, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := mbrPartitionOffset(path, 1); err == nil {
		t.Error("disk without MBR signature accepted")
	}
}
