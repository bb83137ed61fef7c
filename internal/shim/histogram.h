/* histogram.h: the latency histograms' buckets (scope_bounds_ns, defined
 * in hooks.c) and observations, lock-free: relaxed atomic adds from any
 * thread, read by the snapshot. Tested on their own: algorithms.go. */
#ifndef GSTSCOPE_HISTOGRAM_H
#define GSTSCOPE_HISTOGRAM_H

#include "hot.h"

/* The first bound at or above 2^(L-1), for values of bit length L. Bounds
 * are at least a factor 2 apart, so a value is in that bucket or the next:
 * one comparison instead of a search. Made from scope_bounds_ns (hooks.c). */
static const guint8 bucket_start[65] = {
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 10, 11,
  12, 13, 14, 15, 16, 17, 18, 19, 19, 20, 21, 22, 22, 22, 22, 22, 22, 22, 22,
  22, 22, 22, 22, 22, 22, 22, 22, 22, 22, 22, 22, 22, 22, 22, 22, 22, 22, 22,
  22, 22, 22,
};

static inline guint
bucket_of (guint64 ns)
{
  guint i = bucket_start[ns ? 64 - __builtin_clzll (ns) : 0];
  return (i < SCOPE_NBOUNDS && ns > scope_bounds_ns[i]) ? i + 1 : i;
}

/* Records n observations of ns each (n > 1 for buffer lists). */
static inline void
observe (ScopeHist * h, guint64 ns, guint n)
{
  add64 (&h->counts[bucket_of (ns)], n);
  add64 (&h->sum_ns, ns * n);
}

#endif
