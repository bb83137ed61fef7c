package integration

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// mediaPad is a pad whose buffers the app's probe records; the probe must
// see at least min of them, or the run proves nothing.
type mediaPad struct {
	spec string // element:pad
	min  int
}

// mediaPipeline is one ordinary media pipeline of the suite.
type mediaPipeline struct {
	name string
	args func(m *mediaSet) []string // the app and its arguments
	pads []mediaPad
	// app counts that must equal a probe's: "app:pulled" -> "sink:sink".
	appCounts map[string]string
}

// measureArgs runs desc with measure.py, probing pads.
func measureArgs(desc string, pads []mediaPad) []string {
	args := []string{"../apps/measure.py", desc}
	for _, p := range pads {
		args = append(args, "--probe", p.spec)
	}
	return args
}

func launch(name, desc string, pads ...mediaPad) mediaPipeline {
	return mediaPipeline{name: name, pads: pads,
		args: func(*mediaSet) []string { return measureArgs(desc, pads) }}
}

func onMedia(name string, desc func(m *mediaSet) string, pads ...mediaPad) mediaPipeline {
	return mediaPipeline{name: name, pads: pads,
		args: func(m *mediaSet) []string { return measureArgs(desc(m), pads) }}
}

const appsrcFrames = 45

// The suite: each pipeline runs 0.1-3 s untraced. Live sources make most
// of them real-time, so their wall time is steady on a loaded machine.
var mediaPipelines = []mediaPipeline{
	// The pipeline, as given (x264enc's defaults: lookahead and
	// frame threads, 1.5 s of frames held). Without a format, x264enc takes
	// videotestsrc's Y444_10LE (High 4:4:4); the others use I420.
	launch("x264-live",
		"videotestsrc is-live=true num-buffers=90 ! video/x-raw,width=320,height=240,framerate=30/1 "+
			"! x264enc name=enc ! h264parse name=parse ! avdec_h264 name=dec ! videoconvert ! fakesink name=sink",
		mediaPad{"enc:src", 90}, mediaPad{"parse:src", 90}, mediaPad{"dec:src", 90}, mediaPad{"sink:sink", 90}),
	// The decoders are inside the bin, plugged after the probes are set:
	// the branches outside it are probed.
	onMedia("decodebin", func(m *mediaSet) string {
		return "filesrc location=" + m.mp4 + " ! decodebin name=d " +
			"d. ! queue name=vq ! videoconvert ! fakesink name=vsink " +
			"d. ! queue name=aq ! audioconvert ! fakesink name=asink"
	}, mediaPad{"vq:src", mediaFrames}, mediaPad{"vsink:sink", mediaFrames},
		mediaPad{"aq:src", mediaAudioFrames}, mediaPad{"asink:sink", mediaAudioFrames}),
	// Played against the clock, as a player would.
	onMedia("uridecodebin3", func(m *mediaSet) string {
		return "uridecodebin3 uri=file://" + m.mp4 + " name=d " +
			"d. ! queue ! videoconvert ! fakesink name=vsink sync=true " +
			"d. ! queue ! audioconvert ! fakesink name=asink sync=true"
	}, mediaPad{"vsink:sink", mediaFrames}, mediaPad{"asink:sink", mediaAudioFrames}),
	// rtph264pay pushes buffer lists (the app's probe counts their buffers).
	launch("rtp-jitterbuffer",
		"videotestsrc is-live=true num-buffers=45 ! video/x-raw,format=I420,width=320,height=240,framerate=30/1 "+
			"! x264enc name=enc tune=zerolatency ! rtph264pay name=pay ! rtpjitterbuffer name=jb "+
			"! rtph264depay name=depay ! avdec_h264 name=dec ! fakesink name=sink",
		mediaPad{"enc:src", 45}, mediaPad{"pay:src", 45}, mediaPad{"jb:src", 45}, mediaPad{"depay:src", 45},
		mediaPad{"dec:src", 45}, mediaPad{"sink:sink", 45}),
	// A fragmented MP4 streamed from the muxer straight into qtdemux (push
	// mode), video and audio.
	launch("mp4mux-qtdemux",
		"videotestsrc is-live=true num-buffers=45 ! video/x-raw,format=I420,width=320,height=240,framerate=30/1 "+
			"! x264enc name=venc tune=zerolatency ! h264parse ! mp4mux name=mux fragment-duration=500 streamable=true "+
			"! qtdemux name=demux "+
			"demux.video_0 ! queue ! h264parse ! avdec_h264 name=vdec ! fakesink name=vsink "+
			"audiotestsrc is-live=true num-buffers=64 ! audio/x-raw,rate=44100,channels=2 "+
			"! avenc_aac name=aenc ! aacparse ! mux. "+
			"demux.audio_0 ! queue ! aacparse ! avdec_aac name=adec ! fakesink name=asink",
		mediaPad{"venc:src", 45}, mediaPad{"vdec:src", 40}, mediaPad{"vsink:sink", 40},
		mediaPad{"aenc:src", 60}, mediaPad{"adec:src", 40}, mediaPad{"asink:sink", 40}),
	// Matroska streamed into its demuxer: H.264 and Opus.
	launch("matroskamux-demux",
		"videotestsrc is-live=true num-buffers=45 ! video/x-raw,format=I420,width=320,height=240,framerate=30/1 "+
			"! x264enc name=venc tune=zerolatency ! h264parse ! matroskamux name=mux streamable=true "+
			"! matroskademux name=demux "+
			"demux.video_0 ! queue ! h264parse ! avdec_h264 name=vdec ! fakesink name=vsink "+
			"audiotestsrc is-live=true num-buffers=64 ! audio/x-raw,rate=48000,channels=2 "+
			"! opusenc name=aenc ! mux. "+
			"demux.audio_0 ! queue ! opusdec name=adec ! fakesink name=asink",
		mediaPad{"venc:src", 45}, mediaPad{"vdec:src", 40}, mediaPad{"vsink:sink", 40},
		mediaPad{"aenc:src", 60}, mediaPad{"adec:src", 40}, mediaPad{"asink:sink", 40}),
	// The generated Matroska file, demuxed in pull mode (the demuxer's own
	// task drives the pipeline), both streams decoded.
	onMedia("matroskademux-file", func(m *mediaSet) string {
		return "filesrc location=" + m.mkv + " ! matroskademux name=demux " +
			"demux.video_0 ! queue ! h264parse ! avdec_h264 name=vdec ! fakesink name=vsink " +
			"demux.audio_0 ! queue ! aacparse ! avdec_aac name=adec ! fakesink name=asink"
	}, mediaPad{"vdec:src", mediaFrames}, mediaPad{"vsink:sink", mediaFrames},
		mediaPad{"adec:src", mediaAudioFrames}, mediaPad{"asink:sink", mediaAudioFrames}),
	// 10 ms buffers into 20 ms Opus frames: the encoder re-chunks.
	launch("opus",
		"audiotestsrc is-live=true num-buffers=120 samplesperbuffer=480 ! audio/x-raw,rate=48000,channels=2 "+
			"! opusenc name=enc ! opusdec name=dec ! audioconvert ! fakesink name=sink",
		mediaPad{"enc:src", 55}, mediaPad{"dec:src", 55}, mediaPad{"sink:sink", 55}),
	launch("aac",
		"audiotestsrc is-live=true num-buffers=50 ! audio/x-raw,rate=44100,channels=2 "+
			"! avenc_aac name=enc ! aacparse name=parse ! avdec_aac name=dec ! audioconvert ! fakesink name=sink",
		mediaPad{"enc:src", 45}, mediaPad{"parse:src", 45}, mediaPad{"dec:src", 45}, mediaPad{"sink:sink", 45}),
	launch("compositor",
		"compositor name=mix ! video/x-raw,width=320,height=240 ! videoconvert ! fakesink name=sink "+
			"videotestsrc is-live=true num-buffers=45 ! video/x-raw,width=320,height=240,framerate=30/1 ! mix.sink_0 "+
			"videotestsrc is-live=true num-buffers=45 pattern=ball ! video/x-raw,width=160,height=120,framerate=30/1 ! mix.sink_1",
		mediaPad{"mix:sink_0", 45}, mediaPad{"mix:sink_1", 45}, mediaPad{"mix:src", 40}, mediaPad{"sink:sink", 40}),
	launch("audiomixer",
		"audiomixer name=mix ! audioconvert ! fakesink name=sink "+
			"audiotestsrc is-live=true num-buffers=60 ! audio/x-raw,rate=44100,channels=2 ! mix.sink_0 "+
			"audiotestsrc is-live=true num-buffers=60 freq=880 ! audio/x-raw,rate=44100,channels=2 ! mix.sink_1",
		mediaPad{"mix:sink_0", 60}, mediaPad{"mix:sink_1", 60}, mediaPad{"mix:src", 50}, mediaPad{"sink:sink", 50}),
	// The test plugin's element that asks upstream for the latency with its
	// object lock held, when caps arrive and per buffer (as avdec_h264
	// does): a hook that takes an element's lock deadlocks here.
	launch("lock-holder",
		"audiotestsrc num-buffers=50 ! scopelocker name=l ! fakesink name=sink",
		mediaPad{"l:src", 50}, mediaPad{"sink:sink", 50}),
	{name: "appsrc-appsink",
		args:      func(*mediaSet) []string { return []string{"../apps/appsrc.py", fmt.Sprint(appsrcFrames)} },
		pads:      []mediaPad{{"src:src", appsrcFrames}, {"enc:src", appsrcFrames}, {"dec:src", appsrcFrames}, {"sink:sink", appsrcFrames}},
		appCounts: map[string]string{"app:pushed": "src:src", "app:pulled": "sink:sink"}},
}

// mediaConfig is one tracer configuration the suite runs every pipeline
// under.
type mediaConfig struct {
	name      string
	tracers   string
	latency   bool // the latency tracer runs: its counts are checked
	pyroscope bool
}

var mediaConfigs = []mediaConfig{
	{"none", "", false, false},
	{"pipeline", "prometheus-latency-tracer(flags=pipeline)", true, false},
	{"element", "prometheus-latency-tracer(flags=element)", true, false},
	{"reported", "prometheus-latency-tracer(flags=reported)", true, false},
	{"all-flags", tracerAll, true, false},
	{"pyroscope", "pyroscope", false, true},
	{"both", bothTracers, true, true},
}

// underChecker is whether the configuration runs under a memory checker
// (make asan): the untraced baseline and the two that run every hook of
// the others (all flags, both tracers); the single-flag ones run no code
// those two do not, and would double the slowest part of the suite.
func (c mediaConfig) underChecker() bool {
	return c.name == "none" || c.name == "all-flags" || c.name == "both"
}

// mediaBound is how long a traced run may take: twice the untraced run
// plus 3 s; under a memory checker, whose instrumented plugin is slow,
// three times plus 10 s. The hard timeout, at which a run still going is
// killed as hung, is well above it.
func mediaBound(untraced time.Duration) (bound, hard time.Duration) {
	bound = 2*untraced + 3*time.Second
	if memoryChecker() != "" {
		bound = 3*untraced + 10*time.Second
	}
	return bound, 2*bound + 5*time.Second
}

// The real-media suite: ordinary media pipelines (Debian's codecs, muxers,
// demuxers, RTP, mixers, decodebin, appsrc/appsink) under every tracer
// configuration finish as they do untraced (same exit code, within
// mediaBound of the untraced wall time), and wherever the latency tracer
// runs, gstreamer_pad_buffers_total of the probed pads (sinks, codecs'
// src pads) is exactly what the app's own pad probes counted. A run that
// hangs is killed and reported with its threads' stacks.
func TestRealMedia(t *testing.T) {
	m := mediaFiles(t)
	for _, p := range mediaPipelines {
		t.Run(p.name, func(t *testing.T) {
			// The untraced run, made once by the first subtest that runs
			// (none, or the one -run selected).
			var base *mediaRun
			var baseErr []string
			baseline := func(t *testing.T) *mediaRun {
				t.Helper()
				if base == nil && baseErr == nil {
					r := runMedia(t, m, p, mediaConfigs[0], 0)
					logMedia(t, p, nil, &r)
					if baseErr = checkMedia(p, mediaConfigs[0], nil, &r); len(baseErr) == 0 {
						base = &r
					}
				}
				if base == nil {
					t.Fatalf("the untraced run failed, nothing to compare with:\n%s", strings.Join(baseErr, "\n"))
				}
				return base
			}
			for _, c := range mediaConfigs {
				if memoryChecker() != "" && !c.underChecker() {
					continue
				}
				t.Run(c.name, func(t *testing.T) {
					b := baseline(t)
					if c.tracers == "" {
						return
					}
					r := runMedia(t, m, p, c, b.wall)
					logMedia(t, p, b, &r)
					for _, msg := range checkMedia(p, c, b, &r) {
						t.Error(msg)
					}
				})
			}
		})
	}
}

// logMedia logs how run r ended and what its probes saw.
func logMedia(t *testing.T, p mediaPipeline, base, r *mediaRun) {
	t.Helper()
	msg := fmt.Sprintf("exit %d after %v", r.code, r.wall.Round(time.Millisecond))
	if base != nil {
		msg += fmt.Sprintf(" (untraced %v)", base.wall.Round(time.Millisecond))
	}
	var res result
	if r.hung == "" && json.Unmarshal([]byte(r.stdout), &res) == nil {
		msg += "; probes:"
		for _, pad := range p.pads {
			msg += fmt.Sprintf(" %s %d", pad.spec, len(res.Probes[pad.spec]))
		}
	}
	t.Log(msg)
}

// runMedia runs pipeline p under configuration c; untraced is the
// untraced run's wall time, 0 for the untraced run itself.
func runMedia(t *testing.T, m *mediaSet, p mediaPipeline, c mediaConfig, untraced time.Duration) mediaRun {
	t.Helper()
	extra := []string{"GST_REGISTRY=" + m.registry}
	if c.pyroscope {
		extra = append(extra, "GST_PYROSCOPE_SERVER_URL="+pyroscopeURL(t),
			"GST_PYROSCOPE_TRACER_NAME="+uniqueName("media-"+p.name))
	}
	cmd := exec.Command("/usr/bin/python3", p.args(m)...)
	cmd.Env = gstEnv(t, c.tracers, extra...)
	bound, hard := mediaBound(untraced)
	if untraced == 0 { // the baseline itself
		bound, hard = 30*time.Second, 60*time.Second
	}
	return runBounded(cmd, bound, hard)
}

// checkMedia is what is wrong with run r of p under c, given the untraced
// run base (nil for the baseline itself); empty when nothing is.
func checkMedia(p mediaPipeline, c mediaConfig, base, r *mediaRun) []string {
	var msgs []string
	if r.hung != "" {
		msg := fmt.Sprintf("HUNG under %q: %s; killed after %v", c.tracers, r.hung, r.wall.Round(time.Millisecond))
		if r.stacks != "" {
			msg += "\nthreads (innermost frame first):\n" + r.stacks
		}
		return append(msgs, msg+"\nstderr:\n"+tail(r.stderr))
	}
	wantCode := 0
	if base != nil {
		wantCode = base.code
	}
	if r.code != wantCode {
		return append(msgs, fmt.Sprintf("exit code %d under %q, untraced %d\nstderr:\n%s", r.code, c.tracers, wantCode, tail(r.stderr)))
	}
	if base != nil {
		if bound, _ := mediaBound(base.wall); r.wall > bound {
			msgs = append(msgs, fmt.Sprintf("took %v under %q: over the bound %v (untraced %v)",
				r.wall.Round(time.Millisecond), c.tracers, bound.Round(time.Millisecond), base.wall.Round(time.Millisecond)))
		}
	}
	var res result
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		return append(msgs, fmt.Sprintf("app output: %v\n%s\nstderr:\n%s", err, tail(r.stdout), tail(r.stderr)))
	}
	for _, pad := range p.pads {
		if n := len(res.Probes[pad.spec]); n < pad.min {
			msgs = append(msgs, fmt.Sprintf("the app's probe saw %d buffers at %s, want at least %d: the run proves nothing", n, pad.spec, pad.min))
		}
	}
	for key, spec := range p.appCounts {
		if got, n := res.Props[key], len(res.Probes[spec]); got != float64(n) {
			msgs = append(msgs, fmt.Sprintf("the app's %s = %v, its probe at %s saw %d", key, got, spec, n))
		}
	}
	if !c.latency || len(msgs) > 0 {
		return msgs
	}
	var perr []string
	fams, err := parseFamilies(res.Metrics)
	if err != nil {
		return append(msgs, fmt.Sprintf("exposition does not parse: %v\n%s", err, tail(res.Metrics)))
	}
	for _, pad := range p.pads {
		el, name, _ := strings.Cut(pad.spec, ":")
		want := len(res.Probes[pad.spec])
		mt := find(fams, "gstreamer_pad_buffers_total", labels("element", el, "pad", name))
		switch {
		case mt == nil:
			perr = append(perr, fmt.Sprintf("no gstreamer_pad_buffers_total{element=%q,pad=%q}: the app's probe counted %d", el, name, want))
		case mt.GetCounter().GetValue() != float64(want):
			perr = append(perr, fmt.Sprintf("gstreamer_pad_buffers_total{element=%q,pad=%q} = %v, the app's probe counted %d",
				el, name, mt.GetCounter().GetValue(), want))
		}
	}
	return append(msgs, perr...)
}

// The suite's own checks fail where they must: a process that deadlocks
// (idle past its bound) or spins (busy until the hard timeout) is killed
// and reported as hung, and a run whose probes saw nothing, whose counter
// is off by one or missing, whose exit code differs, or that is too slow
// fails.
func TestRealMediaHarness(t *testing.T) {
	t.Run("deadlocked", func(t *testing.T) {
		r := runBounded(exec.Command("sleep", "60"), time.Second, 20*time.Second)
		if !strings.HasPrefix(r.hung, "deadlocked") || r.wall > 8*time.Second {
			t.Errorf("sleep 60 with a 1 s bound: hung %q after %v, want deadlocked within 8 s", r.hung, r.wall)
		}
		t.Logf("%s; stacks:\n%s", r.hung, r.stacks)
	})
	t.Run("spinning", func(t *testing.T) {
		r := runBounded(exec.Command("/usr/bin/python3", "-c", "while True: pass"), time.Second, 3*time.Second)
		if !strings.HasPrefix(r.hung, "still running at the hard timeout") || r.wall > 5*time.Second {
			t.Errorf("a busy loop with a 3 s hard timeout: hung %q after %v", r.hung, r.wall)
		}
	})
	t.Run("exits", func(t *testing.T) {
		r := runBounded(exec.Command("sh", "-c", "echo out; echo err >&2; exit 3"), time.Second, 3*time.Second)
		if r.hung != "" || r.code != 3 || r.stdout != "out\n" || r.stderr != "err\n" {
			t.Errorf("sh exiting 3: %+v", r)
		}
	})

	p := mediaPipeline{name: "fake", pads: []mediaPad{{"enc:src", 5}, {"sink:sink", 5}},
		appCounts: map[string]string{"app:pulled": "sink:sink"}}
	traced := mediaConfigs[1]
	out := func(enc, sink, pulled int, counts string) string {
		probes := func(n int) string { return "[" + strings.TrimSuffix(strings.Repeat("[0,0],", n), ",") + "]" }
		metrics := "# TYPE gstreamer_pad_buffers_total counter\n" + counts
		b, _ := json.Marshal(map[string]any{"metrics": metrics, "props": map[string]int{"app:pulled": pulled},
			"probes": json.RawMessage(fmt.Sprintf(`{"enc:src": %s, "sink:sink": %s}`, probes(enc), probes(sink)))})
		return string(b)
	}
	good := "gstreamer_pad_buffers_total{element=\"enc\",pad=\"src\",pipeline=\"pipeline0\"} 7\n" +
		"gstreamer_pad_buffers_total{element=\"sink\",pad=\"sink\",pipeline=\"pipeline0\"} 6\n"
	base := &mediaRun{wall: time.Second}
	ok := &mediaRun{wall: 2 * time.Second, stdout: out(7, 6, 6, good)}
	if msgs := checkMedia(p, traced, base, ok); len(msgs) != 0 {
		t.Fatalf("a good run fails: %q", msgs)
	}
	for _, c := range []struct {
		name string
		r    mediaRun
		want string
	}{
		{"probes saw nothing", mediaRun{wall: time.Second, stdout: out(0, 0, 0, "")}, "the run proves nothing"},
		{"too few buffers", mediaRun{wall: time.Second, stdout: out(7, 4, 4, good)}, "want at least 5"},
		{"off by one", mediaRun{wall: time.Second, stdout: out(7, 5, 5, good)}, "= 6, the app's probe counted 5"},
		{"no counter", mediaRun{wall: time.Second, stdout: out(7, 6, 6, strings.SplitAfter(good, "\n")[0])}, "no gstreamer_pad_buffers_total{element=\"sink\""},
		{"app count differs", mediaRun{wall: time.Second, stdout: out(7, 6, 5, good)}, "app:pulled = 5"},
		{"exit code", mediaRun{code: 1, wall: time.Second}, "exit code 1"},
		{"too slow", mediaRun{wall: 5100 * time.Millisecond, stdout: out(7, 6, 6, good)}, "over the bound 5s"},
		{"hung", mediaRun{code: -1, hung: "deadlocked: x", wall: time.Second}, "HUNG"},
	} {
		msgs := checkMedia(p, traced, base, &c.r)
		if memoryChecker() != "" && c.name == "too slow" {
			continue // the bound is wider there
		}
		if !strings.Contains(strings.Join(msgs, "\n"), c.want) {
			t.Errorf("%s: got %q, want a failure saying %q", c.name, msgs, c.want)
		}
	}
	// The baseline itself must see buffers too.
	if msgs := checkMedia(p, mediaConfigs[0], nil, &mediaRun{wall: time.Second, stdout: out(0, 0, 0, "")}); len(msgs) == 0 {
		t.Error("an untraced baseline whose probes saw nothing passes")
	}
}
