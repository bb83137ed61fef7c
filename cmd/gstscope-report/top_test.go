package main

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// A failed scrape forgets the previous one (the process may restart while
// it is down) and says when the last good one was; the next good scrape
// has no rates, the one after has.
func TestTopStateOutage(t *testing.T) {
	st := &topState{url: "http://x", interval: time.Second, sort: byName}
	st.observe(load(t, "top-1.prom", t0), nil)
	st.observe(load(t, "top-2.prom", t0.Add(2*time.Second)), nil)
	approx(t, "q in", elem(t, st.frame, "q").inRate, 100)
	st.observe(nil, errors.New("connection refused"))
	if s := st.status(); !strings.Contains(s, "connection refused") || !strings.Contains(s, "10:00:02") {
		t.Errorf("status %q: want the error and the last good scrape's time", s)
	}
	if !strings.Contains(st.render(), "q") {
		t.Error("the last table is no longer shown")
	}
	st.observe(load(t, "top-3-restarted.prom", t0.Add(5*time.Second)), nil)
	if st.err != nil || st.frame.interval != 0 {
		t.Errorf("after the outage: err %v interval %v, want a first scrape", st.err, st.frame.interval)
	}
	approx(t, "q in after the outage", elem(t, st.frame, "q").inRate, none)
	st.observe(load(t, "top-3-restarted.prom", t0.Add(6*time.Second)), nil)
	approx(t, "q in then", elem(t, st.frame, "q").inRate, 0)
	if s := st.status(); s != "over the last 1.0s" {
		t.Errorf("status %q", s)
	}
}
