/* reported.c: reported latency, each element's share of the LATENCY query
 * answer, as the reported flag of GStreamer's own latency tracer means it.
 *
 * A LATENCY query travels upstream from the sinks; the answer comes back
 * downstream, each element adding what it holds (a jitterbuffer its
 * latency, a decoder its frame delay, a live source one buffer) to what
 * upstream answered. So the answer at a src pad is cumulative: along
 * udpsrc -> rtpjitterbuffer -> rtpptdemux -> rtph264depay -> avdec_h264 it
 * is 0.2 s at each src pad after the jitterbuffer, and an element's share
 * is its own answer minus the answer of the element upstream of it (the
 * largest one, for a mixer), never the answer itself. Then the shares along
 * a path add up to the answer the sink gets, and nothing is counted twice.
 *
 * The hooks only record each element's latest answer (query-post on its src
 * pads; element-query-post for sinks, which answer the bin's query with
 * their own share added and have no src pad). The shares are computed at
 * snapshot time, under scope_lock, from the answers and the links the store
 * learnt: the upstream element is found through ghost pads, and one that
 * was never seen answering (its answer took a path with no hook) is looked
 * through. Answers from different rounds of queries (a decoder that learnt
 * its delay between them) could make a difference negative: that is shown
 * as no share, not as a negative one.
 *
 * A pipeline with no live source answers live=FALSE, and its answer is not
 * a latency: no sink waits for it and the pipeline configures none. Such
 * answers give no share (no series).
 */
#include "scope.h"

/* Records an answer on e under its sequence lock (odd while written). Two
 * threads answering at once: the one that finds the lock taken drops its
 * answer, which the other one's replaces anyway. */
static void
answer_store (ScopeElement * e, gboolean live, GstClockTime min,
    GstClockTime max)
{
  guint seq = __atomic_load_n (&e->rep_seq, __ATOMIC_RELAXED);
  if ((seq & 1) || !__atomic_compare_exchange_n (&e->rep_seq, &seq, seq | 1,
          FALSE, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
    return;
  __atomic_thread_fence (__ATOMIC_RELEASE);
  __atomic_store_n (&e->rep_live, live, __ATOMIC_RELAXED);
  __atomic_store_n (&e->rep_min, min, __ATOMIC_RELAXED);
  __atomic_store_n (&e->rep_max, max, __ATOMIC_RELAXED);
  __atomic_store_n (&e->rep_seq, (seq | 1) + 1, __ATOMIC_RELEASE);
}

typedef struct {
  gboolean live;
  GstClockTime min, max;
} Answer;

/* e's latest answer, if it has one and it was not being written. */
static gboolean
answer_read (ScopeElement * e, Answer * a)
{
  guint seq = __atomic_load_n (&e->rep_seq, __ATOMIC_ACQUIRE);
  if (seq == 0 || (seq & 1))
    return FALSE;
  a->live = __atomic_load_n (&e->rep_live, __ATOMIC_RELAXED);
  a->min = __atomic_load_n (&e->rep_min, __ATOMIC_RELAXED);
  a->max = __atomic_load_n (&e->rep_max, __ATOMIC_RELAXED);
  __atomic_thread_fence (__ATOMIC_ACQUIRE);
  return __atomic_load_n (&e->rep_seq, __ATOMIC_RELAXED) == seq;
}

/* A src pad answered a LATENCY query: the answer of the element it belongs
 * to. Only atomics on our own slot: the element may hold its object lock
 * (avdec_h264 does while it queries upstream). */
static void
on_query_post (GObject * o, GstClockTime ts, GstPad * pad, GstQuery * query,
    gboolean res)
{
  ScopePad *p;
  guint64 state;
  gboolean live;
  GstClockTime min, max;

  if (GST_QUERY_TYPE (query) != GST_QUERY_LATENCY || !res
      || !(g_atomic_int_get (&scope_flags) & SCOPE_FLAG_REPORTED)
      || !GST_PAD_IS_SRC (pad))
    return;
  p = scope_pad_lookup (pad, &state);
  if (!p || p->transparent)
    return;
  gst_query_parse_latency (query, &live, &min, &max);
  answer_store (p->elem, live, min, max);
}

/* A sink answered the bin's LATENCY query (sinks answer as elements: the
 * query to their sink pad's peer is upstream's answer, without theirs). */
static void
on_element_query_post (GObject * o, GstClockTime ts, GstElement * element,
    GstQuery * query, gboolean res)
{
  ScopeElement *e;
  gboolean live;
  GstClockTime min, max;

  if (GST_QUERY_TYPE (query) != GST_QUERY_LATENCY || !res
      || !(g_atomic_int_get (&scope_flags) & SCOPE_FLAG_REPORTED)
      || !GST_OBJECT_FLAG_IS_SET (element, GST_ELEMENT_FLAG_SINK)
      || GST_IS_BIN (element))
    return;
  e = scope_element_find (element);
  if (!e)
    return;
  gst_query_parse_latency (query, &live, &min, &max);
  answer_store (e, live, min, max);
}

void
scope_reported_register (GstTracer * tracer)
{
  gst_tracing_register_hook (tracer, "pad-query-post",
      G_CALLBACK (on_query_post));
  gst_tracing_register_hook (tracer, "element-query-post",
      G_CALLBACK (on_element_query_post));
}

/* The src pad that feeds sink pad k, through ghost pads: the mirror of the
 * store's walk downstream. NULL when k is unlinked; *lost when the walk
 * ends at a pad it cannot look through (then what feeds k is unknown).
 * Lock-free: slots are never freed. */
static ScopePad *
pad_upstream (ScopePad * k, gboolean * lost)
{
  ScopePad *q = __atomic_load_n (&k->peer, __ATOMIC_ACQUIRE);
  gint hops;

  for (hops = 0; q && hops < 16; hops++) {
    ScopePad *o;
    if (!q->transparent)
      return scope_dead (q) || scope_dead (q->elem) ? NULL : q;
    o = __atomic_load_n (&q->other, __ATOMIC_ACQUIRE);
    if (!o)
      break;
    q = __atomic_load_n (&o->peer, __ATOMIC_ACQUIRE);
  }
  *lost = q != NULL;
  return NULL;
}

/* The largest answers upstream of e: of each input, the answer of the
 * element feeding it, or of those feeding that one when it never answered.
 * unbounded: some upstream maximum is. FALSE when what feeds an input is
 * unknown: a share computed without it could count its latency again.
 * Bounded depth: a loop in the links (a feedback pipeline) ends. */
static gboolean
upstream_answer (ScopeElement * e, gint depth, Answer * up,
    gboolean * unbounded)
{
  gint i, n = MIN (g_atomic_int_get (&e->n_inputs), SCOPE_MAX_INPUTS);

  if (depth >= 16)
    return FALSE;
  for (i = 0; i < n; i++) {
    ScopePad *k = __atomic_load_n (&e->inputs[i], __ATOMIC_ACQUIRE);
    gboolean lost = FALSE;
    ScopePad *q = k ? pad_upstream (k, &lost) : NULL;
    Answer a;
    if (lost)
      return FALSE;
    if (!q)
      continue;
    if (!answer_read (q->elem, &a)) {
      if (!upstream_answer (q->elem, depth + 1, up, unbounded))
        return FALSE;
      continue;
    }
    up->min = MAX (up->min, a.min);
    if (a.max == GST_CLOCK_TIME_NONE)
      *unbounded = TRUE;
    else
      up->max = MAX (up->max, a.max);
  }
  return TRUE;
}

void
scope_reported_share (ScopeElement * e, ScopeElementStat * st)
{
  Answer own, up = { FALSE, 0, 0 };
  gboolean unbounded = FALSE;

  st->rep_set = 0;
  st->rep_min_ns = 0;
  st->rep_max_ns = G_MAXINT64;
  if (!answer_read (e, &own) || !own.live)
    return;
  if (!upstream_answer (e, 0, &up, &unbounded))
    return;
  st->rep_set = 1;
  st->rep_min_ns = own.min > up.min ? (gint64) (own.min - up.min) : 0;
  if (own.max != GST_CLOCK_TIME_NONE && !unbounded && own.max >= up.max)
    st->rep_max_ns = (gint64) (own.max - up.max);
}
