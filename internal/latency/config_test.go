package latency

import (
	"strings"
	"testing"
	"time"

	"github.com/gstscope/gstscope/internal/params"
)

func TestParseConfig(t *testing.T) {
	env := func(port string) func(string) string {
		return func(k string) string {
			if k == EnvPort {
				return port
			}
			return ""
		}
	}
	cases := []struct {
		name   string
		params params.Params
		port   string
		want   Config
		warns  []string
	}{
		{"defaults", params.Params{}, "", cfg(AllFlags, 0, "0.0.0.0"), nil},
		{"seed flags", params.Params{Fields: map[string]string{"flags": "pipeline+element+reported"}}, "9092",
			cfg(AllFlags, 9092, "0.0.0.0"), nil},
		{"one flag", params.Params{Fields: map[string]string{"flags": "element"}}, "", cfg(Element, 0, "0.0.0.0"), nil},
		{"unknown flag keeps valid ones", params.Params{Fields: map[string]string{"flags": "pipeline+bogus"}}, "",
			cfg(Pipeline, 0, "0.0.0.0"), []string{`unknown flag "bogus"`}},
		{"empty flags", params.Params{Fields: map[string]string{"flags": ""}}, "",
			cfg(AllFlags, 0, "0.0.0.0"), []string{"selects nothing"}},
		{"param port wins", params.Params{Fields: map[string]string{"port": "9100"}}, "9092", cfg(AllFlags, 9100, "0.0.0.0"), nil},
		{"bad env port", params.Params{}, "http", cfg(AllFlags, 0, "0.0.0.0"), []string{"not a port number"}},
		{"port zero", params.Params{}, "0", cfg(AllFlags, 0, "0.0.0.0"), []string{"out of range"}},
		{"port too big", params.Params{Fields: map[string]string{"port": "65536"}}, "", cfg(AllFlags, 0, "0.0.0.0"), []string{"out of range"}},
		{"bind address", params.Params{Fields: map[string]string{"bind-address": "127.0.0.1"}}, "9092", cfg(AllFlags, 9092, "127.0.0.1"), nil},
		{"unknown key", params.Params{Fields: map[string]string{"prot": "1"}}, "", cfg(AllFlags, 0, "0.0.0.0"), []string{`unknown parameter "prot"`}},
		{"unparsable", params.Params{Unparsed: true, Raw: "=="}, "", cfg(AllFlags, 0, "0.0.0.0"), []string{"cannot parse"}},
		{"file", params.Params{Fields: map[string]string{"file": " /tmp/m.prom ", "file-interval": "2.5"}}, "",
			withFile(cfg(AllFlags, 0, "0.0.0.0"), "/tmp/m.prom", 2500*time.Millisecond), nil},
		{"file interval as a duration", params.Params{Fields: map[string]string{"file": "m.prom", "file-interval": "1m30s"}}, "",
			withFile(cfg(AllFlags, 0, "0.0.0.0"), "m.prom", 90*time.Second), nil},
		{"file interval too short", params.Params{Fields: map[string]string{"file": "m.prom", "file-interval": "0.1"}}, "",
			withFile(cfg(AllFlags, 0, "0.0.0.0"), "m.prom", DefaultFileInterval), []string{`file-interval="0.1": out of range`}},
		{"file interval not a duration", params.Params{Fields: map[string]string{"file-interval": "often"}}, "",
			cfg(AllFlags, 0, "0.0.0.0"), []string{`file-interval="often": not a duration`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, warns := ParseConfig(c.params, env(c.port))
			if got != c.want {
				t.Errorf("config = %+v, want %+v", got, c.want)
			}
			if len(warns) != len(c.warns) {
				t.Fatalf("warnings = %q, want %d matching %q", warns, len(c.warns), c.warns)
			}
			for i, w := range c.warns {
				if !strings.Contains(warns[i], w) {
					t.Errorf("warning %q lacks %q", warns[i], w)
				}
			}
		})
	}
}

func cfg(f Flags, port int, bind string) Config {
	return Config{Flags: f, Port: port, BindAddress: bind, FileInterval: DefaultFileInterval}
}

func withFile(c Config, path string, every time.Duration) Config {
	c.File, c.FileInterval = path, every
	return c
}

func TestAddr(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{Port: 0, BindAddress: "0.0.0.0"}, ""},
		{Config{Port: 9092, BindAddress: "0.0.0.0"}, "0.0.0.0:9092"},
		{Config{Port: 9092, BindAddress: "::1"}, "[::1]:9092"},
	} {
		if got := c.cfg.Addr(); got != c.want {
			t.Errorf("%+v.Addr() = %q, want %q", c.cfg, got, c.want)
		}
	}
}
