package api

import (
	"fmt"
	"net"
	"strings"
)

// anyDevice is the pseudo-interface that captures on every interface.
func anyDevice() Device {
	return Device{Name: "any", Up: true, Flags: []string{"every interface"}, Addresses: []string{}}
}

// systemDevices lists "any" and the machine's network interfaces. Capture
// files are not devices: they are not listed.
func systemDevices() ([]Device, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("network interfaces: %w", err)
	}
	out := []Device{anyDevice()}
	for _, ifc := range ifs {
		d := Device{
			Name: ifc.Name, Index: ifc.Index, MTU: ifc.MTU, MAC: ifc.HardwareAddr.String(),
			Up: ifc.Flags&net.FlagUp != 0, Loopback: ifc.Flags&net.FlagLoopback != 0,
			Flags: strings.Split(ifc.Flags.String(), "|"), Addresses: []string{},
		}
		if ifc.Flags == 0 {
			d.Flags = []string{}
		}
		// An interface that vanished meanwhile has no addresses: listed
		// anyway, as it was.
		if addrs, err := ifc.Addrs(); err == nil {
			for _, a := range addrs {
				d.Addresses = append(d.Addresses, a.String())
			}
		}
		out = append(out, d)
	}
	return out, nil
}
