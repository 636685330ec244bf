package trafficgen

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"netspot/core/config"
)

func small(t testing.TB, attacks ...string) Config {
	t.Helper()
	c := DefaultConfig()
	c.Duration = config.Duration(3 * time.Minute)
	c.Rate = 80
	for _, s := range attacks {
		a, err := ParseAttack(s)
		if err != nil {
			t.Fatal(err)
		}
		c.Attacks = append(c.Attacks, a)
	}
	return c
}

func capture(t testing.TB, c Config) ([]byte, *Labels) {
	t.Helper()
	var buf bytes.Buffer
	l, err := Generate(&buf, c)
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), l
}

func TestDeterministic(t *testing.T) {
	c := small(t, "syn-scan@1m+20s", "udp-flood@2m+10s:rate=500")
	for _, format := range formats {
		c.Output.Format = format
		a, _ := capture(t, c)
		b, _ := capture(t, c)
		if sha256.Sum256(a) != sha256.Sum256(b) {
			t.Errorf("%s: two runs with seed %d differ", format, c.Seed)
		}
		c2 := c
		c2.Seed++
		d, _ := capture(t, c2)
		if bytes.Equal(a, d) {
			t.Errorf("%s: seeds %d and %d give the same capture", format, c.Seed, c2.Seed)
		}
	}
}

// TestAttacksLeaveBenignTrafficAlone: adding an attack to a scenario does
// not change the benign packets around it, so that runs with and without an
// attack compare.
func TestAttacksLeaveBenignTrafficAlone(t *testing.T) {
	benign := func(c Config) [32]byte {
		g, err := New(c)
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		var p Packet
		for g.Next(&p) {
			if p.Attack < 0 {
				h.Write(p.Data)
			}
		}
		return [32]byte(h.Sum(nil))
	}
	if benign(small(t)) != benign(small(t, "syn-scan@1m+20s", "dns-tunnel@2m+20s")) {
		t.Error("the benign packets changed when attacks were added")
	}
}

// TestLabelsMatchPackets checks each attack's window and counts against the
// packets themselves.
func TestLabelsMatchPackets(t *testing.T) {
	c := small(t, "syn-scan@30s+20s:ports=500", "arp-scan@1m30s+10s", "ssh-brute@2m+30s:rate=1")
	g, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	type seen struct {
		first, last time.Duration
		n           int
	}
	got := make([]seen, len(c.Attacks))
	var syns, synacks, arpReq int
	var p Packet
	for g.Next(&p) {
		if p.Attack < 0 {
			continue
		}
		s := &got[p.Attack]
		if s.n == 0 {
			s.first = p.Offset
		}
		s.last = p.Offset
		s.n++
		pkt := gopacket.NewPacket(p.Data, layers.LinkTypeEthernet, gopacket.NoCopy)
		switch p.Attack {
		case 0:
			if tcp, ok := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP); ok && tcp.SYN {
				if tcp.ACK {
					synacks++
				} else {
					syns++
				}
			}
		case 1:
			if arp, ok := pkt.Layer(layers.LayerTypeARP).(*layers.ARP); ok && arp.Operation == 1 {
				arpReq++
			}
		}
	}
	l := g.Labels()
	for i, a := range l.Attacks {
		s := got[i]
		if uint64(s.n) != a.Packets {
			t.Errorf("%s: labels say %d packets, the capture has %d", a.Label, a.Packets, s.n)
		}
		if !a.Start.Equal(c.Start.Add(s.first)) || !a.End.Equal(c.Start.Add(s.last)) {
			t.Errorf("%s: labels say %v to %v, packets run from %v to %v", a.Label, a.Start, a.End, c.Start.Add(s.first), c.Start.Add(s.last))
		}
		at := c.Attacks[i].At.D()
		if s.first != at {
			t.Errorf("%s: first packet at %v, not at the attack's start %v", a.Label, s.first, at)
		}
		// Connections started near the end finish after it (a password
		// guesser's connection lasts up to half a minute).
		if s.last > at+c.Attacks[i].Duration.D()+30*time.Second {
			t.Errorf("%s: last packet at %v, long after the attack's end", a.Label, s.last)
		}
	}
	if syns != 500 {
		t.Errorf("syn-scan of 500 ports sent %d SYNs", syns)
	}
	if synacks == 0 || synacks > 10 {
		t.Errorf("syn-scan got %d SYN-ACKs from the NAS's handful of open ports", synacks)
	}
	if arpReq < 254 {
		t.Errorf("arp-scan of a /24 sent %d requests, want at least 254", arpReq)
	}
	if got[2].n < 20*20 {
		t.Errorf("30 s of SSH guessing at one connection per second sent only %d packets", got[2].n)
	}
}

// TestMeanRate checks that the benign traffic has the requested mean rate
// within 20% over a simulated half hour, at rates from a quiet LAN to the
// benchmark capture's.
func TestMeanRate(t *testing.T) {
	for _, rate := range []float64{10, 50, 400, 5000} {
		c := DefaultConfig()
		c.Rate = rate
		c.Duration = config.Duration(30 * time.Minute)
		if rate > 1000 {
			c.Duration = config.Duration(10 * time.Minute)
		}
		g, err := New(c)
		if err != nil {
			t.Fatal(err)
		}
		var n int
		var p Packet
		for g.Next(&p) {
			n++
		}
		got := float64(n) / c.Duration.D().Seconds()
		if got < 0.8*rate || got > 1.2*rate {
			t.Errorf("rate %v: got %.1f packets/s", rate, got)
		} else {
			t.Logf("rate %v: got %.1f packets/s", rate, got)
		}
	}
}

// TestFormats writes every format and link type and reads them back.
func TestFormats(t *testing.T) {
	base := small(t, "syn-scan@1m+10s:ports=100")
	base.Duration = config.Duration(90 * time.Second)
	ref := func() []Packet {
		g, _ := New(base)
		var out []Packet
		var p Packet
		for g.Next(&p) {
			q := p
			q.Data = append([]byte(nil), p.Data...)
			out = append(out, q)
		}
		return out
	}()
	cases := []struct {
		format, link string
		snaplen      int
		vlan         []int
		lt           layers.LinkType
		res          time.Duration
	}{
		{"pcap", "ether", 0, nil, layers.LinkTypeEthernet, time.Microsecond},
		{"pcap-ns", "ether", 96, []int{100}, layers.LinkTypeEthernet, 1},
		{"pcapng", "ether", 0, []int{10, 20}, layers.LinkTypeEthernet, 1},
		{"pcapng", "sll", 128, nil, layers.LinkTypeLinuxSLL, 1},
		{"pcap-ns", "sll2", 0, nil, layers.LinkTypeLinuxSLL2, 1},
		{"pcap", "raw", 64, nil, layers.LinkTypeRaw, time.Microsecond},
	}
	for _, tc := range cases {
		name := tc.format + "/" + tc.link
		c := base
		c.Output = Output{Format: tc.format, LinkType: tc.link, Snaplen: tc.snaplen, VLAN: tc.vlan}
		data, l := capture(t, c)
		var r interface {
			ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
			LinkType() layers.LinkType
		}
		var err error
		if tc.format == "pcapng" {
			r, err = pcapgo.NewNgReader(bytes.NewReader(data), pcapgo.DefaultNgReaderOptions)
		} else {
			r, err = pcapgo.NewReader(bytes.NewReader(data))
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if r.LinkType() != tc.lt {
			t.Errorf("%s: link type %v, want %v", name, r.LinkType(), tc.lt)
		}
		i := 0
		for {
			b, ci, err := r.ReadPacketData()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: packet %d: %v", name, i, err)
			}
			for tc.link == "raw" && binary16(ref[i].Data[12:]) == etherTypeARP {
				i++ // ARP has no place without a link layer
			}
			want := ref[i]
			if ts := base.Start.Add(want.Offset).Truncate(tc.res); !ci.Timestamp.Equal(ts) {
				t.Fatalf("%s: packet %d at %v, want %v", name, i, ci.Timestamp, ts)
			}
			if tc.snaplen > 0 && len(b) > tc.snaplen {
				t.Fatalf("%s: packet %d has %d bytes, over the snaplen", name, i, len(b))
			}
			pkt := gopacket.NewPacket(b, tc.lt, gopacket.Default)
			if tc.snaplen == 0 {
				if el := pkt.ErrorLayer(); el != nil {
					t.Fatalf("%s: packet %d: %v", name, i, el.Error())
				}
			}
			if tc.link != "raw" && len(tc.vlan) > 0 {
				var ids []int
				for _, l := range pkt.Layers() {
					if d, ok := l.(*layers.Dot1Q); ok {
						ids = append(ids, int(d.VLANIdentifier))
					}
				}
				if len(ids) != len(tc.vlan) || ids[0] != tc.vlan[0] {
					t.Fatalf("%s: packet %d has VLAN tags %v, want %v", name, i, ids, tc.vlan)
				}
			}
			if tc.link == "ether" && ci.Length != want.Length+4*len(tc.vlan) {
				t.Fatalf("%s: packet %d: length %d, want %d", name, i, ci.Length, want.Length+4*len(tc.vlan))
			}
			i++
		}
		if i != len(ref) || uint64(i) != l.Packets {
			t.Errorf("%s: read %d packets, generated %d, labels say %d", name, i, len(ref), l.Packets)
		}
		if tc.link == "raw" && l.Skipped == 0 {
			t.Errorf("%s: no ARP frame was left out", name)
		}
	}
}

func binary16(b []byte) uint16 { return uint16(b[0])<<8 | uint16(b[1]) }

func TestValidate(t *testing.T) {
	cases := []struct {
		edit func(*Config)
		key  string
		msg  string
	}{
		{func(c *Config) { c.Rate = 0 }, "rate", "between 0 and"},
		{func(c *Config) { c.Hosts = 1 }, "hosts", "between 2 and 250"},
		{func(c *Config) { c.Duration = 0 }, "duration", "positive"},
		{func(c *Config) { c.Start = time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC) }, "start", "1970"},
		{func(c *Config) { c.Wander = -1 }, "wander", "between 0 and 2"},
		{func(c *Config) { c.Output.Format = "erf" }, "output.format", "unknown format"},
		{func(c *Config) { c.Output.LinkType = "wifi" }, "output.linktype", "unknown link type"},
		{func(c *Config) { c.Output.Snaplen = 8 }, "output.snaplen", "between 16"},
		{func(c *Config) { c.Output.VLAN = []int{5000} }, "output.vlan", "outside 1 to 4094"},
		{func(c *Config) { c.Output.VLAN = []int{1, 2, 3} }, "output.vlan", "at most two"},
		{func(c *Config) { c.Output.LinkType, c.Output.VLAN = "sll", []int{7} }, "output.vlan", "ether"},
		{func(c *Config) { c.Attacks = []Attack{{Kind: "smurf", Duration: 1e9}} }, "attack[0].kind", "unknown attack kind"},
		{func(c *Config) {
			c.Attacks = []Attack{{Kind: "syn-scan", At: config.Duration(9 * time.Minute), Duration: config.Duration(2 * time.Minute)}}
		}, "attack[0].duration", "after the capture's end"},
		{func(c *Config) { c.Attacks = []Attack{{Kind: "syn-scan", Duration: 1e9, Size: 10}} }, "attack[0].size", "does not use size"},
		{func(c *Config) { c.Attacks = []Attack{{Kind: "syn-flood", Duration: 1e9, From: "nas"}} }, "attack[0].from", "does not use from"},
		{func(c *Config) { c.Attacks = []Attack{{Kind: "udp-flood", Duration: 1e9, Size: 2000}} }, "attack[0].size", "1472"},
		{func(c *Config) { c.Attacks = []Attack{{Kind: "ping-sweep", Duration: 1e9, Target: "nas"}} }, "attack[0].target", "prefix"},
		{func(c *Config) { c.Output.LinkType, c.Attacks = "raw", []Attack{{Kind: "arp-scan", Duration: 1e9}} }, "attack[0].kind", "raw link type"},
		{func(c *Config) { c.Attacks = []Attack{{Kind: "syn-flood", Duration: 1e9, Rate: 1e-300}} }, "attack[0].rate", "between 1e-06 and"},
		// More ports than a UDP scan can probe would never finish.
		{func(c *Config) { c.Attacks = []Attack{{Kind: "udp-scan", Duration: 1e9, Ports: 65535}} }, "attack[0].ports", "at most 65515"},
	}
	for _, tc := range cases {
		c := DefaultConfig()
		tc.edit(&c)
		err := c.Validate()
		var fe *config.FieldError
		if !errors.As(err, &fe) || fe.Key != tc.key || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("want an error on %s saying %q, got %v", tc.key, tc.msg, err)
		}
	}
	if c := small(t); c.Validate() != nil {
		err := c.Validate()
		t.Errorf("a valid scenario: %v", err)
	}
}

// TestNewChecksNetwork covers the checks that need the network model.
func TestNewChecksNetwork(t *testing.T) {
	cases := map[string]string{
		"syn-scan@1m+10s:target=10.9.9.9":     "attack[0].target",
		"syn-scan@1m+10s:target=nas,from=nas": "attack[0].target",
		"syn-flood@1m+10s:target=gateway":     "attack[0].target",
		"arp-scan@1m+10s:target=10.0.0.0/24":  "attack[0].target",
		"ssh-brute@1m+10s:from=192.168.1.5":   "attack[0].from",
		"udp-flood@1m+10s:port=67":            "attack[0].port",
		"ping-sweep@1m+10s:target=10.0.0.0/8": "attack[0].target",
	}
	for spec, key := range cases {
		_, err := New(small(t, spec))
		var fe *config.FieldError
		if !errors.As(err, &fe) || fe.Key != key {
			t.Errorf("%s: want an error on %s, got %v", spec, key, err)
		}
	}
	c := DefaultConfig()
	c.Hosts, c.Rate = 200, 2
	if _, err := New(c); err == nil || !strings.Contains(err.Error(), "chatter") {
		t.Errorf("a rate below the hosts' chatter: %v", err)
	}
}

func TestParseAttack(t *testing.T) {
	a, err := ParseAttack("udp-flood@10m+15s:rate=3000,port=5000,size=100,from=spoofed,target=nas,label=flood")
	if err != nil {
		t.Fatal(err)
	}
	want := Attack{Kind: "udp-flood", At: config.Duration(10 * time.Minute), Duration: config.Duration(15 * time.Second),
		Rate: 3000, Port: 5000, Size: 100, From: "spoofed", Target: "nas", Label: "flood"}
	if a.Kind != want.Kind || a.At != want.At || a.Duration != want.Duration || a.Rate != want.Rate || a.Port != want.Port ||
		a.Size != want.Size || a.From != want.From || a.Target != want.Target || a.Label != want.Label {
		t.Errorf("got %+v, want %+v", a, want)
	}
	if b, err := ParseAttack(a.Spec()); err != nil || b.Spec() != a.Spec() {
		t.Errorf("Spec does not round-trip: %q -> %v %v", a.Spec(), b, err)
	}
	for spec, msg := range map[string]string{
		"syn-scan":                   "expected kind@offset+duration",
		"syn-scan@8m":                "offset+duration",
		"syn-scan@8x+20s":            "offset",
		"syn-scan@8m+20":             "duration",
		"teardrop@1m+1s":             "unknown attack kind",
		"syn-scan@1m+1s:":            "nothing after",
		"syn-scan@1m+1s:rate":        "not key=value",
		"syn-scan@1m+1s:speed=3":     "unknown key",
		"syn-scan@1m+1s:rate=fast":   "invalid syntax",
		"syn-scan@1m+1s:ports=1e999": "invalid syntax",
	} {
		if _, err := ParseAttack(spec); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%q: want an error saying %q, got %v", spec, msg, err)
		}
	}
}

func TestParseScenario(t *testing.T) {
	c, err := ParseScenario([]byte(`
seed = 7
duration = "5m"
rate = 30
[output]
format = "pcap"
snaplen = 96
[[attack]]
kind = "syn-scan"
at = "1m"
duration = "20s"
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Seed != 7 || c.Duration.D() != 5*time.Minute || c.Output.Snaplen != 96 || c.Output.LinkType != "ether" || len(c.Attacks) != 1 {
		t.Errorf("got %+v", c)
	}
	for doc, msg := range map[string]string{
		"sed = 7":                  "sed",
		"rate = \"fast\"":          "line 1",
		"duration = \"5 minutes\"": "duration",
		"[[attack]]\nkind = \"syn-scan\"\nat = \"1m\"": "attack[0].duration",
	} {
		if _, err := ParseScenario([]byte(doc)); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%q: want an error saying %q, got %v", doc, msg, err)
		}
	}
}

func FuzzParseAttack(f *testing.F) {
	for _, s := range []string{"syn-scan@8m+20s", "udp-flood@10m+15s:rate=3000,port=0", "x@+", "a@1s+1s:k=v,,", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAttack(s)
		if err != nil {
			return
		}
		b, err := ParseAttack(a.Spec())
		if err != nil {
			t.Fatalf("%q parsed, but its Spec %q does not: %v", s, a.Spec(), err)
		}
		if b.Spec() != a.Spec() {
			t.Fatalf("%q: %q then %q", s, a.Spec(), b.Spec())
		}
	})
}

func FuzzParseScenario(f *testing.F) {
	f.Add([]byte("seed = 1\nduration = \"1m\"\n[[attack]]\nkind = \"syn-scan\"\nat = \"10s\"\nduration = \"5s\"\n"))
	f.Add([]byte("[output]\nvlan = [1, 2]\nlinktype = \"ether\"\n"))
	f.Add([]byte("rate = 1e308\nhosts = -1"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseScenario(b)
		if err != nil {
			return
		}
		if c.Duration.D() > 10*time.Minute || c.Rate > 5000 {
			return // valid, but too big to generate here
		}
		if _, err := New(c); err != nil {
			var fe *config.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("New on a validated scenario: %v", err)
			}
		}
	})
}

func BenchmarkGenerate(b *testing.B) {
	for _, snap := range []int{0, 128} {
		b.Run("snaplen="+itoa(snap), func(b *testing.B) {
			c := DefaultConfig()
			c.Rate = 8333
			c.Duration = config.Duration(10 * time.Minute)
			c.Output.Format = "pcap"
			c.Output.Snaplen = snap
			g, err := New(c)
			if err != nil {
				b.Fatal(err)
			}
			w, err := NewWriter(io.Discard, c.Output, c.Start, "")
			if err != nil {
				b.Fatal(err)
			}
			var p Packet
			var bytes int64
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if !g.Next(&p) {
					g, _ = New(c)
					g.Next(&p)
				}
				bytes += int64(len(p.Data))
				if err := w.Write(&p); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "packets/s")
			b.SetBytes(bytes / int64(b.N))
		})
	}
}

// The largest scans allowed probe every port they may, each once.
func TestLargestScans(t *testing.T) {
	for _, udp := range []bool{false, true} {
		n := 65535
		if udp {
			n = maxUDPScanPorts()
		}
		ports := scanPorts(newRNG(1, "test"), n, udp)
		seen := make(map[uint16]bool, n)
		for _, p := range ports {
			if p == 0 || seen[p] || (udp && !udpScannable(p)) {
				t.Fatalf("udp=%v: port %d probed twice, or not to be probed", udp, p)
			}
			seen[p] = true
		}
		if len(ports) != n {
			t.Errorf("udp=%v: %d ports, want %d", udp, len(ports), n)
		}
	}
}
