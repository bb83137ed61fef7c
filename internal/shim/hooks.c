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
 * - A buffer's element latency runs from entering the element to leaving it.
 *   When it leaves inside the chain call that brought it in, the frame knows
 *   the entry time. When it leaves from another thread (queue, aggregator),
 *   the entry was recorded in a ring on the sink pad and is matched by buffer
 *   identity or PTS; this is what keeps a queue's residence time right where
 *   the core latency tracer's "last probe event" gets it wrong.
 * - The time a buffer left its source ("origin") travels with it the same
 *   way: through frames on one thread, through the rings across threads, and
 *   from a push-pre to the chain-pre of the peer on the same thread.
 */
#include "scope.h"

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

#define SCOPE_RING_SCAN 64
#define thr scope_thread

#define RELAXED __ATOMIC_RELAXED
#define add64(p, v) __atomic_fetch_add ((p), (v), RELAXED)

static inline guint
bucket_of (guint64 ns)
{
  guint lo = 0, hi = SCOPE_NBOUNDS;
  while (lo < hi) {
    guint mid = (lo + hi) / 2;
    if (ns <= scope_bounds_ns[mid])
      hi = mid;
    else
      lo = mid + 1;
  }
  return lo;
}

/* Records n observations of ns each (n > 1 for buffer lists). */
static inline void
observe (ScopeHist * h, guint64 ns, guint n)
{
  add64 (&h->counts[bucket_of (ns)], n);
  add64 (&h->sum_ns, ns * n);
}

static inline guint64
since (guint64 ts, guint64 start)
{
  return ts > start ? ts - start : 0;
}

/* The slot of pad, through the thread's cache: a hit needs the slot in
 * the state it was cached in (not dead, not reused) and its element alive. */
static inline ScopePad *
pad_get (ScopeThread * t, GstPad * pad)
{
  guintptr a = (guintptr) pad;
  guint h = ((a >> 4) ^ (a >> 10)) & (SCOPE_PAD_CACHE - 1);
  ScopePad *p = t->pc[h].slot;

  if (G_LIKELY (t->pc[h].pad == pad && scope_state (p) == t->pc[h].state
          && (p->transparent || !scope_dead (p->elem))))
    return p;
  p = scope_pad_lookup (pad, &t->pc[h].state);
  t->pc[h].pad = pad;
  t->pc[h].slot = p;
  return p;
}

static inline void
count (ScopePad * p, guint n, gsize bytes)
{
  add64 (&p->buffers, n);
  add64 (&p->bytes, bytes);
}

static inline ScopeFrame *
frame_push (ScopeThread * t, gconstpointer gstpad, ScopeElement * e,
    ScopePad * p, guint64 ts, guint n)
{
  ScopeFrame *f;
  guint d = t->depth;
  __atomic_store_n (&t->depth, d + 1, RELAXED);
  if (G_UNLIKELY (d >= SCOPE_MAX_DEPTH))
    return NULL;
  f = &t->f[d];
  f->gstpad = gstpad;
  __atomic_store_n (&f->elem, e, RELAXED);
  f->pad = p;
  f->start = ts;
  f->child = 0;
  f->origin_ts = 0;
  f->origin = NULL;
  f->n = n;
  return f;
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

static inline gboolean
ring_match_entry (const ScopeRingEntry * r, gconstpointer buf, guint64 pts)
{
  if (r->buf == buf)
    return TRUE;
  if (pts == GST_CLOCK_TIME_NONE || r->pts == GST_CLOCK_TIME_NONE)
    return FALSE;
  if (r->pts == pts)
    return TRUE;
  /* An aggregator's output starting inside an input buffer. */
  return r->dur != GST_CLOCK_TIME_NONE && r->pts < pts && pts < r->pts + r->dur;
}

static inline void
ring_put (ScopeRing * r, GstBuffer * buf, guint64 ts, guint64 origin_ts,
    ScopeElement * origin)
{
  guint64 head = r->head;
  ScopeRingEntry *e;
  if (head - __atomic_load_n (&r->tail, __ATOMIC_ACQUIRE) >= SCOPE_RING)
    return;                     /* full: this buffer goes unmatched */
  e = &r->e[head % SCOPE_RING];
  e->buf = buf;
  e->pts = buf ? GST_BUFFER_PTS (buf) : GST_CLOCK_TIME_NONE;
  e->dur = buf ? GST_BUFFER_DURATION (buf) : GST_CLOCK_TIME_NONE;
  e->ts = ts;
  e->origin_ts = origin_ts;
  e->origin = origin;
  __atomic_store_n (&r->head, head + 1, __ATOMIC_RELEASE);
}

/* Consumer side: finds the entry for buf in the element's input rings and
 * drops the entries older than it (buffers the element dropped). */
static gboolean
ring_take (ScopeElement * e, GstBuffer * buf, ScopeRingEntry * out)
{
  gint n = MIN (g_atomic_int_get (&e->n_inputs), SCOPE_MAX_INPUTS);
  guint64 pts = buf ? GST_BUFFER_PTS (buf) : GST_CLOCK_TIME_NONE;
  gint i;

  for (i = 0; i < n; i++) {
    ScopePad *in = __atomic_load_n (&e->inputs[i], __ATOMIC_ACQUIRE);
    ScopeRing *r = in ? __atomic_load_n (&in->ring, __ATOMIC_ACQUIRE) : NULL;
    guint64 tail, head, k, end;
    if (!r)
      continue;
    tail = r->tail;
    head = __atomic_load_n (&r->head, __ATOMIC_ACQUIRE);
    end = MIN (head, tail + SCOPE_RING_SCAN);
    for (k = tail; k < end; k++) {
      const ScopeRingEntry *x = &r->e[k % SCOPE_RING];
      if (ring_match_entry (x, buf, pts)) {
        gboolean same = x->buf == buf || x->pts == pts;
        *out = *x;
        /* An input that covers several outputs stays for the next one. */
        __atomic_store_n (&r->tail, same ? k + 1 : k, __ATOMIC_RELEASE);
        return TRUE;
      }
    }
    if (head - tail >= SCOPE_RING)      /* full of strangers: make room */
      __atomic_store_n (&r->tail, tail + SCOPE_RING / 2, __ATOMIC_RELEASE);
  }
  return FALSE;
}

/* A buffer (or the first of a list of n) leaves element e through a src pad. */
static void
leave (ScopeThread * t, ScopeElement * e, guint64 ts, GstBuffer * buf,
    guint n)
{
  ScopeFrame *f = frame_top (t);
  ScopeRingEntry in;
  gboolean entered = FALSE;
  guint64 entry_ts = 0, origin_ts = 0;
  ScopeElement *src = NULL;

  if (f && f->elem == e) {
    entry_ts = f->start;
    origin_ts = f->origin_ts;
    src = f->origin;
    entered = TRUE;
  } else if (g_atomic_int_get (&e->async) && ring_take (e, buf, &in)) {
    entry_ts = in.ts;
    origin_ts = in.origin_ts;
    src = in.origin;
    entered = TRUE;
  } else if (t->task_elem == e) {
    entry_ts = t->task_ts;
    origin_ts = t->task_origin_ts;
    src = t->task_src;
    entered = TRUE;
  } else if (e->is_source) {
    origin_ts = ts;
    src = e;
  } else if (!g_atomic_int_get (&e->async)) {
    /* Output from outside the element's chain: record its inputs from now. */
    scope_element_make_async (e);
  }

  if (entered && (g_atomic_int_get (&scope_flags) & SCOPE_FLAG_ELEMENT)) {
    guint64 lat = since (ts, entry_ts);
    observe (&e->lat, lat, n);
    __atomic_store_n (&e->lat_last_ns, lat, RELAXED);
  }
  t->pend_ts = origin_ts;
  t->pend_src = src;
}

static void
path_observe (ScopeElement * sink, ScopeElement * src, guint64 ns, guint n)
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

/* A buffer (or list) enters the element owning sink pad p. */
static void
enter (ScopeThread * t, GstPad * gstpad, ScopePad * p, guint64 ts,
    GstBuffer * buf, guint n)
{
  ScopeElement *e = p->elem;
  guint64 origin_ts = t->pend_ts;
  ScopeElement *src = t->pend_src;
  ScopeRing *r;
  ScopeFrame *f;

  t->pend_ts = 0;
  t->pend_src = NULL;
  if (src && e->is_sink
      && (g_atomic_int_get (&scope_flags) & SCOPE_FLAG_PIPELINE))
    path_observe (e, src, since (ts, origin_ts), n);
  r = __atomic_load_n (&p->ring, __ATOMIC_ACQUIRE);
  if (r)
    ring_put (r, buf, ts, origin_ts, src);
  f = frame_push (t, gstpad, e, p, ts, n);
  if (f) {
    f->origin_ts = origin_ts;
    f->origin = src;
  }
}

/* Closes a chain or getrange frame: the element's own time is its frame
 * minus the frames nested in it. Returns the frame, or NULL. */
static ScopeFrame *
close_frame (ScopeThread * t, gconstpointer gstpad, guint64 ts)
{
  guint64 total;
  ScopeFrame *f = frame_pop (t, gstpad, ts, &total);
  if (f && f->elem && (g_atomic_int_get (&scope_flags) & SCOPE_FLAG_ELEMENT)) {
    guint64 own = total > f->child ? total - f->child : 0;
    observe (&f->elem->proc, own / f->n, f->n);
  }
  return f;
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

static void
on_push_pre (GObject * o, GstClockTime ts, GstPad * pad, GstBuffer * buf)
{
  ScopeThread *t = thr ();
  gboolean latency = latency_on ();
  ScopePad *p;

  if (t->depth > 0 && !latency)
    return;
  p = pad_get (t, pad);
  if (G_UNLIKELY (!p) || p->transparent)
    return;
  own (t, p);
  if (!latency)
    return;
  count (p, 1, gst_buffer_get_size (buf));
  leave (t, p->elem, ts, buf, 1);
}

static void
on_push_list_pre (GObject * o, GstClockTime ts, GstPad * pad,
    GstBufferList * list)
{
  ScopeThread *t = thr ();
  gboolean latency = latency_on ();
  ScopePad *p;
  guint n = gst_buffer_list_length (list);

  if (t->depth > 0 && !latency)
    return;
  p = pad_get (t, pad);
  if (G_UNLIKELY (!p) || p->transparent || n == 0)
    return;
  own (t, p);
  if (!latency)
    return;
  count (p, n, gst_buffer_list_calculate_size (list));
  leave (t, p->elem, ts, gst_buffer_list_get (list, 0), n);
}

static void
on_chain_pre (GObject * o, GstClockTime ts, GstPad * pad, GstBuffer * buf)
{
  ScopeThread *t = thr ();
  ScopePad *p = pad_get (t, pad);
  if (G_UNLIKELY (!p) || p->transparent) {
    frame_push (t, pad, NULL, NULL, ts, 1);
    return;
  }
  if (!latency_on ()) {
    frame_push (t, pad, p->elem, p, ts, 1);
    return;
  }
  count (p, 1, gst_buffer_get_size (buf));
  enter (t, pad, p, ts, buf, 1);
}

static void
on_chain_list_pre (GObject * o, GstClockTime ts, GstPad * pad,
    GstBufferList * list)
{
  ScopeThread *t = thr ();
  ScopePad *p = pad_get (t, pad);
  guint n = gst_buffer_list_length (list);
  if (G_UNLIKELY (!p) || p->transparent || n == 0) {
    frame_push (t, pad, NULL, NULL, ts, 1);
    return;
  }
  if (!latency_on ()) {
    frame_push (t, pad, p->elem, p, ts, n);
    return;
  }
  count (p, n, gst_buffer_list_calculate_size (list));
  enter (t, pad, p, ts, gst_buffer_list_get (list, 0), n);
}

static void
on_chain_post (GObject * o, GstClockTime ts, GstPad * pad, GstFlowReturn res)
{
  close_frame (thr (), pad, ts);
}

/* ---- pull mode: pad is the sink pad of the element that pulls ---- */

static void
on_pull_range_pre (GObject * o, GstClockTime ts, GstPad * pad, guint64 offset,
    guint size)
{
  ScopeThread *t = thr ();
  GstPad *peer = gst_pad_get_peer (pad);
  ScopePad *p = peer ? pad_get (t, peer) : NULL;
  if (p && p->transparent)
    p = NULL;
  frame_push (t, pad, p ? p->elem : NULL, p, ts, 1);
  if (peer)
    gst_object_unref (peer);
}

static void
on_pull_range_post (GObject * o, GstClockTime ts, GstPad * pad,
    GstBuffer * buf, GstFlowReturn res)
{
  ScopeThread *t = thr ();
  ScopeFrame *f = close_frame (t, pad, ts);
  ScopePad *sp;
  gsize size;

  if (!f || !f->elem || !latency_on ())
    return;
  if (res != GST_FLOW_OK || !buf)
    return;
  size = gst_buffer_get_size (buf);
  count (f->pad, 1, size);
  sp = pad_get (t, pad);
  if (!sp || sp->transparent)
    return;
  count (sp, 1, size);
  /* The puller runs this task: what it pushes next entered it now, and left
   * its source (the element that produced it) now. */
  t->task_elem = sp->elem;
  t->task_ts = ts;
  if (f->elem->is_source) {
    t->task_origin_ts = ts;
    t->task_src = f->elem;
  } else {
    t->task_origin_ts = t->pend_ts;
    t->task_src = t->pend_src;
  }
}

/* ---- reported latency ----
 * A LATENCY query travels upstream; its answers come back downstream, each
 * element adding its own share. On this thread, the answers an element got
 * from upstream wait on a small stack until its own answer is seen, and its
 * share is the difference (the largest upstream answer for mixers). */
static void
on_query_post (GObject * o, GstClockTime ts, GstPad * pad, GstQuery * query,
    gboolean res)
{
  ScopeThread *t;
  ScopePad *p;
  ScopeElement *e, *peer = NULL;
  GstElement *peer_el;
  gboolean live;
  GstClockTime min = 0, max = 0;
  gint64 min_prev = 0, max_prev = 0, share_max;
  gboolean prev_unbounded = FALSE;

  if (GST_QUERY_TYPE (query) != GST_QUERY_LATENCY || !res
      || !(g_atomic_int_get (&scope_flags) & SCOPE_FLAG_REPORTED)
      || !GST_PAD_IS_SRC (pad))
    return;
  t = thr ();
  p = pad_get (t, pad);
  if (!p || p->transparent)
    return;
  e = p->elem;
  peer_el = scope_real_peer_element (pad);
  if (peer_el) {
    peer = scope_element_get (peer_el);
    gst_object_unref (peer_el);
  }
  gst_query_parse_latency (query, &live, &min, &max);

  while (t->qdepth > 0 && t->q[t->qdepth - 1].peer == e) {
    t->qdepth--;
    min_prev = MAX (min_prev, t->q[t->qdepth].min);
    if (t->q[t->qdepth].max == G_MAXINT64)
      prev_unbounded = TRUE;
    else
      max_prev = MAX (max_prev, t->q[t->qdepth].max);
  }
  if (t->qdepth >= SCOPE_MAX_QUERIES)
    t->qdepth = 0;
  t->q[t->qdepth].peer = peer;
  t->q[t->qdepth].min = (gint64) min;
  t->q[t->qdepth].max = max == GST_CLOCK_TIME_NONE ? G_MAXINT64 : (gint64) max;
  t->qdepth++;

  if (max == GST_CLOCK_TIME_NONE || prev_unbounded)
    share_max = G_MAXINT64;
  else
    share_max = (gint64) max - max_prev;
  __atomic_store_n (&e->rep_min_ns, (gint64) min - min_prev, RELAXED);
  __atomic_store_n (&e->rep_max_ns, share_max, RELAXED);
  g_atomic_int_set (&e->rep_set, 1);
}

/* ---- elements and pads that go away ---- */

static void
on_bin_remove_pre (GObject * o, GstClockTime ts, GstBin * bin,
    GstElement * element)
{
  scope_element_removed (element);
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
  gst_tracing_register_hook (tracer, "pad-push-list-pre",
      G_CALLBACK (on_push_list_pre));
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
  gst_tracing_register_hook (tracer, "pad-query-post",
      G_CALLBACK (on_query_post));
  gst_tracing_register_hook (tracer, "bin-remove-pre",
      G_CALLBACK (on_bin_remove_pre));
  gst_tracing_register_hook (tracer, "element-remove-pad",
      G_CALLBACK (on_element_remove_pad));
}
