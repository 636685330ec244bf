//go:build !unix

package mqtt

import (
	"net"
	"testing"
)

// reserve returns addr, with a free port when its port is 0; this
// platform cannot keep the port from others meanwhile.
func reserve(t testing.TB, addr string) (string, func()) {
	t.Helper()
	if _, port, _ := net.SplitHostPort(addr); port == "0" {
		addr = freeAddr(t)
	}
	return addr, func() {}
}
