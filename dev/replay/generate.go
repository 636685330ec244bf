package main

import (
	"bufio"
	"os"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"netspot/dev/mixcap"
)

// generate writes n frames (n > 0) of a deterministic mix over span into
// path. Frames are drawn from a pool of 8192 distinct ones; sizes average
// about 550 bytes, like a mixed office network.
func generate(path string, n int, span time.Duration) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close() // on an error; the final Close below reports its own
	bw := bufio.NewWriterSize(f, 1<<20)
	w := pcapgo.NewWriterNanos(bw)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		return err
	}
	pool, err := mixcap.Frames(3, 8192)
	if err != nil {
		return err
	}
	t0 := time.Unix(1700000000, 0)
	step := span / time.Duration(n)
	for i := 0; i < n; i++ {
		fr := pool[i%len(pool)]
		if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: t0.Add(time.Duration(i) * step), CaptureLength: len(fr), Length: len(fr)}, fr); err != nil {
			return err
		}
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return f.Close()
}
