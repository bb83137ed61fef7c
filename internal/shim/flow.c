/* flow.c: flow health, the drops and lateness half. Buffers an element
 * received and did not pass on (gstreamer_element_dropped_buffers_total)
 * and, for syncing sinks, how late each buffer was against its render time
 * (gstreamer_sink_lateness_seconds).
 *
 * What an element says about its own drops, read where it says it (a
 * message or an event, never per buffer):
 * - QoS messages (GST_MESSAGE_QOS) with a count in buffers. basesink posts
 *   one per buffer it drops for being late (with qos=true; max-lateness
 *   decides what is late), GstBaseTransform (videoconvert, videoscale with
 *   qos=true) and the video decoders and encoders one per frame they skip
 *   on a QoS event from downstream. Each carries the element's running
 *   count, which starts again at 0 after a flush or a new segment (basesink
 *   resets its stats there): the counter adds the increase since the
 *   element's previous message, or the whole count after a restart. Counts
 *   in other formats (an audio sink's samples) are not buffers: ignored.
 *   With qos=false a sink posts nothing, although it still drops late
 *   buffers (max-lateness >= 0): its stats property is the only count.
 * - rtpjitterbuffer's "drop-msg" element messages (post-drop-messages=true):
 *   packets dropped for arriving too late, after being declared lost, or
 *   on latency, counted since its previous drop-msg. It posts at most one
 *   per drop-messages-interval (200 ms by default): the count is exact once
 *   a later drop posted the message, and live with an interval of 0.
 * - a leaky queue's drops, counted by the matching of outputs with inputs
 *   (match.h): a queue outputs its inputs in order, so inputs that its
 *   output skipped were dropped (leaky=downstream: the oldest, when full;
 *   leaky=upstream: the newest). They are known at the next output; at
 *   EOS, when the queue has output all it kept, what entered after its last
 *   output was dropped too, and the count equals what entered less what
 *   left. This needs the matching, i.e.
 *   flags element or pipeline.
 *
 * Lateness: basesink with qos=true sends a QoS event upstream for every
 * buffer it renders or drops (gst_base_sink_perform_qos) whose diff is the
 * jitter of its clock wait: how late the buffer was against its render
 * time, negative when it was early (and had to wait). It sends none for the
 * first buffer after a flush or a new segment (it has no rate to report
 * yet) and none with qos=false: a sink with qos=false has no lateness
 * series. Throttling QoS events carry the throttle interval, not a
 * lateness: ignored. Elements upstream pass the event on; only the sink's
 * own (the event on a sink element's sink pad) is counted.
 */
#include "match.h"

/* Early buffers waited for their render time: by up to the pipeline's
 * latency (a jitterbuffer's 200 ms, an encoder's lookahead). Late ones
 * matter from a millisecond on; a second late is a stall. */
const gint64 scope_late_bounds_ns[SCOPE_LATE_NBOUNDS] = {
  -1000000000, -500000000, -200000000, -100000000, -50000000, -20000000,
  -10000000, -5000000, -2000000, -1000000,
  0,
  1000000, 2000000, 5000000, 10000000, 20000000, 50000000, 100000000,
  200000000, 500000000, 1000000000, 2000000000, 5000000000,
};

/* The bucket of a lateness: the first bound at or above it. Rare (one QoS
 * event per buffer at a sink): a plain search. */
static guint
late_bucket_of (gint64 ns)
{
  guint i;
  for (i = 0; i < SCOPE_LATE_NBOUNDS; i++)
    if (ns <= scope_late_bounds_ns[i])
      return i;
  return SCOPE_LATE_NBOUNDS;
}

static void
late_observe (ScopeLateHist * h, gint64 ns)
{
  add64 (&h->counts[late_bucket_of (ns)], 1);
  add64 (&h->sum_ns, (guint64) ns);
}

static void
drops_add (ScopeElement * e, guint64 n)
{
  if (!g_atomic_int_get (&e->drops_known))
    g_atomic_int_set (&e->drops_known, 1);
  if (n)
    add64 (&e->dropped, n);
}

/* An element's running count of drops, from one of its QoS messages. Two
 * of its threads posting at once (rare) each take their own step. */
static void
qos_dropped (ScopeElement * e, guint64 count)
{
  guint64 prev = __atomic_exchange_n (&e->qos_dropped, count, RELAXED);
  drops_add (e, count >= prev ? count - prev : count);
}

static void
on_post_message_pre (GObject * o, GstClockTime ts, GstElement * element,
    GstMessage * msg)
{
  ScopeElement *e;
  GstMessageType type = GST_MESSAGE_TYPE (msg);

  if ((type != GST_MESSAGE_QOS && type != GST_MESSAGE_ELEMENT)
      || !g_atomic_int_get (&scope_flags)
      /* A bin passing its child's message on: counted at the child. */
      || GST_MESSAGE_SRC (msg) != GST_OBJECT_CAST (element))
    return;
  if (type == GST_MESSAGE_QOS) {
    GstFormat format;
    guint64 processed, dropped;
    gst_message_parse_qos_stats (msg, &format, &processed, &dropped);
    if (format != GST_FORMAT_BUFFERS || dropped == (guint64) - 1)
      return;
    if ((e = scope_element_find (element)))
      qos_dropped (e, dropped);
  } else {
    const GstStructure *s = gst_message_get_structure (msg);
    guint late = 0, lost = 0, latency = 0;
    if (!s || !gst_structure_has_name (s, "drop-msg"))
      return;
    gst_structure_get_uint (s, "num-too-late", &late);
    gst_structure_get_uint (s, "num-already-lost", &lost);
    gst_structure_get_uint (s, "num-drop-on-latency", &latency);
    if ((e = scope_element_find (element)))
      drops_add (e, (guint64) late + lost + latency);
  }
}

void
scope_flow_qos_event (ScopePad * p, GstEvent * ev)
{
  GstQOSType type;
  gdouble proportion;
  GstClockTimeDiff diff;
  GstClockTime timestamp;

  if (!p->sink || p->transparent || !p->elem->is_sink)
    return;
  gst_event_parse_qos (ev, &type, &proportion, &diff, &timestamp);
  if (type == GST_QOS_TYPE_THROTTLE)
    return;
  late_observe (&p->elem->late, diff);
}

void
scope_flow_fifo_eos (ScopeElement * e)
{
  gint i, n = MIN (g_atomic_int_get (&e->n_inputs), SCOPE_MAX_INPUTS);

  if (!(g_atomic_int_get (&scope_flags) & (SCOPE_FLAG_ELEMENT |
              SCOPE_FLAG_PIPELINE)))
    return;
  for (i = 0; i < n; i++) {
    ScopePad *in = __atomic_load_n (&e->inputs[i], __ATOMIC_ACQUIRE);
    ScopeRing *r = in ? __atomic_load_n (&in->ring, __ATOMIC_ACQUIRE) : NULL;
    guint64 head;
    if (!r)
      continue;
    head = __atomic_load_n (&r->head, __ATOMIC_ACQUIRE);
    /* As if an output matched one past the newest input. */
    fifo_skipped (e, r, __atomic_load_n (&r->hint, RELAXED), head + 1);
    ring_matched (r, head);
  }
}

void
scope_flow_register (GstTracer * tracer)
{
  gst_tracing_register_hook (tracer, "element-post-message-pre",
      G_CALLBACK (on_post_message_pre));
}
