package trafficgen

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"netspot/core/config"
)

// Writer writes generated packets as a capture file: pcap or pcapng, with
// the link type, VLAN tags and snaplen of an Output.
type Writer struct {
	o       Output
	start   time.Time
	bw      *bufio.Writer
	pcap    *pcapgo.Writer
	ng      *pcapgo.NgWriter
	buf     []byte
	skipped uint64
}

// LinkType returns the capture link type of the output.
func (o *Output) linkType() layers.LinkType {
	switch o.LinkType {
	case "sll":
		return layers.LinkTypeLinuxSLL
	case "sll2":
		return layers.LinkTypeLinuxSLL2
	case "raw":
		return layers.LinkTypeRaw
	}
	return layers.LinkTypeEthernet
}

// NewWriter writes the file header to w. comment goes into the pcapng
// section header (pcap has no place for it).
func NewWriter(w io.Writer, o Output, start time.Time, comment string) (*Writer, error) {
	if err := o.Validate(); err != nil {
		return nil, config.Within("output", err)
	}
	wr := &Writer{o: o, start: start, bw: bufio.NewWriterSize(w, 1<<20), buf: make([]byte, 0, 4096)}
	snap := uint32(o.Snaplen)
	switch o.Format {
	case "pcapng":
		ng, err := pcapgo.NewNgWriterInterface(wr.bw, pcapgo.NgInterface{
			Name:                "mirror0",
			Description:         "mirrored switch port (generated)",
			LinkType:            o.linkType(),
			SnapLength:          snap,
			TimestampResolution: 9,
		}, pcapgo.NgWriterOptions{SectionInfo: pcapgo.NgSectionInfo{Application: "netspot trafficgen", Comment: comment}})
		if err != nil {
			return nil, fmt.Errorf("write pcapng header: %w", err)
		}
		wr.ng = ng
	default:
		if o.Format == "pcap-ns" {
			wr.pcap = pcapgo.NewWriterNanos(wr.bw)
		} else {
			wr.pcap = pcapgo.NewWriter(wr.bw)
		}
		if snap == 0 {
			snap = 262144
		}
		if err := wr.pcap.WriteFileHeader(snap, o.linkType()); err != nil {
			return nil, fmt.Errorf("write pcap header: %w", err)
		}
	}
	return wr, nil
}

// Skipped is the number of frames the link type could not hold (ARP with
// the raw link type).
func (w *Writer) Skipped() uint64 { return w.skipped }

// Write converts p (an Ethernet frame) to the output's link type and writes
// it.
func (w *Writer) Write(p *Packet) error {
	data, length, ok := w.convert(p.Data, p.Length)
	if !ok {
		w.skipped++
		return nil
	}
	if w.o.Snaplen > 0 && len(data) > w.o.Snaplen {
		data = data[:w.o.Snaplen]
	}
	ci := gopacket.CaptureInfo{Timestamp: w.start.Add(p.Offset), CaptureLength: len(data), Length: length}
	var err error
	if w.ng != nil {
		err = w.ng.WritePacket(ci, data)
	} else {
		err = w.pcap.WritePacket(ci, data)
	}
	if err != nil {
		return fmt.Errorf("write packet: %w", err)
	}
	return nil
}

// Flush writes out what is buffered.
func (w *Writer) Flush() error {
	if w.ng != nil {
		if err := w.ng.Flush(); err != nil {
			return err
		}
	}
	return w.bw.Flush()
}

// convert turns an Ethernet frame into the output link type.
func (w *Writer) convert(f []byte, wire int) ([]byte, int, bool) {
	etype := binary.BigEndian.Uint16(f[12:14])
	switch w.o.LinkType {
	case "ether":
		if len(w.o.VLAN) == 0 {
			return f, wire, true
		}
		b := append(w.buf[:0], f[:12]...)
		for i, vid := range w.o.VLAN {
			tpid := uint16(0x8100)
			if i == 0 && len(w.o.VLAN) == 2 {
				tpid = 0x88a8 // 802.1ad service tag
			}
			b = binary.BigEndian.AppendUint16(b, tpid)
			b = binary.BigEndian.AppendUint16(b, uint16(vid))
		}
		b = append(b, f[12:]...)
		w.buf = b
		return b, wire + 4*len(w.o.VLAN), true
	case "sll", "sll2":
		ptype := byte(3) // to another host: a mirror port sees other hosts' traffic
		switch {
		case f[0] == 0xff && f[1] == 0xff && f[2] == 0xff && f[3] == 0xff && f[4] == 0xff && f[5] == 0xff:
			ptype = 1
		case f[0]&1 == 1:
			ptype = 2
		}
		var b []byte
		if w.o.LinkType == "sll" {
			b = append(w.buf[:0], 0, ptype, 0, 1, 0, 6)
			b = append(b, f[6:12]...)
			b = append(b, 0, 0)
			b = binary.BigEndian.AppendUint16(b, etype)
		} else {
			b = binary.BigEndian.AppendUint16(w.buf[:0], etype)
			b = append(b, 0, 0, 0, 0, 0, 2, 0, 1, ptype, 6)
			b = append(b, f[6:12]...)
			b = append(b, 0, 0)
		}
		hl := len(b)
		b = append(b, f[14:]...)
		w.buf = b
		return b, wire - 14 + hl, true
	case "raw":
		var n int
		switch etype {
		case etherTypeIPv4:
			n = int(binary.BigEndian.Uint16(f[16:18]))
		case etherTypeIPv6:
			n = 40 + int(binary.BigEndian.Uint16(f[18:20]))
		default:
			return nil, 0, false
		}
		data := f[14:]
		if len(data) > n {
			data = data[:n] // no Ethernet padding without Ethernet
		}
		return data, n, true
	}
	return f, wire, true
}
