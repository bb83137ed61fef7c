package integration

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
)

// Indices into a probe record (see measure.py).
const (
	probePTS = iota // raw PTS (GST_CLOCK_TIME_NONE when none)
	probeT          // monotonic ns when the buffer passed the pad
	probeRT         // running time on that pad, -1 when none
	probeDur        // duration, -1 when none
)

// latencyTruth is a latency measured with pad probes, inputs and outputs
// matched in running time.
type latencyTruth struct {
	outputs  int       // buffers seen at the output probe
	matched  int       // of them, matched to an input
	mean     float64   // seconds, over the matched outputs
	min, max float64   // seconds
	samples  []float64 // seconds, each matched output's (pathTruth)
}

// rtSlack is how far a running time may be rounded and still match: RTP's
// 90 kHz timestamps come back out of rtpjitterbuffer and the depayloaders 1 ns
// off the PTS that went in (in a loop, 20 of 90 frames 1 ns early at the sink,
// which fell into the previous frame's span), so spans are matched 1 µs early:
// well below a sample at any audio rate or a 90 kHz tick.
const rtSlack = 1000

// matchLatency is the ground truth for a latency measured by running time:
// each buffer at probe out with running time R is matched to the buffer at
// any of the probes ins whose running-time span [rt, rt+duration) contains R
// (rt == R when the input has no duration; both within rtSlack); of several
// such inputs, the one that arrived first, which carried the output's first
// sample. Its latency is the time it passed out minus the time that input
// passed its probe. Buffers without a running time are counted as outputs but
// never matched.
//
// With ins the sink pad(s) of an element and out its src pad, this is the
// element's latency; with ins a source's src pad and out a sink's sink pad,
// the source-to-sink latency. Reordering (B-frames), re-chunking (audio
// encoders) and held frames (lookahead, frame threads) need no special case.
func matchLatency(t *testing.T, r *result, out string, ins ...string) latencyTruth {
	t.Helper()
	var in [][4]float64
	for _, spec := range ins {
		recs, ok := r.Probes[spec]
		if !ok || len(recs) == 0 {
			t.Fatalf("no buffers at probe %s", spec)
		}
		for _, e := range recs {
			if e[probeRT] >= 0 {
				in = append(in, e)
			}
		}
	}
	// Earliest arrival first: the first input that contains R wins.
	sort.SliceStable(in, func(i, j int) bool { return in[i][probeT] < in[j][probeT] })
	outs, ok := r.Probes[out]
	if !ok || len(outs) == 0 {
		t.Fatalf("no buffers at probe %s", out)
	}
	lt := latencyTruth{outputs: len(outs), min: math.Inf(1), max: math.Inf(-1)}
	var sum float64
	for _, o := range outs {
		rt := o[probeRT]
		if rt < 0 {
			continue
		}
		for _, i := range in {
			start := i[probeRT] - rtSlack
			if math.Abs(i[probeRT]-rt) <= rtSlack || (i[probeDur] > 0 && start <= rt && rt < start+i[probeDur]) {
				d := (o[probeT] - i[probeT]) / 1e9
				sum += d
				lt.min, lt.max = math.Min(lt.min, d), math.Max(lt.max, d)
				lt.matched++
				break
			}
		}
	}
	if lt.matched == 0 {
		t.Fatalf("no buffer at %s matched one at %v by running time", out, ins)
	}
	lt.mean = sum / float64(lt.matched)
	return lt
}

// checkLatency compares the tracer's histogram metric{labels} with truth: its
// count must lie between the outputs the ground truth matched and all the
// outputs pushed (an output without a matching input may go unobserved), and
// its mean within rel (relative) or abs seconds of the truth. Under a memory
// checker only the count is checked.
func checkLatency(t *testing.T, r *result, what, metric string, l map[string]string, truth latencyTruth, rel, abs float64) {
	t.Helper()
	t.Logf("%s ground truth: %d outputs, %d matched by running time, mean %.6fs (min %.6fs, max %.6fs)",
		what, truth.outputs, truth.matched, truth.mean, truth.min, truth.max)
	c, got := histMean(t, r, metric, l)
	series := metric + promLabels(l)
	if int(c) < truth.matched || int(c) > truth.outputs {
		t.Errorf("%s: %s count = %d, want between %d (outputs matched by running time) and %d (outputs pushed)",
			what, series, c, truth.matched, truth.outputs)
	}
	if memoryChecker() != "" {
		t.Logf("%s = %.6fs over %d (timing not checked under a memory checker)", what, got, c)
		return
	}
	if d := math.Abs(got - truth.mean); math.IsNaN(got) || (d > abs && d > rel*truth.mean) {
		tol := fmt.Sprintf("%.0f%%", rel*100)
		if abs > 0 {
			tol += fmt.Sprintf(" or %.3fs", abs)
		}
		t.Errorf("%s: %s mean = %.6fs over %d, ground truth %.6fs over %d (%.3gx the truth; tolerance %s)",
			what, series, got, c, truth.mean, truth.matched, got/truth.mean, tol)
		if len(truth.samples) > 0 {
			t.Logf("%s: where the histogram and the truth differ: %s", what,
				bucketDiff(mustFind(t, r, metric, l).GetHistogram(), truth.samples))
		}
	} else {
		t.Logf("%s = %.6fs over %d, ground truth %.6fs over %d", what, got, c, truth.mean, truth.matched)
	}
}

// promLabels formats labels the way the exposition does: {k="v",...}.
func promLabels(l map[string]string) string {
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		keys[i] = fmt.Sprintf("%s=%q", k, l[k])
	}
	return "{" + strings.Join(keys, ",") + "}"
}

// The matching itself, on made-up probe records: B-frame reordering,
// re-chunking with an offset, rounded running times, an output without one.
func TestMatchLatency(t *testing.T) {
	const ms = 1e6
	rec := func(tms, rt, dur float64) [4]float64 { return [4]float64{0, tms * ms, rt, dur} }
	r := &result{Probes: map[string][][4]float64{
		// Frames at 0, 33, 66 ms arrive at 0, 33, 66 ms ...
		"v:sink": {rec(0, 0, 33*ms), rec(33, 33*ms, 33*ms), rec(66, 66*ms, 33*ms)},
		// ... and leave in decode order I P B; the P frame's running time
		// comes back 1 ns early.
		"v:src": {rec(100, 0, 33*ms), rec(110, 66*ms-1, 33*ms), rec(120, 33*ms, 33*ms), rec(130, -1, -1)},
		// 10 ms buffers in, 40 ms frames out offset 6.5 ms into the spans.
		"a:sink": {rec(0, 0, 10*ms), rec(10, 10*ms, 10*ms), rec(20, 20*ms, 10*ms), rec(30, 30*ms, 10*ms), rec(40, 40*ms, 10*ms)},
		"a:src":  {rec(30, 0, 33.5*ms), rec(70, 33.5*ms, 40*ms)},
		// No durations: exact running times only; a repeated running time
		// matches the input that arrived first.
		"p:sink": {rec(5, 7*ms, -1), rec(1, 7*ms, -1), rec(2, 8*ms, -1)},
		"p:src":  {rec(9, 7*ms, -1), rec(9, 7.5*ms, -1)},
	}}
	for _, c := range []struct {
		in, out          string
		outputs, matched int
		mean             float64
	}{
		{"v:sink", "v:src", 4, 3, (100 + (110 - 66) + (120 - 33)) / 3.0 / 1e3},
		{"a:sink", "a:src", 2, 2, (30 + (70 - 30)) / 2.0 / 1e3},
		{"p:sink", "p:src", 2, 1, 8 / 1e3},
	} {
		lt := matchLatency(t, r, c.out, c.in)
		if lt.outputs != c.outputs || lt.matched != c.matched || math.Abs(lt.mean-c.mean) > 1e-9 {
			t.Errorf("%s -> %s: %d outputs, %d matched, mean %.6fs; want %d, %d, %.6fs",
				c.in, c.out, lt.outputs, lt.matched, lt.mean, c.outputs, c.matched, c.mean)
		}
	}
}

// bucketDiff is, for each bucket where they differ, how many observations
// the histogram h has and how many of the truth's samples fall in it: the
// first thing to read when a mean is off.
func bucketDiff(h *dto.Histogram, samples []float64) string {
	var out []string
	lower, prev := math.Inf(-1), uint64(0)
	for _, b := range h.GetBucket() {
		got := b.GetCumulativeCount() - prev
		prev = b.GetCumulativeCount()
		want := 0
		for _, v := range samples {
			if v > lower && v <= b.GetUpperBound() {
				want++
			}
		}
		if int(got) != want {
			out = append(out, fmt.Sprintf("(%g, %g]: %d vs truth %d", lower, b.GetUpperBound(), got, want))
		}
		lower = b.GetUpperBound()
	}
	return strings.Join(out, "; ")
}
