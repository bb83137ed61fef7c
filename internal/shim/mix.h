/* mix.h: the origins of a mixer's outputs, one per input (see ScopeMix in
 * scope.h). Tested on their own: algorithms.go.
 *
 * A buffer's origin is a source's slot and the time the buffer left it. A
 * mixer's output carries instead a reference to its entry in the mixer's
 * ring: the entry's address tagged in the low bit of the source pointer
 * (slots are aligned, so a real source never has it), and the entry's
 * sequence number in place of the time. Elements between the mixer and a
 * sink pass the pair on like any origin; the sink reads the entry and
 * observes a path per source, or none if the entry was overwritten
 * meanwhile. What the origin of an output is, for input k: the origin of
 * the input on pad k whose running-time span holds the output's start (of
 * the inputs that had arrived when the output left: a live mixer that timed
 * out on pad k made the output without that input's data), that is the
 * time from that buffer leaving its source to the output reaching the
 * sink. */
#ifndef GSTSCOPE_MIX_H
#define GSTSCOPE_MIX_H

#include "hot.h"

static inline gboolean
is_mix (ScopeElement * src)
{
  return ((guintptr) src & SCOPE_MIX_TAG) != 0;
}

static inline ScopeMixEntry *
mix_entry (ScopeElement * src)
{
  return (ScopeMixEntry *) ((guintptr) src & ~SCOPE_MIX_TAG);
}

/* Copies the entry src refers to, written at seq, into out if it is still
 * that entry and whole (not overwritten while being read). */
static inline gboolean
mix_read (ScopeElement * src, guint64 seq, ScopeMixEntry * out)
{
  ScopeMixEntry *x = mix_entry (src);
  guint i;

  if (__atomic_load_n (&x->seq, __ATOMIC_ACQUIRE) != seq)
    return FALSE;
  out->n = MIN (__atomic_load_n (&x->n, RELAXED), SCOPE_MAX_INPUTS);
  for (i = 0; i < out->n; i++) {
    out->origin_ts[i] = __atomic_load_n (&x->origin_ts[i], RELAXED);
    out->origin[i] = __atomic_load_n (&x->origin[i], RELAXED);
  }
  __atomic_thread_fence (__ATOMIC_ACQUIRE);
  return __atomic_load_n (&x->seq, RELAXED) == seq;
}

/* Adds an origin to an entry being built. A mixed one (from a mixer
 * upstream) adds its sources: entries are flat, and a reference read at the
 * sink never leads to another. Each source once: the first input to carry
 * it (two branches of one tee into one mixer). */
static inline void
mix_add (ScopeMixEntry * m, guint64 origin_ts, ScopeElement * src)
{
  ScopeMixEntry up;
  guint i, j;

  if (!src)
    return;
  if (is_mix (src)) {
    if (mix_read (src, origin_ts, &up))
      for (j = 0; j < up.n; j++)
        mix_add (m, up.origin_ts[j], up.origin[j]);
    return;
  }
  for (i = 0; i < m->n; i++)
    if (m->origin[i] == src)
      return;
  if (m->n < SCOPE_MAX_INPUTS) {
    m->origin_ts[m->n] = origin_ts;
    m->origin[m->n++] = src;
  }
}

/* The origin of a mixer's output, from the matches on its inputs (n of
 * them): their one source when they have one (no entry needed), else a
 * new entry in the mixer's ring r. One writer: the mixer's output thread. */
static inline void
mix_origin (ScopeMix * r, const ScopeRingEntry * each, guint n,
    guint64 * origin_ts, ScopeElement ** src)
{
  ScopeMixEntry m, *x;
  guint64 head;
  guint i;

  m.n = 0;
  for (i = 0; i < n; i++)
    mix_add (&m, each[i].origin_ts, each[i].origin);
  *origin_ts = 0;
  *src = NULL;
  if (m.n == 1 || (m.n > 1 && !r)) {
    *origin_ts = m.origin_ts[0];
    *src = m.origin[0];
  }
  if (m.n <= 1 || !r)
    return;
  head = r->head;
  x = &r->e[head % SCOPE_MIX_RING];
  __atomic_store_n (&x->seq, 0, RELAXED);
  __atomic_thread_fence (__ATOMIC_RELEASE);
  __atomic_store_n (&x->n, m.n, RELAXED);
  for (i = 0; i < m.n; i++) {
    __atomic_store_n (&x->origin_ts[i], m.origin_ts[i], RELAXED);
    __atomic_store_n (&x->origin[i], m.origin[i], RELAXED);
  }
  __atomic_store_n (&x->seq, head + 1, __ATOMIC_RELEASE);
  r->head = head + 1;
  *origin_ts = head + 1;
  *src = (ScopeElement *) ((guintptr) x | SCOPE_MIX_TAG);
}

#endif
