#!/usr/bin/python3
"""A GStreamer application that runs one pipeline until its stdin closes
and reads element properties when asked: each line ELEM:PROPERTY on stdin
is answered with a line holding the property's value (as JSON), read at
that moment. The ground truth of tests that watch a running pipeline from
outside over a window of their own (gstscope-report top), e.g. scopeburn's
burnt-ns at both ends of top's window.

Prints "ready" once the pipeline is PLAYING.

Usage: props.py PIPELINE
"""
import json
import sys

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402


def main(argv):
    Gst.init(None)
    p = Gst.parse_launch(argv[0])
    p.set_state(Gst.State.PLAYING)
    p.get_state(10 * Gst.SECOND)
    print("ready", flush=True)
    for line in sys.stdin:
        elem, prop = line.strip().split(":")
        print(json.dumps(p.get_by_name(elem).get_property(prop)), flush=True)
    p.set_state(Gst.State.NULL)


if __name__ == "__main__":
    main(sys.argv[1:])
