package shim

/*
#include <stdlib.h>
#include "scope.h"

// The slot's id, read while the store may be reusing the slot.
static guint64 scope_element_id (ScopeElement * e)
{
  return __atomic_load_n (&e->id, __ATOMIC_RELAXED);
}

// The loaded plugins, "name\tfile\n" each; g_free it. Called by the sampler
// only, holding no lock of ours (the registry takes its own).
static gchar * scope_loaded_plugins (void)
{
  GList *plugins, *l;
  GString *s = g_string_new (NULL);

  if (!gst_is_initialized ())
    return g_string_free (s, FALSE);
  plugins = gst_registry_get_plugin_list (gst_registry_get ());
  for (l = plugins; l; l = l->next) {
    GstPlugin *p = l->data;
    const gchar *file = gst_plugin_get_filename (p);
    if (file && gst_plugin_is_loaded (p))
      g_string_append_printf (s, "%s\t%s\n", gst_plugin_get_name (p), file);
  }
  gst_plugin_list_free (plugins);
  return g_string_free (s, FALSE);
}

// The name of the plugin that provides the element factory, or NULL;
// g_free it. The sampler only, as above.
static gchar * scope_factory_plugin (const gchar * factory)
{
  GstElementFactory *f = gst_is_initialized () ?
      gst_element_factory_find (factory) : NULL;
  gchar *name = NULL;

  if (f) {
    name = g_strdup (gst_plugin_feature_get_plugin_name (GST_PLUGIN_FEATURE (f)));
    gst_object_unref (f);
  }
  return name;
}
*/
import "C"

import (
	"errors"
	"strings"
	"unsafe"

	"github.com/gstscope/gstscope/internal/pyroscope"
)

// stacks reads the hooks' thread stacks and CPU timers for the pyroscope
// sampler, and samples worker threads (pyroscope.Workers). It is used by the
// sampler's goroutine only.
type stacks struct {
	in      []C.ScopeSample
	out     []C.ScopeCharge
	ips     []C.ScopeIP
	charges []pyroscope.Charge
	names   map[C.guint64]pyroscope.Frame
	slots   map[pyroscope.Frame]slot // the latest element of those names
}

// slot is an element slot and the id of the element it held when named.
type slot struct {
	e  *C.ScopeElement
	id C.guint64
}

// maxNames bounds the name cache of an application that creates elements
// forever; clearing it only costs re-reading names.
const maxNames = 4096

func newStacks() *stacks {
	return &stacks{names: map[C.guint64]pyroscope.Frame{}, slots: map[pyroscope.Frame]slot{}}
}

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
		th.Hooked, th.Streams = b.hooked != 0, b.hooked == 2
		th.Armed, th.Reborn = b.foreign != 0, b.reborn != 0
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
		clear(s.slots)
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
	s.slots[f] = slot{e, id}
	return f
}

func (s *stacks) Arm(tid int32) bool { return C.scope_foreign_arm(C.gint(tid)) != 0 }

func (s *stacks) IPs(buf []pyroscope.IP) []pyroscope.IP {
	if s.ips == nil {
		s.ips = make([]C.ScopeIP, C.SCOPE_FOREIGN_MAX*C.SCOPE_IP_RING)
	}
	n := C.scope_foreign_drain(&s.ips[0], C.guint(len(s.ips)))
	for _, ip := range s.ips[:n] {
		buf = append(buf, pyroscope.IP{TID: int32(ip.tid), Addr: uint64(ip.ip)})
	}
	return buf
}

// Charge adds to the counter of the latest element named f, if it still
// is that element.
func (s *stacks) Charge(f pyroscope.Frame, ns uint64) bool {
	sl, ok := s.slots[f]
	if !ok {
		return false
	}
	if C.scope_element_charge(sl.e, sl.id, C.guint64(ns)) == 0 {
		delete(s.slots, f)
		return false
	}
	return true
}

func (s *stacks) Plugins() []pyroscope.Plugin {
	p := C.scope_loaded_plugins()
	defer C.g_free(C.gpointer(p))
	var plugins []pyroscope.Plugin
	for _, line := range strings.Split(goString((*C.char)(p)), "\n") {
		if name, file, ok := strings.Cut(line, "\t"); ok {
			plugins = append(plugins, pyroscope.Plugin{Name: name, File: file})
		}
	}
	return plugins
}

func (s *stacks) FactoryPlugin(factory string) string {
	cf := C.CString(factory)
	defer C.free(unsafe.Pointer(cf))
	p := C.scope_factory_plugin((*C.gchar)(cf))
	defer C.g_free(C.gpointer(p))
	return goString((*C.char)(p))
}
