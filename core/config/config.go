// Package config holds the small pieces every configurable package shares:
// a Duration that reads and writes "1s"-style strings in TOML, and an error
// type that names the key holding a bad value so that the loader can point at
// its line in the user's file.
//
// Each package owns its own Config struct (with `toml` and `comment` tags) and
// DefaultConfig(); the netspot command assembles them into one file.
package config

import (
	"errors"
	"fmt"
	"time"
)

// Duration is a time.Duration written as a Go duration string ("500ms", "1m30s").
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String returns the Go duration string, e.g. "1s".
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText writes the Go duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads a Go duration string such as "1s" or "250ms".
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("invalid duration %q (examples: \"500ms\", \"1s\", \"2m\")", b)
	}
	*d = Duration(v)
	return nil
}

// FieldError says which key of a section holds a bad value. Key is relative
// to the section that validated it ("q", "broker"); each enclosing level adds
// its own prefix with Within, so that the final error names the full key
// ("spot.q") and the loader can find its line.
type FieldError struct {
	Key string
	Err error
}

func (e *FieldError) Error() string { return e.Key + ": " + e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

// Errorf returns a *FieldError for key with a formatted message.
func Errorf(key, format string, args ...any) error {
	return &FieldError{Key: key, Err: fmt.Errorf(format, args...)}
}

// Within prefixes the key of a *FieldError in err with section ("spot" and
// "q" give "spot.q"). Other errors are returned unchanged.
func Within(section string, err error) error {
	var fe *FieldError
	if err == nil || !errors.As(err, &fe) {
		return err
	}
	return &FieldError{Key: section + "." + fe.Key, Err: fe.Err}
}
