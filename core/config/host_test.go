package config

import (
	"strings"
	"testing"
)

func TestValidHost(t *testing.T) {
	for h, want := range map[string]bool{
		"localhost": true, "broker.lan": true, "broker.lan.": true, "my_box-2": true,
		"192.168.1.10": true, "::1": true, "fe80::1%eth0": true, "2001:db8::1": true,
		strings.Repeat("a", 63) + ".lan": true,

		"": false, ".": false, "]": false, "a!b": false, "bad host": false, "a..b": false,
		".lan": false, "1.2.3.4%eth0": false, "[::1]": false, "host:80": false, "é.lan": false,
		strings.Repeat("a", 64) + ".lan": false, strings.Repeat("a.", 127) + "ab": false,
	} {
		if got := ValidHost(h); got != want {
			t.Errorf("ValidHost(%q) = %v, want %v", h, got, want)
		}
	}
}
