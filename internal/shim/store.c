/* store.c: the slots behind the hot path (cold path, under scope_lock).
 *
 * A slot is created the first time a hook sees its pad or element, labelled
 * from the object's place in its pipeline at that moment, and tagged onto
 * the object as qdata. It is marked dead when the element leaves its bin, the
 * pad is removed, or the object is finalized; the qdata is dropped so that
 * an element added to another pipeline gets a fresh slot and fresh labels.
 *
 * Dead slots leave the live lists at the next sweep (each snapshot, and slot
 * creation at most every SWEEP_EVERY_NS), wait SCOPE_QUARANTINE_NS in a free
 * list, and are then reused with a new generation: an application that
 * creates and removes elements forever keeps a store of constant size.
 */
#include "scope.h"

#include <string.h>

GMutex scope_lock;
gint scope_flags;
GQuark scope_slot_quark;

#define SWEEP_EVERY_NS (100 * GST_MSECOND)

/* Live slots (and dead ones not yet swept), newest first. */
static ScopeElement *elements;
static ScopePad *pads;
static guint64 last_id, last_sweep;
/* Dead slots, oldest first, waiting out their quarantine. Both slot types
 * have next and dead_since, hence macros for both. */
#define SLOT_FIFO(type) struct { type *head, *tail; }
static SLOT_FIFO (ScopeElement) free_elements;
static SLOT_FIFO (ScopePad) free_pads;

#define fifo_push(q, slot, now) G_STMT_START {  \
    (slot)->next = NULL;                        \
    (slot)->dead_since = (now);                 \
    if ((q).tail)                               \
      (q).tail->next = (slot);                  \
    else                                        \
      (q).head = (slot);                        \
    (q).tail = (slot);                          \
  } G_STMT_END

/* The oldest slot of q, taken off it, if its quarantine is over; or NULL. */
#define fifo_take(q) ({                                                 \
    __typeof__ ((q).head) s_ = (q).head;                                \
    if (s_ && now_ns () - s_->dead_since >= SCOPE_QUARANTINE_NS) {      \
      (q).head = s_->next;                                              \
      if (!(q).head)                                                    \
        (q).tail = NULL;                                                \
    } else {                                                            \
      s_ = NULL;                                                        \
    }                                                                   \
    s_; })
/* Rings of reused pad slots, for the next pad that needs one (only some
 * pads do: a slot keeping its ring would make every slot grow one). */
static ScopeRing *free_rings;

/* What an object's qdata holds: its slot and the slot's state when it was
 * made for this object. Freed with the qdata; the slot outlives it. */
typedef struct {
  guint64 *state;               /* both slot types start with it */
  guint64 live;
} ScopeTag;

/* The qdata's destroy notify (the object was finalized, or its slot
 * replaced or forgotten): the slot dies, unless it already died and was
 * reused for another object, which the compare-and-swap sees. */
static void
tag_free (gpointer data)
{
  ScopeTag *tag = data;
  guint64 live = tag->live;
  __atomic_compare_exchange_n (tag->state, &live, live | SCOPE_DEAD, FALSE,
      __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
  g_free (tag);
}

static void
tag_set (GObject * object, guint64 * state)
{
  ScopeTag *tag = g_new (ScopeTag, 1);
  tag->state = state;
  tag->live = *state;
  g_object_set_qdata_full (object, scope_slot_quark, tag, tag_free);
}

/* The object's slot if it is still the live one made for it, else NULL.
 * Under scope_lock, the only place tags are replaced. */
static gpointer
tag_get_locked (GObject * object)
{
  ScopeTag *tag = g_object_get_qdata (object, scope_slot_quark);
  if (!tag || __atomic_load_n (tag->state, __ATOMIC_ACQUIRE) != tag->live)
    return NULL;
  return tag->state;
}

static guint64
now_ns (void)
{
  return (guint64) g_get_monotonic_time () * 1000;
}

/* A slot leaves dead: generation + 1, still dead until filled. */
static guint64
next_generation (guint64 state)
{
  return ((state | SCOPE_DEAD) + 2);
}

static void
input_add (ScopeElement * e, ScopePad * p)
{
  gint i, n = g_atomic_int_get (&e->n_inputs);
  for (i = 0; i < n; i++)
    if (!__atomic_load_n (&e->inputs[i], __ATOMIC_RELAXED)) {
      __atomic_store_n (&e->inputs[i], p, __ATOMIC_RELEASE);
      return;
    }
  if (n < SCOPE_MAX_INPUTS) {
    __atomic_store_n (&e->inputs[n], p, __ATOMIC_RELEASE);
    g_atomic_int_set (&e->n_inputs, n + 1);
  }
}

static void
input_remove (ScopeElement * e, ScopePad * p)
{
  gint i, n = g_atomic_int_get (&e->n_inputs);
  for (i = 0; i < n; i++)
    if (__atomic_load_n (&e->inputs[i], __ATOMIC_RELAXED) == p)
      __atomic_store_n (&e->inputs[i], NULL, __ATOMIC_RELEASE);
}

/* Moves dead slots from the live lists to the free lists. Elements first:
 * the pads of an element found dead here are marked dead below, before the
 * element's slot can be reused (a pad slot's liveness also reads its
 * element's). */
static void
sweep_locked (guint64 now)
{
  ScopeElement **ep = &elements;
  ScopePad **pp = &pads;

  last_sweep = now;
  while (*ep) {
    ScopeElement *e = *ep;
    if (!scope_dead (e)) {
      ep = &e->next;
      continue;
    }
    *ep = e->next;
    fifo_push (free_elements, e, now);
  }
  while (*pp) {
    ScopePad *p = *pp;
    if (!scope_dead (p) && (p->transparent || !scope_dead (p->elem))) {
      pp = &p->next;
      continue;
    }
    __atomic_fetch_or (&p->state, SCOPE_DEAD, __ATOMIC_ACQ_REL);
    input_remove (p->elem, p);
    *pp = p->next;
    fifo_push (free_pads, p, now);
  }
}

static void
maybe_sweep_locked (void)
{
  guint64 now = now_ns ();
  if (now - last_sweep >= SWEEP_EVERY_NS)
    sweep_locked (now);
}

/* A sink's paths from a source whose slot is being reused start over. */
static void
forget_source_locked (ScopeElement * src)
{
  ScopeElement *e;
  gint i;
  for (e = elements; e; e = e->next)
    for (i = 0; i < SCOPE_MAX_PATHS; i++)
      if (__atomic_load_n (&e->paths[i].source, __ATOMIC_RELAXED) == src) {
        memset (&e->paths[i].hist, 0, sizeof (ScopeHist));
        __atomic_store_n (&e->paths[i].source, NULL, __ATOMIC_RELEASE);
      }
}

/* A fresh element slot, still dead: reused after its quarantine, or new. */
static ScopeElement *
element_alloc_locked (void)
{
  ScopeElement *e = fifo_take (free_elements);

  if (!e) {
    e = scope_alloc (ScopeElement);
    e->state = SCOPE_DEAD;
  } else {
    __atomic_store_n (&e->state, next_generation (scope_state (e)),
        __ATOMIC_RELEASE);
    forget_source_locked (e);
    scope_threads_forget (e);
    g_free (e->pipeline);
    g_free (e->path);
    g_free (e->factory);
    memset (&e->id, 0, sizeof (*e) - G_STRUCT_OFFSET (ScopeElement, id));
  }
  e->next = elements;
  elements = e;
  return e;
}

/* The element of ghost and proxy pads, and of pad slots being reset: a
 * hook that read a pad slot just before it was reused finds an element
 * here, dead, never NULL. */
static ScopeElement scope_nowhere = {.state = SCOPE_DEAD };

/* A fresh pad slot, still dead. Its fields are reset one by one, not with
 * memset, so that elem is never NULL even for an instant. */
static ScopePad *
pad_alloc_locked (void)
{
  ScopePad *p = fifo_take (free_pads);

  if (!p) {
    p = scope_alloc (ScopePad);
    p->state = SCOPE_DEAD;
  } else {
    __atomic_store_n (&p->state, next_generation (scope_state (p)),
        __ATOMIC_RELEASE);
    g_clear_pointer (&p->name, g_free);
    if (p->ring_mem) {
      p->ring_mem->next_free = free_rings;
      free_rings = p->ring_mem;
      p->ring_mem = NULL;
    }
    p->transparent = p->sink = FALSE;
    p->buffers = p->bytes = 0;
    __atomic_store_n (&p->ring, NULL, __ATOMIC_RELEASE);
  }
  __atomic_store_n (&p->elem, &scope_nowhere, __ATOMIC_RELEASE);
  p->next = pads;
  pads = p;
  return p;
}

/* The slot is filled: it goes live. */
#define slot_publish(slot) \
    __atomic_fetch_and (&(slot)->state, ~SCOPE_DEAD, __ATOMIC_RELEASE)

/* A pad's ring: a quarantined one if any (it left with its dead slot). */
static ScopeRing *
ring_new (ScopePad * p)
{
  if (!p->ring_mem && free_rings) {
    p->ring_mem = free_rings;
    free_rings = free_rings->next_free;
  } else if (!p->ring_mem) {
    p->ring_mem = scope_alloc (ScopeRing);
  }
  p->ring_mem->head = p->ring_mem->tail = 0;
  return p->ring_mem;
}

/* Element path below the top-level bin, and the top-level bin's name. */
static void
element_labels (GstElement * element, gchar ** pipeline, gchar ** path)
{
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  GstObject *obj = gst_object_ref (GST_OBJECT (element));
  GString *s = g_string_new (NULL);
  gint i;

  *pipeline = NULL;
  while (obj) {
    GstObject *parent = gst_object_get_parent (obj);
    gchar *name = gst_object_get_name (obj);
    if (parent || obj == GST_OBJECT (element))
      g_ptr_array_add (names, name);
    else
      *pipeline = name;
    gst_object_unref (obj);
    obj = parent;
  }
  for (i = names->len - 1; i >= 0; i--) {
    if (s->len)
      g_string_append_c (s, '/');
    g_string_append (s, g_ptr_array_index (names, i));
  }
  if (!*pipeline)
    *pipeline = g_strdup ("");
  *path = g_string_free (s, FALSE);
  g_ptr_array_unref (names);
}

static gboolean
has_src_task (GstElement * element)
{
  gboolean task = FALSE;
  GList *l;
  GST_OBJECT_LOCK (element);
  for (l = element->srcpads; l && !task; l = l->next)
    task = GST_PAD_TASK (GST_PAD (l->data)) != NULL;
  GST_OBJECT_UNLOCK (element);
  return task;
}

static ScopeElement *
element_get_locked (GstElement * element)
{
  ScopeElement *e = tag_get_locked ((GObject *) element);
  GstElementFactory *factory;

  if (e)
    return e;
  e = element_alloc_locked ();
  e->id = ++last_id;
  element_labels (element, &e->pipeline, &e->path);
  factory = gst_element_get_factory (element);
  e->factory = g_strdup (factory ? GST_OBJECT_NAME (factory) :
      G_OBJECT_TYPE_NAME (element));
  e->is_source = GST_OBJECT_FLAG_IS_SET (element, GST_ELEMENT_FLAG_SOURCE);
  e->is_sink = GST_OBJECT_FLAG_IS_SET (element, GST_ELEMENT_FLAG_SINK);
  e->async = has_src_task (element) && !e->is_source;
  slot_publish (e);
  tag_set ((GObject *) element, &e->state);
  GST_DEBUG_OBJECT (element, "slot %s/%s, generation %" G_GUINT64_FORMAT
      "%s", e->pipeline, e->path, scope_state (e) >> 1,
      e->async ? " (outputs from its own thread)" : "");
  return e;
}

ScopeElement *
scope_element_get (GstElement * element)
{
  ScopeElement *e;
  g_mutex_lock (&scope_lock);
  maybe_sweep_locked ();
  e = element_get_locked (element);
  g_mutex_unlock (&scope_lock);
  return e;
}

static inline gboolean
pad_live (ScopePad * p)
{
  return p->transparent || !scope_dead (p->elem);
}

static ScopePad *
pad_create (GstPad * pad, guint64 * state)
{
  ScopePad *p;
  GstObject *parent;

  g_mutex_lock (&scope_lock);
  maybe_sweep_locked ();
  p = tag_get_locked ((GObject *) pad);
  if (p && pad_live (p))
    goto out;

  parent = gst_object_get_parent (GST_OBJECT (pad));
  p = pad_alloc_locked ();
  p->name = gst_object_get_name (GST_OBJECT (pad));
  p->sink = GST_PAD_IS_SINK (pad);
  /* Ghost pads (parent is a bin) and their internal proxy pads (parent is
   * the ghost pad) only forward: the elements on both sides are measured. */
  p->transparent = !parent || !GST_IS_ELEMENT (parent) || GST_IS_BIN (parent);
  if (!p->transparent) {
    ScopeElement *e = element_get_locked (GST_ELEMENT (parent));
    p->elem = e;
    if (p->sink) {
      if (g_atomic_int_get (&e->async))
        p->ring = ring_new (p);
      input_add (e, p);
    }
  }
  if (parent)
    gst_object_unref (parent);
  slot_publish (p);
  tag_set ((GObject *) pad, &p->state);
out:
  /* Its live state: if it died meanwhile, the cache misses. */
  *state = scope_state (p) & ~SCOPE_DEAD;
  g_mutex_unlock (&scope_lock);
  return p;
}

static gpointer
tag_copy (gpointer data, gpointer user_data)
{
  if (data)
    *(ScopeTag *) user_data = *(ScopeTag *) data;
  return NULL;
}

ScopePad *
scope_pad_lookup (GstPad * pad, guint64 * state)
{
  ScopeTag tag = { NULL, 0 };
  ScopePad *p;

  /* Another thread may replace and free the tag: copy it under GLib's
   * qdata lock rather than taking scope_lock on every cache miss. */
  g_object_dup_qdata ((GObject *) pad, scope_slot_quark, tag_copy, &tag);
  p = (ScopePad *) tag.state;
  if (p && scope_state (p) == tag.live && pad_live (p)) {
    *state = tag.live;
    return p;
  }
  return pad_create (pad, state);
}

void
scope_element_make_async (ScopeElement * e)
{
  gint i, n;
  g_mutex_lock (&scope_lock);
  if (!g_atomic_int_get (&e->async)) {
    n = g_atomic_int_get (&e->n_inputs);
    for (i = 0; i < n; i++) {
      ScopePad *in = e->inputs[i];
      if (in && !in->ring)
        __atomic_store_n (&in->ring, ring_new (in), __ATOMIC_RELEASE);
    }
    g_atomic_int_set (&e->async, 1);
  }
  g_mutex_unlock (&scope_lock);
}

/* Drops the object's tag, which kills its slot (tag_free). */
static void
forget (GObject * object)
{
  g_object_set_qdata (object, scope_slot_quark, NULL);
}

/* The element (and, for a bin, everything inside it) left its pipeline:
 * its series go away with the next snapshot. */
void
scope_element_removed (GstElement * element)
{
  GPtrArray *all = g_ptr_array_new_with_free_func (gst_object_unref);
  guint i;

  g_ptr_array_add (all, gst_object_ref (element));
  if (GST_IS_BIN (element)) {
    GstIterator *it = gst_bin_iterate_recurse (GST_BIN (element));
    GValue v = G_VALUE_INIT;
    gboolean done = FALSE;
    while (!done) {
      switch (gst_iterator_next (it, &v)) {
        case GST_ITERATOR_OK:
          g_ptr_array_add (all, g_value_dup_object (&v));
          g_value_reset (&v);
          break;
        case GST_ITERATOR_RESYNC:
          gst_iterator_resync (it);
          break;
        default:
          done = TRUE;
      }
    }
    g_value_unset (&v);
    gst_iterator_free (it);
  }
  g_mutex_lock (&scope_lock);
  for (i = 0; i < all->len; i++)
    forget (g_ptr_array_index (all, i));
  g_mutex_unlock (&scope_lock);
  g_ptr_array_unref (all);
}

void
scope_pad_removed (GstPad * pad)
{
  g_mutex_lock (&scope_lock);
  forget ((GObject *) pad);
  g_mutex_unlock (&scope_lock);
}

guint64
scope_element_names (ScopeElement * e, gchar ** pipeline, gchar ** path,
    gchar ** factory)
{
  guint64 id;
  g_mutex_lock (&scope_lock);
  id = e->id;
  *pipeline = g_strdup (e->pipeline);
  *path = g_strdup (e->path);
  *factory = g_strdup (e->factory);
  g_mutex_unlock (&scope_lock);
  return id;
}

/* The element on the other side of pad's link, looking through ghost pads
 * on either side. Returns a reference or NULL. */
GstElement *
scope_real_peer_element (GstPad * pad)
{
  GstPad *peer = gst_pad_get_peer (pad);
  gint hops;

  for (hops = 0; peer && hops < 16; hops++) {
    GstObject *parent = gst_object_get_parent (GST_OBJECT (peer));
    GstPad *next = NULL;
    if (parent && GST_IS_GHOST_PAD (parent)) {
      /* peer is the internal pad of a ghost src pad: leave the bin. */
      next = gst_pad_get_peer (GST_PAD (parent));
    } else if (parent && GST_IS_BIN (parent) && GST_IS_GHOST_PAD (peer)) {
      /* peer is a bin's ghost sink pad: enter the bin. */
      GstProxyPad *internal = gst_proxy_pad_get_internal (GST_PROXY_PAD (peer));
      if (internal) {
        next = gst_pad_get_peer (GST_PAD (internal));
        gst_object_unref (internal);
      }
    } else {
      gst_object_unref (peer);
      if (parent && !GST_IS_ELEMENT (parent)) {
        gst_object_unref (parent);
        return NULL;
      }
      return (GstElement *) parent;
    }
    if (parent)
      gst_object_unref (parent);
    gst_object_unref (peer);
    peer = next;
  }
  if (peer)
    gst_object_unref (peer);
  return NULL;
}

static void
hist_copy (ScopeHist * dst, const ScopeHist * src)
{
  gint i;
  for (i = 0; i < SCOPE_NBUCKETS; i++)
    dst->counts[i] = __atomic_load_n (&src->counts[i], __ATOMIC_RELAXED);
  dst->sum_ns = __atomic_load_n (&src->sum_ns, __ATOMIC_RELAXED);
}

ScopeSnapshot *
scope_snapshot (void)
{
  ScopeSnapshot *s = g_new0 (ScopeSnapshot, 1);
  GArray *el = g_array_new (FALSE, TRUE, sizeof (ScopeElementStat));
  GArray *pa = g_array_new (FALSE, TRUE, sizeof (ScopePadStat));
  GArray *pt = g_array_new (FALSE, TRUE, sizeof (ScopePathStat));
  ScopeElement *e;
  ScopePad *p;
  gint i;

  g_mutex_lock (&scope_lock);
  sweep_locked (now_ns ());
  for (e = elements; e; e = e->next) {
    ScopeElementStat st = { 0 };
    if (scope_dead (e))
      continue;
    st.pipeline = g_strdup (e->pipeline);
    st.element = g_strdup (e->path);
    st.factory = g_strdup (e->factory);
    hist_copy (&st.proc, &e->proc);
    hist_copy (&st.lat, &e->lat);
    st.lat_last_ns = __atomic_load_n (&e->lat_last_ns, __ATOMIC_RELAXED);
    st.rep_set = g_atomic_int_get (&e->rep_set);
    st.rep_min_ns = __atomic_load_n (&e->rep_min_ns, __ATOMIC_RELAXED);
    st.rep_max_ns = __atomic_load_n (&e->rep_max_ns, __ATOMIC_RELAXED);
    st.cpu_ns = __atomic_load_n (&e->cpu_ns, __ATOMIC_RELAXED);
    g_array_append_val (el, st);
    for (i = 0; i < SCOPE_MAX_PATHS; i++) {
      ScopeElement *src = __atomic_load_n (&e->paths[i].source,
          __ATOMIC_ACQUIRE);
      ScopePathStat ps = { 0 };
      if (!src || scope_dead (src))
        continue;
      ps.pipeline = g_strdup (e->pipeline);
      ps.source = g_strdup (src->path);
      ps.sink = g_strdup (e->path);
      hist_copy (&ps.hist, &e->paths[i].hist);
      g_array_append_val (pt, ps);
    }
  }
  for (p = pads; p; p = p->next) {
    ScopePadStat st = { 0 };
    if (p->transparent || scope_dead (p) || scope_dead (p->elem))
      continue;
    st.pipeline = g_strdup (p->elem->pipeline);
    st.element = g_strdup (p->elem->path);
    st.pad = g_strdup (p->name);
    st.buffers = __atomic_load_n (&p->buffers, __ATOMIC_RELAXED);
    st.bytes = __atomic_load_n (&p->bytes, __ATOMIC_RELAXED);
    g_array_append_val (pa, st);
  }
  g_mutex_unlock (&scope_lock);

  s->cpu = g_atomic_int_get (&scope_sampling);
  s->n_elements = el->len;
  s->elements = (ScopeElementStat *) g_array_free (el, FALSE);
  s->n_pads = pa->len;
  s->pads = (ScopePadStat *) g_array_free (pa, FALSE);
  s->n_paths = pt->len;
  s->paths = (ScopePathStat *) g_array_free (pt, FALSE);
  return s;
}

void
scope_snapshot_free (ScopeSnapshot * s)
{
  guint i;
  if (!s)
    return;
  for (i = 0; i < s->n_elements; i++) {
    g_free (s->elements[i].pipeline);
    g_free (s->elements[i].element);
    g_free (s->elements[i].factory);
  }
  for (i = 0; i < s->n_pads; i++) {
    g_free (s->pads[i].pipeline);
    g_free (s->pads[i].element);
    g_free (s->pads[i].pad);
  }
  for (i = 0; i < s->n_paths; i++) {
    g_free (s->paths[i].pipeline);
    g_free (s->paths[i].source);
    g_free (s->paths[i].sink);
  }
  g_free (s->elements);
  g_free (s->pads);
  g_free (s->paths);
  g_free (s);
}
