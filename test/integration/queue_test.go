package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Queue levels and backpressure (issue 16) against what the queue itself
// says: its own current-level-* properties, read by the application just
// before and just after it asks the tracer for its metrics, and the
// upstream thread's wait measured by the thread that waits.

type fillSample struct {
	Queue   string    `json:"queue"`
	Before  [3]uint64 `json:"before"` // buffers, bytes, ns
	After   [3]uint64 `json:"after"`
	Metrics string    `json:"metrics"`
}

type fillResult struct {
	Element string       `json:"element"`
	Samples []fillSample `json:"samples"`
	Pushes  [][2]int64   `json:"pushes"`
	Largest [2]uint64    `json:"largest"`
	RunNs   int64        `json:"run_ns"`
	Metrics string       `json:"metrics"`
	Removed string       `json:"removed"`
}

// queueFill runs test/apps/queuefill.py with args under the latency tracer.
func queueFill(t *testing.T, args ...string) *fillResult {
	t.Helper()
	cmd := exec.Command("/usr/bin/python3", append([]string{"../apps/queuefill.py"}, args...)...)
	cmd.Env = gstEnv(t, "prometheus-latency-tracer(flags=pipeline+element+reported)")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := runWithTimeout(cmd, 90*time.Second); err != nil {
		t.Fatalf("queuefill.py %v: %v\nstderr:\n%s", args, err, tail(errb.String()))
	}
	var r fillResult
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("queuefill.py output: %v\n%s", err, out.String())
	}
	return &r
}

// within: got lies within tol of the range the queue reported around it.
func within(got, a, b, tol uint64) bool {
	lo, hi := min(a, b), max(a, b)
	return got+tol >= lo && got <= hi+tol
}

// checkLevels: at every scrape, each level the tracer gives lies within one
// buffer (the largest that entered the queue) of the queue's own report
// just before and just after. Returns how many scrapes saw the queue hold
// at least full buffers by its own count.
func checkLevels(t *testing.T, r *fillResult, full uint64) int {
	t.Helper()
	if len(r.Samples) < 3 {
		t.Fatalf("only %d scrapes while the pipeline ran", len(r.Samples))
	}
	atFull := 0
	for i, s := range r.Samples {
		fams := parseExposition(t, s.Metrics)
		got := [3]uint64{}
		for k, name := range []string{"gstreamer_queue_level_buffers", "gstreamer_queue_level_bytes", "gstreamer_queue_level_seconds"} {
			m := find(fams, name, labels("pipeline", "flow", "element", r.Element, "queue", s.Queue))
			if m == nil {
				t.Fatalf("scrape %d: no %s for %s %s in:\n%s", i, name, r.Element, s.Queue, s.Metrics)
			}
			v := m.GetGauge().GetValue()
			if k == 2 {
				v *= 1e9
			}
			got[k] = uint64(v + 0.5)
		}
		tol := [3]uint64{1, r.Largest[0], r.Largest[1]}
		for k, what := range []string{"buffers", "bytes", "ns"} {
			if !within(got[k], s.Before[k], s.After[k], tol[k]) {
				t.Errorf("scrape %d (%s): level %d %s, the queue said %d then %d (tolerance one buffer: %d)",
					i, s.Queue, got[k], what, s.Before[k], s.After[k], tol[k])
			}
		}
		if min(s.Before[0], s.After[0]) >= full {
			atFull++
		}
		t.Logf("scrape %d (%s): tracer %v, queue %v then %v", i, s.Queue, got, s.Before, s.After)
	}
	return atFull
}

// A full queue before a slow element (identity sleeping 20 ms per buffer),
// fed by the application's own pushes: the level sits at the queue's
// max-size-buffers, within one buffer of its own report at every scrape;
// the blocked time is the app's time inside its pushes (within 10%) and
// most of the run; the queue's processing is one observation per buffer
// (its own thread's push), not also the upstream thread's wait; and its
// series go when it is removed from the pipeline.
func TestQueueFull(t *testing.T) {
	for _, factory := range []string{"queue", "queue2"} {
		t.Run(factory, func(t *testing.T) {
			const n, size, dur = 60, 1000, 20000000
			r := queueFill(t, "--push", fmt.Sprintf("%d,%d,%d", n, size, dur), "--remove",
				factory+" name=q max-size-buffers=5 max-size-bytes=0 max-size-time=0 ! identity sleep-time=20000 ! fakesink sync=false")
			if r.Largest != [2]uint64{size, dur} {
				t.Fatalf("the queue saw buffers of up to %v, the app pushed %d bytes, %d ns", r.Largest, size, dur)
			}
			if full := checkLevels(t, r, 5); full < 2 {
				t.Errorf("the queue was at its limit (5 buffers) in %d scrapes: not the case under test", full)
			}
			var wait int64
			for _, p := range r.Pushes {
				wait += p[1] - p[0]
			}
			if len(r.Pushes) != n {
				t.Fatalf("%d pushes of %d", len(r.Pushes), n)
			}
			res := &result{Metrics: r.Metrics, Fams: parseExposition(t, r.Metrics)}
			el := labels("pipeline", "flow", "element", "q", "factory", factory)
			blocked := counter(t, res, "gstreamer_queue_blocked_seconds_total", el)
			near(t, "blocked", blocked, float64(wait)/1e9, 0.10, 0)
			if share := blocked / (float64(r.RunNs) / 1e9); share < 0.75 {
				t.Errorf("blocked %.3fs of a %.3fs run (%.0f%%): a full queue blocks most of the time",
					blocked, float64(r.RunNs)/1e9, share*100)
			}
			if c, _ := histMean(t, res, "gstreamer_element_processing_seconds", el); c > n-1 || c < n*8/10 {
				t.Errorf("%d processing observations for %d buffers: want one per buffer (its own thread's push; not the first) and at least 80%% of them", c, n)
			}
			for name := range parseExposition(t, r.Removed) {
				if len(name) > 16 && name[:16] == "gstreamer_queue_" {
					t.Errorf("%s still has series after the queue was removed:\n%s", name, r.Removed)
				}
			}
		})
	}
}

// The levels of a queue fed by a source element on its own thread (the
// running time comes from the source's push) match the queue's own.
func TestQueueLevelsFromSource(t *testing.T) {
	r := queueFill(t, "videotestsrc num-buffers=80 ! video/x-raw,width=64,height=48,framerate=50/1 ! "+
		"queue name=q max-size-buffers=6 max-size-bytes=0 max-size-time=0 ! identity sleep-time=20000 ! fakesink sync=false")
	if full := checkLevels(t, r, 6); full < 2 {
		t.Errorf("the queue was at its limit in %d scrapes: not the case under test", full)
	}
}

// The multiqueue inside decodebin3, before a decoder whose output is slow:
// each of its queues within one buffer of that queue's own pad properties.
func TestQueueMultiqueueInDecodebin3(t *testing.T) {
	file := filepath.Join(t.TempDir(), "video.mkv")
	runPipeline(t, gstEnv(t, ""), "-q videotestsrc num-buffers=100 ! video/x-raw,width=320,height=240,framerate=30/1 ! "+
		"x264enc speed-preset=ultrafast tune=zerolatency key-int-max=30 ! h264parse ! matroskamux ! filesink location="+file)
	r := queueFill(t, "--find", "multiqueue", "filesrc location="+file+" ! decodebin3 name=dec ! identity sleep-time=30000 ! fakesink sync=false")
	if r.Element != "dec/multiqueue0" {
		t.Logf("the multiqueue is %q", r.Element)
	}
	if full := checkLevels(t, r, 2); full < 2 {
		t.Errorf("the multiqueue held 2 buffers or more in %d scrapes: not the case under test", full)
	}
}
