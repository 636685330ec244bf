package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// trafficPlan describes the capture replayed into the appliance's capture
// NIC: normal traffic, then a SYN flood, then normal traffic again.
type trafficPlan struct {
	Normal      time.Duration // normal traffic before the attack
	Attack      time.Duration // SYN flood
	After       time.Duration // normal traffic after the attack
	NormalRate  int           // packets per second of normal traffic
	AttackRate  int           // SYN packets per second during the attack
	Seed        uint64
	StartOfTime time.Time // timestamp of the first packet
}

// writeCapture writes the plan as a pcap file (Ethernet link type) and
// returns the offset of the attack from the start of the capture.
func writeCapture(w io.Writer, p trafficPlan) (time.Duration, error) {
	pw := pcapgo.NewWriter(w)
	if err := pw.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		return 0, err
	}
	rng := rand.New(rand.NewPCG(p.Seed, p.Seed^0x9e3779b97f4a7c15))
	buf := gopacket.NewSerializeBuffer()
	write := func(at time.Duration, ls ...gopacket.SerializableLayer) error {
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
			return err
		}
		data := buf.Bytes()
		ci := gopacket.CaptureInfo{Timestamp: p.StartOfTime.Add(at), CaptureLength: len(data), Length: len(data)}
		return pw.WritePacket(ci, data)
	}
	server := net.IPv4(192, 168, 1, 10).To4()
	clients := []net.IP{net.IPv4(192, 168, 1, 20).To4(), net.IPv4(192, 168, 1, 21).To4(), net.IPv4(192, 168, 1, 22).To4()}
	macA := net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0a}
	macB := net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0b}

	normal := func(from, to time.Duration) error {
		step := time.Second / time.Duration(p.NormalRate)
		for at := from; at < to; at += step/2 + time.Duration(rng.Int64N(int64(step))) {
			c := clients[rng.IntN(len(clients))]
			eth := &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv4}
			if rng.IntN(10) == 0 { // a DNS query now and then
				ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: c, DstIP: server}
				udp := &layers.UDP{SrcPort: layers.UDPPort(30000 + rng.IntN(20000)), DstPort: 53}
				if err := udp.SetNetworkLayerForChecksum(ip); err != nil {
					return err
				}
				if err := write(at, eth, ip, udp, gopacket.Payload(make([]byte, 32))); err != nil {
					return err
				}
				continue
			}
			ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: c, DstIP: server}
			tcp := &layers.TCP{SrcPort: layers.TCPPort(40000 + rng.IntN(100)), DstPort: 443, ACK: true, PSH: rng.IntN(2) == 0,
				Seq: rng.Uint32(), Ack: rng.Uint32(), Window: 512}
			if rng.IntN(25) == 0 { // an occasional new connection
				tcp.SYN, tcp.ACK, tcp.PSH = true, false, false
			}
			if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
				return err
			}
			if err := write(at, eth, ip, tcp, gopacket.Payload(make([]byte, 100+rng.IntN(1200)))); err != nil {
				return err
			}
		}
		return nil
	}
	if err := normal(0, p.Normal); err != nil {
		return 0, err
	}
	step := time.Second / time.Duration(p.AttackRate)
	for at := p.Normal; at < p.Normal+p.Attack; at += step {
		src := net.IPv4(10, byte(rng.IntN(256)), byte(rng.IntN(256)), byte(1+rng.IntN(254))).To4()
		eth := &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv4}
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: src, DstIP: server}
		tcp := &layers.TCP{SrcPort: layers.TCPPort(1024 + rng.IntN(60000)), DstPort: 80, SYN: true, Seq: rng.Uint32(), Window: 1024}
		if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
			return 0, err
		}
		if err := write(at, eth, ip, tcp); err != nil {
			return 0, err
		}
	}
	if err := normal(p.Normal+p.Attack, p.Normal+p.Attack+p.After); err != nil {
		return 0, err
	}
	return p.Normal, nil
}

// replay sends the frames of a pcap file to a QEMU socket netdev (one UDP
// datagram per Ethernet frame) on the capture's own clock, until the file
// ends or stop is closed. It returns the number of frames sent.
func replay(path string, to *net.UDPAddr, stop <-chan struct{}) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		return 0, fmt.Errorf("replay %s: %w", path, err)
	}
	if r.LinkType() != layers.LinkTypeEthernet {
		return 0, fmt.Errorf("replay %s: link type %v, want Ethernet", path, r.LinkType())
	}
	conn, err := net.DialUDP("udp", nil, to)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	var first time.Time
	start := time.Now()
	sent := 0
	for {
		data, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			return sent, nil
		}
		if err != nil {
			return sent, fmt.Errorf("replay %s: packet %d: %w", path, sent+1, err)
		}
		if first.IsZero() {
			first = ci.Timestamp
		}
		if wait := time.Until(start.Add(ci.Timestamp.Sub(first))); wait > 0 {
			select {
			case <-stop:
				return sent, nil
			case <-time.After(wait):
			}
		}
		if _, err := conn.Write(data); err != nil {
			return sent, fmt.Errorf("replay: send: %w", err)
		}
		sent++
	}
}

// mbrPartitionOffset returns the byte offset of primary partition n (1-4)
// of an MBR disk image.
func mbrPartitionOffset(image string, n int) (int64, error) {
	if n < 1 || n > 4 {
		return 0, fmt.Errorf("partition %d: MBR has 4 primary partitions", n)
	}
	f, err := os.Open(image)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sector := make([]byte, 512)
	if _, err := io.ReadFull(f, sector); err != nil {
		return 0, fmt.Errorf("%s: %w", image, err)
	}
	if sector[510] != 0x55 || sector[511] != 0xaa {
		return 0, fmt.Errorf("%s: no MBR signature", image)
	}
	entry := sector[446+16*(n-1):]
	lba := binary.LittleEndian.Uint32(entry[8:12])
	if lba == 0 {
		return 0, fmt.Errorf("%s: partition %d is empty", image, n)
	}
	return int64(lba) * 512, nil
}
