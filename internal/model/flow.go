package model

import (
	"math"
	"sort"
)

// Flow health: what the views show of an element's drops, a sink's
// lateness and a queue's level and backpressure (docs/flow-health.md says
// what the collector counts).

// Dropped is the buffers the element received and did not pass on; ok is
// false when it cannot tell (no series: not a 0).
func (e *Element) Dropped() (n float64, ok bool) { return e.Value(ElementDropped) }

// Lateness is a syncing sink's lateness histogram (nil: none); its bounds
// are signed, negative being early.
func (e *Element) Lateness() *Histogram { return e.Hists[SinkLateness] }

// Blocked is the time upstream threads waited for room in the element's
// queues (summed over a multiqueue's); ok is false for an element that is
// not a queue.
func (e *Element) Blocked() (seconds float64, ok bool) { return e.Value(QueueBlocked) }

// Level is one queue's level: what it holds now, in buffers, bytes and
// running time. The queue's limits (max-size-*) are properties gstscope
// does not read, so a level is not a fraction of them.
type Level struct {
	Queue                   string // the queue label: "sink:src", "sink_0:src_0"
	Buffers, Bytes, Seconds float64
}

// Levels are the element's queues, by name; none for an element that is
// not a queue. A family the exposition lacks is NaN.
func (e *Element) Levels() []Level {
	out := make([]Level, 0, len(e.QueueValues))
	for q, vs := range e.QueueValues {
		get := func(family string) float64 {
			if v, ok := vs[family]; ok {
				return v
			}
			return math.NaN()
		}
		out = append(out, Level{Queue: q, Buffers: get(QueueLevelBuffers),
			Bytes: get(QueueLevelBytes), Seconds: get(QueueLevelSeconds)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Queue < out[j].Queue })
	return out
}

// Fullest is the element's queue that holds the most running time (ties:
// the most buffers), the one a multiqueue's limits (max-size-time) stop
// first on; ok is false for an element that is not a queue.
func (e *Element) Fullest() (l Level, ok bool) {
	for _, q := range e.Levels() {
		if !ok || fuller(q, l) {
			l, ok = q, true
		}
	}
	return l, ok
}

// fuller compares by seconds, then buffers; NaN is less than any figure.
func fuller(a, b Level) bool {
	if c := cmpNaN(a.Seconds, b.Seconds); c != 0 {
		return c > 0
	}
	return cmpNaN(a.Buffers, b.Buffers) > 0
}

func cmpNaN(a, b float64) int {
	switch an, bn := math.IsNaN(a), math.IsNaN(b); {
	case an && bn, a == b:
		return 0
	case an:
		return -1
	case bn, a > b:
		return 1
	}
	return -1
}
