package integration

import "testing"

// Buffer lists (payloaders push them) are counted at the chain they reach,
// for the src pad that pushed them and the sink pad that took them: there
// is no push-list hook (hooks.c, list_pushed), so a list pushed through a
// bin's ghost pad must still count on the payloader's own src pad, each of
// its buffers once, and reach the sink with its source-to-sink latency.
func TestBufferListsThroughGhostPads(t *testing.T) {
	r := measure(t, gstEnv(t, tracerAll),
		"videotestsrc is-live=true num-buffers=30 ! video/x-raw,width=320,height=240 ! x264enc tune=zerolatency "+
			"! bin.( rtph264pay name=pay mtu=400 ) ! fakesink name=sink",
		"--probe", "pay:src", "--probe", "sink:sink")
	pushed, arrived := len(r.Probes["pay:src"]), len(r.Probes["sink:sink"])
	if pushed <= 30 {
		t.Fatalf("the payloader pushed %d buffers for 30 frames: no lists, the test proves nothing", pushed)
	}
	if c := counter(t, r, "gstreamer_pad_buffers_total", labels("element", "bin0/pay", "pad", "src")); int(c) != pushed {
		t.Errorf("the payloader's src pad counted %v buffers; its probe saw %d", c, pushed)
	}
	if c := counter(t, r, "gstreamer_pad_buffers_total", labels("element", "sink", "pad", "sink")); int(c) != arrived {
		t.Errorf("the sink's pad counted %v buffers; its probe saw %d", c, arrived)
	}
	if n, _ := histMean(t, r, "gstreamer_pipeline_latency_seconds", labels("sink", "sink")); int(n) != arrived {
		t.Errorf("%d source-to-sink observations for %d buffers at the sink", n, arrived)
	}
}
