package main

import (
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
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

// A slow endpoint is a failed scrape after the client's timeout (the
// interval), an error status one too; neither panics.
func TestTopFetchSlowAndFailing(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(3 * time.Second):
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	st := &topState{url: slow.URL, interval: 200 * time.Millisecond, client: &http.Client{Timeout: 200 * time.Millisecond}}
	start := time.Now()
	s, err := st.fetch()
	if err == nil || s != nil {
		t.Fatalf("slow endpoint: %v %v", s, err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("slow endpoint took %v, timeout 200ms", d)
	}
	st.observe(s, err)
	if !strings.Contains(st.status(), "last good scrape: never") {
		t.Errorf("status %q", st.status())
	}

	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusInternalServerError)
	}))
	defer failing.Close()
	st.url = failing.URL
	if _, err := st.fetch(); err == nil || !strings.Contains(err.Error(), "500") {
		t.Errorf("500: %v", err)
	}
}

// A reported-latency share shows only where an element adds something:
// zero and unbounded (as older versions exported them) are blank.
func TestShareBlankWhereNothing(t *testing.T) {
	for v, want := range map[float64]string{
		0: "", math.Inf(1): "", math.NaN(): "", -0.0667: "",
		0.2: "200.00 ms", 0.00002: "20.0 µs",
	} {
		if got := share(v); got != want {
			t.Errorf("share(%v) = %q, want %q", v, got, want)
		}
	}
}
