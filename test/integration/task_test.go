package integration

import (
	"fmt"
	"path/filepath"
	"testing"
)

// An element's own task (issue 10): a source, or a demuxer in pull mode,
// gets a processing figure for each buffer it pushes, its work between
// pushes, and not the time it waits for its clock.

// videotestsrc pattern=snow spends ~2 ms of CPU per 640x360 frame. Not live,
// it pushes back to back; live at 30 fps, it waits ~31 ms for its clock
// before each frame. Either way its processing is its CPU per frame, which
// the process's CPU clock over the run gives (the streaming thread does
// almost all of the process's work).
func TestTaskProcessingSource(t *testing.T) {
	for _, c := range []struct {
		name, caps string
		n          int
	}{
		{"not-live", "video/x-raw,width=640,height=360", 100},
		{"live", "video/x-raw,width=640,height=360,framerate=30/1", 45},
	} {
		t.Run(c.name, func(t *testing.T) {
			live := c.name == "live"
			desc := fmt.Sprintf("videotestsrc name=src pattern=snow num-buffers=%d", c.n)
			if live {
				desc += " is-live=true"
			}
			r := measure(t, gstEnv(t, tracerAll), desc+" ! "+c.caps+" ! fakesink name=sink")
			count, mean := histMean(t, r, "gstreamer_element_processing_seconds", labels("element", "src", "factory", "videotestsrc"))
			// The first push has no previous one; the first after the
			// pace is learnt (live) is left out.
			if int(count) < c.n-2 || int(count) > c.n {
				t.Errorf("processing count = %d, want %d buffers less at most 2", count, c.n)
			}
			truth := float64(r.CPUNs) / float64(c.n) / 1e9
			if truth < 0.0005 {
				t.Fatalf("ground truth %.6fs of CPU per frame: snow at 640x360 costs more; the run is wrong", truth)
			}
			if memoryChecker() != "" {
				return
			}
			near(t, "videotestsrc processing", mean, truth, 0.25, 0)
			if live && mean > 0.010 {
				t.Errorf("live videotestsrc processing %.6fs per frame includes its clock wait (33 ms a frame)", mean)
			}
		})
	}
}

// Demuxers and parsers in pull mode: qtdemux and wavparse pull from filesrc
// and push from their own task. Every push after the first has a figure
// the figures are the task's own time: less than the process's CPU.
func TestTaskProcessingPullMode(t *testing.T) {
	dir := t.TempDir()
	mp4, wav := filepath.Join(dir, "av.mp4"), filepath.Join(dir, "tone.wav")
	runPipeline(t, nil, "-q videotestsrc num-buffers=60 ! video/x-raw,width=320,height=240,framerate=30/1 ! x264enc ! mp4mux ! filesink location="+mp4)
	runPipeline(t, nil, "-q audiotestsrc num-buffers=200 ! wavenc ! filesink location="+wav)
	for _, c := range []struct{ name, desc, elem, factory string }{
		{"qtdemux", "filesrc location=" + mp4 + " ! qtdemux name=d ! fakesink name=sink", "d", "qtdemux"},
		{"wavparse", "filesrc location=" + wav + " ! wavparse name=d ! fakesink name=sink", "d", "wavparse"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := measure(t, gstEnv(t, tracerAll), c.desc, "--probe", "sink:sink")
			pushed := len(r.Probes["sink:sink"])
			if pushed == 0 {
				t.Fatal("no buffer reached the sink")
			}
			count, mean := histMean(t, r, "gstreamer_element_processing_seconds", labels("element", c.elem, "factory", c.factory))
			// Every push but the first, and those after the task's pace
			// slowed past 50 us between pushes (from parsing headers to
			// pushing; more often on a loaded machine or under ASan).
			if int(count)*10 < pushed*9 || int(count) > pushed-1 {
				t.Errorf("%s processing count = %d, want at most %d and at least 90%% of them (every push but the first and a few)", c.factory, count, pushed-1)
			}
			if cpu := float64(r.CPUNs) / float64(pushed) / 1e9; mean <= 0 || mean > cpu {
				t.Errorf("%s processing %.6fs per buffer: want more than 0 and at most the process's CPU per buffer, %.6fs", c.factory, mean, cpu)
			} else {
				t.Logf("%s processing %.6fs per buffer, process CPU %.6fs per buffer", c.factory, mean, cpu)
			}
		})
	}
}
