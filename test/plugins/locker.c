/* locker.c: "scopelocker", a pass-through element that does what real
 * elements do and the hooks must survive: it calls hooked functions while
 * holding its own object lock. When caps arrive (before any buffer) and for
 * every buffer, with that lock held, it asks upstream for the latency, as
 * gst-libav's video decoders do in set_format to learn whether upstream is
 * live; for every buffer it also pushes an out-of-band event downstream. A
 * hook that takes its lock (to learn its name, parent or peer) deadlocks the
 * pipeline. The buffers themselves are pushed without the lock: a sink
 * blocks them in preroll until the state change, which needs the lock.
 *
 *   gst-launch-1.0 audiotestsrc num-buffers=50 ! scopelocker ! fakesink
 */
#include "scopetest.h"

typedef struct {
  GstElement parent;
  GstPad *sinkpad, *srcpad;
} ScopeLocker;

typedef struct {
  GstElementClass parent_class;
} ScopeLockerClass;

G_DEFINE_TYPE (ScopeLocker, scope_locker, GST_TYPE_ELEMENT);

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);

/* Asks upstream for the latency with the object lock held. */
static void
query_locked (ScopeLocker * self, gboolean event)
{
  GstQuery *q = gst_query_new_latency ();

  GST_OBJECT_LOCK (self);
  gst_pad_peer_query (self->sinkpad, q);
  if (event)
    gst_pad_push_event (self->srcpad,
        gst_event_new_custom (GST_EVENT_CUSTOM_DOWNSTREAM_OOB,
            gst_structure_new_empty ("scopelocker")));
  GST_OBJECT_UNLOCK (self);
  gst_query_unref (q);
}

static GstFlowReturn
scope_locker_chain (GstPad * pad, GstObject * parent, GstBuffer * buf)
{
  ScopeLocker *self = (ScopeLocker *) parent;

  query_locked (self, TRUE);
  return gst_pad_push (self->srcpad, buf);
}

/* Queries and events go straight to the other pad's peer: GStreamer's
 * default handlers find the other pad through the element's pad list, under
 * the object lock the chain function holds. */
static gboolean
scope_locker_query (GstPad * pad, GstObject * parent, GstQuery * q)
{
  ScopeLocker *self = (ScopeLocker *) parent;
  return gst_pad_peer_query (pad == self->srcpad ? self->sinkpad :
      self->srcpad, q);
}

static gboolean
scope_locker_event (GstPad * pad, GstObject * parent, GstEvent * ev)
{
  ScopeLocker *self = (ScopeLocker *) parent;
  if (GST_EVENT_TYPE (ev) == GST_EVENT_CAPS)
    query_locked (self, FALSE);
  return gst_pad_push_event (pad == self->srcpad ? self->sinkpad :
      self->srcpad, ev);
}

static void
scope_locker_class_init (ScopeLockerClass * klass)
{
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class, "Lock holder",
      "Filter", "Calls hooked functions with its own locks held (tests)",
      "gstscope");
}

static void
scope_locker_init (ScopeLocker * self)
{
  self->sinkpad = gst_pad_new_from_static_template (&sink_template, "sink");
  self->srcpad = gst_pad_new_from_static_template (&src_template, "src");
  gst_pad_set_chain_function (self->sinkpad, scope_locker_chain);
  gst_pad_set_query_function (self->sinkpad, scope_locker_query);
  gst_pad_set_query_function (self->srcpad, scope_locker_query);
  gst_pad_set_event_function (self->sinkpad, scope_locker_event);
  gst_pad_set_event_function (self->srcpad, scope_locker_event);
  gst_element_add_pad (GST_ELEMENT (self), self->sinkpad);
  gst_element_add_pad (GST_ELEMENT (self), self->srcpad);
}
