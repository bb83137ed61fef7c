/* The test-only plugin "scopetest": what the tests and the benchmark need
 * that GStreamer does not ship. Built by `make testplugin` into build-test. */
#include <gst/gst.h>

GType noop_tracer_get_type (void);
GType scope_burn_get_type (void);
GType scope_locker_get_type (void);
