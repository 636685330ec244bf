// Command replay runs the miner alone over a capture file or an interface
// and prints what it counted and how fast, to measure the capture and
// decoding stages without the rest of netspot:
//
//	go run ./dev/replay -period 1s capture.pcap
//	go run ./dev/replay -write big.pcap -packets 5000000 -span 600s
//
// With -write it first generates a mixed capture (TCP, UDP/DNS, ICMP, ARP,
// VLAN, IPv6; deterministic) for benchmarks.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"time"

	"netspot/core/event"
	"netspot/core/miner"
)

func main() {
	period := flag.Duration("period", time.Second, "window length")
	filter := flag.String("filter", "", "filter expression")
	workers := flag.Int("workers", 1, "live capture workers")
	verbose := flag.Bool("v", false, "print every window")
	write := flag.String("write", "", "generate a mixed capture into this file and exit")
	packets := flag.Int("packets", 1000000, "packets to generate with -write")
	span := flag.Duration("span", 600*time.Second, "time covered by the generated capture")
	flag.Parse()
	if *write != "" {
		if *packets < 1 || *span <= 0 {
			fmt.Fprintf(os.Stderr, "replay: -packets %d -span %s: want at least one packet over a positive span\n", *packets, *span)
			os.Exit(2)
		}
		if err := generate(*write, *packets, *span); err != nil {
			fmt.Fprintln(os.Stderr, "replay:", err)
			os.Exit(1)
		}
		return
	}
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: replay [flags] FILE|INTERFACE")
		os.Exit(2)
	}
	c := miner.DefaultConfig()
	c.Device, c.Filter, c.Workers = flag.Arg(0), *filter, *workers
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	m, err := miner.New(c, *period, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, "replay:", err)
		os.Exit(1)
	}
	defer m.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var total event.Counters
	var windows int
	var dropped uint64
	start := time.Now()
	err = m.Run(ctx, func(s *event.Snapshot) {
		windows++
		total.Add(&s.Counters)
		dropped += s.Dropped
		if *verbose {
			fmt.Printf("%s %s partial=%v packets=%d bytes=%d tcp=%d udp=%d syn=%d src=%d dst=%d dport=%d malformed=%d dropped=%d busy=%s err=%q\n",
				s.Start.Format(time.RFC3339Nano), s.End.Sub(s.Start), s.Partial, s.Packets, s.Bytes, s.TCP, s.UDP, s.SYN,
				s.DistinctSrcAddr, s.DistinctDstAddr, s.DistinctDstPort, s.Malformed, s.Dropped, s.Busy, s.CaptureErr)
		}
	})
	elapsed := time.Since(start)
	if err != nil {
		fmt.Fprintln(os.Stderr, "replay:", err)
	}
	fmt.Printf("windows=%d packets=%d bytes=%d ip=%d tcp=%d udp=%d malformed=%d dropped=%d elapsed=%s rate=%.0f packets/s\n",
		windows, total.Packets, total.Bytes, total.IP, total.TCP, total.UDP, total.Malformed, dropped, elapsed.Round(time.Millisecond),
		float64(total.Packets)/elapsed.Seconds())
	if err != nil {
		os.Exit(1)
	}
}
