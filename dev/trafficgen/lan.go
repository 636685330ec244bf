package trafficgen

import (
	"fmt"
	"net/netip"
	"strings"
)

// This file models the network seen on the mirror port: a /24 office LAN
// with a gateway that also resolves names, a few dozen hosts with stable
// addresses and operating-system habits, and the Internet servers they talk
// to.

// osKind decides the TTL, TCP options and timers a host uses.
type osKind uint8

const (
	osLinux osKind = iota
	osWindows
	osApple
	osEmbedded
)

// role decides what a host does on the network.
type role uint8

const (
	roleWorkstation role = iota
	rolePhone
	roleNAS
	rolePrinter
	roleTV
	roleGateway
)

// node is a host of the LAN (or the gateway).
type node struct {
	name   string
	role   role
	os     osKind
	mac    [6]byte
	ip4    ipAddr
	ll6    ipAddr // IPv6 link-local address
	ip6    ipAddr // IPv6 global address; zero when the host has no IPv6
	has6   bool
	ipid   uint16 // next IPv4 identification
	tsBase uint32 // TCP timestamp clock offset
	dns    ipAddr // resolver it uses
	port   uint16 // next ephemeral port
}

// ttl is the initial IPv4 TTL / IPv6 hop limit of the host.
func (n *node) ttl() uint8 {
	switch n.os {
	case osWindows:
		return 128
	case osEmbedded:
		return 255
	}
	return 64
}

// ephemeral returns the next source port the host uses.
func (n *node) ephemeral(r *rng) uint16 {
	lo, hi := 32768, 60999 // Linux
	if n.os == osWindows || n.os == osApple {
		lo, hi = 49152, 65535
	}
	if n.port < uint16(lo) || int(n.port) >= hi {
		n.port = uint16(r.between(lo, hi))
	}
	n.port += uint16(1 + r.intn(3))
	return n.port
}

func (n *node) nextID() uint16 { n.ipid++; return n.ipid }

// server is a host on the Internet.
type server struct {
	name string
	ip4  ipAddr
	ip6  ipAddr
	has6 bool
	rtt  int64 // round-trip time from the mirror port, ns
	ttl  uint8 // TTL of its packets when they reach the LAN
	pop  float64
}

// lan is the whole network model.
type lan struct {
	gw      *node
	hosts   []*node
	servers []*server
	ntp     []*server
	dns     *server // public resolver some hosts use
	prefix6 [8]byte
}

// siteNames are the services the users visit: fictitious names under the
// domains reserved for documentation.
var siteNames = []string{
	"www.example.com", "static.example.com", "api.example.com", "cdn.example.net",
	"img.example.net", "mail.example.org", "news.example.org", "video.example.net",
	"docs.example.com", "login.example.com", "update.example.org", "push.example.net",
	"maps.example.com", "weather.example.org", "store.example.com", "files.example.net",
	"chat.example.org", "meet.example.com", "telemetry.example.net", "fonts.example.com",
	"ads.example.net", "analytics.example.org", "calendar.example.com", "sync.example.net",
	"backup.example.org", "music.example.com", "social.example.net", "wiki.example.org",
	"search.example.com", "shop.example.net", "bank.example.com", "travel.example.org",
	"code.example.com", "repo.example.net", "packages.example.org", "status.example.com",
	"time.example.net", "photos.example.com", "tv.example.net", "cloud.example.org",
}

func newLAN(r *rng, hosts int) *lan {
	l := &lan{}
	l.prefix6 = [8]byte{0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01, 0x00, 0x00} // 2001:db8:1::/64
	mkMAC := func(local bool) [6]byte {
		var m [6]byte
		x := r.u64()
		for i := range m {
			m[i] = byte(x >> (8 * i))
		}
		m[0] &^= 0x03 // unicast, globally administered
		if local {
			m[0] |= 0x02 // randomised (private) address, as phones use
		}
		return m
	}
	mk6 := func(prefix []byte) ipAddr {
		a := ipAddr{v6: true}
		copy(a.b[:8], prefix)
		x := r.u64()
		for i := 8; i < 16; i++ {
			a.b[i] = byte(x >> (8 * (i - 8)))
		}
		return a
	}
	ll := []byte{0xfe, 0x80, 0, 0, 0, 0, 0, 0}

	l.gw = &node{name: "gateway", role: roleGateway, os: osLinux, mac: mkMAC(false), ip4: v4(192, 168, 1, 1), has6: true}
	l.gw.ll6 = ipAddr{v6: true, b: [16]byte{0xfe, 0x80, 15: 1}}
	l.gw.ip6 = ipAddr{v6: true}
	copy(l.gw.ip6.b[:8], l.prefix6[:])
	l.gw.ip6.b[15] = 1
	l.gw.dns = l.gw.ip4

	l.dns = &server{name: "resolver.example.net", ip4: v4(198, 51, 100, 53), rtt: 12e6, ttl: 57}

	// Host addresses: servers and printers low, DHCP clients from .100.
	used := map[byte]bool{1: true}
	pick := func(lo, hi int) byte {
		for {
			b := byte(r.between(lo, hi))
			if !used[b] {
				used[b] = true
				return b
			}
		}
	}
	for i := 0; i < hosts; i++ {
		n := &node{}
		switch {
		case i == 0:
			n.role, n.os = roleNAS, osLinux
		case i == 1 && hosts >= 4:
			n.role, n.os = rolePrinter, osEmbedded
		case i == 2 && hosts >= 6:
			n.role, n.os = roleTV, osLinux
		default:
			switch x := r.float(); {
			case x < 0.3:
				n.role = rolePhone
				n.os = osApple
				if r.chance(0.5) {
					n.os = osLinux // Android
				}
			default:
				n.role = roleWorkstation
				n.os = []osKind{osWindows, osWindows, osApple, osLinux}[r.intn(4)]
			}
		}
		var last byte
		switch {
		case hosts > 140: // a crowded LAN: any free address
			last = pick(2, 254)
		case n.role == roleNAS || n.role == rolePrinter:
			last = pick(2, 20)
		default:
			last = pick(100, 249)
		}
		n.ip4 = v4(192, 168, 1, last)
		n.mac = mkMAC(n.role == rolePhone)
		n.ll6 = mk6(ll)
		n.has6 = n.role != rolePrinter && (n.role == roleNAS || r.chance(0.6))
		if n.has6 {
			n.ip6 = mk6(l.prefix6[:])
		}
		n.ipid = r.u16()
		n.tsBase = r.u32()
		n.dns = l.gw.ip4
		if n.role == rolePhone && r.chance(0.3) {
			n.dns = l.dns.ip4
		}
		n.name = fmt.Sprintf("%s-%d", roleName(n.role), i)
		l.hosts = append(l.hosts, n)
	}

	// Internet servers: TEST-NET addresses, some with IPv6, Zipf popularity.
	nets := [][3]byte{{192, 0, 2}, {198, 51, 100}, {203, 0, 113}}
	seen := map[[4]byte]bool{{198, 51, 100, 53}: true}
	for i, name := range siteNames {
		s := &server{name: name, pop: 1 / float64(i+1)}
		for {
			nt := nets[r.intn(len(nets))]
			a := v4(nt[0], nt[1], nt[2], byte(r.between(2, 254)))
			k := [4]byte(a.b[:4])
			if !seen[k] {
				seen[k] = true
				s.ip4 = a
				break
			}
		}
		if r.chance(0.5) {
			s.has6 = true
			s.ip6 = mk6([]byte{0x20, 0x01, 0x0d, 0xb8, 0xf0, byte(i), 0, 0})
		}
		s.rtt = int64(r.lognormal(25e6, 0.6))
		s.rtt = min(max(s.rtt, 3e6), 250e6)
		s.ttl = []uint8{64, 64, 128, 255}[r.intn(4)] - uint8(r.between(8, 20)) - 1
		l.servers = append(l.servers, s)
	}
	for i := 0; i < 3; i++ {
		l.ntp = append(l.ntp, &server{name: fmt.Sprintf("%d.pool.example.org", i),
			ip4: v4(203, 0, 113, byte(200+i)), rtt: int64(r.between(8, 40)) * 1e6, ttl: 64 - uint8(r.between(8, 16)) - 1})
	}
	return l
}

func roleName(r role) string {
	return [...]string{"workstation", "phone", "nas", "printer", "tv", "gateway"}[r]
}

// byIP returns the LAN node (host or gateway) that has address a.
func (l *lan) byIP(a ipAddr) *node {
	if a == l.gw.ip4 || a == l.gw.ip6 || a == l.gw.ll6 {
		return l.gw
	}
	for _, h := range l.hosts {
		if h.ip4 == a || (h.has6 && h.ip6 == a) || h.ll6 == a {
			return h
		}
	}
	return nil
}

// findHost resolves a host reference of a scenario: an address of the LAN
// ("192.168.1.23"), or a role name ("nas", "printer", "workstation", ...)
// meaning the first host of that role.
func (l *lan) findHost(ref string) (*node, error) {
	ref = strings.TrimSpace(ref)
	if ref == "gateway" {
		return l.gw, nil
	}
	for _, h := range l.hosts {
		if h.name == ref || fmt.Sprintf("%d.%d.%d.%d", h.ip4.b[0], h.ip4.b[1], h.ip4.b[2], h.ip4.b[3]) == ref {
			return h, nil
		}
	}
	for _, h := range l.hosts {
		if roleName(h.role) == ref {
			return h, nil
		}
	}
	return nil, fmt.Errorf("no LAN host %q (use an address of 192.168.1.0/24 that a host has, or one of gateway, nas, printer, tv, workstation, phone)", ref)
}

func ipString(a ipAddr) string {
	if !a.v6 {
		return fmt.Sprintf("%d.%d.%d.%d", a.b[0], a.b[1], a.b[2], a.b[3])
	}
	return netip.AddrFrom16(a.b).String()
}
