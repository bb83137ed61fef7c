#include "scopetest.h"

static gboolean
plugin_init (GstPlugin * plugin)
{
  return gst_tracer_register (plugin, "noop", noop_tracer_get_type ())
      && gst_element_register (plugin, "scopeburn", GST_RANK_NONE,
      scope_burn_get_type ())
      && gst_element_register (plugin, "scopelocker", GST_RANK_NONE,
      scope_locker_get_type ());
}

#define PACKAGE "gstscope-tests"
GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, scopetest,
    "gstscope's test plugin: a no-op tracer, a CPU-burning element and one that holds its locks",
    plugin_init, "0.1.0", "LGPL", "gstscope-tests",
    "https://github.com/gstscope/gstscope")
