// Package file appends data records and alarms to files as JSON lines, one
// object per line (the format of every JSON sink of netspot), so that the
// files can be followed with tail -f and read with jq.
package file

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"netspot/core/config"
	"netspot/core/event"
	"netspot/core/sink"
)

// Config is the [exporter.file] section. In both paths, "%s" is replaced by
// the name of the series: the capture file's name without extension, or the
// interface name and the start time for a live capture.
type Config struct {
	Data  string `toml:"data" api:"path" comment:"File that receives a data record each period (JSON lines); empty: none. %s is replaced by the series name"`
	Alarm string `toml:"alarm" api:"path" comment:"File that receives each alarm (JSON lines); empty: none. May be the same file as data"`
}

// DefaultConfig writes no files.
func DefaultConfig() Config { return Config{} }

// Enabled reports whether any file is written.
func (c Config) Enabled() bool { return c.Data != "" || c.Alarm != "" }

// Validate checks that the paths are usable templates (at most one %s, no
// other verb).
func (c Config) Validate() error {
	for _, f := range []struct{ key, path string }{{"data", c.Data}, {"alarm", c.Alarm}} {
		if err := checkTemplate(f.path); err != nil {
			return config.Errorf(f.key, "%v", err)
		}
	}
	return nil
}

func checkTemplate(p string) error {
	rest := strings.ReplaceAll(p, "%%", "")
	if n := strings.Count(rest, "%s"); n > 1 {
		return fmt.Errorf("path %q has %d %%s (at most one: the series name)", p, n)
	}
	if strings.Count(strings.ReplaceAll(rest, "%s", ""), "%") > 0 {
		return fmt.Errorf("path %q has a %% that is not %%s (write %%%% for a literal %%)", p)
	}
	return nil
}

// Path returns the path template with the series name filled in.
func Path(template, series string) string {
	if template == "" {
		return ""
	}
	p := strings.ReplaceAll(template, "%%", "\x00")
	p = strings.ReplaceAll(p, "%s", series)
	return strings.ReplaceAll(p, "\x00", "%")
}

// Sink appends to the data and alarm files.
type Sink struct {
	data, alarm *os.File // alarm may be the same file as data
	buf         []byte
}

// New opens (creating or appending to) the files of cfg for the series.
func New(cfg Config, series string) (*Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Sink{}
	var err error
	if p := Path(cfg.Data, series); p != "" {
		if s.data, err = open(p); err != nil {
			return nil, config.Errorf("data", "%v", err)
		}
	}
	if p := Path(cfg.Alarm, series); p != "" {
		if s.data != nil && sameFile(s.data, p) {
			s.alarm = s.data
		} else if s.alarm, err = open(p); err != nil {
			s.Close()
			return nil, config.Errorf("alarm", "%v", err)
		}
	}
	return s, nil
}

func open(p string) (*os.File, error) {
	if _, err := os.Stat(filepath.Dir(p)); err != nil {
		return nil, fmt.Errorf("directory of %s: %w", p, err)
	}
	return os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
}

func sameFile(f *os.File, p string) bool {
	a, err1 := f.Stat()
	b, err2 := os.Stat(p)
	return err1 == nil && err2 == nil && os.SameFile(a, b)
}

// Write appends r's data line and its alarms, each file in one write: a
// record is on disk (in the page cache) when Write returns. A file that
// fails (a full disk) does not keep the other from being written, nor
// later records from being written once it works again.
func (s *Sink) Write(r *event.Record) error {
	var dataErr error
	s.buf = s.buf[:0]
	if s.data != nil {
		s.buf = append(event.AppendDataJSON(s.buf, r), '\n')
		if s.alarm != s.data {
			dataErr = write(s.data, s.buf)
			s.buf = s.buf[:0]
		}
	}
	if s.alarm != nil {
		for i := range r.Alarms {
			s.buf = append(event.AppendAlarmJSON(s.buf, &r.Alarms[i]), '\n')
		}
		if len(s.buf) > 0 {
			return errors.Join(dataErr, write(s.alarm, s.buf))
		}
	}
	return dataErr
}

// write appends b to f. When only part of b could be written (the disk
// filled up), that part is cut off again, so that the file holds whole
// lines only and the next record starts on a line of its own.
func write(f *os.File, b []byte) error {
	n, err := f.Write(b)
	if err == nil {
		return nil
	}
	if n > 0 {
		if end, serr := f.Seek(0, io.SeekEnd); serr == nil {
			_ = f.Truncate(end - int64(n))
		}
	}
	return fmt.Errorf("file %s: %w", f.Name(), err)
}

// Close syncs and closes the files. A file that cannot be synced (a pipe
// or a device such as /dev/stdout: EINVAL) has nothing to sync.
func (s *Sink) Close() error {
	files := []*os.File{s.data}
	if s.alarm != s.data {
		files = append(files, s.alarm)
	}
	var errs []error
	for _, f := range files {
		if f == nil {
			continue
		}
		if err := f.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
			errs = append(errs, err)
		}
		if err := f.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Factory makes the file sink from [exporter.file].
func Factory() sink.Factory {
	return sink.Factory{
		Name:    "file",
		Section: "exporter.file",
		Comment: "Files of JSON lines, appended to (netspot never truncates them: rotate them with logrotate's copytruncate, or move them away)",
		Config:  func() sink.Config { c := DefaultConfig(); return &c },
	}
}

// New opens the files for the pipeline's series.
func (c Config) New(env sink.Env) (sink.Sink, error) { return New(c, env.Series) }
