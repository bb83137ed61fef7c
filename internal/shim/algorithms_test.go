package shim

import (
	"fmt"
	"math/rand"
	"runtime"
	"sort"
	"sync/atomic"
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
		match(t, m, 100, 1400, 230*ms, 1000)
		m.Put(0, 102, 1400, 240*ms, None, 1002)
		m.Put(0, 103, 1400, 260*ms, None, 1003)
		match(t, m, 102, 1400, 270*ms, 1002)
	})
	t.Run("jitterbuffer: packets held before its first output", func(t *testing.T) {
		// rtpbin's jitterbuffer holds its first 200 ms: 6 frames of 6
		// packets (33 ms apart, 0.1 ms between packets, no duration). It
		// then passes them on re-stamped from their RTP times, each frame
		// 0.7 ms before its first packet's arrival: a running time in the
		// span of the previous frame's last packet. Each must be matched
		// with itself, not with that packet (33 ms early).
		m := NewMatcher(1)
		defer m.Free()
		in := func(f, k uint64) uintptr { return uintptr(100 + f*6 + k) }
		for f := uint64(0); f < 6; f++ {
			for k := uint64(0); k < 6; k++ {
				m.Put(0, in(f, k), 1400, 60*ms+f*33*ms+k*ms/10, None, 1000+f*6+k)
			}
		}
		for f := uint64(0); f < 6; f++ {
			for k := uint64(0); k < 6; k++ {
				match(t, m, in(f, k), 1400, 60*ms+f*33*ms-7*ms/10, 1000+f*6+k)
			}
		}
		// Then it passes each packet on as it arrives, re-stamped.
		for f := uint64(6); f < 12; f++ {
			for k := uint64(0); k < 6; k++ {
				m.Put(0, in(f, k), 1400, 60*ms+f*33*ms+k*ms/10, None, 1000+f*6+k)
				match(t, m, in(f, k), 1400, 60*ms+f*33*ms-7*ms/10, 1000+f*6+k)
			}
		}
	})
	t.Run("an element that does not re-stamp: memories until its first output", func(t *testing.T) {
		m := NewMatcher(1)
		defer m.Free()
		for i := uint64(0); i < 8; i++ {
			m.Put(0, uintptr(100+i), 1000, i*10*ms, (i+1)*10*ms, 1000+i)
		}
		if !m.RecordsMemory(0) {
			t.Fatal("no memory recorded for what entered before the first output")
		}
		match(t, m, 100, 1000, 0, 1000)
		m.Put(0, 108, 1000, 80*ms, 90*ms, 1008)
		if m.RecordsMemory(0) {
			t.Error("memories still recorded after the first output (two calls into GStreamer per buffer)")
		}
	})
	t.Run("videorate: a new buffer where a freed input was", func(t *testing.T) {
		m := NewMatcher(1)
		defer m.Free()
		// 30 fps inputs; each output (25 fps) is a copy of the input it
		// repeats, sharing its memory (500+k), allocated at the address of
		// a freed input, with the same size. Its memory tells it from
		// that input: recorded for what entered before the first output,
		// and from the first such candidate on.
		put := func(k uint64) {
			m.PutMemory(0, uintptr(100+k), uintptr(500+k), 115200, k*100*ms/3, (k+1)*100*ms/3, 1000+k)
		}
		for k := uint64(0); k < 3; k++ {
			put(k)
		}
		if ts, ok := m.MatchMemory(100, 502, 115200, 80*ms); !ok || ts != 1002 {
			t.Errorf("the first output: matched %v (%v), want the input whose span holds 80 ms (1002), not the freed one at the same address (1000)", ts, ok)
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

// Rings sized by need: an element that outputs each input while processing
// it keeps the smallest ring; one that holds inputs gets a ring that keeps
// them, and every output still finds its input after the ring grew.
func TestRingGrowth(t *testing.T) {
	const frame = 33 * ms
	// An input k: buffer 1000+k, running time [k, k+1) frames, arrived at ts 5000+k.
	put := func(m *Matcher, k uint64) { m.Put(0, uintptr(1000+k), 4096, k*frame, (k+1)*frame, 5000+k) }
	t.Run("an element outputting each input keeps the smallest ring", func(t *testing.T) {
		m := NewMatcher(1)
		defer m.Free()
		for k := uint64(0); k < 5000; k++ {
			put(m, k)
			m.OutputNow(0)
		}
		if n := m.Entries(0); n != 16 {
			t.Errorf("ring of %d entries, want 16", n)
		}
		// A queue with a level of 2: the same buffers, matched in the ring.
		for k := uint64(5000); k < 10000; k++ {
			put(m, k)
			if ts, ok := m.Match(uintptr(1000+k-2), 4096, (k-2)*frame); !ok || ts != 5000+k-2 {
				t.Fatalf("output %d matched %v ts %d, want ts %d", k-2, ok, ts, 5000+k-2)
			}
		}
		if n := m.Entries(0); n != 16 {
			t.Errorf("ring of %d entries with a level of 2, want 16", n)
		}
	})
	t.Run("an encoder holding 40, then 200", func(t *testing.T) {
		m := NewMatcher(1)
		defer m.Free()
		in, out := uint64(0), uint64(0)
		// Each output is a new buffer in the middle of its input's span.
		output := func() {
			t.Helper()
			ts, ok := m.Match(uintptr(900000+out), 700, out*frame+frame/2)
			if !ok || ts != 5000+out {
				t.Fatalf("output %d (%d held) matched %v ts %d, want ts %d; ring of %d",
					out, in-out, ok, ts, 5000+out, m.Entries(0))
			}
			out++
		}
		for ; in < 40; in++ { // the lookahead fills
			put(m, in)
		}
		for ; in < 1000; in++ { // steady: one in, one out
			put(m, in)
			output()
		}
		at40 := m.Entries(0)
		for i := 0; i < 200; i++ { // a stall: 200 more held
			put(m, in)
			in++
		}
		for out < in {
			output()
		}
		if at40 != 64 || m.Entries(0) != 512 {
			t.Errorf("rings of %d entries holding 40, %d holding 240; want 64, 512", at40, m.Entries(0))
		}
		t.Logf("ring of %d entries holding 40, %d after holding 240", at40, m.Entries(0))
	})
	t.Run("a queue whose level rises to 200", func(t *testing.T) {
		m := NewMatcher(1)
		defer m.Free()
		in, out := uint64(0), uint64(0)
		for in < 3000 {
			put(m, in)
			in++
			// Two in, one out while it fills; then one in, one out.
			if in%2 == 0 || in-out > 200 {
				if ts, ok := m.Match(uintptr(1000+out), 4096, out*frame); !ok || ts != 5000+out {
					t.Fatalf("buffer %d (level %d) matched %v ts %d, want ts %d; ring of %d",
						out, in-out, ok, ts, 5000+out, m.Entries(0))
				}
				out++
			}
		}
		if n := m.Entries(0); n != 512 {
			t.Errorf("ring of %d entries for a level of 200, want 512", n)
		}
	})
	t.Run("a reader holding the old ring", func(t *testing.T) {
		m := NewMatcher(1)
		defer m.Free()
		for k := uint64(0); k < 12; k++ {
			put(m, k)
		}
		old := m.Ring(0)
		for k := uint64(12); k < 300; k++ { // no output: the ring grows
			put(m, k)
		}
		if m.Entries(0) <= 16 {
			t.Fatalf("ring of %d entries after 300 inputs held, want it grown", m.Entries(0))
		}
		// Another pad's rings grow meanwhile, from the store's free lists:
		// never into a ring this pad's reader may hold.
		m2 := NewMatcher(1)
		for k := uint64(0); k < 300; k++ {
			m2.Put(0, uintptr(777), 1, k*frame, (k+1)*frame, 1)
		}
		m2.Free()
		for k := uint64(0); k < 12; k++ {
			buf, ts, ok := old.Read(k)
			if !ok || buf != uintptr(1000+k) || ts != 5000+k {
				t.Errorf("old ring entry %d: %v buffer %d ts %d, want buffer %d ts %d", k, ok, buf, ts, 1000+k, 5000+k)
			}
		}
	})
	// Two streams through one element (decodebin's multiqueue while playbin
	// prerolls): video output as it comes; audio held (its sink not
	// prerolled yet) until 150 are in, then one out per one in. A video
	// output is matched in the video ring: the audio input whose span holds
	// its running time is not out, and the audio ring must grow to keep the
	// 150 held; an audio output is no video one either, and the video ring
	// stays small. Both pad orders: the rings are scanned in pad order.
	for _, audio := range []int{0, 1} {
		t.Run(fmt.Sprintf("a multiqueue with audio on pad %d: one stream's outputs do not hide what another holds", audio), func(t *testing.T) {
			const vframe, aframe = 33 * ms, 23 * ms
			video := 1 - audio
			m := NewMatcher(2)
			defer m.Free()
			var vin, ain, aout uint64
			for ain < 3000 {
				// Arrivals in running-time order, as a demuxer interleaves them.
				if vin*vframe <= ain*aframe {
					m.Put(video, uintptr(100000+vin), 9000, vin*vframe, (vin+1)*vframe, 7000+vin)
					if ts, ok := m.Match(uintptr(100000+vin), 9000, vin*vframe); !ok || ts != 7000+vin {
						t.Fatalf("video %d matched %v ts %d, want ts %d", vin, ok, ts, 7000+vin)
					}
					vin++
					continue
				}
				m.Put(audio, uintptr(1000+ain), 4096, ain*aframe, (ain+1)*aframe, 5000+ain)
				ain++
				if ain > 150 {
					if ts, ok := m.Match(uintptr(1000+aout), 4096, aout*aframe); !ok || ts != 5000+aout {
						t.Fatalf("audio %d (%d held) matched %v ts %d, want ts %d; ring of %d",
							aout, ain-aout, ok, ts, 5000+aout, m.Entries(audio))
					}
					aout++
				}
			}
			if v, a := m.Entries(video), m.Entries(audio); v != 16 || a != 256 {
				t.Errorf("rings of %d (video, output as it comes) and %d entries (audio, 150 held), want 16 and 256", v, a)
			}
		})
	}
	t.Run("growing while another thread matches", func(t *testing.T) {
		// The producer (this goroutine's thread) grows the ring while the
		// reader, on another thread, matches outputs lagging up to 60
		// inputs behind: every output finds its input.
		m := NewMatcher(1)
		defer m.Free()
		const n = 20000
		var put_, got atomic.Uint64
		var failed atomic.Bool
		done := make(chan error, 1)
		go func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			for out := uint64(0); out < n; out++ {
				for put_.Load() <= out+40 && put_.Load() < n {
					runtime.Gosched()
				}
				ts, ok := m.Match(uintptr(900000+out), 700, out*frame+frame/2)
				if !ok || ts != 5000+out {
					failed.Store(true)
					done <- fmt.Errorf("output %d matched %v ts %d, want ts %d", out, ok, ts, 5000+out)
					return
				}
				got.Store(out + 1)
			}
			done <- nil
		}()
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		for k := uint64(0); k < n && !failed.Load(); k++ {
			for k >= got.Load()+60 && !failed.Load() {
				runtime.Gosched()
			}
			put(m, k)
			put_.Store(k + 1)
		}
		put_.Store(n)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		t.Logf("ring of %d entries", m.Entries(0))
	})
}

// A mixer's output carries one origin per input: on each pad the input
// whose span holds the output's start (mix.h), read back by the sink.
func TestMixOrigins(t *testing.T) {
	const a, b, c = 64, 128, 192 // sources
	sources := func(t *testing.T, o Origin) map[uintptr]uint64 {
		t.Helper()
		s, ok := Sources(o)
		if !ok {
			t.Fatalf("origin %v: the mixer's entry is gone", o)
		}
		m := map[uintptr]uint64{}
		for _, x := range s {
			m[x.Source] = x.TS
		}
		return m
	}
	want := func(t *testing.T, got, want map[uintptr]uint64) {
		t.Helper()
		if len(got) != len(want) {
			t.Errorf("sources %v, want %v", got, want)
			return
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("sources %v, want %v", got, want)
			}
		}
	}
	t.Run("one origin per input, each from its own span", func(t *testing.T) {
		m := NewMatcher(2)
		defer m.Free()
		m.MakeMixer()
		// Pad 0: 23 ms buffers; pad 1: 10 ms buffers; outputs of 10 ms.
		for i := uint64(0); i < 5; i++ {
			m.PutFrom(0, uintptr(100+i), 1000, i*23*ms, (i+1)*23*ms, 1000+i, Origin{a, 500 + i})
		}
		for i := uint64(0); i < 12; i++ {
			m.PutFrom(1, uintptr(200+i), 1000, i*10*ms, (i+1)*10*ms, 2000+i, Origin{b, 700 + i})
		}
		o, ok := m.Mix(9000, 1000, 50*ms)
		if !ok {
			t.Fatal("no match")
		}
		want(t, sources(t, o), map[uintptr]uint64{a: 502, b: 705})
	})
	t.Run("an input without data for the output is not in it", func(t *testing.T) {
		m := NewMatcher(2)
		defer m.Free()
		m.MakeMixer()
		m.PutFrom(0, 100, 1000, 0, 10*ms, 1000, Origin{a, 500})
		m.PutFrom(1, 200, 1000, 0, 10*ms, 1000, Origin{b, 600})
		m.PutFrom(0, 101, 1000, 10*ms, 20*ms, 1001, Origin{a, 510})
		// Pad 1's input for 10 ms has not arrived: a plain origin.
		o, _ := m.Mix(9000, 1000, 10*ms)
		if o != (Origin{a, 510}) {
			t.Errorf("origin %v, want source a's alone", o)
		}
	})
	t.Run("one source on two pads counts once", func(t *testing.T) {
		m := NewMatcher(2)
		defer m.Free()
		m.MakeMixer()
		m.PutFrom(0, 100, 1000, 0, 10*ms, 1000, Origin{a, 500})
		m.PutFrom(1, 200, 1000, 0, 10*ms, 1001, Origin{a, 500})
		if o, _ := m.Mix(9000, 1000, 0); o != (Origin{a, 500}) {
			t.Errorf("origin %v, want source a's alone", o)
		}
	})
	t.Run("a mixer behind a mixer carries all the sources", func(t *testing.T) {
		m1, m2 := NewMatcher(2), NewMatcher(2)
		defer m1.Free()
		defer m2.Free()
		m1.MakeMixer()
		m2.MakeMixer()
		m1.PutFrom(0, 100, 1000, 0, 10*ms, 1000, Origin{a, 500})
		m1.PutFrom(1, 200, 1000, 0, 10*ms, 1001, Origin{b, 600})
		o1, _ := m1.Mix(9000, 1000, 0)
		m2.PutFrom(0, 9000, 1000, 0, 10*ms, 1100, o1)
		m2.PutFrom(1, 300, 1000, 0, 10*ms, 1101, Origin{c, 800})
		o2, _ := m2.Mix(9100, 1000, 0)
		want(t, sources(t, o2), map[uintptr]uint64{a: 500, b: 600, c: 800})
	})
	t.Run("an entry overwritten before the output reached a sink", func(t *testing.T) {
		m := NewMatcher(2)
		defer m.Free()
		m.MakeMixer()
		var first Origin
		for i := uint64(0); i <= uint64(MixRing); i++ {
			m.PutFrom(0, uintptr(100+i), 1000, i*10*ms, (i+1)*10*ms, 1000+i, Origin{a, 500 + i})
			m.PutFrom(1, uintptr(5000+i), 1000, i*10*ms, (i+1)*10*ms, 1000+i, Origin{b, 600 + i})
			o, _ := m.Mix(uintptr(9000+i), 1000, i*10*ms)
			if i == 0 {
				first = o
				want(t, sources(t, o), map[uintptr]uint64{a: 500, b: 600})
			}
		}
		if s, ok := Sources(first); ok {
			t.Errorf("the first output's entry, %d outputs later, reads %v; want it gone", MixRing, s)
		}
	})
}

// Muxers (mux.h): an output carries one input's data.
func TestMuxer(t *testing.T) {
	t.Run("timestamps kept: only the input that starts at the output", func(t *testing.T) {
		m := NewMatcher(2)
		defer m.Free()
		// Video frames of 33 ms on pad 0, audio buffers of 23 ms on pad 1.
		for i := uint64(0); i < 4; i++ {
			m.Put(0, uintptr(100+i), 5000, i*33*ms, (i+1)*33*ms, 1000+i)
			m.Put(1, uintptr(200+i), 300, i*23*ms, (i+1)*23*ms, 2000+i)
		}
		// The audio block at 46 ms, inside video frame 1's span: audio.
		if ts, ok := m.MatchExact(999, 310, 2*23*ms); !ok || ts != 2002 {
			t.Errorf("audio block at 46 ms matched %v ts %d, want the audio input (2002)", ok, ts)
		}
		// Its header, a new small buffer with the same time: the same.
		if ts, ok := m.MatchExact(998, 7, 2*23*ms); !ok || ts != 2002 {
			t.Errorf("its header matched %v ts %d, want 2002", ok, ts)
		}
		// A running time no input starts at (a muxer that re-stamps):
		// nothing, where span matching takes the video frame holding it.
		if ts, ok := m.MatchExact(997, 310, 50*ms); ok {
			t.Errorf("an output at 50 ms matched ts %d, want none", ts)
		}
		if ts, ok := m.Match(997, 310, 50*ms); !ok || ts != 2002 {
			t.Errorf("span matching of 50 ms: %v ts %d; the test expects audio 2 (46-69 ms)", ok, ts)
		}
		// 1 ns off, as RTP timestamps come back: the same input.
		if ts, ok := m.MatchExact(996, 5000, 33*ms-1); !ok || ts != 1001 {
			t.Errorf("video at 33 ms - 1 ns matched %v ts %d, want 1001", ok, ts)
		}
	})
	t.Run("TS: the PID's pad, each PES the next input", func(t *testing.T) {
		m := NewMatcher(2)
		defer m.Free()
		m.SetPID(0, 65)
		m.SetPID(1, 66)
		ts := func(pid uint, pusi bool, want uint64) {
			t.Helper()
			got, ok := m.TS(pid, pusi)
			if want == None {
				if ok {
					t.Errorf("PID %d pusi %v matched ts %d, want none", pid, pusi, got)
				}
				return
			}
			if !ok || got != want {
				t.Errorf("PID %d pusi %v matched %v ts %d, want %d", pid, pusi, ok, got, want)
			}
		}
		// A continuation before any PES start, tables, unknown streams.
		ts(65, false, None)
		ts(0, true, None)
		ts(4096, true, None)
		// Nothing entered yet.
		ts(65, true, None)
		for i := uint64(0); i < 3; i++ {
			m.Put(0, uintptr(100+i), 5000, i*33*ms, (i+1)*33*ms, 1000+i)
			m.Put(1, uintptr(200+i), 300, i*23*ms, (i+1)*23*ms, 2000+i)
		}
		ts(66, true, 2000)
		ts(66, false, 2000)
		ts(65, true, 1000)
		ts(65, false, 1000)
		ts(66, true, 2001)
		ts(65, false, 1000)
		ts(65, true, 1001)
		ts(65, true, 1002)
		ts(65, false, 1002)
		// Every input of pad 0 muxed: a PES start has no input yet.
		ts(65, true, None)
		// After a flush, the next PES is what enters next.
		m.Flush(1)
		m.Put(1, 300, 300, 0, 23*ms, 3000)
		ts(66, true, 3000)
	})
	t.Run("TS packet header", func(t *testing.T) {
		for _, c := range []struct {
			h          [4]byte
			pid        uint
			pusi, okay bool
		}{
			{[4]byte{0x47, 0x40, 0x41, 0x10}, 65, true, true},
			{[4]byte{0x47, 0x00, 0x42, 0x11}, 66, false, true},
			{[4]byte{0x47, 0x5f, 0xff, 0x10}, 8191, true, true},
			{[4]byte{0x00, 0x40, 0x41, 0x10}, 0, false, false},
		} {
			pid, pusi, ok := TSHeader(c.h)
			if ok != c.okay || (ok && (pid != c.pid || pusi != c.pusi)) {
				t.Errorf("% x: PID %d pusi %v ok %v, want %d %v %v", c.h, pid, pusi, ok, c.pid, c.pusi, c.okay)
			}
		}
	})
}

// A leaky queue: its outputs come in input order, so the inputs an output
// passes over were dropped (leaky=downstream drops the oldest); a copy of
// the expected buffer (a DISCONT flag on a shared buffer) at another address
// matches by running time; a pooled buffer back at a dropped one's address
// with a later running time is not taken for it; at EOS what entered after
// the last output was dropped (leaky=upstream drops the newest).
func TestFIFODrops(t *testing.T) {
	defer SetFlags(SetFlags(FlagElement))
	m := NewMatcher(1)
	defer m.Free()
	m.MakeQueue()
	const ms = 1000000
	for i := uint64(0); i < 10; i++ {
		m.Put(0, uintptr(0x1000+i%2), 100, i*ms, (i+1)*ms, 1000+i)
	}
	// Two pooled addresses in turn. In order: 0, 1 (no drop); then 4 (2
	// and 3 dropped; 2 had 4's address, at another running time); 5 as a
	// copy at another address (none dropped); then 7 (6 dropped).
	for _, c := range []struct {
		buf     uintptr
		rt      uint64
		ts      uint64
		dropped uint64
	}{
		{0x1000, 0, 1000, 0}, {0x1001, ms, 1001, 0}, {0x1000, 4 * ms, 1004, 2},
		{0x9999, 5 * ms, 1005, 2}, {0x1001, 7 * ms, 1007, 3},
	} {
		ts, ok := m.Match(c.buf, 100, c.rt)
		if !ok || ts != c.ts {
			t.Fatalf("output %#x at %d: matched %v at %d, want the input of %d", c.buf, c.rt, ok, ts, c.ts)
		}
		if got := m.Dropped(); got != c.dropped {
			t.Errorf("after the output at %d ms: %d dropped, want %d", c.rt/ms, got, c.dropped)
		}
	}
	// EOS: 8 and 9 entered after the last output.
	m.EOS()
	if got := m.Dropped(); got != 5 {
		t.Errorf("at EOS: %d dropped, want 5 (10 in, 5 out)", got)
	}
	// A flush: what entered before is flushed, not dropped.
	m.Put(0, 0x2000, 100, 20*ms, 21*ms, 2000)
	m.Flush(0)
	m.Put(0, 0x2001, 100, 0, ms, 2001)
	if ts, ok := m.Match(0x2001, 100, 0); !ok || ts != 2001 {
		t.Fatalf("the output after the flush: matched %v at %d", ok, ts)
	}
	if got := m.Dropped(); got != 5 {
		t.Errorf("after a flush: %d dropped, want still 5", got)
	}
}

// Behind tee's request pads the queue's input has no running time: outputs
// are matched by the object alone. A pooled buffer comes back at the same
// address, so the ring holds a dropped one and the live one at one address:
// the output is the newest (taking the oldest counted the live one as
// dropped at the next output; TestDroppedLeakyQueue behind a tee, 1 run in 3).
// A copy (DISCONT set on a shared buffer) matches nothing: the inputs the
// next match passes over include it, and are one drop fewer.
func TestFIFODropsPooledWithoutRunningTime(t *testing.T) {
	defer SetFlags(SetFlags(FlagElement))
	m := NewMatcher(1)
	defer m.Free()
	m.MakeQueue()
	// Inputs 0..5 at addresses A, B, C, A, B, C: 0-2 dropped and back in
	// the pool when 3-5 came in.
	for i := uint64(0); i < 6; i++ {
		m.Put(0, uintptr(0xa000+i%3), 100, None, None, 1000+i)
	}
	for _, c := range []struct {
		buf     uintptr
		ts      uint64
		dropped uint64
	}{
		{0xa000, 1003, 3}, // 3 is out: 0, 1, 2 were dropped
		{0xbeef, 0, 3},    // 4, copied at a new address (DISCONT on a shared buffer): no match
		{0xa002, 1005, 3}, // 5: 4 was the copy, not a drop
	} {
		ts, ok := m.Match(c.buf, 100, None)
		if c.ts == 0 {
			if ok {
				t.Fatalf("the copy %#x matched the input of %d", c.buf, ts)
			}
			continue
		}
		if !ok || ts != c.ts {
			t.Fatalf("output %#x: matched %v the input of %d, want %d", c.buf, ok, ts, c.ts)
		}
		if got := m.Dropped(); got != c.dropped {
			t.Errorf("after output %#x: %d dropped, want %d", c.buf, got, c.dropped)
		}
	}
}
