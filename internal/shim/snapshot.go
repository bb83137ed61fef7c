package shim

/*
#include "scope.h"
*/
import "C"

import (
	"unsafe"

	"github.com/gstscope/gstscope/internal/latency"
)

// snapshot copies the hooks' aggregates with one C call.
func snapshot() *latency.Snapshot {
	cs := C.scope_snapshot()
	defer C.scope_snapshot_free(cs)

	s := &latency.Snapshot{BoundsNs: make([]uint64, C.SCOPE_NBOUNDS), CPUSampled: cs.cpu != 0,
		LateBoundsNs: make([]int64, C.SCOPE_LATE_NBOUNDS)}
	for i := range s.BoundsNs {
		s.BoundsNs[i] = uint64(C.scope_bounds_ns[i])
	}
	for i := range s.LateBoundsNs {
		s.LateBoundsNs[i] = int64(C.scope_late_bounds_ns[i])
	}
	for _, e := range unsafe.Slice(cs.elements, cs.n_elements) {
		s.Elements = append(s.Elements, latency.ElementStat{
			Pipeline:      goString(e.pipeline),
			Element:       goString(e.element),
			Factory:       goString(e.factory),
			Processing:    hist(&e.proc),
			Latency:       hist(&e.lat),
			LastLatencyNs: uint64(e.lat_last_ns),
			Reported:      e.rep_set != 0,
			ReportedMinNs: int64(e.rep_min_ns),
			ReportedMaxNs: int64(e.rep_max_ns),
			CPUNs:         uint64(e.cpu_ns),
			DropsKnown:    e.drops_known != 0,
			Dropped:       uint64(e.dropped),
			Lateness:      lateHist(&e.late),
		})
	}
	for _, p := range unsafe.Slice(cs.pads, cs.n_pads) {
		s.Pads = append(s.Pads, latency.PadStat{
			Pipeline: goString(p.pipeline),
			Element:  goString(p.element),
			Pad:      goString(p.pad),
			Buffers:  uint64(p.buffers),
			Bytes:    uint64(p.bytes),
			Sink:     p.sink != 0,
			// goString of NULL is "": an unlinked pad.
			PeerElement: goString(p.peer_element),
			PeerPad:     goString(p.peer_pad),
		})
	}
	for _, p := range unsafe.Slice(cs.paths, cs.n_paths) {
		s.Paths = append(s.Paths, latency.PathStat{
			Pipeline: goString(p.pipeline),
			Source:   goString(p.source),
			Sink:     goString(p.sink),
			Latency:  hist(&p.hist),
		})
	}
	for _, q := range unsafe.Slice(cs.queues, cs.n_queues) {
		s.Queues = append(s.Queues, latency.QueueStat{
			Pipeline:  goString(q.pipeline),
			Element:   goString(q.element),
			Factory:   goString(q.factory),
			Queue:     goString(q.queue),
			Buffers:   uint64(q.buffers),
			Bytes:     uint64(q.bytes),
			TimeNs:    uint64(q.time_ns),
			BlockedNs: uint64(q.blocked_ns),
		})
	}
	return s
}

func hist(h *C.ScopeHist) latency.Hist {
	out := latency.Hist{Counts: make([]uint64, C.SCOPE_NBUCKETS), SumNs: uint64(h.sum_ns)}
	for i := range out.Counts {
		out.Counts[i] = uint64(h.counts[i])
	}
	return out
}

func lateHist(h *C.ScopeLateHist) latency.LateHist {
	out := latency.LateHist{Counts: make([]uint64, C.SCOPE_LATE_NBUCKETS), SumNs: int64(h.sum_ns)}
	for i := range out.Counts {
		out.Counts[i] = uint64(h.counts[i])
	}
	return out
}
