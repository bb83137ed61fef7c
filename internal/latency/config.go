package latency

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gstscope/gstscope/internal/params"
)

// Flags select what the tracer measures, as in the core latency tracer.
type Flags uint

const (
	Pipeline Flags = 1 << iota // source-to-sink latency per buffer
	Element                    // per-element processing time and latency
	Reported                   // each element's share of the LATENCY query
	AllFlags = Pipeline | Element | Reported
)

var flagNames = map[string]Flags{"pipeline": Pipeline, "element": Element, "reported": Reported}

// String is the flags as GST_TRACERS writes them: pipeline+element.
func (f Flags) String() string {
	var names []string
	for _, n := range []string{"pipeline", "element", "reported"} {
		if f&flagNames[n] != 0 {
			names = append(names, n)
		}
	}
	return strings.Join(names, "+")
}

// EnvPort names the environment variable that enables the HTTP server.
const EnvPort = "GST_PROMETHEUS_TRACER_PORT"

// DefaultBindAddress is where the HTTP server listens unless told otherwise.
const DefaultBindAddress = "0.0.0.0"

// The file the exposition is written to, for jobs that end before anyone
// scrapes them, and how often it is rewritten while they run.
const (
	EnvFile             = "GST_PROMETHEUS_TRACER_FILE"
	EnvFileInterval     = "GST_PROMETHEUS_TRACER_FILE_INTERVAL"
	DefaultFileInterval = 10 * time.Second
	MinFileInterval     = time.Second
	MaxFileInterval     = time.Hour
)

// Config is what the tracer was asked to do. Port 0 means no HTTP server,
// File "" no file.
type Config struct {
	Flags        Flags
	Port         int
	BindAddress  string
	File         string
	FileInterval time.Duration
}

// Addr is the HTTP listen address, or "" when no server is wanted.
func (c Config) Addr() string {
	if c.Port == 0 {
		return ""
	}
	return joinHostPort(c.BindAddress, c.Port)
}

func joinHostPort(host string, port int) string {
	if strings.Contains(host, ":") {
		return fmt.Sprintf("[%s]:%d", host, port)
	}
	return fmt.Sprintf("%s:%d", host, port)
}

var knownKeys = []string{"bind-address", "file", "file-interval", "flags", "port"}

// ParseConfig validates params and the environment. Every problem becomes a
// warning that names the value and what is used instead; it never fails.
func ParseConfig(p params.Params, getenv func(string) string) (Config, []string) {
	cfg := Config{Flags: AllFlags, BindAddress: DefaultBindAddress, FileInterval: DefaultFileInterval}
	warn := p.Check(knownKeys...)
	if v, ok := p.Fields["flags"]; ok {
		cfg.Flags, warn = parseFlags(v, warn)
	}
	if v := getenv(EnvPort); v != "" {
		port, err := parsePort(v)
		if err != nil {
			warn = append(warn, fmt.Sprintf("%s=%q: %v; no HTTP server", EnvPort, v, err))
		}
		cfg.Port = port
	}
	if v, ok := p.Fields["port"]; ok {
		port, err := parsePort(v)
		if err != nil {
			warn = append(warn, fmt.Sprintf("port=%q: %v; no HTTP server", v, err))
		}
		cfg.Port = port
	}
	if v := strings.TrimSpace(getenv(EnvFile)); v != "" {
		cfg.File = v
	}
	if v, ok := p.Fields["file"]; ok {
		cfg.File = strings.TrimSpace(v)
	}
	for _, s := range []struct{ from, v string }{{EnvFileInterval, getenv(EnvFileInterval)}, {"file-interval", p.Fields["file-interval"]}} {
		if s.v == "" {
			continue
		}
		if d, err := parseInterval(s.v); err != nil {
			warn = append(warn, fmt.Sprintf("%s=%q: %v; writing every %v", s.from, s.v, err, cfg.FileInterval))
		} else {
			cfg.FileInterval = d
		}
	}
	if v, ok := p.Fields["bind-address"]; ok {
		if a := strings.TrimSpace(strings.Trim(v, "[]")); a == "" {
			warn = append(warn, fmt.Sprintf("bind-address=%q names no address; using %s", v, DefaultBindAddress))
		} else {
			cfg.BindAddress = a
		}
	}
	return cfg, warn
}

func parseFlags(v string, warn []string) (Flags, []string) {
	var f Flags
	for _, name := range strings.Split(v, "+") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if bit, ok := flagNames[name]; ok {
			f |= bit
			continue
		}
		warn = append(warn, fmt.Sprintf("unknown flag %q in flags=%q; valid flags are pipeline, element, reported", name, v))
	}
	if f == 0 {
		warn = append(warn, fmt.Sprintf("flags=%q selects nothing; measuring pipeline+element+reported", v))
		f = AllFlags
	}
	return f, warn
}

// parseInterval reads seconds ("10") or a Go duration ("1m30s").
func parseInterval(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	d, err := time.ParseDuration(v)
	if n, nerr := strconv.ParseFloat(v, 64); nerr == nil {
		d, err = time.Duration(n*float64(time.Second)), nil
	}
	switch {
	case err != nil:
		return 0, fmt.Errorf("not a duration (seconds, or like 1m30s)")
	case d < MinFileInterval || d > MaxFileInterval:
		return 0, fmt.Errorf("out of range %v-%v", MinFileInterval, MaxFileInterval)
	}
	return d, nil
}

func parsePort(v string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return 0, fmt.Errorf("not a port number")
	}
	if n < 1 || n > 65535 {
		return 0, fmt.Errorf("port out of range 1-65535")
	}
	return n, nil
}
