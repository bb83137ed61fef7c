package main

// The model of `top`: a scrape parsed into per-element and per-pair
// figures, the difference between two scrapes (rates, and quantiles of the
// observations made between them), and the order of the rows. Pure
// functions: the view (top.go) only fetches and draws.

import (
	"io"
	"math"
	"sort"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// hist is a histogram: cumulative counts per upper bound, the last bound
// +Inf (its count is the sample count).
type hist struct {
	bounds []float64
	cum    []float64
}

func (h *hist) count() float64 {
	if h == nil || len(h.cum) == 0 {
		return 0
	}
	return h.cum[len(h.cum)-1]
}

func histOf(m *dto.Metric) *hist {
	d := m.GetHistogram()
	h := &hist{}
	for _, b := range d.Bucket {
		h.bounds = append(h.bounds, b.GetUpperBound())
		h.cum = append(h.cum, float64(b.GetCumulativeCount()))
	}
	if n := len(h.bounds); n == 0 || !math.IsInf(h.bounds[n-1], 1) {
		h.bounds = append(h.bounds, math.Inf(1))
		h.cum = append(h.cum, float64(d.GetSampleCount()))
	}
	return h
}

// elemSample is what one scrape says about one element.
type elemSample struct {
	factory        string
	in, out        float64 // buffers through its sink pads, its other pads
	hasIn, hasOut  bool
	proc, lat      *hist
	cpu            float64
	hasCPU         bool
	repMin, repMax float64
	hasRep         bool
}

type elemKey struct{ pipeline, element string }
type pairKey struct{ pipeline, source, sink string }

// scrape is one parsed exposition and when it was taken.
type scrape struct {
	at    time.Time
	elems map[elemKey]*elemSample
	pairs map[pairKey]*hist
}

// parseScrape reads exposition text. A pad is an input when its name starts
// with "sink" (sink, sink_0, sink_%u), as the table of the plain command
// counts it; every other pad is an output.
func parseScrape(r io.Reader, at time.Time) (*scrape, error) {
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(r)
	if err != nil && err != io.EOF {
		return nil, err
	}
	s := &scrape{at: at, elems: map[elemKey]*elemSample{}, pairs: map[pairKey]*hist{}}
	get := func(m *dto.Metric) *elemSample {
		l := lbls(m)
		k := elemKey{l["pipeline"], l["element"]}
		e := s.elems[k]
		if e == nil {
			e = &elemSample{repMin: math.NaN(), repMax: math.NaN()}
			s.elems[k] = e
		}
		if f := l["factory"]; f != "" {
			e.factory = f
		}
		return e
	}
	each(fams, "gstreamer_pad_buffers_total", func(m *dto.Metric) {
		e, v := get(m), m.GetCounter().GetValue()
		if strings.HasPrefix(lbls(m)["pad"], "sink") {
			e.in, e.hasIn = e.in+v, true
		} else {
			e.out, e.hasOut = e.out+v, true
		}
	})
	each(fams, "gstreamer_element_processing_seconds", func(m *dto.Metric) { get(m).proc = histOf(m) })
	each(fams, "gstreamer_element_latency_seconds", func(m *dto.Metric) { get(m).lat = histOf(m) })
	each(fams, "gstreamer_element_reported_latency_min_seconds", func(m *dto.Metric) {
		e := get(m)
		e.repMin, e.hasRep = m.GetGauge().GetValue(), true
	})
	each(fams, "gstreamer_element_reported_latency_max_seconds", func(m *dto.Metric) {
		e := get(m)
		e.repMax, e.hasRep = m.GetGauge().GetValue(), true
	})
	each(fams, "gstreamer_element_cpu_seconds_total", func(m *dto.Metric) {
		e := get(m)
		e.cpu, e.hasCPU = e.cpu+m.GetCounter().GetValue(), true
	})
	each(fams, "gstreamer_pipeline_latency_seconds", func(m *dto.Metric) {
		l := lbls(m)
		s.pairs[pairKey{l["pipeline"], l["source"], l["sink"]}] = histOf(m)
	})
	return s, nil
}

// NaN in a figure means "no figure": no series, no previous scrape, a
// counter reset, or no observation in the interval.
var none = math.NaN()

// elemRow is one element over one interval.
type elemRow struct {
	elemKey
	factory          string
	inRate, outRate  float64 // buffers/s
	procP50, procP95 float64 // seconds
	latP50, latP95   float64
	cpuPct           float64 // CPU seconds per second, in %
	repMin, repMax   float64 // the gauges now
	reset            bool    // a counter went down: the process restarted
}

type pairRow struct {
	pairKey
	rate     float64 // observations/s
	p50, p95 float64
	reset    bool
}

// frame is what one refresh shows.
type frame struct {
	at       time.Time
	interval time.Duration // since the previous scrape; 0 without one
	elems    []elemRow
	pairs    []pairRow
	reset    bool // a counter went down since the previous scrape: no rates
}

// counterRate is (cur-prev)/dt, or NaN without a previous value or when
// the counter went down (a reset: the rate since it is unknown).
func counterRate(prev, cur float64, hasPrev bool, dt float64) (rate float64, reset bool) {
	if !hasPrev || dt <= 0 {
		return none, false
	}
	if cur < prev {
		return none, true
	}
	return (cur - prev) / dt, false
}

// histDelta is the histogram of the observations between prev and cur: nil
// without prev, or when the bounds changed or a count went down (a reset).
func histDelta(prev, cur *hist) (d *hist, reset bool) {
	if prev == nil || cur == nil || len(prev.bounds) != len(cur.bounds) {
		return nil, false
	}
	d = &hist{bounds: cur.bounds, cum: make([]float64, len(cur.cum))}
	for i := range cur.cum {
		if prev.bounds[i] != cur.bounds[i] {
			return nil, false
		}
		if d.cum[i] = cur.cum[i] - prev.cum[i]; d.cum[i] < 0 {
			return nil, true
		}
	}
	return d, false
}

// quantile is Prometheus's histogram_quantile: the q-th quantile,
// interpolated linearly within the bucket holding its rank, the lower bound
// of the first bucket being 0; a rank in the +Inf bucket gives the largest
// finite bound. NaN for an empty histogram.
func quantile(q float64, h *hist) float64 {
	n := h.count()
	if n == 0 || len(h.bounds) < 2 {
		return none
	}
	rank := q * n
	b := sort.Search(len(h.cum)-1, func(i int) bool { return h.cum[i] >= rank })
	if b == len(h.bounds)-1 {
		return h.bounds[len(h.bounds)-2]
	}
	if b == 0 && h.bounds[0] <= 0 {
		return h.bounds[0]
	}
	start, below := 0.0, 0.0
	if b > 0 {
		start, below = h.bounds[b-1], h.cum[b-1]
	}
	end, in := h.bounds[b], h.cum[b]-below
	if in == 0 {
		return end
	}
	return start + (end-start)*(rank-below)/in
}

func quantiles(prev, cur *hist) (p50, p95 float64, reset bool) {
	d, reset := histDelta(prev, cur)
	if d == nil {
		return none, none, reset
	}
	return quantile(0.5, d), quantile(0.95, d), false
}

// diff is the frame between two scrapes; prev may be nil (the first scrape,
// or the first after a failed one), and then only the gauges have figures.
// When any counter went down (the process restarted between the scrapes,
// or a pipeline was rebuilt under the same names) no figure of the interval
// is trusted: the frame has the gauges only, and reset set.
func diff(prev, cur *scrape) frame {
	f := diffRows(prev, cur)
	if prev == nil {
		return f
	}
	for _, r := range f.elems {
		f.reset = f.reset || r.reset
	}
	for _, r := range f.pairs {
		f.reset = f.reset || r.reset
	}
	if f.reset {
		f = diffRows(nil, cur)
		f.reset = true
	}
	return f
}

func diffRows(prev, cur *scrape) frame {
	f := frame{at: cur.at}
	dt := 0.0
	if prev != nil {
		f.interval = cur.at.Sub(prev.at)
		dt = f.interval.Seconds()
	}
	for k, e := range cur.elems {
		r := elemRow{elemKey: k, factory: e.factory, repMin: none, repMax: none,
			inRate: none, outRate: none, cpuPct: none}
		if e.hasRep {
			r.repMin, r.repMax = e.repMin, e.repMax
		}
		var p *elemSample
		if prev != nil {
			p = prev.elems[k]
		}
		if p == nil {
			p = &elemSample{}
		}
		var rs [5]bool
		if e.hasIn {
			r.inRate, rs[0] = counterRate(p.in, e.in, p.hasIn, dt)
		}
		if e.hasOut {
			r.outRate, rs[1] = counterRate(p.out, e.out, p.hasOut, dt)
		}
		if e.hasCPU {
			r.cpuPct, rs[2] = counterRate(p.cpu, e.cpu, p.hasCPU, dt)
			r.cpuPct *= 100
		}
		r.procP50, r.procP95, rs[3] = quantiles(p.proc, e.proc)
		r.latP50, r.latP95, rs[4] = quantiles(p.lat, e.lat)
		r.reset = rs[0] || rs[1] || rs[2] || rs[3] || rs[4]
		f.elems = append(f.elems, r)
	}
	for k, h := range cur.pairs {
		r := pairRow{pairKey: k, rate: none}
		var p *hist
		if prev != nil {
			p = prev.pairs[k]
		}
		if p != nil {
			r.rate, r.reset = counterRate(p.count(), h.count(), true, dt)
		}
		var reset bool
		r.p50, r.p95, reset = quantiles(p, h)
		r.reset = r.reset || reset
		f.pairs = append(f.pairs, r)
	}
	sortRows(&f, byName)
	return f
}

// sortKey orders the elements of each pipeline; pipelines stay in name
// order, and equal figures fall back to the element's name.
type sortKey byte

const (
	byName       sortKey = 'n'
	byLatency    sortKey = 'l' // element latency p95, highest first
	byCPU        sortKey = 'c' // CPU %, highest first
	byThroughput sortKey = 't' // the larger of buffers/s in and out, highest first
)

// desc compares figures highest first, figures before no figure; it
// returns 0 when equal.
func desc(a, b float64) int {
	an, bn := math.IsNaN(a), math.IsNaN(b)
	switch {
	case an && bn, a == b:
		return 0
	case an:
		return 1
	case bn:
		return -1
	case a > b:
		return -1
	}
	return 1
}

func throughput(r elemRow) float64 {
	switch {
	case math.IsNaN(r.inRate):
		return r.outRate
	case math.IsNaN(r.outRate):
		return r.inRate
	}
	return math.Max(r.inRate, r.outRate)
}

func sortRows(f *frame, key sortKey) {
	sort.SliceStable(f.elems, func(i, j int) bool {
		a, b := f.elems[i], f.elems[j]
		if a.pipeline != b.pipeline {
			return a.pipeline < b.pipeline
		}
		c := 0
		switch key {
		case byLatency:
			c = desc(a.latP95, b.latP95)
		case byCPU:
			c = desc(a.cpuPct, b.cpuPct)
		case byThroughput:
			c = desc(throughput(a), throughput(b))
		}
		if c != 0 {
			return c < 0
		}
		return a.element < b.element
	})
	sort.SliceStable(f.pairs, func(i, j int) bool {
		a, b := f.pairs[i], f.pairs[j]
		if a.pipeline != b.pipeline {
			return a.pipeline < b.pipeline
		}
		if key == byLatency {
			if c := desc(a.p95, b.p95); c != 0 {
				return c < 0
			}
		}
		if a.source != b.source {
			return a.source < b.source
		}
		return a.sink < b.sink
	})
}
