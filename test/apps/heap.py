#!/usr/bin/python3
"""What a steady pipeline holds: BENCHMARKS.md's memory per element.

  heap.py N [SECONDS]
    Runs "audiotestsrc is-live=true ! identity x N ! queue ! fakesink" for
    SECONDS (default 3), reads the metrics once when a tracer is active,
    and prints malloc's heap in use (mallinfo2, all arenas: where gstscope's
    C keeps its slots and rings) in kB, with the pipeline still playing.
    Run it with G_SLICE=always-malloc (GLib 2.74's slice allocator would
    hide and later return ~1.35 MB), with and without GST_TRACERS: the
    difference over N is the cost of one element and its two pads.
"""
import ctypes
import sys
import time

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

from measure import find_tracer  # noqa: E402


class MallInfo2(ctypes.Structure):
    _fields_ = [(f, ctypes.c_size_t) for f in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
        "fsmblks", "uordblks", "fordblks", "keepcost")]


def main(argv):
    n = int(argv[0])
    seconds = float(argv[1]) if len(argv) > 1 else 3.0
    Gst.init(None)
    libc = ctypes.CDLL(None)
    libc.mallinfo2.restype = MallInfo2
    pipeline = Gst.parse_launch(
        "audiotestsrc is-live=true ! " + "identity ! " * n + "queue ! fakesink")
    pipeline.set_state(Gst.State.PLAYING)
    time.sleep(seconds)
    tracer = find_tracer()
    if tracer is not None:
        tracer.emit("request-metrics")
    m = libc.mallinfo2()
    print((m.uordblks + m.hblkhd) // 1024)
    pipeline.set_state(Gst.State.NULL)


if __name__ == "__main__":
    main(sys.argv[1:])
