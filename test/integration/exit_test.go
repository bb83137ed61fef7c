package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Both tracers at once, as a user who wants metrics and profiles runs them.
const bothTracers = tracerAll + ";pyroscope"

// exitSlack is how long a process may take from the end of its run to its
// exit: the pyroscope tracer's last flush (at most 2 s). Not its startup,
// which is not stopping (a fresh registry's scan takes seconds on a loaded
// machine, and failed these bounds when they counted it).
const exitSlack = 3 * time.Second

// The burner every exit-path pipeline runs: the CPU it burnt is the ground
// truth the final profile must carry.
const burnUs = 5000

// launched is a gst-launch-1.0 run.
type launched struct {
	code int
	ran  time.Duration // gst-launch's own "Execution ended after"
	wall time.Duration
	// stopping: from the SIGINT, the end of the run (gst-launch's
	// "Execution ended after") or the error that ended it, to the exit.
	stopping time.Duration
	buffers  int     // what scopeburn b report=true printed when it stopped
	burnt    float64 // seconds
	out      string
}

var (
	executionEnded = regexp.MustCompile(`Execution ended after (\d+):(\d+):(\d+)\.(\d+)`)
	burnReport     = regexp.MustCompile(`scopeburn b: (\d+) buffers, (\d+) ns`)
)

// gstLaunch runs gst-launch-1.0 with args; interrupt > 0 sends SIGINT that
// long after the pipeline was set to PLAYING.
func gstLaunch(t *testing.T, env []string, interrupt time.Duration, args ...string) launched {
	t.Helper()
	start := time.Now()
	p := startPipeline(t, env, strings.Join(args, " "))
	signalled := make(chan time.Time, 1)
	if interrupt > 0 {
		// interrupt after the pipeline went to PLAYING, not after the start:
		// the startup (a fresh registry's scan) takes seconds on a loaded
		// machine, and the run must be long enough to prove something.
		go func() {
			for p.out.at("Setting pipeline to PLAYING").IsZero() {
				select {
				case <-p.done:
					return
				case <-time.After(10 * time.Millisecond):
				}
			}
			time.Sleep(interrupt)
			signalled <- time.Now()
			p.cmd.Process.Signal(syscall.SIGINT)
		}()
	}
	code := p.wait(30 * time.Second) // fails on a crash or a hang
	l := launched{code: code, wall: time.Since(start), out: p.String()}
	// Stopping: from the SIGINT, the end of the run, or the error that
	// ended it, to the exit; not the startup, which a loaded machine makes
	// seconds long.
	select {
	case at := <-signalled:
		l.stopping = p.exited.Sub(at)
	default:
		if l.stopping = p.exitedAfter("Execution ended after"); l.stopping == 0 {
			l.stopping = p.exitedAfter("ERROR: ")
		}
	}
	if m := executionEnded.FindStringSubmatch(l.out); m != nil {
		d, _ := time.ParseDuration(fmt.Sprintf("%sh%sm%s.%ss", m[1], m[2], m[3], m[4]))
		l.ran = d
	}
	if m := burnReport.FindStringSubmatch(l.out); m != nil {
		var ns float64
		fmt.Sscan(m[1], &l.buffers)
		fmt.Sscan(m[2], &ns)
		l.burnt = ns / 1e9
	}
	return l
}

// profileCarries waits for the service's profile and checks that the burner
// b (of pipeline, if given) has the CPU it burnt: that profile is the last
// one, flushed at the end, since these runs are shorter than the 10 s
// upload interval.
func profileCarries(t *testing.T, base, service, pipeline string, burnt float64) {
	t.Helper()
	sel := `{service_name="` + service + `"`
	if pipeline != "" {
		sel += `,pipeline="` + pipeline + `"`
	}
	f := waitFlameFor(t, base, sel+"}", func(f flame) bool { return float64(f.Self["b"])/1e9 >= atLeast(burnt, 0.10, 0.03) })
	near(t, "burner b in the final profile", float64(f.Self["b"])/1e9, burnt, 0.10, 0.03)
}

func bothEnv(t *testing.T, base, service string, extra ...string) []string {
	return gstEnv(t, bothTracers, append([]string{"GST_PYROSCOPE_SERVER_URL=" + base,
		"GST_PYROSCOPE_TRACER_NAME=" + service}, extra...)...)
}

// gst-launch-1.0 ending on EOS, on an error after buffers flowed, on an
// error before any did, and with -e on SIGINT: GStreamer's exit code
// (0, 1, 255 for "failed to set pipeline to PAUSED", 0), exit soon after
// the run, and the last profile on the server. The profiles are read back
// in parallel once every process has exited.
func TestExitGstLaunch(t *testing.T) {
	base := pyroscopeURL(t)
	burner := fmt.Sprintf("scopeburn name=b cpu-us=%d report=true", burnUs)
	for _, c := range []struct {
		name      string
		interrupt time.Duration
		code      int
		args      string
	}{
		{"EOS", 0, 0, "fakesrc num-buffers=100 ! " + burner + " ! fakesink"},
		// identity returns an error for its 60th buffer: the source stops.
		{"error mid-stream", 0, 1, "fakesrc num-buffers=100 ! " + burner + " ! identity error-after=60 ! fakesink"},
		{"missing file", 0, 255, "filesrc location=/nonexistent/gstscope ! " + burner + " ! fakesink"},
		{"SIGINT with -e", 2 * time.Second, 0, "-e videotestsrc is-live=true ! video/x-raw,width=64,height=48,framerate=50/1 ! " + burner + " ! fakesink"},
	} {
		t.Run(c.name, func(t *testing.T) {
			service := uniqueName("exit-launch")
			l := gstLaunch(t, bothEnv(t, base, service), c.interrupt, strings.Fields(c.args)...)
			if l.code != c.code {
				t.Errorf("exit code %d, want %d\n%s", l.code, c.code, tail(l.out))
			}
			if l.stopping <= 0 || l.stopping > exitSlack {
				t.Errorf("the process exited %v after its run ended (took %v, ran %v): stopping is slow", l.stopping, l.wall, l.ran)
			}
			if n := countLines(l.out, "cannot upload profiles"); n != 0 {
				t.Errorf("upload warnings:\n%s", tail(l.out))
			}
			t.Logf("exit %d after %v (pipeline ran %v), %d buffers burnt", l.code, l.wall, l.ran, l.buffers)
			t.Logf("exit %v after the run ended", l.stopping)
			if c.name == "missing file" {
				if l.buffers != 0 {
					t.Fatalf("%d buffers flowed from a missing file", l.buffers)
				}
				t.Parallel()
				// No element ran, the process's own threads did: their
				// CPU is the profile (waitFlame fails on none).
				waitFlame(t, base, `{service_name="`+service+`"}`)
				return
			}
			if l.buffers < 50 {
				t.Fatalf("%d buffers reached the burner: the run proves nothing\n%s", l.buffers, tail(l.out))
			}
			t.Parallel()
			profileCarries(t, base, service, "", l.burnt)
		})
	}
}

// A Python application that reads the metrics through the signal, then
// exits: after set_state(NULL) with and without gst_deinit(), and with
// sys.exit() while its pipelines are still PLAYING, one of them streaming.
// The counts it read are exact; it exits 0, soon; the profile arrives.
func TestExitPython(t *testing.T) {
	base := pyroscopeURL(t)
	const n = 100
	finite := fmt.Sprintf("fakesrc num-buffers=%d ! identity name=id ! scopeburn name=b cpu-us=%d ! fakesink name=sink", n, burnUs)
	pads := [][2]string{{"fakesrc0", "src"}, {"id", "sink"}, {"id", "src"}, {"b", "sink"}, {"b", "src"}, {"sink", "sink"}}
	checkCounts := func(t *testing.T, r *result, pipeline string, probe int) {
		t.Helper()
		if probe != n {
			t.Fatalf("the app's probe saw %d buffers at the sink, want %d", probe, n)
		}
		for _, p := range pads {
			l := labels("pipeline", pipeline, "element", p[0], "pad", p[1])
			if got := counter(t, r, "gstreamer_pad_buffers_total", l); got != float64(probe) {
				t.Errorf("%s:%s buffers = %v, the app counted %d", p[0], p[1], got, probe)
			}
		}
	}
	for _, c := range []struct {
		name string
		run  func(t *testing.T, env []string) (r *result, pipeline string, probe int)
	}{
		{"no gst_deinit", func(t *testing.T, env []string) (*result, string, int) {
			r := measure(t, env, finite, "--probe", "sink:sink", "--prop", "b:burnt-ns")
			return r, "pipeline0", len(r.Probes["sink:sink"])
		}},
		{"gst_deinit", func(t *testing.T, env []string) (*result, string, int) {
			r := measure(t, env, finite, "--probe", "sink:sink", "--prop", "b:burnt-ns", "--deinit")
			return r, "pipeline0", len(r.Probes["sink:sink"])
		}},
		{"sys.exit while PLAYING", func(t *testing.T, env []string) (*result, string, int) {
			var out struct {
				result
				SinkBuffers int `json:"sink_buffers"`
			}
			live := "videotestsrc is-live=true ! video/x-raw,width=64,height=48,framerate=100/1 ! scopeburn cpu-us=1000 ! fakesink"
			wall := runApp(t, env, &out, "../apps/exit_playing.py", finite, live, "--prop", "b:burnt-ns")
			out.Wall = wall
			out.Fams = parseExposition(t, out.Metrics)
			return &out.result, "finite", out.SinkBuffers
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			service := uniqueName("exit-python")
			r, pipeline, probe := c.run(t, bothEnv(t, base, service))
			checkCounts(t, r, pipeline, probe)
			late := r.AfterEOS
			if r.EOSUnix == 0 { // exit_playing.py: never at EOS
				late = r.Wall - time.Duration(r.RunNs)
			}
			if late > exitSlack {
				t.Errorf("the process took %v for a %v run: stopping is slow", r.Wall, time.Duration(r.RunNs))
			}
			t.Logf("exit 0 after %v (pipeline ran %v)", r.Wall, time.Duration(r.RunNs))
			t.Parallel()
			profileCarries(t, base, service, pipeline, r.Props["b:burnt-ns"]/1e9)
		})
	}
}

// runApp runs a Python test app that prints one JSON object into out, and
// returns how long the process took. A non-zero exit fails the test.
func runApp(t *testing.T, env []string, out any, args ...string) time.Duration {
	t.Helper()
	cmd := exec.Command("/usr/bin/python3", args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := runWithTimeout(cmd, 90*time.Second); err != nil {
		t.Fatalf("%v: %v\nstderr:\n%s", args, err, tail(stderr.String()))
	}
	wall := time.Since(start)
	if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
		t.Fatalf("%v output: %v\n%s", args, err, stdout.String())
	}
	return wall
}

// With both tracers, a Pyroscope server that is down, failing or hanging
// changes nothing the latency tracer reports: every pad counts exactly
// num-buffers, the run keeps its 3 s, and the process exits in bounded time.
func TestBothTracersServerFaults(t *testing.T) {
	const n = 150
	for _, c := range pyroscopeFaults(t) {
		t.Run(c.name, func(t *testing.T) {
			env := gstEnv(t, bothTracers, "GST_PYROSCOPE_SERVER_URL="+c.url, "GST_PYROSCOPE_UPLOAD_INTERVAL=1")
			// 150 frames at 50 fps against the clock: 3 s.
			r := measure(t, env, fmt.Sprintf("videotestsrc num-buffers=%d ! video/x-raw,width=64,height=48,framerate=50/1 ! identity name=id ! fakesink name=sink sync=true", n),
				"--probe", "sink:sink")
			near(t, "run time", float64(r.RunNs)/1e9, 3.0, 0.05, 0)
			if late := r.AfterEOS; late > c.exit {
				t.Errorf("process exited %v after EOS (allowed %v)", late, c.exit)
			}
			if probe := len(r.Probes["sink:sink"]); probe != n {
				t.Fatalf("the app's probe saw %d buffers, want %d", probe, n)
			}
			for _, p := range [][2]string{{"videotestsrc0", "src"}, {"capsfilter0", "sink"}, {"id", "sink"}, {"id", "src"}, {"sink", "sink"}} {
				if got := counter(t, r, "gstreamer_pad_buffers_total", labels("element", p[0], "pad", p[1])); got != n {
					t.Errorf("%s:%s buffers = %v, want %d", p[0], p[1], got, n)
				}
			}
			if c, _ := histMean(t, r, "gstreamer_pipeline_latency_seconds", labels("source", "videotestsrc0", "sink", "sink")); c != n {
				t.Errorf("pipeline latency count = %d, want %d", c, n)
			}
			if c, _ := histMean(t, r, "gstreamer_element_processing_seconds", labels("element", "id")); c != n {
				t.Errorf("identity processing count = %d, want %d", c, n)
			}
		})
	}
}
