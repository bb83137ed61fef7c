#!/usr/bin/python3
"""An application that runs one pipeline once, on command, and keeps it
after EOS, so that several views can read the same finished figures.

It builds DESC (left in NULL: nothing flows), counts with its own pad
probes the buffers through every sink pad of each ELEM (a muxer's
video_0/audio_0), prints "ready", and waits for a line on stdin. Then it
sets the pipeline PLAYING, waits for EOS and prints one JSON line:

  {"probes": {"elem:pad": buffers}}

then waits for another line (or the end of stdin) before it stops the
pipeline and exits.

Usage: views.py DESC ELEM...
"""
import json
import sys

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402


def main(argv):
    Gst.init(None)
    pipeline = Gst.parse_launch(argv[0])
    counts = {}

    def on_buffer(pad, info, key):
        counts[key] += 1
        return Gst.PadProbeReturn.OK

    for name in argv[1:]:
        for pad in pipeline.get_by_name(name).sinkpads:
            key = "%s:%s" % (name, pad.get_name())
            counts[key] = 0
            pad.add_probe(Gst.PadProbeType.BUFFER, on_buffer, key)

    print("ready", flush=True)
    sys.stdin.readline()
    pipeline.set_state(Gst.State.PLAYING)
    msg = pipeline.get_bus().timed_pop_filtered(
        60 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    if msg is None or msg.type == Gst.MessageType.ERROR:
        raise SystemExit("no EOS: %s" % (msg.parse_error() if msg else "timeout"))
    print(json.dumps({"probes": counts}), flush=True)
    sys.stdin.readline()
    pipeline.set_state(Gst.State.NULL)


if __name__ == "__main__":
    main(sys.argv[1:])
