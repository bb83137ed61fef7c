package shim

import (
	"math/rand"
	"sort"
	"testing"
)

const ms = uint64(1e6)

// bucket_of's one-comparison lookup agrees with a search of the bounds
// (le: the first bound >= ns), at every bound, beside it and at random.
func TestBucketOf(t *testing.T) {
	bounds := BucketBounds()
	search := func(ns uint64) int {
		return sort.Search(len(bounds), func(i int) bool { return bounds[i] >= ns })
	}
	check := func(ns uint64) {
		if got, want := BucketOf(ns), search(ns); got != want {
			t.Errorf("bucket_of(%d) = %d, want %d", ns, got, want)
		}
	}
	for _, b := range bounds {
		check(b - 1)
		check(b)
		check(b + 1)
	}
	for _, ns := range []uint64{0, 1, 999, ^uint64(0), 1 << 63} {
		check(ns)
	}
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 100000; i++ {
		check(r.Uint64() >> uint(r.Intn(64)))
	}
}

func TestRunningTime(t *testing.T) {
	seg := func(rate float64, start, stop, base, offset uint64) Segment {
		return Segment{Format: FormatTime, Rate: rate, Start: start, Stop: stop, Base: base, Offset: offset}
	}
	s := uint64(1e9)
	for _, c := range []struct {
		name          string
		seg           Segment
		pts, dts, dur uint64
		rt, end       uint64
	}{
		{"plain", seg(1, 0, None, 0, 0), 5 * s, None, 40 * ms, 5 * s, 5*s + 40*ms},
		{"no duration", seg(1, 0, None, 0, 0), 5 * s, None, None, 5 * s, None},
		{"start and base", seg(1, 1*s, None, 10*s, 0), 3 * s, None, None, 12 * s, None},
		{"offset", seg(1, 1*s, None, 0, 1*s), 3 * s, None, None, 1 * s, None},
		{"before the offset", seg(1, 1*s, None, 0, 1*s), 1500 * ms, None, None, None, None},
		{"before start", seg(1, 1*s, None, 0, 0), 500 * ms, None, None, None, None},
		{"after stop", seg(1, 0, 2*s, 0, 0), 3 * s, None, None, None, None},
		{"DTS when no PTS", seg(1, 0, None, 0, 0), None, 2 * s, None, 2 * s, None},
		{"no timestamp", seg(1, 0, None, 0, 0), None, None, 10 * ms, None, None},
		// The encoders' 1000 h shift comes with a segment to match.
		{"encoder shift", seg(1, 3600000*s, None, 0, 0), 3600000*s + 2*s, None, 33 * ms, 2 * s, 2*s + 33*ms},
		{"rate 2", seg(2, 0, None, 0, 0), 4 * s, None, 2 * s, 2 * s, 3 * s},
		{"reverse", seg(-1, 0, 10*s, 0, 0), 4 * s, None, 1 * s, 5 * s, 6 * s},
		{"not TIME", Segment{Format: 2, Rate: 1}, 5, None, None, None, None},
	} {
		rt, end := RunningTime(c.seg, c.pts, c.dts, c.dur)
		if rt != c.rt || end != c.end {
			t.Errorf("%s: running time [%d, %d), want [%d, %d)", c.name, rt, end, c.rt, c.end)
		}
	}
}

// Matching an output with the input that carried its first sample.
func TestMatch(t *testing.T) {
	match := func(t *testing.T, m *Matcher, buf uintptr, size, rt, want uint64) {
		t.Helper()
		ts, ok := m.Match(buf, size, rt)
		if want == None {
			if ok {
				t.Errorf("matched input of ts %d, want no match", ts)
			}
			return
		}
		if !ok || ts != want {
			t.Errorf("matched %v ts %d, want ts %d", ok, ts, want)
		}
	}
	t.Run("queue: the same buffer", func(t *testing.T) {
		m := NewMatcher(1)
		defer m.Free()
		for i := uint64(0); i < 10; i++ {
			m.Put(0, uintptr(100+i), 1000, i*10*ms, (i+1)*10*ms, 1000+i)
		}
		for i := uint64(0); i < 10; i++ {
			match(t, m, uintptr(100+i), 1000, i*10*ms, 1000+i)
		}
	})
	t.Run("encoder lookahead: a new buffer in an input's span", func(t *testing.T) {
		m := NewMatcher(1)
		defer m.Free()
		for i := uint64(0); i < 40; i++ {
			m.Put(0, uintptr(100+i), 1000, i*33*ms, (i+1)*33*ms, 1000+i)
		}
		// Output 5 of 40 held, in the middle of input 5's span.
		match(t, m, 9999, 50, 5*33*ms+ms, 1005)
		// Past the newest input's span: no input holds it.
		match(t, m, 9998, 50, 50*33*ms, None)
	})
	t.Run("depayloader: the first packet of a frame, 1 ns early", func(t *testing.T) {
		m := NewMatcher(1)
		defer m.Free()
		for f := uint64(0); f < 4; f++ {
			for k := uint64(0); k < 3; k++ { // three packets per frame, no duration
				m.Put(0, uintptr(100+f*3+k), 1400, f*33*ms, None, 1000+f*3+k)
			}
		}
		match(t, m, 9999, 9000, 2*33*ms-1, 1006)
		match(t, m, 9998, 9000, 3*33*ms, 1009)
	})
	t.Run("jitterbuffer: the same buffer re-timed", func(t *testing.T) {
		m := NewMatcher(1)
		defer m.Free()
		m.Put(0, 100, 1400, 200*ms, None, 1000)
		m.Put(0, 101, 1400, 220*ms, None, 1001)
		// Memories not recorded yet: matched in running time, and from
		// now on recorded.
		match(t, m, 100, 1400, 230*ms, 1001)
		m.Put(0, 102, 1400, 240*ms, None, 1002)
		m.Put(0, 103, 1400, 260*ms, None, 1003)
		match(t, m, 102, 1400, 270*ms, 1002)
	})
	t.Run("videorate: a new buffer where a freed input was", func(t *testing.T) {
		m := NewMatcher(1)
		defer m.Free()
		// 30 fps inputs; each output (25 fps) is a copy of the input it
		// repeats, sharing its memory (500+k), allocated at the address of
		// a freed input, with the same size. The first such candidate
		// makes the ring record memories (before, it is never taken).
		put := func(k uint64) {
			m.PutMemory(0, uintptr(100+k), uintptr(500+k), 115200, k*100*ms/3, (k+1)*100*ms/3, 1000+k)
		}
		for k := uint64(0); k < 3; k++ {
			put(k)
		}
		if ts, ok := m.MatchMemory(100, 502, 115200, 80*ms); !ok || ts != 1002 {
			t.Errorf("before memories are recorded: matched %v (%v), want the input whose span holds 80 ms (1002)", ts, ok)
		}
		for k := uint64(3); k < 6; k++ {
			put(k)
		}
		// Output at 180 ms: a copy of input 5 (166.7 ms) at input 3's
		// freed address.
		if ts, ok := m.MatchMemory(103, 505, 115200, 180*ms); !ok || ts != 1005 {
			t.Errorf("matched the input at %v (%v), want the one whose span holds 180 ms (1005), not the freed one at the same address (1003)", ts, ok)
		}
		// The jitterbuffer's case beside it: the same buffer, re-timed,
		// keeps its memory.
		if ts, ok := m.MatchMemory(104, 504, 115200, 120*ms); !ok || ts != 1004 {
			t.Errorf("a re-timed buffer matched %v (%v), want itself (1004)", ts, ok)
		}
	})
	t.Run("decoder: B-frames reordered", func(t *testing.T) {
		m := NewMatcher(1)
		defer m.Free()
		// Decode order I0 P3 B1 B2, frames of 33 ms.
		for k, f := range []uint64{0, 3, 1, 2} {
			m.Put(0, uintptr(100+k), 5000, f*33*ms, (f+1)*33*ms, 1000+uint64(k))
		}
		match(t, m, 9000, 1e6, 0, 1000)
		match(t, m, 9001, 1e6, 33*ms, 1002)
		match(t, m, 9002, 1e6, 66*ms, 1003)
		match(t, m, 9003, 1e6, 99*ms, 1001)
	})
	t.Run("mixer: of inputs at one running time, the first to arrive", func(t *testing.T) {
		m := NewMatcher(2)
		defer m.Free()
		m.Put(0, 100, 1000, 100*ms, 110*ms, 5)
		m.Put(1, 200, 1000, 100*ms, 110*ms, 3)
		match(t, m, 9000, 1000, 100*ms, 3)
	})
	t.Run("after a flush, nothing from before", func(t *testing.T) {
		m := NewMatcher(1)
		defer m.Free()
		m.Put(0, 100, 1000, 0, 10*ms, 5)
		m.Flush(0)
		match(t, m, 100, 1000, 0, None)
		m.Put(0, 101, 1000, 0, 10*ms, 7)
		match(t, m, 101, 1000, 0, 7)
	})
}

// frame_holds: the input being processed holds an output in its span,
// unless an earlier input on its pad had the same running time.
func TestHolds(t *testing.T) {
	m := NewMatcher(1)
	defer m.Free()
	m.Put(0, 100, 1000, 10*ms, 20*ms, 1)
	if !m.Holds(0, 15*ms) || !m.Holds(0, 10*ms-1) || m.Holds(0, 25*ms) {
		t.Errorf("a 10-20 ms input: holds 15 ms %v, 10 ms - 1 ns %v, 25 ms %v; want true, true, false",
			m.Holds(0, 15*ms), m.Holds(0, 10*ms-1), m.Holds(0, 25*ms))
	}
	m.Put(0, 101, 1000, 30*ms, None, 2)
	m.Put(0, 102, 1000, 30*ms, None, 3)
	if m.Holds(0, 30*ms) {
		t.Errorf("the second packet at 30 ms holds the frame at 30 ms; the first carried it")
	}
}
