#!/usr/bin/python3
"""An application that leaves with sys.exit() while its pipelines are
PLAYING: no set_state(NULL), no gst_deinit(), streaming threads still
running. Many real applications end this way.

Two pipelines: "finite" runs DESC to EOS (and stays PLAYING), "live" is a
live source that is still streaming when the process exits. After EOS of
"finite", prints JSON and exits:

  {"metrics": "...exposition from request-metrics...",
   "sink_buffers": buffers the app's own probe saw at finite's sink,
   "props": {"elem:prop": value}, "run_ns": PLAYING to EOS}

Usage: exit_playing.py DESC LIVE_DESC [--prop ELEM:PROPERTY ...]
DESC must have an element named "sink".
"""
import json
import sys
import time

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

from measure import find_tracer  # noqa: E402


def main(argv):
    Gst.init(None)
    props = [argv[i + 1] for i, a in enumerate(argv) if a == "--prop"]
    finite = Gst.parse_launch(argv[0])
    finite.set_name("finite")
    live = Gst.parse_launch(argv[1])
    live.set_name("live")

    count = [0]

    def on_buffer(pad, info):
        count[0] += 1
        return Gst.PadProbeReturn.OK

    # Only finite gets a Python probe: a Python callback on a thread still
    # streaming while the interpreter is torn down would test PyGObject.
    finite.get_by_name("sink").get_static_pad("sink").add_probe(
        Gst.PadProbeType.BUFFER, on_buffer)

    t0 = time.monotonic_ns()
    live.set_state(Gst.State.PLAYING)
    finite.set_state(Gst.State.PLAYING)
    msg = finite.get_bus().timed_pop_filtered(
        60 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    if msg is None or msg.type == Gst.MessageType.ERROR:
        raise SystemExit("finite did not reach EOS: %s" % (
            msg.parse_error() if msg else "timeout"))
    run_ns = time.monotonic_ns() - t0
    values = {}
    for spec in props:
        elem, prop = spec.split(":")
        values[spec] = finite.get_by_name(elem).get_property(prop)
    tracer = find_tracer()
    json.dump({"metrics": tracer.emit("request-metrics") if tracer else None,
               "sink_buffers": count[0], "props": values, "run_ns": run_ns},
              sys.stdout)
    sys.stdout.flush()
    state = live.get_state(0)[1]
    if state != Gst.State.PLAYING:
        raise SystemExit("live is %s at exit, not PLAYING" % state)
    sys.exit(0)


if __name__ == "__main__":
    main(sys.argv[1:])
