package model

import (
	"math"
	"math/rand"
	"sort"
	"testing"
)

var inf = math.Inf(1)

func approx(t *testing.T, what string, got, want float64) {
	t.Helper()
	if math.IsNaN(want) {
		if !math.IsNaN(got) {
			t.Errorf("%s = %v, want NaN", what, got)
		}
		return
	}
	if math.IsNaN(got) || math.Abs(got-want) > 1e-12*math.Max(1, math.Abs(want)) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

// Quantiles computed by hand from PromQL's documented rule for
// histogram_quantile (promql/quantile.go, bucketQuantile): rank = q*count;
// the first bucket whose cumulative count reaches the rank holds it; the
// result is lower + (upper-lower)*(rank-below)/in, the lower bound of the
// first bucket being 0; a rank in the +Inf bucket gives the largest finite
// bound.
func TestQuantileByHand(t *testing.T) {
	// 10 observations: 4 in [0,1], 4 in (1,2], none in (2,4], 2 above 4.
	h := &Histogram{Bounds: []float64{1, 2, 4, inf}, Cum: []float64{4, 8, 8, 10}}
	approx(t, "q0.25", h.Quantile(0.25), 0+1*(2.5/4)) // 0.625
	approx(t, "q0.5", h.Quantile(0.5), 1+1*(5.0-4)/4) // 1.25
	approx(t, "q0.8", h.Quantile(0.8), 1+1*(8.0-4)/4) // rank 8 = the cum of (1,2]: 2
	approx(t, "q0.85", h.Quantile(0.85), 4)           // +Inf bucket
	approx(t, "q0.95", h.Quantile(0.95), 4)           // +Inf bucket
	approx(t, "q>1", h.Quantile(1.5), inf)
	approx(t, "q<0", h.Quantile(-1), math.Inf(-1))
	// Empty buckets below the rank's bucket are skipped: 10 in (2,4].
	h2 := &Histogram{Bounds: []float64{1, 2, 4, inf}, Cum: []float64{0, 0, 10, 10}}
	approx(t, "h2 q0.5", h2.Quantile(0.5), 2+2*(5.0/10)) // 3
	approx(t, "h2 q0.95", h2.Quantile(0.95), 2+2*(9.5/10))
	// No observations, no +Inf bucket, a single bucket: NaN.
	approx(t, "empty", (&Histogram{Bounds: []float64{1, inf}, Cum: []float64{0, 0}}).Quantile(0.5), nan)
	approx(t, "no +Inf", (&Histogram{Bounds: []float64{1, 2}, Cum: []float64{1, 2}}).Quantile(0.5), nan)
	approx(t, "one bucket", (&Histogram{Bounds: []float64{inf}, Cum: []float64{3}}).Quantile(0.5), nan)
	approx(t, "nil", (*Histogram)(nil).Quantile(0.5), nan)
}

func TestAddSubMean(t *testing.T) {
	a := &Histogram{Bounds: []float64{1, 2, inf}, Cum: []float64{1, 3, 4}, Sum: 5}
	b := &Histogram{Bounds: []float64{1, 2, inf}, Cum: []float64{2, 7, 9}, Sum: 12}
	s := a.Add(b)
	if s.Cum[0] != 3 || s.Cum[1] != 10 || s.Cum[2] != 13 || s.Sum != 17 || a.Cum[0] != 1 {
		t.Errorf("a+b = %+v (a now %+v), want cum [3 10 13] sum 17, a unchanged", s, a)
	}
	d, ok := b.Sub(a)
	if !ok || d.Cum[0] != 1 || d.Cum[1] != 4 || d.Cum[2] != 5 || d.Sum != 7 {
		t.Errorf("b-a = %+v %v, want cum [1 4 5] sum 7", d, ok)
	}
	approx(t, "mean of b-a", d.Mean(), 7.0/5)
	approx(t, "mean of nothing", (*Histogram)(nil).Mean(), nan)
	if d, ok := a.Sub(b); d != nil || ok {
		t.Errorf("a count going down is no difference: got %+v %v", d, ok)
	}
	if d, ok := b.Sub(nil); !ok || d.Count() != 9 {
		t.Errorf("b-nothing = %+v %v, want b", d, ok)
	}
	other := &Histogram{Bounds: []float64{1, inf}, Cum: []float64{1, 1}}
	if d, ok := b.Sub(other); d != nil || ok {
		t.Errorf("other bounds: no difference, got %+v %v", d, ok)
	}
	if a.Add(other) != nil {
		t.Errorf("other bounds cannot be added")
	}
}

// observe makes the histogram of observations with the tracer's bounds
// (in seconds, from internal/shim/hooks.c's scope_bounds_ns).
func observe(xs []float64) *Histogram {
	bounds := []float64{1e-6, 2.5e-6, 5e-6, 10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6,
		1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 500e-3, 1, 2.5, 5, 10, inf}
	h := &Histogram{Bounds: bounds, Cum: make([]float64, len(bounds))}
	for _, x := range xs {
		for i, b := range bounds {
			if x <= b {
				h.Cum[i]++
			}
		}
		h.Sum += x
	}
	return h
}

// A mean above the p95 is the data's, not the quantile rule's. The table
// showed aacparse with a mean of 12.6 µs and a p95 <= 5 µs: a parser takes
// a few µs per frame, and its first buffers (caps, allocation, the codec
// data) take hundreds. A few slow buffers out of a hundred lift the mean
// and not the 95th percentile: here 4% of the buffers hold 78% of the time.
// The exact mean and the interpolated p95 say just that.
func TestMeanAboveP95(t *testing.T) {
	var xs []float64
	for i := 0; i < 96; i++ {
		xs = append(xs, 3e-6)
	}
	for i := 0; i < 4; i++ {
		xs = append(xs, 250e-6)
	}
	h := observe(xs)
	approx(t, "mean", h.Mean(), (96*3e-6+4*250e-6)/100) // 12.88 µs
	approx(t, "p95", h.Quantile(0.95), 2.5e-6+2.5e-6*95/96)
	if h.Mean() <= h.Quantile(0.95) {
		t.Errorf("mean %v <= p95 %v: the tail should lift the mean only", h.Mean(), h.Quantile(0.95))
	}

	// When the data has its p95 at or above its mean, the interpolated p95
	// is at most one bucket below the mean: the exact p95 (the
	// ceil(0.95n)-th observation) lies in the bucket where the rank falls,
	// and so does the interpolation. Observations bunched at the top of a
	// bucket (all 4.9 µs, in (2.5, 5] µs) are that case: p95 4.875 µs,
	// mean 4.9 µs.
	bunched := observe([]float64{4.9e-6, 4.9e-6, 4.9e-6, 4.9e-6})
	approx(t, "bunched p95", bunched.Quantile(0.95), 2.5e-6+2.5e-6*0.95)
	checkWithinBucket := func(name string, xs []float64) {
		t.Helper()
		s := append([]float64(nil), xs...)
		sort.Float64s(s)
		exact := s[int(math.Ceil(0.95*float64(len(s))))-1]
		h := observe(xs)
		if exact < h.Mean() {
			return // the data's own p95 is below its mean
		}
		p95 := h.Quantile(0.95)
		i := sort.SearchFloat64s(h.Bounds, p95)
		// The interpolation is above its bucket's lower bound: the bucket
		// is the first whose cumulative count reaches the rank.
		lower := 0.0
		if i > 0 {
			lower = h.Bounds[i-1]
		}
		if p95 < h.Mean() && h.Mean()-p95 > h.Bounds[i]-lower {
			t.Errorf("%s: p95 %v below the mean %v by more than its bucket (%v, %v]", name, p95, h.Mean(), lower, h.Bounds[i])
		}
	}
	checkWithinBucket("bunched", []float64{4.9e-6, 4.9e-6, 4.9e-6, 4.9e-6})
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 2000; i++ {
		n := 1 + r.Intn(300)
		xs := make([]float64, n)
		scale := math.Pow(10, -6+4*r.Float64())
		for j := range xs {
			switch i % 3 {
			case 0:
				xs[j] = scale * (1 + r.Float64())
			case 1:
				xs[j] = scale * r.ExpFloat64()
			default:
				xs[j] = scale * math.Exp(r.NormFloat64())
			}
		}
		checkWithinBucket("random", xs)
	}
}
