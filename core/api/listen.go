package api

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Listen opens the endpoint for Serve. A Unix socket file left behind by a
// process that died is replaced; one that another process still answers on
// is an error, as is a missing directory.
func Listen(endpoint string) (net.Listener, error) {
	network, address, err := ParseEndpoint(endpoint)
	if err != nil {
		return nil, err
	}
	if network == "unix" {
		if err := clearStaleSocket(address); err != nil {
			return nil, err
		}
	}
	l, err := net.Listen(network, address)
	if err != nil {
		return nil, fmt.Errorf("api: listen on %s: %w", endpoint, err)
	}
	return l, nil
}

// staleProbe bounds the check that a socket file is still served.
const staleProbe = time.Second

func clearStaleSocket(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		if _, err := os.Stat(filepath.Dir(path)); err != nil {
			return fmt.Errorf("api: socket directory %s: %w", filepath.Dir(path), err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("api: %w", err)
	}
	if fi.Mode()&fs.ModeSocket == 0 {
		return fmt.Errorf("api: %s exists and is not a socket: not replacing it", path)
	}
	if c, err := net.DialTimeout("unix", path, staleProbe); err == nil {
		c.Close()
		return fmt.Errorf("api: %s: another process is serving on this socket", path)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("api: removing the stale socket: %w", err)
	}
	return nil
}
