/* noop.c: the "noop" tracer registers one hook that does nothing, so a
 * pipeline run with GST_TRACERS=noop costs exactly GStreamer's own tracing
 * framework: the floor gstscope is measured against.
 *
 *   GST_PLUGIN_PATH=build-test GST_TRACERS=noop \
 *   gst-launch-1.0 fakesrc num-buffers=1000 ! fakesink
 */
#include "scopetest.h"

typedef struct { GstTracer parent; } NoopTracer;
typedef struct { GstTracerClass parent_class; } NoopTracerClass;
G_DEFINE_TYPE (NoopTracer, noop_tracer, GST_TYPE_TRACER);

static void
do_nothing (GObject * tracer, GstClockTime ts, GstPad * pad, GstBuffer * buf)
{
}

static void
noop_tracer_class_init (NoopTracerClass * klass)
{
}

static void
noop_tracer_init (NoopTracer * self)
{
  gst_tracing_register_hook (GST_TRACER (self), "pad-push-pre",
      G_CALLBACK (do_nothing));
}
