package capture

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"netspot/core/capture/filter"
)

// Live reads frames from a Linux AF_PACKET socket through a TPACKET_V3
// memory-mapped ring: the kernel fills blocks of frames, Next walks them
// without a system call per frame and without allocating.
//
// On an Ethernet-like interface the socket sees whole frames (SOCK_RAW,
// LinkEthernet). On "any" and on interfaces without an Ethernet header
// (tun, WireGuard, PPP) it sees frames from the network header on
// (SOCK_DGRAM, LinkNetwork) with their EtherType, as libpcap's cooked mode.
//
// A Live is used by one goroutine at a time.
type Live struct {
	dev       string
	fd        int
	ring      []byte
	blockSize int
	numBlocks int
	link      Link
	loopback  []int32 // loopback interface indexes ("any": skip their outgoing copies)

	cur       int    // index of the block being read
	inBlock   bool   // the current block belongs to us
	remaining uint32 // frames left in the block
	off       uint32 // offset of the next frame in the block

	pollMs int
	pfd    [1]unix.PollFd
	idle   time.Duration
}

// Offsets in struct tpacket_block_desc / tpacket_hdr_v1 and tpacket3_hdr
// (linux/if_packet.h); sockaddr_ll follows the frame header at 48.
const (
	blkStatus      = 8
	blkNumPkts     = 12
	blkFirstPkt    = 16
	pktNextOffset  = 0
	pktSec         = 4
	pktNsec        = 8
	pktSnaplen     = 12
	pktLen         = 16
	pktMac         = 24
	pktHdrLen      = 48
	sllProtocol    = pktHdrLen + 2
	sllIfindex     = pktHdrLen + 4
	sllPkttype     = pktHdrLen + 10
	frameSize      = 2048
	packetOutgoing = 4 // PACKET_OUTGOING
)

// IsDevice reports whether name is a network interface of this machine
// (or "any").
func IsDevice(name string) bool {
	if name == AnyDevice {
		return true
	}
	_, err := net.InterfaceByName(name)
	return err == nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// OpenLive opens a capture socket on c.Device. Errors wrap ErrNotFound
// (no such interface) or are a *PermissionError naming the capability.
func OpenLive(c LiveConfig) (*Live, error) {
	if c.SnapLen <= 0 || c.SnapLen > MaxRecord {
		return nil, fmt.Errorf("capture: snapshot length %d out of range 1..%d", c.SnapLen, MaxRecord)
	}
	fx, err := filter.Parse(c.Filter)
	if err != nil {
		return nil, err
	}
	l := &Live{dev: c.Device, fd: -1, link: LinkNetwork}
	ifindex := 0
	if c.Device != AnyDevice {
		iface, err := net.InterfaceByName(c.Device)
		if err != nil {
			return nil, fmt.Errorf("capture: %s: %w (no such file or interface)", c.Device, ErrNotFound)
		}
		ifindex = iface.Index
	} else if ifs, err := net.Interfaces(); err == nil {
		for _, i := range ifs {
			if i.Flags&net.FlagLoopback != 0 {
				l.loopback = append(l.loopback, int32(i.Index))
			}
		}
	}

	// The socket is created for no protocol, so that it receives nothing
	// until the filter and the ring are in place and it is bound.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
			return nil, &PermissionError{Op: "capture: open packet socket for " + c.Device, Capability: "CAP_NET_RAW", Err: err}
		}
		return nil, fmt.Errorf("capture: %s: packet socket: %w", c.Device, err)
	}
	l.fd = fd
	ok := false
	defer func() {
		if !ok {
			l.Close()
		}
	}()
	if ifindex != 0 {
		ifr, err := unix.NewIfreq(c.Device)
		if err == nil && unix.IoctlIfreq(fd, unix.SIOCGIFHWADDR, ifr) == nil {
			switch ifr.Uint16() {
			case unix.ARPHRD_ETHER, unix.ARPHRD_LOOPBACK:
				l.link = LinkEthernet
			}
		}
	}
	if l.link == LinkNetwork {
		// Re-create the socket as SOCK_DGRAM: the kernel removes the link
		// header and reports the EtherType.
		unix.Close(fd)
		l.fd = -1
		if fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0); err != nil {
			return nil, fmt.Errorf("capture: %s: packet socket: %w", c.Device, err)
		}
		l.fd = fd
	}

	code, err := fx.Compile(targetOf(l.link))
	if err != nil {
		return nil, fmt.Errorf("capture: %s (%s link): %w", c.Device, l.link, err)
	}
	// The value a filter returns is the number of bytes kept: this is how
	// the snapshot length is applied.
	for i := range code {
		if code[i].Op == 0x06 && code[i].K == filter.Accept {
			code[i].K = uint32(c.SnapLen)
		}
	}
	if err := attachFilter(fd, code); err != nil {
		return nil, fmt.Errorf("capture: %s: attach filter: %w", c.Device, err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V3); err != nil {
		return nil, fmt.Errorf("capture: %s: TPACKET_V3 not available: %w", c.Device, err)
	}

	l.blockSize = 1 << 17
	for l.blockSize < c.SnapLen+pktHdrLen+64 {
		l.blockSize <<= 1
	}
	l.numBlocks = c.RingBytes / l.blockSize
	if l.numBlocks < 2 {
		l.numBlocks = 2
	}
	tov := c.BlockTimeout / time.Millisecond
	if tov < 1 {
		tov = 1
	}
	req := unix.TpacketReq3{
		Block_size:     uint32(l.blockSize),
		Block_nr:       uint32(l.numBlocks),
		Frame_size:     frameSize,
		Frame_nr:       uint32(l.blockSize / frameSize * l.numBlocks),
		Retire_blk_tov: uint32(tov),
	}
	if err := unix.SetsockoptTpacketReq3(fd, unix.SOL_PACKET, unix.PACKET_RX_RING, &req); err != nil {
		return nil, fmt.Errorf("capture: %s: ring of %d blocks of %d bytes: %w", c.Device, l.numBlocks, l.blockSize, err)
	}
	l.ring, err = unix.Mmap(fd, 0, l.blockSize*l.numBlocks, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("capture: %s: map the ring: %w", c.Device, err)
	}

	sa := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifindex}
	if err := unix.Bind(fd, sa); err != nil {
		if errors.Is(err, unix.ENODEV) {
			return nil, fmt.Errorf("capture: %s: %w (the interface disappeared)", c.Device, ErrNotFound)
		}
		return nil, fmt.Errorf("capture: %s: bind: %w", c.Device, err)
	}
	if c.Promiscuous && ifindex != 0 {
		mreq := unix.PacketMreq{Ifindex: int32(ifindex), Type: unix.PACKET_MR_PROMISC}
		if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mreq); err != nil {
			if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
				return nil, &PermissionError{Op: "capture: promiscuous mode on " + c.Device, Capability: "CAP_NET_ADMIN", Err: err}
			}
			return nil, fmt.Errorf("capture: %s: promiscuous mode: %w", c.Device, err)
		}
	}
	if c.FanoutGroup != 0 {
		arg := uint32(unix.PACKET_FANOUT_HASH|unix.PACKET_FANOUT_FLAG_DEFRAG)<<16 | uint32(c.FanoutGroup)
		if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_FANOUT, int(int32(arg))); err != nil {
			return nil, fmt.Errorf("capture: %s: fan-out group %d: %w", c.Device, c.FanoutGroup, err)
		}
	}
	// Counters start now: what the socket saw before bind is not ours.
	_, _ = unix.GetsockoptTpacketStatsV3(fd, unix.SOL_PACKET, unix.PACKET_STATISTICS)

	l.pollMs = int(c.PollTimeout / time.Millisecond)
	if l.pollMs < 1 {
		l.pollMs = 1
	}
	l.pfd[0] = unix.PollFd{Fd: int32(fd), Events: unix.POLLIN | unix.POLLERR}
	ok = true
	return l, nil
}

func attachFilter(fd int, code []bpf.RawInstruction) error {
	prog := unix.SockFprog{Len: uint16(len(code)), Filter: (*unix.SockFilter)(unsafe.Pointer(&code[0]))}
	return unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &prog)
}

func (l *Live) block(i int) []byte {
	return l.ring[i*l.blockSize : (i+1)*l.blockSize]
}

func (l *Live) status(b []byte) *uint32 {
	return (*uint32)(unsafe.Pointer(&b[blkStatus]))
}

// release hands the current block back to the kernel.
func (l *Live) release() {
	if l.inBlock {
		atomic.StoreUint32(l.status(l.block(l.cur)), unix.TP_STATUS_KERNEL)
		l.inBlock = false
		l.cur = (l.cur + 1) % l.numBlocks
	}
}

// Next fills p with the next frame. It returns ErrTimeout when nothing
// arrived within the poll timeout, and an error when the socket failed
// (interface down or removed): then the caller should close and reopen.
func (l *Live) Next(p *Packet) error {
	ne := binary.NativeEndian
	for {
		if l.inBlock && l.remaining > 0 {
			b := l.block(l.cur)
			off := l.off
			if uint64(off)+pktHdrLen+20 > uint64(len(b)) {
				l.release() // corrupt offset: give the block back
				continue
			}
			h := b[off:]
			l.remaining--
			next := ne.Uint32(h[pktNextOffset:])
			if next == 0 && l.remaining > 0 {
				l.remaining = 0
			}
			l.off += next
			mac := uint64(ne.Uint16(h[pktMac:]))
			snap := uint64(ne.Uint32(h[pktSnaplen:]))
			if uint64(off)+mac+snap > uint64(len(b)) {
				continue
			}
			if h[sllPkttype] == packetOutgoing && l.isLoopback(int32(ne.Uint32(h[sllIfindex:]))) {
				continue // the same frame comes back as incoming
			}
			p.Data = b[uint64(off)+mac : uint64(off)+mac+snap]
			p.Length = int(ne.Uint32(h[pktLen:]))
			p.Time = int64(ne.Uint32(h[pktSec:]))*1e9 + int64(ne.Uint32(h[pktNsec:]))
			p.Link = l.link
			p.Proto = binary.BigEndian.Uint16(h[sllProtocol:])
			return nil
		}
		l.release()
		b := l.block(l.cur)
		if atomic.LoadUint32(l.status(b))&unix.TP_STATUS_USER != 0 {
			l.inBlock = true
			l.remaining = ne.Uint32(b[blkNumPkts:])
			l.off = ne.Uint32(b[blkFirstPkt:])
			continue
		}
		start := time.Now()
		n, err := unix.Poll(l.pfd[:], l.pollMs)
		l.idle += time.Since(start)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return fmt.Errorf("capture: %s: poll: %w", l.dev, err)
		}
		if n == 0 {
			return ErrTimeout
		}
		if re := l.pfd[0].Revents; re&(unix.POLLERR|unix.POLLHUP|unix.POLLNVAL) != 0 {
			if atomic.LoadUint32(l.status(b))&unix.TP_STATUS_USER != 0 {
				continue // frames first, the error after them
			}
			// Polling again would return at once with the same events:
			// the caller reopens the source instead of spinning here.
			soErr, err := unix.GetsockoptInt(l.fd, unix.SOL_SOCKET, unix.SO_ERROR)
			switch {
			case err == nil && soErr != 0:
				return fmt.Errorf("capture: %s: %w", l.dev, unix.Errno(soErr))
			case re&unix.POLLNVAL != 0:
				return fmt.Errorf("capture: %s: socket closed", l.dev)
			}
			return fmt.Errorf("capture: %s: socket error (poll events %#x)", l.dev, re)
		}
	}
}

func (l *Live) isLoopback(idx int32) bool {
	for _, i := range l.loopback {
		if i == idx {
			return true
		}
	}
	return false
}

// Stats returns what the kernel dropped, and how long Next waited, since
// the previous call.
func (l *Live) Stats() (LiveStats, error) {
	st := LiveStats{Idle: l.idle}
	l.idle = 0
	ks, err := unix.GetsockoptTpacketStatsV3(l.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS)
	if err != nil {
		return st, fmt.Errorf("capture: %s: read drop counters: %w", l.dev, err)
	}
	st.Drops = uint64(ks.Drops)
	return st, nil
}

// Close releases the ring and the socket.
func (l *Live) Close() error {
	if l.ring != nil {
		_ = unix.Munmap(l.ring)
		l.ring = nil
	}
	if l.fd >= 0 {
		err := unix.Close(l.fd)
		l.fd = -1
		return err
	}
	return nil
}
