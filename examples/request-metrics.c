/* request-metrics.c: the README's C example, run by the integration tests.
 * Runs a pipeline to EOS, then prints the metrics of the active
 * prometheus-latency-tracer, found with gst_tracing_get_active_tracers(). */
#include <stdio.h>
#include <gst/gst.h>

static gchar *
request_metrics (void)
{
  GList *tracers = gst_tracing_get_active_tracers (), *l;
  gchar *metrics = NULL;

  for (l = tracers; l && !metrics; l = l->next) {
    if (g_signal_lookup ("request-metrics", G_OBJECT_TYPE (l->data)))
      g_signal_emit_by_name (l->data, "request-metrics", &metrics);
  }
  g_list_free_full (tracers, gst_object_unref);
  return metrics;
}

int
main (int argc, char **argv)
{
  GstElement *pipeline;
  GstMessage *msg;
  gchar *metrics;

  gst_init (&argc, &argv);
  pipeline = gst_parse_launch (argc > 1 ? argv[1] :
      "fakesrc num-buffers=100 ! identity ! fakesink", NULL);
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  msg = gst_bus_timed_pop_filtered (GST_ELEMENT_BUS (pipeline),
      GST_CLOCK_TIME_NONE, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  gst_message_unref (msg);

  metrics = request_metrics ();
  printf ("%s", metrics ? metrics : "");
  g_free (metrics);

  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);
  gst_deinit ();
  return metrics ? 0 : 1;
}
