//go:build !unix

package api

import "net"

// listenPrivate creates a Unix socket; this platform has no umask, and
// Listen sets the mode right after.
func listenPrivate(path string) (net.Listener, error) { return net.Listen("unix", path) }
