package shim

/*
#include "scope.h"

// The slot's id, read while the store may be reusing the slot.
static guint64 scope_element_id (ScopeElement * e)
{
  return __atomic_load_n (&e->id, __ATOMIC_RELAXED);
}
*/
import "C"

import (
	"errors"

	"github.com/gstscope/gstscope/internal/pyroscope"
)

// stacks reads the hooks' thread stacks and CPU timers for the pyroscope
// sampler. It is used by the sampler's goroutine only.
type stacks struct {
	in      []C.ScopeSample
	out     []C.ScopeCharge
	charges []pyroscope.Charge
	names   map[C.guint64]pyroscope.Frame
}

// maxNames bounds the name cache of an application that creates elements
// forever; clearing it only costs re-reading names.
const maxNames = 4096

func newStacks() *stacks { return &stacks{names: map[C.guint64]pyroscope.Frame{}} }

func (s *stacks) Start(hz int) error {
	var why *C.gchar
	if C.scope_profiler_start(C.guint(hz), &why) < 0 {
		defer C.g_free(C.gpointer(why))
		return errors.New(goString((*C.char)(why)))
	}
	return nil
}

func (s *stacks) Stop() { C.scope_profiler_stop() }

func (s *stacks) Read(threads []pyroscope.Thread, final bool) []pyroscope.Charge {
	s.charges = s.charges[:0]
	if len(threads) == 0 {
		return s.charges
	}
	if cap(s.in) < len(threads) {
		s.in = make([]C.ScopeSample, len(threads)+16)
	}
	in := s.in[:len(threads)]
	// Each thread's ring holds at most SCOPE_STACK_RING stacks, plus one
	// charge for a thread without; what does not fit waits for next time.
	if want := 4*len(threads) + 64; cap(s.out) < want {
		s.out = make([]C.ScopeCharge, want)
	}
	out := s.out[:cap(s.out)]
	for i := range threads {
		in[i].tid = C.gint(threads[i].TID)
		in[i].cpu_ns = C.guint64(threads[i].CPU)
	}
	n := C.scope_sample(&in[0], C.guint(len(in)), &out[0], C.guint(len(out)), C.gboolean(btoi(final)))
	for i := range threads {
		th, b := &threads[i], &in[i]
		th.CPU, th.Gone, th.Other = uint64(b.cpu_ns), b.gone != 0, uint64(b.other_ns)
	}
	for i := range out[:n] {
		c := &out[i]
		ch := pyroscope.Charge{TID: int32(c.tid), NS: uint64(c.ns)}
		if d := int(c.stack.depth); d > 0 {
			ch.Frames = make([]pyroscope.Frame, 0, d)
			for _, e := range c.stack.frames[:min(d, len(c.stack.frames))] {
				ch.Frames = append(ch.Frames, s.frame(e))
			}
		}
		s.charges = append(s.charges, ch)
	}
	return s.charges
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// frame names an element slot. A slot may have been reused for another
// element since the stack was recorded (after two seconds dead: the stacks
// here are at most a sample period old), so its names are read under the
// store's lock, with the id that tells the slot's lives apart.
func (s *stacks) frame(e *C.ScopeElement) pyroscope.Frame {
	if f, ok := s.names[C.scope_element_id(e)]; ok {
		return f
	}
	if len(s.names) >= maxNames {
		clear(s.names)
	}
	var pipeline, path, factory *C.gchar
	id := C.scope_element_names(e, &pipeline, &path, &factory)
	f := pyroscope.Frame{
		Pipeline: goString((*C.char)(pipeline)),
		Element:  goString((*C.char)(path)),
		Factory:  goString((*C.char)(factory)),
	}
	C.g_free(C.gpointer(pipeline))
	C.g_free(C.gpointer(path))
	C.g_free(C.gpointer(factory))
	s.names[id] = f
	return f
}
