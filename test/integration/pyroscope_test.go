package integration

import (
	"math"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Two scopeburn elements spend 1.1 ms and 3.3 ms of thread CPU per buffer
// on one streaming thread. The profile read back from Pyroscope must give
// them 25% and 75% of the element CPU, and all element frames together
// must account for the process's CPU time over the run.
//
// The per-thread CPU timers fire on kernel ticks (4 ms at CONFIG_HZ=250):
// 1000 Hz asks for a sample at every tick, ~1000 over the 4 s of CPU, and
// the 4.4 ms cycle drifts across the tick so that every phase is sampled.
// (A cycle of exactly 1 + 3 ms would be caught at the same phase at every
// tick; see "What the profile cannot see" in docs/how-it-measures.md.)
func TestProfileElementShares(t *testing.T) {
	base := pyroscopeURL(t)
	name := uniqueName("shares")
	env := gstEnv(t, "pyroscope(flags=element)",
		"GST_PYROSCOPE_SERVER_URL="+base,
		"GST_PYROSCOPE_TRACER_NAME="+name,
		"GST_PYROSCOPE_SAMPLE_RATE=1000",
		"GST_PYROSCOPE_UPLOAD_INTERVAL=1",
		"GST_PYROSCOPE_TAGS=suite=integration,test=shares")
	r := measure(t, env,
		"--name", "burners", "fakesrc num-buffers=900 ! scopeburn name=b1 cpu-us=1100 ! scopeburn name=b3 cpu-us=3300 ! fakesink",
		"--name", "second", "fakesrc num-buffers=100 ! scopeburn name=c cpu-us=2000 ! fakesink",
		"--prop", "b1:burnt-ns", "--prop", "b3:burnt-ns", "--prop", "c:burnt-ns")

	// The ground truth: the burners did what they were told.
	b1, b3 := r.Props["b1:burnt-ns"], r.Props["b3:burnt-ns"]
	if s := b1 / (b1 + b3); math.Abs(s-0.25) > 0.01 {
		t.Fatalf("scopeburn itself is off: b1 burnt %.0f ns, b3 %.0f ns", b1, b3)
	}

	// The whole process's CPU ingested (asserted below), not only a stable
	// profile.
	f := waitFlameFor(t, base, `{service_name="`+name+`"}`, func(f flame) bool {
		return float64(f.Total)/1e9 >= atLeast(float64(r.CPUAll)/1e9, 0.10, 0)
	})
	t.Logf("profile: total %.3fs, roots %v", float64(f.Total)/1e9, f.Roots)
	elements := float64(f.Roots["burners"] + f.Roots["second"])
	for _, c := range []struct {
		frame string
		want  float64
	}{{"b1", 0.25}, {"b3", 0.75}} {
		got := float64(f.Self[c.frame]) / float64(f.Roots["burners"])
		if math.Abs(got-c.want) > 0.03 {
			t.Errorf("%s has %.1f%% of the pipeline's element CPU, want %.0f%% ± 3 points", c.frame, got*100, c.want*100)
		} else {
			t.Logf("%s has %.1f%% of the element CPU (want %.0f%%)", c.frame, got*100, c.want*100)
		}
	}
	near(t, "element frames vs process CPU over the run", elements/1e9, float64(r.CPUNs)/1e9, 0.10, 0)
	// With the thread frames, the profile is the whole process (less what
	// Python used before the tracer started).
	near(t, "the profile vs the process's CPU", float64(f.Total)/1e9, float64(r.CPUAll)/1e9, 0.10, 0)
	near(t, "pipeline second's frames vs its burner", float64(f.Roots["second"])/1e9, r.Props["c:burnt-ns"]/1e9, 0.25, 0.05)

	// (The sinks' microseconds per buffer are rarely sampled: not required.)
	for _, want := range []string{"burners", "second", "fakesrc0", "b1", "b3", "fakesrc1", "c"} {
		if _, ok := f.Self[want]; !ok {
			t.Errorf("no frame %q in the profile: %v", want, f.names())
		}
	}
	if !slices.ContainsFunc(f.names(), func(n string) bool { return strings.HasPrefix(n, "thread:") }) {
		t.Errorf("no thread: frame for CPU outside elements: %v", f.names())
	}
	// Tags and the pipeline are labels the query API can select on.
	if g := render(t, base, `{service_name="`+name+`",test="shares",suite="integration"}`); g.Total != f.Total {
		t.Errorf("selecting the tags gives %d ns, the service %d ns", g.Total, f.Total)
	}
	if g := render(t, base, `{service_name="`+name+`",pipeline="second"}`); g.Total != f.Roots["second"] {
		t.Errorf("pipeline=\"second\" selects %d ns, its frame has %d ns", g.Total, f.Roots["second"])
	}
}

// A thread that works in bursts and waits in between (a queue's thread in a
// live pipeline): its CPU belongs to the element doing the work, not to the
// queue where the thread waits most of the time. At the default 100 Hz.
func TestProfileBurstyThread(t *testing.T) {
	base := pyroscopeURL(t)
	name := uniqueName("bursty")
	env := gstEnv(t, "pyroscope", "GST_PYROSCOPE_SERVER_URL="+base, "GST_PYROSCOPE_TRACER_NAME="+name)
	// 2 ms of CPU every 10 ms frame, 3 s.
	r := measure(t, env, "videotestsrc is-live=true num-buffers=300 ! video/x-raw,width=64,height=48,framerate=100/1 ! queue ! scopeburn name=b cpu-us=2000 ! fakesink sync=false",
		"--prop", "b:burnt-ns")
	burnt := r.Props["b:burnt-ns"] / 1e9
	f := waitFlameFor(t, base, `{service_name="`+name+`"}`, func(f flame) bool { return float64(f.Self["b"])/1e9 >= atLeast(burnt, 0.15, 0) })
	near(t, "burner's CPU in the profile", float64(f.Self["b"])/1e9, burnt, 0.15, 0)
	if q := float64(f.Self["queue0"]) / 1e9; q > 0.1*burnt {
		t.Errorf("queue0, where the thread waits, is charged %.3fs (the burner used %.3fs)", q, burnt)
	}
}

// The last partial period reaches the server when the tracer is disposed
// (gst_deinit) and, for applications that never call gst_deinit, at exit:
// the upload interval (10 s by default) is longer than these runs, so
// everything in the profile came from that final flush.
func TestProfileFlushedAtEnd(t *testing.T) {
	base := pyroscopeURL(t)
	const pipeline = "fakesrc num-buffers=100 ! scopeburn name=b cpu-us=5000 ! fakesink"
	for _, c := range []struct {
		name string
		env  []string
		// cpu: what the run burnt; late: from EOS to the process's exit
		run func(t *testing.T, env []string) (cpu float64, late time.Duration)
	}{
		{"gst-launch, dispose", nil, func(t *testing.T, env []string) (float64, time.Duration) {
			p := startPipeline(t, env, pipeline)
			if code := p.wait(2 * time.Minute); code != 0 {
				t.Fatalf("gst-launch-1.0: exit code %d\n%s", code, tail(p.String()))
			}
			return 0.5, p.exitedAfter("Execution ended after")
		}},
		{"no gst_deinit, exit", nil, func(t *testing.T, env []string) (float64, time.Duration) {
			r := measure(t, env, pipeline)
			return float64(r.CPUNs) / 1e9, r.AfterEOS
		}},
		{"gst_deinit without stopping, exit", []string{"GST_PYROSCOPE_STOP_AGENT_ON_DISPOSE=false"},
			func(t *testing.T, env []string) (float64, time.Duration) {
				r := measure(t, env, pipeline, "--deinit")
				return float64(r.CPUNs) / 1e9, r.AfterEOS
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			name := uniqueName("flush")
			env := gstEnv(t, "pyroscope(flags=element)", append(c.env,
				"GST_PYROSCOPE_SERVER_URL="+base, "GST_PYROSCOPE_TRACER_NAME="+name)...)
			cpu, late := c.run(t, env)
			if late <= 0 || late > 2*time.Second {
				t.Errorf("the process exited %v after EOS: stopping is slow", late)
			}
			var elements int64
			waitFlameFor(t, base, `{service_name="`+name+`"}`, func(f flame) bool {
				elements = 0
				for root, ns := range f.Roots {
					if !strings.HasPrefix(root, "thread:") {
						elements += ns
					}
				}
				return float64(elements)/1e9 >= atLeast(cpu, 0.10, 0.02)
			})
			// 100 Hz over 0.5 s: the sum is exact (CPU clocks), only the
			// attribution is sampled, and this thread is always in an element.
			near(t, "element frames vs CPU over the run", float64(elements)/1e9, cpu, 0.10, 0.02)
		})
	}
}

// A server that is down, failing or hanging: the pipeline runs on time,
// the process exits at most ~2 s late, and the log has one warning for the
// outage, not one per upload (three uploads fail here).
func TestProfileServerFaults(t *testing.T) {
	for _, c := range pyroscopeFaults(t) {
		t.Run(c.name, func(t *testing.T) {
			env := gstEnv(t, "pyroscope", "GST_PYROSCOPE_SERVER_URL="+c.url, "GST_PYROSCOPE_UPLOAD_INTERVAL=1")
			// 150 frames at 50 fps against the clock: 3 s.
			r := measure(t, env, "videotestsrc num-buffers=150 ! video/x-raw,width=64,height=48,framerate=50/1 ! fakesink sync=true")
			near(t, "run time", float64(r.RunNs)/1e9, 3.0, 0.05, 0)
			if late := r.AfterEOS; late > c.exit {
				t.Errorf("process exited %v after EOS (allowed %v)", late, c.exit)
			}
			if n := countLines(r.Stderr, "cannot upload profiles"); n != 1 {
				t.Errorf("%d upload warnings, want 1 for the outage:\n%s", n, tail(r.Stderr))
			}
		})
	}
}

// Uploads resume when the server comes back: one warning when the outage
// starts, one note when it ends, and the later profiles arrive.
func TestProfileUploadsResume(t *testing.T) {
	base := pyroscopeURL(t)
	target, _ := url.Parse(base)
	proxy := httputil.NewSingleHostReverseProxy(target)
	// Down for the first two uploads, up from the third: counted, not
	// timed from the test's start (the process's startup took 1.3 s of a
	// 2.5 s outage on a loaded machine, and no upload saw it).
	var refused atomic.Int32
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if refused.Add(1) <= 2 {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(flaky.Close)

	name := uniqueName("resume")
	env := gstEnv(t, "pyroscope", "GST_PYROSCOPE_SERVER_URL="+flaky.URL,
		"GST_PYROSCOPE_TRACER_NAME="+name, "GST_PYROSCOPE_UPLOAD_INTERVAL=1")
	r := measure(t, env, "videotestsrc num-buffers=250 ! video/x-raw,width=320,height=240,framerate=50/1 ! videoconvert ! fakesink sync=true")
	if n := countLines(r.Stderr, "cannot upload profiles"); n != 1 {
		t.Errorf("%d outage warnings, want 1:\n%s", n, tail(r.Stderr))
	}
	if n := countLines(r.Stderr, "uploading profiles to "+flaky.URL+" again"); n != 1 {
		t.Errorf("%d notes that uploads resumed, want 1:\n%s", n, tail(r.Stderr))
	}
	f := waitFlameFor(t, base, `{service_name="`+name+`"}`, func(f flame) bool { return f.Self["videotestsrc0"] > 0 })
	if f.Self["videotestsrc0"] == 0 {
		t.Errorf("no videotestsrc0 CPU after the server came back: %v", f.names())
	}
}

// With both tracers, the sampler's attribution is also a Prometheus
// counter per element; without the pyroscope tracer there is none.
func TestElementCPUMetric(t *testing.T) {
	base := pyroscopeURL(t)
	const pipeline = "fakesrc num-buffers=900 ! scopeburn name=b1 cpu-us=1100 ! scopeburn name=b3 cpu-us=3300 ! fakesink"
	env := gstEnv(t, "prometheus-latency-tracer;pyroscope",
		"GST_PYROSCOPE_SERVER_URL="+base, "GST_PYROSCOPE_TRACER_NAME="+uniqueName("metric"),
		"GST_PYROSCOPE_SAMPLE_RATE=1000")
	r := measure(t, env, pipeline, "--prop", "b1:burnt-ns", "--prop", "b3:burnt-ns")
	cpu := func(e string) float64 {
		return counter(t, r, "gstreamer_element_cpu_seconds_total", labels("element", e))
	}
	b1, b3 := cpu("b1"), cpu("b3")
	if s := b3 / (b1 + b3); math.Abs(s-0.75) > 0.03 {
		t.Errorf("b3 has %.1f%% of the burners' CPU, want 75%% ± 3 points (b1 %.3fs, b3 %.3fs)", s*100, b1, b3)
	}
	truth := (r.Props["b1:burnt-ns"] + r.Props["b3:burnt-ns"]) / 1e9
	near(t, "b1+b3 CPU", b1+b3, truth, 0.10, 0)
	cpu("fakesrc0") // sources get a CPU series even though they have no processing one

	r = measure(t, gstEnv(t, "prometheus-latency-tracer"), pipeline)
	if _, ok := r.Fams["gstreamer_element_cpu_seconds_total"]; ok {
		t.Errorf("gstreamer_element_cpu_seconds_total without the pyroscope tracer")
	}
}

// Bad settings are warnings that name the value and what is used instead;
// the tracer profiles with the rest.
func TestProfileBadSettings(t *testing.T) {
	base := pyroscopeURL(t)
	name := uniqueName("bad")
	env := gstEnv(t, "pyroscope(flags=element+bogus,upload-interval=soon)",
		"GST_PYROSCOPE_SERVER_URL="+base, "GST_PYROSCOPE_TRACER_NAME="+name,
		"GST_PYROSCOPE_SAMPLE_RATE=-5", "GST_PYROSCOPE_TAGS=novalue,ok=1,__x=2",
		"GST_PYROSCOPE_STOP_AGENT_ON_DISPOSE=maybe")
	r := measure(t, env, "fakesrc num-buffers=50 ! scopeburn cpu-us=2000 ! fakesink")
	for _, want := range []string{
		`unknown flag "bogus"`,
		`upload-interval="soon" is not a duration`,
		`GST_PYROSCOPE_SAMPLE_RATE="-5" is not a positive number of samples per second; using 100`,
		`tag "novalue" has no '='`,
		`tag key "__x" is not a label name`,
		`GST_PYROSCOPE_STOP_AGENT_ON_DISPOSE="maybe" is not a boolean (true or false); using true`,
	} {
		if countLines(r.Stderr, want) != 1 {
			t.Errorf("no warning %q in the log:\n%s", want, tail(r.Stderr))
		}
	}
	if f := waitFlameFor(t, base, `{service_name="`+name+`",ok="1"}`, func(f flame) bool { return f.Self["scopeburn0"] > 0 }); f.Self["scopeburn0"] == 0 {
		t.Errorf("no scopeburn0 CPU in the profile tagged ok=1: %v", f.names())
	}
}
