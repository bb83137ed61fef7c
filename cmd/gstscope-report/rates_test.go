package main

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

func load(t *testing.T, name string, at time.Time) *scrape {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, err := parseScrape(f, at)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return s
}

func approx(t *testing.T, what string, got, want float64) {
	t.Helper()
	if math.IsNaN(want) {
		if !math.IsNaN(got) {
			t.Errorf("%s = %v, want no figure", what, got)
		}
		return
	}
	if math.IsNaN(got) || math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func elem(t *testing.T, f frame, name string) elemRow {
	t.Helper()
	for _, r := range f.elems {
		if r.element == name {
			return r
		}
	}
	t.Fatalf("no element %s in %+v", name, f.elems)
	return elemRow{}
}

func TestCounterRate(t *testing.T) {
	for _, c := range []struct {
		prev, cur float64
		hasPrev   bool
		dt, want  float64
		reset     bool
	}{
		{100, 300, true, 2, 100, false},
		{100, 100, true, 2, 0, false},
		{100, 300, false, 2, none, false}, // no previous value
		{300, 30, true, 2, none, true},    // went down: reset, never negative
		{100, 300, true, 0, none, false},  // no interval
	} {
		got, reset := counterRate(c.prev, c.cur, c.hasPrev, c.dt)
		approx(t, "rate", got, c.want)
		if reset != c.reset {
			t.Errorf("counterRate(%v, %v): reset %v, want %v", c.prev, c.cur, reset, c.reset)
		}
	}
}

// Prometheus's histogram_quantile, by hand.
func TestQuantile(t *testing.T) {
	inf := math.Inf(1)
	h := &hist{bounds: []float64{1, 2, 4, inf}, cum: []float64{4, 8, 8, 10}}
	// 10 observations: 4 in [0,1], 4 in (1,2], none in (2,4], 2 above 4.
	// The rank is q*10.
	approx(t, "q0.25", quantile(0.25, h), 2.5/4*1)     // 0.625
	approx(t, "q0.5", quantile(0.5, h), 1+(5.0-4)/4*1) // 1.25
	approx(t, "q0.8", quantile(0.8, h), 2)             // rank 8 = cum of (1,2]
	approx(t, "q0.85", quantile(0.85, h), 4)           // +Inf bucket: largest finite bound
	approx(t, "q0", quantile(0, h), 0)                 // lower bound of the first bucket
	approx(t, "empty", quantile(0.5, &hist{bounds: []float64{1, inf}, cum: []float64{0, 0}}), none)
	// A bucket that is empty below the rank's bucket is skipped.
	h2 := &hist{bounds: []float64{1, 2, 4, inf}, cum: []float64{0, 0, 10, 10}}
	approx(t, "h2 q0.5", quantile(0.5, h2), 2+2*0.5) // 3
}

func TestHistDelta(t *testing.T) {
	inf := math.Inf(1)
	prev := &hist{bounds: []float64{1, 2, inf}, cum: []float64{1, 3, 4}}
	cur := &hist{bounds: []float64{1, 2, inf}, cum: []float64{2, 7, 9}}
	d, reset := histDelta(prev, cur)
	if reset || d == nil || d.cum[0] != 1 || d.cum[1] != 4 || d.cum[2] != 5 {
		t.Errorf("delta %+v reset %v, want cum [1 4 5]", d, reset)
	}
	if d, reset := histDelta(cur, prev); d != nil || !reset {
		t.Errorf("a count going down is a reset, got %+v %v", d, reset)
	}
	if d, _ := histDelta(nil, cur); d != nil {
		t.Errorf("no previous: no delta, got %+v", d)
	}
	if d, reset := histDelta(&hist{bounds: []float64{1, inf}, cum: []float64{1, 1}}, cur); d != nil || reset {
		t.Errorf("other bounds: no delta and no reset, got %+v %v", d, reset)
	}
}

// top-1.prom and top-2.prom, 2 s apart; every figure computed by hand.
func TestDiff(t *testing.T) {
	f := diff(load(t, "top-1.prom", t0), load(t, "top-2.prom", t0.Add(2*time.Second)))
	if f.reset || f.interval != 2*time.Second {
		t.Fatalf("reset %v interval %v", f.reset, f.interval)
	}
	src, q, sink := elem(t, f, "src"), elem(t, f, "q"), elem(t, f, "sink")
	approx(t, "src in", src.inRate, none) // no sink pad
	approx(t, "src out", src.outRate, 100)
	approx(t, "q in", q.inRate, 100)
	approx(t, "q out", q.outRate, 100)
	approx(t, "sink out", sink.outRate, none)
	approx(t, "q CPU %", q.cpuPct, 25) // 0.5 s in 2 s
	approx(t, "src CPU %", src.cpuPct, none)
	if q.factory != "queue" {
		t.Errorf("q factory %q", q.factory)
	}
	// Processing deltas: le 0.001: 0, 0.002: 40, 0.005: 180, +Inf: 200.
	// p50: rank 100 in (0.002, 0.005], 60 of its 140: 0.002 + 0.003*60/140.
	approx(t, "q proc p50", q.procP50, 0.002+0.003*60/140)
	// p95: rank 190 > 180: the +Inf bucket, so 0.005.
	approx(t, "q proc p95", q.procP95, 0.005)
	approx(t, "q lat p50", q.latP50, none) // no latency series
	approx(t, "src reported min", src.repMin, 0.01)
	if !math.IsInf(src.repMax, 1) {
		t.Errorf("src reported max %v, want +Inf", src.repMax)
	}
	approx(t, "q reported min", q.repMin, none)
	if len(f.pairs) != 1 {
		t.Fatalf("pairs %+v", f.pairs)
	}
	p := f.pairs[0]
	if p.source != "src" || p.sink != "sink" || p.pipeline != "p" {
		t.Errorf("pair %+v", p.pairKey)
	}
	// Pair deltas: le 0.01: 10, 0.02: 50, +Inf: 60, over 2 s.
	approx(t, "pair rate", p.rate, 30)
	approx(t, "pair p50", p.p50, 0.01+0.01*20/40) // rank 30: 20 of the 40 in (0.01, 0.02]
	approx(t, "pair p95", p.p95, 0.02)            // rank 57 > 50: +Inf bucket
}

// The first scrape has the gauges and nothing over an interval.
func TestDiffFirstScrape(t *testing.T) {
	f := diff(nil, load(t, "top-1.prom", t0))
	if f.reset || f.interval != 0 {
		t.Errorf("reset %v interval %v", f.reset, f.interval)
	}
	q, src := elem(t, f, "q"), elem(t, f, "src")
	approx(t, "q in", q.inRate, none)
	approx(t, "q proc p50", q.procP50, none)
	approx(t, "q CPU", q.cpuPct, none)
	approx(t, "src reported min", src.repMin, 0.01)
	approx(t, "pair rate", f.pairs[0].rate, none)
}

// A restart between scrapes: some counters went down, the source's went
// up. No rate of that interval is shown (no negative one, and no false one
// for the source), the new gauges are.
func TestDiffReset(t *testing.T) {
	prev := load(t, "top-2.prom", t0.Add(2*time.Second))
	cur := load(t, "top-3-restarted.prom", t0.Add(4*time.Second))
	f := diff(prev, cur)
	if !f.reset {
		t.Fatal("no reset detected")
	}
	for _, r := range f.elems {
		approx(t, r.element+" in", r.inRate, none)
		approx(t, r.element+" out", r.outRate, none)
		approx(t, r.element+" CPU", r.cpuPct, none)
	}
	approx(t, "src reported min", elem(t, f, "src").repMin, 0.02)
	approx(t, "src reported max", elem(t, f, "src").repMax, 0.05)
	// The scrape after it is normal again.
	next := load(t, "top-3-restarted.prom", t0.Add(5*time.Second))
	if g := diff(cur, next); g.reset {
		t.Error("reset again without a counter going down")
	} else {
		approx(t, "src out after", elem(t, g, "src").outRate, 0)
	}
}

// Two real scrapes of `audiotestsrc is-live=true samplesperbuffer=441 !
// queue ! identity ! fakesink` ~1 s apart: every element, pads on the right
// side, quantiles within the histogram's range.
func TestDiffLiveScrapes(t *testing.T) {
	f := diff(load(t, "top-live-1.prom", t0), load(t, "top-live-2.prom", t0.Add(time.Second)))
	if f.reset {
		t.Fatal("reset")
	}
	names := []string{}
	for _, r := range f.elems {
		names = append(names, r.element)
		if r.inRate < 0 || r.outRate < 0 {
			t.Errorf("%s negative rate %+v", r.element, r)
		}
	}
	if got := strings.Join(names, " "); got != "audiotestsrc0 fakesink0 identity0 queue0" {
		t.Errorf("elements %q", got)
	}
	src, q := elem(t, f, "audiotestsrc0"), elem(t, f, "queue0")
	approx(t, "source in", src.inRate, none)
	if src.outRate < 50 || src.outRate > 150 || q.inRate != src.outRate {
		t.Errorf("source out %v, queue in %v: want ~100/s and equal", src.outRate, q.inRate)
	}
	if !(q.latP50 > 0 && q.latP50 <= q.latP95 && q.latP95 <= 10) {
		t.Errorf("queue latency p50 %v p95 %v", q.latP50, q.latP95)
	}
	if len(f.pairs) != 1 || !(f.pairs[0].p50 > 0) {
		t.Errorf("pairs %+v", f.pairs)
	}
}

func TestSortRows(t *testing.T) {
	row := func(pl, el string, in, out, lat, cpu float64) elemRow {
		return elemRow{elemKey: elemKey{pl, el}, inRate: in, outRate: out, latP95: lat, cpuPct: cpu}
	}
	f := frame{elems: []elemRow{
		row("b", "x", 10, 10, 0.001, 5),
		row("a", "fast", 100, 100, 0.0001, 1),
		row("a", "slow", 10, 10, 0.5, none),
		row("a", "src", none, 300, none, 50),
		row("a", "mid", 50, 50, 0.01, 20),
	}}
	order := func() string {
		s := []string{}
		for _, r := range f.elems {
			s = append(s, r.pipeline+"/"+r.element)
		}
		return strings.Join(s, " ")
	}
	for _, c := range []struct {
		key  sortKey
		want string
	}{
		{byName, "a/fast a/mid a/slow a/src b/x"},
		{byLatency, "a/slow a/mid a/fast a/src b/x"}, // no figure last
		{byCPU, "a/src a/mid a/fast a/slow b/x"},
		{byThroughput, "a/src a/fast a/mid a/slow b/x"}, // src: its output only
	} {
		sortRows(&f, c.key)
		if got := order(); got != c.want {
			t.Errorf("sort %c: %s, want %s", c.key, got, c.want)
		}
	}
}
