#!/usr/bin/python3
"""A GStreamer application for the integration tests.

Runs one or more pipelines to EOS, measures ground truth itself with pad
probes (the monotonic time each buffer passes a pad, alone or in a buffer
list, with its PTS, its running time on that pad and its duration), answers
LATENCY queries, then asks the active gstscope tracer for its metrics with
the request-metrics signal, the way a user's application would. Prints JSON:

  {"metrics": "...exposition...",
   "probes": {"elem:pad": [[pts, t_ns, rt, dur], ...]},
   "queries": {"elem:pad" or "elem": {"live": b, "min": ns, "max": ns}},
   "props": {"elem:prop": value},
   "run_ns": wall time from PLAYING to EOS,
   "cpu_ns": the process's CPU time over the same span,
   "cpu_total_ns": the process's CPU time from its start to the output,
   "eos_unix_ns": the wall clock (Unix ns) when the last pipeline reached
                  EOS: how long the process then takes to exit is measured
                  from there, without its startup,
   "threads": {"TID": [name, CPU ns over the span from PLAYING to EOS]},
   "thread_of": {"elem:pad": TID of the thread that pushed its first buffer}}

Usage: measure.py [--name NAME] PIPELINE [[--name NAME] PIPELINE ...]
                  [--probe ELEM:PAD ...] [--query ELEM[:PAD] ...]
                  [--prop ELEM:PROPERTY ...] [--deinit] [--eos-others]
                  [--threads] [--thread-of ELEM:PAD ...]

A probe record is the buffer's PTS (GST_CLOCK_TIME_NONE, 2^64-1, when it
has none), the monotonic time it passed the pad, its running time on that pad
(its PTS, or its DTS when it has no PTS, through the pad's sticky SEGMENT
event at that moment; -1 when there is no timestamp, no TIME segment, or the
timestamp is outside the segment) and its duration (-1 when it has none).

A probe on an element or pad that does not exist yet (inside decodebin or
playbin, or a demuxer's pad) is added when it appears: the element when it
is added to any bin of the pipelines, the pad when it is added to it, both
before data flows through them.

--eos-others: once the first pipeline reaches EOS, the others get an EOS
event 500 ms later (a receiver whose udpsrc never ends on its own).
--threads reads each thread's CPU from the kernel (/proc/self/task/*/
schedstat, nanoseconds on a CPU) at PLAYING and at EOS: the ground truth of
a thread's share of the process's CPU. A thread that exited before EOS is
not listed; one that started after PLAYING counts from 0.
--thread-of ELEM:PAD notes which thread pushes buffers through the pad (the
first buffer's; the probe then removes itself): names say little, as codec
libraries' threads inherit the name of the streaming thread that made them.
--prop ELEM:PROPERTY reads the property at EOS; ELEM:PROPERTY.FIELD a field
of a GstStructure property (basesink's stats.dropped, rtpjitterbuffer's
stats.num-late).
--deinit calls gst_deinit() before exiting, as gst-launch does; without it
the process just exits, as many applications do.
"""
import json
import os
import sys
import threading
import time

import gi

gi.require_version("Gst", "1.0")
from gi.repository import GObject, Gst  # noqa: E402


def find_tracer():
    for t in Gst.tracing_get_active_tracers():
        if GObject.signal_lookup("request-metrics", type(t)):
            return t
    return None


def running_time(pad, buf):
    """The buffer's running time on pad, or -1 (see the module doc)."""
    ts = buf.pts if buf.pts != Gst.CLOCK_TIME_NONE else buf.dts
    if ts == Gst.CLOCK_TIME_NONE:
        return -1
    ev = pad.get_sticky_event(Gst.EventType.SEGMENT, 0)
    if ev is None:
        return -1
    seg = ev.parse_segment()
    if seg.format != Gst.Format.TIME:
        return -1
    rt = seg.to_running_time(Gst.Format.TIME, ts)
    return -1 if rt == Gst.CLOCK_TIME_NONE else rt


def thread_cpu():
    """{tid: (name, CPU ns)} of this process's threads, from the kernel."""
    out = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open("/proc/self/task/%s/comm" % tid) as f:
                name = f.read().rstrip("\n")
            with open("/proc/self/task/%s/schedstat" % tid) as f:
                ns = int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            continue  # exited meanwhile
        out[tid] = (name, ns)
    return out


def main(argv):
    Gst.init(None)
    descs, probes, queries, props, thread_of = [], [], [], [], []
    deinit = eos_others = threads = False
    i, name = 0, None
    while i < len(argv):
        a = argv[i]
        if a == "--deinit":
            deinit = True
            i += 1
            continue
        if a == "--threads":
            threads = True
            i += 1
            continue
        if a == "--eos-others":
            eos_others = True
            i += 1
            continue
        if a == "--prop":
            props.append(argv[i + 1])
        elif a == "--thread-of":
            thread_of.append(argv[i + 1])
        elif a == "--probe":
            probes.append(argv[i + 1])
        elif a == "--query":
            queries.append(argv[i + 1])
        elif a == "--name":
            name = argv[i + 1]
        else:
            descs.append((a, name))
            name = None
            i += 1
            continue
        i += 2

    pipelines = []
    for desc, pname in descs:
        p = Gst.parse_launch(desc)
        if pname:
            p.set_name(pname)
        pipelines.append(p)

    def element(name):
        for p in pipelines:
            e = p.get_by_name(name)
            if e:
                return e
        raise SystemExit("no element " + name)

    def lookup(spec):
        elem, pad = spec.split(":")
        return element(elem).get_static_pad(pad)

    seen = {}

    def record(pad, buf, now, key):
        seen[key].append([buf.pts, now, running_time(pad, buf),
                          -1 if buf.duration == Gst.CLOCK_TIME_NONE else buf.duration])

    def on_buffer(pad, info, key):
        now = time.monotonic_ns()
        if info.type & Gst.PadProbeType.BUFFER_LIST:
            # Payloaders, parsers and sources push lists: one record per
            # buffer in the list, all at the time the list passed.
            lst = info.get_buffer_list()
            for i in range(lst.length()):
                record(pad, lst.get(i), now, key)
        else:
            record(pad, info.get_buffer(), now, key)
        return Gst.PadProbeReturn.OK

    def attach(pad, key):
        pad.add_probe(Gst.PadProbeType.BUFFER | Gst.PadProbeType.BUFFER_LIST, on_buffer, key)

    # Probes on what does not exist yet: element name -> [(pad name, key)].
    later = {}

    def on_pad_added(elem, pad):
        for padname, key in later.get(elem.get_name(), []):
            if pad.get_name() == padname:
                attach(pad, key)

    def on_element_added(bin, sub, elem):
        wanted = later.get(elem.get_name())
        if not wanted:
            return
        if any(elem.get_static_pad(padname) is None for padname, _ in wanted):
            elem.connect("pad-added", on_pad_added)
        for padname, key in wanted:
            pad = elem.get_static_pad(padname)
            if pad is not None:
                attach(pad, key)

    for spec in probes:
        seen[spec] = []
        elem, padname = spec.split(":")
        e = next((x for x in (p.get_by_name(elem) for p in pipelines) if x), None)
        pad = e.get_static_pad(padname) if e else None
        if pad is not None:
            attach(pad, spec)
        else:
            later.setdefault(elem, []).append((padname, spec))
    for elem in later:
        # One handler per element, which attaches all its pads' probes.
        e = next((x for x in (p.get_by_name(elem) for p in pipelines) if x), None)
        if e is not None:
            e.connect("pad-added", on_pad_added)
    if later:
        for p in pipelines:
            p.connect("deep-element-added", on_element_added)

    tids = {}

    def on_first(pad, info, key):
        tids[key] = threading.get_native_id()
        return Gst.PadProbeReturn.REMOVE

    for spec in thread_of:
        lookup(spec).add_probe(Gst.PadProbeType.BUFFER | Gst.PadProbeType.BUFFER_LIST, on_first, spec)

    tcpu0 = thread_cpu() if threads else {}
    t0, cpu0 = time.monotonic_ns(), time.process_time_ns()
    # Receivers listen before the first pipeline sends.
    for p in (pipelines[::-1] if eos_others else pipelines):
        p.set_state(Gst.State.PLAYING)
    answers = {}
    for k, p in enumerate(pipelines):
        if eos_others and k == 1:
            time.sleep(0.5)
            for q in pipelines[1:]:
                q.send_event(Gst.Event.new_eos())
        msg = p.get_bus().timed_pop_filtered(
            60 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
        if msg is None or msg.type == Gst.MessageType.ERROR:
            raise SystemExit("pipeline %s did not reach EOS: %s" % (
                p.get_name(), msg.parse_error() if msg else "timeout"))
    run_ns, cpu_ns = time.monotonic_ns() - t0, time.process_time_ns() - cpu0
    eos_unix_ns = time.time_ns()
    tcpu = {}
    if threads:
        for tid, (tname, ns) in thread_cpu().items():
            before = tcpu0.get(tid)
            tcpu[tid] = [tname, ns - (before[1] if before and before[0] == tname else 0)]
    values = {}
    for spec in props:
        elem, prop = spec.split(":")
        # PROP.FIELD: a field of a GstStructure property (a sink's stats).
        prop, _, field = prop.partition(".")
        v = element(elem).get_property(prop)
        values[spec] = v.get_value(field) if field else v
    for spec in queries:
        q = Gst.Query.new_latency()
        # ELEM:PAD asks the pad; ELEM alone asks the element, as a bin asks
        # its sinks (a sink's answer includes its own share).
        target = lookup(spec) if ":" in spec else element(spec)
        if target.query(q):
            live, mn, mx = q.parse_latency()
            answers[spec] = {"live": live, "min": mn, "max": mx}

    tracer = find_tracer()
    metrics = tracer.emit("request-metrics") if tracer else None
    for p in pipelines:
        p.set_state(Gst.State.NULL)
    json.dump({"metrics": metrics, "probes": seen, "queries": answers,
               "props": values, "run_ns": run_ns, "cpu_ns": cpu_ns,
               "threads": tcpu, "thread_of": tids,
               "cpu_total_ns": time.process_time_ns(),
               "eos_unix_ns": eos_unix_ns}, sys.stdout)
    sys.stdout.flush()
    if deinit:
        del pipelines, p
        Gst.deinit()


if __name__ == "__main__":
    main(sys.argv[1:])
