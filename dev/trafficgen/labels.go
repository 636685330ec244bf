package trafficgen

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Labels is the ground truth of a generated capture: what was generated,
// and for each attack the window from its first to its last packet (replies
// included) as written to the file.
type Labels struct {
	Generator string        `json:"generator"`
	Seed      uint64        `json:"seed"`
	Start     time.Time     `json:"start"`
	End       time.Time     `json:"end"`
	Duration  float64       `json:"duration_s"`
	Rate      float64       `json:"rate"`
	Hosts     int           `json:"hosts"`
	Packets   uint64        `json:"packets"`
	Bytes     uint64        `json:"bytes"`
	Skipped   uint64        `json:"skipped_frames,omitempty"`
	Attacks   []AttackLabel `json:"attacks"`
}

// AttackLabel is the window and the figures of one attack.
type AttackLabel struct {
	Label    string    `json:"label"`
	Kind     string    `json:"kind"`
	Spec     string    `json:"spec"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	Offset   float64   `json:"offset_s"`
	Duration float64   `json:"duration_s"`
	Packets  uint64    `json:"packets"`
	Bytes    uint64    `json:"bytes"`
	Attacker string    `json:"attacker"`
	Target   string    `json:"target"`
	Rate     float64   `json:"rate"`
}

// Spec returns the command-line form of an attack (see ParseAttack).
func (a *Attack) Spec() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s@%s+%s", a.Kind, a.At, a.Duration)
	var opts []string
	add := func(k, v string) { opts = append(opts, k+"="+v) }
	if a.Rate != 0 {
		add("rate", strconv.FormatFloat(a.Rate, 'g', -1, 64))
	}
	if a.Label != "" {
		add("label", a.Label)
	}
	if a.From != "" {
		add("from", a.From)
	}
	if a.Target != "" {
		add("target", a.Target)
	}
	if a.Ports != 0 {
		add("ports", strconv.Itoa(a.Ports))
	}
	if a.Port != 0 {
		add("port", strconv.Itoa(a.Port))
	}
	if a.Size != 0 {
		add("size", strconv.Itoa(a.Size))
	}
	if len(opts) > 0 {
		sb.WriteString(":" + strings.Join(opts, ","))
	}
	return sb.String()
}

// Labels returns the ground truth of what Next has produced so far (all of
// it once Next has returned false).
func (g *Generator) Labels() Labels {
	c := &g.cfg
	l := Labels{
		Generator: "netspot trafficgen",
		Seed:      c.Seed,
		Start:     c.Start.UTC(),
		End:       c.Start.Add(c.Duration.D()).UTC(),
		Duration:  c.Duration.D().Seconds(),
		Rate:      c.Rate,
		Hosts:     c.Hosts,
		Packets:   g.packets,
		Bytes:     g.bytes,
		Attacks:   []AttackLabel{},
	}
	for _, a := range g.attacks {
		al := AttackLabel{Label: a.label, Kind: a.kind, Spec: a.spec.Spec(), Packets: a.packets, Bytes: a.bytes,
			Attacker: a.attacker, Target: a.target, Rate: a.rate}
		if a.packets > 0 {
			al.Start = c.Start.Add(time.Duration(a.first)).UTC()
			al.End = c.Start.Add(time.Duration(a.lastT)).UTC()
			al.Offset = time.Duration(a.first).Seconds()
			al.Duration = time.Duration(a.lastT - a.first).Seconds()
		}
		l.Attacks = append(l.Attacks, al)
	}
	return l
}

// WriteJSON writes the labels as indented JSON.
func (l *Labels) WriteJSON(w io.Writer) error {
	b, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// Comment is the one-line description of the scenario written into
// pcapng files.
func (c *Config) Comment() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "netspot trafficgen: seed %d, %s from %s, %g packets/s, %d hosts", c.Seed, c.Duration, c.Start.UTC().Format(time.RFC3339), c.Rate, c.Hosts)
	for _, a := range c.Attacks {
		sb.WriteString("; " + a.Spec())
	}
	return sb.String()
}

// Generate writes the whole capture of cfg to w and returns its labels.
func Generate(w io.Writer, cfg Config) (*Labels, error) {
	g, err := New(cfg)
	if err != nil {
		return nil, err
	}
	out, err := NewWriter(w, cfg.Output, cfg.Start, cfg.Comment())
	if err != nil {
		return nil, err
	}
	var p Packet
	for g.Next(&p) {
		if err := out.Write(&p); err != nil {
			return nil, err
		}
	}
	if err := out.Flush(); err != nil {
		return nil, fmt.Errorf("write capture: %w", err)
	}
	l := g.Labels()
	l.Skipped = out.Skipped()
	return &l, nil
}
