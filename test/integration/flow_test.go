package integration

import (
	"fmt"
	"testing"
)

// Flow health, drops and lateness: buffers an element received and did not
// pass on, and how late a syncing sink's buffers were. Ground truth: what
// the elements say themselves (a sink's stats property, a jitterbuffer's
// stats) and pad probes on both sides of the element that drops.

const (
	droppedFam  = "gstreamer_element_dropped_buffers_total"
	latenessFam = "gstreamer_sink_lateness_seconds"
)

// inOut is how many buffers passed elem's sink and src pads (probes).
func inOut(t *testing.T, r *result, elem string) (in, out int) {
	t.Helper()
	return len(r.Probes[elem+":sink"]), len(r.Probes[elem+":src"])
}

// The pipeline: a live source, an element that sleeps 45 ms per
// 33 ms frame, a sink that drops what is more than 5 ms late. The sink's
// own stats say how many it rendered and dropped; the tracer's counter
// equals its dropped count, and the lateness histogram has one observation
// per buffer rendered or dropped except the first (basesink sends no QoS
// event before it has a rate). Every dropped buffer was later than
// max-lateness plus its duration (38 ms): at least that many observations
// lie above 20 ms.
func TestDroppedLateSink(t *testing.T) {
	r := measure(t, gstEnv(t, tracerAll),
		"videotestsrc is-live=true num-buffers=100 ! identity sleep-time=45000 ! "+
			"fakesink name=s sync=true qos=true max-lateness=5000000",
		"--prop", "s:stats.dropped", "--prop", "s:stats.rendered")
	want, rendered := r.Props["s:stats.dropped"], r.Props["s:stats.rendered"]
	t.Logf("the sink's stats: rendered %v, dropped %v", rendered, want)
	if want < 50 || rendered+want != 100 {
		t.Fatalf("the sink rendered %v and dropped %v of 100: not the late sink this test is about", rendered, want)
	}
	s := labels("element", "s", "factory", "fakesink")
	if got := counter(t, r, droppedFam, s); got != want {
		t.Errorf("%s = %v, the sink's stats say %v", droppedFam, got, want)
	}
	h := mustFind(t, r, latenessFam, s).GetHistogram()
	if got := h.GetSampleCount(); float64(got) != rendered+want-1 {
		t.Errorf("%s has %d observations, want rendered + dropped - 1 = %v", latenessFam, got, rendered+want-1)
	}
	var upTo20ms uint64
	for _, b := range h.Bucket {
		if b.GetUpperBound() == 0.02 {
			upTo20ms = b.GetCumulativeCount()
		}
	}
	if above := h.GetSampleCount() - upTo20ms; float64(above) < want {
		t.Errorf("%d observations above 20 ms, fewer than the %v buffers dropped for being over 38 ms late", above, want)
	}
	if _, ok := r.Fams[droppedFam]; ok {
		for _, m := range r.Fams[droppedFam].Metric {
			for _, l := range m.Label {
				if l.GetName() == "element" && l.GetValue() != "s" {
					t.Errorf("%s has a series for %s, which drops nothing and cannot tell", droppedFam, l.GetValue())
				}
			}
		}
	}
}

// A sink with qos=false still drops late buffers but says nothing: no QoS
// message, no QoS event. Its drops are not exported (not as 0 either), nor
// is its lateness: only its stats property knows (docs/flow-health.md).
func TestDroppedSinkWithoutQoS(t *testing.T) {
	r := measure(t, gstEnv(t, tracerAll),
		"videotestsrc is-live=true num-buffers=30 ! identity sleep-time=45000 ! "+
			"fakesink name=s sync=true qos=false max-lateness=5000000",
		"--prop", "s:stats.dropped")
	if r.Props["s:stats.dropped"] == 0 {
		t.Fatalf("the sink dropped nothing: not the case this test is about")
	}
	s := labels("element", "s")
	if m := find(r.Fams, droppedFam, s); m != nil {
		t.Errorf("%s for a sink with qos=false: %v", droppedFam, m)
	}
	if m := find(r.Fams, latenessFam, s); m != nil {
		t.Errorf("%s for a sink with qos=false: %v", latenessFam, m)
	}
}

// A transform with QoS (videoconvert, a GstBaseTransform) skips frames that
// the sink's QoS events say would arrive too late, and posts a QoS message
// for each: its counter equals what entered it less what left it (probes),
// and the sink's its stats.
func TestDroppedQoSTransform(t *testing.T) {
	r := measure(t, gstEnv(t, tracerAll),
		"videotestsrc is-live=true num-buffers=100 ! video/x-raw,format=I420,width=320,height=240 ! "+
			"identity sleep-time=45000 ! videoconvert name=conv ! video/x-raw,format=RGB ! "+
			"fakesink name=s sync=true qos=true max-lateness=5000000",
		"--probe", "conv:sink", "--probe", "conv:src", "--prop", "s:stats.dropped")
	in, out := inOut(t, r, "conv")
	t.Logf("videoconvert: %d in, %d out; the sink dropped %v", in, out, r.Props["s:stats.dropped"])
	if in-out < 10 {
		t.Fatalf("videoconvert dropped %d of %d: not the case this test is about", in-out, in)
	}
	if got := counter(t, r, droppedFam, labels("element", "conv")); got != float64(in-out) {
		t.Errorf("%s{element=conv} = %v, the probes counted %d in and %d out", droppedFam, got, in, out)
	}
	if got, want := counter(t, r, droppedFam, labels("element", "s")), r.Props["s:stats.dropped"]; got != want {
		t.Errorf("%s{element=s} = %v, the sink's stats say %v", droppedFam, got, want)
	}
}

// A leaky queue in front of a slow element, both ways: leaky=downstream
// drops the oldest it holds, leaky=upstream what arrives while it is full
// (its last output is then not its last input). A non-live source with a
// buffer pool: dropped buffers come back at the same addresses. At EOS the
// counter equals what entered less what left, as probes on both sides
// count them. Behind a tee the buffers are shared, and the queue's DISCONT
// flag after a drop makes a copy at another address.
func TestDroppedLeakyQueue(t *testing.T) {
	for _, c := range []struct{ name, leaky, tee string }{
		{"downstream", "downstream", ""}, {"upstream", "upstream", ""},
		{"downstream behind tee", "downstream", "tee name=t t. ! queue ! fakesink t. ! "},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := measure(t, gstEnv(t, tracerAll),
				fmt.Sprintf("videotestsrc num-buffers=300 ! video/x-raw,width=64,height=48 ! %s"+
					"queue name=q leaky=%s max-size-buffers=3 ! identity sleep-time=2000 ! fakesink", c.tee, c.leaky),
				"--probe", "q:sink", "--probe", "q:src")
			in, out := inOut(t, r, "q")
			t.Logf("queue: %d in, %d out", in, out)
			if in != 300 || in-out < 100 {
				t.Fatalf("the queue let %d of %d through: not the leaky queue this test is about", out, in)
			}
			if got := counter(t, r, droppedFam, labels("element", "q", "factory", "queue")); got != float64(in-out) {
				t.Errorf("%s = %v, want %d in - %d out = %d", droppedFam, got, in, out, in-out)
			}
		})
	}
}

// A queue that does not leak drops nothing: its counter is there, at 0.
func TestDroppedQueueNotLeaky(t *testing.T) {
	r := measure(t, gstEnv(t, tracerAll),
		"videotestsrc num-buffers=100 ! video/x-raw,width=64,height=48 ! queue name=q max-size-buffers=3 ! "+
			"identity sleep-time=1000 ! fakesink",
		"--probe", "q:sink", "--probe", "q:src")
	if in, out := inOut(t, r, "q"); in != out || in != 100 {
		t.Fatalf("the queue let %d of %d through", out, in)
	}
	if got := counter(t, r, droppedFam, labels("element", "q")); got != 0 {
		t.Errorf("%s = %v for a queue that does not leak", droppedFam, got)
	}
}

// A live RTP receiver whose network delays one packet in ten by 60-100 ms
// (netsim), beyond its jitterbuffer's 20 ms: the jitterbuffer has declared
// them lost and pushed on when they arrive, and drops them as too late.
// With post-drop-messages and an interval of 0 it says so for each; the
// counter equals its own stats' num-late, and what entered it less what
// left it (it holds nothing at EOS and pushes no duplicates).
func TestDroppedJitterbuffer(t *testing.T) {
	r := measure(t, gstEnv(t, tracerAll),
		"videotestsrc is-live=true num-buffers=150 ! video/x-raw,width=64,height=48,framerate=50/1 ! rtpvrawpay ! "+
			"netsim delay-probability=0.1 min-delay=60 max-delay=100 ! "+
			"rtpjitterbuffer name=jb latency=20 post-drop-messages=true drop-messages-interval=0 ! "+
			"rtpvrawdepay ! fakesink",
		"--probe", "jb:sink", "--probe", "jb:src", "--prop", "jb:stats.num-late", "--prop", "jb:stats.num-duplicates")
	late := r.Props["jb:stats.num-late"]
	in, out := inOut(t, r, "jb")
	t.Logf("jitterbuffer: num-late %v, %d in, %d out", late, in, out)
	if late < 10 {
		t.Fatalf("the jitterbuffer dropped %v late packets: not the case this test is about", late)
	}
	got := counter(t, r, droppedFam, labels("element", "jb", "factory", "rtpjitterbuffer"))
	if got != late {
		t.Errorf("%s = %v, the jitterbuffer's stats say num-late %v", droppedFam, got, late)
	}
	if r.Props["jb:stats.num-duplicates"] == 0 && got != float64(in-out) {
		t.Errorf("%s = %v, the probes counted %d in and %d out", droppedFam, got, in, out)
	}
}
