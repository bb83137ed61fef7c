/* store.c: the slots behind the hot path (cold path, under scope_lock).
 *
 * A slot is created the first time a hook sees its pad or element, labelled
 * from the object's place in its pipeline at that moment, and attached to
 * the object as qdata. It is marked dead when the element leaves its bin, the
 * pad is removed, or the object is finalized; the qdata is dropped so that
 * an element added to another pipeline gets a fresh slot and fresh labels.
 * Slots are never freed: a hook on another thread may still hold one.
 */
#include "scope.h"

GMutex scope_lock;
gint scope_flags;
GQuark scope_slot_quark;

static ScopeElement *elements;
static guint64 last_id;
static ScopePad *pads;

static void
slot_dead (gpointer data)
{
  /* Both slot types start with the dead flag. */
  g_atomic_int_set ((gint *) data, 1);
}

static ScopeRing *
ring_new (void)
{
  return scope_alloc (ScopeRing);
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
  ScopeElement *e = g_object_get_qdata ((GObject *) element, scope_slot_quark);
  GstElementFactory *factory;

  if (e && !g_atomic_int_get (&e->dead))
    return e;
  e = scope_alloc (ScopeElement);
  e->id = ++last_id;
  element_labels (element, &e->pipeline, &e->path);
  factory = gst_element_get_factory (element);
  e->factory = g_strdup (factory ? GST_OBJECT_NAME (factory) :
      G_OBJECT_TYPE_NAME (element));
  e->is_source = GST_OBJECT_FLAG_IS_SET (element, GST_ELEMENT_FLAG_SOURCE);
  e->is_sink = GST_OBJECT_FLAG_IS_SET (element, GST_ELEMENT_FLAG_SINK);
  e->async = has_src_task (element) && !e->is_source;
  e->next = elements;
  elements = e;
  g_object_set_qdata_full ((GObject *) element, scope_slot_quark, e,
      slot_dead);
  GST_DEBUG_OBJECT (element, "new slot %s/%s%s", e->pipeline, e->path,
      e->async ? " (outputs from its own thread)" : "");
  return e;
}

ScopeElement *
scope_element_get (GstElement * element)
{
  ScopeElement *e;
  g_mutex_lock (&scope_lock);
  e = element_get_locked (element);
  g_mutex_unlock (&scope_lock);
  return e;
}

ScopePad *
scope_pad_create (GstPad * pad)
{
  ScopePad *p;
  GstObject *parent;

  g_mutex_lock (&scope_lock);
  p = g_object_get_qdata ((GObject *) pad, scope_slot_quark);
  if (p && !g_atomic_int_get (&p->dead) && (p->transparent
          || !g_atomic_int_get (&p->elem->dead)))
    goto out;

  parent = gst_object_get_parent (GST_OBJECT (pad));
  p = scope_alloc (ScopePad);
  p->name = gst_object_get_name (GST_OBJECT (pad));
  p->sink = GST_PAD_IS_SINK (pad);
  /* Ghost pads (parent is a bin) and their internal proxy pads (parent is
   * the ghost pad) only forward: the elements on both sides are measured. */
  p->transparent = !parent || !GST_IS_ELEMENT (parent) || GST_IS_BIN (parent);
  if (!p->transparent) {
    ScopeElement *e = element_get_locked (GST_ELEMENT (parent));
    p->elem = e;
    if (p->sink) {
      gint n = g_atomic_int_get (&e->n_inputs);
      if (g_atomic_int_get (&e->async))
        p->ring = ring_new ();
      if (n < SCOPE_MAX_INPUTS) {
        e->inputs[n] = p;
        g_atomic_int_set (&e->n_inputs, n + 1);
      }
    }
  }
  if (parent)
    gst_object_unref (parent);
  p->next = pads;
  pads = p;
  g_object_set_qdata_full ((GObject *) pad, scope_slot_quark, p, slot_dead);
out:
  g_mutex_unlock (&scope_lock);
  return p;
}

void
scope_element_make_async (ScopeElement * e)
{
  gint i, n;
  g_mutex_lock (&scope_lock);
  if (!g_atomic_int_get (&e->async)) {
    n = g_atomic_int_get (&e->n_inputs);
    for (i = 0; i < n; i++)
      if (!e->inputs[i]->ring)
        __atomic_store_n (&e->inputs[i]->ring, ring_new (), __ATOMIC_RELEASE);
    g_atomic_int_set (&e->async, 1);
  }
  g_mutex_unlock (&scope_lock);
}

static void
forget (GObject * object)
{
  gint *slot = g_object_get_qdata (object, scope_slot_quark);
  if (slot) {
    g_atomic_int_set (slot, 1);
    g_object_set_qdata (object, scope_slot_quark, NULL);
  }
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
  for (e = elements; e; e = e->next) {
    ScopeElementStat st = { 0 };
    if (g_atomic_int_get (&e->dead))
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
      if (!src || g_atomic_int_get (&src->dead))
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
    if (p->transparent || g_atomic_int_get (&p->dead)
        || g_atomic_int_get (&p->elem->dead))
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
