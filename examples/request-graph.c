/* request-graph.c: the README's C example of request-graph, run by the
 * integration tests. Runs a pipeline to EOS, then prints the pipeline graph
 * (Graphviz DOT) of the active prometheus-latency-tracer, found with
 * gst_tracing_get_active_tracers(). Render it with `dot -Tsvg`. */
#include <stdio.h>
#include <gst/gst.h>

static gchar *
request_graph (void)
{
  GList *tracers = gst_tracing_get_active_tracers (), *l;
  gchar *dot = NULL;

  for (l = tracers; l && !dot; l = l->next) {
    if (g_signal_lookup ("request-graph", G_OBJECT_TYPE (l->data)))
      g_signal_emit_by_name (l->data, "request-graph", &dot);
  }
  g_list_free_full (tracers, gst_object_unref);
  return dot;
}

int
main (int argc, char **argv)
{
  GstElement *pipeline;
  GstMessage *msg;
  gchar *dot;

  gst_init (&argc, &argv);
  pipeline = gst_parse_launch (argc > 1 ? argv[1] :
      "fakesrc num-buffers=100 ! identity ! fakesink", NULL);
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  msg = gst_bus_timed_pop_filtered (GST_ELEMENT_BUS (pipeline),
      GST_CLOCK_TIME_NONE, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  gst_message_unref (msg);

  dot = request_graph ();
  printf ("%s", dot ? dot : "");
  g_free (dot);

  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);
  gst_deinit ();
  return dot ? 0 : 1;
}
