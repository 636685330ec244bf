//go:build unix

package mqtt

import (
	"fmt"
	"net/netip"
	"sync"
	"syscall"
	"testing"
)

// reserve binds a TCP socket to addr (an IPv4 host:port, port 0 for any)
// without listening on it: a connection there is refused, as by a host
// whose broker is down, and the kernel gives the port to no other
// listener on port 0 until release, so that a test's "broker down" is
// never someone else's server. It returns the address bound.
func reserve(t testing.TB, addr string) (string, func()) {
	t.Helper()
	ap, err := netip.ParseAddrPort(addr)
	if err != nil || !ap.Addr().Is4() {
		t.Fatalf("reserve %q: not an IPv4 address and port", addr)
	}
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	syscall.CloseOnExec(fd)
	// A broker that just stopped on addr leaves connections in TIME_WAIT:
	// reserving its port again needs SO_REUSEADDR. A fresh port goes
	// without, so that nobody else can bind it, SO_REUSEADDR or not.
	if ap.Port() != 0 {
		if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1); err != nil {
			syscall.Close(fd)
			t.Fatal(err)
		}
	}
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}); err != nil {
		syscall.Close(fd)
		t.Fatalf("reserve %s: %v", addr, err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		syscall.Close(fd)
		t.Fatal(err)
	}
	var once sync.Once
	release := func() { once.Do(func() { _ = syscall.Close(fd) }) }
	t.Cleanup(release)
	return fmt.Sprintf("%s:%d", ap.Addr(), sa.(*syscall.SockaddrInet4).Port), release
}
