package pyroscope

import (
	"os"
	"reflect"
	"slices"
	"testing"
	"time"
)

// Addresses in testdata/maps.txt.
const (
	inX264   = 0x7f3a14e28100
	inAVCode = 0x7f3a15700000
	inLibc   = 0x7f3a16b00010
	inVideo  = 0x7f3a16a00010 // libgstvideo: nobody's
)

var (
	vsrc  = Frame{"pipeline0", "videotestsrc0", "videotestsrc"}
	x264  = Frame{"pipeline0", "enc", "x264enc"}
	avdec = Frame{"pipeline0", "dec", "avdec_h264"}
	avdc2 = Frame{"pipeline1", "dec", "avdec_h264"}
)

var fixtureFactories = map[string]string{
	"videotestsrc": "videotestsrc", "x264enc": "x264", "avdec_h264": "libav",
}

// workerStacks is fakeStacks with worker threads: the threads in hooked
// run hooks (and stream), Arm arms the others, ips is what their timers
// caught, charged what Charge was given.
type workerStacks struct {
	fakeStacks
	hooked  map[int32]bool
	armed   map[int32]bool
	arms    []int32
	ips     []IP
	charged map[Frame]uint64
	gone    map[Frame]bool // elements whose Charge fails
	lookups int
}

func (w *workerStacks) Read(threads []Thread, final bool) []Charge {
	c := w.fakeStacks.Read(threads, final)
	for i := range threads {
		th := &threads[i]
		th.Hooked, th.Streams = w.hooked[th.TID], w.hooked[th.TID]
		th.Armed = w.armed[th.TID] && !th.Gone
		if th.Hooked {
			th.Other = 0
		}
	}
	return c
}

func (w *workerStacks) Arm(tid int32) bool {
	w.arms = append(w.arms, tid)
	w.armed[tid] = true
	return true
}

func (w *workerStacks) IPs(buf []IP) []IP {
	buf = append(buf, w.ips...)
	w.ips = w.ips[:0]
	return buf
}

func (w *workerStacks) Charge(f Frame, ns uint64) bool {
	if w.gone[f] {
		return false
	}
	w.charged[f] += ns
	return true
}

func (w *workerStacks) Plugins() []Plugin { w.lookups++; return fixturePlugins }

func (w *workerStacks) FactoryPlugin(f string) string { w.lookups++; return fixtureFactories[f] }

type workerFixture struct {
	*samplerFixture
	w *workerStacks
}

func newWorkerFixture(t *testing.T) *workerFixture {
	fx := newFixture()
	w := &workerStacks{fakeStacks: *fx.stacks, hooked: map[int32]bool{}, armed: map[int32]bool{},
		charged: map[Frame]uint64{}, gone: map[Frame]bool{}}
	fx.s = newSampler(w)
	fx.stacks = &w.fakeStacks
	fx.s.every = 0
	fx.s.list = func(buf []int32) ([]int32, error) { return append(buf, fx.tids...), nil }
	fx.s.name = func(tid int32) string { return fx.names[tid] }
	var maps []byte
	reads := 0
	libs := fixtureLibraries(t, &maps, &reads)
	libs.plugins = w.Plugins
	fx.s.workers.libs = libs
	return &workerFixture{fx, w}
}

// stream makes tid a hooked streaming thread named name, in frames.
func (fx *workerFixture) stream(tid int32, name string, cpu uint64, frames ...Frame) {
	fx.names[tid] = name
	fx.w.hooked[tid] = true
	fx.set(tid, cpu, frames...)
}

// thread makes tid a thread that runs no hook.
func (fx *workerFixture) thread(tid int32, name string, cpu uint64) {
	fx.names[tid] = name
	fx.set(tid, cpu)
}

func (fx *workerFixture) caught(tid int32, ips ...uint64) {
	for _, ip := range ips {
		fx.w.ips = append(fx.w.ips, IP{tid, ip})
	}
}

// Threads named like a streaming thread are armed; the application's and
// the main thread (Go's runtime threads carry its name) are not. Each
// thread's CPU goes to the element whose library its samples are in, its
// time in libc included, under the element's stack -> workers:<element>, and
// to the element's counter.
func TestWorkersCharged(t *testing.T) {
	fx := newWorkerFixture(t)
	pid := int32(os.Getpid())
	fx.stream(10, "videotestsrc0:s", 0, vsrc, x264, avdec)
	fx.thread(11, "videotestsrc0:s", 0) // x264's
	fx.thread(12, "videotestsrc0:s", 0) // libav's
	fx.thread(13, "python3", 0)         // the application's
	fx.thread(14, "videotestsrc0:s", 0) // one that never runs
	fx.thread(pid, "videotestsrc0:s", 0)
	named := map[int32]int{}
	fx.s.name = func(tid int32) string { named[tid]++; return fx.names[tid] }
	fx.sample(t, t0, nil)
	fx.thread(11, "videotestsrc0:s", 1)
	fx.thread(12, "videotestsrc0:s", 1)
	fx.thread(13, "python3", 1)
	fx.thread(pid, "videotestsrc0:s", 1)
	fx.sample(t, t0.Add(time.Millisecond), nil)
	if slices.Sort(fx.w.arms); !reflect.DeepEqual(fx.w.arms, []int32{11, 12}) {
		t.Errorf("armed %v, want [11 12]", fx.w.arms)
	}
	if named[14] != 0 {
		t.Errorf("an idle thread's name was read")
	}

	p := newPeriod(t0)
	fx.stream(10, "videotestsrc0:s", 10, vsrc, x264, avdec)
	fx.thread(11, "videotestsrc0:s", 101)
	fx.thread(12, "videotestsrc0:s", 51)
	fx.thread(13, "python3", 8)
	fx.thread(pid, "videotestsrc0:s", 4)
	fx.caught(11, inX264, inLibc, inX264)
	fx.caught(12, inLibc, inAVCode)
	fx.sample(t, t0.Add(10*time.Millisecond), p)
	fx.thread(11, "videotestsrc0:s", 131) // in libc only: still x264's
	fx.caught(11, inLibc, inLibc, inLibc, inLibc)
	fx.sample(t, t0.Add(20*time.Millisecond), p)
	want := map[string]int64{
		"pipeline0;videotestsrc0;enc;dec":             10,
		"pipeline0;videotestsrc0;enc;workers:enc":     130,
		"pipeline0;videotestsrc0;enc;dec;workers:dec": 50,
		"thread:python3":                              7,
		"thread:videotestsrc0:s":                      3, // the main thread
	}
	if got := values(t, p); !reflect.DeepEqual(got, want) {
		t.Errorf("values = %v, want %v", got, want)
	}
	if want := map[Frame]uint64{x264: 130, avdec: 50}; !reflect.DeepEqual(fx.w.charged, want) {
		t.Errorf("counters charged %v, want %v", fx.w.charged, want)
	}
}

// A thread none of whose samples decides (libgstvideo, libc) keeps its CPU
// for holdFor, then it goes to thread:<name>; the last sample charges what
// is held at once. CPU held while the first telling sample comes goes to
// the element.
func TestWorkersUndecided(t *testing.T) {
	fx := newWorkerFixture(t)
	fx.stream(10, "queue0:src", 0, x264)
	fx.thread(11, "queue0:src", 0)
	fx.thread(12, "queue0:src", 0)
	fx.sample(t, t0, nil)
	p := newPeriod(t0)
	fx.stream(10, "queue0:src", 5, x264)
	fx.thread(11, "queue0:src", 20)
	fx.thread(12, "queue0:src", 30)
	fx.caught(11, inVideo, inLibc)
	fx.caught(12, inLibc)
	fx.sample(t, t0.Add(10*time.Millisecond), p)
	if got := values(t, p); !reflect.DeepEqual(got, map[string]int64{"pipeline0;enc": 5}) {
		t.Errorf("undecided CPU charged at once: %v", got)
	}
	fx.thread(11, "queue0:src", 25)
	fx.thread(12, "queue0:src", 40)
	fx.caught(12, inX264)
	fx.sample(t, t0.Add(10*time.Millisecond+holdFor), p)
	want := map[string]int64{"pipeline0;enc": 5, "thread:queue0:src": 25, "pipeline0;enc;workers:enc": 40}
	if got := values(t, p); !reflect.DeepEqual(got, want) {
		t.Errorf("after holdFor: values = %v, want %v", got, want)
	}
	fx.thread(11, "queue0:src", 26)
	if err := fx.s.sample(t0.Add(11*time.Millisecond+holdFor), p, true); err != nil {
		t.Fatal(err)
	}
	want["thread:queue0:src"] = 26
	if got := values(t, p); !reflect.DeepEqual(got, want) {
		t.Errorf("after the last sample: values = %v, want %v", got, want)
	}
}

// A thread belongs to the plugin most of its samples are in; among that
// plugin's elements, to the one on the stacks of the streaming threads of
// its name.
func TestWorkersMajorityAndName(t *testing.T) {
	fx := newWorkerFixture(t)
	fx.stream(10, "a:src", 0, vsrc, avdec)
	fx.stream(20, "b:src", 0, vsrc, avdc2, x264)
	fx.thread(21, "b:src", 0)
	fx.thread(11, "a:src", 0)
	fx.sample(t, t0, nil)
	p := newPeriod(t0)
	fx.stream(10, "a:src", 100, vsrc, avdec) // avdec is the most seen overall
	fx.stream(20, "b:src", 10, vsrc, avdc2, x264)
	fx.thread(21, "b:src", 40)
	fx.thread(11, "a:src", 30)
	fx.caught(21, inX264, inAVCode, inAVCode, inLibc, inAVCode)
	fx.caught(11, inAVCode)
	fx.sample(t, t0.Add(10*time.Millisecond), p)
	want := map[Frame]uint64{avdc2: 40, avdec: 30}
	if !reflect.DeepEqual(fx.w.charged, want) {
		t.Errorf("charged %v, want %v", fx.w.charged, want)
	}
}

// A worker thread that exits hands over what it held; one that starts
// running hooks (a task thread seen before its first hook) is left to its
// stacks; a gone element is charged no more.
func TestWorkersLeave(t *testing.T) {
	fx := newWorkerFixture(t)
	fx.stream(10, "src:src", 0, x264)
	fx.thread(11, "src:src", 0)
	fx.thread(12, "src:src", 0)
	fx.thread(13, "src:src", 0)
	fx.sample(t, t0, nil)
	p := newPeriod(t0)
	fx.stream(10, "src:src", 1, x264)
	fx.thread(11, "src:src", 5) // held: no sample yet
	fx.thread(12, "src:src", 6)
	fx.thread(13, "src:src", 7)
	fx.caught(13, inX264)
	fx.sample(t, t0.Add(10*time.Millisecond), p)
	fx.stacks.table[11].gone = true
	fx.stream(12, "src:src", 9, x264)
	fx.w.gone[x264] = true
	fx.thread(13, "src:src", 10)
	fx.sample(t, t0.Add(20*time.Millisecond), p)
	want := map[string]int64{
		"thread:src:src":            5 + 6, // 12's held CPU when it started running hooks
		"pipeline0;enc":             1 + 3, // 10's, and 12's stack since
		"pipeline0;enc;workers:enc": 7 + 3,
	}
	if got := values(t, p); !reflect.DeepEqual(got, want) {
		t.Errorf("values = %v, want %v", got, want)
	}
	if got := fx.s.workers.threads; len(got) != 1 || got[13] == nil {
		t.Errorf("worker threads tracked: %v, want only 13", got)
	}
	// One that exits between two listings is never seen gone.
	fx.thread(14, "src:src", 0)
	fx.sample(t, t0.Add(30*time.Millisecond), p)
	fx.thread(14, "src:src", 11)
	fx.sample(t, t0.Add(40*time.Millisecond), p)
	fx.tids = slices.DeleteFunc(fx.tids, func(tid int32) bool { return tid == 14 })
	fx.sample(t, t0.Add(50*time.Millisecond), p)
	if got := fx.s.workers.threads; len(got) != 1 {
		t.Errorf("worker threads tracked after 14 left: %v", got)
	}
	want["thread:src:src"] += 11
	if got := values(t, p); !reflect.DeepEqual(got, want) {
		t.Errorf("values = %v, want %v", got, want)
	}
	if want := map[Frame]uint64{x264: 7}; !reflect.DeepEqual(fx.w.charged, want) {
		t.Errorf("counters charged %v, want %v", fx.w.charged, want)
	}
	if _, ok := fx.s.workers.seen[x264]; ok {
		t.Errorf("an element whose counter is gone stays a candidate")
	}
}

// The last sample, which may run while gst_deinit() disposes the tracer,
// asks GStreamer nothing.
func TestWorkersNoLookupsAtTheEnd(t *testing.T) {
	fx := newWorkerFixture(t)
	fx.stream(10, "s", 0, x264)
	fx.thread(11, "s", 0)
	fx.sample(t, t0, nil)
	before := fx.w.lookups
	p := newPeriod(t0)
	fx.thread(11, "s", 5)
	fx.caught(11, inX264)
	if err := fx.s.sample(t0.Add(time.Millisecond), p, true); err != nil {
		t.Fatal(err)
	}
	if fx.w.lookups != before {
		t.Errorf("%d GStreamer lookups in the last sample", fx.w.lookups-before)
	}
	if got := values(t, p); !reflect.DeepEqual(got, map[string]int64{"thread:s": 5}) {
		t.Errorf("values = %v, want thread:s 5 (nothing known to decide)", got)
	}
}
