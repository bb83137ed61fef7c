package integration

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// A thread that uses little CPU, in short bursts: an RTP receiver's
// jitterbuffer thread. rtpjitterbuffer's src task pushes each frame's
// packets through the depayloader and the decoder into a synchronised sink,
// then waits in the sink for the frame's time: well under 1 ms of work every
// 33 ms. With tick-driven CPU timers such a thread was seldom caught
// working, and what it used in between went to where it was when the
// sampler read its clock: the sink's self time, where it waits.
//
// The ground truth is the kernel's: the application reads every thread's
// CPU (/proc/self/task/*/schedstat) at PLAYING and at EOS, and notes which
// thread pushes through jb:src (the task's thread; the decoder's frame
// threads carry the same name, jb:src, inherited from it). Checked, as
// shares of the process CPU over the same span:
//   - the profile's stacks of the task's thread (those rooted at jb, less
//     the decoder's workers:dec frame; udpsrc's thread reaches jb through
//     its sink pad, rx;udpsrc0;jb) against the task thread's CPU: within 10
//     points;
//   - workers:dec against the decoder's own threads (every other jb:src
//     thread): within 10 points, and nothing of them left under
//     thread:jb:src beyond 3 points.
//
// The sender is in the same process (x264enc, several times the receiver's
// CPU; 300 frames at 30 fps), at the default sample rate. Within the
// thread, the kernel has no truth to split by element; the split is logged.
func TestProfileJitterbufferThread(t *testing.T) {
	base := pyroscopeURL(t)
	port := freePort(t)
	name := uniqueName("rtp")
	r := measure(t, gstEnv(t, "pyroscope", "GST_PYROSCOPE_SERVER_URL="+base, "GST_PYROSCOPE_TRACER_NAME="+name),
		"--name", "tx", fmt.Sprintf("videotestsrc is-live=true num-buffers=300 ! video/x-raw,width=320,height=240,framerate=30/1 ! "+
			"x264enc tune=zerolatency speed-preset=ultrafast ! rtph264pay ! udpsink host=127.0.0.1 port=%d", port),
		"--name", "rx", fmt.Sprintf("udpsrc port=%d address=127.0.0.1 caps=application/x-rtp,media=video,encoding-name=H264,clock-rate=90000,payload=96 ! "+
			"rtpjitterbuffer name=jb ! rtph264depay name=depay ! avdec_h264 name=dec ! fakesink name=sink sync=true", port),
		"--eos-others", "--threads", "--thread-of", "jb:src")
	f := waitFlame(t, base, `{service_name="`+name+`"}`)
	cpu := float64(r.CPUNs)
	taskTID := strconv.Itoa(r.TIDOf["jb:src"])
	task, ok := r.Threads[taskTID]
	if !ok {
		t.Fatalf("no CPU for the thread that pushed through jb:src (%s): %v", taskTID, r.Threads)
	}
	var decoder float64 // the decoder's threads, by the kernel
	for tid, th := range r.Threads {
		if th.Name == "jb:src" && tid != taskTID {
			decoder += th.NS
		}
	}
	var onThread, workers float64
	var split []string
	for p, ns := range f.Paths {
		fr := strings.Split(p, ";")
		switch {
		case len(fr) < 2 || fr[0] != "rx":
		case fr[len(fr)-1] == "workers:dec":
			workers += float64(ns)
		case fr[1] == "jb":
			onThread += float64(ns)
			split = append(split, fmt.Sprintf("%s %.3fs", p, float64(ns)/1e9))
		}
	}
	slices.Sort(split)
	t.Logf("jb's thread in the profile:\n%s", strings.Join(split, "\n"))
	t.Logf("the sink's self time: %.3fs, %.1f%% of the thread's", float64(f.Self["sink"])/1e9, float64(f.Self["sink"])/onThread*100)
	for _, c := range []struct {
		what      string
		got, want float64
	}{
		{"jb's thread: its stacks in the profile", onThread, task.NS},
		{"avdec_h264's threads: workers:dec", workers, decoder},
	} {
		if memoryChecker() != "" {
			// make asan: the instrumented hooks are slower than the
			// elements they measure; shares are judged in plain runs.
			t.Logf("%s: %.1f%% of the process CPU, the kernel counts %.1f%% (not checked under a memory checker)",
				c.what, c.got/cpu*100, c.want/cpu*100)
		} else if math.Abs(c.got-c.want)/cpu > 0.10 {
			t.Errorf("%s have %.1f%% of the process CPU (%.3fs), the kernel counts %.1f%% (%.3fs): ± 10 points",
				c.what, c.got/cpu*100, c.got/1e9, c.want/cpu*100, c.want/1e9)
		} else {
			t.Logf("%s: %.1f%% of the process CPU (%.3fs), the kernel counts %.1f%% (%.3fs)", c.what, c.got/cpu*100, c.got/1e9, c.want/cpu*100, c.want/1e9)
		}
	}
	if u := float64(f.Roots["thread:jb:src"]) / cpu; u > 0.03 && memoryChecker() == "" {
		t.Errorf("%.1f%% of the process CPU is under thread:jb:src, in no element", u*100)
	}
}
