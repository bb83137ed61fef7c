package pyroscope

import "time"

// Frame is one element on a thread's stack.
type Frame struct {
	Pipeline, Element, Factory string
}

// Thread is one OS thread at one sample. The sampler fills TID and CPU (the
// previous reading, 0 for a thread not seen before); Stacks.Read fills the
// rest.
type Thread struct {
	TID    int32
	CPU    uint64 // ns the thread has run, cumulative
	Delta  uint64 // ns since the previous reading
	Gone   bool   // the thread has exited
	Frames []Frame
}

// Stacks reads what threads are doing: their CPU clocks and element stacks,
// the element owning the thread first and the innermost last. The shim
// implements it over the C hooks' thread stacks.
type Stacks interface {
	Read(threads []Thread)
}

// threadNameTTL is how long a thread's name is trusted: pooled GStreamer
// task threads are renamed when they start another element's task.
const threadNameTTL = time.Second

type threadState struct {
	cpu   uint64
	name  string
	named time.Time
	gen   uint64
}

// sampler turns samples into stacks weighted by CPU time.
type sampler struct {
	stacks  Stacks
	list    func([]int32) ([]int32, error)
	name    func(int32) string
	threads map[int32]*threadState
	gen     uint64
	tids    []int32
	buf     []Thread
}

func newSampler(stacks Stacks) *sampler {
	return &sampler{stacks: stacks, list: listThreads, name: threadName, threads: map[int32]*threadState{}}
}

// sample reads every thread once and adds the CPU each used since the last
// sample to p. The first sample only sets the baseline when p is nil.
func (s *sampler) sample(now time.Time, p *period) error {
	var err error
	s.tids, err = s.list(s.tids[:0])
	if err != nil {
		return err
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
		s.buf = append(s.buf, Thread{TID: tid, CPU: st.cpu, Frames: s.frames(len(s.buf))})
	}
	for tid, st := range s.threads {
		if st.gen != s.gen {
			delete(s.threads, tid)
		}
	}
	s.stacks.Read(s.buf)
	for i := range s.buf {
		th := &s.buf[i]
		st := s.threads[th.TID]
		if th.Gone {
			delete(s.threads, th.TID)
			continue
		}
		st.cpu = th.CPU
		if th.Delta == 0 || p == nil {
			continue
		}
		if len(th.Frames) == 0 {
			if now.Sub(st.named) > threadNameTTL {
				st.name, st.named = s.name(th.TID), now
			}
			p.addThread(st.name, th.Delta)
		} else {
			p.addStack(th.Frames, th.Delta)
		}
	}
	return nil
}

// frames reuses the frame slice of the i-th thread of the last sample.
func (s *sampler) frames(i int) []Frame {
	if i < cap(s.buf) {
		return s.buf[:i+1][i].Frames[:0]
	}
	return nil
}
