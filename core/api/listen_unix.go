//go:build unix

package api

import (
	"net"
	"sync"
	"syscall"
)

// umaskMu serialises the umask changes of listenPrivate: the umask is the
// process's.
var umaskMu sync.Mutex

// listenPrivate creates a Unix socket that only its owner can use, until
// Listen sets the configured mode.
func listenPrivate(path string) (net.Listener, error) {
	umaskMu.Lock()
	defer umaskMu.Unlock()
	old := syscall.Umask(0o177)
	defer syscall.Umask(old)
	return net.Listen("unix", path)
}
