/* pyroscope_tracer.c: the pyroscope tracer GObject type.
 *
 * Continuous CPU profiles whose frames are GStreamer elements, pushed to a
 * Pyroscope server:
 *
 *   GST_TRACERS='pyroscope(flags=element)' \
 *   GST_PYROSCOPE_SERVER_URL=http://localhost:4040 \
 *   gst-launch-1.0 videotestsrc ! videoconvert ! autovideosink
 *
 * Parameters and environment (a parameter wins; defaults in brackets):
 *   server-url             GST_PYROSCOPE_SERVER_URL [http://localhost:4040]
 *   tracer-name            GST_PYROSCOPE_TRACER_NAME [gstreamer]
 *   sample-rate            GST_PYROSCOPE_SAMPLE_RATE, Hz [100]
 *   stop-agent-on-dispose  GST_PYROSCOPE_STOP_AGENT_ON_DISPOSE [true]
 *   tags                   GST_PYROSCOPE_TAGS, "k1=v1,k2=v2" []
 *   upload-interval        GST_PYROSCOPE_UPLOAD_INTERVAL [10s]
 *   basic-auth-user        GST_PYROSCOPE_BASIC_AUTH_USER (password: env only)
 *   tenant-id              GST_PYROSCOPE_TENANT_ID
 *   flags                  element, the only one [element]
 *
 * The hooks (hooks.c) keep each thread's element stack; sampling, profiles
 * and uploads are Go (internal/pyroscope), started here and stopped at
 * dispose or process exit.
 */
#include "scope.h"
#include "_cgo_export.h"

#include <stdlib.h>

typedef struct {
  GstTracer parent;
  gboolean active, stop_on_dispose;
} GstScopePyroscopeTracer;

typedef struct {
  GstTracerClass parent_class;
} GstScopePyroscopeTracerClass;

GType gst_scope_pyroscope_tracer_get_type (void);
G_DEFINE_TYPE (GstScopePyroscopeTracer, gst_scope_pyroscope_tracer,
    GST_TYPE_TRACER);

static gint instances_active;

/* Applications that never call gst_deinit() still get their last partial
 * profile: exit() runs this. */
static void
flush_at_exit (void)
{
  gstscopePyroscopeStop ();
}

static void
gst_scope_pyroscope_tracer_constructed (GObject * object)
{
  static gsize atexit_once;
  GstScopePyroscopeTracer *self = (GstScopePyroscopeTracer *) object;
  gchar *params = NULL;
  gint res;

  G_OBJECT_CLASS (gst_scope_pyroscope_tracer_parent_class)->constructed
      (object);
  if (scope_only_inspected (GST_TRACER (self)))
    return;
  if (!g_atomic_int_compare_and_exchange (&instances_active, 0, 1)) {
    GST_WARNING_OBJECT (self, "the pyroscope tracer is already active in "
        "this process; this second instance is ignored");
    return;
  }
  g_object_get (self, "params", &params, NULL);
  res = gstscopePyroscopeStart (self, params);
  g_free (params);
  if (!(res & 1)) {
    g_atomic_int_set (&instances_active, 0);
    return;
  }
  self->active = TRUE;
  self->stop_on_dispose = (res & 2) != 0;
  g_atomic_int_set (&scope_sampling, 1);
  if (g_once_init_enter (&atexit_once)) {
    atexit (flush_at_exit);
    g_once_init_leave (&atexit_once, 1);
  }
  scope_hooks_register (GST_TRACER (self));
}

static void
gst_scope_pyroscope_tracer_finalize (GObject * object)
{
  GstScopePyroscopeTracer *self = (GstScopePyroscopeTracer *) object;
  if (self->active && self->stop_on_dispose) {
    gstscopePyroscopeStop ();
    g_atomic_int_set (&scope_sampling, 0);
  }
  G_OBJECT_CLASS (gst_scope_pyroscope_tracer_parent_class)->finalize (object);
}

static void
gst_scope_pyroscope_tracer_class_init (GstScopePyroscopeTracerClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);

  gobject_class->constructed = gst_scope_pyroscope_tracer_constructed;
  gobject_class->finalize = gst_scope_pyroscope_tracer_finalize;
}

static void
gst_scope_pyroscope_tracer_init (GstScopePyroscopeTracer * self)
{
}
