#!/usr/bin/python3
"""request-graph.py: the README's Python example of request-graph, run by
the tests.

Runs a pipeline to EOS, then prints the pipeline graph (Graphviz DOT) of the
active prometheus-latency-tracer, found with Gst.tracing_get_active_tracers().

  GST_TRACERS=prometheus-latency-tracer GST_PLUGIN_PATH=build \
      examples/request-graph.py "fakesrc num-buffers=100 ! identity ! fakesink" | dot -Tsvg >pipeline.svg
"""
import sys

import gi

gi.require_version("Gst", "1.0")
from gi.repository import GObject, Gst  # noqa: E402


def request_graph():
    for tracer in Gst.tracing_get_active_tracers():
        if GObject.signal_lookup("request-graph", type(tracer)):
            return tracer.emit("request-graph")
    return None


Gst.init(None)
pipeline = Gst.parse_launch(
    sys.argv[1] if len(sys.argv) > 1 else "fakesrc num-buffers=100 ! identity ! fakesink")
pipeline.set_state(Gst.State.PLAYING)
pipeline.get_bus().timed_pop_filtered(
    Gst.CLOCK_TIME_NONE, Gst.MessageType.EOS | Gst.MessageType.ERROR)
dot = request_graph()
pipeline.set_state(Gst.State.NULL)
if dot is None:
    sys.exit("no prometheus-latency-tracer is active (set GST_TRACERS)")
print(dot, end="")
