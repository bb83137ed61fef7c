package integration

import (
	"fmt"
	"testing"
)

// Latency through elements that hold buffers (issue 10), against pad probes
// matched in running time (matchLatency): each codec element within 25% or
// 5 ms of the truth, source-to-sink within 15%. All flags on, as users run
// it: the reported flag's LATENCY query hook once deadlocked avdec_h264.
const tracerLatency = tracerAll

const (
	elementRel, elementAbs = 0.25, 0.005
	pathRel, pathAbs       = 0.15, 0
)

func elementLatency(name, factory string) map[string]string {
	return labels("pipeline", "pipeline0", "element", name, "factory", factory)
}

// checkElement checks element name's latency against truth, as a subtest
// named after its factory.
func checkElement(t *testing.T, r *result, name, factory string, truth latencyTruth) {
	t.Run(factory, func(t *testing.T) {
		checkLatency(t, r, factory+" latency", "gstreamer_element_latency_seconds",
			elementLatency(name, factory), truth, elementRel, elementAbs)
	})
}

// checkPath checks the source-to-sink latency against truth, as a subtest.
func checkPath(t *testing.T, r *result, source, sink string, truth latencyTruth) {
	t.Run("source-to-sink", func(t *testing.T) {
		checkLatency(t, r, "source-to-sink latency", "gstreamer_pipeline_latency_seconds",
			pathLatency(source, sink), truth, pathRel, pathAbs)
	})
}

func pathLatency(source, sink string) map[string]string {
	return labels("pipeline", "pipeline0", "source", source, "sink", sink)
}

// mostMatched fails the test unless the ground truth matched at least 90% of
// the outputs: fewer means the probes or the matching are broken, and the
// truth would prove nothing.
func mostMatched(t *testing.T, what string, lt latencyTruth) {
	t.Helper()
	if lt.matched*10 < lt.outputs*9 {
		t.Fatalf("%s: only %d of %d outputs matched an input by running time: probes or matching broken",
			what, lt.matched, lt.outputs)
	}
}

// An encoder with lookahead: x264enc's defaults (rc-lookahead and frame
// threads) hold about 40 frames, 1.5 s of live 30 fps video. Its output PTS
// are shifted by 1000 h and come in decode order (B-frames); running time
// matches them to their inputs. avdec_h264 downstream holds frames to
// reorder them back into presentation order.
func TestCodecLatencyEncoderLookahead(t *testing.T) {
	r := measure(t, gstEnv(t, tracerLatency),
		"videotestsrc name=src is-live=true num-buffers=150 ! video/x-raw,width=320,height=240,framerate=30/1 ! "+
			"x264enc name=enc ! h264parse name=parse ! avdec_h264 name=dec ! fakesink name=sink",
		"--probe", "src:src", "--probe", "enc:sink", "--probe", "enc:src",
		"--probe", "dec:sink", "--probe", "dec:src", "--probe", "sink:sink")
	enc := matchLatency(t, r, "enc:src", "enc:sink")
	mostMatched(t, "x264enc", enc)
	if enc.mean < 1 {
		t.Fatalf("x264enc ground truth %.6fs: its defaults hold ~40 frames (> 1 s at 30 fps): probes are wrong", enc.mean)
	}
	path := matchLatency(t, r, "sink:sink", "src:src")
	mostMatched(t, "source-to-sink", path)
	if path.mean < enc.mean {
		t.Fatalf("source-to-sink ground truth %.6fs is below x264enc's own %.6fs: probes are wrong", path.mean, enc.mean)
	}
	checkElement(t, r, "enc", "x264enc", enc)
	t.Run("avdec_h264", func(t *testing.T) {
		dec := matchLatency(t, r, "dec:src", "dec:sink")
		mostMatched(t, "avdec_h264", dec)
		checkLatency(t, r, "avdec_h264 latency", "gstreamer_element_latency_seconds",
			elementLatency("dec", "avdec_h264"), dec, elementRel, elementAbs)
	})
	checkPath(t, r, "src", "sink", path)
}

// A frame-threaded decoder: avdec_h264 with 3 frame threads holds 2 frames.
// (In a live pipeline its default thread-type decodes with slice threads,
// which hold none.) The encoder upstream is tuned for zero latency so that the
// decoder's delay dominates the path.
func TestCodecLatencyFrameThreadedDecoder(t *testing.T) {
	const frame = 1.0 / 30
	r := measure(t, gstEnv(t, tracerLatency),
		"videotestsrc name=src is-live=true num-buffers=90 ! video/x-raw,width=320,height=240,framerate=30/1 ! "+
			"x264enc speed-preset=ultrafast tune=zerolatency ! h264parse ! "+
			"avdec_h264 name=dec thread-type=frame max-threads=3 ! fakesink name=sink",
		"--probe", "src:src", "--probe", "dec:sink", "--probe", "dec:src", "--probe", "sink:sink")
	dec := matchLatency(t, r, "dec:src", "dec:sink")
	mostMatched(t, "avdec_h264", dec)
	if dec.mean < frame {
		t.Fatalf("avdec_h264 ground truth %.6fs is below one frame interval (%.6fs): the decoder holds no frames, the test proves nothing",
			dec.mean, frame)
	}
	path := matchLatency(t, r, "sink:sink", "src:src")
	mostMatched(t, "source-to-sink", path)
	checkElement(t, r, "dec", "avdec_h264", dec)
	checkPath(t, r, "src", "sink", path)
}

// An audio encoder that re-chunks: opusenc makes 40 ms frames of 10 ms
// buffers, so an output waits for the inputs after the one that carried its
// first sample. Its output running times are offset from the input buffer
// boundaries by the encoder's lookahead (the first output is 33.5 ms long), so
// outputs fall inside input spans rather than on their starts.
func TestCodecLatencyAudioReChunk(t *testing.T) {
	r := measure(t, gstEnv(t, tracerLatency),
		"audiotestsrc name=src is-live=true samplesperbuffer=480 num-buffers=300 ! audio/x-raw,rate=48000,channels=1 ! "+
			"opusenc name=enc frame-size=40 ! opusdec name=dec ! fakesink name=sink",
		"--probe", "src:src", "--probe", "enc:sink", "--probe", "enc:src", "--probe", "sink:sink")
	enc := matchLatency(t, r, "enc:src", "enc:sink")
	mostMatched(t, "opusenc", enc)
	if in := len(r.Probes["enc:sink"]); enc.outputs*3 > in {
		t.Fatalf("opusenc pushed %d buffers for %d inputs: it did not re-chunk 10 ms into 40 ms", enc.outputs, in)
	}
	if enc.mean < 0.030 {
		t.Fatalf("opusenc ground truth %.6fs: 40 ms frames of 10 ms inputs wait ~40 ms: probes are wrong", enc.mean)
	}
	path := matchLatency(t, r, "sink:sink", "src:src")
	mostMatched(t, "source-to-sink", path)
	checkElement(t, r, "enc", "opusenc", enc)
	checkPath(t, r, "src", "sink", path)
}

// A real RTP receiver: udpsrc stamps packets with their arrival, and
// rtpjitterbuffer re-stamps each with a skew-corrected time (a few ms off
// the arrival), so running time does not survive it; it passes the same
// buffers on, which is how its latency is matched. Ground truth: the
// packets leave it in the order they came (one sender on loopback), so the
// i-th out is the i-th in. The depayloader behind it is matched in running
// time (a frame's packets share its timestamp), and every frame that
// reaches the sink has a source-to-sink figure.
func TestCodecLatencyJitterbufferReceiver(t *testing.T) {
	port := freePort(t)
	r := measure(t, gstEnv(t, tracerLatency),
		"--name", "tx", rtpSender(90, port),
		"--name", "rx", fmt.Sprintf("udpsrc port=%d address=127.0.0.1 caps=application/x-rtp,media=video,encoding-name=H264,clock-rate=90000,payload=96 ! "+
			"rtpjitterbuffer name=jb ! rtph264depay name=depay ! avdec_h264 ! fakesink name=sink", port),
		"--eos-others", "--probe", "jb:sink", "--probe", "jb:src", "--probe", "depay:sink", "--probe", "depay:src",
		"--probe", "sink:sink")
	in, out := r.Probes["jb:sink"], r.Probes["jb:src"]
	if len(in) < 200 || len(out) != len(in) {
		t.Fatalf("the jitterbuffer got %d packets and passed on %d: want the same, and some hundreds", len(in), len(out))
	}
	var sum float64
	for i := range out {
		sum += out[i][probeT] - in[i][probeT]
	}
	truth := latencyTruth{outputs: len(out), matched: len(out), mean: sum / float64(len(out)) / 1e9}
	rx := func(l map[string]string) map[string]string { l["pipeline"] = "rx"; return l }
	t.Run("rtpjitterbuffer", func(t *testing.T) {
		checkLatency(t, r, "rtpjitterbuffer latency", "gstreamer_element_latency_seconds",
			rx(elementLatency("jb", "rtpjitterbuffer")), truth, elementRel, elementAbs)
	})
	t.Run("rtph264depay", func(t *testing.T) {
		depay := matchLatency(t, r, "depay:src", "depay:sink")
		mostMatched(t, "rtph264depay", depay)
		checkLatency(t, r, "rtph264depay latency", "gstreamer_element_latency_seconds",
			rx(elementLatency("depay", "rtph264depay")), depay, elementRel, elementAbs)
	})
	t.Run("source-to-sink", func(t *testing.T) {
		n := len(r.Probes["sink:sink"])
		if c, _ := histMean(t, r, "gstreamer_pipeline_latency_seconds", rx(pathLatency("udpsrc0", "sink"))); int(c) != n {
			t.Errorf("source-to-sink count = %d, want every frame that reached the sink (%d)", c, n)
		}
	})
}

// rtpSender is a live H.264 RTP sender of `frames` 320x240 frames at 30/s to
// 127.0.0.1:port, the other end of the RTP receiver tests.
func rtpSender(frames, port int) string {
	return fmt.Sprintf("videotestsrc is-live=true num-buffers=%d ! video/x-raw,width=320,height=240,framerate=30/1 ! "+
		"x264enc tune=zerolatency ! rtph264pay ! udpsink host=127.0.0.1 port=%d", frames, port)
}
