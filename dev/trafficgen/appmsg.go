package trafficgen

import (
	"encoding/binary"
	"strconv"
)

// This file writes the literal parts of application messages: TLS hellos,
// HTTP heads. Encrypted or bulk content comes from the random block.

func appendRandom(b []byte, r *rng, n int) []byte {
	for i := 0; i < n; i++ {
		b = append(b, byte(r.u64()>>56))
	}
	return b
}

func put16(b []byte, v int) []byte { return append(b, byte(v>>8), byte(v)) }

// clientHello writes a TLS 1.3 ClientHello record as browsers send it:
// SNI, ALPN h2 and http/1.1, an X25519 key share, padded to 512 bytes.
func clientHello(b []byte, sni string, r *rng, os osKind) []byte {
	start := len(b)
	b = append(b, 0x16, 3, 1, 0, 0, 1, 0, 0, 0, 3, 3)
	b = appendRandom(b, r, 32)
	b = append(b, 32)
	b = appendRandom(b, r, 32)
	suites := []byte{0x13, 0x01, 0x13, 0x02, 0x13, 0x03, 0xc0, 0x2b, 0xc0, 0x2f, 0xc0, 0x2c, 0xc0, 0x30,
		0xcc, 0xa9, 0xcc, 0xa8, 0xc0, 0x13, 0xc0, 0x14, 0x00, 0x9c, 0x00, 0x9d, 0x00, 0x2f, 0x00, 0x35}
	b = put16(b, len(suites))
	b = append(b, suites...)
	b = append(b, 1, 0) // compression: null
	extStart := len(b)
	b = append(b, 0, 0)
	// server_name
	b = append(b, 0, 0)
	b = put16(b, len(sni)+5)
	b = put16(b, len(sni)+3)
	b = append(b, 0)
	b = put16(b, len(sni))
	b = append(b, sni...)
	b = append(b, 0x00, 0x17, 0, 0) // extended_master_secret
	b = append(b, 0xff, 0x01, 0, 1, 0)
	b = append(b, 0x00, 0x0a, 0, 0x0c, 0, 0x0a, 0, 0x1d, 0, 0x17, 0, 0x18, 0, 0x19, 1, 0) // groups
	b = append(b, 0x00, 0x0b, 0, 2, 1, 0)                                                 // point formats
	b = append(b, 0x00, 0x23, 0, 0)                                                       // session ticket
	b = append(b, 0x00, 0x10, 0, 0x0e, 0, 0x0c, 2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1')
	b = append(b, 0x00, 0x05, 0, 5, 1, 0, 0, 0, 0) // status_request
	b = append(b, 0x00, 0x0d, 0, 0x14, 0, 0x12, 4, 3, 8, 4, 4, 1, 5, 3, 8, 5, 5, 1, 8, 6, 6, 1)
	b = append(b, 0x00, 0x33, 0, 0x26, 0, 0x24, 0, 0x1d, 0, 0x20) // key_share x25519
	b = appendRandom(b, r, 32)
	b = append(b, 0x00, 0x2d, 0, 2, 1, 1)          // psk modes
	b = append(b, 0x00, 0x2b, 0, 5, 4, 3, 4, 3, 3) // supported versions
	if os != osApple {                             // padding to 512 bytes of handshake (Apple does not pad)
		if pad := 512 - (len(b) - start - 5) - 4; pad >= 0 {
			b = append(b, 0x00, 0x15)
			b = put16(b, pad)
			b = append(b, make([]byte, pad)...)
		}
	}
	binary.BigEndian.PutUint16(b[extStart:], uint16(len(b)-extStart-2))
	hs := len(b) - start - 9
	b[start+6], b[start+7], b[start+8] = byte(hs>>16), byte(hs>>8), byte(hs)
	binary.BigEndian.PutUint16(b[start+3:], uint16(len(b)-start-5))
	return b
}

// serverHello writes a TLS 1.3 ServerHello record and the compatibility
// ChangeCipherSpec record that follows it; the rest of the server's flight
// is encrypted and comes as application-data records.
func serverHello(b []byte, r *rng) []byte {
	b = append(b, 0x16, 3, 3, 0, 0x7a, 2, 0, 0, 0x76, 3, 3)
	b = appendRandom(b, r, 32)
	b = append(b, 32)
	b = appendRandom(b, r, 32)
	b = append(b, 0x13, 0x01, 0, 0, 0x2e)
	b = append(b, 0x00, 0x2b, 0, 2, 3, 4)
	b = append(b, 0x00, 0x33, 0, 0x24, 0, 0x1d, 0, 0x20)
	b = appendRandom(b, r, 32)
	return append(b, 0x14, 3, 3, 0, 1, 1)
}

func httpRequest(b []byte, host string, r *rng) []byte {
	b = append(b, "GET /pool/main/"...)
	b = append(b, byte('a'+r.intn(26)))
	b = append(b, "/pkg"...)
	b = strconv.AppendInt(b, int64(r.intn(100000)), 10)
	b = append(b, ".deb HTTP/1.1\r\nHost: "...)
	b = append(b, host...)
	b = append(b, "\r\nUser-Agent: Debian APT-HTTP/1.3 (2.6.1)\r\nAccept: */*\r\nConnection: keep-alive\r\n\r\n"...)
	return b
}

func httpResponse(b []byte, size int) []byte {
	b = append(b, "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: application/vnd.debian.binary-package\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(size), 10)
	return append(b, "\r\nConnection: keep-alive\r\n\r\n"...)
}
