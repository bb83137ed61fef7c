package latency

import (
	"strings"
	"testing"

	"github.com/gstscope/gstscope/internal/params"
)

// Whatever GST_TRACERS and the environment say, ParseConfig returns a
// usable configuration and says what it did not accept. Seeds are in
// testdata/fuzz/FuzzParseConfig; `make test` fuzzes for a few seconds.
func FuzzParseConfig(f *testing.F) {
	f.Add("pipeline+element+reported", "9092", "127.0.0.1", "9100", false)
	f.Fuzz(func(t *testing.T, flags, port, bind, envPort string, unparsed bool) {
		p := params.Params{Fields: map[string]string{}, Unparsed: unparsed, Raw: flags}
		for k, v := range map[string]string{"flags": flags, "port": port, "bind-address": bind} {
			if v != "" {
				p.Fields[k] = v
			}
		}
		cfg, warns := ParseConfig(p, func(k string) string {
			if k == EnvPort {
				return envPort
			}
			return ""
		})
		if cfg.Flags == 0 || cfg.Flags&^AllFlags != 0 {
			t.Fatalf("flags %b from %q", cfg.Flags, flags)
		}
		if cfg.Port < 0 || cfg.Port > 65535 {
			t.Fatalf("port %d from %q / %q", cfg.Port, port, envPort)
		}
		if cfg.BindAddress == "" {
			t.Fatal("empty bind address")
		}
		if unparsed && len(warns) == 0 {
			t.Fatal("unparsable params without a warning")
		}
		if port != "" && cfg.Port == 0 && len(warns) == 0 {
			t.Fatalf("port %q refused without a warning", port)
		}
		for _, w := range warns {
			if strings.TrimSpace(w) == "" {
				t.Fatal("empty warning")
			}
		}
	})
}
