// Command trafficgen writes a synthetic capture of an office LAN seen on a
// mirrored switch port, with attacks injected at chosen times, and a labels
// file giving each attack's exact window. The same seed and options give the
// same bytes.
//
//	trafficgen -o office.pcapng --duration 10m --rate 50 --seed 1 \
//	    --attack syn-scan@8m+20s --attack udp-flood@9m+15s:rate=3000 \
//	    --labels office.labels.json
//	trafficgen -c scenario.toml -o out.pcap
//	trafficgen -list
//
// main only wires the process to run, which the tests call in-process.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"netspot/core/config"
	"netspot/dev/trafficgen"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "trafficgen:", err)
		}
		os.Exit(2)
	}
}

// attackList collects repeated --attack flags.
type attackList []trafficgen.Attack

func (l *attackList) String() string { return "" }
func (l *attackList) Set(s string) error {
	a, err := trafficgen.ParseAttack(s)
	if err != nil {
		return err
	}
	*l = append(*l, a)
	return nil
}

// vlanList reads --vlan 100 or --vlan 100,200.
type vlanList []int

func (l *vlanList) String() string { return "" }
func (l *vlanList) Set(s string) error {
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return fmt.Errorf("VLAN ID %q is not a number", f)
		}
		*l = append(*l, v)
	}
	return nil
}

func run(args []string, stdout, stderr io.Writer) error {
	def := trafficgen.DefaultConfig()
	fs := flag.NewFlagSet("trafficgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		scenario = fs.String("c", "", "scenario `file` (TOML); flags given on the command line override it")
		out      = fs.String("o", "", "capture `file` to write (required; - for stdout)")
		labels   = fs.String("labels", "", "labels `file` (JSON) with each attack's window (default: none)")
		list     = fs.Bool("list", false, "list the attack kinds and exit")
		dump     = fs.Bool("print-scenario", false, "print the scenario as TOML (defaults, file and flags merged) and exit")
		attacks  attackList
		vlans    vlanList
	)
	seed := fs.Uint64("seed", def.Seed, "random seed")
	start := fs.String("start", def.Start.Format(time.RFC3339), "start time of the capture (RFC 3339)")
	duration := fs.Duration("duration", def.Duration.D(), "length of the capture")
	rate := fs.Float64("rate", def.Rate, "mean benign packets per second")
	hosts := fs.Int("hosts", def.Hosts, "hosts on the LAN besides the gateway")
	wander := fs.Float64("wander", def.Wander, "how far the activity wanders around its mean (0: steady)")
	diurnal := fs.Bool("diurnal", def.Diurnal, "follow an office day's activity profile")
	format := fs.String("format", def.Output.Format, "pcap, pcap-ns or pcapng")
	linktype := fs.String("linktype", def.Output.LinkType, "ether, sll, sll2 or raw")
	snaplen := fs.Int("snaplen", def.Output.Snaplen, "bytes kept of each packet (0: all)")
	fs.Var(&attacks, "attack", "an attack, kind@offset+duration[:key=value,...] (repeatable; see -list)")
	fs.Var(&vlans, "vlan", "802.1Q VLAN ID(s), outermost first: 100, or 100,200 for QinQ")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: trafficgen -o FILE [-c scenario.toml] [flags]\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (flags only; see -h)", fs.Arg(0))
	}
	if *list {
		for _, k := range trafficgen.Kinds() {
			fmt.Fprintf(stdout, "%-18s %s\n", k[0], k[1])
		}
		return nil
	}

	cfg := def
	if *scenario != "" {
		var err error
		if cfg, err = trafficgen.LoadScenario(*scenario); err != nil {
			return err
		}
	}
	var err error
	fs.Visit(func(f *flag.Flag) {
		if err != nil {
			return
		}
		switch f.Name {
		case "seed":
			cfg.Seed = *seed
		case "start":
			t, perr := time.Parse(time.RFC3339Nano, *start)
			if perr != nil {
				err = fmt.Errorf("-start %q: not an RFC 3339 time such as 2025-03-04T09:00:00Z", *start)
			}
			cfg.Start = t
		case "duration":
			cfg.Duration = config.Duration(*duration)
		case "rate":
			cfg.Rate = *rate
		case "hosts":
			cfg.Hosts = *hosts
		case "wander":
			cfg.Wander = *wander
		case "diurnal":
			cfg.Diurnal = *diurnal
		case "format":
			cfg.Output.Format = *format
		case "linktype":
			cfg.Output.LinkType = *linktype
		case "snaplen":
			cfg.Output.Snaplen = *snaplen
		case "vlan":
			cfg.Output.VLAN = vlans
		case "attack":
			cfg.Attacks = append(cfg.Attacks, attacks...)
		}
	})
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return flagError(err)
	}
	if *dump {
		return config.Render(stdout, config.Section{Value: &cfg})
	}
	if *out == "" {
		return errors.New("no output file: give -o FILE (or -o - for stdout)")
	}

	var w io.Writer = stdout
	var f *os.File
	if *out != "-" {
		if f, err = os.Create(*out); err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	began := time.Now()
	l, err := trafficgen.Generate(w, cfg)
	if err != nil {
		return err
	}
	if f != nil {
		if err := f.Close(); err != nil {
			return fmt.Errorf("write %s: %w", *out, err)
		}
	}
	if *labels != "" {
		lf, err := os.Create(*labels)
		if err != nil {
			return err
		}
		if err := l.WriteJSON(lf); err != nil {
			lf.Close()
			return fmt.Errorf("write %s: %w", *labels, err)
		}
		if err := lf.Close(); err != nil {
			return fmt.Errorf("write %s: %w", *labels, err)
		}
	}
	el := time.Since(began)
	fmt.Fprintf(stderr, "trafficgen: %d packets, %d bytes on the wire, %d attacks, in %s (%.0f packets/s)\n",
		l.Packets, l.Bytes, len(l.Attacks), el.Round(time.Millisecond), float64(l.Packets)/el.Seconds())
	return nil
}

// flagError rewords a scenario field error in terms of the flag that sets
// it, when there is one.
func flagError(err error) error {
	var fe *config.FieldError
	if !errors.As(err, &fe) {
		return err
	}
	flagOf := map[string]string{"seed": "-seed", "start": "-start", "duration": "-duration", "rate": "-rate",
		"hosts": "-hosts", "wander": "-wander", "output.format": "-format", "output.linktype": "-linktype",
		"output.snaplen": "-snaplen", "output.vlan": "-vlan"}
	if f, ok := flagOf[fe.Key]; ok {
		return fmt.Errorf("%s (%s): %v", f, fe.Key, fe.Err)
	}
	if strings.HasPrefix(fe.Key, "attack[") {
		return fmt.Errorf("-attack / %s: %v", fe.Key, fe.Err)
	}
	return err
}
