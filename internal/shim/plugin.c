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

/* gst-inspect-1.0 1.22 prints, for a tracer factory, its name, this
 * plugin's details, its type hierarchy and its interfaces: no properties
 * (printed from 1.26), no signals (printed by no version). The description
 * is the one text it shows on both tracers' pages, so it names their
 * parameters, with defaults, and their signals. */
#define DESCRIPTION \
  "gstscope: latency metrics for Prometheus and CPU profiles for Pyroscope. " \
  "prometheus-latency-tracer parameters: flags=pipeline+element+reported " \
  "(default all three), port (default $GST_PROMETHEUS_TRACER_PORT, unset: " \
  "no HTTP server), bind-address (0.0.0.0), file " \
  "(default $GST_PROMETHEUS_TRACER_FILE, unset: none), file-interval " \
  "(default $GST_PROMETHEUS_TRACER_FILE_INTERVAL or 10s); action signals " \
  "request-metrics (returns the Prometheus exposition) and request-graph " \
  "(returns the pipeline graph, DOT). pyroscope parameters: server-url " \
  "(http://localhost:4040), tracer-name (gstreamer), sample-rate (100), " \
  "stop-agent-on-dispose (true), tags (k1=v1,k2=v2), upload-interval (10s), " \
  "basic-auth-user, tenant-id, flags=element; all but flags also in the " \
  "environment as GST_PYROSCOPE_<NAME> (sample-rate: " \
  "GST_PYROSCOPE_SAMPLE_RATE); basic-auth-password is ignored, the " \
  "password is read only from GST_PYROSCOPE_BASIC_AUTH_PASSWORD. Example: " \
  "GST_TRACERS='prometheus-latency-tracer(flags=element,port=9092);pyroscope'"

#define PACKAGE "gstscope"
GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, scope, DESCRIPTION,
    plugin_init, "0.1.0", "LGPL", "gstscope", "https://github.com/gstscope/gstscope")
