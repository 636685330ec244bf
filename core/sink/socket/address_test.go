package socket

import (
	"strings"
	"testing"
)

func TestParseAddress(t *testing.T) {
	long := "unix:///" + strings.Repeat("x", 107)
	for _, c := range []struct {
		in      string
		network string
		addr    string
		err     string // part of the error; "" when valid
	}{
		{in: "unix:///run/netspot/data.sock", network: "unix", addr: "/run/netspot/data.sock"},
		{in: "unixgram:///run/netspot/alarm.sock", network: "unixgram", addr: "/run/netspot/alarm.sock"},
		{in: "unixpacket:///tmp/x", network: "unixpacket", addr: "/tmp/x"},
		{in: "unix://@netspot", network: "unix", addr: "@netspot"},
		{in: "tcp://192.168.1.10:9000", network: "tcp", addr: "192.168.1.10:9000"},
		{in: "tcp4://collector.lan:9000", network: "tcp4", addr: "collector.lan:9000"},
		{in: "udp://[fd00::1]:514", network: "udp", addr: "[fd00::1]:514"},
		{in: "udp6://[fe80::1%eth0]:514", network: "udp6", addr: "[fe80::1%eth0]:514"},
		{in: "tcp://localhost:65535", network: "tcp", addr: "localhost:65535"},

		{in: "/run/netspot/data.sock", err: "want <network>://<address>"},
		{in: "unix:/run/x", err: "want <network>://<address>"},
		{in: "unix://run/x.sock", err: "not absolute"},
		{in: "unix://", err: "missing socket path"},
		{in: "unix://@", err: "abstract"},
		{in: long, err: "bytes long"},
		{in: "tcp://:9000", err: "missing host"},
		{in: "tcp://host", err: "want host:port"},
		{in: "tcp://::1:9000", err: "want host:port"},
		{in: "tcp://host:0", err: "port \"0\""},
		{in: "tcp://host:65536", err: "port \"65536\""},
		{in: "tcp://host:http", err: "port \"http\""},
		{in: "tcp://host:9000/path", err: "port"},
		{in: "tcp://[10.0.0.1]:9000", err: "only an IPv6 address goes in brackets"},
		{in: "tcp://bad host:9000", err: "not a valid name"},
		{in: "tcp://a..b:9000", err: "not a valid name"},
		{in: "ip://10.0.0.1", err: "raw IP sockets are not supported"},
		{in: "http://host:80", err: "unknown network \"http\""},
		{in: "TCP://host:80", err: "unknown network"},
		{in: "unix:///tmp/a\nb", err: "control character"},
	} {
		a, err := ParseAddress(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ParseAddress(%q) = %v, %v; want an error with %q", c.in, a, err, c.err)
			}
			continue
		}
		if err != nil || a.Network != c.network || a.Addr != c.addr {
			t.Errorf("ParseAddress(%q) = %+v, %v; want %s %s", c.in, a, err, c.network, c.addr)
			continue
		}
		if a.String() != c.in {
			t.Errorf("String() = %q, want %q", a.String(), c.in)
		}
	}
}

func TestDatagram(t *testing.T) {
	for in, want := range map[string]bool{
		"udp://h:1": true, "udp4://h:1": true, "unixgram:///x": true,
		"tcp://h:1": false, "unix:///x": false, "unixpacket:///x": false,
	} {
		a, err := ParseAddress(in)
		if err != nil {
			t.Fatal(err)
		}
		if a.Datagram() != want {
			t.Errorf("%s: Datagram() = %v", in, !want)
		}
	}
}

// FuzzParseAddress checks that no input makes the parser panic, and that
// what it accepts prints back to the same text and is dialable in form.
func FuzzParseAddress(f *testing.F) {
	for _, s := range []string{"unix:///run/netspot/data.sock", "tcp://127.0.0.1:9000",
		"udp://[::1]:1", "unixgram://@x", "tcp://a.b:65535", "ip://x", "://", "tcp://[", "unix://\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAddress(s)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		if a.String() != s {
			t.Fatalf("%q parsed to %+v, which prints as %q", s, a, a.String())
		}
		if strings.ContainsAny(a.Addr, "\x00\n\r") {
			t.Fatalf("%q: accepted a control character", s)
		}
		b, err := ParseAddress(a.String())
		if err != nil || b != a {
			t.Fatalf("%q: round trip gave %+v, %v", s, b, err)
		}
	})
}
