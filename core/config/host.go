package config

import (
	"net/netip"
	"strings"
)

// ValidHost reports whether h can name a host to connect to or listen on:
// an IP address (IPv6 with its zone, if any) or a DNS name of letters,
// digits, '-' and '_' between dots (a final dot allowed). URL and host:port
// parsers let more through ("]", "a!b", "a..b"), which no dialler accepts;
// checking the setting at start lets the user read what is wrong instead
// of a failed connection at every attempt.
func ValidHost(h string) bool {
	if _, err := netip.ParseAddr(h); err == nil {
		return true
	}
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}
