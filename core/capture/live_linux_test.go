package capture

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestLiveNextHangUp gives Next a descriptor that polls as hung up (the read
// end of a pipe whose writer is closed) and an empty ring: Next must report
// an error, so that the miner reopens the source, rather than poll again and
// again without returning.
func TestLiveNextHangUp(t *testing.T) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	unix.Close(p[1])
	const blockSize = 4096
	l := &Live{dev: "test0", fd: p[0], ring: make([]byte, 2*blockSize), blockSize: blockSize, numBlocks: 2, pollMs: 1}
	l.pfd[0] = unix.PollFd{Fd: int32(p[0]), Events: unix.POLLIN | unix.POLLERR}
	defer unix.Close(p[0])
	done := make(chan error, 1)
	go func() {
		var pkt Packet
		done <- l.Next(&pkt)
	}()
	select {
	case err := <-done:
		if err == nil || err == ErrTimeout {
			t.Errorf("Next = %v, want an error", err)
		}
	case <-time.After(10 * time.Second): // a guard against a hang, not a timing
		t.Fatal("Next does not return on a hung-up descriptor")
	}
}
