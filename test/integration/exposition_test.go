package integration

import (
	"math"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// The one reader of the exposition in the tests: parseFamilies parses it
// (the Prometheus text format, as Prometheus itself parses it), the rest
// look series up in what it returns.

// parseFamilies parses an exposition ("" has no families).
func parseFamilies(text string) (map[string]*dto.MetricFamily, error) {
	var p expfmt.TextParser
	return p.TextToMetricFamilies(strings.NewReader(text))
}

// parseExposition is parseFamilies, failing the test on an error.
func parseExposition(t *testing.T, text string) map[string]*dto.MetricFamily {
	t.Helper()
	fams, err := parseFamilies(text)
	if err != nil {
		t.Fatalf("exposition does not parse: %v\n%s", err, text)
	}
	return fams
}

// find returns the metric of family name whose labels include all of want.
func find(fams map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	f := fams[name]
	if f == nil {
		return nil
	}
next:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		return m
	}
	return nil
}

func mustFind(t *testing.T, r *result, name string, want map[string]string) *dto.Metric {
	t.Helper()
	m := find(r.Fams, name, want)
	if m == nil {
		t.Fatalf("no %s%v in metrics:\n%s", name, want, r.Metrics)
	}
	return m
}

func counter(t *testing.T, r *result, name string, want map[string]string) float64 {
	return mustFind(t, r, name, want).GetCounter().GetValue()
}

func gaugeValue(t *testing.T, r *result, name string, want map[string]string) float64 {
	return mustFind(t, r, name, want).GetGauge().GetValue()
}

// histMean is a histogram's count and mean in seconds.
func histMean(t *testing.T, r *result, name string, want map[string]string) (uint64, float64) {
	h := mustFind(t, r, name, want).GetHistogram()
	if h.GetSampleCount() == 0 {
		return 0, math.NaN()
	}
	return h.GetSampleCount(), h.GetSampleSum() / float64(h.GetSampleCount())
}

// waitExposition scrapes url until the exposition satisfies cond (what says
// what that is), and returns it; it fails the test if it never does
// within 20 s. A test waits for exactly the series it then asserts on.
func waitExposition(t *testing.T, url, what string, cond func(map[string]*dto.MetricFamily) bool) (string, map[string]*dto.MetricFamily) {
	t.Helper()
	var body string
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, b, err := get(url)
		if err == nil && code == 200 {
			body = b
			if fams, err := parseFamilies(body); err == nil && cond(fams) {
				return body, fams
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never had %s; the last exposition:\n%s", url, what, tail(body))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// observed is the sample count of histogram name's series with labels want
// (0 when there is none).
func observed(fams map[string]*dto.MetricFamily, name string, want map[string]string) uint64 {
	return find(fams, name, want).GetHistogram().GetSampleCount()
}
