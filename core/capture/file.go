package capture

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync/atomic"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"netspot/core/capture/filter"
)

// maxRecord is the longest packet record accepted from a file: libpcap's
// maximum snapshot length. A longer record means a corrupt file, and
// refusing it keeps memory bounded whatever the file says.
const maxRecord = 262144

// readBuffer is the read-ahead on capture files: large enough that reading
// costs few system calls, small enough for a board with little memory.
const readBuffer = 256 << 10

// File reads a pcap or pcapng capture file (optionally gzip-compressed),
// streaming it with bounded memory whatever its size.
type File struct {
	path  string
	f     *os.File
	count *countingReader
	size  int64

	pcap *pcapgo.Reader
	ng   *pcapgo.NgReader
	link Link // link of a pcap file

	expr  *filter.Expr
	progs [LinkNetwork + 1]*filter.Program

	records   uint64 // records read, matching the filter or not
	truncated atomic.Uint64
	done      bool
}

// countingReader counts the bytes read from the file, for progress bars.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// OpenFile opens a capture file. expr is a filter expression ("" for
// none), applied in user space with the same meaning as on a live
// interface. Errors wrap ErrNotFound, ErrFormat, a *PermissionError, or a
// *filter.Error for a filter that does not fit the file's link type.
func OpenFile(path, expr string) (*File, error) {
	fx, err := filter.Parse(expr)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("capture: %s: %w (no such file or interface)", path, ErrNotFound)
		case errors.Is(err, fs.ErrPermission):
			return nil, &PermissionError{Op: "capture: read " + path, Err: err}
		}
		return nil, fmt.Errorf("capture: %w", err)
	}
	file, err := newFile(path, f, fx)
	if err != nil {
		f.Close()
		return nil, err
	}
	return file, nil
}

func newFile(path string, f *os.File, fx *filter.Expr) (*File, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}
	if st.IsDir() {
		return nil, fmt.Errorf("capture: %s: %w: is a directory", path, ErrFormat)
	}
	file := &File{path: path, f: f, size: st.Size(), expr: fx}
	if st.Mode().IsRegular() && st.Size() == 0 {
		return nil, fmt.Errorf("capture: %s: %w: the file is empty", path, ErrFormat)
	}
	file.count = &countingReader{r: f}
	br := bufio.NewReaderSize(file.count, readBuffer)
	magic, err := br.Peek(4)
	if err != nil {
		if len(magic) == 0 {
			return nil, fmt.Errorf("capture: %s: %w: the file is empty", path, ErrFormat)
		}
		return nil, fmt.Errorf("capture: %s: %w: only %d bytes, too short for a capture file header", path, ErrFormat, len(magic))
	}
	switch m := binary.LittleEndian.Uint32(magic); {
	case m == 0x0a0d0d0a:
		ng, err := pcapgo.NewNgReader(br, pcapgo.NgReaderOptions{WantMixedLinkType: true, SkipUnknownVersion: true})
		if err != nil {
			return nil, fmt.Errorf("capture: %s: %w: bad pcapng section header: %s", path, ErrFormat, describe(err))
		}
		file.ng = ng
	case isPcapMagic(m) || (magic[0] == 0x1f && magic[1] == 0x8b):
		r, err := pcapgo.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("capture: %s: %w: bad pcap file header: %s", path, ErrFormat, describe(err))
		}
		if r.Snaplen() < maxRecord {
			// Accept records up to libpcap's limit even when the header
			// declares less (as tcpdump and Wireshark do), but no more.
			r.SetSnaplen(maxRecord)
		}
		link, ok := linkFromDLT(uint32(r.LinkType()))
		if !ok {
			return nil, fmt.Errorf("capture: %s: %w: link type %d (%s) is not supported; supported: %s", path, ErrFormat, uint32(r.LinkType()), r.LinkType(), SupportedLinkTypes)
		}
		file.pcap, file.link = r, link
		if _, err := file.program(link); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("capture: %s: %w: not a pcap or pcapng file (starts with % x)", path, ErrFormat, magic)
	}
	return file, nil
}

func isPcapMagic(m uint32) bool {
	switch m {
	case 0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1:
		return true
	}
	return false
}

// describe turns the reader's errors into words for a user.
func describe(err error) string {
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "the file ends inside its header"
	}
	return err.Error()
}

// targetOf is the filter target for a link.
func targetOf(l Link) filter.Target {
	switch l {
	case LinkSLL:
		return filter.SLL
	case LinkSLL2:
		return filter.SLL2
	case LinkRaw:
		return filter.RawIP
	case LinkIPv4:
		return filter.RawIPv4
	case LinkIPv6:
		return filter.RawIPv6
	case LinkNull:
		return filter.Null
	case LinkNetwork:
		return filter.Network
	}
	return filter.Ethernet
}

// program returns the filter program for link, nil when there is no filter.
func (f *File) program(l Link) (*filter.Program, error) {
	if f.expr == nil || f.expr.String() == "" || l == LinkUnknown {
		return nil, nil
	}
	if p := f.progs[l]; p != nil {
		return p, nil
	}
	code, err := f.expr.Compile(targetOf(l))
	if err != nil {
		return nil, fmt.Errorf("capture: %s (%s link): %w", f.path, l, err)
	}
	p, err := filter.NewProgram(code, l == LinkEthernet)
	if err != nil {
		return nil, fmt.Errorf("capture: %s: %w", f.path, err)
	}
	f.progs[l] = p
	return p, nil
}

// ngLink is the link of a pcapng packet. The reader, asked for mixed link
// types, gives each packet its interface's link type; interfaces are
// declared per section, so a packet's interface index alone does not say.
// Packets of an unsupported link type are counted but not decoded.
func ngLink(ci *gopacket.CaptureInfo) Link {
	if len(ci.AncillaryData) == 0 {
		return LinkUnknown
	}
	lt, ok := ci.AncillaryData[0].(layers.LinkType)
	if !ok {
		return LinkUnknown
	}
	l, _ := linkFromDLT(uint32(lt))
	return l
}

// Next fills p with the next packet that matches the filter. It returns
// io.EOF at the end of the file, including when the file ends in the
// middle of a record (see Truncated). Any other error wraps ErrFormat and
// says which record is corrupt.
func (f *File) Next(p *Packet) error {
	for {
		if f.done {
			return io.EOF
		}
		var (
			data []byte
			ci   gopacket.CaptureInfo
			err  error
			link = f.link
		)
		if f.pcap != nil {
			data, ci, err = f.pcap.ZeroCopyReadPacketData()
		} else {
			data, ci, err = f.ng.ZeroCopyReadPacketData()
		}
		if err != nil {
			f.done = true
			switch {
			case errors.Is(err, io.EOF) && ci.CaptureLength == 0:
				return io.EOF
			case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
				// The record header was read but not its data, or only
				// part of either.
				f.truncated.Add(1)
				return io.EOF
			}
			return fmt.Errorf("capture: %s: %w: record %d: %v", f.path, ErrFormat, f.records+1, err)
		}
		f.records++
		if f.ng != nil {
			link = ngLink(&ci)
		}
		if ci.CaptureLength > maxRecord {
			f.done = true
			return fmt.Errorf("capture: %s: %w: record %d: capture length %d exceeds %d", f.path, ErrFormat, f.records, ci.CaptureLength, maxRecord)
		}
		prog, err := f.program(link)
		if err != nil {
			f.done = true
			return err
		}
		if prog != nil && !prog.Match(data, ci.Length, 0) {
			continue
		}
		p.Data = data
		p.Length = ci.Length
		if p.Length < len(data) {
			p.Length = len(data)
		}
		p.Time = ci.Timestamp.UnixNano()
		p.Link = link
		p.Proto = 0
		return nil
	}
}

// Truncated reports how many records were cut short by the end of the file
// (0 or 1: the reader stops there).
func (f *File) Truncated() uint64 { return f.truncated.Load() }

// BytesRead is how far into the file the reader is, in bytes of the file
// (compressed bytes for a gzip file). Safe to call from any goroutine.
func (f *File) BytesRead() int64 { return f.count.n.Load() }

// Size is the file's size in bytes (0 when unknown, e.g. a pipe).
func (f *File) Size() int64 { return f.size }

// Path is the file's name as given to OpenFile.
func (f *File) Path() string { return f.path }

// Close closes the file.
func (f *File) Close() error { return f.f.Close() }
