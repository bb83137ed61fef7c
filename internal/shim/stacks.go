package shim

/*
#include "scope.h"
*/
import "C"

import (
	"github.com/gstscope/gstscope/internal/pyroscope"
)

// stacks reads the hooks' thread stacks for the pyroscope sampler. It is
// used by the sampler's goroutine only.
type stacks struct {
	buf   []C.ScopeSample
	names map[C.guint64]pyroscope.Frame
}

// maxNames bounds the name cache of an application that creates elements
// forever; clearing it only costs re-reading names.
const maxNames = 4096

func newStacks() *stacks { return &stacks{names: map[C.guint64]pyroscope.Frame{}} }

func (s *stacks) Read(threads []pyroscope.Thread) {
	if len(threads) == 0 {
		return
	}
	if cap(s.buf) < len(threads) {
		s.buf = make([]C.ScopeSample, len(threads)+16)
	}
	buf := s.buf[:len(threads)]
	for i := range threads {
		buf[i].tid = C.gint(threads[i].TID)
		buf[i].cpu_ns = C.guint64(threads[i].CPU)
	}
	C.scope_sample(&buf[0], C.guint(len(buf)))
	for i := range threads {
		th, b := &threads[i], &buf[i]
		th.CPU, th.Delta, th.Gone = uint64(b.cpu_ns), uint64(b.delta_ns), b.gone != 0
		th.Frames = th.Frames[:0]
		for _, e := range b.frames[:min(int(b.depth), len(b.frames))] {
			th.Frames = append(th.Frames, s.frame(e))
		}
	}
}

// frame names an element slot. Slots are never freed and their names never
// change, so the pointer stays readable; the id tells slots apart.
func (s *stacks) frame(e *C.ScopeElement) pyroscope.Frame {
	if f, ok := s.names[e.id]; ok {
		return f
	}
	if len(s.names) >= maxNames {
		clear(s.names)
	}
	f := pyroscope.Frame{
		Pipeline: goString(e.pipeline),
		Element:  goString(e.path),
		Factory:  goString(e.factory),
	}
	s.names[e.id] = f
	return f
}
