//go:build linux || darwin || freebsd || openbsd || netbsd || dragonfly

package mqtt

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// lockDir takes an exclusive advisory lock on path, so that two netspot
// processes never deliver (and delete) the same stored alarms.
func lockDir(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, errors.New("in use by another netspot process (each instance needs its own store_dir)")
		}
		return nil, fmt.Errorf("lock: %w", err)
	}
	return f, nil
}
