package integration

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

// Reported latency is each element's own share of the LATENCY query
// answer, as GStreamer's latency tracer means it: the answer is cumulative
// (each element adds what it holds to upstream's answer), so a share is an
// element's answer minus upstream's. Ground truth: the answers the test app
// gets from LATENCY queries of its own, and the elements' own properties.

const (
	reportedMin = "gstreamer_element_reported_latency_min_seconds"
	reportedMax = "gstreamer_element_reported_latency_max_seconds"
)

// shares is every reported share of family name in pipeline, by element.
func shares(r *result, name, pipeline string) map[string]float64 {
	out := map[string]float64{}
	if f := r.Fams[name]; f != nil {
		for _, m := range f.Metric {
			l := map[string]string{}
			for _, p := range m.Label {
				l[p.GetName()] = p.GetValue()
			}
			if l["pipeline"] == pipeline {
				out[l["element"]] = m.GetGauge().GetValue()
			}
		}
	}
	return out
}

// answer is the app's LATENCY query answer at spec (ELEM:PAD, or ELEM for
// the element query a bin sends its sinks), in seconds; max is +Inf when
// unbounded.
func answer(t *testing.T, r *result, spec string) (live bool, min, max float64) {
	t.Helper()
	q := r.Queries[spec]
	if q == nil {
		t.Fatalf("the LATENCY query at %s failed: %v", spec, r.Queries)
	}
	max = q["max"].(float64) / 1e9
	if q["max"].(float64) >= 1.8e19 {
		max = math.Inf(1)
	}
	return q["live"].(bool), q["min"].(float64) / 1e9, max
}

// noNoise fails on a share that is negative, zero or infinite: an element
// that adds nothing, or whose maximum is unbounded, has no series.
func noNoise(t *testing.T, r *result, pipeline string) {
	t.Helper()
	for _, fam := range []string{reportedMin, reportedMax} {
		for el, v := range shares(r, fam, pipeline) {
			if !(v > 0) || math.IsInf(v, 0) {
				t.Errorf("%s{element=%q} = %v: a share is shown only where it is > 0 and bounded", fam, el, v)
			}
		}
	}
}

// An RTP receiver through rtpbin: the answer is the same 0.15 s at every
// src pad after the jitterbuffer (rtpptdemux, the depayloader, the decoder),
// so only the jitterbuffer has a share, equal to rtpbin's latency property,
// and the sink (synchronising, so live) adds its processing deadline. The
// shares along the path add up to the answer the sink gives its bin.
func TestReportedLatencyRTPReceiver(t *testing.T) {
	port := freePort(t)
	r := measure(t, gstEnv(t, tracerAll),
		"--name", "tx", rtpSender(60, port),
		"--name", "rx", fmt.Sprintf("rtpbin name=rtpbin latency=150 udpsrc name=usrc port=%d address=127.0.0.1 "+
			"caps=application/x-rtp,media=video,encoding-name=H264,clock-rate=90000,payload=96 ! rtpbin.recv_rtp_sink_0 "+
			"rtpbin. ! rtph264depay name=depay ! avdec_h264 name=dec ! fakesink name=sink sync=true", port),
		"--eos-others", "--query", "usrc:src", "--query", "depay:src", "--query", "dec:src", "--query", "sink",
		"--prop", "rtpbin:latency", "--prop", "sink:processing-deadline")
	jb := r.Props["rtpbin:latency"] / 1e3
	deadline := r.Props["sink:processing-deadline"] / 1e9
	live, sinkMin, _ := answer(t, r, "sink")
	_, srcMin, _ := answer(t, r, "usrc:src")
	_, depayMin, _ := answer(t, r, "depay:src")
	_, decMin, _ := answer(t, r, "dec:src")
	if !live || jb != 0.15 || math.Abs(depayMin-srcMin-jb) > 1e-9 || decMin != depayMin {
		t.Fatalf("ground truth: sink live %v (want true), rtpbin latency %vs (want 0.15), answers udpsrc %vs, depay %vs, decoder %vs "+
			"(want the jitterbuffer's latency added once, after udpsrc)", live, jb, srcMin, depayMin, decMin)
	}
	mins := shares(r, reportedMin, "rx")
	t.Logf("rx shares of the minimum: %v; sink answers %vs", mins, sinkMin)
	near(t, "rtpjitterbuffer share", mins["rtpbin/rtpjitterbuffer0"], jb, 0, 1e-9)
	near(t, "sink share", mins["sink"], deadline, 0, 1e-9)
	var sum float64
	for el, v := range mins {
		sum += v
		if strings.Contains(el, "depay") || el == "dec" || strings.Contains(el, "ptdemux") {
			t.Errorf("%s has a share of %vs: its answer is upstream's, it adds nothing", el, v)
		}
	}
	near(t, "sum of the shares along the path", sum, sinkMin, 0, 1e-9)
	noNoise(t, r, "rx")
}

// A plain non-live decode: nothing waits for its LATENCY answer (the
// pipeline configures no latency when no sink is live), so its answers are
// not latencies and give no series; once one was negative (queue0 -0.0667 s
// after avdec_h264 answered 0.133 s and the queue 0).
func TestReportedLatencyNonLive(t *testing.T) {
	m := mediaFiles(t)
	r := measure(t, gstEnv(t, tracerAll, "GST_REGISTRY="+m.registry),
		"filesrc location="+m.mp4+" ! qtdemux ! h264parse ! avdec_h264 name=dec ! queue name=q ! fakesink name=sink",
		"--query", "dec:src", "--query", "q:src", "--query", "sink")
	for _, spec := range []string{"dec:src", "q:src", "sink"} {
		if live, _, _ := answer(t, r, spec); live {
			t.Fatalf("%s answers live: the pipeline is not the non-live case", spec)
		}
	}
	for _, fam := range []string{reportedMin, reportedMax} {
		if s := shares(r, fam, "pipeline0"); len(s) > 0 {
			t.Errorf("%s in a non-live pipeline: %v, want none", fam, s)
		}
	}
}
