package integration

import (
	"strings"
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
		{"prometheus-latency-tracer(bogus=1)", `unknown parameter "bogus" ignored; valid parameters are bind-address, file, file-interval, flags, port`},
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

// Bad GST_PYROSCOPE_* values, with both tracers: one warning each naming
// the value and what is used instead, exit 0, and the latency tracer's
// counts stay exact. (The parsers' every branch is unit-tested and fuzzed;
// this checks that a real process logs and survives them.)
func TestBadPyroscopeEnv(t *testing.T) {
	for _, c := range []struct {
		env, log string
	}{
		{"GST_PYROSCOPE_SERVER_URL=::not a url", `GST_PYROSCOPE_SERVER_URL="::not a url": not a URL; profiles are not uploaded`},
		{"GST_PYROSCOPE_SERVER_URL=ftp://127.0.0.1:9", `GST_PYROSCOPE_SERVER_URL="ftp://127.0.0.1:9": unsupported scheme "ftp" (http or https)`},
		{"GST_PYROSCOPE_SERVER_URL=http://", `GST_PYROSCOPE_SERVER_URL="http://": no host`},
		{"GST_PYROSCOPE_SAMPLE_RATE=0", `GST_PYROSCOPE_SAMPLE_RATE="0" is not a positive number of samples per second; using 100`},
		{"GST_PYROSCOPE_SAMPLE_RATE=-3", `GST_PYROSCOPE_SAMPLE_RATE="-3" is not a positive number`},
		{"GST_PYROSCOPE_SAMPLE_RATE=99999999", `GST_PYROSCOPE_SAMPLE_RATE="99999999" is above the maximum; sampling at 1000 Hz`},
		{"GST_PYROSCOPE_TAGS==v,a=1", `GST_PYROSCOPE_TAGS: tag key "" is not a label name`},
		{"GST_PYROSCOPE_TAGS=novalue", `GST_PYROSCOPE_TAGS: tag "novalue" has no '='`},
	} {
		t.Run(c.env, func(t *testing.T) {
			env := gstEnv(t, "prometheus-latency-tracer;pyroscope", c.env)
			if _, url, _ := strings.Cut(c.env, "GST_PYROSCOPE_SERVER_URL="); url == "" {
				// Uploads go nowhere (refused at once); a bad URL uploads
				// nothing at all.
				env = append(env, "GST_PYROSCOPE_SERVER_URL=http://127.0.0.1:9")
			}
			r := measure(t, env, "fakesrc num-buffers=77 ! scopeburn cpu-us=100 ! fakesink")
			if n := countLines(r.Stderr, c.log); n != 1 {
				t.Errorf("%d log lines %q, want 1:\n%s", n, c.log, tail(r.Stderr))
			}
			if !strings.Contains(r.Stderr, "profiling at ") {
				t.Errorf("the pyroscope tracer did not start:\n%s", tail(r.Stderr))
			}
			if got := counter(t, r, "gstreamer_pad_buffers_total", labels("element", "fakesink0", "pad", "sink")); got != 77 {
				t.Errorf("fakesink0 counted %v buffers, want 77", got)
			}
		})
	}
}
