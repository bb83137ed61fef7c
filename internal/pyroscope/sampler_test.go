package pyroscope

import (
	"errors"
	"os"
	"reflect"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// fakeThread is what the fake Stacks reports for one tid: its cumulative
// CPU clock, whether it exited and its element stack.
type fakeThread struct {
	cpu    uint64
	gone   bool
	frames []Frame
}

// fakeStacks answers Read from a table keyed by tid, as the C side does
// for a thread without a CPU timer: the CPU since the last reading goes to
// the thread's current stack, or to Other for a thread in no element. It
// records, per call, the CPU the sampler passed in and the final flag.
type fakeStacks struct {
	table  map[int32]*fakeThread
	prev   []map[int32]uint64
	finals []bool
}

func (f *fakeStacks) Start(int) error { return nil }
func (f *fakeStacks) Stop()           {}

func (f *fakeStacks) Read(threads []Thread, final bool) []Charge {
	prev := map[int32]uint64{}
	var charges []Charge
	for i := range threads {
		th := &threads[i]
		prev[th.TID] = th.CPU
		ft := f.table[th.TID]
		if ft == nil || ft.gone {
			th.Gone = true
			continue
		}
		var delta uint64
		if ft.cpu > th.CPU {
			delta = ft.cpu - th.CPU
		}
		th.CPU = ft.cpu
		if len(ft.frames) == 0 {
			th.Other = delta
		} else if delta > 0 {
			charges = append(charges, Charge{TID: th.TID, NS: delta, Frames: slices.Clone(ft.frames)})
		}
	}
	f.prev = append(f.prev, prev)
	f.finals = append(f.finals, final)
	return charges
}

type samplerFixture struct {
	s      *sampler
	stacks *fakeStacks
	tids   []int32
	names  map[int32]string
	named  []int32 // tids whose name was read, in order
}

func newFixture() *samplerFixture {
	fx := &samplerFixture{stacks: &fakeStacks{table: map[int32]*fakeThread{}}, names: map[int32]string{}}
	fx.s = newSampler(fx.stacks)
	fx.s.every = 0 // list the threads at every sample
	fx.s.list = func(buf []int32) ([]int32, error) { return append(buf, fx.tids...), nil }
	fx.s.name = func(tid int32) string {
		fx.named = append(fx.named, tid)
		return fx.names[tid]
	}
	return fx
}

func (fx *samplerFixture) set(tid int32, cpu uint64, frames ...Frame) {
	fx.stacks.table[tid] = &fakeThread{cpu: cpu, frames: frames}
	if !slices.Contains(fx.tids, tid) {
		fx.tids = append(fx.tids, tid)
	}
}

func (fx *samplerFixture) sample(t *testing.T, now time.Time, p *period) {
	t.Helper()
	if err := fx.s.sample(now, p, false); err != nil {
		t.Fatal(err)
	}
}

func (fx *samplerFixture) tracked() []int32 {
	var tids []int32
	for tid := range fx.s.threads {
		tids = append(tids, tid)
	}
	slices.Sort(tids)
	return tids
}

func values(t *testing.T, p *period) map[string]int64 {
	t.Helper()
	v, _ := collapse(t, p.profile(p.start.Add(time.Second), 100))
	return v
}

var t0 = time.Unix(1700000000, 0)

func TestSamplerBaselineThenDeltas(t *testing.T) {
	fx := newFixture()
	fx.names[2] = "main"
	fx.set(1, 100, src, conv)
	fx.set(2, 50)
	fx.set(3, 0) // never ran

	// The first sample charges nothing: threads' CPU so far predates it.
	fx.sample(t, t0, nil)
	if len(fx.named) != 0 {
		t.Errorf("names read at the baseline: %v", fx.named)
	}
	if got := fx.tracked(); !reflect.DeepEqual(got, []int32{1, 2, 3}) {
		t.Errorf("tracked threads = %v, want [1 2 3]", got)
	}

	fx.set(1, 130, src, conv)
	fx.set(2, 60)
	p := newPeriod(t0)
	fx.sample(t, t0.Add(10*time.Millisecond), p)
	want := map[string]int64{"pipeline0;src;conv": 30, "thread:main": 10}
	if got := values(t, p); !reflect.DeepEqual(got, want) {
		t.Errorf("values = %v, want %v", got, want)
	}
	// Read gets the previous reading, 0 for threads never read; the
	// baseline read is final, so that CPU not yet matched with a stack
	// before the profiler started is dropped rather than charged later.
	wantPrev := []map[int32]uint64{{1: 0, 2: 0, 3: 0}, {1: 100, 2: 50, 3: 0}}
	if !reflect.DeepEqual(fx.stacks.prev, wantPrev) {
		t.Errorf("CPU passed to Read = %v, want %v", fx.stacks.prev, wantPrev)
	}
	if !reflect.DeepEqual(fx.stacks.finals, []bool{true, false}) {
		t.Errorf("final flags passed to Read = %v, want [true false]", fx.stacks.finals)
	}
	// Only the thread in no element that used CPU is named.
	if !reflect.DeepEqual(fx.named, []int32{2}) {
		t.Errorf("names read for %v, want [2]", fx.named)
	}
}

// A thread leaving its element is charged to its name, not to the frames
// it had at the previous sample.
func TestSamplerFramesDoNotLeak(t *testing.T) {
	fx := newFixture()
	fx.names[1] = "worker"
	fx.set(1, 0, src, conv)
	fx.set(2, 0, appsink)
	fx.sample(t, t0, nil)
	fx.set(1, 5, src, conv)
	fx.set(2, 5, appsink)
	p := newPeriod(t0)
	fx.sample(t, t0.Add(time.Millisecond), p)
	fx.set(1, 12)
	fx.set(2, 9, appsink)
	fx.sample(t, t0.Add(2*time.Millisecond), p)
	want := map[string]int64{"pipeline0;src;conv": 5, "pipeline0;appsink0": 9, "thread:worker": 7}
	if got := values(t, p); !reflect.DeepEqual(got, want) {
		t.Errorf("values = %v, want %v", got, want)
	}
}

// Pooled task threads are renamed, so a name is re-read once it is older
// than threadNameTTL, and not before.
func TestSamplerThreadNameTTL(t *testing.T) {
	fx := newFixture()
	fx.names[7] = "queue0:src"
	fx.set(7, 0)
	fx.sample(t, t0, nil)

	p := newPeriod(t0)
	cpu := uint64(0)
	step := func(at time.Time) {
		cpu += 1
		fx.set(7, cpu)
		fx.sample(t, at, p)
	}
	first := t0.Add(10 * time.Millisecond)
	step(first)
	fx.names[7] = "queue1:src"
	step(first.Add(threadNameTTL))                   // exactly the TTL: still trusted
	step(first.Add(threadNameTTL + time.Nanosecond)) // older: read again
	step(first.Add(threadNameTTL + 2*time.Nanosecond))
	if !reflect.DeepEqual(fx.named, []int32{7, 7}) {
		t.Errorf("names read for %v, want [7 7]", fx.named)
	}
	want := map[string]int64{"thread:queue0:src": 2, "thread:queue1:src": 2}
	if got := values(t, p); !reflect.DeepEqual(got, want) {
		t.Errorf("values = %v, want %v", got, want)
	}
}

// A thread that did not run is neither charged nor named.
func TestSamplerIdleThread(t *testing.T) {
	fx := newFixture()
	fx.set(1, 40)
	fx.set(2, 40, src)
	fx.sample(t, t0, nil)
	p := newPeriod(t0)
	fx.sample(t, t0.Add(time.Millisecond), p)
	if !p.empty() {
		t.Errorf("idle threads charged: %v", values(t, p))
	}
	if len(fx.named) != 0 {
		t.Errorf("names read for idle threads: %v", fx.named)
	}
}

func TestSamplerGoneThreads(t *testing.T) {
	fx := newFixture()
	fx.set(1, 10, src)
	fx.set(2, 10, conv)
	fx.sample(t, t0, nil)

	fx.stacks.table[2].gone = true
	fx.set(1, 15, src)
	p := newPeriod(t0)
	fx.sample(t, t0.Add(time.Millisecond), p)
	if got := fx.tracked(); !reflect.DeepEqual(got, []int32{1}) {
		t.Errorf("tracked threads = %v, want [1]", got)
	}
	want := map[string]int64{"pipeline0;src": 5}
	if got := values(t, p); !reflect.DeepEqual(got, want) {
		t.Errorf("values = %v, want %v", got, want)
	}

	// Still listed (the kernel may show an exiting thread a little longer):
	// it starts over from CPU 0.
	fx.stacks.table[2] = &fakeThread{cpu: 3, frames: []Frame{conv}}
	fx.sample(t, t0.Add(2*time.Millisecond), p)
	if got := fx.stacks.prev[2][2]; got != 0 {
		t.Errorf("CPU passed to Read for a thread that was gone = %d, want 0", got)
	}
	want = map[string]int64{"pipeline0;src": 5, "pipeline0;conv": 3}
	if got := values(t, p); !reflect.DeepEqual(got, want) {
		t.Errorf("values = %v, want %v", got, want)
	}
}

func TestSamplerPrunesUnlistedThreads(t *testing.T) {
	fx := newFixture()
	fx.set(1, 10)
	fx.set(2, 20)
	fx.set(3, 30)
	fx.sample(t, t0, nil)

	fx.tids = []int32{1, 3}
	fx.sample(t, t0.Add(time.Millisecond), nil)
	if got := fx.tracked(); !reflect.DeepEqual(got, []int32{1, 3}) {
		t.Errorf("tracked threads = %v, want [1 3]", got)
	}

	// The tid comes back as a new thread: no previous reading.
	fx.tids = []int32{1, 2, 3}
	fx.set(2, 4)
	p := newPeriod(t0)
	fx.sample(t, t0.Add(2*time.Millisecond), p)
	if got := fx.stacks.prev[2]; !reflect.DeepEqual(got, map[int32]uint64{1: 10, 2: 0, 3: 30}) {
		t.Errorf("CPU passed to Read = %v, want map[1:10 2:0 3:30]", got)
	}
	want := map[string]int64{"thread:": 4} // fx.names has no name for 2
	if got := values(t, p); !reflect.DeepEqual(got, want) {
		t.Errorf("values = %v, want %v", got, want)
	}
}

func TestSamplerListError(t *testing.T) {
	fx := newFixture()
	fx.set(1, 10)
	fx.sample(t, t0, nil)
	boom := errors.New("no /proc")
	fx.s.list = func(buf []int32) ([]int32, error) { return buf, boom }
	p := newPeriod(t0)
	if err := fx.s.sample(t0.Add(time.Millisecond), p, false); !errors.Is(err, boom) {
		t.Fatalf("sample error = %v, want %v", err, boom)
	}
	if len(fx.stacks.prev) != 1 {
		t.Errorf("Read called %d times, want 1 (not after the error)", len(fx.stacks.prev))
	}
	if got := fx.tracked(); !reflect.DeepEqual(got, []int32{1}) {
		t.Errorf("tracked threads = %v, want [1] (kept across the error)", got)
	}
}

// The real thread list and names, on a thread of this test process named
// for the occasion. The old name is put back: were this the main thread,
// the name would otherwise stick.
func TestListThreadsAndName(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	tid := int32(syscall.Gettid())
	old := threadName(tid)
	defer nameThisThread(old)

	nameThisThread("gstscope-test-thread") // the kernel keeps 15 bytes
	if name := threadName(tid); name != "gstscope-test-t" {
		t.Errorf("threadName(%d) = %q, want gstscope-test-t", tid, name)
	}
	tids, err := listThreads(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(tids, tid) || !slices.Contains(tids, int32(os.Getpid())) {
		t.Errorf("threads %v lack this thread %d or the main thread %d", tids, tid, os.Getpid())
	}
	// Appends to what it is given, as the sampler reuses its buffer.
	if again, _ := listThreads([]int32{-7}); again[0] != -7 || len(again) < 2 {
		t.Errorf("listThreads([-7]) = %v, want -7 followed by the threads", again)
	}
	if name := threadName(-1); name != "unknown" {
		t.Errorf("threadName(-1) = %q, want unknown", name)
	}
}

// Listing threads is the dearest part of a sample: the list is reused for
// listEvery, minus the threads that are gone, and a thread found later is
// charged from its start.
func TestSamplerListsEvery(t *testing.T) {
	fx := newFixture()
	fx.s.every = listEvery
	lists := 0
	list := fx.s.list
	fx.s.list = func(buf []int32) ([]int32, error) { lists++; return list(buf) }
	fx.set(1, 10, src)
	fx.set(2, 10, conv)
	fx.sample(t, t0, nil)
	p := newPeriod(t0)
	fx.set(3, 7, appsink) // a new thread
	fx.stacks.table[2].gone = true
	fx.set(1, 15, src)
	fx.sample(t, t0.Add(listEvery/2), p)
	if lists != 1 {
		t.Errorf("threads listed %d times within listEvery, want 1", lists)
	}
	if got := fx.s.tids; !reflect.DeepEqual(got, []int32{1}) {
		t.Errorf("threads kept = %v, want [1] (2 is gone, 3 not listed yet)", got)
	}
	fx.sample(t, t0.Add(listEvery), p)
	if lists != 2 {
		t.Errorf("threads listed %d times after listEvery, want 2", lists)
	}
	want := map[string]int64{"pipeline0;src": 5, "pipeline0;appsink0": 7}
	if got := values(t, p); !reflect.DeepEqual(got, want) {
		t.Errorf("values = %v, want %v", got, want)
	}
	// The last sample lists again, whenever it comes.
	fx.sample(t, t0.Add(listEvery+time.Millisecond), nil)
	if lists != 3 {
		t.Errorf("threads listed %d times, want 3 (a baseline lists)", lists)
	}
}

// nameThisThread names the calling OS thread; the caller has locked its
// goroutine to it.
func nameThisThread(name string) {
	b := append([]byte(name), 0)
	_, _, _ = syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_NAME, uintptr(unsafe.Pointer(&b[0])), 0)
}
