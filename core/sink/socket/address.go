package socket

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"netspot/core/config"
)

// Address is where a socket sink sends: a network and an address in the form
// net.Dial takes. It is written "<network>://<address>", as in netspot:
// "unix:///run/netspot/data.sock", "tcp://192.168.1.10:9000",
// "udp://[fd00::1]:9000", "unixgram://@netspot" (Linux abstract namespace).
type Address struct {
	Network string // tcp, tcp4, tcp6, udp, udp4, udp6, unix, unixgram, unixpacket
	Addr    string // host:port, or a socket path
}

// maxUnixPath is the size of sun_path in struct sockaddr_un on Linux, less
// the terminating NUL.
const maxUnixPath = 107

// ParseAddress reads "<network>://<address>" and checks that a connection
// could be attempted with it: a known network, a host and a numeric port for
// IP networks, an absolute path (or "@name") for Unix sockets.
func ParseAddress(s string) (Address, error) {
	network, addr, ok := strings.Cut(s, "://")
	if !ok {
		return Address{}, fmt.Errorf("address %q: want <network>://<address>, e.g. \"tcp://192.168.1.10:9000\" or \"unix:///run/netspot/data.sock\"", s)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return Address{}, fmt.Errorf("address %q: contains a control character", s)
		}
	}
	a := Address{Network: network, Addr: addr}
	switch network {
	case "tcp", "tcp4", "tcp6", "udp", "udp4", "udp6":
		if err := checkHostPort(addr); err != nil {
			return Address{}, fmt.Errorf("address %q: %w", s, err)
		}
	case "unix", "unixgram", "unixpacket":
		if err := checkPath(addr); err != nil {
			return Address{}, fmt.Errorf("address %q: %w", s, err)
		}
	case "ip", "ip4", "ip6":
		return Address{}, fmt.Errorf("address %q: raw IP sockets are not supported (use tcp, udp, unix or unixgram)", s)
	default:
		return Address{}, fmt.Errorf("address %q: unknown network %q (tcp, tcp4, tcp6, udp, udp4, udp6, unix, unixgram, unixpacket)", s, network)
	}
	return a, nil
}

func checkHostPort(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New("want host:port, with an IPv6 address in brackets ([fd00::1]:9000)")
	}
	if host == "" {
		return errors.New("missing host before the port (127.0.0.1, a name, or [::1])")
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return fmt.Errorf("port %q: want a number from 1 to 65535", port)
	}
	if strings.Contains(addr, "[") {
		ip, _, _ := strings.Cut(host, "%") // a zone may follow a link-local address
		if p := net.ParseIP(ip); p == nil || p.To4() != nil {
			return fmt.Errorf("host %q: only an IPv6 address goes in brackets", host)
		}
		return nil
	}
	if !config.ValidHost(host) {
		return fmt.Errorf("host %q: not a valid name or IP address", host)
	}
	return nil
}

func checkPath(p string) error {
	switch {
	case p == "":
		return errors.New("missing socket path (write unix:///path/to.sock, with three slashes)")
	case p[0] != '/' && p[0] != '@':
		return fmt.Errorf("socket path %q is not absolute (write unix:///path/to.sock, with three slashes, or unix://@name for an abstract socket)", p)
	case p == "@":
		return errors.New("missing name of the abstract socket after @")
	case len(p) > maxUnixPath:
		return fmt.Errorf("socket path is %d bytes long, the system allows %d", len(p), maxUnixPath)
	}
	return nil
}

// String writes the address back in the "<network>://<address>" form.
func (a Address) String() string { return a.Network + "://" + a.Addr }

// Datagram reports whether every message is sent on its own (UDP, Unix
// datagrams) rather than on a connection.
func (a Address) Datagram() bool {
	switch a.Network {
	case "udp", "udp4", "udp6", "unixgram":
		return true
	}
	return false
}
