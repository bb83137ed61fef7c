package integration

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// gst-inspect-1.0 on each tracer factory names the tracer's signals and
// every parameter its parser accepts. GStreamer 1.22's gst-inspect prints
// for a tracer only its name, its plugin's details (the description
// carries the manual), its type hierarchy and its interfaces. The truth
// is taken from the tracers themselves: the signals GObject lists on the
// running tracer's type, the parameters the parser names when it meets an
// unknown one.
func TestInspectShowsSignalsAndParameters(t *testing.T) {
	signals := tracerSignals(t)
	for _, c := range []struct{ factory, tracers string }{
		{"prometheus-latency-tracer", "prometheus-latency-tracer(bogus=1)"},
		{"pyroscope", "pyroscope(bogus=1,server-url=http://127.0.0.1:9)"},
	} {
		t.Run(c.factory, func(t *testing.T) {
			out := runPipeline(t, gstEnv(t, c.tracers), "-q fakesrc num-buffers=1 ! fakesink")
			m := regexp.MustCompile(`valid parameters are ([a-z, -]+)`).FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("no list of valid parameters in the warning about bogus=1:\n%s", tail(out))
			}
			params := strings.Split(m[1], ", ")

			inspect := exec.Command("gst-inspect-1.0", c.factory)
			inspect.Env = append(gstEnv(t, ""), "GST_PYROSCOPE_SERVER_URL=http://127.0.0.1:9")
			b, err := inspect.Output()
			page := string(b)
			if err != nil {
				t.Fatalf("gst-inspect-1.0 %s: %v\n%s", c.factory, err, page)
			}
			// The tracer's own part of the page: its parameters and signals.
			i := strings.Index(page, c.factory+" parameters:")
			if i < 0 {
				t.Fatalf("gst-inspect-1.0 %s does not list its parameters:\n%s", c.factory, page)
			}
			own := page[i:]
			if j := strings.Index(own, ". "); j >= 0 {
				own = own[:j]
			}
			for _, p := range params {
				if !regexp.MustCompile(`[ (:,]` + regexp.QuoteMeta(p) + `[ =(,;]`).MatchString(own) {
					t.Errorf("gst-inspect-1.0 %s does not list the parameter %q in %q", c.factory, p, own)
				}
			}
			typ := regexp.MustCompile(`\+----(GstScope\w+)`).FindStringSubmatch(page)
			if typ == nil {
				t.Fatalf("no tracer type in gst-inspect-1.0 %s:\n%s", c.factory, page)
			}
			for _, s := range signals[typ[1]] {
				if !strings.Contains(own, " "+s+" ") {
					t.Errorf("gst-inspect-1.0 %s does not name the signal %q in %q", c.factory, s, own)
				}
			}
			if c.factory == "prometheus-latency-tracer" && len(signals[typ[1]]) == 0 {
				t.Errorf("no signal found on %s, which has request-metrics", typ[1])
			}
		})
	}
}

// tracerSignals is, per tracer type, the signals GObject lists on it in a
// process running both tracers.
func tracerSignals(t *testing.T) map[string][]string {
	t.Helper()
	const script = `
import gi
gi.require_version("Gst", "1.0")
from gi.repository import GObject, Gst
Gst.init(None)
for tracer in Gst.tracing_get_active_tracers():
    print(type(tracer).__gtype__.name, *GObject.signal_list_names(type(tracer)))
`
	cmd := exec.Command("/usr/bin/python3", "-c", script)
	cmd.Env = gstEnv(t, "prometheus-latency-tracer;pyroscope", "GST_PYROSCOPE_SERVER_URL=http://127.0.0.1:9")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("listing the tracers' signals: %v\n%s", err, out)
	}
	signals := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && strings.HasPrefix(f[0], "GstScope") {
			signals[f[0]] = f[1:]
		}
	}
	if len(signals) != 2 {
		t.Fatalf("want both tracers active, got %q", out)
	}
	return signals
}
