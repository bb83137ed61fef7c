package shim

// queue.h's counting, callable from Go for its tests (queue_test.go): cgo
// is not allowed in _test.go files. Nothing in the plugin calls these.

/*
#include <gst/gst.h>
#include "queue.h"

static ScopeQueue *
qc_new (void)
{
  ScopeQueue *q = g_aligned_alloc0 (1, sizeof (ScopeQueue), SCOPE_CACHE_LINE);
  queue_init (q);
  return q;
}
*/
import "C"

// QueueCounts is one ScopeQueue, driven the way hooks.c drives it.
type QueueCounts struct{ q *C.ScopeQueue }

// NoTime is GST_CLOCK_TIME_NONE: a buffer without a running time.
const NoTime = ^uint64(0)

func NewQueueCounts() QueueCounts { return QueueCounts{C.qc_new()} }

func (q QueueCounts) Free() { C.g_aligned_free(C.gpointer(q.q)) }

// ChainPre: n buffers of bytes in all, from start to end in running time,
// enter the queue's chain function.
func (q QueueCounts) ChainPre(n int, bytes, start, end uint64) {
	C.queue_chain_pre(q.q, C.guint(n), C.guint64(bytes), C.guint64(start), C.guint64(end))
}

// ChainPost: the chain returned ok (GST_FLOW_OK) or not, after totalNs.
func (q QueueCounts) ChainPost(ok bool, totalNs uint64) {
	res := C.GstFlowReturn(C.GST_FLOW_OK)
	if !ok {
		res = C.GST_FLOW_FLUSHING
	}
	C.queue_chain_post(q.q, res, C.guint64(totalNs))
}

// Push: n buffers of bytes leave, the last ending at end.
func (q QueueCounts) Push(n int, bytes, end uint64) {
	C.queue_push(q.q, C.guint(n), C.guint64(bytes), C.guint64(end))
}

func (q QueueCounts) Drop(n int, bytes uint64) { C.queue_drop(q.q, C.guint64(n), C.guint64(bytes)) }

func (q QueueCounts) Flush() { C.queue_flush(q.q) }

// Level: buffers, bytes and time (ns) in the queue now; blocked: ns.
func (q QueueCounts) Level() (buffers, bytes, timeNs, blockedNs uint64) {
	var b, y, t C.guint64
	C.queue_level(q.q, &b, &y, &t)
	return uint64(b), uint64(y), uint64(t), uint64(q.q.blocked_ns)
}
