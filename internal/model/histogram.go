package model

import (
	"math"
	"sort"

	dto "github.com/prometheus/client_model/go"
)

// Histogram is a Prometheus histogram: cumulative counts per upper bound,
// ascending, the last bound +Inf (its count is the number of observations),
// and the sum of the observations.
type Histogram struct {
	Bounds []float64
	Cum    []float64
	Sum    float64
}

// histogramOf converts a parsed histogram, adding the +Inf bucket that the
// text format implies.
func histogramOf(d *dto.Histogram) *Histogram {
	h := &Histogram{Sum: d.GetSampleSum()}
	for _, b := range d.Bucket {
		h.Bounds = append(h.Bounds, b.GetUpperBound())
		h.Cum = append(h.Cum, float64(b.GetCumulativeCount()))
	}
	if n := len(h.Bounds); n == 0 || !math.IsInf(h.Bounds[n-1], 1) {
		h.Bounds = append(h.Bounds, math.Inf(1))
		h.Cum = append(h.Cum, float64(d.GetSampleCount()))
	}
	return h
}

// Count is the number of observations; 0 for nil.
func (h *Histogram) Count() float64 {
	if h == nil || len(h.Cum) == 0 {
		return 0
	}
	return h.Cum[len(h.Cum)-1]
}

// Mean is the exact mean of the observations (the sum over the count); NaN
// without observations.
func (h *Histogram) Mean() float64 {
	n := h.Count()
	if n == 0 {
		return math.NaN()
	}
	return h.Sum / n
}

func sameBounds(a, b *Histogram) bool {
	if len(a.Bounds) != len(b.Bounds) {
		return false
	}
	for i := range a.Bounds {
		if a.Bounds[i] != b.Bounds[i] {
			return false
		}
	}
	return true
}

// Add is the histogram of both sets of observations: a copy of h when o is
// nil, of o when h is nil; nil when the bounds differ.
func (h *Histogram) Add(o *Histogram) *Histogram {
	switch {
	case h == nil && o == nil:
		return nil
	case o == nil:
		return h.clone()
	case h == nil:
		return o.clone()
	case !sameBounds(h, o):
		return nil
	}
	s := h.clone()
	for i := range s.Cum {
		s.Cum[i] += o.Cum[i]
	}
	s.Sum += o.Sum
	return s
}

// Sub is the histogram of the observations made between an earlier state o
// and h: h itself when o is nil (no observation before). ok is false when a
// count went down or the bounds changed: h is not o plus observations (the
// process restarted, or the series is another one under the same labels).
func (h *Histogram) Sub(o *Histogram) (d *Histogram, ok bool) {
	switch {
	case h == nil:
		return nil, o.Count() == 0
	case o == nil:
		return h.clone(), true
	case !sameBounds(h, o):
		return nil, false
	}
	d = h.clone()
	for i := range d.Cum {
		if d.Cum[i] -= o.Cum[i]; d.Cum[i] < 0 {
			return nil, false
		}
	}
	d.Sum -= o.Sum
	return d, true
}

func (h *Histogram) clone() *Histogram {
	return &Histogram{Bounds: h.Bounds, Cum: append([]float64(nil), h.Cum...), Sum: h.Sum}
}

// Quantile is Prometheus's histogram_quantile(q, h), the one quantile rule
// of every view: the rank q*count falls in a bucket, and the quantile is
// interpolated linearly between that bucket's lower and upper bounds (the
// first bucket's lower bound is 0); a rank in the +Inf bucket gives the
// largest finite bound. NaN without observations. It is an estimate within
// the bucket's width: observations bunched at a bucket's top give a
// quantile below them (see TestMeanAboveP95).
func (h *Histogram) Quantile(q float64) float64 {
	switch {
	case q < 0:
		return math.Inf(-1)
	case q > 1:
		return math.Inf(1)
	}
	n := h.Count()
	if n == 0 || len(h.Bounds) < 2 || !math.IsInf(h.Bounds[len(h.Bounds)-1], 1) {
		return math.NaN()
	}
	rank := q * n
	b := sort.Search(len(h.Cum)-1, func(i int) bool { return h.Cum[i] >= rank })
	if b == len(h.Bounds)-1 {
		return h.Bounds[len(h.Bounds)-2]
	}
	if b == 0 && h.Bounds[0] <= 0 {
		return h.Bounds[0]
	}
	start, end, count := 0.0, h.Bounds[b], h.Cum[b]
	if b > 0 {
		start = h.Bounds[b-1]
		count -= h.Cum[b-1]
		rank -= h.Cum[b-1]
	}
	return start + (end-start)*(rank/count)
}
