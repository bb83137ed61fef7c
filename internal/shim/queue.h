/* queue.h: a queue's fill level and backpressure, from gstscope's own
 * counts: what entered its sink pad minus what left its src pad. No
 * property of the queue is read and none of its locks is taken on a
 * streaming thread (a queue's properties take its mutex, which the
 * streaming threads hold while they enqueue and dequeue).
 *
 * One ScopeQueue per queue of a queue element: one for queue and queue2,
 * one per sink_N/src_N pair of a multiqueue. Both pads' slots point to it
 * (ScopePad.queue); the element's slot keeps them (ScopeQueues, queue.c).
 *
 * - In: a buffer (or each buffer of a list) counts when the queue's chain
 *   function returns GST_FLOW_OK: a queue enqueues just before returning OK
 *   and enqueues nothing when it returns anything else (flushing, EOS, an
 *   error downstream). A buffer waiting for room is not in the queue yet,
 *   as the queue's own current-level-buffers says.
 * - Out: at the push from the queue's src pad (the queue dequeued it just
 *   before).
 * - Level: in - out - flushed - dropped. A FLUSH_STOP entering the queue
 *   empties it (the queue's own flush): what was in it is "flushed". Drops
 *   of a leaky queue are counted into dropped_* by the leaky-queue drop
 *   detection (the drops side of issue 16), not here.
 * - Time: like the queue's current-level-time, the running time of the end
 *   (PTS + duration) of the last buffer in minus that of the last buffer
 *   out; before the first output, minus the start of the first input.
 * - Blocked: the upstream thread's time inside the queue's chain function
 *   when it waited for room. A queue's chain waits only when it is full,
 *   and only an output makes room (or a flush ends the wait). A call that
 *   waited is counted whole; one that did not (the enqueue, 1-10 us) not
 *   at all. A call waited when a buffer left the queue during it, or when
 *   it took longer than SCOPE_QUEUE_WAIT_NS: the thread woken by the output
 *   may return from the chain before the queue's thread reaches its push
 *   (queue2 does more between the two), which missed 5-13% of the wait.
 *   So a wait under SCOPE_QUEUE_WAIT_NS that lost that race is not counted,
 *   and an enqueue preempted for longer than it is.
 *
 * Writers: the upstream thread (the in line), the queue's own thread (the
 * out line), a flush (when neither runs: the upstream thread is the one
 * flushing and the queue's task is paused). Readers: the snapshot, which
 * may see in and out a buffer apart: levels are clamped at 0.
 * Tested on their own: algorithms.go.
 */
#ifndef GSTSCOPE_QUEUE_H
#define GSTSCOPE_QUEUE_H

#include <string.h>

#include "hot.h"

struct _ScopeQueue {
  /* The upstream thread's line. pend_*: the input inside the chain call. */
  guint64 in_buffers __attribute__ ((aligned (SCOPE_CACHE_LINE)));
  guint64 in_bytes;
  guint64 in_end;               /* running time; NONE: none since a flush */
  guint64 first_start;          /* of the first input since a flush */
  guint64 blocked_ns;
  guint64 pend_n, pend_bytes, pend_start, pend_end, pend_out;
  /* The queue's thread's line. */
  guint64 out_buffers __attribute__ ((aligned (SCOPE_CACHE_LINE)));
  guint64 out_bytes;
  guint64 out_end;              /* running time; NONE: none since a flush */
  /* Rare writers: flushes, and leaky queues' drops. */
  guint64 flushed_buffers __attribute__ ((aligned (SCOPE_CACHE_LINE)));
  guint64 flushed_bytes;
  guint64 dropped_buffers, dropped_bytes;
};

#define SCOPE_QUEUE_WAIT_NS (50 * GST_USECOND)

#define qload(x) __atomic_load_n (&(x), RELAXED)
#define qstore(x, v) __atomic_store_n (&(x), (v), RELAXED)

/* An empty queue: no time known on either side. */
static inline void
queue_init (ScopeQueue * q)
{
  memset (q, 0, sizeof (*q));
  q->in_end = q->first_start = q->out_end = NONE;
}

/* The end of a buffer in running time, or its start without a duration. */
static inline guint64
queue_end (guint64 start, guint64 end)
{
  return end != NONE ? end : start;
}

/* n buffers of bytes in all, from start to end in running time (NONE:
 * unknown), enter the queue's chain function. */
static inline void
queue_chain_pre (ScopeQueue * q, guint n, guint64 bytes, guint64 start,
    guint64 end)
{
  q->pend_n = n;
  q->pend_bytes = bytes;
  q->pend_start = start;
  q->pend_end = end;
  q->pend_out = qload (q->out_buffers);
}

/* The chain call returned res after total ns. */
static inline void
queue_chain_post (ScopeQueue * q, GstFlowReturn res, guint64 total)
{
  guint64 n = q->pend_n;
  if (n == 0)
    return;                     /* entered before the tracer counted */
  q->pend_n = 0;
  if (total > SCOPE_QUEUE_WAIT_NS || qload (q->out_buffers) != q->pend_out)
    add64 (&q->blocked_ns, total);
  if (res != GST_FLOW_OK)
    return;
  if (q->pend_start != NONE) {
    if (qload (q->first_start) == NONE)
      qstore (q->first_start, q->pend_start);
    qstore (q->in_end, queue_end (q->pend_start, q->pend_end));
  }
  add64 (&q->in_bytes, q->pend_bytes);
  add64 (&q->in_buffers, n);
}

/* n buffers of bytes in all leave through the queue's src pad; the last
 * ends at end in running time (NONE: unknown). */
static inline void
queue_push (ScopeQueue * q, guint n, guint64 bytes, guint64 end)
{
  if (end != NONE)
    qstore (q->out_end, end);
  add64 (&q->out_bytes, bytes);
  add64 (&q->out_buffers, n);
}

/* A leaky queue dropped n buffers of bytes in all (called by the leaky
 * drop detection, on whichever thread finds the drop). */
static inline void
queue_drop (ScopeQueue * q, guint64 n, guint64 bytes)
{
  add64 (&q->dropped_bytes, bytes);
  add64 (&q->dropped_buffers, n);
}

/* The queue was flushed (FLUSH_STOP entered it) or stopped: it is empty. */
static inline void
queue_flush (ScopeQueue * q)
{
  qstore (q->flushed_buffers, qload (q->in_buffers) - qload (q->out_buffers)
      - qload (q->dropped_buffers));
  qstore (q->flushed_bytes, qload (q->in_bytes) - qload (q->out_bytes)
      - qload (q->dropped_bytes));
  qstore (q->in_end, NONE);
  qstore (q->out_end, NONE);
  qstore (q->first_start, NONE);
}

/* a - b - c - d, or 0 when that is negative (a reader between an output
 * and the input's count). */
static inline guint64
queue_diff (guint64 a, guint64 b, guint64 c, guint64 d)
{
  guint64 gone = b + c + d;
  return a > gone ? a - gone : 0;
}

/* The level now: buffers, bytes, and time in ns. */
static inline void
queue_level (ScopeQueue * q, guint64 * buffers, guint64 * bytes,
    guint64 * time)
{
  guint64 in_end = qload (q->in_end), out_end = qload (q->out_end);
  guint64 from = out_end != NONE ? out_end : qload (q->first_start);

  *buffers = queue_diff (qload (q->in_buffers), qload (q->out_buffers),
      qload (q->flushed_buffers), qload (q->dropped_buffers));
  *bytes = queue_diff (qload (q->in_bytes), qload (q->out_bytes),
      qload (q->flushed_bytes), qload (q->dropped_bytes));
  *time = in_end != NONE && from != NONE && in_end > from && *buffers > 0 ?
      in_end - from : 0;
}

#endif
