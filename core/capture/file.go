package capture

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync/atomic"

	"netspot/core/capture/filter"
)

// Limits on what a capture file may declare. Every length is checked
// against them before anything is read, so that memory stays bounded
// whatever the file says; they are libpcap's, so that a file tcpdump reads
// is read here too.
const (
	// MaxRecord is the longest packet record accepted: libpcap's maximum
	// snapshot length (MAXIMUM_SNAPLEN). A pcap record declaring more is a
	// corrupt file, as for libpcap. A pcapng packet block may hold more
	// (libpcap reads it too), but only its first MaxRecord bytes, or the
	// interface's snapshot length if smaller, are kept.
	MaxRecord = 262144
	// MaxBlock is the longest pcapng block accepted: libpcap's
	// INITIAL_MAX_BLOCKSIZE (16 MiB). A block declaring more is a corrupt
	// file. Blocks are streamed, not held whole: this is a check on the
	// file, not the memory netspot uses.
	MaxBlock = 16 << 20
	// MaxInterfaces is the most interfaces one pcapng section may declare
	// (the 16-bit interface numbers of the obsolete packet block).
	MaxInterfaces = 65536
)

// readBuffer is the read-ahead on capture files: a packet record of
// MaxRecord bytes with its header and up to 64 KiB of pcapng options is
// read in place; it is the memory a file reader uses, whatever the file.
const readBuffer = MaxRecord + 64<<10

// gzipBuffer is the read-ahead on the compressed bytes of a gzip file.
const gzipBuffer = 32 << 10

// maxTime bounds packet times (Unix seconds, either side of 1970): a pcapng
// timestamp beyond (year 2261) is taken as this, so that window arithmetic
// on nanoseconds never overflows.
const maxTime = 9_200_000_000

// File reads a pcap or pcapng capture file, plain or gzip-compressed,
// streaming it with bounded memory whatever its size and content.
type File struct {
	path  string
	f     *os.File
	count *countingReader
	size  int64
	s     *stream
	gz    bool // s reads decompressed bytes

	ng   bool    // pcapng, else pcap
	pcap pcapHdr // pcap file header
	sec  ngSection

	big []byte // a packet of a pcapng block too large for the buffer

	expr  *filter.Expr
	progs [LinkNetwork + 1]*filter.Program

	records   uint64 // packet records read, matching the filter or not
	truncated atomic.Uint64
	err       error // what Next returns once the file is done (io.EOF or an error)
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

// OpenReader reads a capture from a stream, such as standard input
// ("tcpdump -w - | netspot run -r -"): pcap or pcapng, plain or gzip, as
// OpenFile does, named name in errors. Its size is unknown; Close does not
// close r.
func OpenReader(name string, r io.Reader, expr string) (*File, error) {
	fx, err := filter.Parse(expr)
	if err != nil {
		return nil, err
	}
	return newReader(name, r, 0, fx)
}

func newFile(path string, f *os.File, fx *filter.Expr) (*File, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}
	if st.IsDir() {
		return nil, fmt.Errorf("capture: %s: %w: is a directory", path, ErrFormat)
	}
	if st.Mode().IsRegular() && st.Size() == 0 {
		return nil, fmt.Errorf("capture: %s: %w: the file is empty", path, ErrFormat)
	}
	file, err := newReader(path, f, st.Size(), fx)
	if err != nil {
		return nil, err
	}
	file.f = f
	return file, nil
}

// newReader reads a capture from r, of size bytes (0 if unknown), called
// path in errors.
func newReader(path string, r io.Reader, size int64, fx *filter.Expr) (*File, error) {
	file := &File{path: path, size: size, expr: fx}
	file.count = &countingReader{r: r}
	var src io.Reader = file.count
	raw := bufio.NewReaderSize(src, gzipBuffer)
	if m, _ := raw.Peek(2); len(m) == 2 && m[0] == 0x1f && m[1] == 0x8b {
		zr, err := gzip.NewReader(raw)
		if err != nil {
			return nil, fmt.Errorf("capture: %s: %w: bad gzip header: %v", path, ErrFormat, err)
		}
		file.gz = true
		src = zr
	} else {
		src = raw
	}
	file.s = newStream(src, readBuffer)
	magic, err := file.s.peek(4)
	if err != nil {
		switch {
		case len(magic) == 0 && (err == io.EOF || err == io.ErrUnexpectedEOF):
			return nil, fmt.Errorf("capture: %s: %w: the file is empty", path, ErrFormat)
		case err == io.ErrUnexpectedEOF:
			return nil, fmt.Errorf("capture: %s: %w: only %d bytes, too short for a capture file header", path, ErrFormat, len(magic))
		}
		return nil, fmt.Errorf("capture: %s: %w: %v", path, ErrFormat, err)
	}
	switch m := binary.LittleEndian.Uint32(magic); {
	case m == ngSHB:
		file.ng = true
		switch err := file.readSectionHeader(); {
		case err == io.EOF:
			return nil, fmt.Errorf("capture: %s: %w: bad pcapng section header: %s", path, ErrFormat, headerError(err))
		case err != nil:
			return nil, err
		}
	case isPcapMagic(m):
		if err := file.readPcapHeader(); err != nil {
			return nil, fmt.Errorf("capture: %s: %w: bad pcap file header: %s", path, ErrFormat, err)
		}
		link, ok := linkFromDLT(file.pcap.dlt)
		if !ok {
			return nil, fmt.Errorf("capture: %s: %w: link type %d is not supported; supported: %s", path, ErrFormat, file.pcap.dlt, SupportedLinkTypes)
		}
		file.pcap.link = link
		if _, err := file.program(link); err != nil {
			return nil, err
		}
	default:
		what := "file"
		if file.gz {
			what = "gzip-compressed file"
		}
		return nil, fmt.Errorf("capture: %s: %w: not a pcap or pcapng %s (starts with % x)", path, ErrFormat, what, magic)
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

// headerError turns a short read of a file header into words for a user.
func headerError(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return errors.New("the file ends inside its header")
	}
	return err
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

// where says where in the file a record or block starts, for errors.
func (f *File) where(off int64) string {
	if f.gz {
		return fmt.Sprintf("byte %d of the decompressed data", off)
	}
	return fmt.Sprintf("byte %d", off)
}

// corrupt is the error for a damaged record or block: it wraps ErrFormat
// and says where the damage is and how many packets came before it.
func (f *File) corrupt(what string, off int64, format string, args ...any) error {
	after := fmt.Sprintf("%d packet records", f.records)
	if f.records == 1 {
		after = "1 packet record"
	}
	return fmt.Errorf("capture: %s: %w: %s at %s (after %s): %s",
		f.path, ErrFormat, what, f.where(off), after, fmt.Sprintf(format, args...))
}

// readFailed is the error for a read that failed for another reason than
// the end of the file: corrupt gzip data, or an I/O error.
func (f *File) readFailed(what string, off int64, err error) error {
	if f.gz {
		return f.corrupt(what, off, "gzip data: %v", err)
	}
	return f.corrupt(what, off, "read error: %v", err)
}

// rawPacket is one record as a reader found it.
type rawPacket struct {
	data []byte
	wire int
	time int64
	link Link
}

// Next fills p with the next packet that matches the filter. It returns
// io.EOF at the end of the file, including when the file ends in the
// middle of a record (see Truncated). A corrupt record or block, anywhere
// in the file, is an error wrapping ErrFormat that says where it is; so is
// a file that holds no packet at all.
func (f *File) Next(p *Packet) error {
	for {
		if f.err != nil {
			return f.err
		}
		var (
			r   rawPacket
			err error
		)
		if f.ng {
			err = f.nextBlock(&r)
		} else {
			err = f.nextRecord(&r)
		}
		if err != nil {
			f.err = err
			if err == io.EOF && f.records == 0 {
				f.err = f.noPackets()
			}
			return f.err
		}
		f.records++
		prog, err := f.program(r.link)
		if err != nil {
			f.err = err
			return err
		}
		if prog != nil && !prog.Match(r.data, r.wire, 0) {
			continue
		}
		p.Data = r.data
		p.Length = max(r.wire, len(r.data))
		p.Time = r.time
		p.Link = r.link
		p.Proto = 0
		return nil
	}
}

// noPackets is the error for a file that ends before its first packet.
func (f *File) noPackets() error {
	why := "the file holds only its header"
	switch {
	case f.truncated.Load() > 0:
		why = "the file ends inside its first packet record"
	case f.ng:
		why = "the file holds no packet block"
	}
	return fmt.Errorf("capture: %s: %w: no packets (%s)", f.path, ErrFormat, why)
}

// cut notes a record that the end of the file cut short, and ends the file.
func (f *File) cut() error {
	f.truncated.Add(1)
	return io.EOF
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
func (f *File) Close() error {
	if f.f == nil {
		return nil
	}
	return f.f.Close()
}

// adjustSnaplen is the snapshot length a file or interface declares, as
// libpcap takes it: 0 or more than MaxRecord means MaxRecord.
func adjustSnaplen(n uint32) int {
	if n == 0 || n > MaxRecord {
		return MaxRecord
	}
	return int(n)
}
