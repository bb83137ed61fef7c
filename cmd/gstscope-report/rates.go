package main

// The figures of `top`: the observations between two scrapes read through
// internal/model (rates, means and quantiles of the interval), and the
// order of the rows. Pure functions: the view (top.go) only fetches and
// draws.

import (
	"math"
	"sort"
	"time"

	"github.com/gstscope/gstscope/internal/model"
)

// NaN in a figure means "no figure": no series, no previous scrape, a
// counter reset, or no observation in the interval.
var none = math.NaN()

type elemKey = model.ElementKey
type pairKey = model.PathKey

// elemRow is one element over one interval.
type elemRow struct {
	elemKey
	factory           string
	inRate, outRate   float64 // buffers/s through its sink pads, its src pads
	procMean, procP95 float64 // seconds
	latMean, latP95   float64
	cpuPct            float64 // CPU seconds per second, in %
	repMin, repMax    float64 // the gauges now
	flow                      // drops, lateness, queue level and backpressure
}

type pairRow struct {
	pairKey
	rate      float64 // observations/s
	mean, p95 float64
}

// frame is what one refresh shows.
type frame struct {
	at       time.Time
	interval time.Duration // since the previous scrape; 0 without one
	elems    []elemRow
	pairs    []pairRow
	reset    bool // a counter went down since the previous scrape: no rates
}

// diff is the frame between two scrapes; prev may be nil (the first scrape,
// or the first after a failed one), and then only the gauges have figures.
// When any counter went down (the process restarted between the scrapes,
// or a pipeline was rebuilt under the same names) no figure of the interval
// is trusted: the frame has the gauges only, and reset set.
func diff(prev, cur *model.Model) frame {
	f := frame{at: cur.At}
	var d *model.Model
	if prev != nil {
		d, f.reset = cur.Since(prev)
		if f.reset {
			d = nil
		} else {
			f.interval = d.Interval
		}
	}
	for k, e := range cur.Elements {
		r := elemRow{elemKey: k, factory: e.Factory, inRate: none, outRate: none,
			procMean: none, procP95: none, latMean: none, latP95: none, cpuPct: none,
			repMin: gauge(e, model.ElementReportedMin), repMax: gauge(e, model.ElementReportedMax)}
		if d != nil {
			de := d.Elements[k]
			if n, ok := de.BuffersIn(); ok {
				r.inRate = d.Rate(n)
			}
			if n, ok := de.BuffersOut(); ok {
				r.outRate = d.Rate(n)
			}
			if v, ok := de.Value(model.ElementCPU); ok {
				r.cpuPct = 100 * d.Rate(v)
			}
			r.procMean, r.procP95 = de.Processing().Mean(), de.Processing().Quantile(0.95)
			r.latMean, r.latP95 = de.Latency().Mean(), de.Latency().Quantile(0.95)
		}
		r.flow = flowOf(e, d, k)
		f.elems = append(f.elems, r)
	}
	for k := range cur.Paths {
		r := pairRow{pairKey: k, rate: none, mean: none, p95: none}
		if d != nil {
			h := d.Paths[k]
			r.rate, r.mean, r.p95 = d.Rate(h.Count()), h.Mean(), h.Quantile(0.95)
		}
		f.pairs = append(f.pairs, r)
	}
	sortRows(&f, byName)
	return f
}

// gauge is an element's gauge, NaN without a series.
func gauge(e *model.Element, family string) float64 {
	if v, ok := e.Value(family); ok {
		return v
	}
	return none
}

// sortKey orders the elements of each pipeline; pipelines stay in name
// order, and equal figures fall back to the element's name.
type sortKey byte

const (
	byName       sortKey = 'n'
	byLatency    sortKey = 'l' // element latency p95, highest first
	byCPU        sortKey = 'c' // CPU %, highest first
	byThroughput sortKey = 't' // the larger of buffers/s in and out, highest first
	byDrops      sortKey = 'd' // drops/s, highest first
	byFill       sortKey = 'f' // the fullest queue's level in time (then buffers), highest first
	byBlocked    sortKey = 'b' // blocked share, highest first
	byLateness   sortKey = 's' // a sink's lateness p95, latest first
)

// sortKeys are -sort's values: a key, or its name.
var sortKeys = map[string]sortKey{"n": byName, "name": byName, "l": byLatency, "latency": byLatency,
	"c": byCPU, "cpu": byCPU, "t": byThroughput, "throughput": byThroughput,
	"d": byDrops, "drops": byDrops, "f": byFill, "fill": byFill,
	"b": byBlocked, "blocked": byBlocked, "s": byLateness, "lateness": byLateness}

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
		if a.Pipeline != b.Pipeline {
			return a.Pipeline < b.Pipeline
		}
		c := 0
		switch key {
		case byLatency:
			c = desc(a.latP95, b.latP95)
		case byCPU:
			c = desc(a.cpuPct, b.cpuPct)
		case byThroughput:
			c = desc(throughput(a), throughput(b))
		case byDrops:
			c = desc(a.dropRate, b.dropRate)
		case byFill:
			if c = desc(a.level.Seconds, b.level.Seconds); c == 0 {
				c = desc(a.level.Buffers, b.level.Buffers)
			}
		case byBlocked:
			c = desc(a.blocked, b.blocked)
		case byLateness:
			c = desc(a.lateP95, b.lateP95)
		}
		if c != 0 {
			return c < 0
		}
		return a.Element < b.Element
	})
	sort.SliceStable(f.pairs, func(i, j int) bool {
		a, b := f.pairs[i], f.pairs[j]
		if a.Pipeline != b.Pipeline {
			return a.Pipeline < b.Pipeline
		}
		if key == byLatency {
			if c := desc(a.p95, b.p95); c != 0 {
				return c < 0
			}
		}
		if a.Source != b.Source {
			return a.Source < b.Source
		}
		return a.Sink < b.Sink
	})
}
