package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"netspot/core/config"
	"netspot/dev/trafficgen"
)

// vmTraffic is the traffic replayed into the appliance's capture NIC: a
// small office LAN, steady so that the test config's detectors learn it in
// the 40 s before a SYN flood, then 20 s of normal traffic again.
func vmTraffic() trafficgen.Config {
	c := trafficgen.DefaultConfig()
	c.Seed = 7
	c.Start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c.Duration = config.Duration(75 * time.Second)
	c.Rate, c.Hosts, c.Wander = 60, 6, 0
	c.Output = trafficgen.Output{Format: "pcap", LinkType: "ether"}
	c.Attacks = []trafficgen.Attack{{Kind: "syn-flood", Rate: 600,
		At: config.Duration(40 * time.Second), Duration: config.Duration(15 * time.Second)}}
	return c
}

// piTraffic is vmTraffic at half its rates, which QEMU's emulated
// USB of the Raspberry Pi carries (about 90 kB/s): the same office LAN at
// 30 packets/s, and a SYN flood of 300 packets/s.
func piTraffic() trafficgen.Config {
	c := vmTraffic()
	c.Rate = 30
	c.Attacks[0].Rate = 300
	return c
}

// writeCapture writes the capture of c to path.
func writeCapture(path string, c trafficgen.Config) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := trafficgen.Generate(f, c); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}

// replay sends the frames of a pcap file to a QEMU socket netdev (one UDP
// datagram per Ethernet frame) on the capture's own clock, origin being the
// capture time of the call, until the file ends or stop is closed. It
// returns the number of frames sent.
func replay(path string, origin time.Time, to *net.UDPAddr, stop <-chan struct{}) (int, error) {
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
		if wait := time.Until(start.Add(ci.Timestamp.Sub(origin))); wait > 0 {
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
