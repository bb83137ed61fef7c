/* hot.h: the vocabulary of the hot path's headers (histogram.h,
 * runningtime.h, match.h) and of hooks.c, which includes them. Everything
 * in these headers is static inline: cgo compiles each .c file apart, and a
 * call per buffer with several arguments costs ~10% of a hook. */
#ifndef GSTSCOPE_HOT_H
#define GSTSCOPE_HOT_H

#include "scope.h"

#define RELAXED __ATOMIC_RELAXED
#define add64(p, v) __atomic_fetch_add ((p), (v), RELAXED)
#define NONE GST_CLOCK_TIME_NONE
/* Called from a push and a list hook each: inlined, a call with seven
 * arguments cost ~10% of what they do. */
#define INLINE static inline __attribute__ ((always_inline))

/* ts - start, or 0 when ts is not later. */
static inline guint64
since (guint64 ts, guint64 start)
{
  return ts > start ? ts - start : 0;
}

#endif
