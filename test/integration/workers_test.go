package integration

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Codec libraries run their own threads (x264's frame threads, libav's
// frame threads), which run no GStreamer hook and inherit the name of the
// streaming thread that opened the codec. Their CPU belongs to the element
// that owns the codec: in the profile (the element's stack → workers:<element>,
// never a frame named after the borrowed thread name) and in
// gstreamer_element_cpu_seconds_total.
//
// The ground truth is A/B runs without any tracer, from the process's CPU
// clock: x264enc costs what `src ! x264enc ! fakesink` uses over
// `src ! fakesink`; avdec_h264 what decoding the same stream from a file
// costs (`filesrc ! h264parse ! avdec_h264 ! videoconvert ! fakesink` over
// `filesrc ! h264parse ! fakesink`). Each is taken as a share of the whole
// pipeline's CPU, and each element's charged share of the traced run's
// process CPU must be within 10 points of it.
//
// Why not the whole pipeline over the one that stops at h264parse, for the
// decoder: on two cores, the decoder's threads slow x264's (shared caches
// and memory bandwidth: from the threads' own CPU clocks over 10 rounds, the
// decoder's threads used 0.120 s, the streaming thread 0.049 s more, and
// x264's threads 0.029 s more, of an A/B difference of 0.201 s). That A/B
// charges the decoder with x264's slowdown, 5-13 points of the process CPU
// here, which the profile rightly leaves to x264enc, where it is spent; it
// is logged. Decoding alone, the decoder runs a little faster than beside
// the encoder (its own threads are slowed too), so that truth errs the other
// way, by a few points.
//
// CPU times on these shared machines move by 10-20% from one run to the
// next, and drift while other work comes and goes: five rounds run every
// pipeline in turn (so that the runs compared are close in time), and the
// medians per pipeline are compared; 200 frames keep that within half a
// minute. The traced runs sample at 1000 Hz (every kernel tick), so that
// the few milliseconds per frame avdec_h264 spends on the streaming thread
// are caught often enough.
func TestProfileCodecWorkerThreads(t *testing.T) {
	base := pyroscopeURL(t)
	const (
		src  = "videotestsrc num-buffers=200 ! video/x-raw,width=640,height=360"
		enc  = "x264enc name=enc speed-preset=ultrafast threads=2"
		full = src + " ! " + enc + " ! h264parse ! avdec_h264 name=dec ! videoconvert ! fakesink"
	)
	tracers := bothTracers
	if memoryChecker() != "" {
		// Shares mean nothing there, but the worker threads' timers, their
		// signal handler and the attribution run under it all the same.
		name := uniqueName("workers")
		r := measure(t, gstEnv(t, tracers, "GST_PYROSCOPE_SERVER_URL="+base,
			"GST_PYROSCOPE_TRACER_NAME="+name, "GST_PYROSCOPE_SAMPLE_RATE=1000"), full)
		f := waitFlame(t, base, `{service_name="`+name+`"}`)
		for _, e := range []string{"enc", "dec"} {
			if _, threads := elementCPU(f, e); threads == 0 {
				t.Errorf("no CPU under %s's threads: %v", e, f.Paths)
			}
			if c := counter(t, r, "gstreamer_element_cpu_seconds_total", labels("element", e)); c == 0 {
				t.Errorf("%s's counter is 0", e)
			}
		}
		return
	}
	median := func(v []float64) float64 {
		s := slices.Clone(v)
		slices.Sort(s)
		return s[len(s)/2]
	}
	untraced := func(pipeline string) float64 {
		return float64(measure(t, gstEnv(t, ""), pipeline).CPUNs) / 1e9
	}
	// The stream the decoder decodes, made once by the same encoder.
	stream := filepath.Join(t.TempDir(), "stream.h264")
	runPipeline(t, nil, src+" ! "+enc+" ! video/x-h264,stream-format=byte-stream ! filesink location="+stream)
	decode := "filesrc location=" + stream + " ! h264parse ! avdec_h264 ! videoconvert ! fakesink"
	parse := "filesrc location=" + stream + " ! h264parse ! fakesink"
	var cpuFull, cpuParse, cpuEnc, cpuSrc, cpuDecode, cpuFileParse []float64
	charged := map[string][]float64{} // "enc profile", "enc counter", ...
	var inWorkers, unclaimed []float64
	// rounds runs every pipeline n times in turn, and the traced one every
	// other round, up to traced times; then reads the profiles back.
	rounds := func(n, traced int) {
		var names []string
		var results []*result
		for round := range n {
			cpuFull = append(cpuFull, untraced(full))
			cpuParse = append(cpuParse, untraced(src+" ! "+enc+" ! h264parse ! fakesink"))
			cpuEnc = append(cpuEnc, untraced(src+" ! "+enc+" ! fakesink"))
			cpuSrc = append(cpuSrc, untraced(src+" ! fakesink"))
			cpuDecode = append(cpuDecode, untraced(decode))
			cpuFileParse = append(cpuFileParse, untraced(parse))
			i := len(cpuFull) - 1
			t.Logf("round %d, untraced CPU: full %.3fs, to h264parse %.3fs, to x264enc %.3fs, source only %.3fs; from the file: decoding %.3fs, parsing %.3fs",
				i, cpuFull[i], cpuParse[i], cpuEnc[i], cpuSrc[i], cpuDecode[i], cpuFileParse[i])
			if round%2 == 0 && len(names) < traced {
				name := uniqueName("workers")
				env := gstEnv(t, tracers, "GST_PYROSCOPE_SERVER_URL="+base, "GST_PYROSCOPE_TRACER_NAME="+name,
					"GST_PYROSCOPE_SAMPLE_RATE=1000")
				names, results = append(names, name), append(results, measure(t, env, full))
			}
		}
		// What the profile (read back from the server) and the counter
		// charge, as shares of each traced run's process CPU.
		for i, name := range names {
			f := waitFlame(t, base, `{service_name="`+name+`"}`)
			cpu := float64(results[i].CPUNs) / 1e9
			var workers float64
			for _, e := range []string{"enc", "dec"} {
				self, threads := elementCPU(f, e)
				workers += threads
				c := counter(t, results[i], "gstreamer_element_cpu_seconds_total", labels("element", e))
				charged[e+" profile"] = append(charged[e+" profile"], (self+threads)/cpu)
				charged[e+" counter"] = append(charged[e+" counter"], c/cpu)
				t.Logf("traced run %s, %s: profile %.3fs (%.3fs on the streaming thread, %.3fs on its own threads), counter %.3fs, of %.3fs",
					name, e, self+threads, self, threads, c, cpu)
			}
			inWorkers = append(inWorkers, workers)
			workerFrames(t, f, "enc", "dec")
			// The codec threads carry the streaming thread's name; at the
			// root, that name is CPU nobody claimed.
			unclaimed = append(unclaimed, float64(f.Roots["thread:videotestsrc0:s"])/1e9/cpu)
			var unowned []string
			for p, ns := range f.Paths {
				if strings.HasPrefix(p, "thread:") && ns > 0 {
					unowned = append(unowned, p)
				}
			}
			slices.Sort(unowned)
			t.Logf("traced run %s, threads in no element: %v", name, unowned)
		}
	}
	// check compares the medians: per pipeline (a run that a burst of
	// other work slowed is one of several of its pipeline's), then the
	// differences. report false: only says whether all are within bounds.
	check := func(report bool) bool {
		truth := map[string]float64{
			"enc": (median(cpuEnc) - median(cpuSrc)) / median(cpuFull),
			"dec": (median(cpuDecode) - median(cpuFileParse)) / median(cpuFull),
		}
		if report {
			t.Logf("avdec_h264: the whole pipeline over the one stopping at h264parse: %.1f%% (x264's slowdown beside the decoder included)",
				(median(cpuFull)-median(cpuParse))/median(cpuFull)*100)
		}
		ok := true
		for _, e := range []string{"enc", "dec"} {
			for _, what := range []string{"profile", "counter"} {
				shares := charged[e+" "+what]
				got := median(shares)
				switch {
				case math.Abs(got-truth[e]) <= 0.10:
					if report {
						t.Logf("%s: the %s charges %.1f%% (runs %.3f), true share %.1f%%", e, what, got*100, shares, truth[e]*100)
					}
				case report:
					t.Errorf("%s: the %s charges %.1f%% of the process CPU (runs %.3f), true share %.1f%% ± 10 points",
						e, what, got*100, shares, truth[e]*100)
					fallthrough
				default:
					ok = false
				}
			}
		}
		return ok
	}
	rounds(5, 3)
	// Five rounds leave a few points of noise in each median on this
	// machine: a result off the bounds is measured again with twice the
	// runs before it counts.
	if !check(false) {
		t.Logf("a share is off by more than 10 points after %d rounds: %d more", len(cpuFull), 5)
		rounds(5, 2)
	}
	check(true)
	if median(inWorkers) == 0 {
		t.Errorf("no CPU under an element's thread: frame")
	}
	if u := median(unclaimed); u > 0.03 {
		t.Errorf("%.1f%% of the process CPU is under thread:videotestsrc0:s, in no element (runs %.3f)", u*100, unclaimed)
	}
}

// vp8enc threads=4 behind a queue: libvpx's threads carry the queue's
// thread name (encq:src) and do a large part of the encoding; a burner on
// the same streaming thread, just before the encoder (scopeburn, 3 ms per
// frame, counting what it spends), costs about as much as the encoder, so
// the share is mid-range and a neighbour on the same thread is checked
// too. Good-quality mode (a deadline) keeps libvpx from trading quality for
// speed as the machine's load moves, as its realtime mode does.
//
// libvpx spins: its VP8 row threads wait for the row above in a bare pause
// loop (vp8_atomic_spin_wait, no yield: 84-93% of vp8enc's samples under
// `perf record` on this loaded machine were two pause loops in libvpx). A
// waiting thread burns CPU until the one it waits for runs again, so
// vp8enc's CPU follows whatever else wants the two cores: 0.77 s and 3.2 s
// for the same 150 frames in two untraced runs a minute apart here, and a
// traced run (the sampler is one more thread to schedule) spins more often
// than an untraced one. An A/B of untraced runs then compares the profile
// with a different amount of spinning (here: profile 46%, 81%, 86% in three
// traced runs, untraced A/B 57-88%, median 63%). So the A of each A/B is
// the very run that is profiled: the encoder's share of that run is its CPU
// less the median CPU of the same pipeline without the encoder (B, traced
// alike, a burner-bound 0.5 s that moves little). The burner sits after the
// queue, not before it, so that it never runs beside libvpx's threads and
// makes them wait. Checked, per traced run:
//   - the profile's vp8enc share (its frames and its workers:enc frame, and
//     its counter) within 10 points of that A/B share;
//   - the same against the kernel's count of the run's threads (the
//     application reads /proc at PLAYING and at EOS): libvpx's workers
//     (every encq:src thread but the queue's own, which the application
//     identifies) plus the queue's thread less what the burner burnt there
//     (the queue and the sink, a few ms, are left in this truth);
//   - the burner's share within 3 points of its own count;
//   - nothing left under thread:encq:src, and the workers:enc frame under
//     the one enc frame.
func TestProfileVP8WorkerThreads(t *testing.T) {
	if memoryChecker() != "" {
		t.Skip("CPU shares mean nothing under a memory checker")
	}
	base := pyroscopeURL(t)
	const (
		src  = "videotestsrc num-buffers=150 ! video/x-raw,width=320,height=180 ! queue name=encq ! scopeburn name=b cpu-us=3000"
		full = src + " ! vp8enc name=enc threads=4 deadline=1000000 cpu-used=8 ! fakesink"
	)
	traced := func(name string) []string {
		return gstEnv(t, bothTracers, "GST_PYROSCOPE_SERVER_URL="+base, "GST_PYROSCOPE_TRACER_NAME="+name,
			"GST_PYROSCOPE_SAMPLE_RATE=1000")
	}
	type run struct {
		cpu, profile, counter, kernel, burnt, burner float64
	}
	var runs []run
	var cpuB []float64
	for range 3 {
		cpuB = append(cpuB, float64(measure(t, traced(uniqueName("vp8-b")), src+" ! fakesink").CPUNs)/1e9)
		name := uniqueName("vp8")
		r := measure(t, traced(name), full, "--threads", "--thread-of", "encq:src", "--prop", "b:burnt-ns")
		f := waitFlame(t, base, `{service_name="`+name+`"}`)
		cpu := float64(r.CPUNs) / 1e9
		self, threads := elementCPU(f, "enc")
		c := counter(t, r, "gstreamer_element_cpu_seconds_total", labels("element", "enc"))
		queue := strconv.Itoa(r.TIDOf["encq:src"])
		if _, ok := r.Threads[queue]; !ok {
			t.Fatalf("no CPU for the queue's thread %s: %v", queue, r.Threads)
		}
		var encq, workers float64
		for tid, th := range r.Threads {
			if th.Name == "encq:src" {
				encq += th.NS / 1e9
				if tid != queue {
					workers += th.NS / 1e9
				}
			}
		}
		burnt := r.Props["b:burnt-ns"] / 1e9
		runs = append(runs, run{cpu: cpu, profile: (self + threads) / cpu, counter: c / cpu,
			kernel: (encq - burnt) / cpu, burnt: burnt / cpu, burner: float64(f.Self["b"]) / 1e9 / cpu})
		t.Logf("traced run %s: enc %.3fs (%.3fs on the streaming thread, %.3fs in workers:enc), counter %.3fs, of %.3fs; thread:encq:src %.3fs; kernel: encq:src threads %.3fs (workers %.3fs), burnt %.3fs; without vp8enc %.3fs",
			name, self+threads, self, threads, c, cpu, float64(f.Roots["thread:encq:src"])/1e9, encq, workers, burnt, cpuB[len(cpuB)-1])
		if u := float64(f.Roots["thread:encq:src"]) / 1e9 / cpu; u > 0.03 {
			t.Errorf("%.1f%% of the process CPU is under thread:encq:src, in no element", u*100)
		}
		workerFrames(t, f, "enc")
	}
	slices.Sort(cpuB)
	b := cpuB[len(cpuB)/2]
	for i, r := range runs {
		ab := (r.cpu - b) / r.cpu
		for _, c := range []struct {
			what      string
			got, want float64
			truth     string
			tol       float64
		}{
			{"vp8enc: the profile", r.profile, ab, "A/B", 0.10},
			{"vp8enc: the counter", r.counter, ab, "A/B", 0.10},
			{"vp8enc: the profile", r.profile, r.kernel, "the kernel's count of its threads", 0.10},
			{"vp8enc: the counter", r.counter, r.kernel, "the kernel's count of its threads", 0.10},
			{"the burner beside it: the profile", r.burner, r.burnt, "its own count", 0.03},
		} {
			if math.Abs(c.got-c.want) > c.tol {
				t.Errorf("run %d: %s charges %.1f%% of the process CPU, %s %.1f%% ± %.0f points", i, c.what, c.got*100, c.truth, c.want*100, c.tol*100)
			} else {
				t.Logf("run %d: %s charges %.1f%%, %s %.1f%%", i, c.what, c.got*100, c.truth, c.want*100)
			}
		}
	}
}

// elementCPU is the CPU the profile charges to element e, in seconds: its
// own frames, and the workers:e frames right under it (its worker threads).
func elementCPU(f flame, e string) (self, threads float64) {
	for p, ns := range f.Paths {
		fr := strings.Split(p, ";")
		last := fr[len(fr)-1]
		switch {
		case last == e:
			self += float64(ns) / 1e9
		case len(fr) >= 2 && fr[len(fr)-2] == e && last == "workers:"+e:
			threads += float64(ns) / 1e9
		}
	}
	return self, threads
}

// workerFrames checks how the profile names worker threads: every frame
// under an element that is not an element is its own workers:<element>
// frame, no thread: frame hangs under an element, and each element's
// workers are at one place only: under the stack where the element itself
// spends most (not under a second frame of its name beside it).
//
// An element may be at other places with CPU of its own: at EOS a codec
// drains from inside the EOS event, and event pushes open no frame, so the
// drain's stack starts at the encoder (pipeline0;enc;h264parse0;dec, ~1 ms)
// rather than under the source that sent the event. Those places hold no
// worker CPU.
func workerFrames(t *testing.T, f flame, elems ...string) {
	t.Helper()
	for p, ns := range f.Paths {
		fr := strings.Split(p, ";")
		if ns == 0 {
			continue
		}
		for i, name := range fr {
			if i > 0 && strings.HasPrefix(name, "thread:") {
				t.Errorf("a thread: frame under %s: %s", fr[i-1], p)
			}
			if w, ok := strings.CutPrefix(name, "workers:"); ok && (i == 0 || fr[i-1] != w) {
				t.Errorf("%s not under its element: %s", name, p)
			}
		}
	}
	for _, e := range elems {
		self := map[string]int64{}    // place of e -> e's own CPU there
		workers := map[string]int64{} // place of e -> CPU in workers:e under it
		var all []string
		for p, ns := range f.Paths {
			fr := strings.Split(p, ";")
			switch i := slices.Index(fr, e); {
			case i < 0:
				continue
			case i == len(fr)-1:
				self[p] += ns
			case i == len(fr)-2 && fr[i+1] == "workers:"+e:
				workers[strings.Join(fr[:i+1], ";")] += ns
			}
			all = append(all, fmt.Sprintf("%s %.4fs", p, float64(ns)/1e9))
		}
		main := ""
		for p, ns := range self {
			if main == "" || ns > self[main] || ns == self[main] && p < main {
				main = p
			}
		}
		for p, ns := range workers {
			if p != main && ns > 0 {
				slices.Sort(all)
				t.Errorf("workers:%s is under %s (%.4fs), not where %s spends most (%s):\n%s",
					e, p, float64(ns)/1e9, e, main, strings.Join(all, "\n"))
			}
		}
	}
}
