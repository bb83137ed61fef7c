#!/usr/bin/python3
"""The host application of the HTTP load tests.

Builds PIPELINE once and plays it to EOS once per line read from stdin, so
that runs with and without load on the metrics port happen in one process,
against one server. After each run it prints a JSON line:

  {"run_ns": wall time from PLAYING to EOS,
   "buffers": buffers seen at the probed pad,
   "arrivals": [[pts, t_ns], ...] at the probed pad (with --arrivals),
   "rendered", "dropped": the sink's own count of buffers it rendered and
               of buffers it dropped as too late (with --sink NAME),
   "stream_cpu_ns": CPU time of the streaming threads (named elem:pad),
   "other_cpu_ns": CPU time of every other thread of the process: the Go
                   runtime and the metrics server (this thread only waits)}

At end of input it prints {"metrics": ...} from the request-metrics signal.

Usage: loadhost.py PIPELINE ELEM:PAD [--arrivals] [--sink NAME]
"""
import json
import os
import sys
import time

import gi

gi.require_version("Gst", "1.0")
from gi.repository import GObject, Gst  # noqa: E402


def thread_cpu():
    """CPU nanoseconds of streaming threads and of the others, from /proc."""
    tick = 1e9 / os.sysconf("SC_CLK_TCK")
    stream = other = 0
    for tid in os.listdir("/proc/self/task"):
        try:
            with open("/proc/self/task/%s/stat" % tid) as f:
                stat = f.read()
        except OSError:
            continue  # the thread exited
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        ns = (int(fields[11]) + int(fields[12])) * tick  # utime + stime
        if ":" in comm:
            stream += ns
        else:
            other += ns
    return stream, other


def main(desc, probe, arrivals, sink):
    Gst.init(None)
    pipeline = Gst.parse_launch(desc)
    elem, pad = probe.split(":")
    seen = []

    def on_buffer(pad, info):
        seen.append([info.get_buffer().pts, time.monotonic_ns()])
        return Gst.PadProbeReturn.OK

    pipeline.get_by_name(elem).get_static_pad(pad).add_probe(
        Gst.PadProbeType.BUFFER, on_buffer)
    bus = pipeline.get_bus()
    print(json.dumps({"ready": True}), flush=True)
    for _ in sys.stdin:
        seen.clear()
        s0, o0 = thread_cpu()
        t0 = time.monotonic_ns()
        pipeline.set_state(Gst.State.PLAYING)
        msg = bus.timed_pop_filtered(
            60 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
        run_ns = time.monotonic_ns() - t0
        if msg is None or msg.type == Gst.MessageType.ERROR:
            raise SystemExit("no EOS: %s" % (msg.parse_error() if msg else "timeout"))
        s1, o1 = thread_cpu()
        out = {"run_ns": run_ns, "buffers": len(seen),
               "stream_cpu_ns": s1 - s0, "other_cpu_ns": o1 - o0}
        if arrivals:
            out["arrivals"] = seen
        if sink:
            stats = pipeline.get_by_name(sink).get_property("stats")
            out["rendered"] = stats.get_value("rendered")
            out["dropped"] = stats.get_value("dropped")
        pipeline.set_state(Gst.State.NULL)
        print(json.dumps(out), flush=True)
    metrics = None
    for t in Gst.tracing_get_active_tracers():
        if GObject.signal_lookup("request-metrics", type(t)):
            metrics = t.emit("request-metrics")
    print(json.dumps({"metrics": metrics}), flush=True)


if __name__ == "__main__":
    opts = sys.argv[3:]
    main(sys.argv[1], sys.argv[2], "--arrivals" in opts,
         opts[opts.index("--sink") + 1] if "--sink" in opts else None)
