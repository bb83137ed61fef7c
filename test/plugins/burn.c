/* burn.c: "scopeburn", a pass-through element that spends a known amount of
 * its thread's CPU time on every buffer, the ground truth of the profiler
 * tests. It spins until the thread CPU clock has advanced by cpu-us, and
 * counts in burnt-ns the thread CPU time its transform function really used.
 * With report=true it prints that and its buffer count to stderr when it
 * stops, for applications (gst-launch-1.0) that cannot read the property.
 *
 *   gst-launch-1.0 fakesrc num-buffers=100 ! scopeburn cpu-us=1000 ! fakesink
 */
#include "scopetest.h"

#include <gst/base/gstbasetransform.h>
#include <time.h>

typedef struct {
  GstBaseTransform parent;
  guint cpu_us;
  gboolean report;
  guint64 burnt_ns;             /* atomic */
  guint64 buffers;              /* atomic */
} ScopeBurn;

typedef struct {
  GstBaseTransformClass parent_class;
} ScopeBurnClass;

G_DEFINE_TYPE (ScopeBurn, scope_burn, GST_TYPE_BASE_TRANSFORM);

enum { PROP_0, PROP_CPU_US, PROP_BURNT_NS, PROP_REPORT };

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);

static guint64
thread_cpu_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return (guint64) ts.tv_sec * 1000000000u + ts.tv_nsec;
}

static GstFlowReturn
scope_burn_transform_ip (GstBaseTransform * trans, GstBuffer * buf)
{
  ScopeBurn *self = (ScopeBurn *) trans;
  guint64 start = thread_cpu_ns (), until;
  volatile guint64 x = 0;

  GST_OBJECT_LOCK (self);
  until = start + (guint64) self->cpu_us * 1000;
  GST_OBJECT_UNLOCK (self);
  while (thread_cpu_ns () < until)
    for (int i = 0; i < 1000; i++)
      x += i;
  __atomic_fetch_add (&self->burnt_ns, thread_cpu_ns () - start,
      __ATOMIC_RELAXED);
  __atomic_fetch_add (&self->buffers, 1, __ATOMIC_RELAXED);
  return GST_FLOW_OK;
}

static gboolean
scope_burn_stop (GstBaseTransform * trans)
{
  ScopeBurn *self = (ScopeBurn *) trans;
  if (self->report)
    g_printerr ("scopeburn %s: %" G_GUINT64_FORMAT " buffers, %"
        G_GUINT64_FORMAT " ns\n", GST_OBJECT_NAME (self),
        __atomic_load_n (&self->buffers, __ATOMIC_RELAXED),
        __atomic_load_n (&self->burnt_ns, __ATOMIC_RELAXED));
  return TRUE;
}

static void
scope_burn_set_property (GObject * object, guint id, const GValue * value,
    GParamSpec * pspec)
{
  ScopeBurn *self = (ScopeBurn *) object;
  if (id == PROP_CPU_US) {
    GST_OBJECT_LOCK (self);
    self->cpu_us = g_value_get_uint (value);
    GST_OBJECT_UNLOCK (self);
  } else if (id == PROP_REPORT) {
    self->report = g_value_get_boolean (value);
  } else {
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
  }
}

static void
scope_burn_get_property (GObject * object, guint id, GValue * value,
    GParamSpec * pspec)
{
  ScopeBurn *self = (ScopeBurn *) object;
  if (id == PROP_CPU_US) {
    GST_OBJECT_LOCK (self);
    g_value_set_uint (value, self->cpu_us);
    GST_OBJECT_UNLOCK (self);
  } else if (id == PROP_REPORT) {
    g_value_set_boolean (value, self->report);
  } else if (id == PROP_BURNT_NS) {
    g_value_set_uint64 (value, __atomic_load_n (&self->burnt_ns,
            __ATOMIC_RELAXED));
  } else {
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
  }
}

static void
scope_burn_class_init (ScopeBurnClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);

  gobject_class->set_property = scope_burn_set_property;
  gobject_class->get_property = scope_burn_get_property;
  g_object_class_install_property (gobject_class, PROP_CPU_US,
      g_param_spec_uint ("cpu-us", "CPU per buffer",
          "Thread CPU time to spend on each buffer, in microseconds",
          0, G_MAXUINT, 0, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_BURNT_NS,
      g_param_spec_uint64 ("burnt-ns", "CPU used",
          "Thread CPU time spent on buffers so far, in nanoseconds",
          0, G_MAXUINT64, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_REPORT,
      g_param_spec_boolean ("report", "Report",
          "Print burnt-ns and the buffer count to stderr when stopping",
          FALSE, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class, "CPU burner",
      "Filter", "Spends a set amount of CPU time on every buffer (tests)",
      "gstscope");
  GST_BASE_TRANSFORM_CLASS (klass)->transform_ip = scope_burn_transform_ip;
  GST_BASE_TRANSFORM_CLASS (klass)->stop = scope_burn_stop;
}

static void
scope_burn_init (ScopeBurn * self)
{
  gst_base_transform_set_passthrough (GST_BASE_TRANSFORM (self), TRUE);
}
