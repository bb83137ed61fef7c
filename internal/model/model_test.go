package model

import (
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

// mp4mux's inputs are video_0 and audio_0, rtpbin's recv_rtp_sink_0: the
// direction label, not the name, makes them inputs.
const muxText = `# TYPE gstreamer_pad_buffers_total counter
gstreamer_pad_buffers_total{direction="src",element="src",pad="src",pipeline="p"} 40
gstreamer_pad_buffers_total{direction="sink",element="mux",pad="video_0",pipeline="p"} 30
gstreamer_pad_buffers_total{direction="sink",element="mux",pad="audio_0",pipeline="p"} 47
gstreamer_pad_buffers_total{direction="src",element="mux",pad="src",pipeline="p"} 5
gstreamer_pad_buffers_total{direction="sink",element="rtpbin",pad="recv_rtp_sink_0",pipeline="p"} 9
gstreamer_pad_buffers_total{direction="src",element="rtpbin",pad="sinkish_src",pipeline="p"} 8
gstreamer_pad_buffers_total{direction="sink",element="sink",pad="sink",pipeline="p"} 5
# TYPE gstreamer_element_latency_seconds histogram
gstreamer_element_latency_seconds_bucket{element="mux",factory="mp4mux",pipeline="p",le="0.001"} 70
gstreamer_element_latency_seconds_bucket{element="mux",factory="mp4mux",pipeline="p",le="0.01"} 77
gstreamer_element_latency_seconds_bucket{element="mux",factory="mp4mux",pipeline="p",le="+Inf"} 77
gstreamer_element_latency_seconds_sum{element="mux",factory="mp4mux",pipeline="p"} 0.1
gstreamer_element_latency_seconds_count{element="mux",factory="mp4mux",pipeline="p"} 77
# TYPE gstreamer_element_reported_latency_min_seconds gauge
gstreamer_element_reported_latency_min_seconds{element="mux",pipeline="p"} 0.5
# TYPE gstreamer_pipeline_latency_seconds histogram
gstreamer_pipeline_latency_seconds_bucket{pipeline="p",sink="sink",source="src",le="1"} 5
gstreamer_pipeline_latency_seconds_bucket{pipeline="p",sink="sink",source="src",le="+Inf"} 5
gstreamer_pipeline_latency_seconds_sum{pipeline="p",sink="sink",source="src"} 1
gstreamer_pipeline_latency_seconds_count{pipeline="p",sink="sink",source="src"} 5
# TYPE go_goroutines gauge
go_goroutines 7
`

func read(t *testing.T, text string, at time.Time) *Model {
	t.Helper()
	m, err := Read(strings.NewReader(text), at)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestDirection(t *testing.T) {
	m := read(t, muxText, t0)
	for _, c := range []struct {
		element       string
		in, out       float64
		hasIn, hasOut bool
	}{
		{"src", 0, 40, false, true},
		{"mux", 77, 5, true, true},
		{"rtpbin", 9, 8, true, true},
		{"sink", 5, 0, true, false},
	} {
		e := m.Elements[ElementKey{"p", c.element}]
		in, hasIn := e.BuffersIn()
		out, hasOut := e.BuffersOut()
		if in != c.in || hasIn != c.hasIn || out != c.out || hasOut != c.hasOut {
			t.Errorf("%s: in %v (%v) out %v (%v), want in %v (%v) out %v (%v)",
				c.element, in, hasIn, out, hasOut, c.in, c.hasIn, c.out, c.hasOut)
		}
	}
	mux := m.Elements[ElementKey{"p", "mux"}]
	if mux.Factory != "mp4mux" || mux.Latency().Count() != 77 || mux.Processing() != nil {
		t.Errorf("mux: %+v", mux)
	}
	if v, ok := mux.Value(ElementReportedMin); !ok || v != 0.5 {
		t.Errorf("mux reported min %v %v", v, ok)
	}
	if _, ok := mux.Value(ElementReportedMax); ok {
		t.Errorf("mux has no reported max")
	}
	if n := m.Paths[PathKey{"p", "src", "sink"}].Count(); n != 5 {
		t.Errorf("path count %v", n)
	}
	if len(m.Elements) != 4 {
		t.Errorf("elements %v: go_goroutines is not the tracer's", m.Elements)
	}
}

// Since subtracts counters and histograms, keeps gauges, treats a series
// new since prev as counted from 0, and refuses counters that went down.
func TestSince(t *testing.T) {
	prev := read(t, `# TYPE gstreamer_pad_buffers_total counter
gstreamer_pad_buffers_total{direction="sink",element="mux",pad="video_0",pipeline="p"} 10
# TYPE gstreamer_element_reported_latency_min_seconds gauge
gstreamer_element_reported_latency_min_seconds{element="mux",pipeline="p"} 0.2
`, t0)
	cur := read(t, muxText, t0.Add(2*time.Second))
	d, reset := cur.Since(prev)
	if reset || d.Interval != 2*time.Second {
		t.Fatalf("reset %v interval %v", reset, d.Interval)
	}
	mux := d.Elements[ElementKey{"p", "mux"}]
	in, _ := mux.BuffersIn()
	approx(t, "mux in/s", d.Rate(in), (77.0-10)/2)
	if v, _ := mux.Value(ElementReportedMin); v != 0.5 {
		t.Errorf("a gauge is as now: %v", v)
	}
	if n := mux.Latency().Count(); n != 77 {
		t.Errorf("a histogram new since prev counts all: %v", n)
	}
	if n := d.Pads[PadKey{"p", "mux", "video_0"}].Values[PadBuffers]; n != 20 {
		t.Errorf("video_0: %v", n)
	}
	// Backwards: the mux's video_0 went from 30 to 10; it restarted, and
	// its count is the 10 since.
	back, reset := prev.Since(cur)
	if !reset {
		t.Errorf("counters going down: no reset")
	}
	if in, _ := back.Elements[ElementKey{"p", "mux"}].BuffersIn(); in != 10 {
		t.Errorf("a restarted element counts from its restart: %v", in)
	}
	approx(t, "rate of a state", cur.Rate(1), nan)
}

func TestMetricsURL(t *testing.T) {
	for in, want := range map[string]string{
		"localhost:9100":                "http://localhost:9100/metrics",
		"http://localhost:9100":         "http://localhost:9100/metrics",
		"http://localhost:9100/":        "http://localhost:9100/metrics",
		"http://localhost:9100/metrics": "http://localhost:9100/metrics",
	} {
		if got := MetricsURL(in); got != want {
			t.Errorf("MetricsURL(%q) = %q, want %q", in, got, want)
		}
	}
}
