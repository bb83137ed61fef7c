#!/usr/bin/python3
"""An application that runs one pipeline once, on command, and reports
what its queue and its sink say of themselves: the ground truth of tests
that read flow health (drops, queue levels) through gstscope's views.

It builds DESC (left in NULL: nothing flows), prints "ready" and answers
each line on stdin:

  play    sets the pipeline PLAYING; answers "playing"
  state   answers, read at that moment, a JSON line
          {"level_buffers": QUEUE's current-level-buffers,
           "level_seconds": its current-level-time in seconds,
           "rendered": SINK's stats rendered, "dropped": its stats dropped}
  eos     waits for EOS (an error fails), then answers as state

and sets the pipeline to NULL when stdin ends.

Usage: flow.py DESC QUEUE SINK
"""
import json
import sys

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402


def state(queue, sink):
    stats = sink.get_property("stats")
    return json.dumps({
        "level_buffers": queue.get_property("current-level-buffers"),
        "level_seconds": queue.get_property("current-level-time") / 1e9,
        "rendered": stats.get_value("rendered"),
        "dropped": stats.get_value("dropped"),
    })


def main(argv):
    Gst.init(None)
    pipeline = Gst.parse_launch(argv[0])
    queue, sink = pipeline.get_by_name(argv[1]), pipeline.get_by_name(argv[2])
    print("ready", flush=True)
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "play":
            pipeline.set_state(Gst.State.PLAYING)
            print("playing", flush=True)
        elif cmd == "state":
            print(state(queue, sink), flush=True)
        elif cmd == "eos":
            msg = pipeline.get_bus().timed_pop_filtered(
                60 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
            if msg is None or msg.type == Gst.MessageType.ERROR:
                raise SystemExit("no EOS: %s" % (msg.parse_error() if msg else "timeout"))
            print(state(queue, sink), flush=True)
    pipeline.set_state(Gst.State.NULL)


if __name__ == "__main__":
    main(sys.argv[1:])
