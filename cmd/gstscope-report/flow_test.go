package main

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// flow-1.prom and flow-2.prom, 2 s apart; every figure by hand.
func TestDiffFlow(t *testing.T) {
	f := diff(load(t, "flow-1.prom", t0), load(t, "flow-2.prom", t0.Add(2*time.Second)))
	sink, q, mq, id := elem(t, f, "sink"), elem(t, f, "q"), elem(t, f, "dec/mq"), elem(t, f, "id")
	approx(t, "sink drops/s", sink.dropRate, (70.0-10)/2)
	// Lateness gained: 58 in (0.01, 0.05], 2 above: the rank 57 of 60 is
	// the 57th of the 58.
	approx(t, "sink late p95", sink.lateP95, 0.01+0.04*57/58)
	approx(t, "q drops/s", q.dropRate, 0)
	approx(t, "q blocked", q.blocked, (2.5-1)/2)
	approx(t, "q level buffers", q.level.Buffers, 200)
	approx(t, "q level seconds", q.level.Seconds, 0.95)
	approx(t, "mq blocked", mq.blocked, 0)
	// The multiqueue's fullest queue in time: sink_1:src_1.
	if mq.level.Queue != "sink_1:src_1" || mq.level.Buffers != 40 {
		t.Errorf("mq level %+v", mq.level)
	}
	for _, c := range []struct {
		name string
		r    elemRow
		want string // the four cells
	}{
		{"sink", sink, "30.0|||49.31 ms"},
		{"q", q, "0.0|200 buf 950.00 ms|75.0%|"},
		{"mq", mq, "|40 buf 500.00 ms|0.0%|"}, // no drop series: blank, not 0
		{"id", id, "|||"},
	} {
		if got := cells(c.r.flow.topCells()); got != c.want {
			t.Errorf("%s: cells %q, want %q", c.name, got, c.want)
		}
	}
	// The first scrape: levels (gauges) only; "-" where a series waits for
	// its interval.
	first := diff(nil, load(t, "flow-1.prom", t0))
	if got := cells(elem(t, first, "sink").flow.topCells()); got != "-|||-" {
		t.Errorf("first scrape, sink: %q", got)
	}
	if got := cells(elem(t, first, "q").flow.topCells()); got != "-|100 buf 900.00 ms|-|" {
		t.Errorf("first scrape, q: %q", got)
	}
}

func cells(s string) string {
	return strings.Join(strings.Split(strings.TrimSuffix(s, "\t"), "\t"), "|")
}

// The table shows totals: the dropped count, the run's lateness p95 (70
// observations: the rank 66.5 is the 58.5th of 60 in (0.01, 0.05]), the
// level now and the seconds blocked (the multiqueue has no pad series in
// the fixture: "-" buffers in).
func TestTableFlow(t *testing.T) {
	code, out, errs := run(t, "", "testdata/flow-2.prom")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	row := func(element string) string {
		m := regexp.MustCompile(`(?m)^\s*p\s+` + regexp.QuoteMeta(element) + `\s.*$`).FindString(out)
		if m == "" {
			t.Fatalf("no row %s in\n%s", element, out)
		}
		return strings.Join(strings.Fields(m), " ")
	}
	for element, want := range map[string]string{
		"sink":   "p sink fakesink 100 70 49.00 ms",
		"q":      "p q queue 300 0 200 buf 950.00 ms 2.50 s",
		"dec/mq": "p dec/mq multiqueue - 40 buf 500.00 ms 500.00 ms",
	} {
		if got := row(element); !strings.HasPrefix(got, want) {
			t.Errorf("%s: %q, want it to start with %q", element, got, want)
		}
	}
	if !strings.Contains(out, "dropped") || !strings.Contains(out, "late p95") {
		t.Errorf("no flow headers:\n%s", out)
	}
}

// -sort takes a key's letter or its name; the new keys order by their
// figure, highest first, no figure last.
func TestSortFlow(t *testing.T) {
	f := diff(load(t, "flow-1.prom", t0), load(t, "flow-2.prom", t0.Add(2*time.Second)))
	order := func() string {
		s := []string{}
		for _, r := range f.elems {
			s = append(s, r.Element)
		}
		return strings.Join(s, " ")
	}
	for _, c := range []struct {
		key, want string
	}{
		{"drops", "sink q dec/mq id src"},
		{"d", "sink q dec/mq id src"},
		{"fill", "q dec/mq id sink src"},
		{"blocked", "q dec/mq id sink src"},
		{"lateness", "sink dec/mq id q src"},
	} {
		sortRows(&f, sortKeys[c.key])
		if got := order(); got != c.want {
			t.Errorf("-sort %s: %s, want %s", c.key, got, c.want)
		}
	}
	for _, bad := range []string{"x", "D", ""} {
		if code, _, _ := run(t, "", "top", "-sort", bad, "http://127.0.0.1:1"); code != 2 {
			t.Errorf("-sort %q: exit %d, want 2", bad, code)
		}
	}
}
