package main

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gstscope/gstscope/internal/model"
)

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

func load(t *testing.T, name string, at time.Time) *model.Model {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, err := model.Read(f, at)
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
		if r.Element == name {
			return r
		}
	}
	t.Fatalf("no element %s in %+v", name, f.elems)
	return elemRow{}
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
	approx(t, "q in", q.inRate, 100) // through video_0, a sink pad by its direction
	approx(t, "q out", q.outRate, 100)
	approx(t, "sink out", sink.outRate, none)
	approx(t, "q CPU %", q.cpuPct, 25) // 0.5 s in 2 s
	approx(t, "src CPU %", src.cpuPct, none)
	if q.factory != "queue" {
		t.Errorf("q factory %q", q.factory)
	}
	// Processing deltas: le 0.001: 0, 0.002: 40, 0.005: 180, +Inf: 200;
	// sum 1.1-0.3. p95: rank 190 > 180: the +Inf bucket, so 0.005.
	approx(t, "q proc mean", q.procMean, 0.8/200)
	approx(t, "q proc p95", q.procP95, 0.005)
	approx(t, "q lat mean", q.latMean, none) // no latency series
	approx(t, "q lat p95", q.latP95, none)
	approx(t, "src reported min", src.repMin, 0.01)
	if !math.IsInf(src.repMax, 1) {
		t.Errorf("src reported max %v, want +Inf", src.repMax)
	}
	approx(t, "q reported min", q.repMin, none)
	if len(f.pairs) != 1 {
		t.Fatalf("pairs %+v", f.pairs)
	}
	p := f.pairs[0]
	if p.Source != "src" || p.Sink != "sink" || p.Pipeline != "p" {
		t.Errorf("pair %+v", p.pairKey)
	}
	// Pair deltas: le 0.01: 10, 0.02: 50, +Inf: 60, over 2 s.
	approx(t, "pair rate", p.rate, 30)
	approx(t, "pair mean", p.mean, (1.8-0.6)/60)
	approx(t, "pair p95", p.p95, 0.02) // rank 57 > 50: +Inf bucket
}

// The first scrape has the gauges and nothing over an interval.
func TestDiffFirstScrape(t *testing.T) {
	f := diff(nil, load(t, "top-1.prom", t0))
	if f.reset || f.interval != 0 {
		t.Errorf("reset %v interval %v", f.reset, f.interval)
	}
	q, src := elem(t, f, "q"), elem(t, f, "src")
	approx(t, "q in", q.inRate, none)
	approx(t, "q proc mean", q.procMean, none)
	approx(t, "q proc p95", q.procP95, none)
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
		approx(t, r.Element+" in", r.inRate, none)
		approx(t, r.Element+" out", r.outRate, none)
		approx(t, r.Element+" CPU", r.cpuPct, none)
		approx(t, r.Element+" proc p95", r.procP95, none)
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
		names = append(names, r.Element)
		if r.inRate < 0 || r.outRate < 0 {
			t.Errorf("%s negative rate %+v", r.Element, r)
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
	if !(q.latMean > 0 && q.latP95 > 0 && q.latP95 <= 10) {
		t.Errorf("queue latency mean %v p95 %v", q.latMean, q.latP95)
	}
	if len(f.pairs) != 1 || !(f.pairs[0].p95 > 0) {
		t.Errorf("pairs %+v", f.pairs)
	}
}

func TestSortRows(t *testing.T) {
	row := func(pl, el string, in, out, lat, cpu float64) elemRow {
		return elemRow{elemKey: elemKey{Pipeline: pl, Element: el}, inRate: in, outRate: out, latP95: lat, cpuPct: cpu}
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
			s = append(s, r.Pipeline+"/"+r.Element)
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
