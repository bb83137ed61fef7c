package integration

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const tracerAll = "prometheus-latency-tracer(flags=pipeline+element+reported)"

// Every pad of a simple pipeline sees exactly num-buffers buffers.
func TestCountsEqualNumBuffers(t *testing.T) {
	const n = 1234
	r := measure(t, gstEnv(t, tracerAll),
		fmt.Sprintf("fakesrc num-buffers=%d sizetype=fixed sizemax=100 filltype=zero ! identity ! fakesink", n))
	for _, pad := range [][2]string{{"fakesrc0", "src"}, {"identity0", "sink"}, {"identity0", "src"}, {"fakesink0", "sink"}} {
		l := labels("pipeline", "pipeline0", "element", pad[0], "pad", pad[1])
		if got := counter(t, r, "gstreamer_pad_buffers_total", l); got != n {
			t.Errorf("%s:%s buffers = %v, want %d", pad[0], pad[1], got, n)
		}
		if got := counter(t, r, "gstreamer_pad_bytes_total", l); got != n*100 {
			t.Errorf("%s:%s bytes = %v, want %d", pad[0], pad[1], got, n*100)
		}
	}
	if c, _ := histMean(t, r, "gstreamer_element_processing_seconds", labels("element", "identity0", "factory", "identity")); c != n {
		t.Errorf("identity processing count = %d, want %d", c, n)
	}
	if c, _ := histMean(t, r, "gstreamer_pipeline_latency_seconds", labels("source", "fakesrc0", "sink", "fakesink0")); c != n {
		t.Errorf("pipeline latency count = %d, want %d", c, n)
	}
}

// identity sleep-time=2000 holds each buffer 2 ms: processing and latency
// match what probes on identity's own pads measure.
func TestIdentitySleepTime(t *testing.T) {
	const n = 50
	r := measure(t, gstEnv(t, tracerAll),
		fmt.Sprintf("audiotestsrc num-buffers=%d ! identity name=id sleep-time=2000 ! fakesink", n),
		"--probe", "id:sink", "--probe", "id:src")
	_, truth := residence(t, r, "id:sink", "id:src")
	if truth < 0.002 {
		t.Fatalf("ground truth %.6fs is below the 2 ms sleep: probes are wrong", truth)
	}
	el := labels("element", "id", "factory", "identity")
	c, lat := histMean(t, r, "gstreamer_element_latency_seconds", el)
	if c != n {
		t.Errorf("latency count = %d, want %d", c, n)
	}
	near(t, "identity latency", lat, truth, 0.10, 0.0003)
	c, proc := histMean(t, r, "gstreamer_element_processing_seconds", el)
	if c != n {
		t.Errorf("processing count = %d, want %d", c, n)
	}
	near(t, "identity processing", proc, truth, 0.10, 0.0003)
	if last := gaugeValue(t, r, "gstreamer_element_latency_last_seconds", el); last < 0.002 || last > 0.010 {
		t.Errorf("last latency = %vs, want about 2 ms", last)
	}
}

// A queue that holds buffers (a live 100 fps source into a queue that waits
// for 3 buffers) shows their real residence time, and the pipeline latency
// is the sum of the element latencies along the path.
func TestQueueResidence(t *testing.T) {
	r := measure(t, gstEnv(t, tracerAll),
		"videotestsrc name=src is-live=true num-buffers=100 ! video/x-raw,width=64,height=48,framerate=100/1 ! "+
			"queue name=q min-threshold-buffers=3 ! fakesink name=sink sync=false",
		"--probe", "q:sink", "--probe", "q:src", "--probe", "src:src", "--probe", "sink:sink")
	_, truth := residence(t, r, "q:sink", "q:src")
	if truth < 0.015 {
		t.Fatalf("ground truth residence %.6fs: the queue did not hold buffers", truth)
	}
	_, qlat := histMean(t, r, "gstreamer_element_latency_seconds", labels("element", "q"))
	near(t, "queue latency", qlat, truth, 0.10, 0.001)

	_, pathTruth := residence(t, r, "src:src", "sink:sink")
	_, path := histMean(t, r, "gstreamer_pipeline_latency_seconds", labels("source", "src", "sink", "sink"))
	near(t, "pipeline latency", path, pathTruth, 0.10, 0.001)

	_, caps := histMean(t, r, "gstreamer_element_latency_seconds", labels("element", "capsfilter0"))
	near(t, "pipeline latency vs sum of element latencies", path, caps+qlat, 0.10, 0.001)
}

// tee fans out: each branch counts every buffer and has its own path.
func TestTeeBranches(t *testing.T) {
	const n = 200
	r := measure(t, gstEnv(t, tracerAll),
		fmt.Sprintf("audiotestsrc num-buffers=%d ! tee name=t t. ! queue ! fakesink name=a t. ! queue ! fakesink name=b", n))
	for _, sink := range []string{"a", "b"} {
		if got := counter(t, r, "gstreamer_pad_buffers_total", labels("element", sink, "pad", "sink")); got != n {
			t.Errorf("sink %s buffers = %v, want %d", sink, got, n)
		}
		if c, _ := histMean(t, r, "gstreamer_pipeline_latency_seconds", labels("source", "audiotestsrc0", "sink", sink)); c != n {
			t.Errorf("path to %s count = %d, want %d", sink, c, n)
		}
	}
	for _, pad := range []string{"src_0", "src_1"} {
		if got := counter(t, r, "gstreamer_pad_buffers_total", labels("element", "t", "pad", pad)); got != n {
			t.Errorf("tee %s buffers = %v, want %d", pad, got, n)
		}
	}
	if c, _ := histMean(t, r, "gstreamer_element_latency_seconds", labels("element", "t")); c != 2*n {
		t.Errorf("tee latency count = %d, want one per output buffer (%d)", c, 2*n)
	}
}

// Children with the same name in two bins stay apart (element path), and
// the ghost pads in between are transparent.
func TestBinsWithSameNamedChildren(t *testing.T) {
	const n = 300
	r := measure(t, gstEnv(t, tracerAll),
		fmt.Sprintf("fakesrc num-buffers=%d ! bin.( name=b1 identity name=x ) ! bin.( name=b2 identity name=x sleep-time=1000 ) ! fakesink", n))
	for _, path := range []string{"b1/x", "b2/x"} {
		if got := counter(t, r, "gstreamer_pad_buffers_total", labels("element", path, "pad", "src")); got != n {
			t.Errorf("%s buffers = %v, want %d", path, got, n)
		}
	}
	_, fast := histMean(t, r, "gstreamer_element_processing_seconds", labels("element", "b1/x"))
	_, slow := histMean(t, r, "gstreamer_element_processing_seconds", labels("element", "b2/x"))
	if !(slow > 0.001 && fast < slow/5) {
		t.Errorf("b1/x processing %.6fs, b2/x %.6fs: want b2/x >= 1 ms and b1/x much less", fast, slow)
	}
	if find(r.Fams, "gstreamer_pad_buffers_total", labels("element", "b1")) != nil {
		t.Errorf("bins themselves should have no pad series:\n%s", r.Metrics)
	}
}

// Pull mode: wavparse pulls from filesrc.
func TestPullMode(t *testing.T) {
	wav := filepath.Join(t.TempDir(), "tone.wav")
	runPipeline(t, nil, "-q audiotestsrc num-buffers=50 ! wavenc ! filesink location="+wav)
	r := measure(t, gstEnv(t, tracerAll),
		"filesrc location="+wav+" ! wavparse name=parse ! fakesink name=sink",
		"--probe", "sink:sink")
	pulled := counter(t, r, "gstreamer_pad_buffers_total", labels("element", "filesrc0", "pad", "src"))
	got := counter(t, r, "gstreamer_pad_buffers_total", labels("element", "parse", "pad", "sink"))
	if pulled == 0 || pulled != got {
		t.Errorf("filesrc src pulled %v buffers, wavparse sink got %v: want equal and > 0", pulled, got)
	}
	st, err := os.Stat(wav)
	if err != nil {
		t.Fatal(err)
	}
	if b := counter(t, r, "gstreamer_pad_bytes_total", labels("element", "filesrc0", "pad", "src")); b < float64(st.Size())*0.9 || b > float64(st.Size())*1.1 {
		t.Errorf("pulled %v bytes of a %d byte file", b, st.Size())
	}
	if c, _ := histMean(t, r, "gstreamer_element_processing_seconds", labels("element", "filesrc0")); c != uint64(pulled) {
		t.Errorf("filesrc getrange processing count = %d, want %v", c, pulled)
	}
	arrived := float64(len(r.Probes["sink:sink"]))
	if got := counter(t, r, "gstreamer_pad_buffers_total", labels("element", "sink", "pad", "sink")); got != arrived {
		t.Errorf("sink buffers = %v, probe saw %v", got, arrived)
	}
	if c, _ := histMean(t, r, "gstreamer_pipeline_latency_seconds", labels("source", "filesrc0", "sink", "sink")); float64(c) != arrived {
		t.Errorf("pull-mode path count = %d, want %v", c, arrived)
	}
}

// Two pipelines in one process with the same element names stay apart.
func TestTwoPipelinesInOneProcess(t *testing.T) {
	r := measure(t, gstEnv(t, tracerAll),
		"--name", "first", "fakesrc name=src num-buffers=100 ! identity name=id ! fakesink name=sink",
		"--name", "second", "fakesrc name=src num-buffers=250 ! identity name=id ! fakesink name=sink")
	for p, n := range map[string]float64{"first": 100, "second": 250} {
		if got := counter(t, r, "gstreamer_pad_buffers_total", labels("pipeline", p, "element", "id", "pad", "src")); got != n {
			t.Errorf("%s id:src buffers = %v, want %v", p, got, n)
		}
		if c, _ := histMean(t, r, "gstreamer_pipeline_latency_seconds", labels("pipeline", p)); float64(c) != n {
			t.Errorf("%s pipeline latency count = %d, want %v", p, c, n)
		}
	}
}

// A live source with a known latency: its share is its answer; the queue
// after it adds nothing to the minimum (its answer is the source's) and
// both maxima are unbounded, so neither has a series.
func TestReportedLatency(t *testing.T) {
	r := measure(t, gstEnv(t, tracerAll),
		"audiotestsrc name=src is-live=true samplesperbuffer=441 num-buffers=30 ! queue name=q ! fakesink name=sink",
		"--query", "src:src", "--query", "q:src")
	_, srcMin, srcMax := answer(t, r, "src:src")
	_, qMin, qMax := answer(t, r, "q:src")
	if srcMin < 0.009 || srcMin > 0.011 {
		t.Fatalf("audiotestsrc answers min %vs, expected 10 ms for 441 samples at 44.1 kHz", srcMin)
	}
	if qMin != srcMin || !math.IsInf(srcMax, 1) || !math.IsInf(qMax, 1) {
		t.Fatalf("ground truth: answers src %v/%v, queue %v/%v: want the queue to add nothing to the minimum and both maxima unbounded",
			srcMin, srcMax, qMin, qMax)
	}
	near(t, "audiotestsrc reported min", gaugeValue(t, r, reportedMin, labels("element", "src")), srcMin, 0, 1e-9)
	if m := find(r.Fams, reportedMin, labels("element", "q")); m != nil {
		t.Errorf("queue reported min %v: it adds nothing, want no series", m.GetGauge().GetValue())
	}
	if s := shares(r, reportedMax, "pipeline0"); len(s) > 0 {
		t.Errorf("reported max %v: every maximum is unbounded, want no series", s)
	}
	noNoise(t, r, "pipeline0")
}

// Flags switch measurements: an unknown flag is a warning naming the valid
// ones, and the valid flag still applies.
func TestUnknownFlag(t *testing.T) {
	r := measure(t, gstEnv(t, "prometheus-latency-tracer(flags=pipeline+bogus)"),
		"fakesrc num-buffers=10 ! identity ! fakesink")
	if !strings.Contains(r.Stderr, `unknown flag "bogus"`) || !strings.Contains(r.Stderr, "valid flags are pipeline, element, reported") {
		t.Errorf("no warning about the unknown flag in the log:\n%s", tail(r.Stderr))
	}
	if c, _ := histMean(t, r, "gstreamer_pipeline_latency_seconds", labels("sink", "fakesink0")); c != 10 {
		t.Errorf("pipeline latency count = %d, want 10", c)
	}
	for _, fam := range []string{"gstreamer_element_processing_seconds", "gstreamer_element_latency_seconds", "gstreamer_element_reported_latency_min_seconds"} {
		if r.Fams[fam] != nil {
			t.Errorf("%s present although its flag is off", fam)
		}
	}
}

// An aggregator: audiomixer mixes two sources into new 10 ms buffers on its
// own thread. Inputs are counted per sink pad, and its outputs are matched
// to the input buffer whose PTS span contains theirs.
func TestAggregator(t *testing.T) {
	const n = 40
	r := measure(t, gstEnv(t, tracerAll),
		fmt.Sprintf("audiotestsrc name=a num-buffers=%d ! audiomixer name=m ! fakesink name=sink "+
			"audiotestsrc name=b num-buffers=%d ! m.", n, n),
		"--probe", "sink:sink")
	for _, pad := range []string{"sink_0", "sink_1"} {
		if got := counter(t, r, "gstreamer_pad_buffers_total", labels("element", "m", "pad", pad)); got != n {
			t.Errorf("m:%s buffers = %v, want %d", pad, got, n)
		}
	}
	out := counter(t, r, "gstreamer_pad_buffers_total", labels("element", "m", "pad", "src"))
	if arrived := float64(len(r.Probes["sink:sink"])); out != arrived {
		t.Errorf("m:src buffers = %v, probe at the sink saw %v", out, arrived)
	}
	c, lat := histMean(t, r, "gstreamer_element_latency_seconds", labels("element", "m"))
	if float64(c) < out*0.9 || lat <= 0 || lat > 1 {
		t.Errorf("audiomixer latency: %d observations (of %v outputs), mean %vs", c, out, lat)
	}
}
