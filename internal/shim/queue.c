/* queue.c: which elements are queues, and which queue each of their pads
 * belongs to (cold path, under scope_lock unless noted). The counting
 * itself is in queue.h, called from hooks.c.
 *
 * queue and queue2 hold one queue (pads "sink" and "src"); a multiqueue
 * holds one per request pad pair ("sink_N" and "src_N"), up to
 * SCOPE_MAX_QUEUES at once: more are not measured. Queue elements are
 * recognized by type, once, when their slot is made: GstQueue, GstQueue2,
 * GstMultiQueue and their subclasses.
 */
#include "scope.h"
#include "match.h"
#include "queue.h"

#include <stdio.h>
#include <stdlib.h>

#define SCOPE_MAX_QUEUES 16

typedef struct {
  ScopeQueue q;
  /* The pads using it and their slots' states then: the entry is free
   * once neither is that pad any more (removed, finalized, reused). */
  ScopePad *sink, *src;
  guint64 sink_state, src_state;
  guint id;                     /* the pads' number (0 for queue, queue2) */
  gboolean multi;
} ScopeQueueEntry;

struct _ScopeQueues {
  ScopeQueueEntry e[SCOPE_MAX_QUEUES];
};

gboolean
scope_is_queue (GstElement * element)
{
  static const gchar *const types[] = { "GstQueue", "GstQueue2",
    "GstMultiQueue", NULL
  };
  return scope_is_a_named (element, types);
}

void
scope_queues_setup_locked (ScopeElement * e)
{
  guint i;
  if (!e->queues)
    e->queues = g_aligned_alloc0 (1, sizeof (ScopeQueues), SCOPE_CACHE_LINE);
  for (i = 0; i < SCOPE_MAX_QUEUES; i++) {
    ScopeQueueEntry *x = &e->queues->e[i];
    x->sink = x->src = NULL;
    queue_init (&x->q);
  }
}

static gboolean
pad_is (ScopePad * p, guint64 state)
{
  return p && scope_state (p) == state;
}

static gboolean
entry_live (ScopeQueueEntry * x)
{
  return pad_is (x->sink, x->sink_state) || pad_is (x->src, x->src_state);
}

/* "sink", "src": 0; "sink_N", "src_N": N, multi. FALSE: another name. */
static gboolean
parse_name (const gchar * name, gboolean sink, guint * id, gboolean * multi)
{
  const gchar *prefix = sink ? "sink" : "src";
  gsize n = strlen (prefix);
  gchar *end;

  if (!name || strncmp (name, prefix, n) != 0)
    return FALSE;
  *multi = name[n] == '_';
  if (!*multi) {
    *id = 0;
    return name[n] == '\0';
  }
  *id = (guint) strtoul (name + n + 1, &end, 10);
  return end != name + n + 1 && *end == '\0';
}

void
scope_queue_attach_locked (ScopeElement * e, ScopePad * p, const gchar * name)
{
  ScopeQueueEntry *x = NULL, *free_entry = NULL;
  guint id, i;
  gboolean multi;
  /* The live state the slot has once published (pad_get_locked). */
  guint64 state = scope_state (p) & ~SCOPE_DEAD;

  if (!e->is_queue || !e->queues || !parse_name (name, p->sink, &id, &multi))
    return;
  for (i = 0; i < SCOPE_MAX_QUEUES && !x; i++) {
    ScopeQueueEntry *y = &e->queues->e[i];
    if (!entry_live (y)) {
      if (!free_entry)
        free_entry = y;
    } else if (y->id == id && y->multi == multi) {
      x = y;
    }
  }
  if (!x) {
    if (!(x = free_entry))
      return;
    x->sink = x->src = NULL;
    x->id = id;
    x->multi = multi;
    queue_init (&x->q);
  }
  if (p->sink) {
    x->sink = p;
    x->sink_state = state;
  } else {
    x->src = p;
    x->src_state = state;
  }
  p->queue = &x->q;
}

void
scope_queues_snapshot_locked (ScopeElement * e, GArray * out,
    const gchar * pipeline, const gchar * element, const gchar * factory)
{
  guint i;
  if (!e->is_queue || !e->queues)
    return;
  for (i = 0; i < SCOPE_MAX_QUEUES; i++) {
    ScopeQueueEntry *x = &e->queues->e[i];
    ScopeQueueStat st = { 0 };
    /* A queue is as live as its sink pad: the one data enters by. */
    if (!pad_is (x->sink, x->sink_state))
      continue;
    st.pipeline = g_strdup (pipeline);
    st.element = g_strdup (element);
    st.factory = g_strdup (factory);
    st.queue = x->multi ? g_strdup_printf ("sink_%u:src_%u", x->id, x->id) :
        g_strdup ("sink:src");
    queue_level (&x->q, &st.buffers, &st.bytes, &st.time_ns);
    st.blocked_ns = __atomic_load_n (&x->q.blocked_ns, RELAXED);
    g_array_append_val (out, st);
  }
}

/* On the thread that changes the element's state, before the change:
 * before READY_TO_PAUSED no streaming thread writes to its queues; before
 * PAUSED_TO_READY the last buffers in flight may still count after this,
 * until the next start resets the counts again. */
void
scope_queues_stopped (GstElement * element)
{
  ScopeElement *e = scope_element_find (element);
  guint i;

  if (!e || !e->is_queue)
    return;
  g_mutex_lock (&scope_lock);
  if (e->queues)
    for (i = 0; i < SCOPE_MAX_QUEUES; i++)
      queue_flush (&e->queues->e[i].q);
  g_mutex_unlock (&scope_lock);
}

/* Rare: a leaky queue's drops, on the queue's own thread (its output found
 * them) or at EOS. Their bytes from the ring's entries, where they are
 * still there (a ring overwritten since loses their bytes, not their
 * count). */
void
scope_queue_dropped (ScopeElement * e, ScopeRing * r, guint64 from,
    guint64 to)
{
  gint i, n = MIN (g_atomic_int_get (&e->n_inputs), SCOPE_MAX_INPUTS);
  ScopePad *in = NULL;
  ScopeRingEntry x;
  guint64 k, bytes = 0;

  for (i = 0; i < n && !in; i++) {
    ScopePad *p = __atomic_load_n (&e->inputs[i], __ATOMIC_ACQUIRE);
    if (p && p->queue && (__atomic_load_n (&p->ring, __ATOMIC_ACQUIRE) == r
            || n == 1))
      in = p;
  }
  if (!in)
    return;
  for (k = from; k < to; k++)
    if (ring_read (r, k, &x))
      bytes += x.size;
  queue_drop (in->queue, to - from, bytes);
}
