/* runningtime.h: a buffer's running time on the src pad that pushes it,
 * from the last SEGMENT event pushed there (a sequence lock: the pushing
 * thread writes, any thread reads). Tested on their own: algorithms.go. */
#ifndef GSTSCOPE_RUNNINGTIME_H
#define GSTSCOPE_RUNNINGTIME_H

#include "hot.h"

/* ---- running time ----
 * Buffers are matched across an element in running time: PTS (DTS when
 * there is none) through the segment of the pad that pushes them. Raw
 * timestamps are not comparable across encoders (GstVideoEncoder shifts
 * them by 1000 h, with a segment to match), running time is. */

/* The segment event on src pad p, for its buffers; the writer is the
 * thread that pushes it (readers on the same thread, as a rule). */
static inline void
segment_store (ScopePad * p, const GstSegment * seg)
{
  guint seq = p->seg_seq;
  __atomic_store_n (&p->seg_seq, seq | 1, RELAXED);
  __atomic_thread_fence (__ATOMIC_RELEASE);
  p->seg = *seg;
  /* Forward at rate 1 in TIME: running time = position - start - offset +
   * base (gst_segment_to_running_time), for positions from start + offset
   * to stop. Not in TIME: no running time, an empty range says so. */
  if (seg->format != GST_FORMAT_TIME) {
    p->seg_fast = TRUE;
    p->seg_lo = G_MAXUINT64;
    p->seg_hi = 0;
  } else {
    p->seg_fast = seg->rate == 1.0 && seg->start <= G_MAXUINT64 - seg->offset;
    p->seg_lo = seg->start + seg->offset;
    p->seg_hi = seg->stop;
  }
  p->seg_delta = seg->base - p->seg_lo;
  __atomic_store_n (&p->seg_seq, (seq | 1) + 1, __ATOMIC_RELEASE);
}

/* Any other segment: GStreamer's arithmetic, on a copy. Out of line: the
 * copy and the calls would weigh on every caller of running_time. */
static guint64 __attribute__ ((noinline, unused))
running_time_slow (ScopePad * p, guint seq, guint64 pos, guint64 dur,
    guint64 * end)
{
  GstSegment seg = p->seg;
  gdouble rate = seg.rate;
  guint64 rt;

  __atomic_thread_fence (__ATOMIC_ACQUIRE);
  if (__atomic_load_n (&p->seg_seq, RELAXED) != seq
      || seg.format != GST_FORMAT_TIME)
    return NONE;
  rt = gst_segment_to_running_time (&seg, GST_FORMAT_TIME, pos);
  if (rt != NONE && dur != NONE) {
    /* In reverse, the buffer's end in stream time is its start in
     * running time. */
    guint64 e = gst_segment_to_running_time (&seg, GST_FORMAT_TIME,
        pos + dur);
    if (e != NONE && rate > 0) {
      *end = e;
    } else if (e != NONE) {
      *end = rt;
      rt = e;
    }
    if (*end != NONE && *end <= rt)
      *end = NONE;
  }
  return rt;
}

/* The running time on src pad p of a buffer with these timestamps, and
 * the end of its duration (NONE when it has none); NONE when either is
 * unknown or it lies outside the segment. */
static inline guint64
running_time (ScopePad * p, guint64 pts, guint64 dts, guint64 dur,
    guint64 * end)
{
  guint64 pos = pts != NONE ? pts : dts;
  guint64 lo, hi, delta, rt;
  guint seq;

  *end = NONE;
  seq = __atomic_load_n (&p->seg_seq, __ATOMIC_ACQUIRE);
  if (pos == NONE || seq == 0 || (seq & 1))
    return NONE;
  if (G_UNLIKELY (!p->seg_fast))
    return running_time_slow (p, seq, pos, dur, end);
  lo = p->seg_lo;
  hi = p->seg_hi;
  delta = p->seg_delta;
  __atomic_thread_fence (__ATOMIC_ACQUIRE);
  if (__atomic_load_n (&p->seg_seq, RELAXED) != seq || pos < lo || pos > hi)
    return NONE;
  rt = pos + delta;
  if (dur != NONE)
    *end = rt + dur;
  return rt;
}

#endif
