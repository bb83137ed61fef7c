package model

import (
	"math"
	"testing"
	"time"
)

// Two scrapes 2 s apart of a late sink, a full queue and a multiqueue,
// with the families and labels the collector writes.
const flowPrev = `# TYPE gstreamer_element_dropped_buffers_total counter
gstreamer_element_dropped_buffers_total{element="sink",factory="fakesink",pipeline="p"} 10
gstreamer_element_dropped_buffers_total{element="q",factory="queue",pipeline="p"} 0
# TYPE gstreamer_sink_lateness_seconds histogram
gstreamer_sink_lateness_seconds_bucket{element="sink",factory="fakesink",pipeline="p",le="-0.01"} 2
gstreamer_sink_lateness_seconds_bucket{element="sink",factory="fakesink",pipeline="p",le="0"} 5
gstreamer_sink_lateness_seconds_bucket{element="sink",factory="fakesink",pipeline="p",le="0.01"} 8
gstreamer_sink_lateness_seconds_bucket{element="sink",factory="fakesink",pipeline="p",le="0.05"} 10
gstreamer_sink_lateness_seconds_bucket{element="sink",factory="fakesink",pipeline="p",le="+Inf"} 10
gstreamer_sink_lateness_seconds_sum{element="sink",factory="fakesink",pipeline="p"} 0.05
gstreamer_sink_lateness_seconds_count{element="sink",factory="fakesink",pipeline="p"} 10
# TYPE gstreamer_queue_blocked_seconds_total counter
gstreamer_queue_blocked_seconds_total{element="q",factory="queue",pipeline="p"} 1
gstreamer_queue_blocked_seconds_total{element="dec/mq",factory="multiqueue",pipeline="p"} 0.5
# TYPE gstreamer_queue_level_buffers gauge
gstreamer_queue_level_buffers{element="q",factory="queue",pipeline="p",queue="sink:src"} 100
# TYPE gstreamer_queue_level_seconds gauge
gstreamer_queue_level_seconds{element="q",factory="queue",pipeline="p",queue="sink:src"} 0.9
`

const flowCur = `# TYPE gstreamer_element_dropped_buffers_total counter
gstreamer_element_dropped_buffers_total{element="sink",factory="fakesink",pipeline="p"} 70
gstreamer_element_dropped_buffers_total{element="q",factory="queue",pipeline="p"} 0
# TYPE gstreamer_sink_lateness_seconds histogram
gstreamer_sink_lateness_seconds_bucket{element="sink",factory="fakesink",pipeline="p",le="-0.01"} 2
gstreamer_sink_lateness_seconds_bucket{element="sink",factory="fakesink",pipeline="p",le="0"} 5
gstreamer_sink_lateness_seconds_bucket{element="sink",factory="fakesink",pipeline="p",le="0.01"} 8
gstreamer_sink_lateness_seconds_bucket{element="sink",factory="fakesink",pipeline="p",le="0.05"} 68
gstreamer_sink_lateness_seconds_bucket{element="sink",factory="fakesink",pipeline="p",le="+Inf"} 70
gstreamer_sink_lateness_seconds_sum{element="sink",factory="fakesink",pipeline="p"} 3.05
gstreamer_sink_lateness_seconds_count{element="sink",factory="fakesink",pipeline="p"} 70
# TYPE gstreamer_queue_blocked_seconds_total counter
gstreamer_queue_blocked_seconds_total{element="q",factory="queue",pipeline="p"} 2.5
gstreamer_queue_blocked_seconds_total{element="dec/mq",factory="multiqueue",pipeline="p"} 0.5
# TYPE gstreamer_queue_level_buffers gauge
gstreamer_queue_level_buffers{element="q",factory="queue",pipeline="p",queue="sink:src"} 200
gstreamer_queue_level_buffers{element="dec/mq",factory="multiqueue",pipeline="p",queue="sink_0:src_0"} 3
gstreamer_queue_level_buffers{element="dec/mq",factory="multiqueue",pipeline="p",queue="sink_1:src_1"} 40
# TYPE gstreamer_queue_level_bytes gauge
gstreamer_queue_level_bytes{element="q",factory="queue",pipeline="p",queue="sink:src"} 2e+06
gstreamer_queue_level_bytes{element="dec/mq",factory="multiqueue",pipeline="p",queue="sink_0:src_0"} 30000
gstreamer_queue_level_bytes{element="dec/mq",factory="multiqueue",pipeline="p",queue="sink_1:src_1"} 400
# TYPE gstreamer_queue_level_seconds gauge
gstreamer_queue_level_seconds{element="q",factory="queue",pipeline="p",queue="sink:src"} 0.95
gstreamer_queue_level_seconds{element="dec/mq",factory="multiqueue",pipeline="p",queue="sink_0:src_0"} 0.1
gstreamer_queue_level_seconds{element="dec/mq",factory="multiqueue",pipeline="p",queue="sink_1:src_1"} 0.5
`

func TestFlowOverInterval(t *testing.T) {
	d, reset := read(t, flowCur, t0.Add(2*time.Second)).Since(read(t, flowPrev, t0))
	if reset {
		t.Fatal("reset")
	}
	sink, q, mq := d.Elements[ElementKey{"p", "sink"}], d.Elements[ElementKey{"p", "q"}], d.Elements[ElementKey{"p", "dec/mq"}]
	n, ok := sink.Dropped()
	approx(t, "sink drops/s", d.Rate(n), (70.0-10)/2)
	if n, ok2 := q.Dropped(); !ok || !ok2 || n != 0 {
		t.Errorf("q dropped %v %v: a queue that tells 0 has a figure", n, ok2)
	}
	if _, ok := mq.Dropped(); ok {
		t.Error("the multiqueue has no drop series: no figure")
	}
	// Lateness in the interval: 58 in (0.01, 0.05], 2 above; rank 57 of 60
	// is the 57th of 58 in (0.01, 0.05].
	l := sink.Lateness()
	approx(t, "lateness count", l.Count(), 60)
	approx(t, "lateness p95", l.Quantile(0.95), 0.01+0.04*57/58)
	approx(t, "lateness mean", l.Mean(), 3.0/60)
	if q.Lateness() != nil {
		t.Error("a queue has no lateness")
	}
	// Blocked share: 1.5 s of waiting in 2 s.
	b, ok := q.Blocked()
	approx(t, "q blocked share", d.Rate(b), 0.75)
	if b, ok := mq.Blocked(); !ok || d.Rate(b) != 0 {
		t.Errorf("mq blocked %v %v", b, ok)
	}
	if _, ok := sink.Blocked(); ok {
		t.Error("a sink is not a queue")
	}
	// Levels are gauges: as now, per queue; the fullest by time.
	f, ok := q.Fullest()
	if !ok || f != (Level{"sink:src", 200, 2e6, 0.95}) {
		t.Errorf("q fullest %+v %v", f, ok)
	}
	ls := mq.Levels()
	if len(ls) != 2 || ls[0] != (Level{"sink_0:src_0", 3, 30000, 0.1}) || ls[1] != (Level{"sink_1:src_1", 40, 400, 0.5}) {
		t.Errorf("mq levels %+v", ls)
	}
	if f, _ := mq.Fullest(); f.Queue != "sink_1:src_1" {
		t.Errorf("mq fullest %+v, want the queue holding 0.5 s", f)
	}
	if v, _ := mq.Value(QueueLevelBuffers); v != 43 {
		t.Errorf("the element's buffers held: %v, want 3+40", v)
	}
	if _, ok := sink.Fullest(); ok || len(sink.Levels()) != 0 {
		t.Error("a sink has no queue")
	}
}

// The prev scrape alone: the queue's level lacks bytes (NaN), lateness
// totals interpolate: 10 observations, rank 9.5 is the 1.5th of 2 in
// (0.01, 0.05].
func TestFlowTotals(t *testing.T) {
	m := read(t, flowPrev, t0)
	q, sink := m.Elements[ElementKey{"p", "q"}], m.Elements[ElementKey{"p", "sink"}]
	f, _ := q.Fullest()
	if f.Buffers != 100 || f.Seconds != 0.9 || !math.IsNaN(f.Bytes) {
		t.Errorf("q level %+v, want bytes NaN", f)
	}
	approx(t, "lateness p95", sink.Lateness().Quantile(0.95), 0.01+0.04*1.5/2)
}

// Early buffers: negative bounds, as histogram_quantile takes them. 6
// observations at or below -10 ms, 4 in (-10 ms, 0].
func TestLatenessEarly(t *testing.T) {
	h := &Histogram{Bounds: []float64{-0.01, 0, 0.01, inf}, Cum: []float64{6, 10, 10, 10}, Sum: -0.1}
	approx(t, "median", h.Quantile(0.5), -0.01) // the first bucket, its bound <= 0: the bound
	approx(t, "q0.8", h.Quantile(0.8), -0.01+0.01*(8.0-6)/4)
	approx(t, "mean", h.Mean(), -0.01)
}
