package integration

import (
	"testing"
)

// Bad GST_TRACERS entries: each is a warning in the gstscope log category
// that names the problem, the application exits 0, and the counts are
// exact (nothing counted twice, nothing lost).
func TestBadTracerParams(t *testing.T) {
	for _, c := range []struct {
		tracers, log string
	}{
		{"prometheus-latency-tracer;prometheus-latency-tracer", "prometheus-latency-tracer is already active in this process; this second instance is ignored"},
		{"prometheus-latency-tracer(garbage)", `cannot parse tracer parameters "garbage" (expected key=value,...); using the defaults`},
		{"prometheus-latency-tracer(flags=)", `cannot parse tracer parameters "flags="`},
		{"prometheus-latency-tracer(bogus=1)", `unknown parameter "bogus" ignored; valid parameters are bind-address, flags, port`},
		{"prometheus-latency-tracer(flags=+)", `flags="+" selects nothing; measuring pipeline+element+reported`},
		// GStreamer itself accepts a missing ')' and passes what it has.
		{"prometheus-latency-tracer(flags=element", "measuring flags=element"},
		{"prometheus-latency-tracer;pyroscope(server-url=http://127.0.0.1:9);pyroscope", "the pyroscope tracer is already active in this process; this second instance is ignored"},
	} {
		t.Run(c.tracers, func(t *testing.T) {
			r := measure(t, gstEnv(t, c.tracers), "fakesrc num-buffers=77 ! identity ! fakesink")
			if n := countLines(r.Stderr, c.log); n != 1 {
				t.Errorf("%d log lines %q, want 1:\n%s", n, c.log, tail(r.Stderr))
			}
			for _, pad := range []string{"sink", "src"} {
				if got := counter(t, r, "gstreamer_pad_buffers_total", labels("element", "identity0", "pad", pad)); got != 77 {
					t.Errorf("identity0:%s counted %v buffers, want 77", pad, got)
				}
			}
		})
	}
}
