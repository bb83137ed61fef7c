package shim

// The hot path's algorithms (histogram.h, runningtime.h, match.h), callable
// from Go for their tests (algorithms_test.go): cgo is not allowed in
// _test.go files, so the wrappers live here, as go-sqlite3 keeps its
// test-only helpers. Nothing in the plugin calls them.

/*
// Test buffers are numbers, never dereferenced: their first memory is
// what the test says (algo_memory_of).
#include <gst/gst.h>
static gconstpointer algo_memory_of (gconstpointer buf);
#define SCOPE_MEMORY_OF(buf) algo_memory_of (buf)
#include "histogram.h"
#include "runningtime.h"
#include "match.h"
#include "mix.h"
#include "mux.h"

// The memory of the buffer being put or matched; by default its own
// number (a buffer passed on keeps its memory).
static guintptr algo_mem;

static gconstpointer
algo_memory_of (gconstpointer buf)
{
  return (gconstpointer) (algo_mem ? algo_mem : (guintptr) buf);
}

static guint
algo_bucket_of (guint64 ns)
{
  return bucket_of (ns);
}

static guint64
algo_running_time (ScopePad * p, GstFormat format, gdouble rate,
    guint64 start, guint64 stop, guint64 base, guint64 offset,
    guint64 pts, guint64 dts, guint64 dur, guint64 * end)
{
  GstSegment seg;
  gst_segment_init (&seg, format);
  seg.rate = rate;
  seg.start = start;
  seg.stop = stop;
  seg.base = base;
  seg.offset = offset;
  seg.time = start;
  seg.position = start;
  segment_store (p, &seg);
  return running_time (p, pts, dts, dur, end);
}

// An element with n sink pads, each with a ring, as the store makes them.
static ScopeElement *
algo_element_new (gint n)
{
  ScopeElement *e = scope_alloc (ScopeElement);
  guint64 start;
  gint i;
  g_mutex_lock (&scope_lock);
  // The rings' growth is what these tests look at: the smallest rings.
  start = scope_ring_start;
  scope_ring_start = SCOPE_RING_MIN;
  for (i = 0; i < n && i < SCOPE_MAX_INPUTS; i++) {
    ScopePad *p = scope_alloc (ScopePad);
    p->sink = TRUE;
    p->elem = e;
    p->ring = scope_ring_new_locked (p);
    e->inputs[i] = p;
  }
  scope_ring_start = start;
  g_mutex_unlock (&scope_lock);
  e->n_inputs = MIN (n, SCOPE_MAX_INPUTS);
  return e;
}

// The element is a mixer, with its ring of origins, as the store makes it.
static void
algo_mixer (ScopeElement * e)
{
  e->mix = g_aligned_alloc0 (1, sizeof (ScopeMix), SCOPE_CACHE_LINE);
  e->is_mixer = TRUE;
}

static void
algo_put_from (ScopeElement * e, gint i, guintptr buf, guint64 size,
    guint64 rt, guint64 rt_end, guint64 ts, guint64 origin_ts,
    guintptr origin)
{
  ring_put (e->inputs[i]->ring, (gconstpointer) buf, size, rt, rt_end, ts,
      origin_ts, (ScopeElement *) origin);
}

// A mixer's output: the origin it carries (leave() in hooks.c).
static gboolean
algo_mix (ScopeElement * e, guintptr buf, guint64 size, guint64 rt,
    guint64 * origin_ts, guintptr * origin)
{
  ScopeRingEntry x = { 0 }, each[SCOPE_MAX_INPUTS];
  guint n = 0;
  ScopeElement *src = NULL;
  if (!ring_match (e, (gconstpointer) buf, size, rt, &x, each, &n, FALSE))
    return FALSE;
  if (n > 0) {
    mix_origin (e->mix, each, n, origin_ts, &src);
  } else {
    *origin_ts = x.origin_ts;
    src = x.origin;
  }
  *origin = (guintptr) src;
  return TRUE;
}

// The sources an origin stands for, as a sink reads them (path_observe in
// hooks.c): their number, or -1 when the mixer's entry is gone.
static gint
algo_sources (guintptr origin, guint64 origin_ts, guintptr * src,
    guint64 * ts)
{
  ScopeMixEntry m;
  guint i;
  if (!is_mix ((ScopeElement *) origin)) {
    src[0] = origin;
    ts[0] = origin_ts;
    return 1;
  }
  if (!mix_read ((ScopeElement *) origin, origin_ts, &m))
    return -1;
  for (i = 0; i < m.n; i++) {
    src[i] = (guintptr) m.origin[i];
    ts[i] = m.origin_ts[i];
  }
  return m.n;
}

// The element is a queue, as the store marks one (fifo, match.h).
static void
algo_fifo (ScopeElement * e)
{
  e->fifo = TRUE;
}

static guint64
algo_dropped (ScopeElement * e)
{
  return e->dropped;
}

// A queue pushes EOS (flow.c).
static void
algo_fifo_eos (ScopeElement * e)
{
  scope_flow_fifo_eos (e);
}

// Its pads' rings go back to the store's free lists, as a reused slot's.
static void
algo_element_free (ScopeElement * e)
{
  gint i;
  g_aligned_free (e->mix);
  g_mutex_lock (&scope_lock);
  for (i = 0; i < e->n_inputs; i++) {
    scope_rings_release_locked (e->inputs[i]);
    g_aligned_free (e->inputs[i]);
  }
  g_mutex_unlock (&scope_lock);
  g_aligned_free (e);
}

// What enter() does with an arrival on pad i.
static guint64
algo_put (ScopeElement * e, gint i, guintptr buf, guintptr mem, guint64 size,
    guint64 rt, guint64 rt_end, guint64 ts)
{
  ScopePad *p = e->inputs[i];
  guint64 k;
  algo_mem = mem;
  k = ring_record (p, p->ring, (gconstpointer) buf, size, rt, rt_end,
      ts, ts, NULL);
  algo_mem = 0;
  return k;
}

static guint64
algo_ring_entries (ScopeElement * e, gint i)
{
  return ring_cap (e->inputs[i]->ring);
}

static ScopeRing *
algo_ring (ScopeElement * e, gint i)
{
  return e->inputs[i]->ring;
}

// Entry k of ring r, as a reader that loaded r reads it.
static gboolean
algo_read (ScopeRing * r, guint64 k, guintptr * buf, guint64 * ts)
{
  ScopeRingEntry x;
  if (k >= r->head || k + ring_cap (r) < r->head || !ring_read (r, k, &x))
    return FALSE;
  *buf = (guintptr) x.buf;
  *ts = x.ts;
  return TRUE;
}

// Whether pad i's ring records its inputs' memories now (want_mem).
static gboolean
algo_records_memory (ScopeElement * e, gint i)
{
  return e->inputs[i]->ring->want_mem != 0;
}

static void
algo_flush (ScopeElement * e, gint i)
{
  ScopeRing *r = e->inputs[i]->ring;
  r->valid_from = r->head;
}

static gboolean
algo_match (ScopeElement * e, guintptr buf, guintptr mem, guint64 size,
    guint64 rt, guint64 * ts)
{
  ScopeRingEntry x = { 0 };
  gboolean ok;
  algo_mem = mem;
  ok = ring_match (e, (gconstpointer) buf, size, rt, &x, NULL, NULL, FALSE);
  algo_mem = 0;
  if (!ok)
    return FALSE;
  *ts = x.ts;
  return TRUE;
}

// A muxer's output that keeps its input's timestamps (leave_muxer in
// hooks.c): only an input starting at rt.
static gboolean
algo_match_exact (ScopeElement * e, guintptr buf, guint64 size, guint64 rt,
    guint64 * ts)
{
  ScopeRingEntry x = { 0 };
  if (!ring_match (e, (gconstpointer) buf, size, rt, &x, NULL, NULL, TRUE))
    return FALSE;
  *ts = x.ts;
  return TRUE;
}

// A TS muxer's packet of stream pid (ts_match in hooks.c).
static gboolean
algo_ts (ScopeElement * e, guint pid, gboolean pusi, guint64 * ts)
{
  ScopeRingEntry x = { 0 };
  if (!ts_input (e, pid, pusi, &x))
    return FALSE;
  *ts = x.ts;
  return TRUE;
}

static gboolean
algo_ts_header (const guint8 * h, guint * pid, gboolean * pusi)
{
  return ts_header (h, pid, pusi);
}

// Whether the input last put on pad i, being processed, holds an output at
// rt (frame_holds with the frame enter() would have opened for it).
static gboolean
algo_holds (ScopeElement * e, gint i, guint64 rt)
{
  ScopeRing *r = e->inputs[i]->ring;
  ScopeRingEntry x;
  ScopeFrame f = { 0 };
  if (r->head == 0 || !ring_read (r, r->head - 1, &x))
    return FALSE;
  f.pad = e->inputs[i];
  f.elem = e;
  f.rt = x.rt;
  f.rt_end = x.rt_end;
  f.idx = r->head;
  return frame_holds (&f, rt);
}

// An output while the input last put on pad i is processed, matched with
// it, as leave() does when frame_holds.
static void
algo_output_now (ScopeElement * e, gint i)
{
  ScopeFrame f = { 0 };
  f.pad = e->inputs[i];
  f.idx = f.pad->ring->head;
  frame_matched (&f);
}
*/
import "C"

// None is GST_CLOCK_TIME_NONE: no time.
const None = ^uint64(0)

// BucketBounds are the histograms' bucket upper bounds in nanoseconds.
func BucketBounds() []uint64 {
	b := make([]uint64, C.SCOPE_NBOUNDS)
	for i := range b {
		b[i] = uint64(C.scope_bounds_ns[i])
	}
	return b
}

// BucketOf is the bucket bucket_of puts ns in (len(BucketBounds()): +Inf).
func BucketOf(ns uint64) int { return int(C.algo_bucket_of(C.guint64(ns))) }

// Segment is a SEGMENT event's fields that running time depends on.
type Segment struct {
	Format                    int // GstFormat: 3 is TIME
	Rate                      float64
	Start, Stop, Base, Offset uint64
}

// FormatTime is GST_FORMAT_TIME.
const FormatTime = int(C.GST_FORMAT_TIME)

// RunningTime is running_time() for a buffer pushed on a pad whose last
// segment is seg: its running time and the end of its duration (None:
// unknown).
func RunningTime(seg Segment, pts, dts, dur uint64) (rt, end uint64) {
	p := (*C.ScopePad)(C.g_malloc0(C.sizeof_ScopePad))
	defer C.g_free(C.gpointer(p))
	var e C.guint64
	rt = uint64(C.algo_running_time(p, C.GstFormat(seg.Format), C.gdouble(seg.Rate),
		C.guint64(seg.Start), C.guint64(seg.Stop), C.guint64(seg.Base), C.guint64(seg.Offset),
		C.guint64(pts), C.guint64(dts), C.guint64(dur), &e))
	return rt, uint64(e)
}

// Matcher is an element with sink pads whose rings record what entered,
// for matching outputs with inputs as the hooks do. Buffers are compared
// by identity only (never dereferenced): any distinct numbers do.
type Matcher struct{ e *C.ScopeElement }

// NewMatcher makes an element with n sink pads (at most 8). Free it.
func NewMatcher(n int) *Matcher { return &Matcher{C.algo_element_new(C.gint(n))} }

// Free releases the element and its rings.
func (m *Matcher) Free() { C.algo_element_free(m.e) }

// Put records that buf entered sink pad i at ts with running time
// [rt, rtEnd) (rtEnd None: no duration). Its first memory is buf itself.
func (m *Matcher) Put(i int, buf uintptr, size, rt, rtEnd, ts uint64) {
	m.PutMemory(i, buf, buf, size, rt, rtEnd, ts)
}

// PutMemory is Put for a buffer whose first memory is mem.
func (m *Matcher) PutMemory(i int, buf, mem uintptr, size, rt, rtEnd, ts uint64) {
	C.algo_put(m.e, C.gint(i), C.guintptr(buf), C.guintptr(mem), C.guint64(size), C.guint64(rt), C.guint64(rtEnd), C.guint64(ts))
}

// Entries is the size of pad i's ring now.
func (m *Matcher) Entries(i int) uint64 { return uint64(C.algo_ring_entries(m.e, C.gint(i))) }

// Ring is pad i's ring now, as a reader loads it: it may keep reading it
// after the producer grew the pad's ring.
func (m *Matcher) Ring(i int) Ring { return Ring{C.algo_ring(m.e, C.gint(i))} }

// Ring is a ring a reader holds.
type Ring struct{ r *C.ScopeRing }

// Read is entry k (the (k+1)th arrival) of the ring, if it is whole and
// the ring still holds it: the buffer and its arrival time.
func (r Ring) Read(k uint64) (buf uintptr, ts uint64, ok bool) {
	var b C.guintptr
	var t C.guint64
	ok = C.algo_read(r.r, C.guint64(k), &b, &t) != 0
	return uintptr(b), uint64(t), ok
}

// RecordsMemory is whether pad i's ring records its inputs' first memories
// now (see same_buffer in match.h).
func (m *Matcher) RecordsMemory(i int) bool { return C.algo_records_memory(m.e, C.gint(i)) != 0 }

// Flush forgets what entered pad i before now (a FLUSH_STOP upstream).
func (m *Matcher) Flush(i int) { C.algo_flush(m.e, C.gint(i)) }

// Match is ring_match for an output buffer: the arrival time of the input
// it is matched with, and whether there is one.
func (m *Matcher) Match(buf uintptr, size, rt uint64) (ts uint64, ok bool) {
	return m.MatchMemory(buf, buf, size, rt)
}

// MatchMemory is Match for an output whose first memory is mem.
func (m *Matcher) MatchMemory(buf, mem uintptr, size, rt uint64) (ts uint64, ok bool) {
	var t C.guint64
	ok = C.algo_match(m.e, C.guintptr(buf), C.guintptr(mem), C.guint64(size), C.guint64(rt), &t) != 0
	return uint64(t), ok
}

// MatchExact is a muxer's match (mux.h): the input that starts at rt, or
// the same buffer.
func (m *Matcher) MatchExact(buf uintptr, size, rt uint64) (ts uint64, ok bool) {
	var t C.guint64
	ok = C.algo_match_exact(m.e, C.guintptr(buf), C.guint64(size), C.guint64(rt), &t) != 0
	return uint64(t), ok
}

// SetPID makes pad i a TS muxer's pad for stream pid (sink_<pid>).
func (m *Matcher) SetPID(i int, pid uint) { m.e.inputs[i].pid = C.guint(pid) }

// TS is ts_input: the arrival time of the input that a TS packet of stream
// pid carries, starting a PES (pusi) or continuing one.
func (m *Matcher) TS(pid uint, pusi bool) (ts uint64, ok bool) {
	var t C.guint64
	var p C.gboolean
	if pusi {
		p = 1
	}
	ok = C.algo_ts(m.e, C.guint(pid), p, &t) != 0
	return uint64(t), ok
}

// TSHeader is ts_header: the PID and payload_unit_start_indicator of a TS
// packet header (4 bytes), if it is one.
func TSHeader(h [4]byte) (pid uint, pusi, ok bool) {
	var c [4]C.guint8
	for i := range h {
		c[i] = C.guint8(h[i])
	}
	var pd C.guint
	var p C.gboolean
	ok = C.algo_ts_header(&c[0], &pd, &p) != 0
	return uint(pd), p != 0, ok
}

// OutputNow is an output of the input last put on pad i, while it is being
// processed (an element that outputs as it goes: identity, a filter).
func (m *Matcher) OutputNow(i int) { C.algo_output_now(m.e, C.gint(i)) }

// Holds is frame_holds: whether the input last put on pad i, while it is
// being processed, holds an output at running time rt.
func (m *Matcher) Holds(i int, rt uint64) bool {
	return C.algo_holds(m.e, C.gint(i), C.guint64(rt)) != 0
}

// Origin is where a buffer's data came from, as the hooks carry it: a
// source (any multiple of 64 stands for a source's slot) and the time the
// buffer left it; or, for a mixer's output, a reference to the mixer's
// entry (Sources reads it).
type Origin struct {
	Source uintptr
	TS     uint64
}

// MixRing is SCOPE_MIX_RING: the outputs of a mixer whose origins are kept.
const MixRing = int(C.SCOPE_MIX_RING)

// MakeMixer gives the element a mixer's ring of origins (is_mixer).
func (m *Matcher) MakeMixer() { C.algo_mixer(m.e) }

// MakeQueue marks the element a queue: its outputs are matched in order,
// and the inputs they skip are counted as dropped.
func (m *Matcher) MakeQueue() { C.algo_fifo(m.e) }

// Dropped is the element's dropped count.
func (m *Matcher) Dropped() uint64 { return uint64(C.algo_dropped(m.e)) }

// EOS is the queue pushing EOS: what entered after its last output was
// dropped. Needs scope_flags with element or pipeline (SetFlags).
func (m *Matcher) EOS() { C.algo_fifo_eos(m.e) }

// SetFlags sets the latency tracer's flags (scope_flags) and returns the
// previous ones.
func SetFlags(f int) int {
	old := int(C.g_atomic_int_get(&C.scope_flags))
	C.g_atomic_int_set(&C.scope_flags, C.gint(f))
	return old
}

// FlagElement is SCOPE_FLAG_ELEMENT.
const FlagElement = C.SCOPE_FLAG_ELEMENT

// PutFrom is Put for a buffer of origin o.
func (m *Matcher) PutFrom(i int, buf uintptr, size, rt, rtEnd, ts uint64, o Origin) {
	C.algo_put_from(m.e, C.gint(i), C.guintptr(buf), C.guint64(size), C.guint64(rt), C.guint64(rtEnd),
		C.guint64(ts), C.guint64(o.TS), C.guintptr(o.Source))
}

// Mix is the origin a mixer's output buffer carries, and whether it
// matched an input.
func (m *Matcher) Mix(buf uintptr, size, rt uint64) (Origin, bool) {
	var ts C.guint64
	var src C.guintptr
	ok := C.algo_mix(m.e, C.guintptr(buf), C.guint64(size), C.guint64(rt), &ts, &src) != 0
	return Origin{uintptr(src), uint64(ts)}, ok
}

// Sources are the sources origin o stands for, as a sink reads them; false
// when it refers to a mixer's entry that has been overwritten.
func Sources(o Origin) ([]Origin, bool) {
	var src [C.SCOPE_MAX_INPUTS]C.guintptr
	var ts [C.SCOPE_MAX_INPUTS]C.guint64
	n := int(C.algo_sources(C.guintptr(o.Source), C.guint64(o.TS), &src[0], &ts[0]))
	if n < 0 {
		return nil, false
	}
	out := make([]Origin, n)
	for i := range out {
		out[i] = Origin{uintptr(src[i]), uint64(ts[i])}
	}
	return out, true
}
