package main

// Flow health in the table and top: an element's drops, a sink's lateness
// p95, its fullest queue's level and its queues' blocked share. One set of
// columns for both views: top shows them over its interval, the table as
// totals (dropped buffers, lateness p95 of the run, blocked seconds); both
// show the level as it is now, a gauge.
//
// A cell is blank where the element has no such series (it cannot drop,
// is no sink, no queue), and "-" where it has one but no figure for the
// interval (the first scrape, no observation since the last).

import (
	"fmt"
	"math"

	"github.com/gstscope/gstscope/internal/model"
)

// flow is one element's flow-health figures; NaN is no figure.
type flow struct {
	hasDrops, hasLateness, hasQueue, hasBlocked bool

	dropRate float64     // buffers dropped per second of the interval
	lateP95  float64     // seconds, signed: negative is early
	level    model.Level // the fullest queue, now
	blocked  float64     // seconds waited per second of the interval
}

// flowOf is e's flow over d, the interval's model (nil: no interval, only
// the levels, gauges, have figures); k names e in d.
func flowOf(e *model.Element, d *model.Model, k model.ElementKey) flow {
	f := flow{dropRate: none, lateP95: none, blocked: none, level: model.Level{Buffers: none, Bytes: none, Seconds: none}}
	_, f.hasDrops = e.Dropped()
	_, f.hasBlocked = e.Blocked()
	f.hasLateness = e.Lateness() != nil
	if l, ok := e.Fullest(); ok {
		f.level, f.hasQueue = l, true
	}
	if d == nil {
		return f
	}
	de := d.Elements[k]
	if n, ok := de.Dropped(); ok {
		f.dropRate = d.Rate(n)
	}
	if s, ok := de.Blocked(); ok {
		f.blocked = d.Rate(s)
	}
	f.lateP95 = de.Lateness().Quantile(0.95)
	return f
}

// The column headers, after the element's own figures.
const (
	topFlowHeader   = "drops/s\tqueue level\tblocked\tlate p95\t"
	tableFlowHeader = "dropped\tqueue level\tblocked\tlate p95\t"
)

// topCells are f's cells in top.
func (f flow) topCells() string {
	return fmt.Sprintf("%s\t%s\t%s\t%s\t", cell(f.hasDrops, perSec(f.dropRate)), cell(f.hasQueue, level(f.level)),
		cell(f.hasBlocked, pct(100*f.blocked)), cell(f.hasLateness, signedSec(f.lateP95)))
}

// tableCells are e's flow cells in the table: totals.
func tableCells(e *model.Element) string {
	dropped, hasDrops := e.Dropped()
	blocked, hasBlocked := e.Blocked()
	l, hasQueue := e.Fullest()
	late := e.Lateness()
	return fmt.Sprintf("%s\t%s\t%s\t%s\t", cell(hasDrops, fmt.Sprintf("%.0f", dropped)), cell(hasQueue, level(l)),
		cell(hasBlocked, sec(blocked)), cell(late != nil, signedSec(late.Quantile(0.95))))
}

// cell is blank without a series.
func cell(has bool, s string) string {
	if !has {
		return ""
	}
	return s
}

// level is a queue's level in buffers and time: "200 buf 950.00 ms"; "-"
// without either.
func level(l model.Level) string {
	switch b, s := math.IsNaN(l.Buffers), math.IsNaN(l.Seconds); {
	case b && s:
		return "-"
	case s:
		return fmt.Sprintf("%.0f buf", l.Buffers)
	case b:
		return sec(l.Seconds)
	}
	return fmt.Sprintf("%.0f buf %s", l.Buffers, sec(l.Seconds))
}

// signedSec is sec with a sign: a sink's lateness is negative when early.
func signedSec(s float64) string {
	if s < 0 {
		return "-" + sec(-s)
	}
	return sec(s)
}
