//go:build !(linux || darwin || freebsd || openbsd || netbsd || dragonfly)

package mqtt

import "os"

// lockDir opens the lock file without locking it: this platform has no
// flock, so running two instances on one store_dir is not detected.
func lockDir(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
}
