package main

import (
	"bytes"
	"encoding/binary"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

var testPlan = trafficPlan{Normal: 3 * time.Second, Attack: time.Second, After: time.Second,
	NormalRate: 50, AttackRate: 400, Seed: 1, StartOfTime: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}

// The capture must show normal traffic with few SYNs, then a window made of
// SYNs only, which is what makes the detectors raise an alarm.
func TestWriteCaptureShapesTheAttack(t *testing.T) {
	var buf bytes.Buffer
	attackAt, err := writeCapture(&buf, testPlan)
	if err != nil {
		t.Fatal(err)
	}
	if attackAt != testPlan.Normal {
		t.Fatalf("attack at %v, want %v", attackAt, testPlan.Normal)
	}
	r, err := pcapgo.NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	var before, beforeSYN, during, duringSYN int
	last := time.Time{}
	for {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			break
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
		at := ci.Timestamp.Sub(testPlan.StartOfTime)
		switch {
		case at < testPlan.Normal:
			before++
			if syn {
				beforeSYN++
			}
		case at < testPlan.Normal+testPlan.Attack:
			during++
			if syn {
				duringSYN++
			}
		}
	}
	if before < 100 || float64(beforeSYN)/float64(before) > 0.2 {
		t.Errorf("normal traffic: %d packets, %d SYN", before, beforeSYN)
	}
	if during != 400 || duringSYN != during {
		t.Errorf("attack: %d packets, %d SYN; want 400 SYN", during, duringSYN)
	}
}

func TestReplaySendsEveryFrame(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.pcap")
	plan := testPlan
	plan.Normal, plan.Attack, plan.After = 200*time.Millisecond, 100*time.Millisecond, 0
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := writeCapture(f, plan); err != nil {
		t.Fatal(err)
	}
	f.Close()
	l, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	received := make(chan int)
	go func() {
		n := 0
		b := make([]byte, 2048)
		for {
			_ = l.SetReadDeadline(time.Now().Add(2 * time.Second))
			if _, err := l.Read(b); err != nil {
				received <- n
				return
			}
			n++
		}
	}()
	sent, err := replay(path, l.LocalAddr().(*net.UDPAddr), make(chan struct{}))
	if err != nil {
		t.Fatal(err)
	}
	if got := <-received; got != sent || sent == 0 {
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
	if _, err := replay(notPcap, to, nil); err == nil {
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
	if _, err := replay(raw, to, nil); err == nil {
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
