/* latency_tracer.c: the prometheus-latency-tracer GObject type.
 *
 * Measures per-element processing time and latency, source-to-sink latency
 * and the latency each element reports, and exports them as Prometheus
 * metrics over HTTP and through the "request-metrics" action signal; the
 * pipeline graph with those numbers on it (DOT) at /graph and through the
 * "request-graph" action signal.
 *
 *   GST_TRACERS='prometheus-latency-tracer(flags=pipeline+element+reported)' \
 *   GST_PROMETHEUS_TRACER_PORT=9092 \
 *   gst-launch-1.0 audiotestsrc is-live=true ! queue ! fakesink
 *   curl http://localhost:9092/metrics
 *
 * Parameters (defaults in brackets):
 *   flags         pipeline+element+reported, any combination [all three]
 *   port          HTTP port [$GST_PROMETHEUS_TRACER_PORT; unset: no server]
 *   bind-address  address the HTTP server listens on [0.0.0.0]
 *   file          a file the exposition is written to, atomically
 *                 [$GST_PROMETHEUS_TRACER_FILE; unset: none]
 *   file-interval how often the file is rewritten while running
 *                 [$GST_PROMETHEUS_TRACER_FILE_INTERVAL; 10s]
 *
 * The per-buffer hooks live in hooks.c; parameters, the HTTP server and the
 * exposition are Go (internal/latency), reached only from constructed(),
 * finalize() and the signal, never per buffer.
 */
#include "scope.h"
#include "_cgo_export.h"

#include <stdlib.h>

typedef struct {
  GstTracer parent;
  gboolean active;
} GstScopeLatencyTracer;

typedef struct {
  GstTracerClass parent_class;
  gchar *(*request_metrics) (GstScopeLatencyTracer * self);
  gchar *(*request_graph) (GstScopeLatencyTracer * self);
} GstScopeLatencyTracerClass;

GType gst_scope_latency_tracer_get_type (void);
G_DEFINE_TYPE (GstScopeLatencyTracer, gst_scope_latency_tracer,
    GST_TYPE_TRACER);

/* One instance measures; hooks and aggregates are per process. */
static gint instances_active;

static gchar *
request_metrics (GstScopeLatencyTracer * self)
{
  return gstscopeLatencyMetrics ();
}

static gchar *
request_graph (GstScopeLatencyTracer * self)
{
  return gstscopeLatencyGraph ();
}

void
scope_latency_checkpoint (void)
{
  gstscopeLatencyCheckpoint ();
}

/* Applications that never call gst_deinit() (most Python and Rust ones)
 * still leave their figures: the file is written at exit too. */
static void
checkpoint_at_exit (void)
{
  if (g_atomic_int_get (&scope_flags) & SCOPE_FLAG_FILE)
    gstscopeLatencyCheckpoint ();
}

static void
gst_scope_latency_tracer_constructed (GObject * object)
{
  GstScopeLatencyTracer *self = (GstScopeLatencyTracer *) object;
  gchar *params = NULL;
  gint flags;

  G_OBJECT_CLASS (gst_scope_latency_tracer_parent_class)->constructed (object);
  if (scope_only_inspected (GST_TRACER (self)))
    return;
  if (!g_atomic_int_compare_and_exchange (&instances_active, 0, 1)) {
    GST_WARNING_OBJECT (self, "prometheus-latency-tracer is already active in "
        "this process; this second instance is ignored");
    return;
  }
  self->active = TRUE;
  g_object_get (self, "params", &params, NULL);
  flags = gstscopeLatencyStart (self, params);
  g_free (params);
  g_atomic_int_set (&scope_flags, flags | SCOPE_FLAG_LATENCY);
  if (flags & SCOPE_FLAG_FILE) {
    static gsize atexit_once;
    if (g_once_init_enter (&atexit_once)) {
      atexit (checkpoint_at_exit);
      g_once_init_leave (&atexit_once, 1);
    }
  }
  scope_hooks_register (GST_TRACER (self));
}

static void
gst_scope_latency_tracer_finalize (GObject * object)
{
  GstScopeLatencyTracer *self = (GstScopeLatencyTracer *) object;
  if (self->active) {
    gstscopeLatencyStop ();
    g_atomic_int_set (&scope_flags, 0);
    g_atomic_int_set (&instances_active, 0);
  }
  G_OBJECT_CLASS (gst_scope_latency_tracer_parent_class)->finalize (object);
}

static void
gst_scope_latency_tracer_class_init (GstScopeLatencyTracerClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);

  gobject_class->constructed = gst_scope_latency_tracer_constructed;
  gobject_class->finalize = gst_scope_latency_tracer_finalize;
  klass->request_metrics = request_metrics;
  klass->request_graph = request_graph;

  /**
   * GstScopeLatencyTracer::request-metrics:
   *
   * Returns the current metrics in the Prometheus text exposition format,
   * the same text the HTTP server serves. Free it with g_free().
   */
  g_signal_new ("request-metrics", G_TYPE_FROM_CLASS (klass),
      G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION,
      G_STRUCT_OFFSET (GstScopeLatencyTracerClass, request_metrics),
      NULL, NULL, NULL, G_TYPE_STRING, 0);

  /**
   * GstScopeLatencyTracer::request-graph:
   *
   * Returns the pipelines as a Graphviz dot graph with the tracer's
   * numbers on it, the same text the HTTP server serves at /graph; its
   * rates cover the time since the previous request-graph (docs/views.md).
   * Free it with g_free().
   */
  g_signal_new ("request-graph", G_TYPE_FROM_CLASS (klass),
      G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION,
      G_STRUCT_OFFSET (GstScopeLatencyTracerClass, request_graph),
      NULL, NULL, NULL, G_TYPE_STRING, 0);
}

static void
gst_scope_latency_tracer_init (GstScopeLatencyTracer * self)
{
}
