package pyroscope

import "time"

// Frame is one element on a thread's stack.
type Frame struct {
	Pipeline, Element, Factory string
}

// Thread is one OS thread at one sample. The sampler fills TID and CPU (the
// previous reading, 0 for a thread not seen before); Stacks.Read updates CPU
// and fills the rest.
type Thread struct {
	TID   int32
	CPU   uint64 // ns the thread has run, cumulative
	Gone  bool   // the thread has exited
	Other uint64 // ns since the previous reading of a thread with no stack
	// For the worker threads (see Workers).
	Hooked  bool // the thread runs GStreamer hooks: its stack says where its CPU goes
	Streams bool // and it streams: it has pushed or been pushed a buffer
	Armed   bool // Workers.Arm armed it, and it is still the same thread
	Reborn  bool // the id is a new thread's (its CPU clock went back)
}

// Charge is CPU time a thread spent in one stack: the element owning the
// thread first, the innermost last; no frames for CPU in no element.
type Charge struct {
	TID    int32
	NS     uint64
	Frames []Frame
}

// Stacks tells where threads spend their CPU; the shim implements it over
// the C hooks' thread stacks and per-thread CPU timers.
type Stacks interface {
	// Start arms the per-thread CPU timers that record stacks where CPU is
	// spent; without them Read charges CPU to where threads are when read.
	Start(hz int) error
	Stop()
	// Read reads the threads' CPU clocks and returns where the CPU used
	// since the last Read went. final charges all of it, even CPU not yet
	// matched with a recorded stack.
	Read(threads []Thread, final bool) []Charge
}

// threadNameTTL is how long a thread's name is trusted: pooled GStreamer
// task threads are renamed when they start another element's task.
const threadNameTTL = time.Second

// listEvery is how often the threads are listed, the dearest part of a
// sample (reading /proc). A thread found later loses nothing: its CPU is
// counted from its start.
const listEvery = 100 * time.Millisecond

type threadState struct {
	cpu   uint64
	name  string
	named time.Time
	gen   uint64
	// streams: the thread was streaming at the last sample. A pooled
	// thread is renamed when it starts a task, so its name is read again
	// when it starts streaming: the worker threads it creates carry it.
	streams bool
}

// sampler turns samples into stacks weighted by CPU time.
type sampler struct {
	stacks  Stacks
	list    func([]int32) ([]int32, error)
	name    func(int32) string
	threads map[int32]*threadState
	gen     uint64
	tids    []int32
	listed  time.Time
	every   time.Duration // listEvery
	buf     []Thread
	workers *workers // nil unless stacks implements Workers
}

func newSampler(stacks Stacks) *sampler {
	s := &sampler{stacks: stacks, list: listThreads, name: threadName, every: listEvery, threads: map[int32]*threadState{}}
	if w, ok := stacks.(Workers); ok {
		s.workers = newWorkers(w)
	}
	return s
}

// sample reads every thread once and adds the CPU each used since the last
// sample to p. With p nil it only sets the baseline: CPU used before is
// dropped.
func (s *sampler) sample(now time.Time, p *period, final bool) error {
	if final || p == nil || now.Sub(s.listed) >= s.every || now.Before(s.listed) {
		tids, err := s.list(s.tids[:0])
		if err != nil {
			return err
		}
		s.tids, s.listed = tids, now
	}
	s.gen++
	s.buf = s.buf[:0]
	for _, tid := range s.tids {
		st := s.threads[tid]
		if st == nil {
			st = &threadState{}
			s.threads[tid] = st
		}
		st.gen = s.gen
		s.buf = append(s.buf, Thread{TID: tid, CPU: st.cpu})
	}
	for tid, st := range s.threads {
		if st.gen != s.gen {
			delete(s.threads, tid)
		}
	}
	charges := s.stacks.Read(s.buf, final || p == nil)
	for i := range s.buf {
		if st := s.threads[s.buf[i].TID]; st.streams != s.buf[i].Streams {
			st.streams, st.name = s.buf[i].Streams, ""
		}
	}
	if s.workers != nil {
		s.workers.step(now, p, s.buf, charges, final, func(tid int32) string { return s.threadName(tid, now) })
	}
	live := s.tids[:0]
	for i := range s.buf {
		th := &s.buf[i]
		if th.Gone {
			delete(s.threads, th.TID)
			continue
		}
		live = append(live, th.TID)
		s.threads[th.TID].cpu = th.CPU
		if th.Other > 0 && p != nil {
			p.addThread(s.threadName(th.TID, now), th.Other)
		}
	}
	s.tids = live
	if p == nil {
		return nil
	}
	for _, c := range charges {
		switch {
		case c.NS == 0:
		case len(c.Frames) == 0:
			p.addThread(s.threadName(c.TID, now), c.NS)
		default:
			p.addStack(c.Frames, c.NS)
		}
	}
	return nil
}

func (s *sampler) threadName(tid int32, now time.Time) string {
	st := s.threads[tid]
	if st == nil {
		return s.name(tid)
	}
	if st.name == "" || now.Sub(st.named) > threadNameTTL {
		st.name, st.named = s.name(tid), now
	}
	return st.name
}
