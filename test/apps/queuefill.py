#!/usr/bin/python3
"""A GStreamer application that fills a queue and reads the queue's own
level at the moment it asks the gstscope tracer for its metrics: the ground
truth of the queue level and backpressure tests.

Every --every ms while the pipeline runs, it reads the queue's own
current-level-buffers, -bytes and -time (queue and queue2: the element's
properties; a multiqueue: each sink pad's), emits request-metrics, and reads
them again: the tracer's level must lie within one buffer of what the queue
said just before and just after.

Two ways to feed the queue:
  --push N,SIZE,DUR_NS  the app itself pushes N buffers of SIZE bytes and
        DUR_NS each (PTS 0, DUR_NS, ...) from a pad of its own linked to the
        queue's sink pad, from one thread, and times each push (monotonic
        ns before and after gst_pad_push): the upstream thread's wait in the
        queue, measured by the thread that waits. PIPELINE then starts with
        the queue, which must be named q.
  otherwise PIPELINE runs as it is (its sources feed the queue) to EOS.

--find FACTORY: the queue is the first element of that factory anywhere in
the pipeline (a multiqueue inside decodebin3); else the element named q.
--remove: after EOS, the queue is taken out of the pipeline and the metrics
are asked for again ("removed"): its series must be gone.

Prints JSON: {"element": the queue's path label (bins below the pipeline,
"/"-separated), "samples": [{"queue": "sink_0:src_0" or "sink:src",
"before": [buffers, bytes, ns], "after": [...], "metrics": "..."}],
"pushes": [[start_ns, end_ns], ...], "run_ns": PLAYING to EOS,
"largest": [bytes, duration ns] of the largest buffers that entered the
queue (one buffer, in the tolerance of a level),
"metrics": after EOS, "removed": metrics after --remove}
"""
import argparse
import json
import sys
import threading
import time

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

from measure import find_tracer  # noqa: E402


def find_queue(pipeline, factory):
    if not factory:
        return pipeline.get_by_name("q")
    it = pipeline.iterate_recurse()
    while True:
        res, e = it.next()
        if res != Gst.IteratorResult.OK:
            return None
        f = e.get_factory()
        if f and f.get_name() == factory:
            return e


def path_label(pipeline, e):
    names = []
    while e is not None and e != pipeline:
        names.append(e.get_name())
        e = e.get_parent()
    return "/".join(reversed(names))


def levels(q):
    """The queue's own levels: {label: [buffers, bytes, ns]}."""
    out = {}
    if q.get_factory().get_name() == "multiqueue":
        for pad in q.sinkpads:
            n = pad.get_name().split("_")[-1]
            out["sink_%s:src_%s" % (n, n)] = [
                pad.get_property("current-level-buffers"),
                pad.get_property("current-level-bytes"),
                pad.get_property("current-level-time")]
    else:
        out["sink:src"] = [q.get_property("current-level-buffers"),
                           q.get_property("current-level-bytes"),
                           q.get_property("current-level-time")]
    return out


def main(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument("pipeline")
    ap.add_argument("--push")
    ap.add_argument("--find")
    ap.add_argument("--every", type=int, default=250)
    ap.add_argument("--remove", action="store_true")
    args = ap.parse_args(argv)

    Gst.init(None)
    pipeline = Gst.parse_launch(args.pipeline)
    if not isinstance(pipeline, Gst.Pipeline):
        bin_ = pipeline
        pipeline = Gst.Pipeline.new("flow")
        pipeline.add(bin_)
    else:
        pipeline.set_name("flow")
    tracer = find_tracer()
    if tracer is None:
        raise SystemExit("no tracer with request-metrics is active")
    pushes = []
    pusher = None
    if args.push:
        n, size, dur = (int(x) for x in args.push.split(","))
        q = pipeline.get_by_name("q")
        sink = q.get_static_pad("sink") or q.request_pad_simple("sink_%u")
        src = Gst.Pad.new("app", Gst.PadDirection.SRC)
        if src.link(sink) != Gst.PadLinkReturn.OK:
            raise SystemExit("cannot link to the queue")

        def push():
            src.set_active(True)
            src.push_event(Gst.Event.new_stream_start("queuefill"))
            src.push_event(Gst.Event.new_caps(Gst.Caps.from_string(
                "application/x-queuefill")))
            seg = Gst.Segment()
            seg.init(Gst.Format.TIME)
            src.push_event(Gst.Event.new_segment(seg))
            for i in range(n):
                buf = Gst.Buffer.new_allocate(None, size, None)
                buf.pts = i * dur
                buf.duration = dur
                t0 = time.monotonic_ns()
                res = src.push(buf)
                pushes.append([t0, time.monotonic_ns()])
                if res != Gst.FlowReturn.OK:
                    break
            src.push_event(Gst.Event.new_eos())
        pusher = threading.Thread(target=push, daemon=True)

    largest = [0, 0]

    def watch(pad, info):
        buf = info.get_buffer()
        if buf is not None:
            largest[0] = max(largest[0], buf.get_size())
            if buf.duration != Gst.CLOCK_TIME_NONE:
                largest[1] = max(largest[1], buf.duration)
        return Gst.PadProbeReturn.OK

    def watch_pad(element, pad):
        if pad.get_direction() == Gst.PadDirection.SINK:
            pad.add_probe(Gst.PadProbeType.BUFFER, watch)

    def watch_queue(element):
        # Before data flows: the queue's sink pads now and to come.
        element.connect("pad-added", watch_pad)
        for pad in element.sinkpads:
            watch_pad(element, pad)

    def added(bin_, sub, element):
        f = element.get_factory()
        if args.find and f and f.get_name() == args.find:
            watch_queue(element)
    if args.find:
        pipeline.connect("deep-element-added", added)
    else:
        watch_queue(pipeline.get_by_name("q"))

    bus = pipeline.get_bus()
    t0 = time.monotonic_ns()
    pipeline.set_state(Gst.State.PLAYING)
    if pusher:
        # The queue's pads are active once set_state returns (the sink
        # prerolls asynchronously, on the first buffer the app pushes).
        pusher.start()
    samples = []
    element = None
    while True:
        msg = bus.timed_pop_filtered(args.every * Gst.MSECOND,
                                     Gst.MessageType.EOS | Gst.MessageType.ERROR)
        if msg is not None:
            if msg.type == Gst.MessageType.ERROR:
                raise SystemExit("pipeline error: %s" % (msg.parse_error(),))
            break
        if time.monotonic_ns() - t0 > 60 * Gst.SECOND:
            raise SystemExit("no EOS within 60 s")
        q = find_queue(pipeline, args.find)
        if q is None:
            continue
        element = path_label(pipeline, q)
        before = levels(q)
        metrics = tracer.emit("request-metrics")
        after = levels(q)
        for label in before:
            if label in after:
                samples.append({"queue": label, "before": before[label],
                                "after": after[label], "metrics": metrics})
    run_ns = time.monotonic_ns() - t0
    if pusher:
        pusher.join()
    out = {"element": element, "samples": samples, "pushes": pushes,
           "largest": largest,
           "run_ns": run_ns, "metrics": tracer.emit("request-metrics")}
    if args.remove:
        q = find_queue(pipeline, args.find)
        parent = q.get_parent()
        q.set_locked_state(True)
        q.set_state(Gst.State.NULL)
        parent.remove(q)
        out["removed"] = tracer.emit("request-metrics")
    pipeline.set_state(Gst.State.NULL)
    json.dump(out, sys.stdout)
    sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv[1:])
