package integration

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Decoders behind dynamic pads: decodebin, uridecodebin and uridecodebin3
// plug their demuxers and decoders while the pipeline starts. The sink
// counts what the app's own probe counted, the decoder passes the same
// number of buffers on, and the elements inside the bins carry their paths.
func TestDecodebinDynamicPads(t *testing.T) {
	dir := t.TempDir()
	const frames = 40
	media := map[string]string{
		"a.ogg": "audiotestsrc num-buffers=50 ! vorbisenc ! oggmux",
		"v.avi": fmt.Sprintf("videotestsrc num-buffers=%d ! video/x-raw,width=64,height=48 ! jpegenc ! avimux", frames),
		"v.ogg": fmt.Sprintf("videotestsrc num-buffers=%d ! video/x-raw,width=64,height=48 ! theoraenc ! oggmux", frames),
	}
	for file, enc := range media {
		runPipeline(t, nil, "-q "+enc+" ! filesink location="+filepath.Join(dir, file))
	}
	for _, c := range []struct {
		name, pipeline   string
		frames           int // the sink's count when known in advance, else 0
		decoder, demuxer string
		decPath, demPath string // the elements' path labels
	}{
		{"decodebin ogg vorbis", "filesrc location=" + filepath.Join(dir, "a.ogg") + " ! decodebin name=dec ! audioconvert ! fakesink name=sink",
			0, "vorbisdec", "oggdemux", `^dec/vorbisdec\d+$`, `^dec/oggdemux\d+$`},
		{"uridecodebin avi jpeg", "uridecodebin name=dec uri=file://" + filepath.Join(dir, "v.avi") + " ! videoconvert ! fakesink name=sink",
			frames, "jpegdec", "avidemux", `^dec/decodebin\d+/jpegdec\d+$`, `^dec/decodebin\d+/avidemux\d+$`},
		{"uridecodebin3 ogg theora", "uridecodebin3 name=dec uri=file://" + filepath.Join(dir, "v.ogg") + " ! videoconvert ! fakesink name=sink",
			frames, "theoradec", "oggdemux", `^dec/decodebin3-\d+/theoradec\d+$`, `^dec/urisourcebin\d+/parsebin\d+/oggdemux\d+$`},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := measure(t, gstEnv(t, tracerAll), c.pipeline, "--probe", "sink:sink")
			probe := float64(len(r.Probes["sink:sink"]))
			if probe == 0 || (c.frames > 0 && probe != float64(c.frames)) {
				t.Fatalf("the app's probe saw %v buffers at the sink (encoded %d)", probe, c.frames)
			}
			if got := counter(t, r, "gstreamer_pad_buffers_total", labels("element", "sink", "pad", "sink")); got != probe {
				t.Errorf("sink:sink buffers = %v, the app counted %v", got, probe)
			}
			dec := elementOf(t, r, c.decoder, c.decPath)
			elementOf(t, r, c.demuxer, c.demPath)
			if got := counter(t, r, "gstreamer_pad_buffers_total", labels("element", dec, "pad", "src")); got != probe {
				t.Errorf("%s:src buffers = %v, the sink got %v", dec, got, probe)
			}
		})
	}
}

// elementOf is the path label of the one element made by factory; it must
// match the pattern.
func elementOf(t *testing.T, r *result, factory, pattern string) string {
	t.Helper()
	var paths []string
	for _, m := range r.Fams["gstreamer_element_latency_seconds"].GetMetric() {
		var el, fac string
		for _, l := range m.Label {
			switch l.GetName() {
			case "element":
				el = l.GetValue()
			case "factory":
				fac = l.GetValue()
			}
		}
		if fac == factory {
			paths = append(paths, el)
		}
	}
	if len(paths) != 1 || !regexp.MustCompile(pattern).MatchString(paths[0]) {
		t.Fatalf("%s elements %q, want one matching %s", factory, paths, pattern)
	}
	t.Logf("%s is %s", factory, paths[0])
	return paths[0]
}

// dynamicRun is what test/apps/dynamic.py printed, one JSON object a line.
type dynamicRun struct {
	removed []removedBranch
	runs    []sequenceRun
	mem     []memSample
	end     struct {
		Metrics  string             `json:"metrics"`
		Probes   map[string]float64 `json:"probes"`
		Branches int                `json:"branches"`
		Elements int                `json:"elements"`
	}
	stderr string
}

// removedBranch: a tee branch the churn app drained and removed.
type removedBranch struct {
	Names  []string           `json:"names"`  // its elements
	Probe  float64            `json:"probe"`  // buffers its sink's probe saw
	Counts map[string]float64 `json:"counts"` // its pads' counts, drained
	TeePad string             `json:"tee_pad"`
	Left   []string           `json:"left"` // its series after removal
}

// sequenceRun: one of the pipelines the sequence app ran to EOS.
type sequenceRun struct {
	Name      string             `json:"name"`
	Src       float64            `json:"src"`  // the app's probe at the source
	Sink      float64            `json:"sink"` // and at the sink
	Counts    map[string]float64 `json:"counts"`
	Pipelines []string           `json:"pipelines"` // in the exposition
}

type memSample struct{ at, rssKB, heapKB float64 }

func runDynamic(t *testing.T, env []string, args ...string) *dynamicRun {
	t.Helper()
	cmd := exec.Command("/usr/bin/python3", append([]string{"../apps/dynamic.py"}, args...)...)
	// Heap figures count what is allocated, not what allocators cache: see
	// memorySlope.
	cmd.Env = append(env, "G_SLICE=always-malloc", "GLIBC_TUNABLES=glibc.malloc.tcache_count=0")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := runWithTimeout(cmd, 150*time.Second); err != nil {
		t.Fatalf("dynamic.py %v: %v\nstderr:\n%s", args, err, tail(errb.String()))
	}
	d := &dynamicRun{stderr: errb.String()}
	sc := bufio.NewScanner(&out)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var line struct {
			RSS     *[3]float64     `json:"rss"`
			Removed *removedBranch  `json:"removed"`
			Run     *sequenceRun    `json:"run"`
			End     json.RawMessage `json:"end"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("dynamic.py output: %v\n%s", err, sc.Text())
		}
		switch {
		case line.RSS != nil:
			d.mem = append(d.mem, memSample{line.RSS[0], line.RSS[1], line.RSS[2]})
		case line.Removed != nil:
			d.removed = append(d.removed, *line.Removed)
		case line.Run != nil:
			d.runs = append(d.runs, *line.Run)
		case line.End != nil:
			if err := json.Unmarshal(line.End, &d.end); err != nil {
				t.Fatalf("dynamic.py output: %v\n%s", err, sc.Text())
			}
		}
	}
	if d.end.Elements == 0 {
		t.Fatalf("dynamic.py %v ended early:\n%s", args, tail(d.stderr))
	}
	return d
}

// A tee whose branches come and go while it plays (dynamic.py churn): every
// 100 ms for 14 s a branch "queue ! identity ! fakesink" is added, and the
// oldest removed with the blocking-probe dance. Before its removal each
// branch counts exactly what its sink's probe saw; after it, none of its
// series is left, and no series without a pipeline or element label (the
// app keeps removed elements alive); at the end the elements that stayed
// count exactly what the probes saw; memory does not grow with the
// branches (slopes from 5 s on, when the slots of the removed elements the
// app keeps alive have waited out their first quarantine; RSS without
// pyroscope only).
func TestDynamicBranches(t *testing.T) {
	for _, both := range []bool{false, true} {
		t.Run(map[bool]string{false: "latency", true: "both tracers"}[both], func(t *testing.T) {
			env, profile := dynamicEnv(t, both)
			d := runDynamic(t, env, "churn", "14")
			if len(d.removed) < 120 || len(d.removed) != d.end.Branches-3 {
				t.Fatalf("%d branches created, %d removed: the churn did not run", d.end.Branches, len(d.removed))
			}
			var bad []string
			gone := map[string]bool{}
			for _, b := range d.removed {
				if b.Probe == 0 || len(b.Counts) != 5 {
					bad = append(bad, fmt.Sprintf("%v: probe %v, counts %v", b.Names, b.Probe, b.Counts))
				}
				for pad, n := range b.Counts {
					if n != b.Probe {
						bad = append(bad, fmt.Sprintf("%s counted %v, the branch's sink saw %v", pad, n, b.Probe))
					}
				}
				if len(b.Left) > 0 {
					bad = append(bad, fmt.Sprintf("after removing %v (tee pad %s), its series stay: %q", b.Names, b.TeePad, b.Left))
				}
				for _, n := range b.Names {
					gone[n] = true
				}
			}
			reportAll(t, "removed branches", bad)

			r := &result{Metrics: d.end.Metrics, Fams: parseExposition(t, d.end.Metrics)}
			for pad, want := range d.end.Probes {
				el, p, _ := strings.Cut(pad, ":")
				if got := counter(t, r, "gstreamer_pad_buffers_total", labels("pipeline", "churn", "element", el, "pad", p)); got != want {
					t.Errorf("%s buffers = %v, the app's probe saw %v", pad, got, want)
				}
			}
			for name, f := range r.Fams {
				for _, m := range f.Metric {
					for _, l := range m.Label {
						if gone[l.GetValue()] {
							t.Errorf("%s%v at the end, of a removed element", name, m.Label)
						}
						if (l.GetName() == "pipeline" || l.GetName() == "element") && l.GetValue() == "" {
							t.Errorf("%s%v at the end: an element in no pipeline (the app keeps removed ones alive)", name, m.Label)
						}
					}
				}
			}
			t.Logf("%d branches (%d elements) created, %d removed; the source sent %v buffers",
				d.end.Branches, d.end.Elements, len(d.removed), d.end.Probes["src:src"])
			// With pyroscope, RSS after its first upload (~10 s) would be
			// fitted over 3 s, where Go's collector alone moves it by
			// hundreds of kB: TestPipelineSequence judges that RSS.
			memorySlope(t, d, 3, 5, map[bool]float64{false: 5, true: 1e9}[both], 250)
			if f := profile(); f != nil && f.Roots["churn"] == 0 {
				t.Errorf("no CPU of pipeline churn in the profile: %v", f.Roots)
			}
		})
	}
}

// 500 pipelines of 5 elements, one after the other in one process
// (dynamic.py sequence), each run to EOS and released: after each, the
// exposition holds that pipeline's series only, every pad counts what the
// app's probes saw, and memory does not grow with the pipelines (slopes over
// the ~450 after 3 s; RSS with pyroscope after its first upload, ~10 s).
func TestPipelineSequence(t *testing.T) {
	n := 500
	if memoryChecker() != "" {
		// Memory is not judged under a checker (see memorySlope): the
		// run is for the checker's eyes, and 150 pipelines show it every
		// path that 500 do.
		n = 150
	}
	for _, both := range []bool{false, true} {
		t.Run(map[bool]string{false: "latency", true: "both tracers"}[both], func(t *testing.T) {
			env, profile := dynamicEnv(t, both)
			d := runDynamic(t, env, "sequence", fmt.Sprint(n))
			if len(d.runs) != n {
				t.Fatalf("%d pipelines ran, want %d", len(d.runs), n)
			}
			var bad []string
			for _, r := range d.runs {
				if r.Src == 0 || r.Sink != r.Src {
					bad = append(bad, fmt.Sprintf("%s: the app's probes saw %v buffers leave the source and %v arrive", r.Name, r.Src, r.Sink))
				}
				if len(r.Pipelines) != 1 || r.Pipelines[0] != r.Name {
					bad = append(bad, fmt.Sprintf("while %s ran, the exposition had pipelines %q", r.Name, r.Pipelines))
				}
				if len(r.Counts) != 8 {
					bad = append(bad, fmt.Sprintf("%s: %d pad series, want 8: %v", r.Name, len(r.Counts), r.Counts))
				}
				for pad, c := range r.Counts {
					if c != r.Sink {
						bad = append(bad, fmt.Sprintf("%s %s counted %v, the app's probe %v", r.Name, pad, c, r.Sink))
					}
				}
			}
			reportAll(t, "pipelines", bad)
			memorySlope(t, d, 5, 3, map[bool]float64{false: 3, true: 12}[both], 1500)
			// Each pipeline uses ~10 ms of CPU: at 100 Hz, some are sampled.
			if f := profile(); f != nil {
				seq := 0
				for root := range f.Roots {
					if strings.HasPrefix(root, "seq") {
						seq++
					}
				}
				if seq == 0 {
					t.Errorf("no pipeline seqN in the profile: %v", f.Roots)
				}
				t.Logf("%d of the %d pipelines are in the profile", seq, n)
			}
		})
	}
}

// dynamicEnv is the latency tracer alone, or both tracers with a real
// Pyroscope; then profile() waits for the run's profile (nil without).
func dynamicEnv(t *testing.T, both bool) ([]string, func() *flame) {
	if !both {
		return gstEnv(t, tracerAll), func() *flame { return nil }
	}
	base, service := pyroscopeURL(t), uniqueName("dynamic")
	return bothEnv(t, base, service), func() *flame {
		f := waitFlame(t, base, `{service_name="`+service+`"}`)
		return &f
	}
}

// reportAll fails with the number of problems and the first few.
func reportAll(t *testing.T, what string, bad []string) {
	t.Helper()
	if len(bad) > 0 {
		t.Errorf("%d problems with the %s, first: \n%s", len(bad), what, strings.Join(bad[:min(len(bad), 5)], "\n"))
	}
}

// memorySlope fails when memory grows with the elements the app creates
// and destroys. It fits a least-squares line to memory against the number
// of elements created so far (perStep per sample the app reported), from
// the sample at time from on, and bounds its slope: a window's ends would
// measure whatever the allocator or a collector did at those instants, a
// slope over hundreds of pipelines measures what each one leaves behind.
// The app runs with G_SLICE=always-malloc (runDynamic): GLib 2.74's slice
// allocator keeps ~1.35 MB after a fresh registry and returns it ~16 s later.
// And without glibc's per-thread caches (tcache_count=0): mallinfo2 counts a
// freed chunk that waits in a thread's cache (up to 7 per size class per
// thread) as in use, and those caches fill over tens of seconds (bounded,
// but not within a run), the more so the more threads the process has. With
// the latency tracer (and its Go threads), they made 0.15-0.32 kB per element of
// TestDynamicBranches' slope over 14 s (bound 0.25), while heaptrack counted
// no growing allocation of gstscope's: only the app's PyGObject closures,
// ~0.03 kB per element, the same without gstscope.
//
//   - malloc's heap in use (mallinfo2, all arenas) holds gstscope's slots
//     and rings. Without gstscope these apps grow it by ~0.02 kB per element
//     created (sequence: 0.105-0.13 kB per pipeline of 5); the bound is 0.25
//     kB per element: a leak of 0.5 kB per element fails.
//   - RSS also holds Go's heap, which its collector moves by hundreds of kB
//     either way, and with pyroscope the first upload (~10 s) adds ~1 MB:
//     RSS is fitted from rssFrom (after that upload when pyroscope runs),
//     with a bound of 2 kB per element, for leaks outside malloc.
func memorySlope(t *testing.T, d *dynamicRun, perStep int, from, rssFrom float64, minElements int) {
	t.Helper()
	if memoryChecker() != "" {
		// make asan: AddressSanitizer keeps freed memory in quarantine and
		// replaces malloc; memory is checked in the plain runs.
		t.Log("memory growth not checked under a memory checker")
		return
	}
	fit := func(start float64, v func(memSample) float64) (slope float64, n int) {
		var sx, sy, sxx, sxy float64
		for i, s := range d.mem {
			if s.at < start {
				continue
			}
			x, y := float64(i*perStep), v(s)
			sx, sy, sxx, sxy = sx+x, sy+y, sxx+x*x, sxy+x*y
			n++
		}
		if n < 2 {
			return 0, n
		}
		fn := float64(n)
		return (fn*sxy - sx*sy) / (fn*sxx - sx*sx), n
	}
	heap, nh := fit(from, func(s memSample) float64 { return s.heapKB })
	rss, nr := fit(rssFrom, func(s memSample) float64 { return s.rssKB })
	if rssFrom > d.mem[len(d.mem)-1].at {
		nr = minElements // RSS not judged (see the caller)
	}
	last := d.mem[len(d.mem)-1]
	t.Logf("memory slopes: malloc heap %+.3f kB per element over %d elements (from %.0f s), RSS %+.3f kB per element over %d (from %.0f s); at the end heap %.0f kB, RSS %.0f kB",
		heap, nh*perStep, from, rss, nr*perStep, rssFrom, last.heapKB, last.rssKB)
	if nh*perStep < minElements || nr*perStep < minElements/4 {
		t.Fatalf("too few elements created after warm-up (%d for the heap, %d for RSS): the run was too short", nh*perStep, nr*perStep)
	}
	if heap > 0.25 {
		t.Errorf("malloc heap grows %.3f kB per element created and destroyed (bound 0.25)", heap)
	}
	if rss > 2 {
		t.Errorf("RSS grows %.3f kB per element created and destroyed (bound 2)", rss)
	}
}
