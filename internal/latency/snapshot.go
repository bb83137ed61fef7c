package latency

import "math"

// Unbounded is the ReportedMaxNs of an element whose share of the maximum
// is unbounded or unknown.
const Unbounded = math.MaxInt64

// Hist is one histogram as the hooks keep it: a count per bucket (not
// cumulative; the last bucket is +Inf) and the sum of observations.
type Hist struct {
	Counts []uint64
	SumNs  uint64
}

// Count is the number of observations.
func (h Hist) Count() uint64 {
	var n uint64
	for _, c := range h.Counts {
		n += c
	}
	return n
}

// LateHist is a histogram of signed values (a sink's lateness: negative
// when early), as Hist, with a signed sum.
type LateHist struct {
	Counts []uint64
	SumNs  int64
}

// Count is the number of observations.
func (h LateHist) Count() uint64 { return Hist{Counts: h.Counts}.Count() }

// ElementStat is one element's aggregates.
type ElementStat struct {
	Pipeline, Element, Factory string
	Processing, Latency        Hist
	LastLatencyNs              uint64
	// Reported: the element's latest LATENCY answer is live. Its shares
	// (its answer minus upstream's) are >= 0.
	Reported      bool
	ReportedMinNs int64
	ReportedMaxNs int64
	CPUNs         uint64 // see Snapshot.CPUSampled
	// DropsKnown: the element can tell its drops (a queue, or it posted a
	// drop count); Dropped is the buffers it received and did not pass on.
	DropsKnown bool
	Dropped    uint64
	// Lateness: for a sink with qos on, how late each buffer it rendered or
	// dropped was against its render time (bounds: Snapshot.LateBoundsNs).
	Lateness LateHist
}

// PadStat is one pad's counters, and for a src pad the pad its data goes
// to (through ghost pads), for the pipeline graph.
type PadStat struct {
	Pipeline, Element, Pad string
	Buffers, Bytes         uint64
	Sink                   bool
	// PeerElement and PeerPad are the downstream element's label and its
	// sink pad's name; empty when the src pad is not linked.
	PeerElement, PeerPad string
}

// PathStat is the source-to-sink latency of buffers from one source
// arriving at one sink.
type PathStat struct {
	Pipeline, Source, Sink string
	Latency                Hist
}

// QueueStat is one queue of a queue element (queue, queue2, or one
// sink_N/src_N pair of a multiqueue): its level now, from what entered its
// sink pad minus what left its src pad, and the time upstream threads
// waited in it for room.
type QueueStat struct {
	Pipeline, Element, Factory string
	// Queue names the pads: "sink:src", or "sink_N:src_N" in a multiqueue.
	Queue                  string
	Buffers, Bytes, TimeNs uint64
	BlockedNs              uint64
}

// Snapshot is one consistent-enough copy of all live aggregates; series of
// elements that left their pipeline are not in it.
type Snapshot struct {
	BoundsNs []uint64 // bucket upper bounds, without +Inf
	// LateBoundsNs are the lateness histograms' bounds, signed, without +Inf.
	LateBoundsNs []int64
	Elements     []ElementStat
	Pads         []PadStat
	Paths        []PathStat
	Queues       []QueueStat
	// CPUSampled is set while the pyroscope tracer samples thread CPU into
	// ElementStat.CPUNs.
	CPUSampled bool
}
