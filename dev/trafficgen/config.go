package trafficgen

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"netspot/core/config"
)

// Config is a scenario: the benign network, the attacks injected into it,
// and the capture format. The same Config and Seed give the same bytes.
type Config struct {
	Seed     uint64          `toml:"seed" comment:"seed of every random choice: the same seed and options give the same capture, byte for byte"`
	Start    time.Time       `toml:"start" comment:"timestamp of the capture's start (RFC 3339); its UTC offset sets the local hour of the office profile"`
	Duration config.Duration `toml:"duration" comment:"length of the capture"`
	Rate     float64         `toml:"rate" comment:"mean benign packets per second (background chatter plus users' activity)"`
	Hosts    int             `toml:"hosts" comment:"hosts on the LAN besides the gateway (2 to 250)"`
	Wander   float64         `toml:"wander" comment:"how far the users' activity wanders around its mean (standard deviation of its logarithm; 0 gives a steady Poisson process)"`
	Diurnal  bool            `toml:"diurnal" comment:"follow an office day: quiet at night, busy mornings and afternoons (rate is then the mean over a whole day)"`
	Output   Output          `toml:"output"`
	Attacks  []Attack        `toml:"attack" comment:"attacks injected into the benign traffic"`
}

// Output is the capture file format.
type Output struct {
	Format   string `toml:"format" comment:"pcap (microsecond timestamps), pcap-ns (nanosecond) or pcapng"`
	LinkType string `toml:"linktype" comment:"ether, sll (Linux cooked v1), sll2 (Linux cooked v2) or raw (IP only: ARP frames are left out)"`
	Snaplen  int    `toml:"snaplen" comment:"bytes kept of each packet, the original length being recorded (0 keeps whole packets)"`
	VLAN     []int  `toml:"vlan" comment:"802.1Q VLAN IDs, outermost first: one tag, or two for QinQ (ether link type only)"`
}

// Attack is one attack of a scenario. Which fields apply depends on Kind
// (see Kinds); zero values take the kind's defaults.
type Attack struct {
	Kind     string          `toml:"kind" comment:"what attack (see trafficgen -list)"`
	At       config.Duration `toml:"at" comment:"offset of its start from the capture's start"`
	Duration config.Duration `toml:"duration" comment:"how long it lasts at most"`
	Rate     float64         `toml:"rate" comment:"probes, packets, queries or connections per second"`
	Label    string          `toml:"label" comment:"name in the labels file (default: the kind)"`
	From     string          `toml:"from" comment:"attacker: a LAN host (address or role: workstation, phone, nas, tv, printer), or internet / spoofed where the kind allows"`
	Target   string          `toml:"target" comment:"victim host (address or role), or an IPv4 prefix for sweeps"`
	Ports    int             `toml:"ports" comment:"ports probed by a scan"`
	Port     int             `toml:"port" comment:"destination port of a flood (0: random ports, UDP only)"`
	Size     int             `toml:"size" comment:"UDP payload bytes of a flood"`
}

// kindInfo describes an attack kind: its description, the optional fields
// it reads, and its defaults.
type kindInfo struct {
	name   string
	help   string
	fields []string
	rate   string // meaning of rate, for help
}

// Kinds lists the attack kinds with a one-line description each.
var kinds = []kindInfo{
	{"syn-scan", "TCP SYN (half-open) port scan of one host by one scanner; open ports answer SYN-ACK (then the scanner's RST), closed ones RST", []string{"rate", "from", "target", "ports"}, "probes/s (default: ports spread over the duration)"},
	{"connect-scan", "TCP connect() port scan: full handshakes to open ports, then RST", []string{"rate", "from", "target", "ports"}, "probes/s"},
	{"fin-scan", "TCP FIN scan: closed ports answer RST, open ones stay silent", []string{"rate", "from", "target", "ports"}, "probes/s"},
	{"null-scan", "TCP NULL scan (no flags)", []string{"rate", "from", "target", "ports"}, "probes/s"},
	{"xmas-scan", "TCP XMAS scan (FIN, PSH, URG)", []string{"rate", "from", "target", "ports"}, "probes/s"},
	{"udp-scan", "UDP port scan: closed ports answer ICMP port unreachable (rate-limited by the target)", []string{"rate", "from", "target", "ports"}, "probes/s"},
	{"ping-sweep", "ICMP echo sweep of a prefix; on the scanner's LAN every address is first resolved with ARP", []string{"rate", "from", "target"}, "addresses/s (default: the prefix spread over the duration)"},
	{"arp-scan", "ARP requests for every address of a prefix", []string{"rate", "from", "target"}, "requests/s"},
	{"syn-flood", "TCP SYN flood from random spoofed sources; the victim answers each with a SYN cookie SYN-ACK", []string{"rate", "target", "port"}, "SYNs/s (default 1000)"},
	{"udp-flood", "UDP flood from one Internet host (or spoofed sources, or a LAN host); closed ports answer ICMP port unreachable up to 1000/s", []string{"rate", "from", "target", "port", "size"}, "datagrams/s (default 1000)"},
	{"dns-tunnel", "DNS tunnel: queries with long random subdomains, TXT and NULL records carrying data", []string{"rate", "from"}, "queries/s (default 20)"},
	{"ssh-brute", "SSH password guessing from the Internet: many short connections to port 22", []string{"rate", "from", "target"}, "connections/s (default 2)"},
	{"ftp-brute", "FTP password guessing from the Internet: many short connections to port 21", []string{"rate", "from", "target"}, "connections/s (default 2)"},
	{"synack-reflection", "SYN-ACK reflection: SYN-ACKs from many servers to a victim that answers each with a RST", []string{"rate", "target"}, "SYN-ACKs/s (default 1000)"},
	{"rdp-brute", "RDP password guessing from the Internet: one short connection to port 3389 per attempt (X.224, TLS, a refused login)", []string{"rate", "from", "target"}, "connections/s (default 1)"},
	{"arp-spoof", "ARP spoofing of the gateway: forged ARP replies tell the victim that the gateway's address is at the attacker's MAC, and the gateway that the victim's is, in turn", []string{"rate", "from", "target"}, "forged replies/s (default 1)"},
	{"icmp-tunnel", "ICMP tunnel: echo requests and replies between a LAN host and an Internet server, carrying data of varying sizes", []string{"rate", "from", "size"}, "echo requests/s (default 5); size: largest payload, at least 64 (default 1000)"},
	{"host-scan", "TCP SYN scan of a few ports on every address of a prefix, host after host; on the scanner's LAN each address is first resolved with ARP", []string{"rate", "from", "target", "ports"}, "hosts/s (default: the prefix spread over the duration); ports: per host (default 3)"},
	{"proto-scan", "IP protocol scan of one host (nmap -sO): an empty datagram per protocol number, answered by ICMP protocol unreachable (rate-limited by the target)", []string{"rate", "from", "target"}, "probes/s (default: every protocol over the duration)"},
	{"dns-exfil", "data exfiltration in DNS names: A queries for long hex-encoded labels under the attacker's domain, answered NXDOMAIN", []string{"rate", "from"}, "queries/s (default 2)"},
}

// Kinds returns the attack kinds and their descriptions, in a stable order.
func Kinds() [][2]string {
	var out [][2]string
	for _, k := range kinds {
		out = append(out, [2]string{k.name, k.help + "; rate: " + k.rate + "; fields: " + strings.Join(k.fields, ", ")})
	}
	return out
}

func kindOf(name string) (kindInfo, bool) {
	for _, k := range kinds {
		if k.name == name {
			return k, true
		}
	}
	return kindInfo{}, false
}

func kindNames() string {
	var n []string
	for _, k := range kinds {
		n = append(n, k.name)
	}
	return strings.Join(n, ", ")
}

// DefaultConfig is ten minutes of a 12-host office at 50 packets/s, without
// attacks, as an Ethernet pcapng.
func DefaultConfig() Config {
	return Config{
		Seed:     1,
		Start:    time.Date(2025, 3, 4, 9, 0, 0, 0, time.UTC),
		Duration: config.Duration(10 * time.Minute),
		Rate:     50,
		Hosts:    12,
		Wander:   0.25,
		Output:   Output{Format: "pcapng", LinkType: "ether"},
	}
}

const maxDuration = 7 * 24 * time.Hour

// minAttackRate is the slowest attack: one event in 11 days, longer than
// any capture.
const minAttackRate = 1e-6

// Validate checks every field and names the first bad one.
func (c *Config) Validate() error {
	switch {
	case c.Start.Year() < 1970 || c.Start.Year() > 2105:
		return config.Errorf("start", "%s is outside the years 1970 to 2105 that capture files can store", c.Start.Format(time.RFC3339))
	case c.Duration <= 0:
		return config.Errorf("duration", "must be positive, got %s", c.Duration)
	case c.Duration.D() > maxDuration:
		return config.Errorf("duration", "%s is longer than the maximum of %s", c.Duration, maxDuration)
	case math.IsNaN(c.Rate) || c.Rate <= 0 || c.Rate > 1e6:
		return config.Errorf("rate", "must be between 0 and 1000000 packets per second, got %v", c.Rate)
	case c.Hosts < 2 || c.Hosts > 250:
		return config.Errorf("hosts", "must be between 2 and 250, got %d", c.Hosts)
	case math.IsNaN(c.Wander) || c.Wander < 0 || c.Wander > 2:
		return config.Errorf("wander", "must be between 0 and 2, got %v", c.Wander)
	}
	if err := c.Output.Validate(); err != nil {
		return config.Within("output", err)
	}
	for i := range c.Attacks {
		if err := c.Attacks[i].validate(c); err != nil {
			return config.Within(fmt.Sprintf("attack[%d]", i), err)
		}
	}
	return nil
}

// Formats and link types accepted by Output.
var (
	formats   = []string{"pcap", "pcap-ns", "pcapng"}
	linkTypes = []string{"ether", "sll", "sll2", "raw"}
)

// Validate checks the output options.
func (o *Output) Validate() error {
	if !slices.Contains(formats, o.Format) {
		return config.Errorf("format", "unknown format %q (known: %s)", o.Format, strings.Join(formats, ", "))
	}
	if !slices.Contains(linkTypes, o.LinkType) {
		return config.Errorf("linktype", "unknown link type %q (known: %s)", o.LinkType, strings.Join(linkTypes, ", "))
	}
	if o.Snaplen != 0 && (o.Snaplen < 16 || o.Snaplen > 262144) {
		return config.Errorf("snaplen", "must be 0 (whole packets) or between 16 and 262144, got %d", o.Snaplen)
	}
	if len(o.VLAN) > 2 {
		return config.Errorf("vlan", "at most two tags (QinQ), got %d", len(o.VLAN))
	}
	if len(o.VLAN) > 0 && o.LinkType != "ether" {
		return config.Errorf("vlan", "VLAN tags need the ether link type, not %s", o.LinkType)
	}
	for _, v := range o.VLAN {
		if v < 1 || v > 4094 {
			return config.Errorf("vlan", "VLAN ID %d is outside 1 to 4094", v)
		}
	}
	return nil
}

func (a *Attack) validate(c *Config) error {
	k, ok := kindOf(a.Kind)
	if !ok {
		return config.Errorf("kind", "unknown attack kind %q (known: %s)", a.Kind, kindNames())
	}
	uses := func(f string) bool { return slices.Contains(k.fields, f) }
	set := map[string]bool{"rate": a.Rate != 0, "from": a.From != "", "target": a.Target != "", "ports": a.Ports != 0, "port": a.Port != 0, "size": a.Size != 0}
	for _, f := range []string{"rate", "from", "target", "ports", "port", "size"} {
		if set[f] && !uses(f) {
			return config.Errorf(f, "%s does not use %s (it uses: %s)", a.Kind, f, strings.Join(k.fields, ", "))
		}
	}
	switch {
	case a.At < 0:
		return config.Errorf("at", "must not be negative, got %s", a.At)
	case a.Duration <= 0:
		return config.Errorf("duration", "must be positive, got %s", a.Duration)
	case a.At.D()+a.Duration.D() > c.Duration.D():
		return config.Errorf("duration", "the attack ends at %s, after the capture's end at %s", a.At.D()+a.Duration.D(), c.Duration)
	case math.IsNaN(a.Rate) || a.Rate < 0 || a.Rate > 1e6 || a.Rate > 0 && a.Rate < minAttackRate:
		// Below the minimum, the gap between two events would not fit
		// in the generator's nanosecond clock.
		return config.Errorf("rate", "must be 0 (the kind's default) or between %v and 1000000 per second, got %v", minAttackRate, a.Rate)
	case a.Ports < 0 || a.Ports > 65535:
		return config.Errorf("ports", "must be between 1 and 65535, got %d", a.Ports)
	case a.Kind == "udp-scan" && a.Ports > maxUDPScanPorts():
		return config.Errorf("ports", "a UDP scan probes at most %d ports (those whose protocol would be decoded without a probe of that protocol are left out), got %d", maxUDPScanPorts(), a.Ports)
	case a.Port < 0 || a.Port > 65535:
		return config.Errorf("port", "must be between 0 and 65535, got %d", a.Port)
	case a.Port == 0 && set["port"] && a.Kind != "udp-flood":
		return config.Errorf("port", "random ports (0) are for udp-flood only")
	case a.Size < 0 || a.Size > 1472:
		return config.Errorf("size", "must be between 0 and 1472 bytes (a 1500-byte IP packet), got %d", a.Size)
	case a.Kind == "icmp-tunnel" && a.Size != 0 && a.Size < 64:
		return config.Errorf("size", "the largest payload of an ICMP tunnel must be at least 64 bytes, got %d", a.Size)
	case a.Kind == "host-scan" && a.Ports > len(hostScanPorts):
		return config.Errorf("ports", "a host scan probes at most %d ports per host, got %d", len(hostScanPorts), a.Ports)
	}
	if a.From != "" {
		switch a.From {
		case "internet":
			if a.Kind != "udp-flood" && !bruteKind(a.Kind) {
				return config.Errorf("from", "%s runs from a LAN host, not from the Internet", a.Kind)
			}
		case "spoofed":
			if a.Kind != "udp-flood" {
				return config.Errorf("from", "only udp-flood takes spoofed sources")
			}
		default:
			if bruteKind(a.Kind) {
				if _, err := netip.ParseAddr(a.From); err != nil {
					return config.Errorf("from", "%s comes from the Internet: give internet or a public IPv4 address, not %q", a.Kind, a.From)
				}
			}
		}
	}
	if (a.Kind == "ping-sweep" || a.Kind == "arp-scan" || a.Kind == "host-scan") && a.Target != "" {
		if _, err := netip.ParsePrefix(a.Target); err != nil {
			return config.Errorf("target", "a sweep's target is an IPv4 prefix such as 192.168.1.0/24, not %q", a.Target)
		}
	}
	if c.Output.LinkType == "raw" && (a.Kind == "arp-scan" || a.Kind == "arp-spoof" ||
		((a.Kind == "ping-sweep" || a.Kind == "host-scan") && (a.Target == "" || strings.HasPrefix(a.Target, "192.168.1.")))) {
		return config.Errorf("kind", "%s is made of ARP frames, which the raw link type cannot hold", a.Kind)
	}
	if a.Label != "" && strings.ContainsAny(a.Label, "\x00\n\r\t") {
		return config.Errorf("label", "must be printable on one line")
	}
	return nil
}

// bruteKind reports the password guessers, which come from the Internet.
func bruteKind(kind string) bool {
	return kind == "ssh-brute" || kind == "ftp-brute" || kind == "rdp-brute"
}

// ParseAttack reads the command-line form of an attack:
//
//	kind@offset+duration[:key=value,...]
//
// for example "syn-scan@8m+20s" or "udp-flood@10m+15s:rate=3000,port=53".
// Keys are the TOML keys of Attack.
func ParseAttack(s string) (Attack, error) {
	var a Attack
	head, opts, hasOpts := strings.Cut(s, ":")
	kind, when, ok := strings.Cut(head, "@")
	if !ok || kind == "" {
		return a, fmt.Errorf("%q: expected kind@offset+duration[:key=value,...], e.g. syn-scan@8m+20s", s)
	}
	a.Kind = kind
	if _, ok := kindOf(kind); !ok {
		return a, fmt.Errorf("%q: unknown attack kind %q (known: %s)", s, kind, kindNames())
	}
	at, dur, ok := strings.Cut(when, "+")
	if !ok {
		return a, fmt.Errorf("%q: expected offset+duration after @, e.g. @8m+20s", s)
	}
	if err := a.At.UnmarshalText([]byte(at)); err != nil {
		return a, fmt.Errorf("%q: offset: %v", s, err)
	}
	if err := a.Duration.UnmarshalText([]byte(dur)); err != nil {
		return a, fmt.Errorf("%q: duration: %v", s, err)
	}
	if !hasOpts {
		return a, nil
	}
	if opts == "" {
		return a, fmt.Errorf("%q: nothing after ':' (expected key=value,...)", s)
	}
	for _, kv := range strings.Split(opts, ",") {
		key, val, ok := strings.Cut(kv, "=")
		if !ok || val == "" {
			return a, fmt.Errorf("%q: %q is not key=value", s, kv)
		}
		var err error
		switch key {
		case "rate":
			a.Rate, err = strconv.ParseFloat(val, 64)
		case "label":
			a.Label = val
		case "from":
			a.From = val
		case "target":
			a.Target = val
		case "ports":
			a.Ports, err = strconv.Atoi(val)
		case "port":
			a.Port, err = strconv.Atoi(val)
		case "size":
			a.Size, err = strconv.Atoi(val)
		default:
			return a, fmt.Errorf("%q: unknown key %q (known: rate, label, from, target, ports, port, size)", s, key)
		}
		if err != nil {
			var ne *strconv.NumError
			if errors.As(err, &ne) {
				err = ne.Err
			}
			return a, fmt.Errorf("%q: %s=%q: %v", s, key, val, err)
		}
	}
	return a, nil
}
