#!/usr/bin/python3
"""An application that feeds a codec through appsrc and reads it back
through appsink, the way applications embed GStreamer.

A pusher thread pushes N raw 320x240 I420 frames into

  appsrc name=src ! videoconvert ! x264enc name=enc ! h264parse
    ! avdec_h264 name=dec ! appsink name=sink

at 30 frames per second (a live source: is-live=true, timestamps from 0),
then signals end-of-stream; the main thread pulls every sample from appsink
until EOS. Pad probes (as measure.py's) record each buffer that passes
src:src, enc:src, dec:src and sink:sink. After EOS the app asks the active
gstscope tracer for its metrics with request-metrics and prints JSON in
measure.py's format, its own counts in "props":

  {"metrics": "...", "probes": {"elem:pad": [[pts, t_ns], ...]},
   "props": {"app:pushed": N pushed, "app:pulled": samples pulled},
   "run_ns": PLAYING to EOS}

Usage: appsrc.py N
"""
import json
import sys
import threading
import time

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

from measure import find_tracer  # noqa: E402

WIDTH, HEIGHT, FPS = 320, 240, 30
PIPELINE = (
    "appsrc name=src is-live=true format=time "
    "caps=video/x-raw,format=I420,width=%d,height=%d,framerate=%d/1 "
    "! videoconvert ! x264enc name=enc tune=zerolatency speed-preset=ultrafast "
    "! h264parse ! avdec_h264 name=dec ! appsink name=sink sync=false"
    % (WIDTH, HEIGHT, FPS))
PROBES = ("src:src", "enc:src", "dec:src", "sink:sink")


def main(argv):
    n = int(argv[0])
    Gst.init(None)
    pipeline = Gst.parse_launch(PIPELINE)
    src, sink = pipeline.get_by_name("src"), pipeline.get_by_name("sink")

    seen = {}

    def on_buffer(pad, info, key):
        seen[key].append([info.get_buffer().pts, time.monotonic_ns()])
        return Gst.PadProbeReturn.OK

    for spec in PROBES:
        elem, pad = spec.split(":")
        seen[spec] = []
        pipeline.get_by_name(elem).get_static_pad(pad).add_probe(
            Gst.PadProbeType.BUFFER, on_buffer, spec)

    size = WIDTH * HEIGHT * 3 // 2
    ramp = bytes(range(256)) * (size // 256 + 2)
    frame = Gst.SECOND // FPS
    pushed = [0]

    def push():
        start = time.monotonic()
        for i in range(n):
            # A moving ramp: the encoder has something to encode.
            buf = Gst.Buffer.new_wrapped(ramp[i % 256:i % 256 + size])
            buf.pts, buf.duration = i * frame, frame
            if src.emit("push-buffer", buf) != Gst.FlowReturn.OK:
                break
            pushed[0] += 1
            delay = start + (i + 1) / FPS - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        src.emit("end-of-stream")

    t0 = time.monotonic_ns()
    pipeline.set_state(Gst.State.PLAYING)
    pusher = threading.Thread(target=push, daemon=True)
    pusher.start()
    pulled = 0
    while True:
        sample = sink.emit("pull-sample")
        if sample is None:
            break
        pulled += 1
    pusher.join()
    msg = pipeline.get_bus().timed_pop_filtered(
        10 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    if msg is None or msg.type == Gst.MessageType.ERROR:
        raise SystemExit("pipeline did not reach EOS: %s" % (
            msg.parse_error() if msg else "timeout"))
    run_ns = time.monotonic_ns() - t0

    tracer = find_tracer()
    metrics = tracer.emit("request-metrics") if tracer else None
    pipeline.set_state(Gst.State.NULL)
    json.dump({"metrics": metrics, "probes": seen,
               "props": {"app:pushed": pushed[0], "app:pulled": pulled},
               "run_ns": run_ns}, sys.stdout)
    sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv[1:])
