package config

import (
	"errors"
	"testing"
	"time"
)

func TestDurationText(t *testing.T) {
	var d Duration
	if err := d.UnmarshalText([]byte("1m30s")); err != nil || d.D() != 90*time.Second {
		t.Fatalf("got %v, %v", d, err)
	}
	if b, _ := d.MarshalText(); string(b) != "1m30s" {
		t.Errorf("MarshalText = %s", b)
	}
	if err := d.UnmarshalText([]byte("10")); err == nil {
		t.Error("a number without unit was accepted")
	}
}

func TestWithinPrefixesKeys(t *testing.T) {
	err := Within("exporter", Within("mqtt", Errorf("broker", "bad scheme %q", "ftp")))
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Key != "exporter.mqtt.broker" {
		t.Fatalf("got %v", err)
	}
	if err.Error() != `exporter.mqtt.broker: bad scheme "ftp"` {
		t.Errorf("message %q", err.Error())
	}
	plain := errors.New("x")
	if Within("a", plain) != plain || Within("a", nil) != nil {
		t.Error("Within must leave other errors alone")
	}
}
