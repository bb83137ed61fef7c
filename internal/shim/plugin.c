/* plugin.c: the plugin descriptor. It only registers the tracer factories;
 * nothing here starts a thread or reads the environment, because the
 * registry scanner loads this library too. */
#include "scope.h"

GST_DEBUG_CATEGORY (gst_scope_debug);

GType gst_scope_latency_tracer_get_type (void);
GType gst_scope_pyroscope_tracer_get_type (void);

void
scope_log (gint level, gpointer object, const gchar * msg)
{
  gst_debug_log (gst_scope_debug, (GstDebugLevel) level, "gstscope", "go", 0,
      object && G_IS_OBJECT (object) ? G_OBJECT (object) : NULL, "%s", msg);
}

static gboolean
plugin_init (GstPlugin * plugin)
{
  GST_DEBUG_CATEGORY_INIT (gst_scope_debug, "gstscope", 0, "gstscope tracers");
  scope_slot_quark = g_quark_from_static_string ("gstscope-slot");
  return gst_tracer_register (plugin, "prometheus-latency-tracer",
      gst_scope_latency_tracer_get_type ())
      && gst_tracer_register (plugin, "pyroscope",
      gst_scope_pyroscope_tracer_get_type ());
}

#define PACKAGE "gstscope"
GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, scope,
    "gstscope: latency metrics for Prometheus and CPU profiles for Pyroscope",
    plugin_init, "0.1.0", "LGPL", "gstscope", "https://github.com/gstscope/gstscope")
