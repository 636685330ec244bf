package api

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"time"
)

// Listen opens the endpoint of cfg for Serve. A Unix socket file left
// behind by a process that died is replaced; one that another process
// still answers on is an error, as is a missing directory. A Unix socket
// gets socket_mode and socket_group; it is never reachable by others in
// between.
func Listen(cfg Config) (net.Listener, error) {
	network, address, err := ParseEndpoint(cfg.Endpoint)
	if err != nil {
		return nil, err
	}
	if network != "unix" {
		l, err := net.Listen(network, address)
		if err != nil {
			return nil, fmt.Errorf("api: listen on %s: %w", cfg.Endpoint, err)
		}
		return l, nil
	}
	mode, err := cfg.socketMode()
	if err != nil {
		return nil, fmt.Errorf("api: socket_mode: %w", err)
	}
	gid := -1
	if cfg.SocketGroup != "" {
		g, err := user.LookupGroup(cfg.SocketGroup)
		if err != nil {
			return nil, fmt.Errorf("api: socket_group: %w", err)
		}
		if gid, err = strconv.Atoi(g.Gid); err != nil {
			return nil, fmt.Errorf("api: socket_group %s: gid %q", cfg.SocketGroup, g.Gid)
		}
	}
	if err := clearStaleSocket(address); err != nil {
		return nil, err
	}
	l, err := listenPrivate(address)
	if err != nil {
		return nil, fmt.Errorf("api: listen on %s: %w", cfg.Endpoint, err)
	}
	if gid >= 0 {
		if err := os.Chown(address, -1, gid); err != nil {
			l.Close()
			return nil, fmt.Errorf("api: socket_group: %w", err)
		}
	}
	if err := os.Chmod(address, mode); err != nil {
		l.Close()
		return nil, fmt.Errorf("api: socket_mode: %w", err)
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
