/* match.h: what entered an element's sink pads (one ring per pad) and the
 * matching of each output with the input that carried its first sample.
 * Tested on their own: algorithms.go. */
#ifndef GSTSCOPE_MATCH_H
#define GSTSCOPE_MATCH_H

#include "hot.h"
#include "runningtime.h"

/* ---- what entered a sink pad ---- */

/* buf's first memory: what a buffer keeps when an element re-stamps it,
 * and a new buffer at a recycled address does not have (see same_buffer);
 * scope_no_memory for a buffer without memory. The hooks read it from the
 * GstBuffer; the tests of algorithms.go define SCOPE_MEMORY_OF to give
 * their buffers memories. */
static const gint scope_no_memory;
#ifndef SCOPE_MEMORY_OF
static inline gconstpointer
scope_memory_of (gconstpointer buf)
{
  GstBuffer *b = (GstBuffer *) buf;
  return gst_buffer_n_memory (b) ? (gconstpointer) gst_buffer_peek_memory (b,
      0) : (gconstpointer) & scope_no_memory;
}
#define SCOPE_MEMORY_OF(buf) scope_memory_of (buf)
#endif

/* The memory of buf, entering a ring that records memories (want_mem).
 * Once the element's first output was matched (hint), entries record them
 * only if a reader saw it re-stamp (see same_buffer): the producer looks
 * here, where it already makes two calls into GStreamer, so that a ring
 * that records none costs nothing more. */
static __attribute__ ((noinline)) gconstpointer
ring_mem (ScopeRing * r, gconstpointer buf)
{
  gint first = SCOPE_MEM_FIRST;
  if (__atomic_load_n (&r->want_mem, RELAXED) == first
      && __atomic_load_n (&r->hint, RELAXED))
    __atomic_compare_exchange_n (&r->want_mem, &first, 0, FALSE, RELAXED,
        RELAXED);
  return SCOPE_MEMORY_OF (buf);
}

INLINE guint64
ring_put (ScopeRing * r, gconstpointer buf, guint64 size, guint64 rt,
    guint64 rt_end, guint64 ts, guint64 origin_ts, ScopeElement * origin)
{
  guint64 head = r->head;
  ScopeRingEntry *x = &r->e[head & r->mask];

  __atomic_store_n (&x->seq, 0, RELAXED);
  __atomic_thread_fence (__ATOMIC_RELEASE);
  __atomic_store_n (&x->buf, buf, RELAXED);
  __atomic_store_n (&x->size, size, RELAXED);
  /* Two calls into GStreamer: only before an element's first output and
   * for elements seen re-stamping (same_buffer). */
  __atomic_store_n (&x->mem, __atomic_load_n (&r->want_mem, RELAXED) ?
      ring_mem (r, buf) : NULL, RELAXED);
  __atomic_store_n (&x->rt, rt, RELAXED);
  __atomic_store_n (&x->rt_end, rt_end, RELAXED);
  __atomic_store_n (&x->ts, ts, RELAXED);
  __atomic_store_n (&x->origin_ts, origin_ts, RELAXED);
  __atomic_store_n (&x->origin, origin, RELAXED);
  __atomic_store_n (&x->seq, head + 1, __ATOMIC_RELEASE);
  __atomic_store_n (&r->head, head + 1, __ATOMIC_RELEASE);
  return head + 1;
}

/* Copies entry k of r into out if it is whole (written at k, and not
 * overwritten while being read). */
static inline gboolean
ring_read (ScopeRing * r, guint64 k, ScopeRingEntry * out)
{
  ScopeRingEntry *x = &r->e[k & r->mask];
  guint64 seq = __atomic_load_n (&x->seq, __ATOMIC_ACQUIRE);
  if (seq != k + 1)
    return FALSE;
  out->seq = seq;
  out->buf = __atomic_load_n (&x->buf, RELAXED);
  out->size = __atomic_load_n (&x->size, RELAXED);
  out->mem = __atomic_load_n (&x->mem, RELAXED);
  out->rt = __atomic_load_n (&x->rt, RELAXED);
  out->rt_end = __atomic_load_n (&x->rt_end, RELAXED);
  out->ts = __atomic_load_n (&x->ts, RELAXED);
  out->origin_ts = __atomic_load_n (&x->origin_ts, RELAXED);
  out->origin = __atomic_load_n (&x->origin, RELAXED);
  __atomic_thread_fence (__ATOMIC_ACQUIRE);
  return __atomic_load_n (&x->seq, RELAXED) == seq;
}

/* ---- a ring's size ----
 * A ring must keep every input the element still holds: an output matched
 * with an input the ring no longer has gets no latency and loses its
 * origin. What the element may still hold is what entered after the input
 * its last output was matched with (the ring's hint, set by every match:
 * ring_matched): an encoder filling its lookahead, a jitterbuffer its
 * latency, a queue its level or all it gets while downstream is blocked.
 * The producer looks every quarter ring and doubles the ring when that is
 * three quarters of it or more: it was less a quarter ago, so the ring
 * still has it all. A reader that found nothing in a ring which had wrapped
 * past what it looked for (a burst larger than a quarter ring) asks for a
 * larger one too (want). An element that outputs each input while
 * processing it keeps the smallest ring. */
static inline guint64
ring_cap (const ScopeRing * r)
{
  return r->mask + 1;
}

/* Whether the producer should grow r, whose head is head. */
static inline gboolean
ring_short (ScopeRing * r, guint64 head)
{
  guint64 cap = ring_cap (r);
  if (cap >= SCOPE_RING_MAX)
    return FALSE;
  return head - __atomic_load_n (&r->hint, RELAXED) >= cap - cap / 4
      || __atomic_load_n (&r->want, RELAXED);
}

/* An output was matched with the input recorded at idx (index + 1). */
static inline void
ring_matched (ScopeRing * r, guint64 idx)
{
  __atomic_store_n (&r->hint, idx, RELAXED);
}

/* Records an arrival on sink pad p (the producer, on p's streaming thread):
 * returns its index + 1. */
INLINE guint64
ring_record (ScopePad * p, ScopeRing * r, gconstpointer buf, guint64 size,
    guint64 rt, guint64 rt_end, guint64 ts, guint64 origin_ts,
    ScopeElement * origin)
{
  guint64 idx = ring_put (r, buf, size, rt, rt_end, ts, origin_ts, origin);
  if (G_UNLIKELY ((idx & r->quarter) == 0) && ring_short (r, idx))
    scope_ring_grow (p, r);
  return idx;
}

/* Called by the producer under scope_lock: fills ring n, empty and larger,
 * with what r holds, at the same indices, so that a reader finds in n what
 * it found in r. Published afterwards. */
static inline void
ring_copy (ScopeRing * n, ScopeRing * r)
{
  guint64 head = r->head, k;
  guint64 lo = head > ring_cap (r) ? head - ring_cap (r) : 0;

  for (k = lo; k < head; k++)
    n->e[k & n->mask] = r->e[k & r->mask];
  n->head = head;
  n->valid_from = __atomic_load_n (&r->valid_from, RELAXED);
  n->hint = __atomic_load_n (&r->hint, RELAXED);
  n->want_mem = __atomic_load_n (&r->want_mem, RELAXED);
}

/* How far past the best candidate a scan goes looking for an older input
 * that carried the same running time, or for one reordered before it. */
#define SCOPE_SCAN_SLACK 32
/* Running times this close are the same: RTP's 90 kHz timestamps come back
 * from jitterbuffers and depayloaders a nanosecond off, which would put a
 * frame into the previous one's span. */
#define SCOPE_RT_SLACK (1 * GST_USECOND)

/* The same buffer object: same address, and the same running time, or the
 * same size, the same first memory and a running time moved less than
 * SCOPE_RETIME_NS (a jitterbuffer correcting skew on the buffers it passes
 * on, audiorate re-stamping them from their sample count). An address and
 * a size are not enough: videorate's outputs are new buffers (copies of the
 * frame it holds, sharing that frame's memory) that often land where an
 * input it freed was, with the same size and a running time 25-52 ms away.
 * Reading a buffer's memory costs two calls into GStreamer, so a ring
 * records it (want_mem) for what enters before the element's first output
 * was matched (ring_mem), and from the first such candidate on. The
 * inputs held before the first output must have it: rtpjitterbuffer holds
 * its first 200 ms of packets, then passes them on re-stamped from their
 * RTP times, a millisecond or so before their arrival's running time, which
 * lies in the previous packet's span: matched in running time, a frame's
 * packets took the previous frame's last one, 33 ms early. A candidate
 * whose input was recorded without a memory is not taken. The output's
 * memory is read only for a candidate. */
#define SCOPE_RETIME_NS (100 * GST_MSECOND)
static inline gboolean
same_buffer (ScopeRing * r, const ScopeRingEntry * x, gconstpointer buf,
    guint64 size, guint64 rt)
{
  if (x->buf != buf)
    return FALSE;
  if (x->rt == NONE || rt == NONE)
    return TRUE;
  if (x->rt <= rt + SCOPE_RT_SLACK && rt <= x->rt + SCOPE_RT_SLACK)
    return TRUE;
  if (x->size != size || (x->rt > rt ? x->rt - rt : rt - x->rt)
      >= SCOPE_RETIME_NS)
    return FALSE;
  if (__atomic_load_n (&r->want_mem, RELAXED) != SCOPE_MEM_ALWAYS)
    __atomic_store_n (&r->want_mem, SCOPE_MEM_ALWAYS, RELAXED);
  return x->mem && x->mem == SCOPE_MEMORY_OF (buf);
}

/* A queue passes its inputs on untouched: an output is the same object at
 * the same running time, never a re-stamped one (same_buffer's allowance
 * for jitterbuffers would take a pooled buffer that came back at the same
 * address with the same memory, a frame or two later, for the one the
 * queue dropped before it). Either running time may be unknown (behind
 * tee's request pads, which get no segment pushed): then the object. */
static inline gboolean
fifo_same (const ScopeRingEntry * x, gconstpointer buf, guint64 rt)
{
  return x->buf == buf && (x->rt == rt || x->rt == NONE || rt == NONE);
}

/* A queue (e->fifo) outputs its inputs in order, so an output found past
 * the input expected next (hint, the index after the previous match)
 * skipped the inputs between: a leaky queue dropped them (flow.c). Inputs
 * before a flush (valid_from) were flushed, not dropped. */
static inline void
fifo_skipped (ScopeElement * e, ScopeRing * r, guint64 hint, guint64 k)
{
  guint64 from = MAX (hint, __atomic_load_n (&r->valid_from, RELAXED));
  /* Outputs that matched no input since the last match (a copy at a new
   * address, behind tee's request pads, which carry no running time: a
   * leaky queue flags the buffer after a drop DISCONT, which copies a
   * shared one) were inputs passed over here, not drops. */
  guint64 unmatched = e->fifo_unmatched;
  e->fifo_unmatched = 0;
  if (k - 1 > from + unmatched) {
    add64 (&e->dropped, k - 1 - from - unmatched);
    /* They leave the queue's level too (queue.c). */
    scope_queue_dropped (e, r, from + unmatched, k - 1);
  }
}

/* Matched by the object alone (a running time unknown, as behind tee's
 * request pads): a pooled buffer comes back at the same address, so the
 * ring may hold a dropped one and the live one at one address; only the
 * newest can be alive. Returns the index of the newest entry from k on
 * that is buf (read into x). Reads up to the queue's level, only in this
 * case. */
static __attribute__ ((noinline)) guint64
fifo_newest (ScopeRing * r, guint64 k, guint64 head, gconstpointer buf,
    ScopeRingEntry * x)
{
  ScopeRingEntry y;
  guint64 j;
  for (j = k + 1; j < head; j++)
    if (ring_read (r, j, &y) && y.buf == buf) {
      *x = y;
      k = j;
    }
  return k;
}

/* The input a queue (e->fifo) outputs: the first from the one expected
 * next (hint; from: the oldest the ring still has after it) that is the
 * same buffer, else the first at the same running time: a leaky queue
 * flags the buffer after a drop DISCONT, which makes a copy of one that
 * is shared (behind a tee), at another address. Oldest first: what a FIFO
 * passes over was dropped, and the first of several inputs at one running
 * time (an RTP frame's packets) is the one it outputs first. Usually the
 * first entry read is the one. */
static inline gboolean
fifo_match (ScopeElement * e, ScopeRing * r, guint64 hint, guint64 from,
    guint64 head, gconstpointer buf, guint64 rt, ScopeRingEntry * out)
{
  ScopeRingEntry x;
  guint64 k;
  gint pass;

  for (pass = 0; pass < 2; pass++) {
    for (k = from; k < head; k++) {
      if (!ring_read (r, k, &x))
        continue;
      if (pass == 0 ? fifo_same (&x, buf, rt) : rt != NONE && x.rt == rt) {
        if (pass == 0 && (x.rt == NONE || rt == NONE))
          k = fifo_newest (r, k, head, buf, &x);
        fifo_skipped (e, r, hint, k + 1);
        ring_matched (r, k + 1);
        *out = x;
        return TRUE;
      }
    }
    if (rt == NONE)
      break;
  }
  e->fifo_unmatched++;
  return FALSE;
}

/* Finds the input of element e that carried the first sample of an output
 * buffer buf at running time rt:
 * 1. the same buffer (queues, jitterbuffers, tee): its newest entry;
 * 2. else the input whose running time span holds rt (an input without a
 *    duration holds everything up to the next one): the latest such, and of
 *    inputs at the same running time the earliest to arrive (a frame that
 *    a depayloader builds from packets arrived with its first packet).
 * Inputs are scanned newest first: an element holding frames (encoder
 * lookahead, decoder frame threads) has their inputs at the top. No match
 * in a wrapped ring whose every input is later than rt (what carried it was
 * overwritten) asks for a larger ring.
 * exact: only an input that starts at rt (a muxer's outputs, mux.h).
 * each (NULL, or room for SCOPE_MAX_INPUTS): the match on each sink pad
 * found by 2., *n_each of them, for a mixer's origins (mix.h); not filled
 * when the output is the same buffer as an input.
 * Only the input an output is made of is out (ring_matched, which the
 * ring's growth reads): on an element with several sink pads (multiqueue,
 * funnel, input-selector) an input of another pad whose span holds the
 * output's running time is still held. Taken as out, it hid what that pad
 * held: decodebin's multiqueue, passing video while it held audio during
 * playbin's preroll, kept its audio ring at 16 entries and lost the
 * origins of what it held. A mixer's output is made of its match on every
 * pad. Likewise a wrapped ring asks to grow only when no pad had the
 * output's input, or for a mixer. */
static inline gboolean
ring_match (ScopeElement * e, gconstpointer buf, guint64 size, guint64 rt,
    ScopeRingEntry * out, ScopeRingEntry * each, guint * n_each,
    gboolean exact)
{
  gint n = MIN (g_atomic_int_get (&e->n_inputs), SCOPE_MAX_INPUTS);
  guint64 at = rt == NONE ? NONE : rt + SCOPE_RT_SLACK;
  gboolean have = FALSE;
  ScopeRing *have_ring = NULL, *wrapped[SCOPE_MAX_INPUTS];
  guint n_wrapped = 0;
  gint i;

  for (i = 0; i < n; i++) {
    ScopePad *in = __atomic_load_n (&e->inputs[i], __ATOMIC_ACQUIRE);
    ScopeRing *r = in ? __atomic_load_n (&in->ring, __ATOMIC_ACQUIRE) : NULL;
    guint64 head, lo, k, hint, oldest_rt = NONE;
    ScopeRingEntry x, best;
    gboolean found = FALSE;
    guint misses = 0;

    if (!r)
      continue;
    head = __atomic_load_n (&r->head, __ATOMIC_ACQUIRE);
    lo = MAX (__atomic_load_n (&r->valid_from, RELAXED),
        head > ring_cap (r) ? head - ring_cap (r) : 0);
    /* A queue's output is the buffer after its previous one. */
    hint = __atomic_load_n (&r->hint, RELAXED);
    if (G_UNLIKELY (e->fifo)) {
      if (fifo_match (e, r, hint, MAX (hint, lo), head, buf, rt, out))
        return TRUE;
      continue;
    }
    if (hint >= lo && hint < head && ring_read (r, hint, &x)
        && same_buffer (r, &x, buf, size, rt)) {
      ring_matched (r, hint + 1);
      *out = x;
      return TRUE;
    }
    for (k = head; k > lo; k--) {
      if (!ring_read (r, k - 1, &x))
        continue;
      oldest_rt = x.rt;
      if (same_buffer (r, &x, buf, size, rt)) {
        ring_matched (r, k);
        *out = x;
        return TRUE;
      }
      if (rt == NONE || x.rt == NONE)
        continue;
      if (x.rt <= at && (exact ? x.rt + 2 * SCOPE_RT_SLACK >= at :
              (x.rt_end == NONE || at < x.rt_end))
          && (!found || x.rt + SCOPE_RT_SLACK >= best.rt)) {
        best = x;
        found = TRUE;
        misses = 0;
      } else if ((found || x.rt < rt) && ++misses > SCOPE_SCAN_SLACK) {
        break;
      }
    }
    if (!found && k == lo && lo + ring_cap (r) == head && rt != NONE
        && oldest_rt != NONE && oldest_rt > at)
      wrapped[n_wrapped++] = r;
    if (found && each) {
      ring_matched (r, best.seq);
      each[(*n_each)++] = best;
    }
    if (found && (!have || best.rt > out->rt + SCOPE_RT_SLACK
            || (best.rt + SCOPE_RT_SLACK >= out->rt && best.ts < out->ts))) {
      *out = best;
      have_ring = r;
      have = TRUE;
    }
  }
  if (have && !each)
    ring_matched (have_ring, out->seq);
  if (!have || each)
    while (n_wrapped > 0) {
      ScopeRing *w = wrapped[--n_wrapped];
      if (!__atomic_load_n (&w->want, RELAXED))
        __atomic_store_n (&w->want, 1, RELAXED);
    }
  return have;
}

/* The input being processed holds the output at rt, and no earlier input on
 * its pad has the same running time (then that one carried it first). */
static inline gboolean
frame_holds (const ScopeFrame * f, guint64 rt)
{
  guint64 at = rt + SCOPE_RT_SLACK;
  ScopeRingEntry prev;
  ScopeRing *r;

  if (f->rt > at)
    return FALSE;
  if (f->rt + 2 * SCOPE_RT_SLACK >= at) {
    r = f->pad ? f->pad->ring : NULL;
    return !(r && f->idx >= 2 && ring_read (r, f->idx - 2, &prev)
        && prev.rt != NONE && prev.rt + SCOPE_RT_SLACK >= f->rt);
  }
  return f->rt_end != NONE && at < f->rt_end;
}

/* The output was matched with the input being processed (frame_holds, or
 * data without running time): it holds nothing older (see ring_short). */
static inline void
frame_matched (const ScopeFrame * f)
{
  ScopeRing *r;
  if (f->idx && (r = __atomic_load_n (&f->pad->ring, __ATOMIC_ACQUIRE)))
    ring_matched (r, f->idx);
}

#endif
