package integration

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

// Source-to-sink latency where the origin of a buffer is not simply carried
// by one buffer from a source to a sink (issue 14, item 4): pulls proxied by
// typefind and ghost pads (every decodebin, parsebin, playbin), rtpbin's
// receive side, and aggregators, which make one output from N inputs.
//
// Ground truth is taken with pad probes by the test itself, as in
// codec_latency_test.go. Where running time cannot follow a buffer back to
// its source, the test follows it by what it measures:
//   - a pull-mode demuxer's buffers leave the source without timestamps: a
//     frame's data left the source with the last read the demuxer made before
//     pushing it (the demuxer reads, then pushes what it read, on its one
//     streaming thread);
//   - rtpjitterbuffer re-stamps packets, but passes them on in the order they
//     arrived (one sender on loopback): the k-th packet into the depayloader
//     is the k-th that left udpsrc.
//
// The sinks of a file's playback sync to the clock, as a player's do: the
// data waits in the queues, and the paths are tens to hundreds of ms. As
// fast as possible, an audio path was 2-3 ms, where a thread preempted
// between a probe and the hook beside it (a few µs apart) moved the mean by
// 14% on a loaded machine.

// hop follows a buffer seen at probe spec (index idx) one step upstream.
type hop func(t *testing.T, r *result, spec string, idx int) (string, int, bool)

// byRT: to the buffer at probe in whose running-time span holds the
// buffer's running time: of several, the one that starts latest (spans
// overlap where timestamps are rounded: Matroska's are whole milliseconds, so
// a 33.3 ms frame at 0 ms overlaps the one at 33 ms, whose data is the one at
// 33 ms), and of those starting together, the earliest to arrive (a frame a
// depayloader builds from packets arrived with its first packet).
func byRT(in string) hop {
	return func(t *testing.T, r *result, spec string, idx int) (string, int, bool) {
		i := rtHolder(r.Probes[in], r.Probes[spec][idx], false)
		return in, i, i >= 0
	}
}

// rtHolder is the index in recs of the buffer that holds o's running time
// (see byRT), or -1; arrived: among those that passed before o only.
func rtHolder(recs [][4]float64, o [4]float64, arrived bool) int {
	rt, at := o[probeRT], o[probeT]
	best := -1
	if rt < 0 {
		return -1
	}
	for i, e := range recs {
		if e[probeRT] < 0 || (arrived && e[probeT] > at) {
			continue
		}
		start := e[probeRT] - rtSlack
		if !(math.Abs(e[probeRT]-rt) <= rtSlack || (e[probeDur] > 0 && start <= rt && rt < start+e[probeDur])) {
			continue
		}
		if best < 0 {
			best = i
			continue
		}
		b := recs[best]
		if e[probeRT] > b[probeRT]+rtSlack || (e[probeRT]+rtSlack >= b[probeRT] && e[probeT] < b[probeT]) {
			best = i
		}
	}
	return best
}

// byRTArrived: as byRT, among the buffers that passed probe in before this
// one passed its own. An aggregator that times out on a live input makes its
// output from what has arrived: compositor shows that input's previous
// frame (whose span no longer holds the output's running time), audiomixer
// silence; the input's frame for that running time, arriving later, is not
// in this output.
func byRTArrived(in string) hop {
	return func(t *testing.T, r *result, spec string, idx int) (string, int, bool) {
		i := rtHolder(r.Probes[in], r.Probes[spec][idx], true)
		return in, i, i >= 0
	}
}

// lastBefore: to the latest buffer at probe in that passed before it.
func lastBefore(in string) hop {
	return func(t *testing.T, r *result, spec string, idx int) (string, int, bool) {
		at, best := r.Probes[spec][idx][probeT], -1
		for i, e := range r.Probes[in] {
			if e[probeT] <= at && (best < 0 || e[probeT] >= r.Probes[in][best][probeT]) {
				best = i
			}
		}
		return in, best, best >= 0
	}
}

// sameIndex: to the buffer at probe in with the same index (the same
// buffers pass both probes, in the same order; the test checks the counts).
func sameIndex(in string) hop {
	return func(t *testing.T, r *result, spec string, idx int) (string, int, bool) {
		if len(r.Probes[in]) != len(r.Probes[spec]) {
			t.Fatalf("%d buffers at %s, %d at %s: not the same buffers", len(r.Probes[spec]), spec, len(r.Probes[in]), in)
		}
		return in, idx, true
	}
}

// pathTruth is the ground truth for source-to-sink latency: each buffer at
// probe out (a sink's sink pad) is followed upstream by hops to the buffer
// at the source that carried it; its latency is the time it passed out
// minus the time that buffer passed the source's probe.
func pathTruth(t *testing.T, r *result, out string, hops ...hop) latencyTruth {
	t.Helper()
	outs := r.Probes[out]
	if len(outs) == 0 {
		t.Fatalf("no buffers at probe %s", out)
	}
	lt := latencyTruth{outputs: len(outs), min: math.Inf(1), max: math.Inf(-1)}
	var sum float64
next:
	for i, o := range outs {
		spec, idx := out, i
		for _, h := range hops {
			var ok bool
			if spec, idx, ok = h(t, r, spec, idx); !ok {
				continue next
			}
		}
		d := (o[probeT] - r.Probes[spec][idx][probeT]) / 1e9
		sum += d
		lt.samples = append(lt.samples, d)
		lt.min, lt.max = math.Min(lt.min, d), math.Max(lt.max, d)
		lt.matched++
	}
	if lt.matched == 0 {
		t.Fatalf("no buffer at %s followed back to its source", out)
	}
	lt.mean = sum / float64(lt.matched)
	return lt
}

// pathSeries is the labels of the one source-to-sink series of pipeline
// whose source and sink labels end with the element names given (inside
// bins, labels are bin paths).
func pathSeries(t *testing.T, r *result, pipeline, source, sink string) map[string]string {
	t.Helper()
	var found []map[string]string
	if f := r.Fams["gstreamer_pipeline_latency_seconds"]; f != nil {
		for _, m := range f.Metric {
			l := map[string]string{}
			for _, p := range m.Label {
				l[p.GetName()] = p.GetValue()
			}
			if l["pipeline"] == pipeline && endsWithName(l["source"], source) && endsWithName(l["sink"], sink) {
				found = append(found, l)
			}
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one source-to-sink series of pipeline %q from %q to %q, have %v; exposition:\n%s",
			pipeline, source, sink, found, pathFamily(r))
	}
	return found[0]
}

func endsWithName(path, name string) bool {
	return path == name || strings.HasSuffix(path, "/"+name)
}

// pathFamily is the source-to-sink lines of the exposition, for messages.
func pathFamily(r *result) string {
	var b strings.Builder
	for _, l := range strings.Split(r.Metrics, "\n") {
		if strings.HasPrefix(l, "gstreamer_pipeline_latency_seconds_count") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

func checkPathTruth(t *testing.T, r *result, name, pipeline, source, sink string, truth latencyTruth) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		mostMatched(t, name, truth)
		checkLatency(t, r, name+" source-to-sink latency", "gstreamer_pipeline_latency_seconds",
			pathSeries(t, r, pipeline, source, sink), truth, pathRel, pathAbs)
	})
}

// typefind in front of a demuxer in pull mode proxies its getrange: the
// demuxer pulls typefind, which pulls filesrc. The pulls are counted on
// typefind's sink pad, and a frame's origin is the read that brought it.
func TestSourceToSinkTypefind(t *testing.T) {
	m := mediaFiles(t)
	r := measure(t, gstEnv(t, tracerLatency, "GST_REGISTRY="+m.registry),
		"filesrc name=src location="+m.mkv+" ! typefind name=tf ! matroskademux name=demux "+
			"demux.video_0 ! queue ! h264parse ! avdec_h264 ! fakesink name=vsink sync=true "+
			"demux.audio_0 ! queue ! aacparse ! avdec_aac ! fakesink name=asink sync=true",
		"--probe", "src:src", "--probe", "tf:sink", "--probe", "demux:video_0", "--probe", "demux:audio_0",
		"--probe", "vsink:sink", "--probe", "asink:sink")
	t.Run("typefind pulls", func(t *testing.T) {
		n := len(r.Probes["tf:sink"])
		if n == 0 {
			t.Fatal("typefind pulled nothing: the demuxer was not in pull mode, the test proves nothing")
		}
		if c := counter(t, r, "gstreamer_pad_buffers_total", labels("pipeline", "pipeline0", "element", "tf", "pad", "sink")); int(c) != n {
			t.Errorf("typefind's sink pad counted %v buffers; its probe saw %d pulls", c, n)
		}
	})
	checkPathTruth(t, r, "video", "pipeline0", "src", "vsink",
		pathTruth(t, r, "vsink:sink", byRT("demux:video_0"), lastBefore("src:src")))
	checkPathTruth(t, r, "audio", "pipeline0", "src", "asink",
		pathTruth(t, r, "asink:sink", byRT("demux:audio_0"), lastBefore("src:src")))
}

// decodebin (typefind, a demuxer, multiqueue, parsers and decoders in a bin,
// the file read through its ghost pad) on both containers of the test media.
func TestSourceToSinkDecodebin(t *testing.T) {
	m := mediaFiles(t)
	for _, c := range []struct{ file, demux string }{{m.mkv, "matroskademux0"}, {m.mp4, "qtdemux0"}} {
		t.Run(c.demux, func(t *testing.T) {
			r := measure(t, gstEnv(t, tracerLatency, "GST_REGISTRY="+m.registry),
				"filesrc name=src location="+c.file+" ! decodebin name=dec "+
					"dec. ! video/x-raw ! fakesink name=vsink sync=true dec. ! audio/x-raw ! fakesink name=asink sync=true",
				"--probe", "src:src", "--probe", c.demux+":video_0", "--probe", c.demux+":audio_0",
				"--probe", "vsink:sink", "--probe", "asink:sink")
			checkPathTruth(t, r, "video", "pipeline0", "src", "vsink",
				pathTruth(t, r, "vsink:sink", byRT(c.demux+":video_0"), lastBefore("src:src")))
			checkPathTruth(t, r, "audio", "pipeline0", "src", "asink",
				pathTruth(t, r, "asink:sink", byRT(c.demux+":audio_0"), lastBefore("src:src")))
		})
	}
}

// decodebin fed by a live encoder: typefind and the parser in push mode.
func TestSourceToSinkDecodebinLive(t *testing.T) {
	r := measure(t, gstEnv(t, tracerLatency),
		"videotestsrc name=src is-live=true num-buffers=90 ! video/x-raw,width=320,height=240,framerate=30/1 ! "+
			"x264enc tune=zerolatency ! h264parse ! decodebin ! fakesink name=sink",
		"--probe", "src:src", "--probe", "sink:sink")
	checkPathTruth(t, r, "video", "pipeline0", "src", "sink", pathTruth(t, r, "sink:sink", byRT("src:src")))
}

// playbin and playbin3 with fakesinks: the file is read by uridecodebin's
// "source" (playbin) or by urisourcebin's filesrc (playbin3), through ghost
// pads, typefind and (playbin3) parsebin; the sinks sit in playsink's bins
// behind converters and queues.
func TestSourceToSinkPlaybin(t *testing.T) {
	m := mediaFiles(t)
	for _, c := range []struct{ playbin, source string }{{"playbin", "source"}, {"playbin3", "filesrc0"}} {
		t.Run(c.playbin, func(t *testing.T) {
			r := measure(t, gstEnv(t, tracerLatency, "GST_REGISTRY="+m.registry),
				"--name", "player", fmt.Sprintf(`%s uri=file://%s video-sink="fakesink name=vsink sync=true" audio-sink="fakesink name=asink sync=true"`, c.playbin, m.mkv),
				"--probe", c.source+":src", "--probe", "matroskademux0:video_0", "--probe", "matroskademux0:audio_0",
				"--probe", "vsink:sink", "--probe", "asink:sink")
			checkPathTruth(t, r, "video", "player", c.source, "vsink",
				pathTruth(t, r, "vsink:sink", byRT("matroskademux0:video_0"), lastBefore(c.source+":src")))
			checkPathTruth(t, r, "audio", "player", c.source, "asink",
				pathTruth(t, r, "asink:sink", byRT("matroskademux0:audio_0"), lastBefore(c.source+":src")))
		})
	}
}

// An rtpbin receiver over UDP on loopback: rtpsession, rtpssrcdemux,
// rtpjitterbuffer and rtpptdemux in a bin, whose src pad rtpptdemux creates
// (and starts) before adding it. A frame's origin is the arrival of its first
// packet: the sink's frame is matched in running time to the depayloader's
// output, that to the first of its packets into the depayloader, and that
// packet by its order to its arrival at udpsrc.
func TestSourceToSinkRtpbin(t *testing.T) {
	port := freePort(t)
	r := measure(t, gstEnv(t, tracerLatency),
		"--name", "tx", rtpSender(90, port),
		"--name", "rx", fmt.Sprintf("udpsrc name=src port=%d address=127.0.0.1 caps=application/x-rtp,media=video,encoding-name=H264,clock-rate=90000,payload=96 ! "+
			"rtpbin.recv_rtp_sink_0 rtpbin name=rtpbin ! rtph264depay name=depay ! avdec_h264 ! fakesink name=sink", port),
		"--eos-others", "--probe", "src:src", "--probe", "depay:sink", "--probe", "depay:src", "--probe", "sink:sink")
	t.Run("rtpptdemux", func(t *testing.T) {
		n := len(r.Probes["depay:sink"])
		pads := 0
		for _, m := range r.Fams["gstreamer_pad_buffers_total"].GetMetric() {
			l := map[string]string{}
			for _, p := range m.Label {
				l[p.GetName()] = p.GetValue()
			}
			if l["pipeline"] == "rx" && strings.Contains(l["element"], "rtpptdemux") && strings.HasPrefix(l["pad"], "src_") {
				pads++
				if int(m.GetCounter().GetValue()) != n {
					t.Errorf("rtpptdemux pad %s counted %v buffers; the depayloader's probe saw %d", l["pad"], m.GetCounter().GetValue(), n)
				}
			}
		}
		if pads != 1 {
			t.Errorf("want one rtpptdemux src pad series, have %d", pads)
		}
	})
	checkPathTruth(t, r, "rtpbin", "rx", "src", "sink",
		pathTruth(t, r, "sink:sink", byRT("depay:src"), byRT("depay:sink"), sameIndex("src:src")))
}

// Aggregators make one output from N inputs: a path per input source. The
// mixers wait up to 200 ms for a late input (latency): with none, a loaded
// machine makes them time out on inputs (a tenth of audiomixer's outputs
// lacked the queued source's data at a load average of 10), and then the
// outputs truly lack that source, which leaves the test too few to check. The
// truth for source k: from its buffer whose running-time span holds the
// output's running time (the data of source k that the output carries
// first; of those that had reached the aggregator's sink pad k by then)
// leaving the source, to the output reaching the sink.
func TestSourceToSinkAggregators(t *testing.T) {
	for _, c := range []struct {
		name, desc string
		sources    []string // source k feeds the aggregator's sink_k
		agg        string
	}{
		{"compositor",
			"videotestsrc name=a is-live=true num-buffers=90 ! video/x-raw,width=160,height=120,framerate=30/1 ! comp.sink_0 " +
				"videotestsrc name=b is-live=true num-buffers=90 pattern=ball ! video/x-raw,width=160,height=120,framerate=30/1 ! queue ! comp.sink_1 " +
				"compositor name=comp latency=200000000 ! fakesink name=sink",
			[]string{"a", "b"}, "comp"},
		// Three sources with buffers of different lengths (none aligned
		// with the mixer's 10 ms outputs; 4.27 s each), one behind a queue.
		{"audiomixer",
			"audiotestsrc name=a is-live=true num-buffers=200 samplesperbuffer=1024 ! audio/x-raw,rate=48000,channels=1 ! mix.sink_0 " +
				"audiotestsrc name=b is-live=true num-buffers=465 samplesperbuffer=441 wave=pink-noise ! audio/x-raw,rate=48000,channels=1 ! queue ! mix.sink_1 " +
				"audiotestsrc name=c is-live=true num-buffers=293 samplesperbuffer=700 freq=880 ! audio/x-raw,rate=48000,channels=1 ! mix.sink_2 " +
				"audiomixer name=mix latency=200000000 ! fakesink name=sink",
			[]string{"a", "b", "c"}, "mix"},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := []string{c.desc, "--probe", "sink:sink"}
			for k, s := range c.sources {
				args = append(args, "--probe", s+":src", "--probe", fmt.Sprintf("%s:sink_%d", c.agg, k))
			}
			r := measure(t, gstEnv(t, tracerLatency), args...)
			for k, s := range c.sources {
				checkPathTruth(t, r, s, "pipeline0", s, "sink", pathTruth(t, r, "sink:sink",
					byRTArrived(fmt.Sprintf("%s:sink_%d", c.agg, k)), byRT(s+":src")))
			}
		})
	}
}

// byExactRT: to the buffer at probe in that starts at the buffer's running
// time (within rtSlack) and passed before it, unless one at a probe of
// others does too (then the data is not known). A muxer that keeps
// timestamps (matroskamux, flvmux) stamps each block or tag, and the headers
// it writes for it, with the time of the input buffer it carries.
func byExactRT(in string, others ...string) hop {
	return func(t *testing.T, r *result, spec string, idx int) (string, int, bool) {
		o := r.Probes[spec][idx]
		find := func(p string) int {
			for i, e := range r.Probes[p] {
				if o[probeRT] >= 0 && e[probeRT] >= 0 && math.Abs(e[probeRT]-o[probeRT]) <= rtSlack && e[probeT] <= o[probeT] {
					return i
				}
			}
			return -1
		}
		for _, p := range others {
			if find(p) >= 0 {
				return in, -1, false
			}
		}
		i := find(in)
		return in, i, i >= 0
	}
}

// byPES: from a TS packet (a buffer at a --ts probe) of stream pid to the
// buffer at probe in (the muxer's sink pad of that stream) whose data its
// PES carries: the PES that the packet starts or continues is the k-th of
// the stream, and the muxer makes the k-th PES of a stream from the k-th
// buffer of its pad (checked by checkPES). Tables and other streams' packets
// have no buffer at in.
func byPES(in string, pid int64) hop {
	return func(t *testing.T, r *result, spec string, idx int) (string, int, bool) {
		pk := r.TS[spec]
		if len(pk) != len(r.Probes[spec]) {
			t.Fatalf("%d packet headers at %s for %d buffers", len(pk), spec, len(r.Probes[spec]))
		}
		if pk[idx][0] != pid {
			return in, -1, false
		}
		k := -1
		for i := 0; i <= idx; i++ {
			if pk[i][0] == pid && pk[i][1] == 1 {
				k++
			}
		}
		return in, k, k >= 0 && k < len(r.Probes[in])
	}
}

// checkPES checks what byPES assumes, from the data: the k-th PES of stream
// pid at probe out carries the k-th buffer at probe in, its PTS being that
// buffer's running time plus the muxer's one offset (to a 90 kHz tick).
func checkPES(t *testing.T, r *result, out, in string, pid int64) {
	t.Helper()
	var offset float64
	k := 0
	for _, p := range r.TS[out] {
		if p[0] != pid || p[1] != 1 {
			continue
		}
		if k >= len(r.Probes[in]) {
			t.Fatalf("PID %d: more PES than the %d buffers at %s", pid, len(r.Probes[in]), in)
		}
		if p[2] < 0 {
			t.Fatalf("PID %d: PES %d has no PTS", pid, k)
		}
		d := float64(p[2])*1e9/90000 - r.Probes[in][k][probeRT]
		if k == 0 {
			offset = d
		} else if math.Abs(d-offset) > 2e9/90000 {
			t.Fatalf("PID %d: PES %d has PTS %d, not buffer %d's at %s (running time %.0f ns; offset %.0f ns, first %.0f ns)",
				pid, k, p[2], k, in, r.Probes[in][k][probeRT], d, offset)
		}
		k++
	}
	if k == 0 {
		t.Fatalf("no PES of PID %d at %s", pid, out)
	}
}

// Muxers put one input's data in each output: the path of an output is
// that of the input buffer it carries, measured from the data (a TS
// packet's PID and its PES) or, for muxers that keep timestamps, from the
// output's running time being exactly that buffer's. Outputs that carry no
// input (headers, tables) have no path. Live sources, as a recorder or a
// streamer has them.
func TestSourceToSinkMuxers(t *testing.T) {
	const (
		video = "videotestsrc name=v is-live=true num-buffers=90 ! video/x-raw,width=320,height=240,framerate=30/1 ! x264enc tune=zerolatency ! h264parse ! "
		audio = "audiotestsrc name=a is-live=true num-buffers=130 ! avenc_aac ! aacparse ! "
	)
	t.Run("mpegtsmux", func(t *testing.T) {
		r := measure(t, gstEnv(t, tracerLatency),
			video+"mux.sink_65 "+audio+"mux.sink_66 mpegtsmux name=mux ! fakesink name=sink sync=true",
			"--probe", "v:src", "--probe", "a:src", "--probe", "mux:sink_65", "--probe", "mux:sink_66", "--ts", "sink:sink")
		checkPES(t, r, "sink:sink", "mux:sink_65", 65)
		checkPES(t, r, "sink:sink", "mux:sink_66", 66)
		checkMuxTruth(t, r, "sink:sink", map[string]latencyTruth{
			"v": pathTruth(t, r, "sink:sink", byPES("mux:sink_65", 65), byRT("v:src")),
			"a": pathTruth(t, r, "sink:sink", byPES("mux:sink_66", 66), byRT("a:src")),
		})
	})
	// The pads requested, and the names they get.
	for _, c := range []struct{ mux, vlink, alink, vpad, apad string }{
		{"matroskamux", "video_0", "audio_0", "video_0", "audio_0"},
		{"flvmux", "video", "audio", "sink_0", "sink_1"},
	} {
		t.Run(c.mux, func(t *testing.T) {
			vp, ap := "mux:"+c.vpad, "mux:"+c.apad
			r := measure(t, gstEnv(t, tracerLatency),
				video+"mux."+c.vlink+" "+audio+"mux."+c.alink+" "+c.mux+" name=mux ! fakesink name=sink sync=true",
				"--probe", "v:src", "--probe", "a:src", "--probe", vp, "--probe", ap, "--probe", "sink:sink")
			checkMuxTruth(t, r, "sink:sink", map[string]latencyTruth{
				"v": pathTruth(t, r, "sink:sink", byExactRT(vp, ap), byRT("v:src")),
				"a": pathTruth(t, r, "sink:sink", byExactRT(ap, vp), byRT("a:src")),
			})
		})
	}
}

// checkMuxTruth checks the path from each source (by name) through a muxer
// to element sink of pipeline0, whose sink pad is probe out: each source's
// outputs are only some of the sink's, so together they must be most of
// those with a timestamp (the rest carry headers or tables).
func checkMuxTruth(t *testing.T, r *result, out string, truths map[string]latencyTruth) {
	t.Helper()
	outputs, matched := 0, 0
	for _, o := range r.Probes[out] {
		if o[probeRT] >= 0 {
			outputs++
		}
	}
	for source, truth := range truths {
		matched += truth.matched
		t.Run(source, func(t *testing.T) {
			checkLatency(t, r, source+" source-to-sink latency", "gstreamer_pipeline_latency_seconds",
				pathSeries(t, r, "pipeline0", source, "sink"), truth, pathRel, pathAbs)
		})
	}
	if matched*10 < outputs*9 {
		t.Errorf("only %d of %d outputs with a timestamp followed back to a source: probes or matching broken", matched, outputs)
	}
}
