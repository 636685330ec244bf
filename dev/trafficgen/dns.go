package trafficgen

import "encoding/binary"

// DNS message encoding for the resolver traffic, mDNS and the DNS tunnel.

const (
	dnsA    = 1
	dnsNS   = 2
	dnsCNAM = 5
	dnsSOA  = 6
	dnsNULL = 10
	dnsPTR  = 12
	dnsTXT  = 16
	dnsAAAA = 28
	dnsSRV  = 33
	dnsOPT  = 41

	dnsNXDomain = 3 // response code: no such name
)

func appendName(b []byte, name string) []byte {
	start := 0
	for i := 0; i <= len(name); i++ {
		if i == len(name) || name[i] == '.' {
			if i > start {
				b = append(b, byte(i-start))
				b = append(b, name[start:i]...)
			}
			start = i + 1
		}
	}
	return append(b, 0)
}

// dnsHeader writes the 12-byte header.
func dnsHeader(b []byte, id, flags uint16, qd, an, ns, ar int) []byte {
	b = append(b, byte(id>>8), byte(id), byte(flags>>8), byte(flags))
	for _, n := range [4]int{qd, an, ns, ar} {
		b = put16(b, n)
	}
	return b
}

func appendQuestion(b []byte, name string, qtype, class uint16) []byte {
	b = appendName(b, name)
	b = put16(b, int(qtype))
	return put16(b, int(class))
}

// appendRR writes a resource record whose owner is the name at offset 12
// (the question) when name is empty.
func appendRR(b []byte, name string, typ, class uint16, ttl uint32, rdata []byte) []byte {
	if name == "" {
		b = append(b, 0xc0, 12)
	} else {
		b = appendName(b, name)
	}
	b = put16(b, int(typ))
	b = put16(b, int(class))
	b = binary.BigEndian.AppendUint32(b, ttl)
	b = put16(b, len(rdata))
	return append(b, rdata...)
}

// appendOPT writes an EDNS(0) OPT record advertising a 1232-byte payload.
func appendOPT(b []byte) []byte {
	return append(b, 0, 0, dnsOPT, 0x04, 0xd0, 0, 0, 0, 0, 0, 0)
}

// soaFor writes the SOA rdata a negative answer carries.
func soaFor(b []byte, zone string, serial uint32) []byte {
	b = appendName(b, "ns1."+zone)
	b = appendName(b, "hostmaster."+zone)
	for _, v := range [5]uint32{serial, 7200, 3600, 1209600, 300} {
		b = binary.BigEndian.AppendUint32(b, v)
	}
	return b
}

// zoneOf returns the last two labels of name.
func zoneOf(name string) string {
	dots := 0
	for i := len(name) - 1; i >= 0; i-- {
		if name[i] == '.' {
			dots++
			if dots == 2 {
				return name[i+1:]
			}
		}
	}
	return name
}
