#!/usr/bin/python3
"""Pipelines that change while they run, for the integration tests and
make memcheck. Ground truth comes from the app's own pad probes; the
tracer's view from the request-metrics signal, the way an application
reads it.

  dynamic.py churn SECONDS
    A live source feeds a tee with one branch that stays. Every 100 ms a
    branch "queue qK ! identity idK ! fakesink fsK" is added through a tee
    request pad; once three are attached the oldest is removed: an IDLE
    probe unlinks it, EOS drains it, the app reads the metrics (the branch's
    counts), releases the pad and removes the elements, and reads the
    metrics again (what is left of the branch, and any series without a
    pipeline or element label). The app keeps the elements of the last five
    removed branches alive, as an application that reuses them would. At
    the end the source sends EOS and the app reads the final metrics.

  dynamic.py sequence COUNT
    COUNT pipelines "seqI", one after the other, each run to EOS, read,
    set to NULL and released (the app checks that its reference was the
    last one) before the next is made.

  dynamic.py burst COUNT
    The same pipelines back to back as fast as they run (sync=false: each
    takes a few ms), each to EOS, its metrics read when a tracer is active,
    released. Runs without a tracer too: the baseline of the memory it
    takes. One {"rss": ...} per pipeline.

Output is one JSON object per line, written as things happen so that the
app's own memory stays flat: {"rss": [seconds since start, VmRSS kB, malloc
heap in use kB]} after every step, {"removed": {...}} per branch removed,
{"run": {...}} per pipeline, and last {"end": {...}} with the final metrics,
the probes and how many elements and pads were created.
"""
import ctypes
import gc
import json
import re
import sys
import threading
import time

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

from measure import find_tracer  # noqa: E402

T0 = time.monotonic()
LABEL = re.compile(r'(\w+)="([^"]*)"')


def emit(kind, value):
    sys.stdout.write(json.dumps({kind: value}) + "\n")
    sys.stdout.flush()


class MallInfo2(ctypes.Structure):
    _fields_ = [(f, ctypes.c_size_t) for f in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
        "fsmblks", "uordblks", "fordblks", "keepcost")]


libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo2


def report_rss():
    """VmRSS, and the bytes malloc has handed out and not got back (all
    arenas): where gstscope's C keeps its slots. RSS also moves by hundreds
    of kB with the Go runtime's garbage collection; the heap does not."""
    m = libc.mallinfo2()
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                emit("rss", [round(time.monotonic() - T0, 3),
                             int(line.split()[1]),
                             (m.uordblks + m.hblkhd) // 1024])


def pad_counts(text, pipeline, elements=None):
    """gstreamer_pad_buffers_total of pipeline as {"element:pad": n}."""
    out = {}
    for line in text.splitlines():
        if not line.startswith("gstreamer_pad_buffers_total{"):
            continue
        lab = dict(LABEL.findall(line))
        if lab.get("pipeline") != pipeline:
            continue
        if elements is not None and lab.get("element") not in elements:
            continue
        out[lab["element"] + ":" + lab["pad"]] = float(line.rsplit(" ", 1)[1])
    return out


def mentioning(text, names):
    """The series (lines) with a label whose value is one of names."""
    want = set(names)
    return [line for line in text.splitlines() if not line.startswith("#")
            and any(v in want for _, v in LABEL.findall(line))]


def counter_probe(pad):
    """Counts the buffers passing pad; returns a one-element list."""
    n = [0]

    def cb(pad, info):
        n[0] += 1
        return Gst.PadProbeReturn.OK
    pad.add_probe(Gst.PadProbeType.BUFFER, cb)
    return n


def check_bus(pipeline):
    msg = pipeline.get_bus().pop_filtered(Gst.MessageType.ERROR)
    if msg:
        raise SystemExit("%s: %s" % (pipeline.get_name(), msg.parse_error()))


class Branch:
    def __init__(self, pipeline, tee, k):
        self.k = k
        self.names = ["q%d" % k, "id%d" % k, "fs%d" % k]
        self.elems = [Gst.ElementFactory.make(f, n) for f, n in
                      zip(("queue", "identity", "fakesink"), self.names)]
        q, _, sink = self.elems
        sink.set_property("sync", False)
        sink.set_property("async", False)
        for e in self.elems:
            pipeline.add(e)
        q.link(self.elems[1])
        self.elems[1].link(sink)
        self.count = counter_probe(sink.get_static_pad("sink"))
        self.drained = threading.Event()
        sink.get_static_pad("sink").add_probe(
            Gst.PadProbeType.EVENT_DOWNSTREAM, self.on_event)
        for e in reversed(self.elems):
            e.sync_state_with_parent()
        self.qsink = q.get_static_pad("sink")
        self.tpad = tee.request_pad_simple("src_%u")
        self.tpad.link(self.qsink)

    def on_event(self, pad, info):
        if info.get_event().type == Gst.EventType.EOS:
            self.drained.set()
        return Gst.PadProbeReturn.OK

    def unlink(self):
        """Unlinks the branch when the tee pad is idle and drains it."""
        def idle(pad, info):
            pad.unlink(self.qsink)
            self.qsink.send_event(Gst.Event.new_eos())
            return Gst.PadProbeReturn.REMOVE
        self.tpad.add_probe(Gst.PadProbeType.IDLE, idle)
        if not self.drained.wait(5):
            raise SystemExit("branch %d did not drain" % self.k)

    def remove(self, pipeline, tee):
        tee.release_request_pad(self.tpad)
        for e in self.elems:
            e.set_state(Gst.State.NULL)
            pipeline.remove(e)
        kept = self.elems
        self.elems = self.tpad = self.qsink = None
        return kept


def unlabelled(text):
    """The series with an empty pipeline or element label."""
    return [line for line in text.splitlines() if not line.startswith("#")
            and ('pipeline=""' in line or 'element=""' in line)]


def churn(seconds):
    tracer = find_tracer()
    p = Gst.parse_launch(
        "audiotestsrc name=src is-live=true samplesperbuffer=441 ! "
        "tee name=t t. ! queue name=keepq ! fakesink name=keep sync=false")
    p.set_name("churn")
    tee = p.get_by_name("t")
    src_n = counter_probe(p.get_by_name("src").get_static_pad("src"))
    keep_n = counter_probe(p.get_by_name("keep").get_static_pad("sink"))
    p.set_state(Gst.State.PLAYING)
    if p.get_state(10 * Gst.SECOND)[0] != Gst.StateChangeReturn.SUCCESS:
        raise SystemExit("churn did not start")

    live, kept = [], []
    k = 0
    start = time.monotonic()
    tick = start
    while tick - start < seconds:
        check_bus(p)
        live.append(Branch(p, tee, k))
        k += 1
        if len(live) > 3:
            b = live.pop(0)
            b.unlink()
            text = tracer.emit("request-metrics")
            counts = pad_counts(text, "churn", b.names)
            pad = b.tpad.get_name()
            kept = (kept + [b.remove(p, tee)])[-5:]
            after = tracer.emit("request-metrics")
            left = mentioning(after, b.names) + [
                line for line in after.splitlines()
                if 'element="t"' in line and 'pad="%s"' % pad in line
            ] + unlabelled(after)
            emit("removed", {"names": b.names, "probe": b.count[0],
                             "counts": counts, "tee_pad": pad, "left": left})
        report_rss()
        tick += 0.1
        time.sleep(max(0, tick - time.monotonic()))

    p.send_event(Gst.Event.new_eos())
    msg = p.get_bus().timed_pop_filtered(
        10 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    if msg is None or msg.type == Gst.MessageType.ERROR:
        raise SystemExit("churn did not reach EOS: %s" % (
            msg.parse_error() if msg else "timeout"))
    final = tracer.emit("request-metrics")
    report_rss()
    probes = {"src:src": src_n[0], "t:sink": src_n[0], "keepq:sink":
              keep_n[0], "keepq:src": keep_n[0], "keep:sink": keep_n[0]}
    for b in live:
        for pad in ("q%d:sink", "q%d:src", "id%d:sink", "id%d:src",
                    "fs%d:sink"):
            probes[pad % b.k] = b.count[0]
    p.set_state(Gst.State.NULL)
    emit("end", {"metrics": final, "probes": probes, "branches": k,
                 "elements": 3 * k, "pads": 6 * k})


def sequence(count, sync=True):
    tracer = find_tracer()
    for i in range(count):
        name = "seq%d" % i
        p = Gst.parse_launch(
            "audiotestsrc name=src num-buffers=10 samplesperbuffer=110 ! "
            "audioconvert ! queue ! identity ! fakesink name=sink sync=%s"
            % ("true" if sync else "false"))
        p.set_name(name)
        src_n = counter_probe(p.get_by_name("src").get_static_pad("src"))
        sink_n = counter_probe(p.get_by_name("sink").get_static_pad("sink"))
        p.set_state(Gst.State.PLAYING)
        msg = p.get_bus().timed_pop_filtered(
            10 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
        if msg is None or msg.type == Gst.MessageType.ERROR:
            raise SystemExit("%s did not reach EOS: %s" % (
                name, msg.parse_error() if msg else "timeout"))
        if tracer is not None:
            text = tracer.emit("request-metrics")
            pipelines = sorted({v for line in text.splitlines()
                                if not line.startswith("#")
                                for k, v in LABEL.findall(line)
                                if k == "pipeline"})
            if sync:
                emit("run", {"name": name, "src": src_n[0],
                             "sink": sink_n[0],
                             "counts": pad_counts(text, name),
                             "pipelines": pipelines})
        p.set_state(Gst.State.NULL)
        del msg         # an EOS message holds its source, the pipeline
        gc.collect()
        # The app's reference must be the last one, or the pipeline is not
        # finalized and its series rightly stay. (A GObject weak_ref from
        # Python would tell too, but leaks ~1 kB per call.)
        for _ in range(100):
            # A streaming thread may drop its last reference just after
            # set_state returned.
            if p.__grefcount__ == 1:
                break
            time.sleep(0.01)
        if p.__grefcount__ != 1:
            raise SystemExit("%s has %d references: the app leaks it" % (
                name, p.__grefcount__))
        del p
        report_rss()
    emit("end", {"elements": 5 * count, "pads": 8 * count})


def main(argv):
    Gst.init(None)
    if find_tracer() is None and argv[:1] != ["burst"]:
        raise SystemExit("no tracer with request-metrics is active")
    if argv[0] == "churn":
        churn(float(argv[1]))
    elif argv[0] == "sequence":
        sequence(int(argv[1]))
    elif argv[0] == "burst":
        sequence(int(argv[1]), sync=False)
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
