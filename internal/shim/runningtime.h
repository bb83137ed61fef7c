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
  __atomic_store_n (&p->seg_seq, (seq | 1) + 1, __ATOMIC_RELEASE);
}

/* The running time on src pad p of a buffer with these timestamps, and
 * the end of its duration (NONE when it has none); NONE when either is
 * unknown or it lies outside the segment. The common case (forward,
 * rate 1, TIME) is computed inline. */
static inline guint64
running_time (ScopePad * p, guint64 pts, guint64 dts, guint64 dur,
    guint64 * end)
{
  guint64 pos = pts;
  guint64 start, stop, base, offset, rt;
  gdouble rate;
  GstFormat format;
  guint seq;

  *end = NONE;
  if (pos == NONE)
    pos = dts;
  seq = __atomic_load_n (&p->seg_seq, __ATOMIC_ACQUIRE);
  if (pos == NONE || seq == 0 || (seq & 1))
    return NONE;
  format = p->seg.format;
  rate = p->seg.rate;
  start = p->seg.start;
  stop = p->seg.stop;
  base = p->seg.base;
  offset = p->seg.offset;
  if (G_UNLIKELY (rate != 1.0)) {
    GstSegment seg = p->seg;
    __atomic_thread_fence (__ATOMIC_ACQUIRE);
    if (__atomic_load_n (&p->seg_seq, RELAXED) != seq
        || format != GST_FORMAT_TIME)
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
  __atomic_thread_fence (__ATOMIC_ACQUIRE);
  if (__atomic_load_n (&p->seg_seq, RELAXED) != seq
      || format != GST_FORMAT_TIME)
    return NONE;
  if (pos < start || (stop != NONE && pos > stop) || pos < start + offset)
    return NONE;
  rt = pos - start - offset + base;
  if (dur != NONE)
    *end = rt + dur;
  return rt;
}

#endif
