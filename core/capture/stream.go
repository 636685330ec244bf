package capture

import (
	"bufio"
	"errors"
	"io"
)

// stream is the bounded reader under the pcap and pcapng parsers: a
// buffer of fixed size over the file (or over its gzip stream) from which
// records are taken in place. It never allocates from a length read in the
// file: a record or block is looked at in the buffer when it fits, and
// skipped through it when it does not, so memory stays the same whatever
// the file says. It counts the bytes consumed, so that an error can say
// where in the file it is.
type stream struct {
	r   *bufio.Reader
	off int64 // bytes consumed from the (decompressed) stream
}

// newStream reads from r through a buffer of size bytes.
func newStream(r io.Reader, size int) *stream {
	return &stream{r: bufio.NewReaderSize(r, size)}
}

// peek returns the next n bytes (n at most the buffer size) without
// consuming them; they stay valid until the next call. At the end of the
// stream it returns io.EOF when nothing is left and io.ErrUnexpectedEOF
// with the bytes left when some are; any other error is the underlying
// reader's (a read error, or corrupt gzip data).
func (s *stream) peek(n int) ([]byte, error) {
	b, err := s.r.Peek(n)
	switch {
	case err == nil:
		return b, nil
	case errors.Is(err, bufio.ErrBufferFull):
		// A caller's bug: every peek is bounded by the buffer size.
		return b, errors.New("internal error: record larger than the read buffer")
	case err == io.EOF && len(b) == 0:
		return b, io.EOF
	case err == io.EOF:
		return b, io.ErrUnexpectedEOF
	}
	return b, err
}

// skip consumes n bytes, reading through the buffer when they are not in
// it. At the end of the stream it returns io.ErrUnexpectedEOF.
func (s *stream) skip(n int64) error {
	for n > 0 {
		d, err := s.r.Discard(int(min(n, 1<<30)))
		s.off += int64(d)
		n -= int64(d)
		if err != nil {
			if err == io.EOF {
				return io.ErrUnexpectedEOF
			}
			return err
		}
	}
	return nil
}
