/* noop.c: a test-only tracer plugin. The "noop" tracer registers one hook
 * that does nothing, so a pipeline run with GST_TRACERS=noop costs exactly
 * GStreamer's own tracing framework: the floor gstscope is measured against.
 *
 *   gcc -shared -fPIC -o libgstnoop.so noop.c $(pkg-config --cflags --libs gstreamer-1.0)
 *   GST_PLUGIN_PATH=. GST_TRACERS=noop gst-launch-1.0 fakesrc num-buffers=1000 ! fakesink
 */
#include <gst/gst.h>

typedef struct { GstTracer parent; } NoopTracer;
typedef struct { GstTracerClass parent_class; } NoopTracerClass;
GType noop_tracer_get_type (void);
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

static gboolean
plugin_init (GstPlugin * plugin)
{
  return gst_tracer_register (plugin, "noop", noop_tracer_get_type ());
}

#define PACKAGE "gstscope-tests"
GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, noop,
    "A tracer that does nothing: GStreamer's own tracing cost", plugin_init,
    "0.1.0", "LGPL", "gstscope-tests", "https://github.com/gstscope/gstscope")
