package shim

import (
	"math/rand"
	"testing"
)

const us = uint64(1e3)

// A queue's level from its counts against a FIFO that the test keeps: random
// inputs (single buffers and lists), refused inputs (the chain returned
// FLUSHING), outputs (single and lists), leaky drops and flushes.
func TestQueueLevelModel(t *testing.T) {
	q := NewQueueCounts()
	defer q.Free()
	var fifo []uint64 // sizes, oldest first
	r := rand.New(rand.NewSource(1))
	sum := func(s []uint64) (n uint64) {
		for _, v := range s {
			n += v
		}
		return n
	}
	for step := 0; step < 20000; step++ {
		switch op := r.Intn(10); {
		case op < 4: // in
			k := 1 + r.Intn(3)
			var sizes []uint64
			for i := 0; i < k; i++ {
				sizes = append(sizes, uint64(1+r.Intn(5000)))
			}
			ok := r.Intn(10) > 0
			q.ChainPre(k, sum(sizes), NoTime, NoTime)
			q.ChainPost(ok, 1000)
			if ok {
				fifo = append(fifo, sizes...)
			}
		case op < 8: // out
			k := 1 + r.Intn(3)
			if k > len(fifo) {
				k = len(fifo)
			}
			if k > 0 {
				q.Push(k, sum(fifo[:k]), NoTime)
				fifo = fifo[k:]
			}
		case op < 9: // a leaky queue drops its oldest buffer
			if len(fifo) > 0 {
				q.Drop(1, fifo[0])
				fifo = fifo[1:]
			}
		default:
			if r.Intn(20) == 0 {
				q.Flush()
				fifo = nil
			}
		}
		b, y, _, _ := q.Level()
		if b != uint64(len(fifo)) || y != sum(fifo) {
			t.Fatalf("step %d: level %d buffers %d bytes, want %d, %d", step, b, y, len(fifo), sum(fifo))
		}
	}
}

// The time level is the end of the last buffer in minus the end of the last
// buffer out (the start of the first in before any output), 0 when empty and
// after a flush; buffers without a duration end where they start.
func TestQueueLevelTime(t *testing.T) {
	q := NewQueueCounts()
	defer q.Free()
	in := func(start, end uint64) {
		q.ChainPre(1, 100, start, end)
		q.ChainPost(true, 1)
	}
	level := func(want uint64) {
		t.Helper()
		if _, _, got, _ := q.Level(); got != want {
			t.Errorf("time level %d, want %d", got, want)
		}
	}
	level(0)
	in(10*ms, 20*ms)
	level(10 * ms)
	in(20*ms, 30*ms)
	level(20 * ms)
	q.Push(1, 100, 20*ms)
	level(10 * ms)
	in(30*ms, NoTime) // no duration: ends at its start
	level(10 * ms)
	in(NoTime, NoTime) // no running time: the level in time stays
	level(10 * ms)
	q.Push(3, 300, 30*ms)
	level(0)
	in(40*ms, 50*ms)
	q.Flush()
	level(0)
	in(1000*ms, 1010*ms) // after a flush, running time starts over
	in(1010*ms, 1020*ms)
	level(20 * ms)
}

// Blocked time: a chain call counts whole when a buffer left the queue
// during it (only an output makes room) or it took longer than an enqueue
// can (its waker's push not seen yet), not at all otherwise (the enqueue
// itself), whether or not it enqueued in the end.
func TestQueueBlocked(t *testing.T) {
	q := NewQueueCounts()
	defer q.Free()
	blocked := func(want uint64) {
		t.Helper()
		if _, _, _, got := q.Level(); got != want {
			t.Errorf("blocked %d ns, want %d", got, want)
		}
	}
	q.ChainPre(1, 10, NoTime, NoTime)
	q.ChainPost(true, 2000)
	blocked(0)
	q.ChainPre(1, 10, NoTime, NoTime)
	q.Push(1, 10, NoTime)
	q.ChainPost(true, 20*ms)
	blocked(20 * ms)
	q.ChainPre(3, 30, NoTime, NoTime) // a list
	q.Push(1, 10, NoTime)
	q.ChainPost(false, 5*ms) // flushed while it waited
	blocked(25 * ms)
	q.ChainPost(true, 7*ms) // a post without its pre (the tracer came late)
	blocked(25 * ms)
	q.ChainPre(1, 10, NoTime, NoTime)
	q.ChainPost(true, 50*us) // an enqueue, however slow
	blocked(25 * ms)
	q.ChainPre(1, 10, NoTime, NoTime)
	q.ChainPost(true, 20*ms) // woken before the output was seen
	blocked(45 * ms)
	if b, _, _, _ := q.Level(); b != 2 {
		t.Errorf("level %d buffers, want 2", b)
	}
}
