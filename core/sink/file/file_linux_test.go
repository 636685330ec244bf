package file

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestPartialWriteCutOff fills the file up to a size limit in the middle of
// a record (RLIMIT_FSIZE gives the short write a full disk gives): the part
// written is cut off, so that the file holds whole JSON lines only.
func TestPartialWriteCutOff(t *testing.T) {
	p := filepath.Join(t.TempDir(), "data.json")
	s, err := New(Config{Data: p}, "x")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Write(record(0)); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	var saved syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &saved); err != nil {
		t.Fatal(err)
	}
	// Room for 10 more bytes: less than a record. Go ignores SIGXFSZ, so
	// the write fails with EFBIG instead of ending the process.
	limit := saved
	limit.Cur = uint64(st.Size()) + 10
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &limit); err != nil {
		t.Skipf("cannot set a file size limit: %v", err)
	}
	werr := s.Write(record(0))
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &saved); err != nil {
		t.Fatal(err)
	}
	if werr == nil {
		t.Fatal("Write beyond the file size limit succeeded")
	}
	if after, err := os.Stat(p); err != nil || after.Size() != st.Size() {
		t.Errorf("file is %d bytes after the failed write, want %d (the partial record cut off)", after.Size(), st.Size())
	}
	if err := s.Write(record(0)); err != nil {
		t.Fatal(err)
	}
	if d := lines(t, p); len(d) != 2 {
		t.Errorf("%d lines, want 2", len(d))
	}
}
