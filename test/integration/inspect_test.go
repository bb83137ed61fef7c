package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
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

// gst-inspect-1.0 constructs a tracer only to describe it: configured as a
// user's shell would have it (a port, a file, an unreachable Pyroscope),
// inspecting starts nothing. Without the guard the busy port is reported
// ("gstscope: ... port") and the file is written at exit: the same
// configuration in a pipeline shows both.
func TestInspectStartsNothing(t *testing.T) {
	busy := takePort(t)
	file := filepath.Join(t.TempDir(), "metrics.prom")
	env := []string{
		fmt.Sprintf("GST_PROMETHEUS_TRACER_PORT=%d", busy),
		"GST_PROMETHEUS_TRACER_FILE=" + file,
		"GST_PYROSCOPE_SERVER_URL=http://127.0.0.1:9",
	}
	for _, factory := range []string{"prometheus-latency-tracer", "pyroscope"} {
		inspect := exec.Command("gst-inspect-1.0", factory)
		inspect.Env = append(withoutDebug(gstEnv(t, "prometheus-latency-tracer;pyroscope")), env...)
		var stderr strings.Builder
		inspect.Stderr = &stderr
		if err := inspect.Run(); err != nil {
			t.Fatalf("gst-inspect-1.0 %s: %v\n%s", factory, err, stderr.String())
		}
		if lines := problemLines(stderr.String()); len(lines) > 0 {
			t.Errorf("gst-inspect-1.0 %s started a tracer: %q", factory, lines)
		}
		if _, err := os.Stat(file); err == nil {
			t.Errorf("gst-inspect-1.0 %s wrote %s", factory, file)
		}
	}
	// The control: the same configuration in a pipeline.
	cmd := exec.Command("gst-launch-1.0", "-q", "fakesrc", "num-buffers=1", "!", "fakesink")
	cmd.Env = append(withoutDebug(gstEnv(t, "prometheus-latency-tracer")), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("gst-launch-1.0: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(strings.Join(problemLines(stderr.String()), "\n"), strconv.Itoa(busy)) {
		t.Errorf("the control pipeline did not report the busy port %d: %q", busy, stderr.String())
	}
	if _, err := os.Stat(file); err != nil {
		t.Errorf("the control pipeline wrote no file: %v", err)
	}
}
