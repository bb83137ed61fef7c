/* store.c: the slots behind the hot path (cold path, under scope_lock).
 *
 * A slot is created the first time a hook sees its pad or element and is
 * tagged onto the object as qdata. It is marked dead when the element leaves
 * its bin, the pad is removed, or the object is finalized; an element added
 * to another pipeline then gets a fresh slot and fresh labels.
 *
 * Nothing here takes a GStreamer lock, because any hook may run while an
 * element holds its own object lock (avdec_h264 sends a LATENCY query with
 * it held), and scope_lock is never held while calling into GStreamer.
 * What the store knows of the objects it reads without their locks:
 * - a pad's or element's name once it has a parent, which cannot change then
 *   (gst_object_set_name refuses); the parent pointer, which changes only
 *   through gst_bin_remove() and gst_element_remove_pad(), whose hooks kill
 *   the slot first; the pad direction, the element's factory, type and
 *   SOURCE/SINK flags, which are fixed;
 * - a top-level bin's name (which can change while it has no parent) only in
 *   the structural hooks (bin-add-post, element-change-state-pre), which run
 *   on the thread that builds and starts the pipeline;
 * - peers at pad-link-post, and the internal pad of a ghost pad, which
 *   gst_proxy_pad_get_internal() reads without a lock.
 * The pipeline and path labels are made from the slots' names and parents
 * when they are read (snapshot, sampler), so an element's bin path is right
 * however the application nests and renames its bins before starting them.
 *
 * Dead slots leave the live lists at the next sweep (each snapshot, and slot
 * creation at most every SWEEP_EVERY_NS) and are reused with a new
 * generation: at once if their object was finalized (no hook can be running
 * on it: GStreamer holds a reference to the pad or element a hook is called
 * for), else after SCOPE_QUARANTINE_NS in a free list. An application that
 * creates and releases pipelines forever, however fast, keeps a store of
 * the size of what is alive, not of what died in the last seconds.
 */
#include "scope.h"
#include "match.h"

#include <stdio.h>
#include <string.h>

GMutex scope_lock;
gint scope_flags;
GQuark scope_slot_quark;

#define SWEEP_EVERY_NS (100 * GST_MSECOND)

/* Live slots (and dead ones not yet swept), newest first. */
static ScopeElement *elements;
static ScopePad *pads;
static guint64 last_id, last_sweep;
/* Dead slots, oldest first, waiting out their quarantine, and slots of
 * finalized objects, ready. Both slot types have next and dead_since, hence
 * macros for both. */
#define SLOT_FIFO(type) struct { type *head, *tail; }
static SLOT_FIFO (ScopeElement) free_elements;
static SLOT_FIFO (ScopePad) free_pads;
static ScopeElement *ready_elements;
static ScopePad *ready_pads;

/* A dead slot leaving the live list: ready if its object is gone. */
#define slot_free(slot, fifo, ready, now) G_STMT_START {        \
    if (scope_state (slot) & SCOPE_GONE) {                      \
      (slot)->next = (ready);                                   \
      (ready) = (slot);                                         \
    } else {                                                    \
      fifo_push (fifo, slot, now);                              \
    }                                                           \
  } G_STMT_END

/* Quarantined slots whose object has been finalized since they died (a
 * streaming thread held the last reference a little longer) are ready. */
#define fifo_reap(q, ready) G_STMT_START {                      \
    __typeof__ ((q).head) *pp_ = &(q).head, s_, last_ = NULL;   \
    while ((s_ = *pp_)) {                                       \
      if (scope_state (s_) & SCOPE_GONE) {                      \
        *pp_ = s_->next;                                        \
        s_->next = (ready);                                     \
        (ready) = s_;                                           \
      } else {                                                  \
        last_ = s_;                                             \
        pp_ = &s_->next;                                        \
      }                                                         \
    }                                                           \
    (q).tail = last_;                                           \
  } G_STMT_END

/* A slot to reuse: a ready one, else the oldest quarantined one if its
 * quarantine is over, else NULL. */
#define slot_take(fifo, ready) ({                               \
    __typeof__ (ready) r_ = (ready);                            \
    if (r_)                                                     \
      (ready) = r_->next;                                       \
    else                                                        \
      r_ = fifo_take (fifo);                                    \
    r_; })

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
/* Rings of reused pad slots, by size (class c: SCOPE_RING_MIN << c
 * entries), for the next pad that needs one or grows one (only some pads
 * do: a slot keeping its rings would make every slot grow them). */
static ScopeRing *free_rings[SCOPE_RING_CLASSES];

/* What an object's qdata holds: its slot and the slot's state when it was
 * made for this object. Freed with the qdata; the slot outlives it.
 * removed: the object left its bin or element (bin-remove, remove-pad), so
 * that the hooks GStreamer runs after that (the unlinks of gst_bin_remove,
 * gst_element_remove_pad and a bin's dispose) find it dead and make no new
 * slot for it: a released pipeline then costs no slots, and an element kept
 * alive after its removal has no series. Cleared when the element is added
 * to a bin again (bin-add-post). Written under scope_lock. */
typedef struct {
  guint64 *state;               /* both slot types start with it */
  guint64 live;
  gboolean removed;
} ScopeTag;

/* The state of the tag given to a removed object that had no slot: never
 * live, so that tag_free's compare-and-swap leaves it as it is. */
static guint64 tombstone = SCOPE_DEAD;

/* The qdata's destroy notify: the object was finalized (or its tag
 * replaced by a fresh slot's, after its own slot died). The slot dies and
 * is gone, unless it was meanwhile reused for another object (another
 * generation), which the compare-and-swap sees. */
static void
tag_free (gpointer data)
{
  ScopeTag *tag = data;
  guint64 cur = tag->live, mask = ~(SCOPE_DEAD | SCOPE_GONE);
  while ((cur & mask) == (tag->live & mask)
      && !__atomic_compare_exchange_n (tag->state, &cur,
          cur | SCOPE_DEAD | SCOPE_GONE, FALSE, __ATOMIC_ACQ_REL,
          __ATOMIC_RELAXED));
  g_free (tag);
}

/* Under scope_lock. A tag replaced (its slot died, the object lives on)
 * is freed without tag_free, which would take the object for finalized. */
static void
tag_set (GObject * object, guint64 * state)
{
  ScopeTag *tag = g_new (ScopeTag, 1);
  g_free (g_object_steal_qdata (object, scope_slot_quark));
  tag->state = state;
  tag->live = *state;
  tag->removed = FALSE;
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

/* The object left its bin or element (see ScopeTag). */
static void
mark_removed_locked (GObject * object)
{
  ScopeTag *tag = g_object_get_qdata (object, scope_slot_quark);
  if (!tag) {
    tag_set (object, &tombstone);
    tag = g_object_get_qdata (object, scope_slot_quark);
    tag->live = ~(SCOPE_DEAD | SCOPE_GONE);     /* no slot's generation */
  }
  tag->removed = TRUE;
}

/* The object, or a bin or element above it, was removed: a hook on it is
 * the end of its removal, not a new object to measure. GStreamer's parent
 * pointers are read without their lock, as everywhere here (see the top). */
static gboolean
removed_locked (GstObject * object)
{
  gint depth;
  for (depth = 0; object && depth <= SCOPE_MAX_NESTING + 2; depth++) {
    ScopeTag *tag = g_object_get_qdata ((GObject *) object, scope_slot_quark);
    if (tag && tag->removed)
      return TRUE;
    object = GST_OBJECT_PARENT (object);
  }
  return FALSE;
}

static guint64
now_ns (void)
{
  return (guint64) g_get_monotonic_time () * 1000;
}

#define kill(slot) \
    __atomic_fetch_or (&(slot)->state, SCOPE_DEAD, __ATOMIC_ACQ_REL)

static inline gboolean
pad_live (ScopePad * p)
{
  return p->transparent || !scope_dead (p->elem);
}

/* A slot leaves dead: generation + 1, not gone, still dead until filled. */
static guint64
next_generation (guint64 state)
{
  return (((state >> 2) + 1) << 2) | SCOPE_DEAD;
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
  ScopeElement **ep = &elements, *e, *x;
  ScopePad **pp = &pads, *p;

  last_sweep = now;
  /* An element whose bin died is gone with it (bins die before their
   * children are finalized), at any depth below it. */
  for (e = elements; e; e = e->next) {
    gint depth = 0;
    for (x = e->parent; x && !scope_dead (e) && depth++ < SCOPE_MAX_NESTING;
        x = x->parent)
      if (scope_dead (x))
        kill (e);
  }
  while (*ep) {
    e = *ep;
    if (!scope_dead (e)) {
      ep = &e->next;
      continue;
    }
    *ep = e->next;
    slot_free (e, free_elements, ready_elements, now);
  }
  while (*pp) {
    ScopePad *peer;
    p = *pp;
    peer = p->peer;
    /* A peer or twin about to be reused must not be followed. */
    if (peer && (scope_dead (peer) || !pad_live (peer)))
      __atomic_store_n (&p->peer, NULL, __ATOMIC_RELEASE);
    if (p->other && scope_dead (p->other))
      __atomic_store_n (&p->other, NULL, __ATOMIC_RELEASE);
    if (!scope_dead (p) && (p->transparent || !scope_dead (p->elem))) {
      pp = &p->next;
      continue;
    }
    __atomic_fetch_or (&p->state, SCOPE_DEAD, __ATOMIC_ACQ_REL);
    input_remove (p->elem, p);
    *pp = p->next;
    slot_free (p, free_pads, ready_pads, now);
  }
  fifo_reap (free_elements, ready_elements);
  fifo_reap (free_pads, ready_pads);
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
  ScopeElement *e = slot_take (free_elements, ready_elements);

  if (!e) {
    e = scope_alloc (ScopeElement);
    e->state = SCOPE_DEAD;
  } else {
    __atomic_store_n (&e->state, next_generation (scope_state (e)),
        __ATOMIC_RELEASE);
    forget_source_locked (e);
    scope_threads_forget (e);
    g_free (e->name);
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

/* What the lookup of a removed pad (or of a pad of a removed element) gives:
 * no slot of its own, transparent so that the hooks pass it by, and dead so
 * that no thread's cache keeps it (if the element is added to a bin again,
 * its pads get slots then). Never written. */
static ScopePad scope_gone = {.state = SCOPE_DEAD,.transparent = TRUE,
  .unusual = TRUE,
  .elem = &scope_nowhere
};

/* A fresh pad slot, still dead. Its fields are reset one by one, not with
 * memset, so that elem is never NULL even for an instant. */
static ScopePad *
pad_alloc_locked (void)
{
  ScopePad *p = slot_take (free_pads, ready_pads);

  if (!p) {
    p = scope_alloc (ScopePad);
    p->state = SCOPE_DEAD;
  } else {
    __atomic_store_n (&p->state, next_generation (scope_state (p)),
        __ATOMIC_RELEASE);
    g_clear_pointer (&p->name, g_free);
    scope_rings_release_locked (p);
    p->transparent = p->unusual = p->sink = FALSE;
    p->pid = 0;
    p->buffers = p->bytes = 0;
    __atomic_store_n (&p->ring, NULL, __ATOMIC_RELEASE);
    p->queue = NULL;
    __atomic_store_n (&p->peer, NULL, __ATOMIC_RELEASE);
    __atomic_store_n (&p->other, NULL, __ATOMIC_RELEASE);
    __atomic_store_n (&p->seg_seq, 0, __ATOMIC_RELEASE);
  }
  __atomic_store_n (&p->elem, &scope_nowhere, __ATOMIC_RELEASE);
  p->next = pads;
  pads = p;
  return p;
}

/* The slot is filled: it goes live. */
#define slot_publish(slot) \
    __atomic_fetch_and (&(slot)->state, ~SCOPE_DEAD, __ATOMIC_RELEASE)

/* ---- rings: memory that is only reused, like slots ----
 * A reader may still be reading a ring its pad no longer uses (it loaded
 * the pointer just before the producer grew it): a pad keeps every ring it
 * used until its slot is reused, which waits until no hook can run on it
 * (see the top). A pad that grows to 2^k entries has used less than 2^(k+1)
 * in all. */

static guint
ring_class (guint64 entries)
{
  return (guint) __builtin_ctzll (entries / SCOPE_RING_MIN);
}

static gsize
ring_bytes (guint cls)
{
  return sizeof (ScopeRing) + ((gsize) SCOPE_RING_MIN << cls) *
      sizeof (ScopeRingEntry);
}

/* An empty ring of class cls: a free one, cleared (its entries must not
 * look written at their old indices), else a new one. */
static ScopeRing *
ring_alloc_locked (guint cls)
{
  ScopeRing *r = free_rings[cls];

  if (r) {
    free_rings[cls] = r->next_free;
    memset (r, 0, ring_bytes (cls));
  } else {
    r = g_aligned_alloc0 (1, ring_bytes (cls), SCOPE_CACHE_LINE);
  }
  r->mask = ((guint64) SCOPE_RING_MIN << cls) - 1;
  r->quarter = ((guint64) SCOPE_RING_MIN << cls) / 4 - 1;
  return r;
}

guint64 scope_ring_start = SCOPE_RING_MIN;

/* A ring for a new pad: the smallest free one of at least scope_ring_start
 * entries, else a new one of that size. */
ScopeRing *
scope_ring_new_locked (ScopePad * p)
{
  guint start = ring_class (scope_ring_start), cls = start;
  ScopeRing *r;

  while (cls + 1 < SCOPE_RING_CLASSES && !free_rings[cls])
    cls++;
  r = ring_alloc_locked (free_rings[cls] ? cls : start);
  /* Whether the element re-stamps what it passes on is learnt from its
   * first outputs: what it holds before then is recorded as if it did. */
  r->want_mem = SCOPE_MEM_FIRST;
  r->older = p->ring_mem;
  p->ring_mem = r;
  return r;
}

void
scope_rings_release_locked (ScopePad * p)
{
  ScopeRing *r = p->ring_mem, *older;

  for (; r; r = older) {
    guint cls = ring_class (ring_cap (r));
    older = r->older;
    r->older = NULL;
    r->next_free = free_rings[cls];
    free_rings[cls] = r;
  }
  p->ring_mem = NULL;
}

void
scope_ring_grow (ScopePad * p, ScopeRing * r)
{
  ScopeRing *n;
  guint64 valid_from, entries = 0;
  gchar *element = NULL, *pad = NULL;

  g_mutex_lock (&scope_lock);
  /* Only while r is p's ring: a slot reused meanwhile (its pad removed and
   * its quarantine over while a thread still pushed) has another ring, or
   * none, which is not this producer's to grow. */
  if (__atomic_load_n (&p->ring, __ATOMIC_ACQUIRE) == r && p->ring_mem == r
      && ring_cap (r) < SCOPE_RING_MAX) {
    n = ring_alloc_locked (ring_class (ring_cap (r)) + 1);
    ring_copy (n, r);
    n->older = r;
    p->ring_mem = n;
    __atomic_store_n (&p->ring, n, __ATOMIC_RELEASE);
    /* A flush that marked the old ring while it was copied (the thread
     * pushing FLUSH_STOP may be another) still holds. */
    valid_from = __atomic_load_n (&r->valid_from, RELAXED);
    if (valid_from > n->valid_from)
      __atomic_store_n (&n->valid_from, valid_from, RELAXED);
    entries = ring_cap (n);
    element = g_strdup (p->elem->name);
    pad = g_strdup (p->name);
  }
  g_mutex_unlock (&scope_lock);
  /* Logged without scope_lock, which is never held while calling GStreamer. */
  if (entries)
    GST_DEBUG ("ring of %s:%s grown to %" G_GUINT64_FORMAT " entries",
        element, pad, entries);
  g_free (element);
  g_free (pad);
}

/* element is an instance of one of the types named in the NULL-terminated
 * names. By name: the types live in libraries (libgstbase, libgstvideo,
 * libgstaudio, the elements' own plugins) that are not linked in, and a type
 * is unknown until its library is loaded. Cold path. */
gboolean
scope_is_a_named (GstElement * element, const gchar * const *names)
{
  for (; *names; names++) {
    GType type = g_type_from_name (*names);
    if (type && g_type_is_a (G_OBJECT_TYPE (element), type))
      return TRUE;
  }
  return FALSE;
}

/* A mixer makes each output from all its inputs (see ScopeMix); other
 * elements with several inputs (muxers, funnel, input-selector) put one
 * input's data in each output. The base classes of the mixers are in
 * libgstvideo and libgstaudio: unknown until one is loaded. */
static gboolean
is_mixer (GstElement * element)
{
  static const gchar *const bases[] = { "GstVideoAggregator",
    "GstAudioAggregator", NULL
  };
  return scope_is_a_named (element, bases);
}

/* A muxer puts one input's data in each output (see mux.h). GstBaseTsMux
 * (mpegtsmux, atscmux...) stamps its packets with the time of its PCR
 * stream, whatever input they carry: its outputs are known by their PID. */
static gint
muxer_of (GstElement * element)
{
  static const gchar *const ts[] = { "GstBaseTsMux", NULL };
  const gchar *klass;

  if (GST_IS_BIN (element))
    return 0;
  if (scope_is_a_named (element, ts))
    return SCOPE_MUXER_TS;
  klass = gst_element_class_get_metadata (GST_ELEMENT_GET_CLASS (element),
      GST_ELEMENT_METADATA_KLASS);
  return klass && strstr (klass, "Muxer") ? SCOPE_MUXER : 0;
}

/* The element's slot, made if needed, with what can be learnt of it now
 * (see the top of this file). top: the caller may read a top-level bin's
 * name. Bounded recursion up the bins. */
static ScopeElement *
element_get_locked (GstElement * element, gboolean top, gint depth)
{
  ScopeElement *e = tag_get_locked ((GObject *) element);
  GstObject *parent = GST_OBJECT_PARENT (element);
  const gchar *name;

  if (!e) {
    GstElementFactory *factory = gst_element_get_factory (element);
    e = element_alloc_locked ();
    e->id = ++last_id;
    e->factory = g_strdup (factory ? GST_OBJECT_NAME (factory) :
        G_OBJECT_TYPE_NAME (element));
    e->is_bin = GST_IS_BIN (element);
    e->is_source = GST_OBJECT_FLAG_IS_SET (element, GST_ELEMENT_FLAG_SOURCE);
    e->is_sink = GST_OBJECT_FLAG_IS_SET (element, GST_ELEMENT_FLAG_SINK);
    /* A queue outputs its inputs in order: what its outputs skip was
     * dropped (leaky queues; match.h, flow.c). queue2 and multiqueue never
     * leak. */
    e->fifo = g_strcmp0 (G_OBJECT_TYPE_NAME (element), "GstQueue") == 0;
    e->drops_known = e->fifo;
    if (is_mixer (element)) {
      /* Its ring, kept with the slot (a reference to an entry may outlive
       * the element): allocated once, before the flag is seen. Its head
       * goes on counting, so that no old reference matches a new entry. */
      if (!e->mix)
        e->mix = g_aligned_alloc0 (1, sizeof (ScopeMix), SCOPE_CACHE_LINE);
      e->is_mixer = TRUE;
    } else {
      e->muxer = muxer_of (element);
    }
    if (scope_is_queue (element)) {
      e->is_queue = TRUE;
      scope_queues_setup_locked (e);
    }
    slot_publish (e);
    tag_set ((GObject *) element, &e->state);
  }
  name = GST_OBJECT_NAME (element);
  if ((parent || top) && name && g_strcmp0 (name, e->name) != 0) {
    g_free (e->name);
    e->name = g_strdup (name);
  }
  if (parent && GST_IS_ELEMENT (parent) && depth < SCOPE_MAX_NESTING)
    e->parent = element_get_locked (GST_ELEMENT (parent), top, depth + 1);
  else if (!parent)
    e->parent = NULL;
  return e;
}

/* bin-add-post (the element and its bin) and the first state changes. A
 * removed element that is in a bin again is back: it is new there, unless
 * that bin itself was removed and is still out (then it is measured when
 * the bin is added back). A removed element in no bin stays dead. */
void
scope_element_learn (GstElement * element)
{
  ScopeTag *tag;

  g_mutex_lock (&scope_lock);
  maybe_sweep_locked ();
  tag = g_object_get_qdata ((GObject *) element, scope_slot_quark);
  if (tag && tag->removed && GST_OBJECT_PARENT (element))
    tag->removed = FALSE;
  if (!removed_locked ((GstObject *) element))
    element_get_locked (element, TRUE, 0);
  g_mutex_unlock (&scope_lock);
}

/* The pad's slot, made if needed. internal: the internal pad of a ghost
 * pad, which the caller got before taking scope_lock. */
static ScopePad *
pad_get_locked (GstPad * pad, GstPad * internal)
{
  ScopePad *p = tag_get_locked ((GObject *) pad), *other = NULL;
  GstObject *parent;

  parent = GST_OBJECT_PARENT (pad);
  /* A slot made for a pad that had no parent yet (rtpptdemux pushes its
   * new pads' first events before adding them) took it for a ghost pad:
   * once it has one, it is made again (the old slot dies with its tag). */
  if (p && pad_live (p) && !(p->orphan && parent))
    return p;
  if (removed_locked ((GstObject *) pad))
    return &scope_gone;
  p = pad_alloc_locked ();
  p->sink = GST_PAD_IS_SINK (pad);
  p->orphan = !parent;
  if (parent)
    p->name = g_strdup (GST_OBJECT_NAME (pad));
  /* Ghost pads (parent is a bin) and their internal proxy pads (parent is
   * the ghost pad) only forward: the elements on both sides are measured. */
  p->transparent = !parent || !GST_IS_ELEMENT (parent) || GST_IS_BIN (parent);
  if (!p->transparent) {
    ScopeElement *e = element_get_locked (GST_ELEMENT (parent), FALSE, 0);
    p->elem = e;
    if (e->is_queue)
      scope_queue_attach_locked (e, p, p->name);
    if (p->sink) {
      /* Outputs are matched with what entered: sinks output nothing. */
      if (!e->is_sink)
        p->ring = scope_ring_new_locked (p);
      /* GstBaseTsMux names its sink pads after their PIDs. */
      if (e->muxer == SCOPE_MUXER_TS && p->name
          && sscanf (p->name, "sink_%u", &p->pid) != 1)
        p->pid = 0;
      input_add (e, p);
    }
  }
  p->unusual = p->transparent || p->queue;
  slot_publish (p);
  tag_set ((GObject *) pad, &p->state);
  if (internal)
    other = pad_get_locked (internal, NULL);
  else if (parent && GST_IS_GHOST_PAD (parent))
    other = pad_get_locked (GST_PAD (parent), NULL);
  if (other != &scope_gone)
    __atomic_store_n (&p->other, other, __ATOMIC_RELEASE);
  if (p->other && !p->other->other)
    __atomic_store_n (&p->other->other, p, __ATOMIC_RELEASE);
  return p;
}

static gpointer
tag_copy (gpointer data, gpointer user_data)
{
  if (data)
    *(ScopeTag *) user_data = *(ScopeTag *) data;
  return NULL;
}

/* The live slot of pad, without scope_lock when it has one. */
static ScopePad *
pad_find (GstPad * pad)
{
  ScopeTag tag = { NULL, 0 };
  ScopePad *p;

  /* Another thread may replace and free the tag: copy it under GLib's
   * qdata lock rather than taking scope_lock on every cache miss. */
  g_object_dup_qdata ((GObject *) pad, scope_slot_quark, tag_copy, &tag);
  p = (ScopePad *) tag.state;
  if (p && scope_state (p) == tag.live && pad_live (p)
      && !(p->orphan && GST_OBJECT_PARENT (pad)))
    return p;
  return NULL;
}

ScopeElement *
scope_element_find (GstElement * element)
{
  ScopeTag tag = { NULL, 0 };
  ScopeElement *e;

  g_object_dup_qdata ((GObject *) element, scope_slot_quark, tag_copy, &tag);
  e = (ScopeElement *) tag.state;
  return e && scope_state (e) == tag.live ? e : NULL;
}

static ScopePad *
pad_make (GstPad * pad)
{
  GstPad *internal = NULL;
  ScopePad *p;

  /* A ghost pad's internal pad is read (and reffed) outside scope_lock. */
  if (GST_IS_GHOST_PAD (pad))
    internal = (GstPad *) gst_proxy_pad_get_internal (GST_PROXY_PAD (pad));
  g_mutex_lock (&scope_lock);
  maybe_sweep_locked ();
  p = pad_get_locked (pad, internal);
  g_mutex_unlock (&scope_lock);
  if (internal)
    gst_object_unref (internal);
  return p;
}

ScopePad *
scope_pad_lookup (GstPad * pad, guint64 * state)
{
  ScopePad *p = pad_find (pad);

  if (!p)
    p = pad_make (pad);
  /* Its live state: if it died meanwhile, the cache misses. */
  *state = scope_state (p) & ~SCOPE_DEAD;
  return p;
}

/* A link makes the pads' slots if needed; an unlink only forgets the link
 * between slots that exist: GStreamer unlinks the pads of a removed element
 * after bin-remove, and a slot made then would be a removed element's. */
void
scope_pads_linked (GstPad * src, GstPad * sink, gboolean linked)
{
  ScopePad *s, *k;

  if (linked) {
    if (!(s = pad_find (src)))
      s = pad_make (src);
    if (!(k = pad_find (sink)))
      k = pad_make (sink);
  }
  g_mutex_lock (&scope_lock);
  if (!linked) {
    s = tag_get_locked ((GObject *) src);
    k = tag_get_locked ((GObject *) sink);
    if (s && k && s->peer == k)
      __atomic_store_n (&s->peer, NULL, __ATOMIC_RELEASE);
    if (s && k && k->peer == s)
      __atomic_store_n (&k->peer, NULL, __ATOMIC_RELEASE);
  } else if (s != &scope_gone && k != &scope_gone) {
    __atomic_store_n (&s->peer, k, __ATOMIC_RELEASE);
    __atomic_store_n (&k->peer, s, __ATOMIC_RELEASE);
  }
  g_mutex_unlock (&scope_lock);
}

/* Looks through ghost pads: a ghost sink pad leads to its internal pad's
 * peer inside the bin, the internal pad of a ghost src pad to the ghost
 * pad's peer outside. Returns the first element's pad on the way, or NULL.
 * Lock-free: slots are never freed. */
static ScopePad *
pad_downstream (ScopePad * p)
{
  ScopePad *q = __atomic_load_n (&p->peer, __ATOMIC_ACQUIRE);
  gint hops;

  for (hops = 0; q && hops < 16; hops++) {
    ScopePad *o;
    if (!q->transparent)
      return scope_dead (q->elem) ? NULL : q;
    o = __atomic_load_n (&q->other, __ATOMIC_ACQUIRE);
    q = o ? __atomic_load_n (&o->peer, __ATOMIC_ACQUIRE) : NULL;
  }
  return NULL;
}

/* The element downstream of src pad p, through ghost pads, or NULL. */
ScopeElement *
scope_pad_downstream (ScopePad * p)
{
  ScopePad *q = pad_downstream (p);
  return q ? q->elem : NULL;
}

static gboolean
descends_from (ScopeElement * e, ScopeElement * ancestor)
{
  gint depth;
  for (depth = 0; e && depth <= SCOPE_MAX_NESTING; depth++, e = e->parent)
    if (e == ancestor)
      return TRUE;
  return FALSE;
}

/* The element (and, for a bin, everything inside it) left its pipeline:
 * its slots die, and their series go away with the next snapshot. The
 * object keeps its tag, which no longer matches a live slot. */
void
scope_element_removed (GstElement * element)
{
  ScopeElement *e, *x;

  g_mutex_lock (&scope_lock);
  e = tag_get_locked ((GObject *) element);
  if (e)
    for (x = elements; x; x = x->next)
      if (x != e && descends_from (x, e))
        kill (x);
  if (e) {
    ScopePad *p;
    kill (e);
    /* Its pads die with it, now rather than at the next sweep: the
     * threads' pad caches check only the pad's state. */
    for (p = pads; p; p = p->next)
      if (!p->transparent && scope_dead (p->elem))
        kill (p);
  }
  mark_removed_locked ((GObject *) element);
  g_mutex_unlock (&scope_lock);
}

/* The pad was added to element. A pad seen before it had a parent (an
 * element that pushes its sticky events on a new pad before adding it, as
 * rtpptdemux does) got a transparent slot, which would stay transparent:
 * now that its element is known it gets a slot of that element, with the
 * segment and peer the old one learnt. */
void
scope_pad_added (GstElement * element, GstPad * pad)
{
  ScopePad *p, *q, *peer;

  /* Most pads are added before any hook saw them: no tag, nothing to do,
   * and no need for scope_lock (every element's construction comes here). */
  if (GST_OBJECT_PARENT (pad) != (GstObject *) element || GST_IS_BIN (element)
      || !g_object_get_qdata ((GObject *) pad, scope_slot_quark))
    return;
  g_mutex_lock (&scope_lock);
  p = tag_get_locked ((GObject *) pad);
  if (p && p->transparent) {
    kill (p);
    q = pad_get_locked (pad, NULL);
    if (q != p) {
      guint seq = __atomic_load_n (&p->seg_seq, __ATOMIC_ACQUIRE);
      /* The pad's pusher is the thread adding it: the segment is still. */
      if (seq != 0 && !(seq & 1)) {
        q->seg = p->seg;
        __atomic_store_n (&q->seg_seq, 2, __ATOMIC_RELEASE);
      }
      peer = __atomic_load_n (&p->peer, __ATOMIC_ACQUIRE);
      if (peer) {
        __atomic_store_n (&q->peer, peer, __ATOMIC_RELEASE);
        if (__atomic_load_n (&peer->peer, __ATOMIC_ACQUIRE) == p)
          __atomic_store_n (&peer->peer, q, __ATOMIC_RELEASE);
      }
    }
  }
  g_mutex_unlock (&scope_lock);
}

void
scope_pad_removed (GstPad * pad)
{
  ScopePad *p;

  /* Like an element's: the pad keeps a tag that matches no live slot. */
  g_mutex_lock (&scope_lock);
  p = tag_get_locked ((GObject *) pad);
  if (p)
    kill (p);
  mark_removed_locked ((GObject *) pad);
  g_mutex_unlock (&scope_lock);
}

/* The element's path below its top-level bin, and that bin's name (empty
 * for an element in no bin), from the slots' names and parents. */
static void
labels_locked (ScopeElement * e, gchar ** pipeline, gchar ** path)
{
  const gchar *names[SCOPE_MAX_NESTING + 1];
  GString *s = g_string_new (NULL);
  gint n = 0, i;
  ScopeElement *x;

  for (x = e; x && n <= SCOPE_MAX_NESTING; x = x->parent)
    names[n++] = x->name ? x->name : "";
  *pipeline = g_strdup (n > 1 ? names[n - 1] : "");
  for (i = MAX (n - 2, 0); i >= 0; i--) {
    if (s->len)
      g_string_append_c (s, '/');
    g_string_append (s, names[i]);
  }
  *path = g_string_free (s, FALSE);
}

guint64
scope_element_names (ScopeElement * e, gchar ** pipeline, gchar ** path,
    gchar ** factory)
{
  guint64 id;
  g_mutex_lock (&scope_lock);
  id = e->id;
  labels_locked (e, pipeline, path);
  *factory = g_strdup (e->factory);
  g_mutex_unlock (&scope_lock);
  return id;
}

static void
hist_copy (ScopeHist * dst, const ScopeHist * src)
{
  gint i;
  for (i = 0; i < SCOPE_NBUCKETS; i++)
    dst->counts[i] = __atomic_load_n (&src->counts[i], __ATOMIC_RELAXED);
  dst->sum_ns = __atomic_load_n (&src->sum_ns, __ATOMIC_RELAXED);
}

/* The element label and pad name that src pad p's data goes to (for the
 * graph), from the slots alone: no GStreamer call under scope_lock. */
static void
peer_locked (ScopePad * p, gchar ** element, gchar ** pad)
{
  ScopePad *q = pad_downstream (p);
  gchar *pipeline;

  if (!q || scope_dead (q) || !q->name)
    return;
  labels_locked (q->elem, &pipeline, element);
  g_free (pipeline);
  *pad = g_strdup (q->name);
}

ScopeSnapshot *
scope_snapshot (void)
{
  ScopeSnapshot *s = g_new0 (ScopeSnapshot, 1);
  GArray *el = g_array_new (FALSE, TRUE, sizeof (ScopeElementStat));
  GArray *pa = g_array_new (FALSE, TRUE, sizeof (ScopePadStat));
  GArray *pt = g_array_new (FALSE, TRUE, sizeof (ScopePathStat));
  GArray *qu = g_array_new (FALSE, TRUE, sizeof (ScopeQueueStat));
  ScopeElement *e;
  ScopePad *p;
  gint i;

  g_mutex_lock (&scope_lock);
  sweep_locked (now_ns ());
  for (e = elements; e; e = e->next) {
    ScopeElementStat st = { 0 };
    if (scope_dead (e) || e->is_bin)
      continue;
    labels_locked (e, &st.pipeline, &st.element);
    st.factory = g_strdup (e->factory);
    hist_copy (&st.proc, &e->proc);
    hist_copy (&st.lat, &e->lat);
    st.lat_last_ns = __atomic_load_n (&e->lat_last_ns, __ATOMIC_RELAXED);
    scope_reported_share (e, &st);
    st.cpu_ns = __atomic_load_n (&e->cpu_ns, __ATOMIC_RELAXED);
    st.drops_known = g_atomic_int_get (&e->drops_known);
    st.dropped = __atomic_load_n (&e->dropped, __ATOMIC_RELAXED);
    for (i = 0; i < SCOPE_LATE_NBUCKETS; i++)
      st.late.counts[i] = __atomic_load_n (&e->late.counts[i],
          __ATOMIC_RELAXED);
    st.late.sum_ns = __atomic_load_n (&e->late.sum_ns, __ATOMIC_RELAXED);
    g_array_append_val (el, st);
    scope_queues_snapshot_locked (e, qu, st.pipeline, st.element, st.factory);
    for (i = 0; i < SCOPE_MAX_PATHS; i++) {
      ScopeElement *src = __atomic_load_n (&e->paths[i].source,
          __ATOMIC_ACQUIRE);
      ScopePathStat ps = { 0 };
      gchar *src_pipeline;
      if (!src || scope_dead (src))
        continue;
      ps.pipeline = g_strdup (st.pipeline);
      ps.sink = g_strdup (st.element);
      labels_locked (src, &src_pipeline, &ps.source);
      g_free (src_pipeline);
      hist_copy (&ps.hist, &e->paths[i].hist);
      g_array_append_val (pt, ps);
    }
  }
  for (p = pads; p; p = p->next) {
    ScopePadStat st = { 0 };
    if (p->transparent || scope_dead (p) || scope_dead (p->elem))
      continue;
    labels_locked (p->elem, &st.pipeline, &st.element);
    st.pad = g_strdup (p->name);
    st.buffers = __atomic_load_n (&p->buffers, __ATOMIC_RELAXED);
    st.bytes = __atomic_load_n (&p->bytes, __ATOMIC_RELAXED);
    st.sink = p->sink;
    if (!p->sink)
      peer_locked (p, &st.peer_element, &st.peer_pad);
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
  s->n_queues = qu->len;
  s->queues = (ScopeQueueStat *) g_array_free (qu, FALSE);
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
    g_free (s->pads[i].peer_element);
    g_free (s->pads[i].peer_pad);
  }
  for (i = 0; i < s->n_paths; i++) {
    g_free (s->paths[i].pipeline);
    g_free (s->paths[i].source);
    g_free (s->paths[i].sink);
  }
  for (i = 0; i < s->n_queues; i++) {
    g_free (s->queues[i].pipeline);
    g_free (s->queues[i].element);
    g_free (s->queues[i].factory);
    g_free (s->queues[i].queue);
  }
  g_free (s->queues);
  g_free (s->elements);
  g_free (s->pads);
  g_free (s->paths);
  g_free (s);
}
