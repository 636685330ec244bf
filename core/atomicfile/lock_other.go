//go:build !(linux || darwin || freebsd || openbsd || netbsd || dragonfly)

package atomicfile

import (
	"errors"
	"os"
)

// ErrLocked says that another process holds the lock.
var ErrLocked = errors.New("in use by another netspot process")

// Lock opens the lock file without locking it: this platform has no
// flock, so two processes sharing a file are not detected.
func Lock(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
}
