package eval

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"netspot/core/capture"
)

// dltOf is the link-type number written for a Link.
func dltOf(l capture.Link) (layers.LinkType, bool) {
	switch l {
	case capture.LinkEthernet:
		return layers.LinkTypeEthernet, true
	case capture.LinkSLL:
		return layers.LinkTypeLinuxSLL, true
	case capture.LinkSLL2:
		return layers.LinkType(276), true
	case capture.LinkRaw:
		return layers.LinkTypeRaw, true // 101
	case capture.LinkIPv4:
		return layers.LinkTypeIPv4, true
	case capture.LinkIPv6:
		return layers.LinkTypeIPv6, true
	case capture.LinkNull:
		return layers.LinkTypeNull, true
	}
	return 0, false
}

// WriteSummary says what WriteTimeline wrote.
type WriteSummary struct {
	Format  string // "pcap" or "pcapng"
	Packets uint64
	Skipped uint64 // packets of a link type no capture format here can carry
}

// WriteTimelineFile builds the scenario's timeline (with filter) and writes
// it to the capture file at path, then describes what it wrote on report:
// its format, packets, span and attack windows. A failed write leaves no
// file.
func WriteTimelineFile(s *Scenario, filter, path string, report io.Writer) error {
	tl, err := Build(s, filter)
	if err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		tl.Close()
		return fmt.Errorf("eval: write timeline: %w", err)
	}
	sum, err := WriteTimeline(f, tl)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("eval: write timeline: %w", err)
	}
	var labels []string
	for _, w := range tl.Attacks() {
		labels = append(labels, fmt.Sprintf("%s %s..%s", w.Label, w.Start.Format(time.RFC3339Nano), w.End.Format(time.RFC3339Nano)))
	}
	fmt.Fprintf(report, "%s: %s, %d packets from %s to %s\n", path, sum.Format, sum.Packets,
		tl.Start().Format(time.RFC3339), tl.End().Format(time.RFC3339))
	if sum.Skipped > 0 {
		fmt.Fprintf(report, "  %d packets of an unknown link type left out\n", sum.Skipped)
	}
	if len(labels) > 0 {
		fmt.Fprintf(report, "  attacks: %s\n", strings.Join(labels, "; "))
	}
	return nil
}

// WriteTimeline writes the whole timeline to w as one capture file, so that
// another detector can be run on exactly the same traffic. It writes a
// nanosecond pcap when every capture has the same link type, and a pcapng
// with one interface per link type otherwise. It consumes the timeline.
func WriteTimeline(w io.Writer, t *Timeline) (WriteSummary, error) {
	var sum WriteSummary
	links := t.Links()
	iface := make(map[capture.Link]int)
	var writePacket func(ci gopacket.CaptureInfo, data []byte) error
	var flush func() error
	bw := bufio.NewWriterSize(w, 1<<20)
	switch {
	case len(links) == 1:
		dlt, ok := dltOf(links[0])
		if !ok {
			return sum, fmt.Errorf("eval: write timeline: the captures' link type (%s) cannot be written", links[0])
		}
		pw := pcapgo.NewWriterNanos(bw)
		if err := pw.WriteFileHeader(262144, dlt); err != nil {
			return sum, fmt.Errorf("eval: write timeline: %w", err)
		}
		sum.Format = "pcap"
		iface[links[0]] = 0
		writePacket = pw.WritePacket
		flush = bw.Flush
	default:
		var ng *pcapgo.NgWriter
		for _, l := range links {
			dlt, ok := dltOf(l)
			if !ok {
				continue
			}
			intf := pcapgo.NgInterface{Name: l.String(), LinkType: dlt, TimestampResolution: 9}
			var err error
			if ng == nil {
				opts := pcapgo.NgWriterOptions{SectionInfo: pcapgo.NgSectionInfo{Application: "netspot eval"}}
				ng, err = pcapgo.NewNgWriterInterface(bw, intf, opts)
				iface[l] = 0
			} else {
				iface[l], err = ng.AddInterface(intf)
			}
			if err != nil {
				return sum, fmt.Errorf("eval: write timeline: %w", err)
			}
		}
		if ng == nil {
			return sum, fmt.Errorf("eval: write timeline: no capture has a link type that can be written")
		}
		sum.Format = "pcapng"
		writePacket = ng.WritePacket
		flush = func() error {
			if err := ng.Flush(); err != nil {
				return err
			}
			return bw.Flush()
		}
	}
	defer t.Close()
	var p capture.Packet
	for {
		err := t.Next(&p)
		if err == io.EOF {
			break
		}
		if err != nil {
			return sum, err
		}
		idx, ok := iface[p.Link]
		if !ok {
			sum.Skipped++
			continue
		}
		ci := gopacket.CaptureInfo{Timestamp: time.Unix(0, p.Time), CaptureLength: len(p.Data), Length: p.Length, InterfaceIndex: idx}
		if err := writePacket(ci, p.Data); err != nil {
			return sum, fmt.Errorf("eval: write timeline: %w", err)
		}
		sum.Packets++
	}
	if err := flush(); err != nil {
		return sum, fmt.Errorf("eval: write timeline: %w", err)
	}
	return sum, nil
}
