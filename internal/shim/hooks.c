/* hooks.c: the per-buffer hot path of gstscope.
 *
 * Every function here runs synchronously on a GStreamer streaming thread,
 * inside gst_pad_push(), gst_pad_chain() or gst_pad_pull_range(). They take
 * no lock, allocate nothing (after a thread's first hook) and never call Go:
 * they find the pad's slot through a per-thread cache (qdata on a miss) and
 * update it with relaxed atomics.
 *
 * How time is attributed:
 * - Each thread keeps a stack of frames, one per chain (or getrange) call it
 *   is inside. An element's processing time is its frame's duration minus the
 *   frames nested in it, so time spent downstream during its own pushes is
 *   not its own (correct for tee and for elements that push several buffers
 *   per input).
 * - A buffer's element latency runs from the arrival of the input that
 *   carried its first sample. Inputs and outputs are matched in running time
 *   (PTS through the pushing pad's segment): every sink pad of an element
 *   that outputs records its arrivals in a ring, and an output is matched
 *   with the input being processed, the same buffer (queues), or the input
 *   whose running-time span holds it (encoders with lookahead, decoders
 *   with frame threads, re-chunking audio encoders, mixers). See leave().
 * - The time a buffer left its source ("origin") travels with it the same
 *   way: through frames on one thread, through the rings across threads, and
 *   from a push-pre to the chain-pre of the peer on the same thread.
 */
#include "histogram.h"
#include "runningtime.h"
#include "match.h"
#include "mix.h"
#include "mux.h"
#include "queue.h"

const guint64 scope_bounds_ns[SCOPE_NBOUNDS] = {
  1000, 2500, 5000,
  10000, 25000, 50000,
  100000, 250000, 500000,
  1000000, 2500000, 5000000,
  10000000, 25000000, 50000000,
  100000000, 250000000, 500000000,
  1000000000, 2500000000, 5000000000,
  10000000000,
};

#define thr scope_thread

/* The slot of pad, through the thread's cache: a hit needs the slot in
 * the state it was cached in (not dead, not reused).
 * A hit leaves the set as it is (two pads of one set used in turn would
 * otherwise swap on every buffer); a miss refreshes a stale entry of the
 * same pad in place, or makes room at the front of the set. */
INLINE ScopePad *
pad_get (ScopeThread * t, GstPad * pad)
{
  guint64 a = (guintptr) pad;
  __typeof__ (t->pc[0]) *s =
      &t->pc[(a * G_GUINT64_CONSTANT (0x9E3779B97F4A7C15)) >>
      (64 - SCOPE_PAD_SET_BITS)];
  ScopePad *p;
  guint w;

  for (w = 0; w < SCOPE_PAD_WAYS; w++) {
    if (G_LIKELY (s->pad[w] == pad)) {
      p = s->slot[w];
      /* The pad's state only: an element that dies takes its pads' slots
       * with it (scope_element_removed, and the sweep before any slot is
       * reused), and a finalized element's pads were removed first. */
      if (G_LIKELY (scope_state (p) == s->state[w]))
        return p;
      goto refresh;
    }
  }
  for (w = SCOPE_PAD_WAYS - 1; w > 0; w--) {
    s->pad[w] = s->pad[w - 1];
    s->slot[w] = s->slot[w - 1];
    s->state[w] = s->state[w - 1];
  }
refresh:
  p = scope_pad_lookup (pad, &s->state[w]);
  s->pad[w] = pad;
  s->slot[w] = p;
  return p;
}

static inline void
count (ScopePad * p, guint n, gsize bytes)
{
  add64 (&p->buffers, n);
  add64 (&p->bytes, bytes);
}

/* Opens a frame for an element's input buf (NULL: none, a getrange), of
 * the given origin and running time, entry idx in pad's ring. Every field
 * written once: enter() used to overwrite six of them (~6 instructions per
 * chain call). */
INLINE void
frame_open (ScopeThread * t, gconstpointer gstpad, ScopeElement * e,
    ScopePad * p, guint64 ts, guint n, guint64 origin_ts,
    ScopeElement * origin, gconstpointer buf, guint64 rt, guint64 rt_end,
    guint64 idx)
{
  ScopeFrame *f;
  guint d = t->depth;
  __atomic_store_n (&t->depth, d + 1, RELAXED);
  if (G_UNLIKELY (d >= SCOPE_MAX_DEPTH))
    return;
  f = &t->f[d];
  f->gstpad = gstpad;
  __atomic_store_n (&f->elem, e, RELAXED);
  f->pad = p;
  f->start = ts;
  f->child = 0;
  f->origin_ts = origin_ts;
  f->origin = origin;
  f->buf = buf;
  f->rt = rt;
  f->rt_end = rt_end;
  f->idx = idx;
  f->n = n;
}

INLINE void
frame_push (ScopeThread * t, gconstpointer gstpad, ScopeElement * e,
    ScopePad * p, guint64 ts, guint n)
{
  frame_open (t, gstpad, e, p, ts, n, 0, NULL, NULL, NONE, NONE, 0);
}

/* Pops the frame opened for gstpad, charging its duration to its parent.
 * Returns NULL when the stack does not match (hooks registered mid-call). */
static inline ScopeFrame *
frame_pop (ScopeThread * t, gconstpointer gstpad, guint64 ts, guint64 * total)
{
  ScopeFrame *f;
  guint d;
  if (G_UNLIKELY (t->depth == 0))
    return NULL;
  d = t->depth - 1;
  __atomic_store_n (&t->depth, d, RELAXED);
  if (G_UNLIKELY (d >= SCOPE_MAX_DEPTH))
    return NULL;
  f = &t->f[d];
  if (G_UNLIKELY (f->gstpad != gstpad)) {
    __atomic_store_n (&t->depth, 0, RELAXED);
    return NULL;
  }
  *total = since (ts, f->start);
  if (d > 0)
    t->f[d - 1].child += *total;
  return f;
}

static inline ScopeFrame *
frame_top (ScopeThread * t)
{
  guint d = t->depth;
  return (d > 0 && d <= SCOPE_MAX_DEPTH) ? &t->f[d - 1] : NULL;
}

/* A mixer's output: its element latency from the match as for any element,
 * its origin from every input (mix.h). Out of line: rare, and its matches
 * take room on the stack. */
static __attribute__ ((noinline)) gboolean
leave_mixer (ScopeElement * e, GstBuffer * buf, gsize size, guint64 rt,
    guint64 * entry_ts, guint64 * origin_ts, ScopeElement ** src)
{
  ScopeRingEntry in = { 0 }, each[SCOPE_MAX_INPUTS];
  guint n_each = 0;

  if (!ring_match (e, buf, size, rt, &in, each, &n_each, FALSE))
    return FALSE;
  *entry_ts = in.ts;
  if (n_each > 0) {
    mix_origin (e->mix, each, n_each, origin_ts, src);
  } else {
    *origin_ts = in.origin_ts;
    *src = in.origin;
  }
  return TRUE;
}

/* The input whose data the TS packets in buf (or list) carry: that of the
 * first packet of an input's stream among the first SCOPE_TS_SCAN (tables
 * come before a keyframe's PES). M2TS packets have a 4-byte prefix. */
#define SCOPE_TS_SCAN 16
static gboolean
ts_match (ScopeElement * e, GstBuffer * buf, GstBufferList * list,
    ScopeRingEntry * in)
{
  guint n = list ? gst_buffer_list_length (list) : 1, i, seen = 0, pid;
  gboolean pusi;
  guint8 h[8];

  for (i = 0; i < n && seen < SCOPE_TS_SCAN; i++) {
    GstBuffer *b = list ? gst_buffer_list_get (list, i) : buf;
    gsize size = gst_buffer_get_size (b), off, stride = 188;

    if (gst_buffer_extract (b, 0, h, 8) < 8)
      continue;
    off = h[0] == 0x47 ? 0 : 4;
    if (off)
      stride = 192;
    for (; off + 4 <= size && seen < SCOPE_TS_SCAN; off += stride, seen++) {
      if (gst_buffer_extract (b, off, h, 4) < 4 || !ts_header (h, &pid, &pusi))
        break;
      if (pid != 0 && ts_input (e, pid, pusi, in))
        return TRUE;
    }
  }
  return FALSE;
}

/* A muxer's output (mux.h): the input it carries, or none. Out of line:
 * rare. */
static __attribute__ ((noinline)) gboolean
leave_muxer (ScopeFrame * f, ScopeElement * e, GstBuffer * buf,
    GstBufferList * list, gsize size, guint64 rt, guint64 * entry_ts,
    guint64 * origin_ts, ScopeElement ** src)
{
  ScopeRingEntry in = { 0 };

  if (e->muxer == SCOPE_MUXER_TS) {
    if (!ts_match (e, buf, list, &in))
      return FALSE;
  } else if (f && f->elem == e && (f->buf == buf || (rt != NONE
              && f->rt != NONE && f->rt <= rt + SCOPE_RT_SLACK
              && rt <= f->rt + SCOPE_RT_SLACK))) {
    /* The input being processed, if the output is it or starts with it. */
    frame_matched (f);
    *entry_ts = f->start;
    *origin_ts = f->origin_ts;
    *src = f->origin;
    return TRUE;
  } else if (rt == NONE || !ring_match (e, buf, size, rt, &in, NULL, NULL,
          TRUE)) {
    /* Without a running time only the buffer's address would be left,
     * which a header the muxer allocates may share with an input freed
     * long ago (flvmux's tag and metadata headers). */
    return FALSE;
  }
  *entry_ts = in.ts;
  *origin_ts = in.origin_ts;
  *src = in.origin;
  return TRUE;
}

/* A buffer (or the first of a list of n) leaves element e through src pad
 * sp. Its element latency runs from the arrival of the input that carried
 * its first sample: the input being processed when it holds the output (or
 * when either has no running time: untimestamped data is matched with what
 * the element is processing), else the match in its inputs' rings. */
INLINE void
leave (ScopeThread * t, ScopePad * sp, ScopeElement * e, guint64 ts,
    GstBuffer * buf, GstBufferList * list, gsize size, guint n)
{
  ScopeFrame *f = frame_top (t);
  ScopeRingEntry in;            /* written by ring_match when it matches */
  gboolean entered = FALSE;
  guint64 entry_ts = 0, origin_ts = 0, rt, rt_end;
  ScopeElement *src = NULL;

  /* Only latencies need the matching (not reported latency alone). */
  if (!(g_atomic_int_get (&scope_flags) & (SCOPE_FLAG_ELEMENT |
              SCOPE_FLAG_PIPELINE)))
    return;
  rt = running_time (sp, GST_BUFFER_PTS (buf), GST_BUFFER_DTS (buf),
      GST_BUFFER_DURATION (buf), &rt_end);
  /* Stream headers without a timestamp (the codec setup that flacenc,
   * vorbisenc or theoraenc push before the first frame) carry no sample:
   * they are no frame's latency, and no source time travels with them. A
   * timed buffer flagged HEADER is a frame (h264parse flags the keyframes
   * it puts SPS and PPS in). */
  if (G_UNLIKELY (rt == NONE)
      && GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_HEADER)
      && !GST_BUFFER_PTS_IS_VALID (buf) && !GST_BUFFER_DTS_IS_VALID (buf)) {
    t->pend_ts = 0;
    t->pend_src = NULL;
    t->pend_rt = t->pend_rt_end = NONE;
    return;
  }
  if (G_UNLIKELY (e->muxer)) {
    entered = leave_muxer (f, e, buf, list, size, rt, &entry_ts, &origin_ts,
        &src);
    goto matched;
  }
  if (f && f->elem == e) {
    /* A pad that had no segment pushed on it (tee's request pads get
     * theirs copied): the same buffer has the same running time. */
    if (rt == NONE && f->buf == buf) {
      rt = f->rt;
      rt_end = f->rt_end;
    }
    if (f->buf == buf || rt == NONE || f->rt == NONE || frame_holds (f, rt)) {
      frame_matched (f);
      entry_ts = f->start;
      origin_ts = f->origin_ts;
      src = f->origin;
      entered = TRUE;
    }
  }
  if (!entered && G_UNLIKELY (e->is_mixer))
    entered = leave_mixer (e, buf, size, rt, &entry_ts, &origin_ts, &src);
  /* A source has no inputs to match. */
  if (!entered && g_atomic_int_get (&e->n_inputs) > 0
      && ring_match (e, buf, size, rt, &in, NULL, NULL, FALSE)) {
    entry_ts = in.ts;
    origin_ts = in.origin_ts;
    src = in.origin;
    entered = TRUE;
  } else if (!entered && t->task_elem == e) {
    entry_ts = t->task_ts;
    origin_ts = t->task_origin_ts;
    src = t->task_src;
    entered = TRUE;
  } else if (!entered && e->is_source) {
    origin_ts = ts;
    src = e;
  }

matched:
  if (entered && (g_atomic_int_get (&scope_flags) & SCOPE_FLAG_ELEMENT)) {
    guint64 lat = since (ts, entry_ts);
    observe (&e->lat, lat, n);
    __atomic_store_n (&e->lat_last_ns, lat, RELAXED);
  }
  t->pend_ts = origin_ts;
  t->pend_src = src;
  t->pend_rt = rt;
  t->pend_rt_end = rt_end;
}

INLINE void
path_add (ScopeElement * sink, ScopeElement * src, guint64 ns, guint n)
{
  gint i;
  for (i = 0; i < SCOPE_MAX_PATHS; i++) {
    ScopePath *p = &sink->paths[i];
    ScopeElement *cur = __atomic_load_n (&p->source, __ATOMIC_ACQUIRE);
    if (cur == NULL) {
      ScopeElement *expected = NULL;
      if (!__atomic_compare_exchange_n (&p->source, &expected, src, FALSE,
              __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE) && expected != src)
        continue;
      cur = src;
    }
    if (cur == src) {
      observe (&p->hist, ns, n);
      return;
    }
  }
}

/* A mixer's output reaches sink at ts: one path per source in it. */
static __attribute__ ((noinline)) void
path_observe_mix (ScopeElement * sink, ScopeElement * src, guint64 seq,
    guint64 ts, guint n)
{
  ScopeMixEntry m;
  guint i;

  if (mix_read (src, seq, &m))
    for (i = 0; i < m.n; i++)
      path_add (sink, m.origin[i], since (ts, m.origin_ts[i]), n);
}

/* A buffer (or list) of origin src, which left it at origin_ts, reaches
 * sink at ts. */
INLINE void
path_observe (ScopeElement * sink, ScopeElement * src, guint64 origin_ts,
    guint64 ts, guint n)
{
  if (G_UNLIKELY (is_mix (src)))
    path_observe_mix (sink, src, origin_ts, ts, n);
  else
    path_add (sink, src, since (ts, origin_ts), n);
}

/* A buffer (or list) enters the element owning sink pad p: it is recorded
 * in the pad's ring (with the running time and origin its upstream push
 * left on this thread) and a frame opens for the element's chain call. */
INLINE void
enter (ScopeThread * t, GstPad * gstpad, ScopePad * p, guint64 ts,
    GstBuffer * buf, gsize size, guint n)
{
  ScopeElement *e = p->elem;
  guint64 origin_ts = t->pend_ts, rt = t->pend_rt, rt_end = t->pend_rt_end;
  ScopeElement *src = t->pend_src;
  ScopeRing *r;
  guint64 idx = 0;

  t->pend_ts = 0;
  t->pend_src = NULL;
  t->pend_rt = t->pend_rt_end = NONE;
  if (src && e->is_sink
      && (g_atomic_int_get (&scope_flags) & SCOPE_FLAG_PIPELINE))
    path_observe (e, src, origin_ts, ts, n);
  r = __atomic_load_n (&p->ring, __ATOMIC_ACQUIRE);
  if (r && (g_atomic_int_get (&scope_flags) & (SCOPE_FLAG_ELEMENT |
              SCOPE_FLAG_PIPELINE)))
    idx = ring_record (p, r, buf, size, rt, rt_end, ts, origin_ts, src);
  frame_open (t, gstpad, e, p, ts, n, origin_ts, src, buf, rt, rt_end, idx);
}

/* Closes a chain (res: what it returned) or getrange frame (chain FALSE):
 * the element's own time is its frame minus the frames nested in it.
 * Returns the frame, or NULL.
 * A queue's chain call is the upstream thread's time in the queue, mostly
 * waiting for room: its backpressure, not its processing, which is its own
 * thread's work between its pushes (task_push). Its frame has no element
 * (queue_enter), so that it is no element's processing nor a frame of the
 * profile, and found among the frames without one (ghost and proxy pads):
 * nothing more to test for the frames of other elements. */
INLINE ScopeFrame *
close_frame (ScopeThread * t, gconstpointer gstpad, guint64 ts,
    gboolean chain, GstFlowReturn res)
{
  guint64 total;
  ScopeFrame *f = frame_pop (t, gstpad, ts, &total);
  if (f && f->elem && (g_atomic_int_get (&scope_flags) & SCOPE_FLAG_ELEMENT)) {
    guint64 own = total > f->child ? total - f->child : 0;
    observe (&f->elem->proc, f->n == 1 ? own : own / f->n, f->n);
  } else if (chain && f && !f->elem && f->pad && G_UNLIKELY (f->pad->queue)) {
    queue_chain_post (f->pad->queue, res, total);
  }
  return f;
}

/* n buffers of bytes in all, the last one buf, entered queue pad p's chain
 * (enter() opened its frame). Their running time: what the upstream push
 * computed on this thread (the frame's), else (flags without element or
 * pipeline, lists) buf's through the segment of the pad pushing into p. */
static __attribute__ ((noinline, cold)) void
queue_enter (ScopeThread * t, ScopePad * p, GstBuffer * buf, guint n,
    guint64 bytes)
{
  ScopeFrame *f = frame_top (t);
  guint64 start = f ? f->rt : NONE, end = f ? f->rt_end : NONE;
  ScopePad *peer;
  if (f)
    __atomic_store_n (&f->elem, NULL, RELAXED);
  if (n != 1 || start == NONE) {
    peer = __atomic_load_n (&p->peer, __ATOMIC_ACQUIRE);
    start = peer ? running_time (peer, GST_BUFFER_PTS (buf),
        GST_BUFFER_DTS (buf), GST_BUFFER_DURATION (buf), &end) : NONE;
  }
  queue_chain_pre (p->queue, n, bytes, start, end);
}

/* n buffers of bytes in all, the last one buf, leave queue src pad p. */
static __attribute__ ((noinline, cold)) void
queue_leave (ScopePad * p, GstBuffer * buf, guint n, guint64 bytes)
{
  guint64 end, start = running_time (p, GST_BUFFER_PTS (buf),
      GST_BUFFER_DTS (buf), GST_BUFFER_DURATION (buf), &end);
  queue_push (p->queue, n, bytes, queue_end (start, end));
}

/* ---- an element's own task ----
 * A source, demuxer, queue or aggregator runs a task that pushes from
 * outside any chain call. Its processing for a buffer it pushes is the
 * task's time since its previous push returned, less the time spent in other
 * elements' functions meanwhile (pulls). A task that paces itself (a live
 * source waiting for the clock, a queue or appsrc waiting for data) has long
 * gaps that are mostly waiting: there the thread's own CPU clock, read at
 * both ends, gives the work. It is a system call (~0.6 us here), so it is
 * read only while the gaps are longer than SCOPE_TASK_WALL_NS (until they
 * fall below half that); a busy task pushing faster than that cannot have
 * waited for long. A gap measured neither way (the first, or the first after
 * the pace slowed) is left out. */
#define SCOPE_TASK_WALL_NS (50 * GST_USECOND)

static inline guint64
cpu_now (void)
{
  struct timespec ts;
  if (clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
    return 0;
  return (guint64) ts.tv_sec * GST_SECOND + ts.tv_nsec;
}

/* The task of e pushes n buffers. */
static void
task_push (ScopeThread * t, ScopeElement * e, guint64 ts, guint n)
{
  if (t->task_idle && t->task_owner == e) {
    guint64 gap = since (ts, t->task_idle), own = 0;
    gboolean known = FALSE;
    if (t->task_cpu) {
      guint64 cpu = cpu_now ();
      own = since (cpu, t->task_cpu);
      known = cpu != 0;
    } else if (gap <= SCOPE_TASK_WALL_NS) {
      own = gap;
      known = TRUE;
    }
    if (known)
      observe (&e->proc, since (own, t->task_child) / n, n);
    /* With some hysteresis: a task whose gaps hover around the bound
     * would lose a figure at each switch to the CPU clock. */
    t->task_slow = gap > (t->task_slow ? SCOPE_TASK_WALL_NS / 2 :
        SCOPE_TASK_WALL_NS);
  }
  t->task_owner = e;
  t->task_idle = 0;
}

/* The task's push returned: its own work starts again. */
static inline void
task_resume (ScopeThread * t, guint64 ts)
{
  t->task_idle = ts;
  t->task_child = 0;
  t->task_cpu = t->task_slow ? cpu_now () : 0;
}

/* ---- push mode ---- */

static inline gboolean
latency_on (void)
{
  return g_atomic_int_get (&scope_flags) != 0;
}

/* A push from outside any chain function comes from the element whose task
 * runs this thread: that element owns the thread's CPU until the next such
 * push (a pooled task thread may serve another element later). */
static inline void
own (ScopeThread * t, ScopePad * p)
{
  if (t->depth == 0 && __atomic_load_n (&t->owner, RELAXED) != p->elem)
    __atomic_store_n (&t->owner, p->elem, RELAXED);
}

/* The push of buf from element pad p; queue: p is a queue's (its output
 * counts). Compiled twice: the pads of other elements pay nothing for
 * queues (see ScopePad.unusual). */
INLINE void
push_pre (ScopeThread * t, gboolean latency, GstClockTime ts, ScopePad * p,
    GstBuffer * buf, gboolean queue)
{
  gsize size;

  own (t, p);
  if (!latency)
    return;
  size = gst_buffer_get_size (buf);
  count (p, 1, size);
  if (t->depth == 0) {
    /* A queue pushes from its own task, outside any chain call. */
    if (queue)
      queue_leave (p, buf, 1, size);
    if (!t->draining && (g_atomic_int_get (&scope_flags) & SCOPE_FLAG_ELEMENT))
      task_push (t, p->elem, ts, 1);
  }
  leave (t, p, p->elem, ts, buf, NULL, size, 1);
  t->pend_buf = buf;
  t->pend_size = size;
}

static __attribute__ ((noinline)) void
push_pre_unusual (ScopeThread * t, gboolean latency, GstClockTime ts,
    ScopePad * p, GstBuffer * buf)
{
  if (!p->transparent)
    push_pre (t, latency, ts, p, buf, TRUE);
}

static void
on_push_pre (GObject * o, GstClockTime ts, GstPad * pad, GstBuffer * buf)
{
  ScopeThread *t = thr ();
  gboolean latency = latency_on ();
  ScopePad *p;

  if (t->depth > 0 && !latency)
    return;
  p = pad_get (t, pad);
  if (G_UNLIKELY (!p))
    return;
  if (G_UNLIKELY (p->unusual))
    push_pre_unusual (t, latency, ts, p, buf);
  else
    push_pre (t, latency, ts, p, buf, FALSE);
}

/* A list pushed from src pad p (with n > 0 buffers), handled at the chain of
 * its peer: there is no "pad-push-list-pre" hook. GStreamer looks every
 * registered hook name up in a hash table at every hook site, gst_object_ref
 * and unref included, and that name shares its home slot with
 * "object-reffed" (their quarks are 31 apart, the table's modulus at our
 * 19 names): registering it cost ~160 instructions per push of every buffer,
 * lists or not (make instructions: 646 -> 484 over the floor). A list whose
 * push reaches no chain (unlinked, flushing, dropped by a probe) is not
 * counted: it went through no pad. */
static void
list_pushed (ScopeThread * t, ScopePad * p, guint64 ts, GstBufferList * list,
    guint n)
{
  gboolean latency = latency_on ();
  GstBuffer *first;
  gsize size;

  if ((t->depth > 0 && !latency) || p->transparent || scope_dead (p)
      || scope_dead (p->elem))
    return;
  own (t, p);
  if (!latency)
    return;
  size = gst_buffer_list_calculate_size (list);
  count (p, n, size);
  if (t->depth == 0) {
    if (G_UNLIKELY (p->queue))
      queue_leave (p, gst_buffer_list_get (list, n - 1), n, size);
    if (!t->draining && (g_atomic_int_get (&scope_flags) & SCOPE_FLAG_ELEMENT))
      task_push (t, p->elem, ts, n);
  }
  first = gst_buffer_list_get (list, 0);
  leave (t, p, p->elem, ts, first, list, gst_buffer_get_size (first), n);
}

/* buf enters element pad p's chain; queue: p is a queue's. Compiled
 * twice, as push_pre. */
INLINE void
chain_pre (ScopeThread * t, GstClockTime ts, GstPad * pad, ScopePad * p,
    GstBuffer * buf, gboolean queue)
{
  gsize size;
  if (!latency_on ()) {
    frame_push (t, pad, p->elem, p, ts, 1);
    return;
  }
  /* The buffer the upstream push just measured, as a rule (a probe
   * between them may replace it). */
  size = buf == t->pend_buf ? t->pend_size : gst_buffer_get_size (buf);
  t->pend_buf = NULL;
  count (p, 1, size);
  enter (t, pad, p, ts, buf, size, 1);
  if (queue)
    queue_enter (t, p, buf, 1, size);
}

static __attribute__ ((noinline)) void
chain_pre_unusual (ScopeThread * t, GstClockTime ts, GstPad * pad,
    ScopePad * p, GstBuffer * buf)
{
  if (!p || p->transparent)
    frame_push (t, pad, NULL, NULL, ts, 1);
  else
    chain_pre (t, ts, pad, p, buf, TRUE);
}

static void
on_chain_pre (GObject * o, GstClockTime ts, GstPad * pad, GstBuffer * buf)
{
  ScopeThread *t = thr ();
  ScopePad *p = pad_get (t, pad);
  if (G_UNLIKELY (!p) || G_UNLIKELY (p->unusual))
    chain_pre_unusual (t, ts, pad, p, buf);
  else
    chain_pre (t, ts, pad, p, buf, FALSE);
}

static void
on_chain_list_pre (GObject * o, GstClockTime ts, GstPad * pad,
    GstBufferList * list)
{
  ScopeThread *t = thr ();
  ScopePad *p = pad_get (t, pad), *up;
  guint n = gst_buffer_list_length (list);
  GstBuffer *first;
  gsize size;
  /* First the push that brought it (list_pushed). */
  if (G_LIKELY (p) && n > 0
      && (up = __atomic_load_n (&p->peer, __ATOMIC_ACQUIRE)) != NULL)
    list_pushed (t, up, ts, list, n);
  if (G_UNLIKELY (!p) || p->transparent || n == 0) {
    frame_push (t, pad, NULL, NULL, ts, 1);
    return;
  }
  if (!latency_on ()) {
    frame_push (t, pad, p->elem, p, ts, n);
    return;
  }
  size = gst_buffer_list_calculate_size (list);
  count (p, n, size);
  first = gst_buffer_list_get (list, 0);
  enter (t, pad, p, ts, first, gst_buffer_get_size (first), n);
  if (G_UNLIKELY (p->queue))
    queue_enter (t, p, gst_buffer_list_get (list, n - 1), n, size);
}

static void
on_chain_post (GObject * o, GstClockTime ts, GstPad * pad, GstFlowReturn res)
{
  /* A thread without a stack has no frame to close; and no call here
   * before res is used spares a register for it (~3 instructions). */
  ScopeThread *t = scope_thread_ptr;
  if (G_UNLIKELY (!t))
    return;
  if (close_frame (t, pad, ts, TRUE, res) && t->depth == 0 && !t->draining)
    task_resume (t, ts);
}

/* ---- pull mode: pad is the sink pad of the element that pulls ---- */

static void
on_pull_range_pre (GObject * o, GstClockTime ts, GstPad * pad, guint64 offset,
    guint size)
{
  ScopeThread *t = thr ();
  ScopePad *p = pad_get (t, pad);
  /* The peer as learnt at pad-link-post: gst_pad_get_peer() would take
   * the pad's lock. */
  ScopePad *peer = p ? __atomic_load_n (&p->peer, __ATOMIC_ACQUIRE) : NULL;
  if (peer && (peer->transparent || scope_dead (peer)
          || scope_dead (peer->elem)))
    peer = NULL;
  frame_push (t, pad, peer ? peer->elem : NULL, peer, ts, 1);
}

static void
on_pull_range_post (GObject * o, GstClockTime ts, GstPad * pad,
    GstBuffer * buf, GstFlowReturn res)
{
  ScopeThread *t = thr ();
  ScopeFrame *f = close_frame (t, pad, ts, FALSE, res), *up;
  ScopePad *sp;
  ScopeElement *src;
  guint64 origin_ts;
  gsize size;

  if (f && t->depth == 0)
    t->task_child += since (ts, f->start);
  if (!f || !latency_on () || res != GST_FLOW_OK || !buf)
    return;
  /* The data left its source now; or, pulled through a getrange that pulls
   * upstream itself (typefind's, a ghost or proxy pad's), when the pull
   * nested in this one returned. */
  if (f->origin) {
    origin_ts = f->origin_ts;
    src = f->origin;
  } else if (f->elem && f->elem->is_source) {
    origin_ts = ts;
    src = f->elem;
  } else {
    origin_ts = t->pend_ts;
    src = t->pend_src;
  }
  size = gst_buffer_get_size (buf);
  if (f->elem)
    count (f->pad, 1, size);
  sp = pad_get (t, pad);
  if (sp && !sp->transparent)
    count (sp, 1, size);
  up = frame_top (t);
  if (up && !up->buf) {
    /* Inside another getrange (a chain frame has its input buffer): what
     * that one returns is what this pull brought. */
    up->origin_ts = origin_ts;
    up->origin = src;
    return;
  }
  if (!sp || sp->transparent)
    return;
  /* The puller runs this task: what it pushes next entered it now. */
  t->task_elem = sp->elem;
  t->task_ts = ts;
  t->task_origin_ts = origin_ts;
  t->task_src = src;
}

/* ---- structure: learnt where GStreamer holds none of our objects' locks ---- */

static void
on_push_event_pre (GObject * o, GstClockTime ts, GstPad * pad, GstEvent * ev)
{
  GstEventType type = GST_EVENT_TYPE (ev);
  ScopeThread *t;
  ScopePad *p, *peer;
  gint hops;

  if ((type != GST_EVENT_SEGMENT && type != GST_EVENT_FLUSH_STOP
          && type != GST_EVENT_EOS && type != GST_EVENT_STREAM_START
          && type != GST_EVENT_QOS) || !latency_on ())
    return;
  t = thr ();
  /* Upstream, from a sink: how late its last buffer was (flow.c). */
  if (type == GST_EVENT_QOS) {
    if ((p = pad_get (t, pad)))
      scope_flow_qos_event (p, ev);
    return;
  }
  /* An element drains what it holds when EOS reaches it (x264enc's ~40
   * frames), pushing them from its EOS handling on this thread: not the
   * work of the task running the thread. Data flows again after a flush or
   * a new stream or segment (a pooled thread's next task begins so). */
  t->draining = type == GST_EVENT_EOS;
  if (type == GST_EVENT_STREAM_START)
    return;
  p = pad_get (t, pad);
  if (!p || p->sink)
    return;
  if (type == GST_EVENT_EOS) {
    /* A sink's figures are final: the metrics file is written. */
    ScopeElement *e;
    if (!p->transparent && (g_atomic_int_get (&scope_flags) & SCOPE_FLAG_FILE)
        && (e = scope_pad_downstream (p)) && e->is_sink)
      scope_latency_checkpoint ();
    if (!p->transparent && p->elem->fifo)
      scope_flow_fifo_eos (p->elem);
    return;
  }
  /* A transparent slot keeps its segment too: it may be a pad not yet
   * added to its element, whose slot takes it over (scope_pad_added). */
  if (type == GST_EVENT_SEGMENT) {
    const GstSegment *seg;
    gst_event_parse_segment (ev, &seg);
    segment_store (p, seg);
    return;
  }
  if (p->transparent)
    return;
  /* After a flush, running time starts again: what entered the peer
   * before is gone and must not match what comes next. */
  peer = __atomic_load_n (&p->peer, __ATOMIC_ACQUIRE);
  for (hops = 0; peer && peer->transparent && hops < 16; hops++) {
    ScopePad *o = __atomic_load_n (&peer->other, __ATOMIC_ACQUIRE);
    peer = o ? __atomic_load_n (&o->peer, __ATOMIC_ACQUIRE) : NULL;
  }
  if (peer && !peer->transparent && peer->ring)
    __atomic_store_n (&peer->ring->valid_from,
        __atomic_load_n (&peer->ring->head, __ATOMIC_ACQUIRE), RELAXED);
  /* A queue empties itself at FLUSH_STOP. */
  if (peer && !peer->transparent && peer->queue)
    queue_flush (peer->queue);
}

static void
on_bin_add_post (GObject * o, GstClockTime ts, GstBin * bin,
    GstElement * element, gboolean res)
{
  if (!res)
    return;
  scope_element_learn (element);
  scope_element_learn (GST_ELEMENT (bin));
}

/* Names given after the bins were built (an application renaming its
 * pipeline) are read before the pipeline starts. */
static void
on_change_state_pre (GObject * o, GstClockTime ts, GstElement * element,
    GstStateChange transition)
{
  if (transition == GST_STATE_CHANGE_NULL_TO_READY
      || transition == GST_STATE_CHANGE_READY_TO_PAUSED)
    scope_element_learn (element);
  /* A queue empties when it stops, and starts empty: its level is 0 from
   * the stop on, and counts start again before its pads are activated (no
   * hook registered for after a state change: every hook name registered
   * costs at every hook site, see BENCHMARKS.md). */
  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY
      || transition == GST_STATE_CHANGE_READY_TO_PAUSED)
    scope_queues_stopped (element);
  /* A pipeline shutting down: its series go with its elements soon; the
   * metrics file keeps them as they are now. */
  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY && GST_IS_BIN (element)
      && !GST_OBJECT_PARENT (element)
      && (g_atomic_int_get (&scope_flags) & SCOPE_FLAG_FILE))
    scope_latency_checkpoint ();
}

static void
on_pad_link_post (GObject * o, GstClockTime ts, GstPad * src, GstPad * sink,
    GstPadLinkReturn res)
{
  if (res == GST_PAD_LINK_OK)
    scope_pads_linked (src, sink, TRUE);
}

static void
on_pad_unlink_post (GObject * o, GstClockTime ts, GstPad * src,
    GstPad * sink, gboolean res)
{
  if (res)
    scope_pads_linked (src, sink, FALSE);
}

static void
on_bin_remove_pre (GObject * o, GstClockTime ts, GstBin * bin,
    GstElement * element)
{
  scope_element_removed (element);
}

static void
on_element_add_pad (GObject * o, GstClockTime ts, GstElement * element,
    GstPad * pad)
{
  scope_pad_added (element, pad);
}

static void
on_element_remove_pad (GObject * o, GstClockTime ts, GstElement * element,
    GstPad * pad)
{
  scope_pad_removed (pad);
}

static void
on_plugin_feature_loaded (GObject * o, GstClockTime ts,
    GstPluginFeature * feature)
{
}

gboolean
scope_only_inspected (GstTracer * tracer)
{
  const gchar *prg = g_get_prgname ();
  if (prg == NULL || !g_str_has_prefix (prg, "gst-inspect-"))
    return FALSE;
  GST_INFO_OBJECT (tracer, "constructed by %s to be described: not started",
      prg);
  return TRUE;
}

void
scope_hooks_register (GstTracer * tracer)
{
  static gint registered;

  /* Hooks are per process: one set serves both tracers. The other tracer
   * holds a rare hook that does nothing, only to stay alive. */
  if (!g_atomic_int_compare_and_exchange (&registered, 0, 1)) {
    gst_tracing_register_hook (tracer, "plugin-feature-loaded",
        G_CALLBACK (on_plugin_feature_loaded));
    return;
  }
  gst_tracing_register_hook (tracer, "pad-push-pre", G_CALLBACK (on_push_pre));
  gst_tracing_register_hook (tracer, "pad-chain-pre",
      G_CALLBACK (on_chain_pre));
  gst_tracing_register_hook (tracer, "pad-chain-post",
      G_CALLBACK (on_chain_post));
  gst_tracing_register_hook (tracer, "pad-chain-list-pre",
      G_CALLBACK (on_chain_list_pre));
  gst_tracing_register_hook (tracer, "pad-chain-list-post",
      G_CALLBACK (on_chain_post));
  gst_tracing_register_hook (tracer, "pad-pull-range-pre",
      G_CALLBACK (on_pull_range_pre));
  gst_tracing_register_hook (tracer, "pad-pull-range-post",
      G_CALLBACK (on_pull_range_post));
  scope_reported_register (tracer);
  scope_flow_register (tracer);
  gst_tracing_register_hook (tracer, "pad-push-event-pre",
      G_CALLBACK (on_push_event_pre));
  gst_tracing_register_hook (tracer, "bin-add-post",
      G_CALLBACK (on_bin_add_post));
  gst_tracing_register_hook (tracer, "element-change-state-pre",
      G_CALLBACK (on_change_state_pre));
  gst_tracing_register_hook (tracer, "pad-link-post",
      G_CALLBACK (on_pad_link_post));
  gst_tracing_register_hook (tracer, "pad-unlink-post",
      G_CALLBACK (on_pad_unlink_post));
  gst_tracing_register_hook (tracer, "bin-remove-pre",
      G_CALLBACK (on_bin_remove_pre));
  gst_tracing_register_hook (tracer, "element-add-pad",
      G_CALLBACK (on_element_add_pad));
  gst_tracing_register_hook (tracer, "element-remove-pad",
      G_CALLBACK (on_element_remove_pad));
}
